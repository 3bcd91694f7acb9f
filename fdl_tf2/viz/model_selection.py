"""Overfitting and model selection (chapter 2): polynomial fits, the hyperparameter grid.

Book: chapter 2, "Test Sets, Validation Sets, and Overfitting": a degree-12 polynomial fits the
training points better than a line and new points worse (Figs. 2.8/2.9, seed lines 711-729),
and a grid search over the learning rate and the minibatch size selects on validation accuracy
(line 765). Each `plot_*` function writes one PNG and returns its path.
"""

import itertools
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from fdl_tf2.foundations import gradient_descent
from fdl_tf2.viz.figure import save_figure


def plot_polynomial_fits(
    train: tuple[np.ndarray, np.ndarray],
    fresh: tuple[np.ndarray, np.ndarray],
    fits: Mapping[str, np.ndarray],
    mse: Mapping[str, tuple[float, float]],
    output: str | os.PathLike,
) -> Path:
    """Figs. 2.8/2.9: the fitted curves over the training points, then over fresh points.

    Args:
      train: `(x, y)`, each `(n,)`: the points the polynomials were fitted to.
      fresh: `(x, y)`, each `(m,)`: new points from the same line.
      fits: name (e.g. "linear", "degree 12") -> coefficients from
        `gradient_descent.polynomial_fit`.
      mse: name -> (training MSE, fresh MSE), shown in the legends.
      output: the PNG to write.

    Returns:
      The path written.
    """
    curve_x = np.linspace(-1.0, 1.0, 500)
    y = train[1]
    figure = Figure(figsize=(12, 4.5))
    axes = figure.subplots(1, 2, sharey=True)
    for axis, (points_x, points_y), split, title in (
        (axes[0], train, 0, "Fig. 2.8: fits to the training points"),
        (axes[1], fresh, 1, "Fig. 2.9: the same fits on new points"),
    ):
        axis.plot(points_x, points_y, "o", color="k", markersize=4, label="data")
        for name, model in fits.items():
            axis.plot(
                curve_x,
                gradient_descent.polynomial_predict(model, curve_x),
                label=f"{name} (MSE {mse[name][split]:.3g})",
            )
        axis.set(xlabel="x", ylabel="y", ylim=(y.min() - 1.5, y.max() + 1.5), title=title)
        axis.legend(loc="upper left")
    return save_figure(figure, output)


def plot_grid_search(
    accuracy: np.ndarray,
    learning_rates: Sequence[float],
    batch_sizes: Sequence[int],
    best: tuple[int, int],
    output: str | os.PathLike,
) -> Path:
    """Validation accuracy `(learning rates, batch sizes)` as an annotated heat map (line 765).

    Args:
      accuracy: `(len(learning_rates), len(batch_sizes))` validation accuracies in [0, 1].
      learning_rates: the rows' epsilon values.
      batch_sizes: the columns' minibatch sizes.
      best: `(row, column)` of the selected setting, starred.
      output: the PNG to write.

    Returns:
      The path written.
    """
    figure = Figure(figsize=(5.5, 4.5))
    axis = figure.subplots()
    image = axis.imshow(accuracy, cmap="viridis", vmin=0.0, vmax=1.0)
    for row, column in itertools.product(range(accuracy.shape[0]), range(accuracy.shape[1])):
        marker = " *" if (row, column) == best else ""
        color = "black" if accuracy[row, column] > 0.6 else "white"
        axis.text(column, row, f"{accuracy[row, column]:.4f}{marker}", ha="center", color=color)
    axis.set_xticks(range(len(batch_sizes)), [str(b) for b in batch_sizes])
    axis.set_yticks(range(len(learning_rates)), [f"{lr:g}" for lr in learning_rates])
    axis.set(xlabel="minibatch size", ylabel="learning rate epsilon")
    axis.set_title("Grid search (book line 765): validation accuracy\n* = selected setting")
    figure.colorbar(image, ax=axis, label="validation accuracy")
    return save_figure(figure, output)
