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
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # For `benchmarks.common`.

from benchmarks import common  # noqa: E402
from benchmarks.common import Runner, pass_fail  # noqa: E402
from fdl_tf2.data import mnist, pipeline  # noqa: E402
from fdl_tf2.models import feedforward  # noqa: E402
from fdl_tf2.training.run_log import machine_description  # noqa: E402

NUM_EXAMPLES = 55_000
BATCH_SIZE = 100
STEPS_PER_EPOCH = NUM_EXAMPLES // BATCH_SIZE
LEARNING_RATE = 0.01
LAYER_SIZES = (784, 256, 256, 10)
QUICK_STEPS = 200
SEED = common.SEED

FORWARD_FLOPS = 2 * BATCH_SIZE * sum(a * b for a, b in itertools.pairwise(LAYER_SIZES))
"""Multiply-adds of the three matmuls of one forward pass over one batch, times 2."""
TRAIN_FLOPS_PER_STEP = 3 * FORWARD_FLOPS
"""Forward + input gradient + weight gradient: three matmuls of equal size per layer."""
EXACT_TRAIN_FLOPS_PER_STEP = TRAIN_FLOPS_PER_STEP - 2 * BATCH_SIZE * LAYER_SIZES[0] * LAYER_SIZES[1]
"""The matmuls autodiff really runs: no input gradient for the first layer (0.75x the above)."""

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

    Returns:
      `(runner, tracing_count)`, see `common.make_engine_runner`.
    """
    preprocess = mnist.preprocess_fn("flat")

    def epoch_dataset(epoch: int) -> tf.data.Dataset:
        return pipeline.batched(
            data["images_uint8"],
            data["labels_uint8"],
            batch_size=BATCH_SIZE,
            training=True,
            preprocess=preprocess,
            seed=SEED,
            epoch=epoch,
        )

    return common.make_engine_runner(
        feedforward.build_mlp(seed=SEED),
        keras.optimizers.SGD(LEARNING_RATE),
        epoch_dataset,
        steps_per_epoch=STEPS_PER_EPOCH,
        batch_size=BATCH_SIZE,
        steps_per_execution=steps_per_execution,
        jit=jit,
    )


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
    torch.set_num_threads(common.intra_op_threads())  # As many threads as TensorFlow.
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


# --- Report -------------------------------------------------------------------------------


def gflops(steps_per_sec: float) -> float:
    return steps_per_sec * TRAIN_FLOPS_PER_STEP / 1e9


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
        "peak_gflops": common.make_matmul_runner(2048, 2048, 2048, repetitions=4),
        "small_matmul_gflops": common.make_matmul_runner(100, 784, 256, repetitions=500),
    }

    # Warm-up (tracing, XLA compilation), then interleaved measurements.
    samples = common.measure_interleaved(runners, probes, num_steps=num_steps, repeats=repeats)
    common.warn_if_retraced(tracing_counts)

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
    common.write_results(results, args.output)
    return results


if __name__ == "__main__":
    main()
