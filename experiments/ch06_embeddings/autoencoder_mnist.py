"""
Title: MNIST autoencoder, 784-1000-500-250-n_code-250-500-1000-784, against PCA
Book: Chapter 6, "Implementing an Autoencoder in TensorFlow" (seed lines 2559-2892)
Description: Dense + BN + sigmoid on every layer, the book's L2 cost, Adam 1e-3, batch 100.
Expected result: book validation L2 cost 4.78 after ~200 epochs (n_code 2, line 2767).

The book's `autoencoder_mnist.py N` (repo) becomes `--n_code=N`. Training logs the per-batch
cost and the per-epoch validation cost with images of inputs and reconstructions (Fig. 6.7),
keeps weight snapshots at epochs 5 / 100 / 200 for Fig. 6.9, and prints the test cost (the
book prints the loss *function* instead, errata 3). After training, the codes are compared with
PCA's: reconstructions with k = 2 and 30 (Fig. 6.10), the 2-D scatter with the book's markers
(Fig. 6.11; encoded with `training=False`, which fixes the book's `phase_train: True`, errata
4), a k-NN classifier on either code, and the mean distance of a "1" to every class
(Fig. 6.8). The export serves `encode` (uint8 images -> codes) and `decode` (codes -> images).
"""

import contextlib
import dataclasses
from datetime import datetime, timezone

import keras
import numpy as np

from fdl_tf2 import config as config_lib
from fdl_tf2.data import mnist
from fdl_tf2.export import saved_model
from fdl_tf2.models import autoencoder, pca
from fdl_tf2.training import epochs as epoch_training
from fdl_tf2.training import precision, reconstruction, runs, schedules, step
from fdl_tf2.viz import codes as code_figures
from fdl_tf2.viz import curves, reconstructions

EXPERIMENT_ID = "ch06.autoencoder_mnist"
PCA_LARGE_CODE = 30  # Fig. 6.10 compares PCA with 2 and 30 components.

FIGURES = (
    "cost_curves",
    "fig6_9_reconstructions_by_epoch",
    "fig6_10_pca_vs_autoencoder",
)  # Written to figures/ by every run (checked by the smoke tests).
SIGNATURES = ("encode", "decode", "serving_default")  # Of the export (reloaded by the smoke tests).


@dataclasses.dataclass(frozen=True)
class Config(config_lib.ExportConfig):
    """Defaults are the "book" preset (the repository's `autoencoder_mnist.py`)."""

    n_code: int = 2  # The positional argument of `autoencoder_mnist.py`; the book runs 2 and 30.
    hidden_units: tuple = autoencoder.ENCODER_UNITS  # Encoder widths, mirrored by the decoder.
    learning_rate: float = 1e-3  # Adam (line 2626; the repository's 0.01 is unused).
    adam_epsilon: float = 1e-8  # TF1's default (Keras': 1e-7).
    lr_schedule: str = "constant"  # Or "cosine": decay to 0 over the run.
    batch_size: int = 100
    epochs: int = 1000  # The repository's training_epochs; the book reports epoch ~200.
    snapshot_epochs: tuple = (5, 100, 200)  # Weights kept for Fig. 6.9.
    dataset: str = "mnist"  # Or "synthetic" (no files; for tests).
    train_subset: int = 0  # Use only the first N training images; 0 means all 55,000.
    knn_neighbours: int = 5  # k of the k-NN classifier on the 2-D codes.


CONFIGS = {
    # Seconds; used by tests (a narrow network: the smoke run checks wiring, not quality).
    "smoke": dict(
        epochs=2, dataset="synthetic", batch_size=50, hidden_units=(64, 32), snapshot_epochs=(1, 2)
    ),
    "book": dict(),
    # `make ch06`: real data in a few minutes (5 epochs of the 55,000 images); every figure.
    "quick": dict(
        epochs=5,
        learning_rate=2e-3,
        lr_schedule="cosine",
        jit_compile=True,
        snapshot_epochs=(1, 3, 5),
        export=False,
    ),
    # 2 CPU cores: the book's ~200 epochs with the step XLA-compiled (1.5x the plain step's 25
    # steps/s in `make bench`): under an hour. Adam from 2e-3 with a cosine decay.
    "cpu": dict(epochs=200, learning_rate=2e-3, lr_schedule="cosine", jit_compile=True),
}


def build_optimizer(config: Config, total_steps: int) -> keras.optimizers.Optimizer:
    rate = schedules.learning_rate(config.lr_schedule, config.learning_rate, total_steps)
    return keras.optimizers.Adam(rate, epsilon=config.adam_epsilon)


def load_data(config: Config):
    return mnist.classification_data(
        dataset=config.dataset,
        view="flat",
        num_train_examples=config.train_subset,
        data_dir=config.data_dir,
    )


def train_and_test(
    config: Config, context: runs.RunContext, data, *, corruption=None, name=""
) -> tuple[keras.Model, dict, dict]:
    """Builds, trains and tests one autoencoder of `config`; returns (model, summary, test).

    Args:
      corruption: a `CorruptInput` to train a denoising autoencoder (tested on clean images,
        as the repository does).
      name: a sub-run name: its logs and checkpoints go to `<workdir>/<name>/`.
    """
    total = config_lib.total_steps(config, config.epochs * data.steps_per_epoch(config.batch_size))
    optimizer = precision.use_mixed_precision(
        config.mixed_precision, build_optimizer(config, total)
    )
    with context.strategy.scope():
        model = autoencoder.build_autoencoder(
            config.n_code, hidden_units=tuple(config.hidden_units), seed=config.seed
        )
    with (
        runs.sub_run(context, name, tensorboard=config.tensorboard)
        if name
        else contextlib.nullcontext(context)
    ) as model_run:
        summary = reconstruction.train_autoencoder(
            config,
            model_run,
            model,
            optimizer,
            data,
            compute_loss=autoencoder.autoencoder_loss(corruption=corruption),
            epochs=config.epochs,
            batch_size=config.batch_size,
            snapshot_at=config.snapshot_epochs,
            corruption=corruption,
        )
        test = step.make_evaluate(model, autoencoder.autoencoder_loss())(
            data.dataset("test", batch_size=1000, training=False)
        )
        model_run.run_log.scalars(summary["steps"], "test", cost=test["cost"])
        model_run.run_log.print(f"Test Loss: {test['cost']:.6f}")
        model_run.run_log.flush()
    return model, summary, test


def images_of(data, split: str) -> tuple[np.ndarray, np.ndarray]:
    """`(images (n, 784) float32 in [0, 1], labels (n,))` of a split."""
    images, labels = data.splits[split]
    return keras.ops.convert_to_numpy(data.preprocess_inputs(images)), np.asarray(labels)


def compare_with_pca(
    config: Config, model: keras.Model, data, run_log, snapshot_dir: str
) -> dict[str, float]:
    """Figs. 6.9-6.11 and the k-NN code-quality check; returns their numbers."""
    train_images, train_labels = images_of(data, "train")
    test_images, test_labels = images_of(data, "test")
    encoder = model.get_layer("encoder")
    predict = lambda layer, x: keras.ops.convert_to_numpy(layer(x, training=False))  # noqa: E731
    test_reconstructions = predict(model, test_images)
    chosen = np.random.default_rng(config.seed).choice(len(test_images), 8, replace=False)
    rows = {}
    for epoch in reconstruction.snapshot_epochs(snapshot_dir):  # Fig. 6.9
        fresh = autoencoder.build_autoencoder(config.n_code, hidden_units=config.hidden_units)
        rows[f"epoch {epoch}"] = reconstruction.reconstruct_from_snapshot(
            fresh, snapshot_dir, epoch, test_images[chosen]
        )
    if rows:
        reconstructions.plot_reconstructions(
            test_images[chosen],
            rows,
            run_log.figure_path("fig6_9_reconstructions_by_epoch"),
            title="Fig. 6.9: test images and their reconstructions after training epochs",
        )
    pca_large = pca.PCA(max(PCA_LARGE_CODE, config.n_code)).fit(train_images)
    pca_2 = pca_large.truncate(2)
    rows = {  # Fig. 6.10
        "PCA, k = 2": pca_2.inverse_transform(pca_2.transform(test_images[chosen])),
        f"PCA, k = {pca_large.num_components}": pca_large.inverse_transform(
            pca_large.transform(test_images[chosen])
        ),
        f"autoencoder, k = {config.n_code}": test_reconstructions[chosen],
    }
    reconstructions.plot_reconstructions(
        test_images[chosen],
        rows,
        run_log.figure_path("fig6_10_pca_vs_autoencoder"),
        title="Fig. 6.10: PCA and autoencoder reconstructions of test images",
    )
    pca_code = pca_large.truncate(config.n_code)
    pca_test = pca_code.inverse_transform(pca_code.transform(test_images))
    results = {
        "pca_test_cost": float(np.mean(pca.l2_distance_per_image(test_images, pca_test))),
        "pca_test_squared_error": float(
            np.mean(pca.squared_error_per_image(test_images, pca_test))
        ),
    }
    if config.n_code == 2:  # Fig. 6.11 and the k-NN check on 2-D codes.
        codes = {
            "pca": (pca_2.transform(train_images), pca_2.transform(test_images)),
            "autoencoder": (predict(encoder, train_images), predict(encoder, test_images)),
        }
        code_figures.plot_pca_vs_autoencoder_codes(
            codes["pca"][1],
            codes["autoencoder"][1],
            test_labels,
            run_log.figure_path("fig6_11_codes"),
        )
        for name, (train_codes, test_codes) in codes.items():
            results[f"{name}_knn_accuracy"] = pca.knn_accuracy(
                train_codes, train_labels, test_codes, test_labels, k=config.knn_neighbours
            )
        run_log.print(
            f"{config.knn_neighbours}-NN accuracy on 2-D test codes: autoencoder "
            f"{results['autoencoder_knn_accuracy']:.4f}, PCA {results['pca_knn_accuracy']:.4f}"
        )
    return results


def main(config: Config) -> dict:
    """Trains, tests, compares with PCA and exports; returns the metrics (also results.json)."""
    data = load_data(config)
    context = runs.start_run(config, EXPERIMENT_ID)
    run_log = context.run_log
    try:
        model, summary, test = train_and_test(config, context, data)
        curves.plot_tensorboard_curves(
            context.workdir / "tensorboard",
            run_log.figure_path("cost_curves"),
            tags=("cost",),
            title=f"{EXPERIMENT_ID} n_code={config.n_code}",
            figure_name="Fig. 6.7",
        )
        results = {
            "test_cost": test["cost"],
            "test_squared_error": test["squared_error"],
            "validation_cost": summary.get("validation", {}).get("cost"),
            "validation_squared_error": summary.get("validation", {}).get("squared_error"),
            "train_cost": summary.get("train", {}).get("cost"),
            "epochs_completed": summary["epochs_completed"],
            "steps": summary["steps"],
            "train_seconds": summary["train_seconds"],
            "steps_per_sec": summary["steps_per_sec"],
            "parameters": sum(int(np.prod(w.shape)) for w in model.trainable_weights),
            **compare_with_pca(config, model, data, run_log, summary["snapshot_dir"]),
            "reference": {"book_validation_cost": 4.78, "hinton_2006_pretrained_squared": 3.00},
            "dataset": {"name": data.name, "files_sha256": data.files},
        }
        if config.export and context.chief:
            results["export"] = str(export(config, context, model, data, test))
        return runs.finish_run(context, config, results)
    finally:
        runs.close_run(context)  # Idempotent; also flushes what an interrupted run logged.
        if config.mixed_precision != "float32":
            keras.config.set_dtype_policy("float32")


def export(config: Config, context: runs.RunContext, model, data, test: dict, name=""):
    """Exports `encode` / `decode` / `serving_default` as mnist_<name>autoencoder_<n>d."""
    images = data.splits["test"][0][:8]
    codes = np.random.default_rng(0).uniform(0.0, 1.0, (8, config.n_code)).astype(np.float32)
    path = saved_model.export(
        f"mnist_{name}autoencoder_{config.n_code}d",
        endpoints=reconstruction.autoencoder_endpoints(model, data),
        samples={"encode": (images,), "decode": (codes,), saved_model.SIGNATURE_KEY: (images,)},
        track=[model],
        verify=config.verify_export,
        export_dir=epoch_training.export_dir(config, context, data.name),
        facts={
            "experiment": context.experiment_id,
            "dataset": data.name,
            "test_cost": round(test["cost"], 4),
            "exported": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        },
    )
    context.run_log.print(f"Exported and verified {path}")
    return path


if __name__ == "__main__":
    import sys

    print(main(config_lib.from_argv(Config, CONFIGS, sys.argv[1:])))
