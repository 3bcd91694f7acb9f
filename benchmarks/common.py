"""What the training benchmarks share: command line, runners, interleaved timing, rooflines.

A *runner* is `num_steps -> seconds` spent training exactly `num_steps` optimizer steps, host
sync included. `measure_interleaved` warms every runner up once (tracing, XLA compilation) and
then measures all of them in turn, `repeats` times, so a slow spell of a shared machine hits
every contender alike; the scripts report the median of the samples.

A script's `main` runs as: `ArgumentParser` (the shared flags) and `repeats_and_steps`, then
`start_session` (torch, the machine, the load average before), the data (`random_mnist`, ...),
the runners (`make_engine_runner`, `make_array_fit_runner`, `make_torch_runner`) and probes,
`measure_interleaved`, the verdicts (`choose_ours`, `matched_pairs`, `speed_target`) and
`Session.finish` (the JSON, printed and written).

The scripts are run as files (`python benchmarks/bench_mlp.py`), which puts `benchmarks/`, not
the repository root, on `sys.path`; each script inserts the root itself before importing this
module as `benchmarks.common`.
"""

import argparse
import dataclasses
import itertools
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from fdl_tf2.data import mnist, pipeline
from fdl_tf2.training import classifier, step
from fdl_tf2.training.run_log import machine_description

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


# --- Command line and session ---------------------------------------------------------------


class ArgumentParser(argparse.ArgumentParser):
    """The flags every benchmark takes: --repeats, --quick, --skip-torch and --output.

    The script adds the flag that sizes a measurement (--steps, --epochs-per-rep), parses, and
    resolves the two with `repeats_and_steps`.
    """

    def __init__(self, description: str, *, script: str, default_repeats: int, quick_steps: int):
        """`description`: the script's docstring (its first line is shown); `script`: its file
        name without `.py`, which names the default --output `runs/bench/<script>.json`."""
        super().__init__(description=description.split("\n", 1)[0])
        self.quick_steps = quick_steps
        self.add_argument(
            "--repeats", type=int, default=default_repeats, help="Measurements per contender."
        )
        self.add_argument(
            "--quick", action="store_true", help=f"1 repeat of {quick_steps} steps: a sanity check."
        )
        self.add_argument(
            "--skip-torch", action="store_true", help="Leave out (d) (else a missing torch fails)."
        )
        self.add_argument("--output", default=f"runs/bench/{script}.json", help="JSON results.")

    def repeats_and_steps(
        self, args: argparse.Namespace, num_steps: int, steps_flag: str = "--steps"
    ) -> tuple[int, int]:
        """`(repeats, steps per measurement)`: 1 and `quick_steps` with --quick, else --repeats
        and `num_steps` (what the script's `steps_flag` asks for).

        Raises:
          SystemExit: (`parser.error`) either is below 1.
        """
        repeats = 1 if args.quick else args.repeats
        num_steps = self.quick_steps if args.quick else num_steps
        if repeats < 1 or num_steps < 1:
            steps_value = getattr(args, steps_flag.removeprefix("--").replace("-", "_"))
            self.error(
                f"--repeats and {steps_flag} must be >= 1, got {args.repeats} and {steps_value}."
            )
        return repeats, num_steps


def share_the_gpu_with_torch() -> None:
    """TensorFlow settings for the scripts whose (d) may run on the GPU.

    Turns on memory growth (TensorFlow would otherwise reserve the whole GPU and leave none to
    PyTorch), and silences TF's generic "retracing" warning, which several engine train
    functions of one Python function trip; `warn_if_retraced` checks each engine function itself.
    """
    tf.get_logger().setLevel("ERROR")
    for gpu in tf.config.list_physical_devices("GPU"):
        tf.config.experimental.set_memory_growth(gpu, True)


@dataclasses.dataclass(frozen=True)
class Session:
    """One run of a benchmark script: its settings and the machine's state when it started."""

    command: str  # "python benchmarks/<script>.py <arguments>", as recorded.
    repeats: int
    num_steps: int  # Steps per measurement.
    torch: Any  # The imported `torch` module, or None with --skip-torch.
    machine: dict[str, Any]  # `run_log.machine_description()`.
    load_before: float
    output: str  # The JSON file (--output).

    def finish(
        self,
        benchmark: str,
        measured: dict[str, Any],
        report: Callable[[dict[str, Any]], None],
    ) -> dict[str, Any]:
        """Builds the run's JSON, prints it with `report`, writes it to `output`; returns it.

        The JSON holds what every benchmark records (the load average after is read now), then
        `measured`.
        """
        results = {
            "benchmark": benchmark,
            "command": self.command,
            "machine": self.machine,
            "cpu_features": cpu_features(),
            "load_average": {"before": self.load_before, "after": load_average()},
            "repeats": self.repeats,
            "steps_per_measurement": self.num_steps,
            **measured,
        }
        report(results)
        write_results(results, self.output)
        return results


def start_session(
    script: str,
    argv: list[str] | None,
    args: argparse.Namespace,
    *,
    repeats: int,
    num_steps: int,
) -> Session:
    """Imports torch (unless --skip-torch), prints the machine and the plan, reads the load.

    Raises:
      SystemExit: torch is missing and --skip-torch was not given (`import_torch`).
    """
    torch = import_torch(args.skip_torch)
    machine = machine_description()
    accelerators = ", ".join(machine["accelerators"]) or "none"
    print(
        f"Machine: {machine['cpu']} ({machine['cpu_count']} CPUs; "
        f"{' '.join(cpu_features())}), accelerators: {accelerators}, "
        f"TF {machine['tensorflow']}, load average {load_average():.1f}"
    )
    print(f"{repeats} interleaved repeat(s) of {num_steps} steps per contender; median reported.")
    return Session(
        command=f"python benchmarks/{script}.py " + " ".join(argv or sys.argv[1:]),
        repeats=repeats,
        num_steps=num_steps,
        torch=torch,
        machine=machine,
        load_before=load_average(),
        output=args.output,
    )


# --- Data -----------------------------------------------------------------------------------


def random_images_and_labels(
    num_examples: int, image_shape: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images `(num_examples, *image_shape)` in 0..255 and uint8 labels `(num_examples,)`
    in 0..9, drawn from `SEED`: data of a book dataset's shapes, so no dataset files are needed.
    """
    rng = np.random.default_rng(SEED)
    images = rng.integers(0, 256, size=(num_examples, *image_shape), dtype=np.uint8)
    labels = rng.integers(0, 10, size=(num_examples,), dtype=np.uint8)
    return images, labels


def random_mnist(num_examples: int, view: str) -> pipeline.ClassificationData:
    """MNIST-shaped random data (`random_images_and_labels`), wired as
    `mnist.classification_data(view=view)` wires the real files: uint8 images
    `(num_examples, 28, 28)` in memory, `mnist.preprocess_images_fn(view)` per batch (`/255`,
    then flat `(batch, 784)` or `(batch, 28, 28, 1)`), int32 labels."""
    images, labels = random_images_and_labels(num_examples, (28, 28))
    return pipeline.ClassificationData(
        name="random_mnist",
        splits={"train": (images, labels)},
        preprocess_inputs=mnist.preprocess_images_fn(view),
        preprocess_targets=mnist.preprocess_labels_fn(one_hot=False),
        serving_spec=mnist.SERVING_SPEC,
    )


def random_flat_mnist(num_examples: int) -> dict[str, Any]:
    """The dense nets' data: raw uint8 for our pipeline, float32 for `fit` and PyTorch.

    Returns:
      `classification_data`, `random_mnist(num_examples, "flat")`; the same pixels as
      `images_float32 (num_examples, 784)` in [0, 1], and the labels as
      `labels_int64 (num_examples,)`.
    """
    classification_data = random_mnist(num_examples, "flat")
    images, labels = classification_data.splits["train"]
    return {
        "classification_data": classification_data,
        "images_float32": images.reshape(num_examples, -1).astype(np.float32) / 255.0,
        "labels_int64": labels.astype(np.int64),
    }


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


# --- Keras fit and PyTorch ------------------------------------------------------------------


def check_fit_loss(history: keras.callbacks.History) -> None:
    """Raises RuntimeError when the last epoch of a `fit` ended with a non-finite loss."""
    if not np.isfinite(history.history["loss"][-1]):
        raise RuntimeError("Keras fit produced a non-finite loss.")


def make_array_fit_runner(
    model: keras.Model, inputs: np.ndarray, targets: np.ndarray, batch_size: int
) -> Runner:
    """(b)/(c) on in-memory arrays: `model.fit(inputs, targets)` of an already compiled model.

    Each call trains exactly `num_steps` batches of `batch_size`: one fit epoch is at most one
    pass over the `len(inputs)` examples, so more steps are whole extra epochs and `num_steps`
    must be <= or a multiple of `len(inputs) // batch_size`.
    """
    steps_per_epoch = len(inputs) // batch_size

    def run(num_steps: int) -> float:
        steps_per_fit_epoch = min(num_steps, steps_per_epoch)
        if num_steps % steps_per_fit_epoch:
            raise ValueError(
                f"num_steps must be <= or a multiple of {steps_per_epoch}, got {num_steps}."
            )
        num_examples = steps_per_fit_epoch * batch_size
        x, y = inputs[:num_examples], targets[:num_examples]
        start = time.perf_counter()
        history = model.fit(
            x, y, batch_size=batch_size, epochs=num_steps // steps_per_fit_epoch, verbose=0
        )
        seconds = time.perf_counter() - start
        check_fit_loss(history)
        return seconds

    return run


def setup_torch(torch, *, allow_gpu: bool = True):
    """Sets up `torch` (the imported module) as every (d) runs; returns the device to train on.

    As many intra-op threads as TensorFlow, the seed `SEED`; the device is the GPU when
    `allow_gpu` and both TensorFlow and PyTorch see one, else the CPU.
    """
    torch.set_num_threads(intra_op_threads())
    torch.manual_seed(SEED)
    use_gpu = (
        allow_gpu and bool(tf.config.list_physical_devices("GPU")) and torch.cuda.is_available()
    )
    return torch.device("cuda" if use_gpu else "cpu")


def make_torch_runner(
    model,
    optimizer,
    compute_loss: Callable[[Any, Any], Any],
    epoch_batches: Callable[[int], Iterable[tuple[Any, Any]]],
    steps_per_epoch: int,
) -> Runner:
    """(d): the eager PyTorch training loop of `model`, a `torch.nn.Module` (on its device).

    Per data epoch, `epoch_batches(num_batches)` shuffles (once) and yields `num_batches`
    `(inputs, targets)` on the model's device, at most `steps_per_epoch`; each pair is one
    step: `compute_loss(model(inputs), targets)` (a scalar), backward, `optimizer.step()`. The
    losses are summed on the device and read once at the end, the host sync (it waits for a
    GPU; eager CPU work is synchronous) that the TensorFlow runners end with too.
    """
    import torch

    device = next(model.parameters()).device

    def run(num_steps: int) -> float:
        model.train()
        start = time.perf_counter()
        done = 0
        loss_sum = torch.zeros((), device=device)
        while done < num_steps:
            for inputs, targets in epoch_batches(min(steps_per_epoch, num_steps - done)):
                loss = compute_loss(model(inputs), targets)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                loss_sum += loss.detach()
                done += 1
        final_loss = float(loss_sum)
        seconds = time.perf_counter() - start
        if not np.isfinite(final_loss):
            raise RuntimeError("PyTorch produced a non-finite loss.")
        return seconds

    return run


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


@dataclasses.dataclass(frozen=True)
class DenseStepFlops:
    """The FLOPs of one training step of a dense net (`dense_step_flops`); biases,
    activations, batch norm, the loss and the optimizer are not counted."""

    forward: int  # `2 * batch * sum(n_in * n_out)`: the forward matmuls over one batch.
    train_3x_forward: int  # The usual "3x forward" count (forward, input, weight gradients).
    gemms: list[Gemm]  # `dense_training_gemms`: the products autodiff really runs.
    exact: int  # Their FLOPs: 3x forward minus the first layer's forward.


def dense_step_flops(batch_size: int, layer_sizes: Sequence[int]) -> DenseStepFlops:
    """The FLOPs of one training step on `batch_size` examples of the dense net `layer_sizes`."""
    forward = 2 * batch_size * sum(a * b for a, b in itertools.pairwise(layer_sizes))
    gemms = dense_training_gemms(batch_size, layer_sizes)
    return DenseStepFlops(forward, 3 * forward, gemms, sum(gemm.flops for gemm in gemms))


def traced_gemms(graph: tf.Graph) -> list[Gemm]:
    """The `Gemm` of every `MatMul` op of a traced graph, in graph order.

    With the graph of a training step's gradient, this is what autodiff really runs, which the
    tests compare with `dense_training_gemms`.
    """
    gemms = []
    for op in graph.get_operations():
        if op.type != "MatMul":
            continue
        transpose_a, transpose_b = op.get_attr("transpose_a"), op.get_attr("transpose_b")
        a_shape, b_shape = (tuple(tensor.shape) for tensor in op.inputs)
        rows, inner = a_shape[::-1] if transpose_a else a_shape
        columns = b_shape[0] if transpose_b else b_shape[1]
        gemms.append(Gemm(rows, inner, columns, transpose_a, transpose_b))
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
    tracing_counts: dict[str, Callable[[], int]] | None = None,
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
      tracing_counts: engine runner name -> its tracing count (`make_engine_runner`); any
        engine traced more than once by the end is named in a warning (`warn_if_retraced`).

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
    warn_if_retraced(tracing_counts or {})
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


# --- Results --------------------------------------------------------------------------------


def roofline_results(samples: dict[str, list[float]], probes: Iterable[str]) -> dict[str, Any]:
    """Probe name -> the median of its samples, and "samples" -> probe name -> the samples."""
    probes = list(probes)
    roofline: dict[str, Any] = {name: statistics.median(samples[name]) for name in probes}
    roofline["samples"] = {name: samples[name] for name in probes}
    return roofline


def choose_ours(contenders: dict[str, dict[str, Any]], candidates: Iterable[str], rate: str) -> str:
    """The fastest of `candidates` (engine variants) by the median `rate` of their rows.

    Adds to every row of `contenders` its "ours_ratio": ours' rate over the row's.
    """
    ours = max(candidates, key=lambda name: contenders[name][rate])
    for row in contenders.values():
        row["ours_ratio"] = contenders[ours][rate] / row[rate]
    return ours


def matched_pairs(
    contenders: dict[str, dict[str, Any]], pairs: Iterable[tuple[str, str]], rate: str
) -> list[str]:
    """`"first / second: 1.23x"`, the ratio of their median `rate`s, for each like-for-like pair
    (so "ours" is not only the best of several variants). Pairs with a contender that did not
    run (no (d) with --skip-torch) are left out."""
    return [
        f"{first} / {second}: {contenders[first][rate] / contenders[second][rate]:.2f}x"
        for first, second in pairs
        if first in contenders and second in contenders
    ]


def speed_target(
    samples: dict[str, list[float]],
    contenders: dict[str, dict[str, Any]],
    ours: str,
    other: str,
    factor: float = 1.0,
) -> str:
    """The verdict line "ours not slower than <other>" (or "ours >= <factor>x <other>"):
    `not_slower` on the per-repeat samples, then the ratio of the medians."""
    claim = f"ours not slower than {other}" if factor == 1.0 else f"ours >= {factor}x {other}"
    verdict = not_slower(samples[ours], samples[other], factor=factor)
    return f"{claim}: {verdict} ({contenders[other]['ours_ratio']:.2f}x)"


def print_pairs_and_targets(results: dict[str, Any], heading: str = "Like-for-like:") -> None:
    """The end of every table: the like-for-like ratios, then the verdicts."""
    print(heading)
    for line in results["matched_pairs"]:
        print(f"  {line}")
    for line in results["targets"].values():
        print(line)


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
