"""The sigmoid, tanh and ReLU curves of chapter 1 (Figs. 1.11-1.13).

Book: chapter 1, "Sigmoid, Tanh, and ReLU Neurons" (seed lines 498, 502 and 508). The functions
themselves are `fdl_tf2.foundations.neurons`; `plot_activation` writes one PNG and returns its
path.
"""

import os
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from fdl_tf2.foundations import neurons
from fdl_tf2.viz.figure import save_figure

ACTIVATION_FIGURES = {
    "sigmoid": ("1.11", neurons.sigmoid, "f(z) = 1 / (1 + exp(-z)), range (0, 1)"),
    "tanh": ("1.12", neurons.tanh, "f(z) = tanh(z), range (-1, 1)"),
    "relu": ("1.13", neurons.relu, "f(z) = max(0, z)"),
}
"""Activation name -> (book figure number, function, formula shown in the title)."""


def plot_activation(name: str, output: str | os.PathLike, limit: float = 10.0) -> Path:
    """Figs. 1.11-1.13: the sigmoid, tanh or ReLU curve on `[-limit, limit]`.

    Args:
      name: "sigmoid", "tanh" or "relu".
      output: the PNG to write.
      limit: half-width of the z range.

    Returns:
      The path written.

    Raises:
      ValueError: an unknown name.
    """
    if name not in ACTIVATION_FIGURES:
        raise ValueError(
            f"Unknown activation {name!r}; expected one of {list(ACTIVATION_FIGURES)}."
        )
    number, function, formula = ACTIVATION_FIGURES[name]
    z = np.linspace(-limit, limit, 1001)
    figure = Figure(figsize=(6, 4))
    axis = figure.subplots()
    axis.plot(z, function(z), lw=2)
    axis.axhline(0.0, color="0.6", lw=0.8)
    axis.axvline(0.0, color="0.6", lw=0.8)
    axis.grid(alpha=0.3)
    axis.set(xlabel="z", ylabel="f(z)", title=f"Fig. {number}: {name}, {formula}")
    return save_figure(figure, output)
