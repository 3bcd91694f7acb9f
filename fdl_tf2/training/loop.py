"""The shared supervised training loop: many compiled steps per call, resumable, observable.

One `tf.function` call runs `steps_per_execution` optimizer steps in a graph-side loop, so
per-step Python overhead disappears; the step itself can be XLA-compiled (`jit_compile`).
Per-example losses are averaged over the *global* batch, so a `tf.distribute` strategy with
several replicas computes the same update as one device with the same global batch.

Resumption is exact: the checkpoint stores model, optimizer and the global step, and the
training data of epoch `e` is a pure function of `(seed, e)` (see `data.pipeline`), so a run
restarted from step `s` skips exactly `s mod steps_per_epoch` batches of the current epoch and
continues as if it had never stopped.
"""

import dataclasses
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from tensorboard.plugins.scalar import metadata as scalar_metadata

from fdl_tf2.training import distribute
from fdl_tf2.training.run_log import RunLog

LossFn = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]
"""`(targets, outputs) -> per-example loss of shape (batch,)`."""
MetricFn = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]
"""`(targets, outputs) -> per-example value of shape (batch,)`, averaged over examples."""


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN or infinite loss; the model holds the last good checkpoint."""


def sparse_softmax_cross_entropy(targets: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """Per-example cross-entropy of integer targets `(batch,)` and logits `(batch, classes)`."""
    return tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.cast(targets, tf.int32), logits=tf.cast(logits, tf.float32)
    )


def sparse_accuracy(targets: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """1.0 where `argmax(logits) == targets`, else 0.0; shape `(batch,)`."""
    predictions = tf.argmax(logits, axis=-1, output_type=tf.int32)
    return tf.cast(tf.equal(predictions, tf.cast(targets, tf.int32)), tf.float32)


CLASSIFICATION_METRICS: dict[str, MetricFn] = {"accuracy": sparse_accuracy}


@dataclasses.dataclass
class TrainOptions:
    """Engine settings (the `RunConfig` fields the loop reads)."""

    epochs: int
    steps_per_execution: int = 100
    jit_compile: bool = False
    log_every_steps: int = 10
    histogram_every: int = 1
    checkpoints_to_keep: int = 5
    early_stopping_patience: int = 0
    max_steps: int = 0

    @classmethod
    def from_config(cls, config: Any, epochs: int) -> "TrainOptions":
        names = {field.name for field in dataclasses.fields(cls)} - {"epochs"}
        return cls(epochs=epochs, **{name: getattr(config, name) for name in names})


def _write_scalar(tag: str, value: tf.Tensor) -> None:
    # `tf.summary.scalar` would prefix the tag with the graph's name scope ("while/cost")
    # inside the step loop; writing with the scalar plugin's metadata keeps the plain tag.
    metadata = scalar_metadata.create_summary_metadata(display_name=tag, description="")
    tf.summary.write(tag, tf.cast(value, tf.float32), metadata=metadata)


def make_train_function(
    model: keras.Model,
    optimizer: keras.optimizers.Optimizer,
    loss_fn: LossFn,
    metric_fns: Mapping[str, MetricFn],
    *,
    strategy: tf.distribute.Strategy,
    global_batch_size: int,
    step_counter: tf.Variable,
    jit_compile: bool = False,
    summary_writer: tf.summary.SummaryWriter | None = None,
    log_every_steps: int = 0,
) -> Callable[[Any, tf.Tensor], dict[str, tf.Tensor]]:
    """Returns `train_steps(iterator, num_steps) -> totals`, one compiled multi-step call.

    `totals` holds `loss_sum` and `<metric>_sum` (sums over steps of the per-step global-batch
    means), `steps` (steps run: fewer than `num_steps` when the iterator runs out) and `finite`
    (False when a step produced a non-finite loss; the call then stops right after that step).

    The optimizer must be built (`optimizer.build(model.trainable_variables)`, inside the
    strategy's scope) before the first call: variables cannot be created in the step loop.
    """

    def replica_step(inputs, targets):
        with tf.GradientTape() as tape:
            outputs = model(inputs, training=True)
            per_example = loss_fn(targets, outputs)
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch_size)
            if model.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
            scaled_loss = optimizer.scale_loss(loss)  # Identity unless LossScaleOptimizer.
        gradients = tape.gradient(scaled_loss, model.trainable_variables)
        optimizer.apply(gradients, model.trainable_variables)  # Unscales if needed.
        values = {
            name: tf.reduce_sum(metric(targets, outputs)) / global_batch_size
            for name, metric in metric_fns.items()
        }
        values["loss"] = loss
        return values

    if jit_compile:
        replica_step = tf.function(replica_step, jit_compile=True)

    def global_step(batch):
        per_replica = strategy.run(replica_step, args=batch)
        return {
            name: strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
            for name, value in per_replica.items()
        }

    @tf.function
    def train_steps(iterator, num_steps):
        totals = {name: tf.constant(0.0) for name in (*metric_fns, "loss")}
        steps = tf.constant(0)
        finite = tf.constant(True)
        for _ in tf.range(num_steps):
            # An exhausted iterator ends the call early instead of raising OutOfRangeError.
            batch = iterator.get_next_as_optional()
            if not batch.has_value():
                break
            values = global_step(batch.get_value())
            step_counter.assign_add(1)
            steps += 1
            totals = {name: totals[name] + values[name] for name in totals}
            if summary_writer is not None and log_every_steps > 0:
                with summary_writer.as_default(step=step_counter):
                    with tf.summary.record_if(step_counter % log_every_steps == 0):
                        _write_scalar("cost", values["loss"])
                        for name in metric_fns:
                            _write_scalar(name, values[name])
            finite = tf.math.is_finite(values["loss"])
            if not finite:
                break
        sums = {f"{name}_sum": value for name, value in totals.items()}
        return {**sums, "steps": steps, "finite": finite}

    return train_steps


def make_evaluate_function(
    model: keras.Model, loss_fn: LossFn, metric_fns: Mapping[str, MetricFn]
) -> Callable[[tf.data.Dataset], dict[str, float]]:
    """Returns `evaluate(dataset) -> {"loss": mean, <metric>: mean}` over every example."""

    @tf.function
    def sums(dataset):
        totals = {name: tf.constant(0.0) for name in (*metric_fns, "loss")}
        count = tf.constant(0.0)
        for inputs, targets in dataset:
            outputs = model(inputs, training=False)
            batch = {name: metric(targets, outputs) for name, metric in metric_fns.items()}
            batch["loss"] = loss_fn(targets, outputs)
            totals = {name: totals[name] + tf.reduce_sum(batch[name]) for name in totals}
            count += tf.cast(tf.shape(outputs)[0], tf.float32)
        return totals, count

    def evaluate(dataset: tf.data.Dataset) -> dict[str, float]:
        totals, count = sums(dataset)
        return {name: float(value) / float(count) for name, value in totals.items()}

    return evaluate


def _learning_rate(optimizer: keras.optimizers.Optimizer) -> float:
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def _has_schedule(optimizer: keras.optimizers.Optimizer) -> bool:
    """True when the learning rate is a schedule (its value then moves with the step)."""
    inner = getattr(optimizer, "inner_optimizer", optimizer)  # LossScaleOptimizer
    return isinstance(inner.get_config().get("learning_rate"), dict)


def _with_error(metrics: dict[str, float]) -> dict[str, float]:
    if "accuracy" in metrics:
        metrics = {**metrics, "error": 1.0 - metrics["accuracy"]}
    return metrics


class _EarlyStopping:
    """Counts epochs without a new best (lowest) validation cost; patience 0 never stops."""

    def __init__(self, patience: int):
        self.patience, self.best, self.waited = patience, math.inf, 0

    def should_stop(self, monitored: float) -> bool:
        if monitored < self.best:
            self.best, self.waited = monitored, 0
        else:
            self.waited += 1
        return bool(self.patience) and self.waited >= self.patience


def _report_epoch(
    run_log: RunLog,
    *,
    epoch: int,
    step: int,
    means: dict[str, float],
    validation: dict[str, float] | None,
    steps_per_sec: float,
    global_batch_size: int,
    learning_rate: float,
) -> dict[str, Any]:
    """Logs one epoch (TensorBoard, metrics.jsonl, the book's console line); returns it."""
    train = _with_error({"cost": means.pop("loss"), **means})
    run_log.scalars(
        step,
        "train",
        epoch=epoch,
        **train,
        learning_rate=learning_rate,
        steps_per_sec=steps_per_sec,
        examples_per_sec=steps_per_sec * global_batch_size,
    )
    line = f"Epoch: {epoch:04d} cost = {train['cost']:.9f}"
    report: dict[str, Any] = {"train": train}
    if validation is not None:
        report["validation"] = validation
        others = {name: value for name, value in validation.items() if name != "loss"}
        run_log.scalars(step, "validation", epoch=epoch, cost=validation["loss"], **others)
        if "error" in validation:
            line += f"  Validation Error: {validation['error']:.4f}"
        else:
            line += f"  validation cost = {validation['loss']:.6f}"
    run_log.print(line + f"  ({steps_per_sec:,.0f} steps/s)")
    return report


def train(
    model: keras.Model,
    optimizer: keras.optimizers.Optimizer,
    *,
    train_data: Callable[[int], tf.data.Dataset],
    steps_per_epoch: int,
    global_batch_size: int,
    validation_data: tf.data.Dataset | None,
    options: TrainOptions,
    run_log: RunLog,
    strategy: tf.distribute.Strategy | None = None,
    loss_fn: LossFn = sparse_softmax_cross_entropy,
    metric_fns: Mapping[str, MetricFn] = CLASSIFICATION_METRICS,
    checkpoint_dir: str | None = None,
) -> dict[str, Any]:
    """Trains `model`, resuming from the latest checkpoint in `checkpoint_dir`.

    Args:
      model, optimizer: created inside `strategy.scope()`.
      train_data: `epoch -> dataset` of `(inputs, targets)` global batches for that epoch,
        with `steps_per_epoch` batches of a fixed shape. `epoch` is a scalar int64 tensor
        (the epochs are chained with `Dataset.flat_map`), and the dataset must depend only
        on it and fixed seeds, so that a resumed run sees the same batches.
      steps_per_epoch: batches per epoch.
      global_batch_size: examples per step over all replicas.
      validation_data: evaluated after every epoch (the true validation split), or None.
      options: epochs, steps per call, XLA, logging and checkpoint settings.
      run_log: where scalars, histograms, the graph and the console line go.
      strategy: a `tf.distribute` strategy; None means the default (no distribution).
      loss_fn, metric_fns: per-example loss and metrics.
      checkpoint_dir: defaults to `<workdir>/checkpoints`.

    Returns:
      Summary: epochs and steps completed, wall time, throughput, last train and validation
      metrics, whether early stopping fired.

    Raises:
      NonFiniteLossError: a step produced a NaN/inf loss; the model is restored to the last
        checkpoint, which stays on disk.
      KeyboardInterrupt: after saving a checkpoint at the current step.
    """
    strategy = strategy or tf.distribute.get_strategy()
    distributed = distribute.is_distributed(strategy)
    step_counter = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
    with strategy.scope():
        optimizer.build(model.trainable_variables)
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, step=step_counter)
    manager = tf.train.CheckpointManager(
        checkpoint,
        checkpoint_dir or str(run_log.workdir / "checkpoints"),
        max_to_keep=options.checkpoints_to_keep,
    )
    if manager.latest_checkpoint:
        requested_rate = _learning_rate(optimizer)
        checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        run_log.print(f"Resumed from {manager.latest_checkpoint} (step {int(step_counter)}).")
        if not _has_schedule(optimizer) and _learning_rate(optimizer) != requested_rate:
            run_log.print(
                f"Note: the checkpoint's learning rate {_learning_rate(optimizer):g} replaces "
                f"the requested {requested_rate:g} (resuming restores the optimizer state)."
            )

    train_steps = make_train_function(
        model,
        optimizer,
        loss_fn,
        metric_fns,
        strategy=strategy,
        global_batch_size=global_batch_size,
        step_counter=step_counter,
        jit_compile=options.jit_compile,
        summary_writer=run_log.writer("train"),
        log_every_steps=options.log_every_steps,
    )
    evaluate = make_evaluate_function(model, loss_fn, metric_fns)
    total_steps = options.epochs * steps_per_epoch
    if options.max_steps:
        total_steps = min(total_steps, options.max_steps)
    traced = False
    early_stopping = _EarlyStopping(options.early_stopping_patience)
    summary: dict[str, Any] = {"stopped_early": False}
    train_seconds, steps_run = 0.0, 0

    def save(reason: str) -> str:
        path = manager.save(checkpoint_number=int(step_counter))
        if reason:
            run_log.print(f"{reason}: checkpoint saved at step {int(step_counter)} ({path}).")
        return path

    # One iterator for the whole run: the epochs follow each other inside tf.data (each still
    # a pure function of its index), so no per-epoch iterator is built or torn down (tearing
    # one down waits for its prefetch threads, measured up to 1 s per epoch).
    start_epoch, offset = divmod(int(step_counter), steps_per_epoch)
    last_epoch = math.ceil(total_steps / steps_per_epoch)
    dataset = tf.data.Dataset.range(start_epoch, max(last_epoch, start_epoch)).flat_map(train_data)
    dataset = dataset.skip(offset).prefetch(tf.data.AUTOTUNE)
    if distributed:
        dataset = strategy.experimental_distribute_dataset(dataset)
    iterator = iter(dataset)

    try:
        while int(step_counter) < total_steps:
            epoch = int(step_counter) // steps_per_epoch
            epoch_end = min((epoch + 1) * steps_per_epoch, total_steps)
            epoch_totals: dict[str, float] = {}
            epoch_steps, epoch_start = 0, time.perf_counter()
            while int(step_counter) < epoch_end:
                num_steps = min(options.steps_per_execution, epoch_end - int(step_counter))
                if not traced:
                    run_log.trace_on()
                totals = train_steps(iterator, tf.constant(num_steps, tf.int32))
                if not traced:
                    run_log.trace_export("train_steps")
                    traced = True
                totals = {name: value.numpy() for name, value in totals.items()}
                if not totals["finite"]:
                    bad_step = int(step_counter)
                    if manager.latest_checkpoint:
                        checkpoint.restore(manager.latest_checkpoint)
                    raise NonFiniteLossError(
                        f"Non-finite loss at step {bad_step} (epoch {epoch + 1}); training "
                        f"stopped. Last good checkpoint: {manager.latest_checkpoint or 'none'} "
                        "(the model now holds it)."
                    )
                if int(totals["steps"]) < num_steps:
                    raise ValueError(
                        f"The training data ran out after {int(step_counter)} steps in total; "
                        f"train_data(epoch) must yield steps_per_epoch={steps_per_epoch} "
                        "batches for every epoch."
                    )
                for name, value in totals.items():
                    if name.endswith("_sum"):
                        epoch_totals[name] = epoch_totals.get(name, 0.0) + float(value)
                epoch_steps += int(totals["steps"])
                elapsed = time.perf_counter() - epoch_start
                run_log.progress(
                    int(step_counter) - epoch * steps_per_epoch,
                    steps_per_epoch,
                    epoch_steps / max(elapsed, 1e-9),
                    epoch_totals["loss_sum"] / epoch_steps,
                )
            epoch_seconds = time.perf_counter() - epoch_start
            train_seconds += epoch_seconds
            steps_run += epoch_steps
            validation = (
                _with_error(evaluate(validation_data)) if validation_data is not None else None
            )
            summary.update(
                _report_epoch(
                    run_log,
                    epoch=epoch + 1,
                    step=int(step_counter),
                    means={
                        name[: -len("_sum")]: value / epoch_steps
                        for name, value in epoch_totals.items()
                    },
                    validation=validation,
                    steps_per_sec=epoch_steps / epoch_seconds,
                    global_batch_size=global_batch_size,
                    learning_rate=_learning_rate(optimizer),
                )
            )
            if options.histogram_every and (epoch + 1) % options.histogram_every == 0:
                run_log.histograms(int(step_counter), model)
            save("")
            if validation is not None and early_stopping.should_stop(validation["loss"]):
                run_log.print(
                    "Early stopping: validation cost has not improved for "
                    f"{options.early_stopping_patience} epochs."
                )
                summary["stopped_early"] = True
                break
    except KeyboardInterrupt:
        save("Interrupted")
        raise
    run_log.flush()
    summary.update(
        steps=int(step_counter),
        epochs_completed=int(step_counter) / steps_per_epoch,
        train_seconds=train_seconds,
        steps_per_sec=steps_run / train_seconds if train_seconds else float("nan"),
        examples_per_sec=steps_run * global_batch_size / train_seconds
        if train_seconds
        else float("nan"),
    )
    return summary


def weights_equal(first: keras.Model, second: keras.Model) -> bool:
    """True when two models hold bit-identical weights (used by resume tests)."""
    return all(
        np.array_equal(np.asarray(a), np.asarray(b))
        for a, b in zip(first.get_weights(), second.get_weights(), strict=True)
    )
