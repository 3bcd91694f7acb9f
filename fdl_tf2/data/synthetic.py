"""Synthetic stand-ins with the same array shapes and dtypes as the real readers' splits.

`mnist.load_arrays(..., dataset="synthetic")` and `cifar10.load_arrays(..., dataset=
"synthetic")` return these, so every loader built on them (`classification_data`) and every
experiment's "smoke" preset runs in seconds and without any dataset on disk. The tasks are
easy but not trivial: each class is a fixed random prototype plus per-example noise, so a
linear model learns them within an epoch.
"""

import numpy as np

SPLIT_SIZES = {"train": 2_000, "validation": 500, "test": 500}


def prototype_images(
    num_examples: int,
    image_shape: tuple[int, ...],
    num_classes: int,
    *,
    seed: int,
    noise: float = 48.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Class-prototype images with Gaussian noise.

    Returns:
      uint8 images of shape `(num_examples, *image_shape)` and uint8 labels `(num_examples,)`.
    """
    # The prototypes depend only on the shape and class count, so all splits share them.
    prototypes = np.random.default_rng(1234).uniform(0, 255, (num_classes, *image_shape))
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, num_classes, num_examples).astype(np.uint8)
    images = prototypes[labels] + rng.normal(0.0, noise, (num_examples, *image_shape))
    return np.clip(images, 0, 255).astype(np.uint8), labels


def mnist_arrays(split: str) -> tuple[np.ndarray, np.ndarray]:
    """MNIST-shaped split: uint8 `(N, 28, 28)` images and uint8 `(N,)` labels in 0..9."""
    seeds = {"train": 0, "validation": 1, "test": 2}
    return prototype_images(SPLIT_SIZES[split], (28, 28), 10, seed=seeds[split])


def cifar10_arrays(split: str) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10-shaped split: uint8 `(N, 32, 32, 3)` images and uint8 `(N,)` labels in 0..9.

    Splits are "train" (2,000 examples) and "test" (500), like `cifar10.SPLITS`.
    """
    seeds = {"train": 10, "test": 12}
    if split not in seeds:
        raise ValueError(f"Unknown CIFAR-10 split {split!r}; expected one of {tuple(seeds)}.")
    return prototype_images(SPLIT_SIZES[split], (32, 32, 3), 10, seed=seeds[split])
