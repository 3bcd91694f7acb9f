"""Parsing and search figures (Figs. 7.9, 7.11): layout, path colours, beam shading, tables.

The figures are inspected through their `Figure` objects (edge colours and styles by gid,
node texts and fills, plotted data, table cells); each `plot_*` also writes a PNG once.
"""

import math

import numpy as np
import pytest
from matplotlib.colors import to_hex

from fdl_tf2.models import beam_search, parsing, parsing_demos
from fdl_tf2.viz import search_trees

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _fig_7_11():
    system = parsing.ArcStandard()
    step = system.step_fn(parsing_demos.fig_7_11_score_fn(system))
    start = parsing_demos.fig_7_11_start()
    beams = []
    best = beam_search.beam_search(step, start, 2, 2, on_step=lambda t, b: beams.append(b))[0]
    greedy = beam_search.greedy_search(step, start, 2)[0]
    scores = beam_search.enumerate_prefixes(step, start, 2)
    return scores, [[h.tokens for h in beam] for beam in beams], greedy.tokens, best.tokens


def _by_gid(figure, kind):
    axes = figure.axes[0]
    artists = list(axes.lines) + list(axes.texts)
    return {a.get_gid(): a for a in artists if (a.get_gid() or "").startswith(kind + ":")}


def test_layout_spaces_leaves_and_centres_parents():
    positions = search_trees._layout({(), (0,), (1,), (0, 0), (0, 1), (0, 2)})
    assert [positions[p][0] for p in [(0, 0), (0, 1), (0, 2), (1,)]] == [0.0, 1.0, 2.0, 3.0]
    assert positions[(0,)] == (1.0, -1.0)
    assert positions[()] == ((1.0 + 3.0) / 2, 0.0)


def test_search_tree_draws_every_node_and_colours_the_greedy_and_best_paths():
    scores, beams, greedy, best = _fig_7_11()
    assert len(scores) == 1 + 3 + 9
    figure = search_trees.search_tree_figure(
        scores, parsing.ACTION_NAMES, beams=beams, greedy=greedy, best=best
    )
    edges, nodes = _by_gid(figure, "edge"), _by_gid(figure, "node")
    assert len(nodes) == 13 and len(edges) == 12
    for prefix in scores:
        if not prefix:
            continue
        gid = ",".join(map(str, prefix))
        edge = edges[f"edge:{gid}"]
        if best[: len(prefix)] == prefix:
            assert to_hex(edge.get_color()) == search_trees.BEST_COLOUR
        elif greedy[: len(prefix)] == prefix:
            assert to_hex(edge.get_color()) == search_trees.GREEDY_COLOUR
            assert edge.get_linestyle() == "--"
        else:
            assert to_hex(edge.get_color()) == search_trees.PRUNED_COLOUR
        node = nodes[f"node:{gid}"]
        name = parsing.ACTION_NAMES[prefix[-1]]
        assert node.get_text() == f"{name}\np = {math.exp(scores[prefix]):.2f}"
        kept = any(prefix in beam for beam in beams)
        fill = to_hex(node.get_bbox_patch().get_facecolor())
        assert fill == (search_trees.BEAM_FILL if kept else "#ffffff")
    assert nodes["node:1,2"].get_text() == "RIGHT-ARC\np = 0.32"
    assert nodes["node:0,1"].get_text() == "LEFT-ARC\np = 0.20"
    labels = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert labels == ["greedy", "beam search (best)", "kept in the beam", "pruned"]


def test_search_tree_needs_the_start_node_and_writes_a_png(tmp_path):
    scores, beams, greedy, best = _fig_7_11()
    with pytest.raises(ValueError, match="empty prefix"):
        search_trees.search_tree_figure({(0,): -0.1}, parsing.ACTION_NAMES)
    path = search_trees.plot_search_tree(
        scores, parsing.ACTION_NAMES, tmp_path / "tree.png", beams=beams, greedy=greedy, best=best
    )
    assert path.read_bytes()[:8] == PNG_SIGNATURE and path.stat().st_size > 5_000


def test_score_paths_plot_each_path_and_mark_the_events(tmp_path):
    paths = {"greedy": np.array([0.0, -0.5, -2.0]), "beam": np.array([0.0, -0.9, -1.1])}
    figure = search_trees.score_paths_figure(paths, events={"part": 1})
    axes = figure.axes[0]
    plotted = {
        line.get_label(): line for line in axes.lines if not line.get_label().startswith("_")
    }
    for label, values in paths.items():
        np.testing.assert_array_equal(plotted[label].get_xdata(), [0, 1, 2])
        np.testing.assert_array_equal(plotted[label].get_ydata(), values)
    vertical = [line for line in axes.lines if line.get_label().startswith("_")]
    assert len(vertical) == 1 and list(vertical[0].get_xdata()) == [1, 1]
    assert [text.get_text() for text in axes.texts] == [" part"]
    path = search_trees.plot_score_paths(paths, tmp_path / "paths.png", title="t")
    assert path.read_bytes()[:8] == PNG_SIGNATURE


def test_transition_table_holds_the_cells(tmp_path):
    columns = ["step", "action", "stack"]
    rows = [["0", "", "ROOT"], ["1", "SHIFT", "ROOT I"]]
    figure = search_trees.transition_table_figure(columns, rows, title="Fig. 7.9")
    (table,) = figure.axes[0].tables
    cells = table.get_celld()
    assert [cells[0, c].get_text().get_text() for c in range(3)] == columns
    assert [cells[2, c].get_text().get_text() for c in range(3)] == rows[1]
    with pytest.raises(ValueError, match="3 cells"):
        search_trees.transition_table_figure(columns, [["0", "SHIFT"]])
    path = search_trees.plot_transition_table(columns, rows, tmp_path / "table.png")
    assert path.read_bytes()[:8] == PNG_SIGNATURE
