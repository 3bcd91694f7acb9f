"""The vanishing-gradient figure: measured |dh(t)/di(t - k)| against the book's bound.

Book: chapter 7, "The Challenges with Vanishing Gradients" (seed lines 3836-3884, Fig. 7.16);
spec ch06-07 §2.2.4, §4 (Figs. 7.15/7.16: "a numerical vanishing-gradient plot is a good
substitute"), checklist §5.3 item 24, errata 22.

`vanishing_gradient_figure` returns a `matplotlib.figure.Figure` (inspectable in tests);
`plot_vanishing_gradient` writes it as one PNG and returns the path.
"""

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from fdl_tf2.models import recurrent
from fdl_tf2.viz.figure import save_figure

COLOURS = ("#2980b9", "#27ae60", "#c0392b", "#8e44ad", "#f39c12", "#7f8c8d")
"""One colour per recurrent weight, in the order given."""


def vanishing_gradient_figure(
    gradients: Mapping[str, Mapping[float, np.ndarray]],
    w_in: float,
    title: str = "Fig. 7.16: vanishing gradients of a one-neuron RNN",
) -> Figure:
    """One log-scale panel per activation: measured gradients (solid) against the bounds.

    Each panel draws, per recurrent weight w_rec, the measured |dh(T)/di(T - k)| against k
    (solid, with markers, labelled "w_rec = ...") and the book's bound |w_rec|^k * |w_in|
    (dashed, same colour). For an activation whose max |f'| is below 1 (the logistic, 0.25)
    it also draws the tight bound 0.25^(k + 1) * |w_rec|^k * |w_in| (dotted). The legend
    lists the weights, then the three line styles. Zero gradients (possible with ReLU) are
    left out of the log-scale line.

    Args:
      gradients: `{activation: {w_rec: (K,) measured gradients, k = 0..K-1}}`, e.g. from
        `recurrent.input_gradients`; activations as in `recurrent.ACTIVATIONS`.
      w_in: the input weight the gradients were measured with.
      title: the figure title.
    """
    if not gradients or not all(gradients.values()):
        raise ValueError("gradients must map each activation to a non-empty {w_rec: curve}.")
    figure = Figure(figsize=(6.0 * len(gradients), 4.8))
    axes = figure.subplots(1, len(gradients), squeeze=False)[0]
    for axis, (activation, curves) in zip(axes, gradients.items(), strict=True):
        max_derivative = recurrent.MAX_DERIVATIVE[activation]
        for index, (w_rec, measured) in enumerate(curves.items()):
            measured = np.asarray(measured, dtype=np.float64)
            if measured.ndim != 1:
                raise ValueError(f"Each curve must be (K,), got {measured.shape} for {w_rec}.")
            colour = COLOURS[index % len(COLOURS)]
            lags = np.arange(len(measured))
            shown = np.where(measured > 0, measured, np.nan)
            axis.plot(lags, shown, "-o", color=colour, markersize=3, label=f"w_rec = {w_rec:g}")
            axis.plot(lags, recurrent.gradient_bound(w_in, w_rec, lags), "--", color=colour)
            if max_derivative < 1.0:
                tight = recurrent.gradient_bound(w_in, w_rec, lags, max_derivative)
                axis.plot(lags, tight, ":", color=colour)
        axis.set_yscale("log")
        axis.set(
            title=f"{activation} (max f' = {max_derivative:g}), w_in = {w_in:g}",
            xlabel="k (steps back in time)",
            ylabel="|dh(T) / di(T - k)|",
        )
        axis.grid(True, which="major", alpha=0.3)
        styles = [Line2D([], [], color="k", ls="-", label="measured")]
        styles.append(Line2D([], [], color="k", ls="--", label="book bound |w_rec|^k |w_in|"))
        if max_derivative < 1.0:
            label = f"tight bound {max_derivative:g}^(k+1) |w_rec|^k |w_in|"
            styles.append(Line2D([], [], color="k", ls=":", label=label))
        handles = [line for line in axis.get_lines() if not line.get_label().startswith("_")]
        axis.legend(handles=handles + styles, fontsize=7, ncol=2, loc="lower left")
    figure.suptitle(title)
    return figure


def plot_vanishing_gradient(
    gradients: Mapping[str, Mapping[float, np.ndarray]],
    w_in: float,
    output: str | os.PathLike,
    title: str = "Fig. 7.16: vanishing gradients of a one-neuron RNN",
) -> Path:
    """Writes `vanishing_gradient_figure(gradients, w_in, title)`; returns the path."""
    return save_figure(vanishing_gradient_figure(gradients, w_in, title), output)
