"""Epoch-based training on an in-memory dataset: the part every supervised recipe shares.

    summary = epochs.train_epochs(config, context, model, optimizer, data, compute_loss,
                                  epochs=20, batch_size=100, console=book_epoch_line)

`train_epochs` is `loop.train` over `data`'s shuffled training split with one evaluation of
the validation split per epoch; the classifier (`training.classifier`) and the autoencoders
(`training.reconstruction`) are recipes on top of it.
"""

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import keras

from fdl_tf2 import config as config_lib
from fdl_tf2.data import pipeline
from fdl_tf2.training import loop, runs, step


def train_epochs(
    config: config_lib.EngineConfig,
    context: runs.RunContext,
    model: keras.Model,
    optimizer: keras.optimizers.Optimizer,
    data: pipeline.ClassificationData,
    compute_loss: step.ComputeLoss,
    *,
    epochs: int,
    batch_size: int,
    console: Callable[[Mapping[str, Any]], str] = loop.step_line,
    on_eval: loop.OnEval | tuple = (),
    eval_every: int = 0,
    **trackables,
) -> dict[str, Any]:
    """`loop.train` on `data`'s training split for `epochs`, evaluating once per epoch.

    Args:
      context: where this training logs and checkpoints: the run's, or a `runs.sub_run` of it
        (a run that trains several models gives each its own, e.g. the optimiser race).
      compute_loss: see `step.ComputeLoss`; also evaluates the validation split.
      console: `report -> line` printed after each epoch.
      on_eval: hooks `(step, validation metrics) -> stop?`.
      eval_every: steps between evaluations instead of one per epoch (0: once per epoch).
      **trackables: more state to checkpoint with the model (e.g. a corruption layer's
        random stream, or the state of an `on_eval` hook).

    Returns:
      `loop.train`'s summary plus `epochs_completed`.
    """
    train_step, checkpointer = runs.make_engine(
        config, context, model, optimizer, compute_loss, **trackables
    )
    steps_per_epoch = data.steps_per_epoch(batch_size)
    validation = data.dataset("validation", batch_size=1000, training=False)
    evaluate = step.make_evaluate(model, compute_loss)
    summary = loop.train(
        train_step,
        data.train_stream(batch_size=batch_size, seed=config.seed),
        num_steps=config_lib.total_steps(config, epochs * steps_per_epoch),
        checkpointer=checkpointer,
        run_log=context.run_log,
        evaluate=lambda _: evaluate(validation),
        on_eval=on_eval,
        eval_every=eval_every,
        steps_per_epoch=steps_per_epoch,
        histogram_every=config.histogram_every,
        examples_per_step=batch_size,
        console=console,
        resume_hint=context.resume_command,
    )
    summary["epochs_completed"] = summary["steps"] / steps_per_epoch
    return summary


def export_dir(config: config_lib.ExportConfig, context: runs.RunContext, dataset: str) -> Path:
    """Where a run exports: `config.export_dir`, else saved_models/ (synthetic: the workdir)."""
    if config.export_dir:
        return Path(config.export_dir)
    return context.workdir / "saved_models" if dataset == "synthetic" else Path("saved_models")
