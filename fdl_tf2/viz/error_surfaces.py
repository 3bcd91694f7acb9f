"""Error surfaces and the paths optimisers take on them (chapters 2 and 4).

Book: chapter 2, "Gradient Descent" and "Stochastic and Minibatch Gradient Descent": the
quadratic bowl of a two-weight linear neuron, its contours and gradient-descent paths, and the
learning rate (Figs. 2.2-2.4, seed lines 562-603), batch vs stochastic descent on a plateau
(Figs. 2.6/2.7, lines 685-709); chapter 4, "Beyond Gradient Descent": the test loss along the
line from a random to a trained MLP (Fig. 4.3, lines 1535-1662), 1-D critical points and a
saddle (Figs. 4.4-4.5), gradient directions on an ill-conditioned quadratic (Figs. 4.6-4.7),
steepest descent against conjugate gradients (Fig. 4.10) and momentum as a smoothed random
walk (Fig. 4.8, lines 1736-1766).

The surfaces and paths are computed by `fdl_tf2.foundations.gradient_descent` and
`fdl_tf2.foundations.landscape`; each `plot_*` function writes one PNG and returns its path.
"""

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from fdl_tf2.foundations import gradient_descent, landscape
from fdl_tf2.viz.figure import save_figure

# --- Chapter 2: the quadratic bowl (Figs. 2.2-2.4) ----------------------------------------------


def _bowl_grid(bowl: gradient_descent.QuadraticBowl, paths: list[np.ndarray]):
    """A 120 x 120 grid around the paths and the minimum, and the bowl's error on it."""
    points = np.concatenate([*paths, bowl.minimum[None]])
    low, high = points.min(axis=0) - 1.0, points.max(axis=0) + 1.0
    w1, w2 = np.meshgrid(np.linspace(low[0], high[0], 120), np.linspace(low[1], high[1], 120))
    return w1, w2, bowl.loss(np.stack([w1, w2], axis=-1))


def _draw_contours(
    axis: Axes, bowl: gradient_descent.QuadraticBowl, path: np.ndarray, title: str
) -> None:
    w1, w2, error = _bowl_grid(bowl, [path])
    axis.contour(w1, w2, error, levels=np.geomspace(0.05, error.max(), 14), cmap="viridis")
    axis.plot(path[:, 0], path[:, 1], "o-", color="tab:red", markersize=3, label="GD path")
    axis.plot(*bowl.minimum, "k*", markersize=12, label="minimum w*")
    axis.set(xlabel="w1", ylabel="w2", title=title, aspect="equal")  # Gradient ⟂ contours.
    axis.legend(loc="upper right")


def plot_error_surface(
    bowl: gradient_descent.QuadraticBowl, path: np.ndarray, output: str | os.PathLike
) -> Path:
    """Fig. 2.2: the bowl as a 3-D surface over the region a descent path covers.

    Args:
      bowl: the error surface.
      path: `(steps + 1, 2)` weights visited (they set the region drawn).
      output: the PNG to write.

    Returns:
      The path written.
    """
    w1, w2, error = _bowl_grid(bowl, [path])
    figure = Figure(figsize=(7, 5))
    axis = figure.add_subplot(projection="3d")
    axis.plot_surface(w1, w2, error, cmap="viridis", alpha=0.9, linewidth=0)
    axis.set(xlabel="w1", ylabel="w2", zlabel="E(w1, w2)")
    axis.set_title("Fig. 2.2: quadratic error surface of a 2-weight linear neuron")
    return save_figure(figure, output)


def plot_contours_and_path(
    bowl: gradient_descent.QuadraticBowl,
    path: np.ndarray,
    learning_rate: float,
    output: str | os.PathLike,
) -> Path:
    """Fig. 2.3: the bowl's contours and a gradient-descent path, crossing them at right angles.

    Args:
      bowl: the error surface.
      path: `(steps + 1, 2)` weights visited.
      learning_rate: the path's learning rate (for the title).
      output: the PNG to write.

    Returns:
      The path written.
    """
    figure = Figure(figsize=(6, 5))
    axis = figure.subplots()
    _draw_contours(axis, bowl, path, f"Fig. 2.3: contours and GD path (eps = {learning_rate})")
    return save_figure(figure, output)


def plot_learning_rates(
    bowl: gradient_descent.QuadraticBowl,
    paths: Sequence[tuple[float, np.ndarray]],
    output: str | os.PathLike,
) -> Path:
    """Fig. 2.4: one panel per learning rate; above 2 / lambda_max the path diverges.

    Args:
      bowl: the error surface.
      paths: `(learning rate, (steps + 1, 2) weights visited)` per panel.
      output: the PNG to write.

    Returns:
      The path written.
    """
    figure = Figure(figsize=(6 * len(paths), 5))
    axes = figure.subplots(1, len(paths), squeeze=False)
    for axis, (rate, path) in zip(axes[0], paths, strict=True):
        verdict = "converges" if rate < bowl.critical_learning_rate else "diverges"
        _draw_contours(axis, bowl, path, f"eps = {rate}: {verdict}")
    figure.suptitle(
        f"Fig. 2.4: learning rate vs 2 / lambda_max = {bowl.critical_learning_rate:.3f}"
    )
    return save_figure(figure, output)


# --- Chapter 2: batch vs stochastic descent on a plateau (Figs. 2.6/2.7) ------------------------


def plot_batch_vs_stochastic(
    plateau: gradient_descent.PlateauLoss,
    batch_path: np.ndarray,
    stochastic_path: np.ndarray,
    output: str | os.PathLike,
) -> Path:
    """Figs. 2.6/2.7: batch GD stalls on the plateau; per-example steps let SGD escape.

    Args:
      plateau: the designed 1-D loss.
      batch_path: `(steps + 1,)` weights of batch gradient descent.
      stochastic_path: `(updates + 1,)` weights of stochastic gradient descent.
      output: the PNG to write.

    Returns:
      The path written.
    """
    grid = np.linspace(-3.0, 3.5, 400)
    figure = Figure(figsize=(12, 4.5))
    axes = figure.subplots(1, 2)
    axes[0].plot(grid, plateau.batch_loss(grid), color="k", label="batch loss E(w)")
    moved = abs(batch_path[-1] - batch_path[0])
    axes[0].plot(
        batch_path,
        plateau.batch_loss(batch_path),
        "o",
        color="tab:red",
        label=f"batch GD, {len(batch_path) - 1} steps (moved {moved:.1e})",
    )
    axes[0].set(xlabel="w", ylabel="loss", title="Fig. 2.6: batch GD stalls on the plateau")
    axes[0].legend()
    for losses in plateau.example_losses(grid)[:5]:
        axes[1].plot(grid, losses, color="tab:gray", alpha=0.5, linewidth=1)
    axes[1].plot([], [], color="tab:gray", label="per-example losses e_i(w) (5 of them)")
    axes[1].plot(grid, plateau.batch_loss(grid), color="k", label="batch loss E(w)")
    points = axes[1].scatter(
        stochastic_path,
        plateau.batch_loss(stochastic_path),
        c=np.arange(len(stochastic_path)),
        cmap="plasma",
        s=10,
        label="stochastic GD, E(w) after each step",
    )
    figure.colorbar(points, ax=axes[1], label="update")
    axes[1].set(
        xlabel="w",
        ylabel="loss",
        ylim=(-1.5, 2.5),
        title="Fig. 2.7: per-example surfaces let stochastic GD escape",
    )
    axes[1].legend(loc="lower left", fontsize=8)
    return save_figure(figure, output)


# --- Chapter 4: linear interpolation (Fig. 4.3) -------------------------------------------------


def plot_interpolation(
    alphas: np.ndarray,
    losses: np.ndarray,
    summary: Mapping[str, float],
    source: str,
    output: str | os.PathLike,
) -> Path:
    """Fig. 4.3: the test cross-entropy along theta = (1 - alpha) theta_trained + alpha theta_init.

    Args:
      alphas: `(n,)` in the listing's ("repo") convention; the top axis shows 1 - alpha.
      losses: `(n,)` the mean test loss at each alpha.
      summary: `landscape.interpolation_summary(alphas, losses, "repo")`.
      source: how the trained network was obtained (for the title).
      output: the PNG to write.

    Returns:
      The path written.
    """
    figure = Figure(figsize=(8, 5))
    axis = figure.subplots()
    axis.plot(alphas, losses, "ro", markersize=2.5, label="interpolated network")
    for alpha, label, colour in (
        (0.0, "trained (SGD solution)", "tab:green"),
        (1.0, "random initialisation", "tab:blue"),
    ):
        loss = losses[np.argmin(np.abs(alphas - alpha))]
        axis.axvline(alpha, color=colour, linestyle="--", linewidth=1)
        axis.plot([alpha], [loss], "o", color=colour, markersize=9, label=f"{label}: {loss:.3f}")
    axis.set(
        xlabel="Alpha  (code: theta = (1 - alpha) theta_trained + alpha theta_init)",
        ylabel="Incurred Error",
        yscale="log",
        title=f"Fig. 4.3: test cross-entropy along the line init <-> solution ({source})\n"
        f"minimum at alpha = {summary['alpha_of_minimum']:.2f}; "
        f"|dL/dalpha| near solution {summary['slope_at_trained']:.3g}, "
        f"near init {summary['slope_at_initial']:.3g}",
    )
    top = axis.secondary_xaxis("top", functions=(lambda a: 1 - a, lambda a: 1 - a))
    top.set_xlabel(
        "alpha' = 1 - alpha  (text, line 1545: theta = alpha' theta_f + (1 - alpha') theta_i)"
    )
    axis.grid(alpha=0.3)
    axis.legend(loc="upper center")
    return save_figure(figure, output)


# --- Chapter 4: momentum as a smoothed random walk (Fig. 4.8) -----------------------------------


def plot_momentum_walks(
    walks: Mapping[float, tuple[np.ndarray, np.ndarray]], output: str | os.PathLike
) -> Path:
    """Fig. 4.8: the same kind of random walk smoothed by momentum 0, 0.1, 0.5, 0.9 and 0.99.

    Args:
      walks: momentum -> `landscape.momentum_random_walk(...)`, `(steps, smoothed walk)`; the
        keys are `landscape.BOOK_MOMENTA`.
      output: the PNG to write.

    Returns:
      The path written.
    """
    # The repo's layout: "No Momentum" on top, four momenta in a 2 x 2 grid (GridSpec(3, 4)).
    figure = Figure(figsize=(10, 9))
    grid = figure.add_gridspec(3, 4)
    raw = walks[0.0][1]
    limit = 1.5 * np.max(np.abs(raw))
    positions = {0.0: grid[0, 1:3], 0.1: grid[1, :2], 0.5: grid[1, 2:], 0.9: grid[2, :2]}
    positions[0.99] = grid[2, 2:]
    for momentum, position in positions.items():
        axis = figure.add_subplot(position)
        smoothed = walks[momentum][1]
        axis.plot(smoothed, color="tab:blue" if momentum == 0 else "tab:red")
        axis.axhline(0.0, color="black", linewidth=0.8)
        axis.set_ylim(-limit, limit)
        expected = landscape.stationary_std(momentum)
        title = "No Momentum" if momentum == 0 else f"Momentum = {momentum}"
        axis.set(title=f"{title} (stationary std {expected:.2f})", xlabel="steps")
    figure.suptitle("Fig. 4.8: a random walk of steps in {-10, ..., 10} smoothed by momentum")
    return save_figure(figure, output)


# --- Chapter 4: curvature (Figs. 4.4-4.7, 4.10) -------------------------------------------------


def plot_critical_points(output: str | os.PathLike) -> Path:
    """Figs. 4.4-4.5: a 1-D minimum, maximum and flat point, and the saddle x^2 - y^2.

    Args:
      output: the PNG to write.

    Returns:
      The path written.
    """
    figure = Figure(figsize=(13, 3.8))
    x = np.linspace(-1.5, 1.5, 200)
    for index, (values, title) in enumerate(
        (
            (x**2, "local minimum (E'' > 0)"),
            (-(x**2), "local maximum (E'' < 0)"),
            (x**3, "flat (E'' = 0)"),
        )
    ):
        axis = figure.add_subplot(1, 4, index + 1)
        axis.plot(x, values)
        axis.plot([0], [0], "ko")
        axis.set(title=title, xlabel="x")
        axis.grid(alpha=0.3)
    axis = figure.add_subplot(1, 4, 4, projection="3d")
    grid_x, grid_y = np.meshgrid(np.linspace(-1, 1, 40), np.linspace(-1, 1, 40))
    axis.plot_surface(grid_x, grid_y, grid_x**2 - grid_y**2, cmap="viridis")
    hessian = landscape.hessian(lambda v: v[0] ** 2 - v[1] ** 2, [0.0, 0.0])
    axis.set_title(f"saddle x^2 - y^2, eig(H) = {np.linalg.eigvalsh(hessian).round(1).tolist()}")
    figure.suptitle(
        "Figs. 4.4-4.5: 1-D critical points (a minimum with probability 1/3) and a saddle"
    )
    return save_figure(figure, output)


def plot_quadratic(
    matrix: np.ndarray,
    vector: np.ndarray,
    descent: np.ndarray,
    conjugate: np.ndarray,
    output: str | os.PathLike,
) -> Path:
    """Figs. 4.6-4.7 and 4.10 on `E = 1/2 x^T A x - b^T x`: gradient directions, then paths.

    Left: at a few points, the normalised negative gradient (red) against the direction to the
    minimum (green). Right: steepest descent with exact line search zig-zags; conjugate
    gradients reach the minimum in n = 2 steps.

    Args:
      matrix: `A`, `(2, 2)` symmetric positive definite.
      vector: `b`, `(2,)`.
      descent: `(steps + 1, 2)` the steepest-descent path.
      conjugate: `(3, 2)` the conjugate-gradient path.
      output: the PNG to write.

    Returns:
      The path written.
    """
    energy = landscape.quadratic(matrix, vector)
    minimum = np.linalg.solve(matrix, vector)
    grid_x, grid_y = np.meshgrid(np.linspace(-3, 3, 200), np.linspace(-6, 6, 200))
    points = np.stack([grid_x, grid_y], axis=-1)
    values = 0.5 * np.einsum("...i,ij,...j->...", points, matrix, points)
    values -= points @ vector
    # Geometric levels above the minimum so that the inner ellipses show too.
    levels = float(energy(minimum)) + np.geomspace(0.05, 60.0, 14)
    figure = Figure(figsize=(11, 9))
    arrows_axis, paths_axis = figure.subplots(1, 2)
    for axis in (arrows_axis, paths_axis):
        axis.contour(grid_x, grid_y, values, levels=levels, cmap="viridis", linewidths=0.8)
        axis.plot(*minimum, "k*", markersize=14)
        axis.set(xlabel="x1", ylabel="x2", xlim=(-3, 3), ylim=(-6, 6))
        axis.set_aspect("equal")  # Right angles look right: consecutive steps are orthogonal.
    # Figs. 4.6-4.7: the normalised negative gradient versus the direction to the minimum.
    for start in ([-2.5, 3.0], [2.5, -1.0], [-1.0, -5.0], [1.5, 4.5]):
        start = np.asarray(start)
        direction = -landscape.gradient(energy, start)
        direction /= np.linalg.norm(direction)
        to_minimum = (minimum - start) / np.linalg.norm(minimum - start)
        angle = np.degrees(np.arccos(np.clip(direction @ to_minimum, -1, 1)))
        arrows_axis.quiver(*start, *direction, color="tab:red", scale=6, width=0.006)
        arrows_axis.quiver(*start, *to_minimum, color="tab:green", scale=6, width=0.006)
        arrows_axis.annotate(f"{angle:.0f} deg", start, textcoords="offset points", xytext=(5, -12))
    arrows_axis.set_title(
        "Figs. 4.6-4.7: -gradient (red) vs direction to the minimum (green)\n"
        f"condition number {np.linalg.cond(matrix):.1f}"
    )
    paths_axis.plot(
        *descent.T, "o-", color="tab:red", label=f"steepest descent, {len(descent) - 1} steps"
    )
    paths_axis.plot(
        *conjugate.T,
        "s-",
        color="tab:blue",
        label=f"conjugate gradients, {len(conjugate) - 1} steps",
    )
    paths_axis.set_title(
        "Fig. 4.10: exact line search zig-zags;\nconjugate gradients finish in n = 2 steps"
    )
    paths_axis.legend(loc="upper right")
    return save_figure(figure, output)
