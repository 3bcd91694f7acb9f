"""
Title: TensorFlow basics: variables, placeholders, sessions, sharing and devices, TF1 vs TF2
Book: Chapter 3, "Implementing Neural Networks in TensorFlow" (seed lines 884-1221, L3.2-L3.13)
Description: Runs each of the book's chapter-3 snippets the TF1 way (compat.v1) and the TF2 way.
Expected result: the book's outputs: W_1_1:0 names, Over-sharing error, [[5],[11]], [[10],[22]].

One pass through the chapter's non-training listings, printed in the book's order:

1. Variables (L3.2-L3.4) and the three ops a TF1 variable adds to the graph (Fig. 3.1).
2. Placeholder + session (L3.5, L3.6) -> a `tf.function` with an input signature; its traced
   graph goes to TensorBoard (Fig. 3.2: `tensorboard --logdir <run>/tensorboard`, Graphs tab).
3. Variable sharing (L3.7-L3.10): the naive network's duplicated variables, the Over-sharing
   `ValueError`, `reuse_variables()`, and the Keras model that replaces all of it.
4. Devices (L3.11-L3.13): placement logging, soft placement of `/GPU:2`, the two-tower sum on
   two logical CPUs (or the GPUs present), and `MirroredStrategy`.
5. The book's derived claims (lines 1438, 1483) from the port's measured accuracies.
"""

import dataclasses
import json
from pathlib import Path

import numpy as np
import tensorflow as tf

from fdl_tf2 import config as config_lib
from fdl_tf2.foundations import tf_basics
from fdl_tf2.training import runs
from fdl_tf2.viz import curves, initializers

EXPERIMENT_ID = "ch03.tf_basics"

FIGURES = ("initialisers",)  # Written to figures/ by every run (checked by the smoke tests).

RESULTS_DIR = Path(__file__).resolve().parents[1] / "results"


@dataclasses.dataclass(frozen=True)
class Config(config_lib.RunConfig):
    """Defaults are the "book" preset: the book's sizes."""

    batch_size: int = 1000  # The book feeds [1000, 784] placeholders (L3.7).
    tower_devices: int = 2  # Logical CPUs to create when no GPUs exist (the book's 2 GPUs).
    curves_from: str = ""  # A run's tensorboard/ folder to draw as Fig. 3.5 (empty: none).


CONFIGS = {
    "smoke": dict(batch_size=10),  # Seconds; used by tests.
    "book": dict(),
    "cpu": dict(),  # Already seconds.
}


def _split_cpu(num_devices: int) -> bool:
    """Makes `num_devices` logical CPUs if the TF runtime has not started yet; True if it did."""
    cpus = tf.config.list_physical_devices("CPU")
    if num_devices < 2 or tf.config.get_logical_device_configuration(cpus[0]):
        return False
    try:
        tf.config.set_logical_device_configuration(
            cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(num_devices)]
        )
    except RuntimeError:  # The runtime is already initialised: use the devices it has.
        return False
    return True


def _initialiser_draws() -> dict[str, np.ndarray]:
    """L3.4: the book's initialisers, drawn on the L3.2 shape [300, 200] with stddev 0.5."""
    draws = {
        "tf.random.normal(stddev=0.5)": tf.random.normal([300, 200], stddev=0.5, seed=1),
        "tf.random.truncated_normal(stddev=0.5)": tf.random.truncated_normal(
            [300, 200], stddev=0.5, seed=2
        ),
        "tf.random.uniform(-1, 1)": tf.random.uniform([300, 200], -1.0, 1.0, seed=3),
    }
    return {name: values.numpy() for name, values in draws.items()}


def main(config: Config) -> dict:
    """Prints the book's chapter-3 snippets next to their TF2 forms; returns the key values."""
    split = _split_cpu(config.tower_devices)  # Must precede anything that starts the runtime.
    context = runs.start_run(config, EXPERIMENT_ID)
    run_log = context.run_log
    say = run_log.print

    say("## 1. Variables (L3.2-L3.4, Fig. 3.1)")
    weights = tf.Variable(tf.random.normal([300, 200], stddev=0.5, seed=1), name="weights")
    frozen = tf.Variable(weights, trainable=False, name="weights_frozen")
    say(f"TF2: {weights.name} shape={tuple(weights.shape)} std={float(np.std(weights)):.4f}")
    say(f"TF2: {frozen.name} trainable={frozen.trainable} (L3.3)")
    say("TF1 graph ops of one variable (no initialize_all_variables() needed in TF2):")
    for line in tf_basics.v1_variable_ops():
        say(f"    {line}")
    initializers.plot_initializer_histograms(
        _initialiser_draws(),
        run_log.figure_path("initialisers"),
        title="Variable initialisers of listing L3.4 (dotted: ±2σ = ±1 for σ = 0.5)",
    )

    say("## 2. Placeholder + session -> tf.function (L3.5, L3.6, Fig. 3.2)")
    affine = tf_basics.affine_function(seed=config.seed)
    run_log.trace_on()  # Before the first call: the trace is what TensorBoard draws.
    minibatch = tf.random.uniform([config.batch_size, 784], seed=config.seed)
    output = affine(minibatch)
    run_log.trace_export("affine_xW_plus_b")
    single = affine(minibatch[:1])
    say("TF1: sess.run(output, feed_dict={x: get_minibatch()})")
    say(f"TF2: affine(minibatch) -> shape {tuple(output.shape)}; first row {output[0, :3]}...")
    say(
        f"TF2: batch 1 -> shape {tuple(single.shape)}; traces: "
        f"{affine.__call__.experimental_get_tracing_count()} (one graph, like one session)"
    )
    say(f"Graph ops: {tf_basics.affine_graph_ops(affine)}")

    say("## 3. Variable sharing (L3.7-L3.10)")
    v1_names = tf_basics.fresh_network_names_in_graph_mode()
    say(f"TF1 graph, my_network(i_1): {' '.join(v1_names[0])}")
    say(f"TF1 graph, my_network(i_2): {' '.join(v1_names[1])}  <- a second set of variables")
    inputs = tf.random.uniform([config.batch_size, 784], seed=config.seed)
    _, first = tf_basics.make_fresh_network(inputs, seed=1)
    _, second = tf_basics.make_fresh_network(inputs, seed=11)
    distinct = len({variable.ref() for variable in first + second})
    say(
        f"TF2 eager: both calls name their variables {first[0].name}, {first[1].name}, ... "
        f"but create {distinct} distinct variables (names no longer show the duplication)"
    )
    scope_demo = tf_basics.variable_scope_demo()
    say(f"TF1 get_variable without reuse: ValueError: {scope_demo['error']}")
    say("    (the book's TF 0.x message: 'Over-sharing: Variable layer_1/W already exists.')")
    say(f"TF1 with scope.reuse_variables(): {len(scope_demo['shared_names'])} variables")
    shared = tf_basics.build_shared_network(seed=config.seed)
    shared(inputs)
    shared(tf.random.uniform([config.batch_size, 784], seed=config.seed + 1))
    say(
        f"TF2 Keras: one model called twice -> {len(shared.variables)} variables, "
        f"{shared.count_params():,} parameters"
    )

    say("## 4. Devices (L3.11-L3.13, Fig. 3.3)")
    tf.debugging.set_log_device_placement(True)
    tf_basics.matmul_on_device("/CPU:0")  # "Executing op MatMul in device ..." (C++ INFO log).
    tf.debugging.set_log_device_placement(False)
    say(
        "TF2: tf.debugging.set_log_device_placement(True) replaces ConfigProto(log_device_"
        "placement=True); its lines are C++ INFO logs (shown with TF_CPP_MIN_LOG_LEVEL=0)"
    )
    soft = tf_basics.matmul_on_device("/GPU:2")
    say(f"with tf.device('/GPU:2') and soft placement: {soft.tolist()}")
    say(f"    ran on {tf_basics.matmul_device('/GPU:2')} (the result tensor's .device)")
    try:
        tf_basics.matmul_on_device("/GPU:2", soft_placement=False)
        hard = "ran: this machine has a /GPU:2"
    except tf.errors.InvalidArgumentError as error:
        hard = f"InvalidArgumentError: {str(error).splitlines()[0][:90]}..."
    say(f"without soft placement: {hard}")
    devices = tf_basics.logical_devices("GPU") or tf_basics.logical_devices("CPU")
    say(f"Tower devices: {devices} ({'split just now' if split else 'as the runtime has them'})")
    tower = tf_basics.tower_sum(devices)
    mirrored = tf_basics.mirrored_tower_sum(devices)
    say(f"Towers + tf.add_n on /CPU:0: {tower.tolist()}")
    say(f"MirroredStrategy + reduce(SUM): {mirrored.tolist()}")

    say("## 5. Derived claims (lines 1438, 1483)")
    accuracies = {"logistic_regression": 0.919, "mlp": 0.982}  # The book's numbers.
    source = "book"
    paths = {name: RESULTS_DIR / f"ch03.{name}.book.json" for name in accuracies}
    if all(path.is_file() for path in paths.values()):
        accuracies = {name: json.loads(p.read_text())["test_accuracy"] for name, p in paths.items()}
        source = "port, experiments/results"
    cheque = tf_basics.cheque_error_rate(accuracies["logistic_regression"])
    reduction = tf_basics.relative_error_reduction(
        1 - accuracies["logistic_regression"], 1 - accuracies["mlp"]
    )
    say(
        f"Book: 1 - 0.919^4 = {tf_basics.cheque_error_rate(0.919):.3f} ('almost 30%'), "
        f"(8.1 - 1.8) / 8.1 = {tf_basics.relative_error_reduction(8.1, 1.8):.3f} ('almost 78%')"
    )
    say(
        f"Port ({source}): accuracies {accuracies}: 4-digit cheque error {cheque:.3f}, "
        f"digit-error reduction {reduction:.3f}"
    )

    if config.curves_from:
        path = curves.plot_tensorboard_curves(
            config.curves_from, run_log.figure_path("fig3_5_curves"), title=config.curves_from
        )
        say(f"Fig. 3.5 curves of {config.curves_from}: {path}")

    metrics = {
        "weights_std": float(np.std(weights)),
        "affine_tracing_count": int(affine.__call__.experimental_get_tracing_count()),
        "fresh_network_variables": distinct,
        "shared_network_variables": len(shared.variables),
        "soft_placement_result": soft.ravel().tolist(),
        "tower_devices": len(devices),
        "tower_result": tower.ravel().tolist(),
        "mirrored_result": mirrored.ravel().tolist(),
        "cheque_error_rate": cheque,
        "relative_error_reduction": reduction,
    }
    run_log.scalars(
        0,
        "train",
        weights_std=metrics["weights_std"],
        tower_sum_first=float(tower[0, 0]),
        cheque_error_rate=cheque,
        relative_error_reduction=reduction,
    )
    return runs.finish_run(context, config, metrics)


if __name__ == "__main__":
    import sys

    print(main(config_lib.from_argv(Config, CONFIGS, sys.argv[1:])))
