"""The classifier recipe: set-up, train, test, export, report, on the generic engine pieces.

    results = classifier.run_classifier(config, experiment_id="ch03.mlp", model_name="mnist_mlp",
                                        build_model=..., build_optimizer=..., data=..., ...)

wires config -> data -> model -> `step.make_train_step` + `checkpoint.Checkpointer` ->
`loop.train` (one evaluation per epoch, or every `eval_every` steps; the book's console line)
-> test evaluation -> SavedModel export (`export.saved_model.classifier_endpoint` of the data's
preprocessing, or the experiment's own `export_endpoints`) -> `results.json`. The dtype policy
is set here on behalf of the experiment and reset after it.
"""

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import keras
import tensorflow as tf

from fdl_tf2 import config as config_lib
from fdl_tf2.data import pipeline
from fdl_tf2.export import saved_model
from fdl_tf2.training import epochs as epoch_training
from fdl_tf2.training import loop, precision, runs, step
from fdl_tf2.training.run_log import machine_description
from fdl_tf2.viz import curves

BuildOptimizer = Callable[[int], keras.optimizers.Optimizer]
"""`total_steps -> optimizer`: schedules decay over the steps the run will take."""
ExportEndpoints = Callable[
    [keras.Model],
    tuple[Mapping[str, saved_model.Endpoint], Mapping[str, Sequence[Any]], Sequence[Any]],
]
"""`trained model -> (endpoints, samples, track)`, the arguments of `saved_model.export`: for
exports whose raw inputs are not `data.preprocess_inputs`' (e.g. review strings tokenised in
the graph)."""


def sparse_softmax_cross_entropy(targets: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """Per-example cross-entropy of integer targets `(batch,)` and logits `(batch, classes)`."""
    return tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.cast(targets, tf.int32), logits=tf.cast(logits, tf.float32)
    )


def classification_loss(
    model: keras.Model, batch: tuple[tf.Tensor, tf.Tensor], training: bool
) -> tuple[step.SumCount, dict[str, step.SumCount]]:
    """`step.ComputeLoss` of a classifier: mean cross-entropy, accuracy and error.

    Args:
      batch: `(inputs, targets)`, integer targets of shape `(batch,)`.
    """
    inputs, targets = batch
    logits = model(inputs, training=training)
    count = tf.cast(tf.shape(logits)[0], tf.float32)
    predictions = tf.argmax(logits, axis=-1, output_type=tf.int32)
    correct = tf.reduce_sum(tf.cast(tf.equal(predictions, tf.cast(targets, tf.int32)), tf.float32))
    loss = (tf.reduce_sum(sparse_softmax_cross_entropy(targets, logits)), count)
    return loss, {"accuracy": (correct, count), "error": (count - correct, count)}


def book_epoch_line(report: Mapping[str, Any]) -> str:
    """The book's `Epoch: 0001 cost = 0.xxxxxxxxx  Validation Error: 0.xxxx` console line.

    Evaluations inside an epoch (`eval_every`) print `Step: 100 (epoch 0.14) cost = ...`.
    """
    epoch = report["epoch"]
    if float(epoch).is_integer():
        line = f"Epoch: {int(epoch):04d} cost = {report['train']['cost']:.9f}"
    else:
        line = f"Step: {report['step']} (epoch {epoch:.2f}) cost = {report['train']['cost']:.9f}"
    validation = report.get("validation")
    if validation is not None:
        line += f"  Validation Error: {validation['error']:.4f}"
    return line + f"  ({report['steps_per_sec']:,.0f} steps/s)"


def train_classifier(
    config: config_lib.EngineConfig,
    context: runs.RunContext,
    model: keras.Model,
    optimizer: keras.optimizers.Optimizer,
    data: pipeline.ClassificationData,
    *,
    epochs: int,
    batch_size: int,
    on_eval: loop.OnEval | tuple = (),
    eval_every: int = 0,
) -> dict[str, Any]:
    """`epochs.train_epochs` of a classifier: cross-entropy, the book's console line.

    Args:
      context: the run's, or a `runs.sub_run` of it (a run that trains several models gives
        each its own, e.g. the optimiser race).
      eval_every: steps between validation evaluations; 0 means once per epoch.

    Returns:
      `loop.train`'s summary plus `epochs_completed`.
    """
    return epoch_training.train_epochs(
        config,
        context,
        model,
        optimizer,
        data,
        classification_loss,
        epochs=epochs,
        batch_size=batch_size,
        console=book_epoch_line,
        on_eval=on_eval,
        eval_every=eval_every,
    )


def run_classifier(
    config: config_lib.ExportConfig,
    *,
    experiment_id: str,
    model_name: str,
    build_model: Callable[[], keras.Model],
    build_optimizer: BuildOptimizer,
    data: pipeline.ClassificationData,
    epochs: int,
    batch_size: int,
    reference: dict[str, Any] | None = None,
    after_training: Callable[[keras.Model, runs.RunContext, int], dict[str, Any]] | None = None,
    eval_every: int = 0,
    export_endpoints: ExportEndpoints | None = None,
    eval_batch_size: int = 1000,
) -> dict[str, Any]:
    """Trains and evaluates a classifier on `data`; returns the final metrics.

    The returned dict (also `results.json`) has `test_accuracy`, `test_error`,
    `validation_accuracy`, the training summary (wall time, steps/s), the export path, the
    config, the machine and the dataset files' SHA-256. `build_optimizer(total_steps)` gets
    the number of steps the run will take (`--max_steps` included). `after_training(model,
    context, step)`, when given, runs after the test evaluation (extra figures, analyses); the
    dict it returns is merged into the results.

    `eval_every` > 0 evaluates the validation split every that many steps instead of once per
    epoch. `export_endpoints(model)`, when given, returns the export's `(endpoints, samples,
    track)` instead of the default `classifier_endpoint(model, data.preprocess_inputs,
    data.serving_spec)` sampled on 8 test inputs. `eval_batch_size` batches the validation
    and test evaluations.
    """
    context = runs.start_run(config, experiment_id)
    run_log = context.run_log
    steps = config_lib.total_steps(config, epochs * data.steps_per_epoch(batch_size))
    optimizer = precision.use_mixed_precision(config.mixed_precision, build_optimizer(steps))
    try:
        with context.strategy.scope():
            model = build_model()
        start = time.time()
        summary = train_classifier(
            config,
            context,
            model,
            optimizer,
            data,
            epochs=epochs,
            batch_size=batch_size,
            eval_every=eval_every,
        )
        evaluate = step.make_evaluate(model, classification_loss)
        test = evaluate(data.dataset("test", batch_size=eval_batch_size, training=False))
        run_log.scalars(summary["steps"], "test", cost=test["cost"], accuracy=test["accuracy"])
        run_log.print("Optimization Finished!")
        run_log.print(f"Test Accuracy: {test['accuracy']:.4f}")
        validation_inputs = data.dataset("validation", batch_size=eval_batch_size, training=False)
        first_inputs, _ = next(iter(validation_inputs))
        run_log.histogram(summary["steps"], "output", model(first_inputs, training=False))
        run_log.flush()
        curves.plot_learning_curves(
            context.workdir / "metrics.jsonl", run_log.figure_path("learning_curves")
        )
        results: dict[str, Any] = {
            "experiment": experiment_id,
            "test_accuracy": test["accuracy"],
            "test_error": 1.0 - test["accuracy"],
            "test_cost": test["cost"],
            "validation_accuracy": summary.get("validation", {}).get("accuracy"),
            "train_cost": summary.get("train", {}).get("cost"),
            "epochs_completed": summary["epochs_completed"],
            "steps": summary["steps"],
            "stopped_early": summary["stopped_early"],
            "train_seconds": summary["train_seconds"],
            "steps_per_sec": summary["steps_per_sec"],
            "examples_per_sec": summary["examples_per_sec"],
            "wall_seconds": time.time() - start,
            "parameters": model.count_params(),
            "reference": reference or {},
            "config": dataclasses.asdict(config),
            "machine": machine_description(),
            "dataset": {"name": data.name, "files_sha256": data.files},
            "workdir": str(context.workdir),
        }
        if after_training is not None:
            results.update(after_training(model, context, summary["steps"]))
        if config.export and context.chief:
            if export_endpoints is None:
                endpoints = {
                    saved_model.SIGNATURE_KEY: saved_model.classifier_endpoint(
                        model, data.preprocess_inputs, data.serving_spec
                    )
                }
                samples = {saved_model.SIGNATURE_KEY: (data.splits["test"][0][:8],)}
                track = [model]
            else:
                endpoints, samples, track = export_endpoints(model)
            path = saved_model.export(
                model_name,
                endpoints=endpoints,
                samples=samples,
                track=track,
                verify=config.verify_export,
                export_dir=epoch_training.export_dir(config, context, data.name),
                facts={
                    "experiment": experiment_id,
                    "dataset": data.name,
                    "test_accuracy": round(test["accuracy"], 4),
                    "exported": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
                },
            )
            results["export"] = str(path)
            run_log.print(f"Exported and verified {path}")
        run_log.print(f"Run directory: {context.workdir} (metrics.jsonl, results.json, figures/)")
        run_log.print(f"TensorBoard: tensorboard --logdir {context.workdir / 'tensorboard'}")
        runs.close_run(context, results)
    finally:
        runs.close_run(context)  # Idempotent; also flushes what an interrupted run logged.
        if config.mixed_precision != "float32":
            keras.config.set_dtype_policy("float32")
    return results
