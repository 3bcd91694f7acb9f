"""The book's figures, one module per figure topic; each `plot_*` function writes one PNG.

Modules use matplotlib's object-oriented API (`matplotlib.figure.Figure`), never pyplot, so
nothing opens a window or depends on a GUI backend. Import the topic module you need, e.g.
`from fdl_tf2.viz import curves`; this package imports nothing itself.
"""
