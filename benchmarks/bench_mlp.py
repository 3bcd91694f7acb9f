"""Training throughput of the chapter-3 MLP: our engine against Keras `fit` and eager PyTorch.

Book section: chapter 3, the multilayer perceptron on MNIST (784 -> 256 -> 256 -> 10 ReLU,
SGD with learning rate 0.01, mini-batches of 100, softmax cross-entropy on the logits).

What it measures, in one process, on MNIST-shaped random data (no dataset files):

  (a)  `fdl_tf2.training.loop.make_train_function` fed by `fdl_tf2.data.pipeline.batched`,
       with `steps_per_execution` 100 and 550 (one epoch per call).
  (a2) the same with `jit_compile=True` (XLA train step).
  (b)  Keras `model.fit` with compile defaults.
  (c)  Keras `model.fit` with `steps_per_execution=100` and `jit_compile=True`.
  (d)  the same MLP in eager PyTorch, when `import torch` works.

How: every contender is warmed up once (tracing, XLA compilation) with an untimed run, then
the contenders are measured interleaved, `--repeats` times each, so a slow spell of a shared
machine hits all of them alike; the median is reported. Each measurement times exactly the
steps it counts (`--epochs-per-rep` epochs of 550 steps, or 200 steps with `--quick`),
including each epoch's data pipeline setup, and ends with a host sync.

Training FLOPs per step are counted as 3x the forward matmul FLOPs,
`3 * 2 * batch * (784*256 + 256*256 + 256*10)` (elementwise work ignored). The roofline is
the measured float32 matmul rate of `tf.linalg.matmul` at 2048x2048 ("peak") and at the MLP's
first-layer shape 100x784 @ 784x256 ("small-matmul peak"). "Ours" is the fastest (a) variant;
the targets are ours >= 2x (b) and ours >= 1.2x (c).

Usage:
  python benchmarks/bench_mlp.py [--repeats 5] [--epochs-per-rep 1] [--quick]
      [--output runs/bench/bench_mlp.json]
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from fdl_tf2.data import mnist, pipeline  # noqa: E402
from fdl_tf2.models import feedforward  # noqa: E402
from fdl_tf2.training import loop  # noqa: E402
from fdl_tf2.training.run_log import machine_description  # noqa: E402

NUM_EXAMPLES = 55_000
BATCH_SIZE = 100
STEPS_PER_EPOCH = NUM_EXAMPLES // BATCH_SIZE
LEARNING_RATE = 0.01
LAYER_SIZES = (784, 256, 256, 10)
QUICK_STEPS = 200
SEED = 0

FORWARD_FLOPS = 2 * BATCH_SIZE * sum(a * b for a, b in itertools.pairwise(LAYER_SIZES))
"""Multiply-adds of the three matmuls of one forward pass over one batch, times 2."""
TRAIN_FLOPS_PER_STEP = 3 * FORWARD_FLOPS
"""Forward + input gradient + weight gradient: three matmuls of equal size per layer."""
EXACT_TRAIN_FLOPS_PER_STEP = TRAIN_FLOPS_PER_STEP - 2 * BATCH_SIZE * LAYER_SIZES[0] * LAYER_SIZES[1]
"""The matmuls autodiff really runs: no input gradient for the first layer (0.75x the above)."""

Runner = Callable[[int], float]
"""`num_steps -> seconds` spent training exactly `num_steps` steps."""


# --- Data ---------------------------------------------------------------------------------


def make_data() -> dict[str, np.ndarray]:
    """MNIST-shaped random data: raw uint8 for our pipeline, float32 for fit and PyTorch.

    Returns:
      `images_uint8 (55000, 28, 28)`, `labels_uint8 (55000,)`, `images_float32 (55000, 784)`
      in [0, 1] (the same pixels) and `labels_int64 (55000,)`.
    """
    rng = np.random.default_rng(SEED)
    images = rng.integers(0, 256, size=(NUM_EXAMPLES, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=(NUM_EXAMPLES,), dtype=np.uint8)
    return {
        "images_uint8": images,
        "labels_uint8": labels,
        "images_float32": images.reshape(NUM_EXAMPLES, -1).astype(np.float32) / 255.0,
        "labels_int64": labels.astype(np.int64),
    }


# --- Contenders ---------------------------------------------------------------------------


def make_engine_runner(data: dict[str, np.ndarray], *, steps_per_execution: int, jit: bool):
    """(a)/(a2): `loop.make_train_function` on batches from `pipeline.batched`.

    Each epoch gets its own dataset (as `loop.train` does), so the per-epoch pipeline setup
    is part of the measured time.

    Returns:
      `(runner, tracing_count)`: the runner and a function returning how often the compiled
      multi-step function has been traced (1 expected; more means retracing per call).
    """
    model = feedforward.build_mlp(seed=SEED)
    optimizer = keras.optimizers.SGD(LEARNING_RATE)
    optimizer.build(model.trainable_variables)
    step_counter = tf.Variable(0, dtype=tf.int64)
    train_steps = loop.make_train_function(
        model,
        optimizer,
        loop.sparse_softmax_cross_entropy,
        loop.CLASSIFICATION_METRICS,
        strategy=tf.distribute.get_strategy(),
        global_batch_size=BATCH_SIZE,
        step_counter=step_counter,
        jit_compile=jit,
        summary_writer=None,
    )
    preprocess = mnist.preprocess_fn("flat")
    next_epoch = [0]

    def run(num_steps: int) -> float:
        start = time.perf_counter()
        done = 0
        while done < num_steps:
            dataset = pipeline.batched(
                data["images_uint8"],
                data["labels_uint8"],
                batch_size=BATCH_SIZE,
                training=True,
                preprocess=preprocess,
                seed=SEED,
                epoch=next_epoch[0],
            )
            next_epoch[0] += 1
            iterator = iter(dataset)
            epoch_end = min(done + STEPS_PER_EPOCH, num_steps)
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


def make_fit_runner(data: dict[str, np.ndarray], **compile_options: Any) -> Runner:
    """(b)/(c): Keras `model.fit` on float32 arrays; `compile_options` go to `compile`."""
    model = feedforward.build_mlp(seed=SEED)
    model.compile(
        keras.optimizers.SGD(LEARNING_RATE),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        **compile_options,
    )

    def run(num_steps: int) -> float:
        # Pass exactly `num_steps` batches: one fit epoch is at most the 550 steps of the
        # data, so more steps are whole extra epochs.
        steps_per_fit_epoch = min(num_steps, STEPS_PER_EPOCH)
        if num_steps % steps_per_fit_epoch:
            raise ValueError(f"num_steps must be <= or a multiple of 550, got {num_steps}.")
        num_examples = steps_per_fit_epoch * BATCH_SIZE
        start = time.perf_counter()
        history = model.fit(
            data["images_float32"][:num_examples],
            data["labels_int64"][:num_examples],
            batch_size=BATCH_SIZE,
            epochs=num_steps // steps_per_fit_epoch,
            verbose=0,
        )
        seconds = time.perf_counter() - start
        if not np.isfinite(history.history["loss"][-1]):
            raise RuntimeError("Keras fit produced a non-finite loss.")
        return seconds

    return run


def make_torch_runner(data: dict[str, np.ndarray]) -> tuple[Runner, str] | None:
    """(d): the same MLP in eager PyTorch, or None when `import torch` fails.

    Returns:
      `(runner, torch version)`, or None.
    """
    try:
        import torch
        import torch.nn.functional as functional
    except ImportError:
        return None
    # TF's intra-op pool defaults to every logical CPU; give PyTorch the same.
    torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(SEED)
    layers: list[torch.nn.Module] = []
    for index, (fan_in, fan_out) in enumerate(itertools.pairwise(LAYER_SIZES)):
        layers.append(torch.nn.Linear(fan_in, fan_out))
        if index < len(LAYER_SIZES) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    images = torch.from_numpy(data["images_float32"])
    labels = torch.from_numpy(data["labels_int64"])
    generator = torch.Generator().manual_seed(SEED)

    def run(num_steps: int) -> float:
        start = time.perf_counter()
        done = 0
        loss_sum = torch.zeros(())
        while done < num_steps:
            # One shuffle per epoch, then contiguous slices: the cheapest fair pipeline.
            order = torch.randperm(NUM_EXAMPLES, generator=generator)
            epoch_images, epoch_labels = images[order], labels[order]
            for batch in range(min(STEPS_PER_EPOCH, num_steps - done)):
                batch_slice = slice(batch * BATCH_SIZE, (batch + 1) * BATCH_SIZE)
                logits = model(epoch_images[batch_slice])
                loss = functional.cross_entropy(logits, epoch_labels[batch_slice])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                loss_sum += loss.detach()
                done += 1
        final_loss = float(loss_sum)  # Eager CPU is synchronous; this mirrors the TF syncs.
        seconds = time.perf_counter() - start
        if not np.isfinite(final_loss):
            raise RuntimeError("PyTorch produced a non-finite loss.")
        return seconds

    return run, torch.__version__


# --- Roofline -----------------------------------------------------------------------------


def make_matmul_runner(rows: int, inner: int, columns: int, repetitions: int):
    """A `() -> GFLOP/s` probe of float32 `tf.linalg.matmul` `(rows, inner) @ (inner, columns)`.

    The matmuls run inside one `tf.function` loop, so eager dispatch overhead does not hide
    the small-matmul rate. Each iteration adds its product into an accumulator, which keeps
    every matmul live; the add is `rows * columns` flops, negligible against the matmul.
    """
    rng = np.random.default_rng(SEED)
    left = tf.constant(rng.random((rows, inner), dtype=np.float32))
    right = tf.constant(rng.random((inner, columns), dtype=np.float32))

    @tf.function
    def repeated_matmul(left, right):
        accumulator = tf.zeros((rows, columns))
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


# --- Report -------------------------------------------------------------------------------


def gflops(steps_per_sec: float) -> float:
    return steps_per_sec * TRAIN_FLOPS_PER_STEP / 1e9


def pass_fail(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def print_table(results: dict[str, Any]) -> None:
    roofline = results["roofline"]
    ours = results["ours"]
    ours_rate = results["contenders"][ours]["steps_per_sec"]
    print()
    print(
        f"{'contender':<40} {'steps/s':>9} {'GFLOP/s':>8} {'ours/x':>8} "
        f"{'% peak':>7} {'% small':>8}"
    )
    for name, row in results["contenders"].items():
        rate = row["steps_per_sec"]
        print(
            f"{name:<40} {rate:>9.0f} {row['gflops']:>8.1f} {ours_rate / rate:>7.2f}x "
            f"{100 * row['gflops'] / roofline['peak_gflops']:>6.1f}% "
            f"{100 * row['gflops'] / roofline['small_matmul_gflops']:>7.1f}%"
        )
    print(f"{'roofline: matmul 2048x2048 (peak)':<40} {'':>9} {roofline['peak_gflops']:>8.1f}")
    print(
        f"{'roofline: matmul 100x784 @ 784x256':<40} {'':>9} "
        f"{roofline['small_matmul_gflops']:>8.1f}"
    )
    print()
    print(f"ours = {ours} (the fastest engine variant)")
    exact_share = EXACT_TRAIN_FLOPS_PER_STEP / TRAIN_FLOPS_PER_STEP
    print(
        "GFLOP/s count 3x the forward matmuls; autodiff skips the first layer's input "
        f"gradient, so the work really done is {exact_share:.2f}x that."
    )
    if results["torch"] is None:
        print("torch not installed: skipped")
    print("Like-for-like (defaults vs defaults, XLA vs XLA):")
    for line in results["matched_pairs"]:
        print(f"  {line}")
    for line in results["targets"].values():
        print(line)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeats", type=int, default=5, help="Measurements per contender.")
    parser.add_argument(
        "--epochs-per-rep", type=int, default=1, help="Epochs of 550 steps per measurement."
    )
    parser.add_argument("--quick", action="store_true", help="1 repeat of 200 steps.")
    parser.add_argument("--output", default="runs/bench/bench_mlp.json", help="JSON results.")
    args = parser.parse_args(argv)
    repeats = 1 if args.quick else args.repeats
    num_steps = QUICK_STEPS if args.quick else args.epochs_per_rep * STEPS_PER_EPOCH
    if repeats < 1 or num_steps < 1:
        raise ValueError(
            f"--repeats and --epochs-per-rep must be >= 1, got {args.repeats} and "
            f"{args.epochs_per_rep}."
        )

    machine = machine_description()
    print(f"Machine: {machine['cpu']} ({machine['cpu_count']} CPUs), TF {machine['tensorflow']}")
    print(f"{repeats} interleaved repeat(s) of {num_steps} steps per contender; median reported.")
    data = make_data()
    runners: dict[str, Runner] = {}
    tracing_counts = {}
    for jit in (False, True):
        for steps_per_execution in (100, STEPS_PER_EPOCH):
            name = f"(a{'2' if jit else ''}) engine spe={steps_per_execution}" + (
                " xla" if jit else ""
            )
            runners[name], tracing_counts[name] = make_engine_runner(
                data, steps_per_execution=steps_per_execution, jit=jit
            )
    runners["(b) keras fit defaults"] = make_fit_runner(data)
    runners["(c) keras fit spe=100 xla"] = make_fit_runner(
        data, steps_per_execution=100, jit_compile=True
    )
    torch_runner = make_torch_runner(data)
    torch_version = None
    if torch_runner is not None:
        runners["(d) pytorch eager"], torch_version = torch_runner
    probes = {
        "peak_gflops": make_matmul_runner(2048, 2048, 2048, repetitions=4),
        "small_matmul_gflops": make_matmul_runner(100, 784, 256, repetitions=500),
    }

    # --- Warm-up: tracing and XLA compilation stay out of the timings. ---
    for name, run in runners.items():
        seconds = run(num_steps)
        print(f"warm-up {name}: {seconds:.2f} s")

    # --- Interleaved measurements. ---
    samples: dict[str, list[float]] = {name: [] for name in (*runners, *probes)}
    for repeat in range(repeats):
        for name, measure in probes.items():
            samples[name].append(measure())
        for name, run in runners.items():
            samples[name].append(num_steps / run(num_steps))
        print(
            f"repeat {repeat + 1}/{repeats}: "
            + ", ".join(f"{name.split(')')[0]})={samples[name][-1]:.0f}" for name in runners)
        )
    retraced = {name: count() for name, count in tracing_counts.items() if count() != 1}
    if retraced:
        print(f"WARNING: engine train_steps traced more than once: {retraced}")

    contenders = {}
    for name in runners:
        rate = statistics.median(samples[name])
        contenders[name] = {
            "steps_per_sec": rate,
            "gflops": gflops(rate),
            "samples_steps_per_sec": samples[name],
        }
    roofline = {name: statistics.median(samples[name]) for name in probes}
    roofline["samples"] = {name: samples[name] for name in probes}
    ours = max(
        (name for name in contenders if name.startswith("(a")),
        key=lambda name: contenders[name]["steps_per_sec"],
    )
    ours_rate = contenders[ours]["steps_per_sec"]
    for row in contenders.values():
        row["ours_ratio"] = ours_rate / row["steps_per_sec"]
        row["fraction_of_peak"] = row["gflops"] / roofline["peak_gflops"]
        row["fraction_of_small_matmul_peak"] = row["gflops"] / roofline["small_matmul_gflops"]
    ratio_b = contenders["(b) keras fit defaults"]["ours_ratio"]
    ratio_c = contenders["(c) keras fit spe=100 xla"]["ours_ratio"]

    def matched(ours_name: str, other: str) -> str:
        ratio = contenders[ours_name]["steps_per_sec"] / contenders[other]["steps_per_sec"]
        return f"{ours_name} / {other}: {ratio:.2f}x"

    # Like-for-like pairs, so "ours" is not only the best of several variants.
    matched_pairs = [
        matched("(a) engine spe=100", "(b) keras fit defaults"),
        matched("(a2) engine spe=100 xla", "(c) keras fit spe=100 xla"),
    ]
    if "(d) pytorch eager" in contenders:
        matched_pairs.append(matched("(a) engine spe=100", "(d) pytorch eager"))
    results = {
        "benchmark": "chapter-3 MLP 784-256-256-10, SGD 0.01, batch 100",
        "machine": machine,
        "repeats": repeats,
        "steps_per_measurement": num_steps,
        "train_flops_per_step": TRAIN_FLOPS_PER_STEP,
        "exact_train_flops_per_step": EXACT_TRAIN_FLOPS_PER_STEP,
        "torch": torch_version,
        "roofline": roofline,
        "contenders": contenders,
        "ours": ours,
        "matched_pairs": matched_pairs,
        "targets": {
            "ours_vs_b": f"ours >= 2x (b): {pass_fail(ratio_b >= 2.0)} ({ratio_b:.2f}x)",
            "ours_vs_c": f"ours >= 1.2x (c): {pass_fail(ratio_c >= 1.2)} ({ratio_c:.2f}x)",
        },
    }
    print_table(results)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"Results written to {output}")
    return results


if __name__ == "__main__":
    main()
