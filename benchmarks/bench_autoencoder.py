"""Training throughput of the chapter-6 autoencoder: our engine against Keras `fit` and PyTorch.

Book section: chapter 6, "Implementing an Autoencoder in TensorFlow" (the MNIST autoencoder
784-1000-500-250-2-250-500-1000-784, Dense + batch norm (decay 0.9, eps 1e-3) + sigmoid on
every layer, the L2 cost `mean_i ||x_hat_i - x_i||_2`, Adam 1e-3 with TF1's epsilon 1e-8,
mini-batches of 100). The model is `fdl_tf2.models.autoencoder.build_autoencoder(2)`
(2,831,858 trainable parameters), trained as `experiments/ch06_embeddings/autoencoder_mnist.py`
trains it.

What it measures, in one process, on MNIST-shaped random uint8 images (no dataset files):

  (a)  our engine as the experiment runs it: `fdl_tf2.training.step.make_train_step` with
       `autoencoder.autoencoder_loss()` (the labels of the stream are ignored), fed by
       `ClassificationData.train_stream` (uint8 images in memory, one gather and `/255` per
       batch, epochs chained inside tf.data), 100 steps per call.
  (a2) the same with `jit_compile=True` (XLA train step).
  (b)  Keras `model.fit(x, x)` on float32 arrays with compile defaults, the loss the same
       per-example L2 norm (`autoencoder.l2_per_example`, averaged over the batch by Keras).
  (c)  the same `fit` with `steps_per_execution=100` and `jit_compile=True`.
  (d)  the same autoencoder in eager PyTorch (`torch_equivalent`: Linear + BatchNorm1d(eps 1e-3,
       momentum 0.1, i.e. Keras' 0.9) + Sigmoid, starting from the Keras model's initial
       weights, so the same N(0, sqrt(1 / fan_in)) draw), `torch.optim.Adam(1e-3, eps=1e-8)`,
       the same loss; a missing torch is an error, `--skip-torch` leaves it out.

How: as `bench_mlp.py` (`benchmarks.common.measure_interleaved`): one untimed warm-up per
contender, then `--repeats` interleaved measurements of `--steps` steps each (a host sync
included); the median is reported, in steps/s and examples/s. "Ours" is the faster engine
variant, (a) or (a2). Goal: ours >= 1.3x (b) fit defaults.

FLOPs: one step runs 23 matrix products (`common.dense_training_gemms`): per layer the
forward `x @ W` and the weight gradient `x^T @ dy`, and for layers 2-8 the input gradient
`dy @ W^T`: 1534.6 MFLOP per step, 3x the forward's 563.8 MFLOP minus the first layer's
forward. Batch norm, sigmoids, the loss and Adam are not counted. The roofline is those 23
products run in a `tf.function` loop in the step's order (`common.make_dense_step_gemm_runner`);
"% GEMMs" is the share of a step's time its matrix products alone would take.

Usage:
  python benchmarks/bench_autoencoder.py [--repeats 5] [--steps 200] [--quick] [--skip-torch]
      [--output runs/bench/bench_autoencoder.json]
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import dataclasses  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # For `benchmarks.common`.

from benchmarks import common  # noqa: E402
from benchmarks.common import Runner  # noqa: E402
from fdl_tf2.models import autoencoder  # noqa: E402

SEED = common.SEED
N_CODE = 2
LAYER_SIZES = (784, *autoencoder.ENCODER_UNITS, N_CODE, *reversed(autoencoder.ENCODER_UNITS), 784)
NUM_EXAMPLES = 55_000
BATCH_SIZE = 100
STEPS_PER_EPOCH = NUM_EXAMPLES // BATCH_SIZE
LEARNING_RATE = 1e-3
ADAM_EPSILON = 1e-8  # TF1's default, as the experiment's Config.adam_epsilon.
STEPS_PER_EXECUTION = 100
DEFAULT_STEPS = 200
DEFAULT_REPEATS = 5
QUICK_STEPS = 20
FIT_DEFAULTS_TARGET = 1.3
"""The goal: ours at least 1.3x as fast as `fit` with compile defaults."""
ROOFLINE_REPETITIONS = 20

STEP_FLOPS = common.dense_step_flops(BATCH_SIZE, LAYER_SIZES)
"""One step: the 8 forward matmuls 563.8 MFLOP, the "3x forward" count 1691.4 M; the 23 matrix
products autodiff runs (no input gradient of layer 1) 1534.6 M."""

ENGINE = "(a) engine spe=100"
ENGINE_XLA = "(a2) engine spe=100 xla"
FIT_DEFAULTS = "(b) keras fit defaults"
FIT_TUNED = "(c) keras fit spe=100 xla"
TORCH = "(d) pytorch eager"


def build_model() -> keras.Model:
    """The book's MNIST autoencoder with a 2-D code, seeded (every contender starts alike)."""
    return autoencoder.build_autoencoder(N_CODE, seed=SEED)


def build_optimizer() -> keras.optimizers.Optimizer:
    return keras.optimizers.Adam(LEARNING_RATE, epsilon=ADAM_EPSILON)


FIT_LOSS = autoencoder.l2_per_example
"""The loss (b) and (c) compile with: `(x, x_hat) -> (batch,)` L2 norms, which Keras averages
over the batch (its default reduction, "sum_over_batch_size")."""


# --- TensorFlow contenders ------------------------------------------------------------------


def make_engine_runner(data: dict[str, Any], *, jit_compile: bool):
    """(a)/(a2): `step.make_train_step` with `autoencoder_loss()` on the training stream.

    Returns:
      `(runner, tracing_count)`, see `common.make_engine_runner`.
    """
    return common.make_engine_runner(
        build_model(),
        build_optimizer(),
        data["classification_data"].train_stream(batch_size=BATCH_SIZE, seed=SEED),
        steps_per_call=STEPS_PER_EXECUTION,
        jit_compile=jit_compile,
        compute_loss=autoencoder.autoencoder_loss(),
    )


def make_fit_runner(data: dict[str, Any], **compile_options: Any) -> tuple[Runner, keras.Model]:
    """(b)/(c): `model.fit(x, x)` on the float32 images `(num_examples, 784)`;
    `compile_options` go to `compile`. Exactly `num_steps` batches per call: <= or a multiple
    of one epoch's steps (`common.make_array_fit_runner`).

    Returns:
      `(runner, model)`; `model.jit_compile` says whether fit used XLA.
    """
    model = build_model()
    model.compile(build_optimizer(), FIT_LOSS, **compile_options)
    images = data["images_float32"]
    return common.make_array_fit_runner(model, images, images, BATCH_SIZE), model


# --- PyTorch --------------------------------------------------------------------------------


def keras_layers(model: keras.Model) -> Iterator[keras.layers.Layer]:
    """The layers of `model` in order, sub-models (encoder, decoder) expanded, inputs left out."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from keras_layers(layer)
        elif not isinstance(layer, keras.layers.InputLayer):
            yield layer


def torch_equivalent(model: keras.Model):
    """The Keras autoencoder as a `torch.nn.Sequential`, holding a copy of its weights.

    Dense `(n_in, n_out)` kernel -> `Linear(n_in, n_out)` (weight = kernel^T, same bias);
    `BatchNormalization(momentum=m, epsilon=e)` -> `BatchNorm1d(eps=e, momentum=1 - m)`
    (torch's momentum weighs the new batch, Keras' the old average) with gamma, beta and the
    moving statistics copied; sigmoid -> `Sigmoid`. In training mode both normalise with the
    batch's biased variance; torch's running variance takes the unbiased one (Keras' the
    biased), which changes only inference.

    Raises:
      ValueError: a layer with no translation here.
    """
    import torch

    def tensor(variable):
        return torch.from_numpy(np.array(keras.ops.convert_to_numpy(variable), np.float32))

    layers: list[torch.nn.Module] = []
    with torch.no_grad():
        for layer in keras_layers(model):
            kind = type(layer).__name__
            if isinstance(layer, keras.layers.Dense):
                if layer.activation is not keras.activations.linear or not layer.use_bias:
                    raise ValueError(f"{layer.name}: only linear Dense layers with a bias.")
                linear = torch.nn.Linear(*layer.kernel.shape)
                linear.weight.copy_(tensor(layer.kernel).T)
                linear.bias.copy_(tensor(layer.bias))
                layers.append(linear)
            elif isinstance(layer, keras.layers.BatchNormalization):
                if layer.axis not in (-1, 1) or not (layer.center and layer.scale):
                    raise ValueError(f"{layer.name}: only feature-axis BN with gamma and beta.")
                norm = torch.nn.BatchNorm1d(
                    layer.gamma.shape[0], eps=layer.epsilon, momentum=1.0 - layer.momentum
                )
                norm.weight.copy_(tensor(layer.gamma))
                norm.bias.copy_(tensor(layer.beta))
                norm.running_mean.copy_(tensor(layer.moving_mean))
                norm.running_var.copy_(tensor(layer.moving_variance))
                layers.append(norm)
            elif (
                isinstance(layer, keras.layers.Activation)
                and layer.activation is keras.activations.sigmoid
            ):
                layers.append(torch.nn.Sigmoid())
            else:
                raise ValueError(f"{layer.name}: {kind} has no PyTorch translation here.")
    return torch.nn.Sequential(*layers)


def torch_l2_loss(reconstructions, images):
    """The book's cost in torch ops: the batch mean of `||x_hat - x||_2`, inputs `(batch, 784)`."""
    return (reconstructions - images).square().sum(dim=1).sqrt().mean()


def make_torch_runner(torch, data: dict[str, Any]) -> tuple[Runner, dict[str, str]]:
    """(d): the autoencoder in eager PyTorch (`torch` is the imported module).

    One shuffle per epoch, then per step a gather of a float32 batch (on the device), a
    forward and backward pass and an Adam step. On the GPU when both TensorFlow and PyTorch
    see one.

    Returns:
      `(runner, {"version": ..., "device": ...})`.
    """
    device = common.setup_torch(torch)
    model = torch_equivalent(build_model()).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, eps=ADAM_EPSILON)
    images = torch.from_numpy(data["images_float32"]).to(device)
    num_examples = images.shape[0]
    generator = torch.Generator().manual_seed(SEED)

    def epoch_batches(num_batches: int):
        """One shuffle, then per step a gather of `(100, 784)` images on `device`, which are
        the inputs and the targets."""
        order = torch.randperm(num_examples, generator=generator).to(device)
        for batch in range(num_batches):
            inputs = images[order[batch * BATCH_SIZE : (batch + 1) * BATCH_SIZE]]
            yield inputs, inputs

    runner = common.make_torch_runner(
        model, optimizer, torch_l2_loss, epoch_batches, num_examples // BATCH_SIZE
    )
    return runner, {"version": torch.__version__, "device": str(device)}


# --- Report ---------------------------------------------------------------------------------


def print_table(results: dict[str, Any]) -> None:
    print()
    print(f"{results['benchmark']}: {STEP_FLOPS.exact / 1e6:.1f} MFLOP of matrix products per step")
    print(
        f"{'contender':<28} {'steps/s':>8} {'examples/s':>11} {'GFLOP/s':>8} {'ours/x':>7} "
        f"{'% GEMMs':>8}"
    )
    for name, row in results["contenders"].items():
        print(
            f"{name:<28} {row['steps_per_sec']:>8.1f} {row['examples_per_sec']:>11.0f} "
            f"{row['gflops']:>8.1f} {row['ours_ratio']:>6.2f}x "
            f"{100 * row['fraction_of_model_gemms']:>7.1f}%"
        )
    roofline = results["roofline"]["model_gemms_gflops"]
    label = "roofline: the step's 23 GEMMs"
    print(f"{label:<28} {'':>8} {'':>11} {roofline:>8.1f}")
    print()
    print(f"ours = {results['ours']} (the faster engine variant)")
    ratios = results["ratios"]
    line = (
        f"ours / fit defaults {ratios['ours_over_fit_defaults']:.2f}x, "
        f"ours / fit tuned {ratios['ours_over_fit_tuned']:.2f}x, "
    )
    if ratios["ours_over_torch"] is None:
        line += "(d) left out (--skip-torch)"
    else:
        line += f"ours / pytorch {ratios['ours_over_torch']:.2f}x"
    print(line)
    print(f"(b) fit defaults resolved jit_compile={results['fit_defaults_jit_compile']}.")
    print(f"Load average during the run: {results['load_average']}")
    common.print_pairs_and_targets(results)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = common.ArgumentParser(
        __doc__,
        script="bench_autoencoder",
        default_repeats=DEFAULT_REPEATS,
        quick_steps=QUICK_STEPS,
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=DEFAULT_STEPS,
        help=f"Training steps per measurement (<= or a multiple of {STEPS_PER_EPOCH}).",
    )
    args = parser.parse_args(argv)
    repeats, num_steps = parser.repeats_and_steps(args, args.steps)
    if num_steps > STEPS_PER_EPOCH and num_steps % STEPS_PER_EPOCH:
        parser.error(f"--steps must be <= or a multiple of {STEPS_PER_EPOCH}, got {num_steps}.")
    # Two train functions of one Python function trip TF's generic "retracing" warning.
    common.share_the_gpu_with_torch()
    session = common.start_session(
        "bench_autoencoder", argv, args, repeats=repeats, num_steps=num_steps
    )

    # Random MNIST-shaped images; the autoencoder loss ignores the labels.
    data = common.random_flat_mnist(NUM_EXAMPLES)
    runners: dict[str, Runner] = {}
    tracing_counts = {}
    for name, jit_compile in ((ENGINE, False), (ENGINE_XLA, True)):
        runners[name], tracing_counts[name] = make_engine_runner(data, jit_compile=jit_compile)
    runners[FIT_DEFAULTS], fit_defaults_model = make_fit_runner(data)
    runners[FIT_TUNED], _ = make_fit_runner(
        data, steps_per_execution=STEPS_PER_EXECUTION, jit_compile=True
    )
    torch_info = None
    if session.torch is not None:
        runners[TORCH], torch_info = make_torch_runner(session.torch, data)
    probes = {
        "model_gemms_gflops": common.make_dense_step_gemm_runner(
            BATCH_SIZE, LAYER_SIZES, repetitions=ROOFLINE_REPETITIONS
        )
    }

    # Warm-up (tracing, XLA compilation), then interleaved measurements.
    samples = common.measure_interleaved(
        runners, probes, num_steps=num_steps, repeats=repeats, tracing_counts=tracing_counts
    )

    roofline = common.roofline_results(samples, probes)
    contenders = {}
    for name in runners:
        rate = statistics.median(samples[name])
        gflops = rate * STEP_FLOPS.exact / 1e9
        contenders[name] = {
            "steps_per_sec": rate,
            "examples_per_sec": rate * BATCH_SIZE,
            "gflops": gflops,
            "fraction_of_model_gemms": gflops / roofline["model_gemms_gflops"],
            "samples_steps_per_sec": samples[name],
        }
    ours = common.choose_ours(contenders, (ENGINE, ENGINE_XLA), "steps_per_sec")
    # Like-for-like pairs; the one with (d) drops out under --skip-torch.
    pairs = [(ENGINE, FIT_DEFAULTS), (ENGINE_XLA, FIT_TUNED), (ENGINE, TORCH)]
    targets = {
        "ours_vs_b": common.speed_target(
            samples, contenders, ours, FIT_DEFAULTS, factor=FIT_DEFAULTS_TARGET
        ),
        "ours_vs_c": common.speed_target(samples, contenders, ours, FIT_TUNED),
    }
    return session.finish(
        "chapter-6 MNIST autoencoder 784-1000-500-250-2-250-500-1000-784, Adam 1e-3, batch 100",
        {
            "batch_size": BATCH_SIZE,
            "steps_per_execution": STEPS_PER_EXECUTION,
            "trainable_parameters": sum(
                int(np.prod(w.shape)) for w in build_model().trainable_weights
            ),
            "train_flops_per_step_3x_forward": STEP_FLOPS.train_3x_forward,
            "exact_train_flops_per_step": STEP_FLOPS.exact,
            "step_gemms": [dataclasses.asdict(gemm) for gemm in STEP_FLOPS.gemms],
            "fit_defaults_jit_compile": bool(fit_defaults_model.jit_compile),
            "torch": torch_info,
            "roofline": roofline,
            "contenders": contenders,
            "ours": ours,
            "ratios": {
                "ours_over_fit_defaults": contenders[FIT_DEFAULTS]["ours_ratio"],
                "ours_over_fit_tuned": contenders[FIT_TUNED]["ours_ratio"],
                "ours_over_torch": (
                    contenders[TORCH]["ours_ratio"] if TORCH in contenders else None
                ),
            },
            "matched_pairs": common.matched_pairs(contenders, pairs, "steps_per_sec"),
            "targets": targets,
        },
        print_table,
    )


if __name__ == "__main__":
    main()
