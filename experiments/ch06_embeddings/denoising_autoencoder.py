"""
Title: Denoising MNIST autoencoder, against the plain one on half-masked images
Book: Chapter 6, "Denoising to Force Robust Representations" (seed lines 2894-2945)
Description: the chapter-6 autoencoder trained on inputs with half their pixels zeroed.
Expected result: on half-masked test images, a reconstruction error well below the plain
autoencoder's (acceptance: at least 20 % lower); the book gives no number.

The corruption is the book's keep-mask (line 2928): every pixel is kept or zeroed with
p = 0.5, with no 1 / (1 - p) rescaling, and the cost compares the reconstruction with the
*clean* image. As in the repository (`denoising_autoencoder_mnist.py`) the validation pass is
corrupted and the test pass is clean. The same run then trains the plain autoencoder with the
same settings and seed, and scores both on the same half-masked test images. It writes the
book's Figs. 6.12 (originals over their corrupted versions) and 6.14 (corrupted inputs and
their reconstructions, beside the plain autoencoder's), and exports the denoising model with
the same `encode` / `decode` signatures as the plain one.
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from experiments.ch06_embeddings import autoencoder_mnist
from fdl_tf2 import config as config_lib
from fdl_tf2.models import autoencoder, pca
from fdl_tf2.training import runs
from fdl_tf2.viz import reconstructions

EXPERIMENT_ID = "ch06.denoising_autoencoder"

FIGURES = ("fig6_12_corrupted", "fig6_14_denoised")  # Checked by the smoke tests.
SIGNATURES = ("encode", "decode", "serving_default")  # Of the export (reloaded by the smoke tests).


@dataclasses.dataclass(frozen=True)
class Config(autoencoder_mnist.Config):
    """The autoencoder's fields (defaults: the book preset) plus the corruption."""

    keep_probability: float = 0.5  # Each pixel survives with this probability (line 2929).
    compare_plain: bool = True  # Also train the plain autoencoder, and compare on masked images.
    snapshot_epochs: tuple = ()  # No Fig. 6.9 here.


CONFIGS = {
    **autoencoder_mnist.CONFIGS,
    # The endpoints are the plain autoencoder's, verified in a fresh process by its smoke run.
    "smoke": {**autoencoder_mnist.CONFIGS["smoke"], "snapshot_epochs": (), "verify_export": False},
    "quick": {**autoencoder_mnist.CONFIGS["quick"], "snapshot_epochs": ()},
    # Two models to train: 30 epochs each, Adam 2e-3 cosine, XLA (minutes each on 2 cores),
    # with 30-D codes: a 2-D code cannot carry what the mask hides (12.7 % lower with n = 2,
    # 52 % with n = 30; experiments/README.md).
    "cpu": {
        **autoencoder_mnist.CONFIGS["cpu"],
        "epochs": 30,
        "n_code": 30,
        "snapshot_epochs": (),
    },
}


def masked_error(model: keras.Model, clean: np.ndarray, masked: np.ndarray) -> dict[str, float]:
    """Mean L2 (the book's cost) and squared error of `model(masked)` against `clean`."""
    outputs = keras.ops.convert_to_numpy(model(masked, training=False))
    return {
        "cost": float(np.mean(pca.l2_distance_per_image(clean, outputs))),
        "squared_error": float(np.mean(pca.squared_error_per_image(clean, outputs))),
    }


def main(config: Config) -> dict:
    """Trains the denoising (and plain) autoencoder; returns the metrics (also results.json)."""
    data = autoencoder_mnist.load_data(config)
    context = runs.start_run(config, EXPERIMENT_ID)
    run_log = context.run_log
    try:
        corruption = autoencoder.CorruptInput(config.keep_probability, seed=config.seed)
        denoising, summary, test = autoencoder_mnist.train_and_test(
            config, context, data, corruption=corruption
        )
        clean, _ = autoencoder_mnist.images_of(data, "test")
        # One fixed set of masks, independent of the training stream, shared by both models.
        mask_layer = autoencoder.CorruptInput(config.keep_probability, seed=config.seed + 1)
        masked = keras.ops.convert_to_numpy(mask_layer(tf.constant(clean), corrupt=True))
        results = {
            "test_cost": test["cost"],
            "test_squared_error": test["squared_error"],
            "validation_cost_corrupted": summary.get("validation", {}).get("cost"),
            "masked_test": masked_error(denoising, clean, masked),
            "steps": summary["steps"],
            "train_seconds": summary["train_seconds"],
            "steps_per_sec": summary["steps_per_sec"],
        }
        shown = slice(0, 8)
        reconstructions.plot_denoising(
            clean[shown], masked[shown], run_log.figure_path("fig6_12_corrupted")
        )
        rows = {"corrupted": masked[shown], "denoising AE": masked_output(denoising, masked[shown])}
        if config.compare_plain:
            plain, plain_summary, plain_test = autoencoder_mnist.train_and_test(
                config, context, data, name="plain"
            )
            results["plain_test_cost"] = plain_test["cost"]
            results["plain_masked_test"] = masked_error(plain, clean, masked)
            results["plain_train_seconds"] = plain_summary["train_seconds"]
            ratio = results["masked_test"]["cost"] / results["plain_masked_test"]["cost"]
            results["masked_cost_ratio"] = ratio
            rows["plain AE"] = masked_output(plain, masked[shown])
            run_log.print(
                f"Half-masked test images: denoising L2 {results['masked_test']['cost']:.4f}, "
                f"plain {results['plain_masked_test']['cost']:.4f} ({1 - ratio:.1%} lower)"
            )
        reconstructions.plot_reconstructions(
            clean[shown],
            rows,
            run_log.figure_path("fig6_14_denoised"),
            title="Fig. 6.14: half-masked test images and their reconstructions",
        )
        if config.export and context.chief:
            path = autoencoder_mnist.export(config, context, denoising, data, test, "denoising_")
            results["export"] = str(path)
        return runs.finish_run(context, config, results)
    finally:
        runs.close_run(context)
        if config.mixed_precision != "float32":
            keras.config.set_dtype_policy("float32")


def masked_output(model: keras.Model, images: np.ndarray) -> np.ndarray:
    return keras.ops.convert_to_numpy(model(images, training=False))


if __name__ == "__main__":
    import sys

    print(main(config_lib.from_argv(Config, CONFIGS, sys.argv[1:])))
