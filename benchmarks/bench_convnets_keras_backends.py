"""Training throughput of the chapter-5 convnets through Keras 3 `fit` on any Keras backend.

For machines where TensorFlow is not installed (e.g. a GPU box with only JAX and PyTorch):
the same model definitions (`fdl_tf2.models.convnet`, which use `keras.ops` only) trained by
`model.fit` on the backend named by `KERAS_BACKEND`, in float32, mixed_float16 and
mixed_bfloat16, with and without `jit_compile` (JAX always compiles with XLA; on PyTorch
`jit_compile=True` means `torch.compile`). `benchmarks/bench_convnets.py` is the full benchmark
with our TensorFlow engine; this script only measures the models.

Data: random float32 inputs of the models' shapes (MNIST 28x28x1, batch 100; CIFAR-10 24x24x3
crops, batch 128) and random labels, held in host memory and fed by `fit` (so host-to-device
copies are included). Each configuration trains one untimed warm-up epoch (compilation), then
`--epochs` timed epochs of `--steps` steps; images/s is reported.

Usage:
  KERAS_BACKEND=jax python benchmarks/bench_convnets_keras_backends.py [--steps 200]
      [--output FILE.json]
"""

import argparse
import json
import os
import platform
import time

import keras
import numpy as np

from fdl_tf2.models import convnet

MODELS = {
    # name: (builder, input shape, batch size, Adam learning rate)
    "mnist_convnet": (lambda: convnet.build_mnist_convnet(), convnet.MNIST_INPUT_SHAPE, 100, 1e-4),
    "cifar_convnet": (lambda: convnet.build_cifar_convnet(), convnet.CIFAR_INPUT_SHAPE, 128, 1e-3),
    "cifar_convnet_bn": (
        lambda: convnet.build_cifar_convnet(batch_norm="keras", dropout_rate=0.0),
        convnet.CIFAR_INPUT_SHAPE,
        128,
        1e-2,
    ),
}
POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")


def measure(model_name: str, policy: str, jit: bool, steps: int, epochs: int) -> float:
    """Images per second of `fit` over `epochs` timed epochs of `steps` steps."""
    build, shape, batch, learning_rate = MODELS[model_name]
    keras.config.set_dtype_policy(policy)
    try:
        keras.utils.set_random_seed(0)
        model = build()
        optimizer = keras.optimizers.Adam(learning_rate)
        if policy == "mixed_float16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        model.compile(
            optimizer=optimizer,
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            jit_compile=jit,
        )
        rng = np.random.default_rng(0)
        images = rng.standard_normal((steps * batch, *shape), dtype=np.float32)
        labels = rng.integers(0, 10, steps * batch).astype(np.int32)
        model.fit(images, labels, batch_size=batch, epochs=1, verbose=0)  # Warm-up, compile.
        start = time.perf_counter()
        model.fit(images, labels, batch_size=batch, epochs=epochs, verbose=0)
        elapsed = time.perf_counter() - start
    finally:
        keras.config.set_dtype_policy("float32")
    return epochs * steps * batch / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--policies", default=",".join(POLICIES))
    parser.add_argument("--jit", default="both", choices=("both", "on", "off"))
    parser.add_argument("--output", default="")
    args = parser.parse_args()
    backend = keras.backend.backend()
    jit_options = {"both": (False, True), "on": (True,), "off": (False,)}[args.jit]
    if backend == "jax":
        jit_options = (True,)  # The JAX backend always compiles with XLA.
    results = []
    for model_name in args.models.split(","):
        for policy in args.policies.split(","):
            for jit in jit_options:
                try:
                    rate = measure(model_name, policy, jit, args.steps, args.epochs)
                    error = None
                except Exception as exception:  # Report and go on with the next one.
                    rate, error = None, f"{type(exception).__name__}: {exception}"[:300]
                row = dict(
                    backend=backend,
                    model=model_name,
                    policy=policy,
                    jit=jit,
                    images_per_sec=rate,
                    error=error,
                )
                results.append(row)
                print(json.dumps(row), flush=True)
    summary = {
        "backend": backend,
        "keras": keras.__version__,
        "machine": platform.node(),
        "device": os.environ.get("DEVICE_NAME", ""),
        "steps": args.steps,
        "epochs": args.epochs,
        "results": results,
    }
    if args.output:
        with open(args.output, "w") as handle:
            json.dump(summary, handle, indent=2)


if __name__ == "__main__":
    main()
