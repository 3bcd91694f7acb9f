"""In-memory example arrays -> tf.data pipelines with exact, epoch-keyed shuffling.

Small datasets (MNIST, CIFAR-10) are parsed once into NumPy arrays and kept in memory (the
"cache" step). Each epoch's order is a stateless permutation of the example indices keyed by
`(seed, epoch)`: a true shuffle of the whole split, reshuffled every epoch, reproducible, and
independent of how many epochs ran before. That is what lets an interrupted run resume with
exactly the batches an uninterrupted run would have seen.

Batches are gathered as whole index vectors (one `tf.gather` per batch), so there is no
per-example work, Python or otherwise, in the hot path.
"""

import dataclasses
from collections.abc import Callable

import numpy as np
import tensorflow as tf

Preprocess = Callable[[tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]]
Augment = Callable[[tf.Tensor, tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]]
"""`(inputs_batch, targets_batch, key) -> (inputs_batch, targets_batch)`; `key` is an int64
`(2,)` stateless-random seed, different for every batch of every epoch."""


def epoch_permutation(num_examples: int, seed: int, epoch: int | tf.Tensor) -> tf.Tensor:
    """A permutation of `range(num_examples)` that depends only on `(seed, epoch)`.

    Returns:
      An int32 tensor of shape `(num_examples,)`.
    """
    key = tf.stack([tf.constant(seed, tf.int64), tf.cast(epoch, tf.int64)])
    return tf.random.experimental.stateless_shuffle(tf.range(num_examples, dtype=tf.int32), key)


def batch_key(seed: int, epoch: int | tf.Tensor, batch: tf.Tensor) -> tf.Tensor:
    """The stateless-random key of training batch `batch` of `epoch`: int64 `(2,)`."""
    key = tf.stack([tf.constant(seed, tf.int64), tf.cast(epoch, tf.int64)])
    return tf.random.experimental.stateless_fold_in(key, tf.cast(batch, tf.int64))


_NO_LAST_EPOCH = 2**62  # Epoch streams end only when the loop stops reading.


def epoch_stream(
    epoch_batches: Callable[[tf.Tensor], tf.data.Dataset], steps_per_epoch: int
) -> Callable[[int], tf.data.Dataset]:
    """`start_step -> the batches of steps start_step, start_step + 1, ...` over epochs.

    Args:
      epoch_batches: `epoch -> that epoch's batches` (a scalar int64 tensor in, exactly
        `steps_per_epoch` batches out), a pure function of the epoch and fixed seeds.
      steps_per_epoch: batches per epoch.

    The epochs follow each other inside tf.data (`flat_map`), so one iterator serves the whole
    run; a resumed run starts in the middle of an epoch by skipping the batches already seen.
    """
    if steps_per_epoch <= 0:
        raise ValueError(f"steps_per_epoch must be positive, got {steps_per_epoch}.")

    def batches(start_step: int) -> tf.data.Dataset:
        start_epoch, offset = divmod(int(start_step), steps_per_epoch)
        epochs = tf.data.Dataset.range(start_epoch, _NO_LAST_EPOCH)
        return epochs.flat_map(epoch_batches).skip(offset)

    return batches


def batched(
    inputs: np.ndarray | tf.Tensor,
    targets: np.ndarray | tf.Tensor,
    *,
    batch_size: int,
    training: bool,
    preprocess: Preprocess,
    augment: Augment | None = None,
    seed: int = 0,
    epoch: int = 0,
) -> tf.data.Dataset:
    """One epoch of `(inputs, targets)` batches.

    Args:
      inputs: array of shape `(num_examples, ...)`, kept in memory as stored (e.g. uint8).
      targets: array of shape `(num_examples, ...)`.
      batch_size: examples per batch.
      training: True shuffles with `epoch_permutation(seed, epoch)` and drops the last partial
        batch (fixed shapes, no retracing); False keeps file order and every example.
      preprocess: `(inputs_batch, targets_batch) -> (inputs_batch, targets_batch)`, traced once.
      augment: replaces `preprocess` for training batches: random augmentation keyed by
        `batch_key(seed, epoch, batch index)`, so it is reproducible and resumes exactly.
      seed, epoch: key of the training order.

    Returns:
      A dataset of `(inputs, targets)` batches, prefetched.
    """
    num_examples = len(inputs)
    if len(targets) != num_examples:
        raise ValueError(f"{num_examples} inputs but {len(targets)} targets.")
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}.")
    inputs_tensor = tf.convert_to_tensor(inputs)  # No copy when already a tensor.
    targets_tensor = tf.convert_to_tensor(targets)
    if training:
        num_batches = num_examples // batch_size
        if num_batches == 0:
            raise ValueError(f"batch_size {batch_size} exceeds the {num_examples} examples.")
        order = epoch_permutation(num_examples, seed, epoch)[: num_batches * batch_size]
        indices = tf.data.Dataset.from_tensor_slices(
            (tf.range(num_batches), tf.reshape(order, (num_batches, batch_size)))
        )
    else:
        indices = tf.data.Dataset.range(num_examples).batch(batch_size)
        indices = indices.map(lambda batch_indices: (tf.constant(-1), batch_indices))

    def gather(batch, batch_indices):
        inputs_batch = tf.gather(inputs_tensor, batch_indices)
        targets_batch = tf.gather(targets_tensor, batch_indices)
        if training and augment is not None:
            return augment(inputs_batch, targets_batch, batch_key(seed, epoch, batch))
        return preprocess(inputs_batch, targets_batch)

    dataset = indices.map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.prefetch(tf.data.AUTOTUNE)


@dataclasses.dataclass(frozen=True)
class ClassificationData:
    """An in-memory classification dataset with the book's splits, ready for the engine.

    Attributes:
      name: dataset name, e.g. "mnist".
      splits: split name -> `(inputs, targets)` raw arrays (e.g. uint8 images, uint8 labels).
      preprocess_inputs: raw input batch -> model input batch (also traced into exports).
      preprocess_targets: raw target batch -> training target batch.
      augment_inputs: optional `(raw input batch, key) -> model input batch` used for
        training batches instead of `preprocess_inputs` (random crops, flips, ...).
      serving_spec: the raw client input of an exported model, e.g. uint8 `(None, 28, 28)`.
      files: `{file name: sha256}` of the files read (provenance for results.json).
    """

    name: str
    splits: dict[str, tuple[np.ndarray, np.ndarray]]
    preprocess_inputs: Callable[[tf.Tensor], tf.Tensor]
    preprocess_targets: Callable[[tf.Tensor], tf.Tensor]
    serving_spec: tf.TensorSpec
    files: dict[str, str] = dataclasses.field(default_factory=dict)
    augment_inputs: Callable[[tf.Tensor, tf.Tensor], tf.Tensor] | None = None

    def __post_init__(self):
        # Copy each split into a tensor once, not once per epoch.
        tensors = {
            split: (tf.convert_to_tensor(inputs), tf.convert_to_tensor(targets))
            for split, (inputs, targets) in self.splits.items()
        }
        object.__setattr__(self, "_tensors", tensors)

    def num_examples(self, split: str) -> int:
        return len(self.splits[split][0])

    def dataset(
        self, split: str, *, batch_size: int, training: bool, seed: int = 0, epoch: int = 0
    ) -> tf.data.Dataset:
        """One epoch of preprocessed `(inputs, targets)` batches of `split` (see `batched`)."""
        inputs, targets = self._tensors[split]
        augment = None
        if self.augment_inputs is not None:
            augment = lambda x, y, key: (  # noqa: E731
                self.augment_inputs(x, key),
                self.preprocess_targets(y),
            )
        return batched(
            inputs,
            targets,
            batch_size=batch_size,
            training=training,
            preprocess=lambda x, y: (self.preprocess_inputs(x), self.preprocess_targets(y)),
            augment=augment,
            seed=seed,
            epoch=epoch,
        )

    def train_epochs(self, *, batch_size: int, seed: int) -> Callable[[int], tf.data.Dataset]:
        """`epoch -> that epoch's shuffled training batches`."""
        return lambda epoch: self.dataset(
            "train", batch_size=batch_size, training=True, seed=seed, epoch=epoch
        )

    def steps_per_epoch(self, batch_size: int) -> int:
        """Full training batches per epoch (the last partial batch is dropped)."""
        return self.num_examples("train") // batch_size

    def train_stream(self, *, batch_size: int, seed: int) -> Callable[[int], tf.data.Dataset]:
        """`start_step -> training batches from that step on` (what `loop.train` consumes)."""
        return epoch_stream(
            self.train_epochs(batch_size=batch_size, seed=seed), self.steps_per_epoch(batch_size)
        )
