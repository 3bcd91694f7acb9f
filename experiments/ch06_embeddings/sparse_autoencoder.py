"""
Title: Sparse autoencoders (beyond the book): a KL penalty and k-sparse codes, against a dense code
Book: Chapter 6, "Sparsity in Autoencoders" (seed lines 2947-2985; described, no code)
Description: 784 -> num_hidden -> 784 autoencoders, dense, KL-penalised and top-k, on MNIST.
Expected result: none in the book; sparse codes give localised, stroke-like decoder features.

The book motivates sparsity (E_sparse = E + beta * penalty, line 2977; KL divergence to a low
target rate; k-sparse autoencoders, line 2983) without code, so this experiment is marked
beyond the book. Three one-hidden-layer autoencoders share the data, the L2 cost, the
optimizer and the seed:
- `dense`: sigmoid code, no penalty;
- `kl`: sigmoid code plus beta * sum_j KL(rho || mean activation of unit j);
- `top_k`: linear code of which only the k largest units of each example survive (Makhzani &
  Frey 2014).
It reports each one's test cost and how sparse its codes are, and draws the decoder features
(rows of the output kernel) side by side.
"""

import dataclasses

import keras
import numpy as np

from experiments.ch06_embeddings import autoencoder_mnist
from fdl_tf2 import config as config_lib
from fdl_tf2.models import autoencoder
from fdl_tf2.training import epochs as epoch_training
from fdl_tf2.training import precision, runs, step
from fdl_tf2.viz import reconstructions

EXPERIMENT_ID = "ch06.sparse_autoencoder"

FIGURES = ("decoder_features",)  # Checked by the smoke tests.
ACTIVE_THRESHOLD = 0.1  # A sigmoid code unit counts as active above this.


@dataclasses.dataclass(frozen=True)
class Config(config_lib.EngineConfig):
    """Beyond the book: there is no book preset, so `book` is the documented default."""

    num_hidden: int = 500  # Code units (over-complete codes are fine: sparsity limits them).
    sparsity_weight: float = 0.1  # beta of the KL penalty.
    sparsity_target: float = 0.05  # rho, the target mean activation of a unit.
    k: int = 25  # Units kept per example by the k-sparse autoencoder.
    learning_rate: float = 1e-3  # Adam, as the chapter's autoencoders.
    batch_size: int = 100
    epochs: int = 20
    kinds: tuple = autoencoder.SPARSITY_KINDS  # ("none", "kl", "top_k").
    dataset: str = "mnist"  # Or "synthetic" (no files; for tests).
    train_subset: int = 0  # Use only the first N training images; 0 means all 55,000.


CONFIGS = {
    "smoke": dict(epochs=1, dataset="synthetic", batch_size=50, num_hidden=64, k=8),
    "book": dict(),
    "cpu": dict(epochs=5),  # Minutes on 2 cores.
}


def code_sparsity(kind: str, codes: np.ndarray) -> float:
    """The fraction of active code units: non-zero for top-k, above 0.1 for sigmoid codes."""
    active = codes != 0 if kind == "top_k" else codes > ACTIVE_THRESHOLD
    return float(np.mean(active))


def main(config: Config) -> dict:
    """Trains the three autoencoders; returns their metrics (also results.json)."""
    data = autoencoder_mnist.load_data(config)
    context = runs.start_run(config, EXPERIMENT_ID)
    test_images, _ = autoencoder_mnist.images_of(data, "test")
    features, results = {}, {}
    try:
        for kind in config.kinds:
            with context.strategy.scope():
                model = autoencoder.build_sparse_autoencoder(
                    config.num_hidden, sparsity=kind, k=config.k, seed=config.seed
                )
            optimizer = precision.use_mixed_precision(
                config.mixed_precision, keras.optimizers.Adam(config.learning_rate, epsilon=1e-8)
            )
            weight = config.sparsity_weight if kind == "kl" else 0.0
            compute_loss = autoencoder.autoencoder_loss(
                sparsity_weight=weight, sparsity_target=config.sparsity_target
            )
            with runs.sub_run(context, kind, tensorboard=config.tensorboard) as kind_run:
                summary = epoch_training.train_epochs(
                    config,
                    kind_run,
                    model,
                    optimizer,
                    data,
                    compute_loss,
                    epochs=config.epochs,
                    batch_size=config.batch_size,
                )
            test = step.make_evaluate(model, autoencoder.autoencoder_loss())(
                data.dataset("test", batch_size=1000, training=False)
            )
            codes = keras.ops.convert_to_numpy(model.get_layer("encoder")(test_images))
            kernel = model.get_layer("decoder").get_layer("output").kernel
            features[kind] = keras.ops.convert_to_numpy(kernel)  # (num_hidden, 784)
            results[kind] = {
                "test_cost": test["cost"],
                "test_squared_error": test["squared_error"],
                "active_fraction": code_sparsity(kind, codes),
                "steps": summary["steps"],
                "train_seconds": summary["train_seconds"],
            }
            context.run_log.scalars(
                summary["steps"], "test", **{f"{kind}_{k}": v for k, v in results[kind].items()}
            )
            context.run_log.print(
                f"{kind}: test L2 {test['cost']:.4f}, "
                f"active code units {results[kind]['active_fraction']:.1%}"
            )
        reconstructions.plot_decoder_features(
            features, context.run_log.figure_path("decoder_features")
        )
        return runs.finish_run(context, config, {"models": results, "beyond_book": True})
    finally:
        runs.close_run(context)
        if config.mixed_precision != "float32":
            keras.config.set_dtype_policy("float32")


if __name__ == "__main__":
    import sys

    print(main(config_lib.from_argv(Config, CONFIGS, sys.argv[1:])))
