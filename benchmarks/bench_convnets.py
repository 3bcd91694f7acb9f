"""Training throughput of the chapter-5 convnets: our engine against Keras `fit` and PyTorch.

Book section: chapter 5, "Full Architectural Description of Convolution Networks" (the MNIST
convnet: conv 5x5x32 -> pool -> conv 5x5x64 -> pool -> fc 1024 -> dropout 0.5 -> 10, Adam 1e-4,
mini-batches of 100) and "Batch Normalization" without BN (the CIFAR-10 convnet: conv 5x5x64
-> pool -> conv 5x5x64 -> pool -> fc 384 -> fc 192 -> 10, dropout 0.5, Adam 1e-3, mini-batches
of 128 distorted 24x24 crops). The models are `fdl_tf2.models.convnet`'s.

What it measures, per model, in one process, on random uint8 images (no dataset files), held
in a `pipeline.ClassificationData` wired as the experiments' loaders wire the real files:
MNIST `(55000, 28, 28)` with `mnist.preprocess_images_fn("image")`; CIFAR-10
`(50000, 32, 32, 3)` with the book's training distortions `image_augment.distort(batch, key,
cifar10.BOOK_AUGMENT)` (random crop, flip, brightness, contrast, standardisation), as
`cifar10.classification_data` does. So every TensorFlow measurement includes the input
pipeline.

  (a)  our engine as the ch05 experiments run it: `fdl_tf2.training.step.make_train_step` with
       `classifier.classification_loss`, fed by `ClassificationData.train_stream`, float32,
       100 steps per call.
  (a2) the same with `jit_compile=True` (XLA train step).
  (a3) the same as (a) under the `mixed_bfloat16` dtype policy
       (`fdl_tf2.training.precision.use_mixed_precision`).
  (b)  Keras `model.fit` with compile defaults, on the same tf.data pipeline: the epochs the
       engine's stream chains (`ClassificationData.train_epochs`, `dataset.take(steps)`).
  (c)  Keras `model.fit` with `steps_per_execution=100` and `jit_compile=True`, same data.
  (d)  the same network in eager PyTorch (`torch_equivalent`; a missing torch is an error,
       `--skip-torch` leaves it out): the same per-batch work in torch ops (gather of a
       shuffled uint8 batch, then /255 or the same distortions), on the GPU when both
       TensorFlow and PyTorch see one.

How: as `bench_mlp.py` (`benchmarks.common.measure_interleaved`): one untimed warm-up per
contender, then `--repeats` interleaved measurements of `--steps` steps each (a host sync
included); the median images/s is reported. "Ours" is the faster
float32 engine variant, (a) or (a2); (a3) trains in reduced precision and is reported beside.

FLOPs (`forward_flops`), per image, from the layer shapes: a Conv2D with a `k_h x k_w` kernel,
`C_in` input and `C_out` output channels on an `H_out x W_out` output costs
`2 * H_out * W_out * C_out * k_h * k_w * C_in`, a Dense `n_in -> n_out` costs
`2 * n_in * n_out` (multiply-adds x 2; biases, ReLU, pooling, dropout, the loss and the
augmentation are ignored). MNIST: `2 * (28*28*32*25*1 + 14*14*64*25*32 + 3136*1024 + 1024*10)`
= 27,767,808; CIFAR-10: `2 * (24*24*64*75 + 12*12*64*25*64 + 2304*384 + 384*192 + 192*10)`
= 36,941,568. Training counts 3x forward (forward, input gradient, weight gradient); autodiff
skips the first convolution's input gradient, so the work really done is 3x forward minus the
first layer's forward. Roofline: the measured `tf.linalg.matmul` rate at 2048x2048 in float32
(and in bfloat16, for (a3)).

Usage:
  python benchmarks/bench_convnets.py [--models mnist,cifar] [--repeats 3] [--steps 100]
      [--quick] [--skip-torch] [--output runs/bench/bench_convnets.json]
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import dataclasses  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # For `benchmarks.common`.

from benchmarks import common  # noqa: E402
from benchmarks.common import Runner  # noqa: E402
from fdl_tf2.data import cifar10, image_augment, pipeline  # noqa: E402
from fdl_tf2.models import convnet  # noqa: E402
from fdl_tf2.training import precision  # noqa: E402

SEED = common.SEED
STEPS_PER_EXECUTION = 100
DEFAULT_STEPS = 100
DEFAULT_REPEATS = 3
QUICK_STEPS = 3
EMULATED_BF16_STEPS = 5
"""Steps per (a3) measurement where bfloat16 is emulated (no avx512_bf16 / amx_bf16, no GPU):
there TensorFlow's bfloat16 convolutions run about 16x slower than float32 (5 s per CIFAR step
on the 2-core AVX2 CPU), and full-length measurements would take half an hour."""


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """One benchmarked network and its book training settings."""

    description: str
    build: Callable[[], keras.Model]
    raw_image_shape: tuple[int, ...]  # Stored uint8 image, before preprocessing.
    num_examples: int  # Size of the random training set (the book's training split).
    batch_size: int
    learning_rate: float  # Adam.

    @property
    def steps_per_epoch(self) -> int:
        return self.num_examples // self.batch_size


MODELS = {
    "mnist": ModelSpec(
        description="MNIST convnet conv5x5x32-pool-conv5x5x64-pool-fc1024-dropout-10",
        build=lambda: convnet.build_mnist_convnet(seed=SEED),
        raw_image_shape=(28, 28),
        num_examples=55_000,
        batch_size=100,
        learning_rate=1e-4,
    ),
    "cifar": ModelSpec(
        description="CIFAR-10 convnet conv5x5x64-pool-conv5x5x64-pool-fc384-fc192-10, no BN",
        build=lambda: convnet.build_cifar_convnet(batch_norm="none", dropout_rate=0.5, seed=SEED),
        raw_image_shape=(32, 32, 3),
        num_examples=50_000,
        batch_size=128,
        learning_rate=1e-3,
    ),
}

ENGINE_FP32 = "(a) engine fp32 spe=100"
ENGINE_XLA = "(a2) engine fp32 spe=100 xla"
ENGINE_BF16 = "(a3) engine mixed_bfloat16 spe=100"
FIT_DEFAULTS = "(b) keras fit defaults"
FIT_XLA = "(c) keras fit spe=100 xla"
TORCH = "(d) pytorch eager"
PIPELINE = "(p) input pipeline alone"


# --- FLOPs ----------------------------------------------------------------------------------


def forward_flops(model: keras.Model) -> dict[str, int]:
    """Forward FLOPs per image of every Conv2D and Dense layer, in layer order (see the module
    docstring for the formulas).

    Raises:
      ValueError: a layer with weights that is neither a Conv2D nor a Dense (e.g. batch norm),
        or a grouped convolution.
    """
    flops = {}
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            if layer.groups != 1:
                raise ValueError(f"{layer.name}: grouped convolutions are not counted.")
            kernel_h, kernel_w, channels_in, channels_out = layer.kernel.shape
            _, height, width, _ = layer.output.shape
            flops[layer.name] = (
                2 * height * width * channels_out * kernel_h * kernel_w * channels_in
            )
        elif isinstance(layer, keras.layers.Dense):
            units_in, units_out = layer.kernel.shape
            flops[layer.name] = 2 * units_in * units_out
        elif layer.weights:
            raise ValueError(f"{layer.name}: FLOPs of {type(layer).__name__} are not counted.")
    return flops


def train_flops_per_image(flops: dict[str, int]) -> tuple[int, int]:
    """`(3 x forward, the work autodiff really does)`: no input gradient of the first layer."""
    total = sum(flops.values())
    return 3 * total, 3 * total - next(iter(flops.values()))


# --- Data -----------------------------------------------------------------------------------


def make_data(name: str, spec: ModelSpec) -> pipeline.ClassificationData:
    """Random uint8 images `(N, *raw_image_shape)` and labels `(N,)` as the experiments' data.

    Wired as `mnist.classification_data(view="image")` and `cifar10.classification_data()`
    wire the real files: MNIST training batches are `(batch, 28, 28, 1)` in [0, 1]; CIFAR-10
    training batches are the book's distorted, standardised `(batch, 24, 24, 3)` crops
    (`image_augment.distort` with `cifar10.BOOK_AUGMENT`). `ClassificationData` turns the
    arrays into tensors once, so no epoch copies them again.
    """
    if name == "mnist":
        return common.random_mnist(spec.num_examples, "image")
    images, labels = common.random_images_and_labels(spec.num_examples, spec.raw_image_shape)
    options = cifar10.BOOK_AUGMENT
    return pipeline.ClassificationData(
        name="random_cifar10",
        splits={"train": (images, labels)},
        preprocess_inputs=lambda x: image_augment.center_crop_and_standardize(x, options.crop_size),
        preprocess_targets=lambda y: tf.cast(y, tf.int32),
        serving_spec=cifar10.SERVING_SPEC,
        augment_inputs=lambda x, key: image_augment.distort(x, key, options),
    )


def make_pipeline_runner(data: pipeline.ClassificationData, spec: ModelSpec) -> Runner:
    """The input pipeline alone: `num_steps` training batches pulled through the stream."""
    # Steps (orders and augmentation keys) no contender reads.
    batches = data.train_stream(batch_size=spec.batch_size, seed=SEED + 1)(0)
    iterator = iter(batches.prefetch(tf.data.AUTOTUNE))

    def run(num_steps: int) -> float:
        start = time.perf_counter()
        for _ in range(num_steps):
            last, _ = next(iterator)
        _ = last.numpy()  # The last batch is complete.
        return time.perf_counter() - start

    return run


# --- TensorFlow contenders ------------------------------------------------------------------


def make_engine_runner(
    spec: ModelSpec, data: pipeline.ClassificationData, *, jit_compile: bool, policy: str
):
    """(a)/(a2)/(a3): `common.make_engine_runner` with Adam, under the dtype `policy`.

    Returns:
      `(runner, tracing_count)`.
    """
    optimizer = precision.use_mixed_precision(policy, keras.optimizers.Adam(spec.learning_rate))
    try:
        model = spec.build()
    finally:
        keras.config.set_dtype_policy("float32")  # The policy is process-global.
    return common.make_engine_runner(
        model,
        optimizer,
        data.train_stream(batch_size=spec.batch_size, seed=SEED),
        steps_per_call=STEPS_PER_EXECUTION,
        jit_compile=jit_compile,
    )


def make_fit_runner(spec: ModelSpec, data: pipeline.ClassificationData, **compile_options: Any):
    """(b)/(c): Keras `model.fit` on the engine's tf.data pipeline.

    One `fit(epochs=1)` call per data epoch, on `data.train_epochs(...)(epoch).take(steps)`
    (the epochs the engine's stream chains), so it trains exactly the steps counted; each
    epoch's dataset is built inside the timed region.

    Returns:
      `(runner, model)`; `model.jit_compile` says whether fit used XLA.
    """
    model = spec.build()
    model.compile(
        keras.optimizers.Adam(spec.learning_rate),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        **compile_options,
    )
    epochs = data.train_epochs(batch_size=spec.batch_size, seed=SEED)
    next_epoch = [0]

    def run(num_steps: int) -> float:
        start = time.perf_counter()
        done = 0
        while done < num_steps:
            steps = min(spec.steps_per_epoch, num_steps - done)
            dataset = epochs(next_epoch[0]).take(steps)
            next_epoch[0] += 1
            # `shuffle` is ignored for datasets; False only silences Keras' warning.
            history = model.fit(dataset, epochs=1, shuffle=False, verbose=0)
            common.check_fit_loss(history)
            done += steps
        return time.perf_counter() - start

    return run, model


# --- PyTorch --------------------------------------------------------------------------------


def torch_equivalent(model: keras.Model):
    """The same network as a `torch.nn.Sequential` (NCHW), translated layer by layer.

    Conv2D 'same' (odd kernels) -> `Conv2d(padding=k // 2)`; MaxPooling2D 2/2 'same' ->
    `MaxPool2d(2, ceil_mode=True)` (a plain 2x2 pool on even sizes, as here); Flatten, Dense,
    ReLU and Dropout map one to one. PyTorch's default initialisation (speed does not depend on
    it). The flattened features are in channel-major order, a permutation of Keras' order.

    Raises:
      ImportError: no torch.
      ValueError: a layer this translation does not handle.
    """
    import torch

    layers = []
    for layer in model.layers:
        kind = type(layer).__name__
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, keras.layers.Conv2D):
            kernel_h, kernel_w, channels_in, channels_out = layer.kernel.shape
            if layer.padding != "same" or kernel_h % 2 == 0 or kernel_w % 2 == 0:
                raise ValueError(f"{layer.name}: only odd 'same' convolutions are translated.")
            if tuple(layer.strides) != (1, 1) or tuple(layer.dilation_rate) != (1, 1):
                raise ValueError(f"{layer.name}: only stride-1, undilated convolutions.")
            layers.append(
                torch.nn.Conv2d(
                    channels_in,
                    channels_out,
                    (kernel_h, kernel_w),
                    padding=(kernel_h // 2, kernel_w // 2),
                )
            )
        elif isinstance(layer, keras.layers.MaxPooling2D):
            if tuple(layer.pool_size) != (2, 2) or tuple(layer.strides) != (2, 2):
                raise ValueError(f"{layer.name}: only 2x2 pools of stride 2 are translated.")
            layers.append(torch.nn.MaxPool2d(2, ceil_mode=layer.padding == "same"))
        elif isinstance(layer, keras.layers.Flatten):
            layers.append(torch.nn.Flatten())
        elif isinstance(layer, keras.layers.Dense):
            layers.append(torch.nn.Linear(*layer.kernel.shape))
            if layer.activation is not keras.activations.linear:
                raise ValueError(f"{layer.name}: Dense layers with an activation.")
        elif (
            isinstance(layer, keras.layers.Activation)
            and layer.activation is keras.activations.relu
        ):
            layers.append(torch.nn.ReLU())
        elif isinstance(layer, keras.layers.Dropout):
            layers.append(torch.nn.Dropout(layer.rate))
        else:
            raise ValueError(f"{layer.name}: {kind} has no PyTorch translation here.")
    return torch.nn.Sequential(*layers)


def torch_distort(images, offsets, flip, brightness, contrast):
    """The distortions of `image_augment.distort` in torch ops, given the random draws.

    Args:
      images: uint8 `(batch, height, width, 3)` torch tensor.
      offsets: int64 `(batch, 2)` top-left corners of the crops.
      flip: bool `(batch,)`, True flips the crop left-right.
      brightness: `(batch,)` added to every pixel (0..255 scale).
      contrast: `(batch,)` factors around each channel's mean.

    Returns:
      float32 `(batch, 3, crop, crop)` (NCHW), each image standardised as
      `tf.image.per_image_standardization` does; `crop = cifar10.BOOK_AUGMENT.crop_size`.
    """
    import torch

    crop = cifar10.BOOK_AUGMENT.crop_size
    batch = images.shape[0]
    positions = torch.arange(crop)
    rows = offsets[:, :1] + positions  # (batch, crop)
    cols = offsets[:, 1:] + positions
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    every = torch.arange(batch)[:, None, None]
    x = images[every, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2).float()
    x = x + brightness[:, None, None, None]
    channel_mean = x.mean(dim=(2, 3), keepdim=True)
    x = (x - channel_mean) * contrast[:, None, None, None] + channel_mean
    # (x - mean) / max(std, 1 / sqrt(N)) over each whole image.
    flat = x.reshape(batch, -1)
    mean = flat.mean(dim=1)
    std = flat.std(dim=1, correction=0).clamp_min(flat.shape[1] ** -0.5)
    return (x - mean[:, None, None, None]) / std[:, None, None, None]


def torch_preprocess(name: str):
    """`(uint8 batch, generator) -> float32 NCHW batch`: the TF pipeline's per-batch work.

    MNIST: `/ 255` and a channel axis. CIFAR-10: `torch_distort` with draws from the
    distributions of `cifar10.BOOK_AUGMENT` (its crop, flip, brightness and contrast only).
    """
    import torch

    if name == "mnist":
        return lambda images, generator: images.float().div_(255.0).unsqueeze(1)
    options = cifar10.BOOK_AUGMENT
    low, high = options.contrast_range
    delta = options.brightness_max_delta

    def distort(images, generator):
        batch, height, width, _ = images.shape
        limits = torch.tensor([height - options.crop_size + 1, width - options.crop_size + 1])
        offsets = (torch.rand(batch, 2, generator=generator) * limits).long()
        flip = torch.rand(batch, generator=generator) < 0.5
        brightness = torch.rand(batch, generator=generator) * (2 * delta) - delta
        contrast = torch.rand(batch, generator=generator) * (high - low) + low
        return torch_distort(images, offsets, flip, brightness, contrast)

    return distort


def make_torch_runner(torch, name: str, spec: ModelSpec, data: pipeline.ClassificationData):
    """(d): the network in eager PyTorch (`torch` is the imported module).

    One shuffle per epoch; each step gathers a uint8 batch, preprocesses (MNIST) or distorts
    (CIFAR-10) it on the host as tf.data does, and trains on the device.

    Returns:
      `(runner, {"version": ..., "device": ...})`.
    """
    import torch.nn.functional as functional

    device = common.setup_torch(torch)
    model = torch_equivalent(spec.build()).to(device)
    # Keras' Adam epsilon, so both optimizers do the same arithmetic.
    optimizer = torch.optim.Adam(model.parameters(), lr=spec.learning_rate, eps=1e-7)
    raw_images, raw_labels = data.splits["train"]
    images = torch.from_numpy(raw_images)
    labels = torch.from_numpy(raw_labels.astype(np.int64))
    preprocess = torch_preprocess(name)
    generator = torch.Generator().manual_seed(SEED)
    batch_size = spec.batch_size

    def epoch_batches(num_batches: int):
        """One shuffle, then per step the float32 NCHW batch and its int64 labels on `device`."""
        order = torch.randperm(spec.num_examples, generator=generator)
        for batch in range(num_batches):
            indices = order[batch * batch_size : (batch + 1) * batch_size]
            inputs = preprocess(images[indices], generator).to(device, non_blocking=True)
            yield inputs, labels[indices].to(device, non_blocking=True)

    runner = common.make_torch_runner(
        model, optimizer, functional.cross_entropy, epoch_batches, spec.steps_per_epoch
    )
    return runner, {"version": torch.__version__, "device": str(device)}


# --- One model ------------------------------------------------------------------------------


def bench_model(name: str, *, num_steps: int, repeats: int, torch=None) -> dict[str, Any]:
    """Builds every contender for model `name`, measures them and returns its results.

    Args:
      torch: the imported `torch` module, or None to leave out (d).
    """
    spec = MODELS[name]
    flops = forward_flops(spec.build())
    train_flops, exact_train_flops = train_flops_per_image(flops)
    print()
    print(f"=== {spec.description}, batch {spec.batch_size}, Adam {spec.learning_rate:g} ===")
    data = make_data(name, spec)
    runners: dict[str, Runner] = {}
    tracing_counts = {}
    for label, jit, policy in (
        (ENGINE_FP32, False, "float32"),
        (ENGINE_XLA, True, "float32"),
        (ENGINE_BF16, False, "mixed_bfloat16"),
    ):
        runners[label], tracing_counts[label] = make_engine_runner(
            spec, data, jit_compile=jit, policy=policy
        )
    runners[FIT_DEFAULTS], fit_defaults_model = make_fit_runner(spec, data)
    runners[FIT_XLA], _ = make_fit_runner(
        spec, data, steps_per_execution=STEPS_PER_EXECUTION, jit_compile=True
    )
    torch_info = None
    if torch is not None:
        runners[TORCH], torch_info = make_torch_runner(torch, name, spec, data)
    probes = {
        "peak_gflops": common.make_matmul_runner(2048, 2048, 2048, repetitions=4),
        "peak_bf16_gflops": common.make_matmul_runner(
            2048, 2048, 2048, repetitions=4, dtype=tf.bfloat16
        ),
    }

    runners[PIPELINE] = make_pipeline_runner(data, spec)
    steps = {}
    if not common.has_native_bfloat16():
        steps[ENGINE_BF16] = min(num_steps, EMULATED_BF16_STEPS)
        print(
            f"No native bfloat16 on this machine (CPU: {' '.join(common.cpu_features())}): "
            f"(a3) is measured over {steps[ENGINE_BF16]} steps per repeat."
        )
    samples = common.measure_interleaved(
        runners,
        probes,
        num_steps=num_steps,
        repeats=repeats,
        items_per_step=spec.batch_size,
        steps=steps,
        tracing_counts=tracing_counts,
    )
    del runners[PIPELINE]  # Not a contender: the ceiling the input pipeline sets.
    pipeline_rate = statistics.median(samples[PIPELINE])

    roofline = common.roofline_results(samples, probes)
    contenders = {}
    for label in runners:
        rate = statistics.median(samples[label])
        peak = roofline["peak_bf16_gflops" if label == ENGINE_BF16 else "peak_gflops"]
        gflops = rate * train_flops / 1e9
        contenders[label] = {
            "images_per_sec": rate,
            "gflops": gflops,
            "fraction_of_peak": gflops / peak,
            "samples_images_per_sec": samples[label],
        }
    ours = common.choose_ours(contenders, (ENGINE_FP32, ENGINE_XLA), "images_per_sec")
    # Like-for-like pairs; the one with (d) drops out under --skip-torch.
    pairs = [
        (ENGINE_FP32, FIT_DEFAULTS),
        (ENGINE_XLA, FIT_XLA),
        (ENGINE_BF16, ENGINE_FP32),
        (ENGINE_FP32, TORCH),
    ]
    targets = {
        other: common.speed_target(samples, contenders, ours, other)
        for other in (FIT_DEFAULTS, FIT_XLA)
    }
    return {
        "description": spec.description,
        "batch_size": spec.batch_size,
        "learning_rate": spec.learning_rate,
        "num_examples": spec.num_examples,
        "forward_flops_per_image": flops,
        "train_flops_per_image": train_flops,
        "exact_train_flops_per_image": exact_train_flops,
        "fit_defaults_jit_compile": bool(fit_defaults_model.jit_compile),
        "native_bfloat16": common.has_native_bfloat16(),
        "steps_per_measurement": {label: steps.get(label, num_steps) for label in contenders},
        "torch": torch_info,
        "roofline": roofline,
        "input_pipeline_images_per_sec": pipeline_rate,
        "contenders": contenders,
        "ours": ours,
        "matched_pairs": common.matched_pairs(contenders, pairs, "images_per_sec"),
        "targets": targets,
    }


def print_table(results: dict[str, Any]) -> None:
    roofline = results["roofline"]
    train_mflops = results["train_flops_per_image"] / 1e6
    print()
    print(f"{results['description']}: {train_mflops:.1f} MFLOP per training image (3x forward)")
    print(f"{'contender':<40} {'images/s':>9} {'GFLOP/s':>8} {'ours/x':>8} {'% peak':>7}")
    for label, row in results["contenders"].items():
        print(
            f"{label:<40} {row['images_per_sec']:>9.1f} {row['gflops']:>8.1f} "
            f"{row['ours_ratio']:>7.2f}x {100 * row['fraction_of_peak']:>6.1f}%"
        )
    print(
        f"{'input pipeline alone (no model)':<40} {results['input_pipeline_images_per_sec']:>9.1f}"
    )
    print(f"{'roofline: matmul 2048^3 float32':<40} {'':>9} {roofline['peak_gflops']:>8.1f}")
    print(f"{'roofline: matmul 2048^3 bfloat16':<40} {'':>9} {roofline['peak_bf16_gflops']:>8.1f}")
    print()
    contenders = results["contenders"]
    print(f"ours = {results['ours']} (the faster float32 engine variant)")
    ratios = [f"ours/fit (b) {contenders[FIT_DEFAULTS]['ours_ratio']:.2f}x"]
    ratios.append(f"ours/fit (c) {contenders[FIT_XLA]['ours_ratio']:.2f}x")
    if TORCH in contenders:
        ratios.append(f"ours/torch {contenders[TORCH]['ours_ratio']:.2f}x")
    else:
        ratios.append("(d) left out (--skip-torch)")
    print(", ".join(ratios))
    exact_share = results["exact_train_flops_per_image"] / results["train_flops_per_image"]
    print(
        f"% peak: of the float32 matmul peak, (a3) of the bfloat16 one. Autodiff skips the first "
        f"layer's input gradient: the work really done is {exact_share:.2f}x the count."
    )
    print(f"(b) fit defaults resolved jit_compile={results['fit_defaults_jit_compile']}.")
    common.print_pairs_and_targets(results)


def print_tables(results: dict[str, Any]) -> None:
    """One `print_table` per model of the run's `results`."""
    for model_results in results["models"].values():
        print_table(model_results)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = common.ArgumentParser(
        __doc__, script="bench_convnets", default_repeats=DEFAULT_REPEATS, quick_steps=QUICK_STEPS
    )
    parser.add_argument("--models", default="mnist,cifar", help="Comma-separated: mnist, cifar.")
    parser.add_argument(
        "--steps", type=int, default=DEFAULT_STEPS, help="Training steps per measurement."
    )
    args = parser.parse_args(argv)
    models = [name.strip() for name in args.models.split(",") if name.strip()]
    unknown = sorted(set(models) - set(MODELS))
    if unknown or not models:
        parser.error(f"--models must name some of {sorted(MODELS)}, got {args.models!r}.")
    repeats, num_steps = parser.repeats_and_steps(args, args.steps)
    # Seven train functions of one Python function trip TF's generic "retracing" warning.
    common.share_the_gpu_with_torch()
    session = common.start_session(
        "bench_convnets", argv, args, repeats=repeats, num_steps=num_steps
    )

    per_model = {
        name: bench_model(name, num_steps=num_steps, repeats=repeats, torch=session.torch)
        for name in models
    }
    return session.finish(
        "chapter-5 convnets (MNIST, CIFAR-10 without BN), images/s",
        {"steps_per_execution": STEPS_PER_EXECUTION, "models": per_model},
        print_tables,
    )


if __name__ == "__main__":
    main()
