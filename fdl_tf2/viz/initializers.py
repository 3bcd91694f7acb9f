"""Histograms of weight initialisers (chapter 3, listing L3.4).

Book: chapter 3, "Creating and Manipulating TensorFlow Variables" (seed lines 884-954): the
`[300, 200]` weights of listing L3.2 drawn with `tf.random_normal`, `tf.truncated_normal` and
`tf.random_uniform` (L3.4). `plot_initializer_histograms` writes one PNG and returns its path.
"""

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from fdl_tf2.viz.figure import save_figure


def plot_initializer_histograms(
    draws: Mapping[str, np.ndarray], output: str | os.PathLike, title: str
) -> Path:
    """One histogram panel per initialiser, on [-2, 2] with dotted lines at -1 and 1.

    Args:
      draws: the initialiser's call (the panel title) -> its values, any shape.
      output: the PNG to write.
      title: the figure title.

    Returns:
      The path written.
    """
    figure = Figure(figsize=(4 * len(draws), 3.5))
    axes = figure.subplots(1, len(draws), sharex=True, squeeze=False)
    for axis, (name, values) in zip(axes[0], draws.items(), strict=True):
        values = np.asarray(values).ravel()
        axis.hist(values, bins=80, range=(-2, 2), color="tab:blue")
        axis.axvline(-1.0, color="gray", linestyle=":")
        axis.axvline(1.0, color="gray", linestyle=":")
        axis.set(title=name, xlabel="weight value", ylabel=f"count (of {len(values):,})")
    figure.suptitle(title)
    return save_figure(figure, output)
