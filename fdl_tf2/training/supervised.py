"""One supervised classification run, end to end: set-up, train, test, export, report.

Experiments stay thin: they declare their config and model and call `run_classifier`, which
wires config -> data -> model -> `loop.train` -> test evaluation -> SavedModel export ->
`results.json`. The dtype policy is set here on behalf of the experiment and reset after it.
"""

import dataclasses
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import keras

from fdl_tf2 import config as config_lib
from fdl_tf2.data import pipeline
from fdl_tf2.export import saved_model
from fdl_tf2.training import figures, loop, precision, runs
from fdl_tf2.training.run_log import machine_description


def run_classifier(
    config: config_lib.RunConfig,
    *,
    experiment_id: str,
    model_name: str,
    build_model: Callable[[], keras.Model],
    build_optimizer: Callable[[], keras.optimizers.Optimizer],
    data: pipeline.ClassificationData,
    epochs: int,
    batch_size: int,
    reference: dict[str, Any] | None = None,
    after_training: Callable[[keras.Model, runs.RunContext, int], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Trains and evaluates a classifier on `data`; returns the final metrics.

    The returned dict (also `results.json`) has `test_accuracy`, `test_error`,
    `validation_accuracy`, the training summary (wall time, steps/s), the export path, the
    config, the machine and the dataset files' SHA-256. `after_training(model, context,
    step)`, when given, runs after the test evaluation (extra figures, analyses); the dict it
    returns is merged into the results.
    """
    context = runs.start_run(config, experiment_id)
    run_log = context.run_log
    optimizer = build_optimizer()
    optimizer = precision.use_mixed_precision(config.mixed_precision, optimizer)
    try:
        with context.strategy.scope():
            model = build_model()
        start = time.time()
        try:
            summary = _train(config, context, model, optimizer, data, epochs, batch_size)
        except KeyboardInterrupt:
            run_log.print(
                f"Resume with: python -m fdl_tf2 run {experiment_id} <the same options> "
                f"--workdir={context.workdir}"
            )
            raise
        evaluate = loop.make_evaluate_function(
            model, loop.sparse_softmax_cross_entropy, loop.CLASSIFICATION_METRICS
        )
        test = evaluate(data.dataset("test", batch_size=1000, training=False))
        run_log.scalars(summary["steps"], "test", cost=test["loss"], accuracy=test["accuracy"])
        run_log.print("Optimization Finished!")
        run_log.print(f"Test Accuracy: {test['accuracy']:.4f}")
        validation_inputs = data.dataset("validation", batch_size=1000, training=False)
        first_inputs, _ = next(iter(validation_inputs))
        run_log.histogram(summary["steps"], "output", model(first_inputs, training=False))
        run_log.flush()
        figures.plot_learning_curves(
            context.workdir / "metrics.jsonl", run_log.figure_path("learning_curves")
        )
        results: dict[str, Any] = {
            "experiment": experiment_id,
            "test_accuracy": test["accuracy"],
            "test_error": 1.0 - test["accuracy"],
            "test_cost": test["loss"],
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
            images = data.splits["test"][0][:8]
            path = saved_model.export_classifier(
                model,
                name=model_name,
                input_spec=data.serving_spec,
                preprocess=data.preprocess_inputs,
                sample=images,
                export_dir=config.export_dir,
                description={
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
        run_log.close(results)
    finally:
        run_log.close()  # Idempotent; also flushes what an interrupted run logged.
        if config.mixed_precision != "float32":
            keras.config.set_dtype_policy("float32")
    return results


def _train(config, context, model, optimizer, data, epochs, batch_size) -> dict[str, Any]:
    """`loop.train` on the data's training split, validating on its validation split."""
    return loop.train(
        model,
        optimizer,
        train_data=data.train_epochs(batch_size=batch_size, seed=config.seed),
        steps_per_epoch=data.num_examples("train") // batch_size,
        global_batch_size=batch_size,
        validation_data=data.dataset("validation", batch_size=1000, training=False),
        options=loop.TrainOptions.from_config(config, epochs),
        run_log=context.run_log,
        strategy=context.strategy,
    )
