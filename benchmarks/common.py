"""What the training benchmarks share: the engine runner, interleaved timing, matmul rooflines.

A *runner* is `num_steps -> seconds` spent training exactly `num_steps` optimizer steps, host
sync included. `measure_interleaved` warms every runner up once (tracing, XLA compilation) and
then measures all of them in turn, `repeats` times, so a slow spell of a shared machine hits
every contender alike; the scripts report the median of the samples.

The scripts are run as files (`python benchmarks/bench_mlp.py`), which puts `benchmarks/`, not
the repository root, on `sys.path`; each script inserts the root itself before importing this
module as `benchmarks.common`.
"""

import dataclasses
import itertools
import json
import os
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from fdl_tf2.training import classifier, step

SEED = 0

Runner = Callable[[int], float]
"""`num_steps -> seconds` spent training exactly `num_steps` steps."""
Probe = Callable[[], float]
"""`() -> a rate` (e.g. GFLOP/s), measured once per repeat alongside the runners."""

TORCH_MISSING = (
    "PyTorch is not installed, so contender (d) cannot run. `make bench` installs it (the "
    "`bench` extra: pip install -e '.[bench]'); pass --skip-torch to measure without it."
)


def intra_op_threads() -> int:
    """TensorFlow's intra-op thread count (its default, 0, means every logical CPU)."""
    return tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count() or 1


_CPU_FEATURES = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")


def has_native_bfloat16() -> bool:
    """True when bfloat16 runs natively: a GPU, or a CPU with `avx512_bf16` or `amx_bf16`."""
    if tf.config.list_physical_devices("GPU"):
        return True
    return bool({"avx512_bf16", "amx_bf16"} & set(cpu_features()))


def cpu_features() -> list[str]:
    """The vector-unit flags of /proc/cpuinfo that decide the rooflines (empty elsewhere).

    bfloat16 is fast on a CPU only with `avx512_bf16` or `amx_bf16`; without them (AVX2 only)
    TensorFlow emulates it and (a3) of the convnet benchmark is far slower than float32.
    """
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return [flag for flag in _CPU_FEATURES if flag in flags]
    except OSError:
        pass
    return []


def import_torch(skip: bool):
    """`torch`, or None when `skip`; a missing torch is an error unless skipped.

    Raises:
      SystemExit: torch is not installed and `skip` is False (`make bench` measures every
        contender, so it must not drop one silently).
    """
    if skip:
        return None
    try:
        import torch
    except ImportError as error:
        raise SystemExit(f"error: {TORCH_MISSING}") from error
    return torch


# --- Our engine -----------------------------------------------------------------------------


def make_engine_runner(
    model: keras.Model,
    optimizer: keras.optimizers.Optimizer,
    batches: Callable[[int], tf.data.Dataset],
    *,
    steps_per_call: int,
    jit_compile: bool,
    compute_loss: step.ComputeLoss = classifier.classification_loss,
    summary_writer: tf.summary.SummaryWriter | None = None,
    log_every_steps: int = 0,
) -> tuple[Runner, Callable[[], int]]:
    """What `loop.train` runs: `step.make_train_step` with `compute_loss`.

    `compute_loss` defaults to the classifiers' `classifier.classification_loss`; an
    autoencoder passes `models.autoencoder.autoencoder_loss()` (which ignores the labels).

    `batches(start_step)` is the training stream of the experiments
    (`ClassificationData.train_stream`): one iterator, opened once as `loop.train` opens it
    (`prefetch`, then `train_step.distribute`), serves every measurement, so epochs follow each
    other inside tf.data. Each call asks for `min(steps_per_call, steps left)` steps and reads
    the returned totals on the host as `loop.train` does (that read is the host sync).
    Checkpoints, evaluations and console lines of `loop.train` are left out.

    Returns:
      `(runner, tracing_count)`: the runner and a function returning how often the compiled
      multi-step function has been traced (1 expected; more means retracing per call).
    """
    train_step = step.make_train_step(
        model,
        optimizer,
        compute_loss,
        jit_compile=jit_compile,
        steps_per_call=steps_per_call,
        summary_writer=summary_writer,
        log_every_steps=log_every_steps,
    )
    iterator = iter(train_step.distribute(batches(0).prefetch(tf.data.AUTOTUNE)))

    def run(num_steps: int) -> float:
        start = time.perf_counter()
        done = 0
        while done < num_steps:
            calls = min(train_step.steps_per_call, num_steps - done)
            values = train_step(iterator, calls)
            ran = int(values["steps"])
            if ran != calls or not bool(values["finite"]):
                raise RuntimeError(f"Engine ran {ran} of {calls} steps (non-finite loss?).")
            for name, value in values.items():
                if name not in ("steps", "finite"):
                    float(value[0]), float(value[1])  # As `loop.train` totals them.
            done += ran
        return time.perf_counter() - start

    return run, train_step.experimental_get_tracing_count


# --- Rooflines ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Gemm:
    """One matrix product `op(a) @ op(b)` with `op(a)` of shape `(rows, inner)` and `op(b)`
    of shape `(inner, columns)`; `transpose_a` / `transpose_b` as in `tf.linalg.matmul`."""

    rows: int
    inner: int
    columns: int
    transpose_a: bool = False
    transpose_b: bool = False

    @property
    def flops(self) -> int:
        return 2 * self.rows * self.inner * self.columns


def dense_training_gemms(batch_size: int, layer_sizes: Sequence[int]) -> list[Gemm]:
    """The matrix products of one training step of a dense net, as autodiff runs them.

    Per layer `n_in -> n_out`, with inputs `x (batch, n_in)`, kernel `W (n_in, n_out)` and the
    gradient `dy (batch, n_out)` of its output: the forward `x @ W`, the weight gradient
    `x^T @ dy` (`transpose_a`) and, except for the first layer (whose input is data, not a
    variable), the input gradient `dy @ W^T` (`transpose_b`). Those are TensorFlow's `MatMul`
    gradients.
    """
    gemms = []
    for index, (units_in, units_out) in enumerate(itertools.pairwise(layer_sizes)):
        gemms.append(Gemm(batch_size, units_in, units_out))
        gemms.append(Gemm(units_in, batch_size, units_out, transpose_a=True))
        if index > 0:
            gemms.append(Gemm(batch_size, units_out, units_in, transpose_b=True))
    return gemms


def make_gemm_runner(
    gemms: Sequence[Gemm], repetitions: int, dtype: tf.DType = tf.float32
) -> Probe:
    """A `() -> GFLOP/s` probe: `gemms` run back to back, `repetitions` times.

    The products run inside one `tf.function` while loop (no eager dispatch). Each product is a
    loop variable, recomputed every iteration and read at the end, which keeps every one live
    without adding elementwise work. The rate is the total FLOPs over the time, so for a list of
    differently shaped products it is the throughput of that mix: the GEMM roofline of a model
    whose step runs exactly these products.
    """
    rng = np.random.default_rng(SEED)

    def operand(shape):
        return tf.cast(tf.constant(rng.random(shape, dtype=np.float32)), dtype)

    operands = []
    for gemm in gemms:
        a_shape = (gemm.inner, gemm.rows) if gemm.transpose_a else (gemm.rows, gemm.inner)
        b_shape = (gemm.columns, gemm.inner) if gemm.transpose_b else (gemm.inner, gemm.columns)
        operands.append((operand(a_shape), operand(b_shape)))

    def products(operands):
        return [
            tf.linalg.matmul(a, b, transpose_a=gemm.transpose_a, transpose_b=gemm.transpose_b)
            for gemm, (a, b) in zip(gemms, operands, strict=True)
        ]

    @tf.function
    def repeated(operands):
        outputs = [tf.zeros((gemm.rows, gemm.columns), dtype) for gemm in gemms]
        for _ in tf.range(repetitions):
            outputs = products(operands)
        return tf.add_n([tf.cast(output[0, 0], tf.float32) for output in outputs])

    repeated(operands).numpy()  # Trace and warm up.
    flops = float(sum(gemm.flops for gemm in gemms) * repetitions)

    def measure() -> float:
        start = time.perf_counter()
        repeated(operands).numpy()
        return flops / (time.perf_counter() - start) / 1e9

    return measure


def make_dense_step_gemm_runner(
    batch_size: int, layer_sizes: Sequence[int], repetitions: int
) -> Probe:
    """A `() -> GFLOP/s` probe: the `dense_training_gemms` in the order a training step runs.

    The forward products feed each other (`h_1 = x @ W_1`, `h_2 = h_1 @ W_2`, ...), then the
    backward pass goes from the last layer to the first, each layer's weight gradient
    `h^T @ dy` next to its input gradient `dy @ W^T`, which is the next layer down's `dy` (the
    logits stand in for the loss gradient). So the products have the step's dependencies: only
    what autodiff could run in parallel can run in parallel, and nothing else (no bias, ReLU,
    loss, optimizer or input pipeline) is timed. Each repetition starts again from the same
    inputs; the weights are scaled by `1 / fan_in` so the values stay near 1.
    """
    rng = np.random.default_rng(SEED)
    inputs = tf.constant(rng.random((batch_size, layer_sizes[0]), dtype=np.float32))
    kernels = [
        tf.constant(rng.random((units_in, units_out), dtype=np.float32) / units_in)
        for units_in, units_out in itertools.pairwise(layer_sizes)
    ]

    def step_products(inputs, kernels):
        activations = [inputs]
        for kernel in kernels:
            activations.append(tf.linalg.matmul(activations[-1], kernel))
        upstream = activations[-1]  # (batch, n_out) of the last layer.
        weight_gradients = []
        for index in reversed(range(len(kernels))):
            weight_gradients.append(
                tf.linalg.matmul(activations[index], upstream, transpose_a=True)
            )
            if index > 0:  # The first layer's input is data: no input gradient.
                upstream = tf.linalg.matmul(upstream, kernels[index], transpose_b=True)
        return weight_gradients

    # The operands are arguments, not captured constants, so Grappler cannot fold the products.
    @tf.function
    def repeated(inputs, kernels):
        outputs = [tf.zeros_like(kernel) for kernel in reversed(kernels)]
        for _ in tf.range(repetitions):
            outputs = step_products(inputs, kernels)
        return tf.add_n([output[0, 0] for output in outputs])

    repeated(inputs, kernels).numpy()  # Trace and warm up.
    flops = float(sum(gemm.flops for gemm in dense_training_gemms(batch_size, layer_sizes)))
    flops *= repetitions

    def measure() -> float:
        start = time.perf_counter()
        repeated(inputs, kernels).numpy()
        return flops / (time.perf_counter() - start) / 1e9

    return measure


def make_matmul_runner(
    rows: int, inner: int, columns: int, repetitions: int, dtype: tf.DType = tf.float32
) -> Probe:
    """A `() -> GFLOP/s` probe of one `tf.linalg.matmul` `(rows, inner) @ (inner, columns)`."""
    return make_gemm_runner([Gemm(rows, inner, columns)], repetitions, dtype)


# --- Timing ---------------------------------------------------------------------------------


def measure_interleaved(
    runners: dict[str, Runner],
    probes: dict[str, Probe],
    *,
    num_steps: int,
    repeats: int,
    items_per_step: int = 1,
    steps: dict[str, int] | None = None,
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
      steps: runner name -> steps per measurement for the runners that use fewer than
        `num_steps` (e.g. one that is 16x slower than the others).

    Returns:
      name -> the `repeats` samples, in order, for every runner and probe.
    """
    steps = {name: (steps or {}).get(name, num_steps) for name in runners}
    for name, run in runners.items():
        seconds = run(steps[name])
        print(f"warm-up {name}: {seconds:.2f} s", flush=True)
    samples: dict[str, list[float]] = {name: [] for name in (*runners, *probes)}
    for repeat in range(repeats):
        for name, measure in probes.items():
            samples[name].append(measure())
        for name, run in runners.items():
            samples[name].append(items_per_step * steps[name] / run(steps[name]))
        print(
            f"repeat {repeat + 1}/{repeats} (load {load_average():.1f}): "
            + ", ".join(f"{name.split(')')[0]})={samples[name][-1]:.0f}" for name in runners),
            flush=True,
        )
    return samples


def load_average() -> float:
    """The 1-minute load average (NaN where the OS has none): how busy the machine was."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def warn_if_retraced(tracing_counts: dict[str, Callable[[], int]]) -> None:
    """Prints a warning naming every engine whose compiled function was traced more than once."""
    retraced = {name: count() for name, count in tracing_counts.items() if count() != 1}
    if retraced:
        print(f"WARNING: engine train steps traced more than once: {retraced}")


def not_slower(ours: Sequence[float], other: Sequence[float], factor: float = 1.0) -> str:
    """Is ours at least `factor` times as fast as `other` (beyond noise), judged per repeat?

    Returns:
      "PASS" when the median of the per-repeat ratios ours/other is >= `factor`, "NOISE" when
      it is below but some repeat reached `factor`, else "FAIL" (below it in every repeat).
      The default `factor` 1 asks "not slower".
    """
    ratios = [a / b for a, b in zip(ours, other, strict=True)]
    if statistics.median(ratios) >= factor:
        return "PASS"
    return "NOISE" if max(ratios) >= factor else "FAIL"


def pass_fail(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def write_results(results: dict[str, Any], output: str | os.PathLike) -> None:
    """Writes `results` as indented JSON to `output` (creating its folder) and says where."""
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"Results written to {path}")
