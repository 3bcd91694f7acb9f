"""The autoencoder recipe: train without labels, log images, keep epoch snapshots, export codes.

    summary = reconstruction.train_autoencoder(config, context, model, optimizer, data,
                                               compute_loss=autoencoder.autoencoder_loss(),
                                               epochs=200, batch_size=100)

wires `epochs.train_epochs` (one validation pass per epoch, the book's console line
`Epoch: 0001 cost = ...  Validation Loss: ...`) with two `on_eval` hooks: TensorBoard images of
validation inputs and reconstructions (the book's `input_image` / `output_image`, line 2697),
and weight snapshots at chosen epochs (Fig. 6.9 is drawn from them). `autoencoder_endpoints`
builds the SavedModel signatures `encode` (uint8 images -> codes), `decode` (codes -> uint8
images) and `serving_default` (images -> reconstructions and codes).
"""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from fdl_tf2 import config as config_lib
from fdl_tf2.data import pipeline
from fdl_tf2.export import saved_model
from fdl_tf2.training import epochs as epoch_training
from fdl_tf2.training import runs, step
from fdl_tf2.training.run_log import RunLog

SNAPSHOT_DIR = "snapshots"


def book_epoch_line(report: Mapping[str, Any]) -> str:
    """The repository's `Epoch: 0001 cost = 0.xxxxxxxxx` and `Validation Loss:` lines, joined."""
    line = f"Epoch: {int(report['epoch']):04d} cost = {report['train']['cost']:.9f}"
    validation = report.get("validation")
    if validation is not None:
        line += f"  Validation Loss: {validation['cost']:.6f}"
    return line + f"  ({report['steps_per_sec']:,.0f} steps/s)"


class ImageSummaries:
    """`on_eval` hook: TensorBoard images of `images` and of their reconstructions.

    Args:
      images: `(n, 784)` float inputs in [0, 1] (e.g. the first validation images).
      corruption: the denoising corruption; when given the `input_image` shown is the
        corrupted input the encoder sees (the repository shows `c_x`).
    """

    def __init__(self, model: keras.Model, run_log: RunLog, images: np.ndarray, corruption=None):
        self.model, self.run_log, self.corruption = model, run_log, corruption
        self.images = tf.constant(images, tf.float32)

    def __call__(self, step: int, evaluation: Mapping[str, float]) -> None:
        inputs = self.images
        if self.corruption is not None:
            inputs = self.corruption(inputs, corrupt=True)
        outputs = self.model(inputs, training=False)
        for name, batch in (("input_image", inputs), ("output_image", outputs)):
            self.run_log.images(step, name, tf.reshape(batch, [-1, 28, 28, 1]), split="validation")


class EpochSnapshots:
    """`on_eval` hook: writes the model's weights at the end of each epoch in `epochs`.

    Snapshots go to `<directory>/epoch-<NNNN>` (a `tf.train.Checkpoint` of the model) and are
    kept apart from the run's rolling checkpoints, so Fig. 6.9's epochs 5 / 100 / 200 survive.
    """

    def __init__(
        self, model: keras.Model, directory: Path, epochs: Sequence[int], steps_per_epoch: int
    ):
        self.checkpoint = tf.train.Checkpoint(model=model)
        self.directory, self.steps_per_epoch = Path(directory), steps_per_epoch
        self.epochs = {int(epoch) for epoch in epochs}

    def __call__(self, step: int, evaluation: Mapping[str, float]) -> None:
        epoch, partial = divmod(step, self.steps_per_epoch)
        if not partial and epoch in self.epochs:
            self.checkpoint.write(str(self.directory / f"epoch-{epoch:04d}"))


def snapshot_epochs(directory: Path) -> list[int]:
    """The epochs that have a snapshot under `directory`, in order."""
    return sorted(int(path.stem.split("-")[1]) for path in Path(directory).glob("epoch-*.index"))


def reconstruct_from_snapshot(
    model: keras.Model, directory: Path, epoch: int, images
) -> np.ndarray:
    """Loads the epoch's snapshot into `model` and returns its reconstructions of `images`.

    `model` is overwritten: pass a fresh copy (e.g. a new `build_autoencoder`), not the
    trained one.
    """
    tf.train.Checkpoint(model=model).read(
        str(Path(directory) / f"epoch-{epoch:04d}")
    ).expect_partial()
    return keras.ops.convert_to_numpy(model(tf.constant(images, tf.float32), training=False))


def train_autoencoder(
    config: config_lib.EngineConfig,
    context: runs.RunContext,
    model: keras.Model,
    optimizer: keras.optimizers.Optimizer,
    data: pipeline.ClassificationData,
    *,
    compute_loss: step.ComputeLoss,
    epochs: int,
    batch_size: int,
    snapshot_at: Sequence[int] = (),
    corruption: keras.layers.Layer | None = None,
) -> dict[str, Any]:
    """Trains an autoencoder (`model.get_layer("encoder"/"decoder")`) on `data`'s images.

    Args:
      compute_loss: e.g. `models.autoencoder.autoencoder_loss(...)`.
      snapshot_at: epochs whose weights are kept for figures (`EpochSnapshots`), under
        `<workdir>/snapshots/`.
      corruption: the denoising layer used by `compute_loss`, checkpointed with the run so a
        resumed run draws the same masks.
      context: where this training logs and checkpoints: the run's, or a `runs.sub_run`.

    Returns:
      `epochs.train_epochs`' summary plus `snapshot_dir`.
    """
    run_log, workdir = context.run_log, context.workdir
    images, _ = data.splits["validation"]
    first_images = data.preprocess_inputs(tf.constant(images[:8]))
    hooks = [ImageSummaries(model, run_log, first_images, corruption)]
    snapshot_dir = workdir / SNAPSHOT_DIR
    if snapshot_at:
        steps_per_epoch = data.steps_per_epoch(batch_size)
        hooks.append(EpochSnapshots(model, snapshot_dir, snapshot_at, steps_per_epoch))
    trackables = {"corruption": corruption} if corruption is not None else {}
    summary = epoch_training.train_epochs(
        config,
        context,
        model,
        optimizer,
        data,
        compute_loss,
        epochs=epochs,
        batch_size=batch_size,
        console=book_epoch_line,
        on_eval=tuple(hooks),
        **trackables,
    )
    summary["snapshot_dir"] = str(snapshot_dir)
    return summary


def to_uint8_images(pixels: tf.Tensor, image_shape=(28, 28)) -> tf.Tensor:
    """`(batch, 784)` floats in [0, 1] -> `(batch, 28, 28)` uint8, rounded and clipped."""
    scaled = tf.round(tf.clip_by_value(tf.cast(pixels, tf.float32), 0.0, 1.0) * 255.0)
    return tf.reshape(tf.cast(scaled, tf.uint8), [-1, *image_shape])


def autoencoder_endpoints(
    model: keras.Model, data: pipeline.ClassificationData
) -> dict[str, saved_model.Endpoint]:
    """`encode`, `decode` and `serving_default` signatures over raw uint8 images.

    - `encode(images uint8 (batch, 28, 28))` -> `codes` float32 `(batch, n_code)`;
    - `decode(codes float32 (batch, n_code))` -> `images` uint8 `(batch, 28, 28)`;
    - `serving_default(images)` -> `reconstructions` uint8 and `codes`.
    """
    encoder, decoder = model.get_layer("encoder"), model.get_layer("decoder")
    n_code = encoder.output.shape[-1]
    image_shape = tuple(data.serving_spec.shape[1:])

    def encode(images):
        codes = encoder(data.preprocess_inputs(images), training=False)
        return {"codes": tf.cast(codes, tf.float32)}

    def decode(codes):
        pixels = decoder(tf.cast(codes, tf.float32), training=False)
        return {"images": to_uint8_images(pixels, image_shape)}

    def reconstruct(images):
        codes = encode(images)["codes"]
        return {"reconstructions": decode(codes)["images"], "codes": codes}

    image_spec = tf.TensorSpec(data.serving_spec.shape, data.serving_spec.dtype, name="images")
    code_spec = tf.TensorSpec((None, n_code), tf.float32, name="codes")
    return {
        "encode": (encode, [image_spec]),
        "decode": (decode, [code_spec]),
        saved_model.SIGNATURE_KEY: (reconstruct, [image_spec]),
    }
