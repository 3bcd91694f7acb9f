"""What the training benchmarks share: the engine runner, interleaved timing, matmul roofline.

A *runner* is `num_steps -> seconds` spent training exactly `num_steps` optimizer steps, host
sync included. `measure_interleaved` warms every runner up once (tracing, XLA compilation) and
then measures all of them in turn, `repeats` times, so a slow spell of a shared machine hits
every contender alike; the scripts report the median of the samples.

The scripts are run as files (`python benchmarks/bench_mlp.py`), which puts `benchmarks/`, not
the repository root, on `sys.path`; each script inserts the root itself before importing this
module as `benchmarks.common`.
"""

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from fdl_tf2.training import loop

SEED = 0

Runner = Callable[[int], float]
"""`num_steps -> seconds` spent training exactly `num_steps` steps."""
Probe = Callable[[], float]
"""`() -> a rate` (e.g. GFLOP/s), measured once per repeat alongside the runners."""


def intra_op_threads() -> int:
    """TensorFlow's intra-op thread count (its default, 0, means every logical CPU)."""
    return tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count() or 1


def make_engine_runner(
    model: keras.Model,
    optimizer: keras.optimizers.Optimizer,
    epoch_dataset: Callable[[int], tf.data.Dataset],
    *,
    steps_per_epoch: int,
    batch_size: int,
    steps_per_execution: int,
    jit: bool,
) -> tuple[Runner, Callable[[], int]]:
    """`fdl_tf2.training.loop.make_train_function` (classification loss and accuracy).

    Each epoch gets its own dataset, `epoch_dataset(epoch)` (as `loop.train` does), built
    inside the timed region, so the per-epoch pipeline setup is part of the measured time.
    Epochs continue from one call of the runner to the next.

    Returns:
      `(runner, tracing_count)`: the runner and a function returning how often the compiled
      multi-step function has been traced (1 expected; more means retracing per call).
    """
    optimizer.build(model.trainable_variables)
    step_counter = tf.Variable(0, dtype=tf.int64)
    train_steps = loop.make_train_function(
        model,
        optimizer,
        loop.sparse_softmax_cross_entropy,
        loop.CLASSIFICATION_METRICS,
        strategy=tf.distribute.get_strategy(),
        global_batch_size=batch_size,
        step_counter=step_counter,
        jit_compile=jit,
        summary_writer=None,
    )
    next_epoch = [0]

    def run(num_steps: int) -> float:
        start = time.perf_counter()
        done = 0
        while done < num_steps:
            dataset = epoch_dataset(next_epoch[0])
            next_epoch[0] += 1
            iterator = iter(dataset)
            epoch_end = min(done + steps_per_epoch, num_steps)
            while done < epoch_end:
                calls = min(steps_per_execution, epoch_end - done)
                totals = train_steps(iterator, tf.constant(calls, tf.int32))
                # `.numpy()` is the host sync; it also checks that every step ran.
                ran = int(totals["steps"].numpy())
                if ran != calls:
                    raise RuntimeError(f"Engine ran {ran} of {calls} steps (non-finite loss?).")
                done += ran
        return time.perf_counter() - start

    return run, train_steps.experimental_get_tracing_count


def make_matmul_runner(
    rows: int, inner: int, columns: int, repetitions: int, dtype: tf.DType = tf.float32
) -> Probe:
    """A `() -> GFLOP/s` probe of `tf.linalg.matmul` `(rows, inner) @ (inner, columns)`.

    The matmuls run inside one `tf.function` loop, so eager dispatch overhead does not hide
    the small-matmul rate. Each iteration adds its product into an accumulator, which keeps
    every matmul live; the add is `rows * columns` flops, negligible against the matmul.
    """
    rng = np.random.default_rng(SEED)
    left = tf.cast(tf.constant(rng.random((rows, inner), dtype=np.float32)), dtype)
    right = tf.cast(tf.constant(rng.random((inner, columns), dtype=np.float32)), dtype)

    @tf.function
    def repeated_matmul(left, right):
        accumulator = tf.zeros((rows, columns), dtype)
        for _ in tf.range(repetitions):
            accumulator += tf.linalg.matmul(left, right)
        return accumulator[0, 0]

    repeated_matmul(left, right).numpy()  # Trace and warm up.
    flops = 2.0 * rows * inner * columns * repetitions

    def measure() -> float:
        start = time.perf_counter()
        repeated_matmul(left, right).numpy()
        return flops / (time.perf_counter() - start) / 1e9

    return measure


def measure_interleaved(
    runners: dict[str, Runner],
    probes: dict[str, Probe],
    *,
    num_steps: int,
    repeats: int,
    items_per_step: int = 1,
) -> dict[str, list[float]]:
    """Warms every runner up once, then measures runners and probes interleaved.

    Args:
      runners: contender name -> runner; names start with a tag such as "(a2)", which the
        per-repeat progress line prints.
      probes: name -> probe, measured once at the start of each repeat.
      num_steps: steps per measurement.
      repeats: measurements per runner and probe.
      items_per_step: a runner's sample is `items_per_step * num_steps / seconds` (1: steps/s;
        the batch size: examples/s).

    Returns:
      name -> the `repeats` samples, in order, for every runner and probe.
    """
    for name, run in runners.items():
        seconds = run(num_steps)
        print(f"warm-up {name}: {seconds:.2f} s")
    samples: dict[str, list[float]] = {name: [] for name in (*runners, *probes)}
    for repeat in range(repeats):
        for name, measure in probes.items():
            samples[name].append(measure())
        for name, run in runners.items():
            samples[name].append(items_per_step * num_steps / run(num_steps))
        print(
            f"repeat {repeat + 1}/{repeats}: "
            + ", ".join(f"{name.split(')')[0]})={samples[name][-1]:.0f}" for name in runners)
        )
    return samples


def warn_if_retraced(tracing_counts: dict[str, Callable[[], int]]) -> None:
    """Prints a warning naming every engine whose compiled function was traced more than once."""
    retraced = {name: count() for name, count in tracing_counts.items() if count() != 1}
    if retraced:
        print(f"WARNING: engine train_steps traced more than once: {retraced}")


def pass_fail(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def write_results(results: dict[str, Any], output: str | os.PathLike) -> None:
    """Writes `results` as indented JSON to `output` (creating its folder) and says where."""
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"Results written to {path}")
