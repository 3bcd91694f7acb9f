"""The compiled training step: any model, any loss, `steps_per_call` optimizer steps per call.

A model family states its objective as `compute_loss(model, batch, training) -> (loss,
metrics)`, where `loss` and every metric are `(sum, count)` pairs over the examples (or tokens)
of one replica's batch:

    def compute_loss(model, batch, training):
        inputs, targets = batch
        per_example = cross_entropy(targets, model(inputs, training=training))  # (batch,)
        count = tf.cast(tf.size(per_example), tf.float32)
        return (tf.reduce_sum(per_example), count), {"accuracy": (correct_sum, count)}

The step minimises `sum / count` with `sum` and `count` totalled over all replicas, so a
per-token mean over padded batches, a per-example mean and a reconstruction error are all
exact, on one device or many (cf. flax `examples/wmt`, `compute_weighted_cross_entropy`).
`compute_loss` receives the model, so a loss may read its weights (NCE, sampled softmax).
Regularisation losses (`model.losses`) are added to the objective.

One call of the returned `TrainStep` runs up to `steps_per_call` optimizer steps in a graph-side
loop, so per-step Python overhead disappears; the step itself can be XLA-compiled. Per-step
TensorBoard scalars are written inside the graph, and a non-finite loss stops the call right
after the step that produced it.
"""

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import keras
import tensorflow as tf
from tensorboard.plugins.scalar import metadata as scalar_metadata

from fdl_tf2.training import distribute

SumCount = tuple[tf.Tensor, tf.Tensor]
"""`(sum, count)` of a loss or metric over the examples (or tokens) of a batch."""
ComputeLoss = Callable[[keras.Model, Any, bool], tuple[SumCount, Mapping[str, SumCount]]]
"""`(model, batch, training) -> ((loss_sum, loss_count), {name: (sum, count)})`."""


def _write_scalar(tag: str, value: tf.Tensor) -> None:
    # `tf.summary.scalar` would prefix the tag with the graph's name scope ("while/cost")
    # inside the step loop; writing with the scalar plugin's metadata keeps the plain tag.
    metadata = scalar_metadata.create_summary_metadata(display_name=tag, description="")
    tf.summary.write(tag, tf.cast(value, tf.float32), metadata=metadata)


def _as_float(value) -> tf.Tensor:
    return tf.cast(value, tf.float32)


class TrainStep:
    """`train_step(iterator, num_steps) -> totals`: up to `num_steps` compiled optimizer steps.

    Attributes:
      model, optimizer, strategy: what the step trains, and how it is distributed.
      step: int64 variable, the number of optimizer steps taken (checkpoint it).
      steps_per_call: the loop's default `num_steps` per call.

    `totals` maps `loss` and every metric name to its `(sum, count)` over the steps run, and
    holds `steps` (steps run: fewer than `num_steps` when the iterator ran out) and `finite`
    (False when the last step's loss was NaN or infinite).
    """

    def __init__(
        self,
        model: keras.Model,
        optimizer: keras.optimizers.Optimizer,
        compute_loss: ComputeLoss,
        *,
        jit_compile: bool = False,
        steps_per_call: int = 1,
        strategy: tf.distribute.Strategy | None = None,
        summary_writer: tf.summary.SummaryWriter | None = None,
        log_every_steps: int = 0,
    ):
        if steps_per_call < 1:
            raise ValueError(f"steps_per_call must be >= 1, got {steps_per_call}.")
        self.model = model
        self.optimizer = optimizer
        self.compute_loss = compute_loss
        self.strategy = strategy or tf.distribute.get_strategy()
        self.steps_per_call = steps_per_call
        self.summary_writer = summary_writer
        self.log_every_steps = log_every_steps
        with self.strategy.scope():
            # Variables cannot be created inside the compiled loop: build the slots now.
            optimizer.build(model.trainable_variables)
        # Outside the scope: one counter, advanced in cross-replica context after each step.
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
        self._replica_step = (
            tf.function(self._replica_step_eager, jit_compile=True)
            if jit_compile
            else self._replica_step_eager
        )
        self._metric_names: tuple[str, ...] | None = None
        self._call = tf.function(self._steps)

    def distribute(self, dataset: tf.data.Dataset) -> tf.data.Dataset:
        """`dataset` split over the strategy's replicas (unchanged on one device)."""
        if distribute.is_distributed(self.strategy):
            return self.strategy.experimental_distribute_dataset(dataset)
        return dataset

    def _replica_step_eager(self, batch):
        model, optimizer = self.model, self.optimizer
        with tf.GradientTape() as tape:
            (loss_sum, loss_count), metrics = self.compute_loss(model, batch, True)
            loss_sum, loss_count = _as_float(loss_sum), _as_float(loss_count)
            global_count = loss_count
            if self.strategy.num_replicas_in_sync > 1:
                context = tf.distribute.get_replica_context()
                global_count = context.all_reduce(tf.distribute.ReduceOp.SUM, loss_count)
            # The optimizer sums gradients over replicas: each replica's share of the global
            # mean is its own sum over the global count.
            objective = tf.math.divide_no_nan(loss_sum, global_count)
            if model.losses:
                objective += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
            scaled = optimizer.scale_loss(objective)  # Identity unless LossScaleOptimizer.
        gradients = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply(gradients, model.trainable_variables)  # Unscales if needed.
        values = {name: (_as_float(s), _as_float(c)) for name, (s, c) in metrics.items()}
        values["loss"] = (loss_sum, loss_count)
        return values

    def _global_step(self, batch) -> dict[str, SumCount]:
        per_replica = self.strategy.run(self._replica_step, args=(batch,))
        reduce = lambda value: self.strategy.reduce(  # noqa: E731
            tf.distribute.ReduceOp.SUM, value, axis=None
        )
        return {name: (reduce(s), reduce(c)) for name, (s, c) in per_replica.items()}

    def _steps(self, iterator, num_steps):
        names = self._metric_names
        totals = {name: (tf.constant(0.0), tf.constant(0.0)) for name in names}
        steps = tf.constant(0)
        finite = tf.constant(True)
        for _ in tf.range(num_steps):
            # An exhausted iterator ends the call early instead of raising OutOfRangeError.
            batch = iterator.get_next_as_optional()
            if not batch.has_value():
                break
            values = self._global_step(batch.get_value())
            self.step.assign_add(1)
            steps += 1
            totals = {
                name: (totals[name][0] + values[name][0], totals[name][1] + values[name][1])
                for name in names
            }
            loss = tf.math.divide_no_nan(*values["loss"])
            if self.summary_writer is not None and self.log_every_steps > 0:
                with self.summary_writer.as_default(step=self.step):
                    with tf.summary.record_if(self.step % self.log_every_steps == 0):
                        _write_scalar("cost", loss)
                        for name in names:
                            if name != "loss":
                                _write_scalar(name, tf.math.divide_no_nan(*values[name]))
            finite = tf.math.is_finite(loss)
            if not finite:
                break
        return {**totals, "steps": steps, "finite": finite}

    def _discover_metric_names(self, iterator: Iterator) -> None:
        spec = iterator.element_spec
        if self.strategy.num_replicas_in_sync > 1:  # PerReplicaSpec -> one replica's spec.
            spec = tf.nest.map_structure(lambda s: s._component_specs[0], spec)
        names = metric_names(self.model, self.compute_loss, spec, training=True)
        self._metric_names = (*names, "loss")

    def __call__(self, iterator: Iterator, num_steps: int | tf.Tensor | None = None) -> dict:
        if self._metric_names is None:
            self._discover_metric_names(iterator)
        num_steps = self.steps_per_call if num_steps is None else num_steps
        return self._call(iterator, tf.constant(num_steps, tf.int32))

    def experimental_get_tracing_count(self) -> int:
        return self._call.experimental_get_tracing_count()


_RESERVED_NAMES = ("loss", "cost", "steps", "finite")


def metric_names(
    model: keras.Model, compute_loss: ComputeLoss, batch_spec, *, training: bool = False
) -> tuple[str, ...]:
    """The metric names `compute_loss` returns, found by tracing it on `batch_spec` once.

    The trace is never run, so it changes no state (batch-norm statistics included).

    Raises:
      ValueError: a metric uses a reserved name (`loss`, `cost`, `steps`, `finite`).
    """
    names: list[str] = []

    @tf.function
    def trace(batch):
        _, metrics = compute_loss(model, batch, training)
        names.extend(metrics)
        return tf.constant(0)

    trace.get_concrete_function(batch_spec)
    reserved = [name for name in names if name in _RESERVED_NAMES]
    if reserved:
        raise ValueError(f"compute_loss returns metrics with reserved names: {reserved}.")
    return tuple(names)


def make_train_step(
    model: keras.Model,
    optimizer: keras.optimizers.Optimizer,
    compute_loss: ComputeLoss,
    *,
    jit_compile: bool = False,
    steps_per_call: int = 1,
    strategy: tf.distribute.Strategy | None = None,
    summary_writer: tf.summary.SummaryWriter | None = None,
    log_every_steps: int = 0,
) -> TrainStep:
    """The compiled multi-step training call for `model` (see `TrainStep`).

    Args:
      model, optimizer: created inside `strategy.scope()`.
      compute_loss: `(model, batch, training) -> ((loss_sum, loss_count), metrics)`.
      jit_compile: XLA-compile each step.
      steps_per_call: optimizer steps per call (the loop may ask for fewer).
      strategy: a `tf.distribute` strategy; None means the default (no distribution).
      summary_writer, log_every_steps: per-step `cost` and metric scalars, written in the graph
        every `log_every_steps` steps; 0 or no writer disables them.
    """
    return TrainStep(
        model,
        optimizer,
        compute_loss,
        jit_compile=jit_compile,
        steps_per_call=steps_per_call,
        strategy=strategy,
        summary_writer=summary_writer,
        log_every_steps=log_every_steps,
    )


def make_evaluate(
    model: keras.Model, compute_loss: ComputeLoss, *, loss_name: str = "cost"
) -> Callable[[tf.data.Dataset], dict[str, float]]:
    """Returns `evaluate(dataset) -> {loss_name: mean, <metric>: mean}` over the whole dataset.

    Each mean is the dataset-wide `sum / count` of `compute_loss(model, batch, False)`, so it
    is exact whatever the batch sizes and padding; NaN where the count is 0 (an empty
    dataset). `loop.train` takes `step -> metrics`: wrap it, `lambda step: evaluate(data)`.
    """

    @tf.function
    def sums(dataset, names):
        totals = {name: (tf.constant(0.0), tf.constant(0.0)) for name in names}
        for batch in dataset:
            (loss_sum, loss_count), metrics = compute_loss(model, batch, False)
            values = {name: (_as_float(s), _as_float(c)) for name, (s, c) in metrics.items()}
            values[loss_name] = (_as_float(loss_sum), _as_float(loss_count))
            totals = {
                name: (totals[name][0] + values[name][0], totals[name][1] + values[name][1])
                for name in names
            }
        return totals

    names_by_spec: dict[str, tuple[str, ...]] = {}

    def evaluate(dataset: tf.data.Dataset) -> dict[str, float]:
        key = str(dataset.element_spec)
        if key not in names_by_spec:
            found = metric_names(model, compute_loss, dataset.element_spec)
            names_by_spec[key] = (*found, loss_name)
        totals = sums(dataset, names_by_spec[key])
        return {
            name: float(s) / float(c) if float(c) else float("nan")
            for name, (s, c) in totals.items()
        }

    return evaluate
