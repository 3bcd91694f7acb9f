"""
Title: RNN basics: vanishing gradients, the book's LSTM cell, TF1 RNN primitives in Keras 3
Book: Chapter 7, "Recurrent Neural Networks" to "TensorFlow Primitives for RNN Models" (3787-4008)
Description: |dh_t/di_(t-k)| of a one-neuron RNN vs its bound; LSTM gates vs LSTMCell; TF1 map.
Expected result: no gradient above |w_rec|^k |w_in|; LSTM max abs difference ~1e-7; shapes match.

No training and no data. Three demos of `fdl_tf2.models.recurrent`:

- Fig. 7.16 (spec §2.2.4, checklist item 24): the scalar RNN h(t) = f(w_in i(t) + w_rec h(t-1))
  on random inputs i(t) ~ N(0, input_scale^2); one `tf.GradientTape` per activation and w_rec
  measures |dh(T)/di(T - k)| for every k, against the book's bound |w_rec|^k |w_in| (line 3882,
  errata 22: with |w_in|, and 0.25^(k+1) times smaller for the logistic). The figure shows the
  median over `num_sequences` sequences; the bound is checked on every one. With the small
  w_in = 0.1, tanh stays near its linear range and follows the bound closely for w_rec < 1,
  while w_rec = 1.5 drives it into saturation: the bound grows, the gradient still vanishes.
- The LSTM of lines 3886-3940 (checklist item 25): `BookLSTMCell`, given the weights of a
  random `keras.layers.LSTMCell` (gate order and forget bias converted), unrolled by
  `keras.layers.RNN` over `lstm_steps` steps; the maximum absolute difference of the outputs
  and of both states, with the TF1 forget bias 1.0 and with 0.
- The TF1 primitives of lines 3942-4008 (checklist item 26): each Keras 3 counterpart built
  and run with shape checks, printed as a table, and what `StackedRNNCells([cell] * 2)` does.
"""

import dataclasses

import keras
import numpy as np

from fdl_tf2 import config as config_lib
from fdl_tf2.models import recurrent
from fdl_tf2.training import runs
from fdl_tf2.viz import figure as figure_lib
from fdl_tf2.viz import recurrent as recurrent_figures

EXPERIMENT_ID = "ch07.rnn_basics"

FIGURES = ("fig7_16_vanishing_gradient",)  # Written to figures/ by every run (smoke-tested).


@dataclasses.dataclass(frozen=True)
class Config(config_lib.RunConfig):
    """Defaults are the "book" preset (the book gives no sizes; these are illustrative)."""

    steps: int = 30  # T of the scalar RNN; gradients for k = 0..T-1.
    w_in: float = 0.1  # Small, the premise of the book's argument (lines 3846-3884).
    w_recs: tuple[float, ...] = (0.5, 0.9, 1.0, 1.5)  # Recurrent weights, one curve each.
    activations: tuple[str, ...] = ("tanh", "logistic")  # One panel each ("relu" also works).
    input_scale: float = 1.0  # Standard deviation of the random inputs i(t).
    num_sequences: int = 16  # Random input sequences; the figure shows the median.
    lstm_units: int = 8  # The LSTM check: cell width,
    lstm_features: int = 5  # input features,
    lstm_batch: int = 4  # sequences,
    lstm_steps: int = 20  # and time steps of the unroll.
    demo_batch: int = 4  # The TF1 -> Keras map: batch,
    demo_time: int = 7  # max_time,
    demo_features: int = 5  # input features,
    demo_units: int = 3  # and num_units of every cell.


CONFIGS = {
    "smoke": dict(steps=12, num_sequences=4, lstm_steps=5),  # Seconds; used by tests.
    "book": dict(),
    "cpu": dict(),  # The book preset takes seconds.
}


def _name(activation: str, w_rec: float) -> str:
    return f"{activation}_w_rec_{w_rec:g}"


def _vanishing_gradients(config: Config, run_log) -> dict:
    """Fig. 7.16 and its numbers: measured gradients against the bound, for every k."""
    rng = np.random.default_rng(config.seed)
    inputs = config.input_scale * rng.normal(size=(config.num_sequences, config.steps))
    lags = np.arange(config.steps)
    curves, metrics, violations = {}, {}, 0
    for activation in config.activations:
        curves[activation] = {}
        for w_rec in config.w_recs:
            measured = recurrent.input_gradients(config.w_in, w_rec, inputs, activation)
            bound = recurrent.gradient_bound(config.w_in, w_rec, lags)  # (T,)
            violations += int(np.sum(measured > bound * (1 + 1e-12)))
            median = np.median(measured, axis=0)  # (T,)
            curves[activation][w_rec] = median
            name = _name(activation, w_rec)
            metrics[f"{name}_gradient_k0"] = float(median[0])
            metrics[f"{name}_gradient_k{config.steps - 1}"] = float(median[-1])
            metrics[f"{name}_max_ratio_to_bound"] = float(np.max(measured / bound))
    for k in lags:
        run_log.scalars(
            int(k),
            "test",
            **{
                _name(activation, w_rec): float(curve[k])
                for activation, by_weight in curves.items()
                for w_rec, curve in by_weight.items()
            },
        )
    path = recurrent_figures.plot_vanishing_gradient(
        curves, config.w_in, run_log.figure_path(FIGURES[0])
    )
    run_log.images(0, "vanishing_gradient", figure_lib.png_to_array(path), split="test")
    metrics["gradient_bound_violations"] = violations
    return metrics


def _lstm_check(config: Config) -> dict:
    """BookLSTMCell vs keras.layers.LSTMCell with the same (converted) random weights."""
    rng = np.random.default_rng(config.seed)
    shape = (config.lstm_batch, config.lstm_steps, config.lstm_features)
    inputs = rng.normal(size=shape).astype(np.float32)
    keras_cell = keras.layers.LSTMCell(
        config.lstm_units, bias_initializer=keras.initializers.RandomNormal(seed=config.seed)
    )
    expected = keras.layers.RNN(keras_cell, return_sequences=True, return_state=True)(inputs)
    metrics = {}
    for forget_bias in (1.0, 0.0):
        book_cell = recurrent.from_keras_lstm_cell(keras_cell, forget_bias=forget_bias)
        got = keras.layers.RNN(book_cell, return_sequences=True, return_state=True)(inputs)
        for name, a, b in zip(("outputs", "h", "c"), expected, got, strict=True):
            difference = float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
            metrics[f"lstm_forget_bias_{forget_bias:g}_max_abs_difference_{name}"] = difference
    metrics["lstm_max_abs_difference"] = max(metrics.values())
    return metrics


def _format_shapes(shapes) -> str:
    if shapes is None:
        return "-"
    if shapes and isinstance(shapes[0], int):
        return "(" + ", ".join(map(str, shapes)) + ")"
    return "[" + ", ".join(_format_shapes(item) for item in shapes) + "]"


def main(config: Config) -> dict:
    """Draws Fig. 7.16, checks the LSTM cell and the TF1 map; returns the metrics."""
    context = runs.start_run(config, EXPERIMENT_ID)
    run_log = context.run_log
    say = run_log.print

    # --- Fig. 7.16: vanishing gradients ---
    gradient_metrics = _vanishing_gradients(config, run_log)
    for activation in config.activations:
        line = ", ".join(
            f"w_rec {w:g}: {gradient_metrics[f'{_name(activation, w)}_gradient_k0']:.3g} -> "
            f"{gradient_metrics[f'{_name(activation, w)}_gradient_k{config.steps - 1}']:.3g}"
            for w in config.w_recs
        )
        say(f"|dh(T)/di(T-k)|, {activation}, k = 0 -> {config.steps - 1}: {line}")
    say(f"Gradients above |w_rec|^k |w_in|: {gradient_metrics['gradient_bound_violations']}")

    # --- The book's LSTM cell against keras.layers.LSTMCell ---
    lstm_metrics = _lstm_check(config)
    say(
        f"BookLSTMCell vs keras.layers.LSTMCell over {config.lstm_steps} steps: max abs "
        f"difference {lstm_metrics['lstm_max_abs_difference']:.2e} (outputs, h, c; forget "
        "bias 1 and 0)"
    )

    # --- TF1 primitives -> Keras 3 ---
    table = recurrent.rnn_primitives_demo(
        config.demo_batch, config.demo_time, config.demo_features, config.demo_units, config.seed
    )
    cells = [("TF1", "Keras 3", "output", "states")] + [
        (row.tf1, row.keras, _format_shapes(row.output_shape), _format_shapes(row.state_shapes))
        for row in table
    ]
    widths = [max(len(line[column]) for line in cells) for column in range(3)]
    for line in cells:
        say("  ".join(cell.ljust(width) for cell, width in zip(line, widths + [0], strict=True)))
    shared = {
        f"units_{'eq' if units == config.demo_features else 'ne'}_features": (
            recurrent.shared_cell_stack_demo(config.demo_features, units, seed=config.seed)
        )
        for units in (config.demo_features, config.demo_units)
    }
    for case, result in shared.items():
        outcome = result.error or (
            f"runs, {result.num_parameters} parameters shared (distinct cells: "
            f"{result.distinct_num_parameters})"
        )
        say(f"StackedRNNCells([cell] * 2), {case.replace('_', ' ')}: {outcome}")

    metrics = {**gradient_metrics, **lstm_metrics}
    run_log.scalars(0, "test", **lstm_metrics)
    say(f"Figures: {', '.join(FIGURES)}")
    return runs.finish_run(
        context,
        config,
        {
            **metrics,
            "primitives": [row._asdict() for row in table],
            "shared_cell_stack": {case: result._asdict() for case, result in shared.items()},
        },
    )


if __name__ == "__main__":
    import sys

    print(main(config_lib.from_argv(Config, CONFIGS, sys.argv[1:])))
