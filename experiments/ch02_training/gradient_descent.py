"""
Title: Gradient descent, the learning rate and overfitting (NumPy)
Book: Chapter 2, "Training Feed-Forward Neural Networks" (seed lines 534-729, Figs. 2.2-2.9)
Description: Delta rule, error bowl and learning rate, batch vs stochastic GD, degree-12 overfit.
Expected result: prices recovered within 1e-3; eps > 2/lambda_max diverges; degree 12 overfits.

The book gives no data or hyperparameters for these thought experiments (spec ch01-03 §2.1),
so the data (fast-food prices 5/2/3, the bowl, the plateau loss, the noisy line y = 2x + 1)
are choices of this port, documented in `fdl_tf2.foundations`. Updates SUM the gradient over
the examples, as chapter 2 does (chapter 3 averages; spec §5.2 item 6). The plateau loss of
Figs. 2.6/2.7 is designed for the illustration.
"""

import dataclasses

import numpy as np

from fdl_tf2 import config as config_lib
from fdl_tf2.foundations import gradient_descent as gd
from fdl_tf2.foundations import toy_data
from fdl_tf2.training import runs
from fdl_tf2.viz import error_surfaces, model_selection

EXPERIMENT_ID = "ch02.gradient_descent"

FIGURES = (
    "fig2_2_error_surface",
    "fig2_3_contours_and_path",
    "fig2_4_learning_rates",
    "fig2_6_2_7_batch_vs_stochastic",
    "fig2_8_2_9_overfitting",
)


@dataclasses.dataclass(frozen=True)
class Config(config_lib.RunConfig):
    """Defaults are the "book" preset (the book sets no numbers; these are the port's)."""

    num_orders: int = 50  # Fast-food meals with known bills.
    delta_rule_learning_rate: float = 1e-3  # Summed update; 2 / lambda_max(X^T X) is ~1.9e-3.
    delta_rule_steps: int = 500
    small_learning_rate: float = 0.1  # On the demo bowl, 2 / lambda_max = 0.586.
    large_learning_rate: float = 0.62  # Above 0.586: diverges (Fig. 2.4).
    bowl_steps: int = 60
    large_learning_rate_steps: int = 15  # Enough to see the zigzag grow.
    plateau_examples: int = 20
    plateau_start: float = 2.5  # Five well widths from the minimum.
    plateau_learning_rate: float = 0.3
    plateau_epochs: int = 30
    num_points: int = 15  # Noisy points of y = 2x + 1 for Figs. 2.8/2.9.
    noise: float = 0.3
    polynomial_degree: int = 12  # Line 720.
    num_fresh_points: int = 200


CONFIGS = {
    "smoke": dict(delta_rule_steps=200),  # Everything is small; seconds.
    "book": dict(),
    "cpu": dict(),
}


def main(config: Config) -> dict:
    """Runs every chapter-2 gradient-descent demo; returns the key numbers."""
    context = runs.start_run(config, EXPERIMENT_ID)
    run_log = context.run_log

    # --- Delta rule on the fast-food neuron (lines 534-603) ---
    orders, bills = toy_data.fast_food_orders(config.num_orders, seed=config.seed)
    weights, errors = gd.train_linear_neuron(
        orders,
        bills,
        learning_rate=config.delta_rule_learning_rate,
        num_steps=config.delta_rule_steps,
        seed=config.seed,
    )
    for step, error in enumerate(errors):
        if step % 10 == 0 or step == len(errors) - 1:
            run_log.scalars(step, "train", squared_error=float(error))
    least_squares = np.linalg.lstsq(orders, bills, rcond=None)[0]
    fast_food_bowl = gd.linear_neuron_bowl(orders, bills)
    run_log.print(
        f"Delta rule: prices {np.round(weights, 4).tolist()} (true "
        f"{toy_data.FAST_FOOD_PRICES.tolist()}), E = {errors[-1]:.3g}; "
        f"2 / lambda_max = {fast_food_bowl.critical_learning_rate:.3g}"
    )

    # --- The error bowl and the learning rate (Figs. 2.2-2.4) ---
    bowl = gd.DEMO_BOWL
    start = np.array([-2.0, 4.5])
    small = gd.bowl_trajectory(bowl, start, config.small_learning_rate, config.bowl_steps)
    large = gd.bowl_trajectory(
        bowl, start, config.large_learning_rate, config.large_learning_rate_steps
    )

    error_surfaces.plot_error_surface(bowl, small, run_log.figure_path("fig2_2_error_surface"))
    error_surfaces.plot_contours_and_path(
        bowl, small, config.small_learning_rate, run_log.figure_path("fig2_3_contours_and_path")
    )
    error_surfaces.plot_learning_rates(
        bowl,
        [(config.small_learning_rate, small), (config.large_learning_rate, large)],
        run_log.figure_path("fig2_4_learning_rates"),
    )

    # --- Batch vs stochastic GD on a plateau (Figs. 2.6/2.7, illustrative) ---
    plateau = gd.PlateauLoss.make(config.plateau_examples, seed=config.seed)
    batch_path = plateau.descend(
        config.plateau_start,
        batch_size=config.plateau_examples,
        learning_rate=config.plateau_learning_rate,
        epochs=config.plateau_epochs,
        seed=config.seed,
    )
    stochastic_path = plateau.descend(
        config.plateau_start,
        batch_size=1,
        learning_rate=config.plateau_learning_rate,
        epochs=config.plateau_epochs,
        seed=config.seed,
    )
    error_surfaces.plot_batch_vs_stochastic(
        plateau, batch_path, stochastic_path, run_log.figure_path("fig2_6_2_7_batch_vs_stochastic")
    )

    # --- Overfitting: linear vs degree-12 polynomial (Figs. 2.8/2.9) ---
    x, y = toy_data.noisy_line(config.num_points, seed=config.seed, noise=config.noise)
    fresh_x, fresh_y = toy_data.noisy_line(
        config.num_fresh_points, seed=config.seed + 1, noise=config.noise
    )
    fits = {
        "linear": gd.polynomial_fit(x, y, 1),
        f"degree {config.polynomial_degree}": gd.polynomial_fit(x, y, config.polynomial_degree),
    }
    mse = {}
    for name, model in fits.items():
        mse[name] = (
            gd.mean_squared_error(y, gd.polynomial_predict(model, x)),
            gd.mean_squared_error(fresh_y, gd.polynomial_predict(model, fresh_x)),
        )
        run_log.print(f"{name:>10}: train MSE {mse[name][0]:.4f}, fresh MSE {mse[name][1]:.4f}")
    model_selection.plot_polynomial_fits(
        (x, y), (fresh_x, fresh_y), fits, mse, run_log.figure_path("fig2_8_2_9_overfitting")
    )

    degree_name = f"degree {config.polynomial_degree}"
    metrics = {
        "learned_prices": weights.tolist(),
        "max_price_error": float(np.max(np.abs(weights - toy_data.FAST_FOOD_PRICES))),
        "max_difference_from_lstsq": float(np.max(np.abs(weights - least_squares))),
        "fast_food_critical_learning_rate": fast_food_bowl.critical_learning_rate,
        "bowl_lambda_max": bowl.max_curvature,
        "bowl_final_error_small_lr": float(bowl.loss(small[-1])),
        "bowl_final_error_large_lr": float(bowl.loss(large[-1])),
        "plateau_batch_final_weight": float(batch_path[-1]),
        "plateau_stochastic_final_weight": float(stochastic_path[-1]),
        "plateau_batch_final_loss": float(plateau.batch_loss(batch_path[-1])),
        "plateau_stochastic_final_loss": float(plateau.batch_loss(stochastic_path[-1])),
        "train_mse_linear": mse["linear"][0],
        "fresh_mse_linear": mse["linear"][1],
        "train_mse_polynomial": mse[degree_name][0],
        "fresh_mse_polynomial": mse[degree_name][1],
    }
    return runs.finish_run(context, config, metrics)


if __name__ == "__main__":
    import sys

    print(main(config_lib.from_argv(Config, CONFIGS, sys.argv[1:])))
