"""Run set-up and tear-down shared by every experiment, trained with the engine or not.

    context = runs.start_run(config, "ch01.perceptron")   # seeds, run directory, RunLog
    ...                                                   # context.run_log.scalars/images/...
    results = runs.finish_run(context, config, {"accuracy": 1.0})   # results.json, close

Process-global state (seeds, op determinism) is set here, on behalf of the experiment, never at
import time.
"""

import contextlib
import dataclasses
import shlex
import tempfile
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from fdl_tf2 import config as config_lib
from fdl_tf2.training import checkpoint, distribute, step
from fdl_tf2.training.run_log import RunLog, machine_description

RUNS_DIR = "runs"


@dataclasses.dataclass
class RunContext:
    """What `start_run` prepared: the run directory, its log and the distribution strategy."""

    experiment_id: str
    workdir: Path
    run_log: RunLog
    strategy: tf.distribute.Strategy
    chief: bool
    resume_command: str


def default_workdir(experiment_id: str) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return Path(RUNS_DIR) / experiment_id / stamp


def resume_command(config: config_lib.RunConfig, experiment_id: str, workdir: Path) -> str:
    """The command that reruns `config` in `workdir` (so it resumes from its checkpoint).

    Every field that differs from the dataclass default is spelled out, so the command does
    not depend on how the run was started (preset, flags, or Python).
    """
    defaults = type(config)()
    arguments = []
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if field.name != "workdir" and value != getattr(defaults, field.name):
            text = value if isinstance(value, str) else repr(value)
            arguments.append(shlex.quote(f"--{field.name}={text}"))  # e.g. tuples hold spaces.
    arguments.append(shlex.quote(f"--workdir={workdir}"))
    return " ".join(["python -m fdl_tf2 run", experiment_id, *arguments])


def start_run(config: config_lib.RunConfig, experiment_id: str) -> RunContext:
    """Seeds, determinism, strategy and the run directory (resumed if it already exists).

    The run directory is locked for this process (`checkpoint.lock_workdir`): a second process
    on it is refused with `checkpoint.WorkdirLockedError`.
    """
    keras.utils.set_random_seed(config.seed)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    strategy = distribute.make_strategy(getattr(config, "strategy", "default"))
    chief = distribute.is_chief(strategy)
    workdir = Path(config.workdir) if config.workdir else default_workdir(experiment_id)
    if not chief:  # Non-chief workers must not clobber the chief's files.
        workdir = Path(tempfile.mkdtemp(prefix=f"{experiment_id}-worker-"))
    checkpoint.lock_workdir(workdir)
    run_log = RunLog(workdir, tensorboard=config.tensorboard, quiet=not chief)
    config_lib.save(config, workdir / "config.json")
    run_log.print(f"{experiment_id}: writing to {workdir}")
    command = resume_command(config, experiment_id, workdir)
    return RunContext(experiment_id, workdir, run_log, strategy, chief, command)


def make_engine(
    config: config_lib.EngineConfig,
    context: RunContext,
    model: keras.Model,
    optimizer: keras.optimizers.Optimizer,
    compute_loss: step.ComputeLoss,
    **trackables,
) -> tuple[step.TrainStep, checkpoint.Checkpointer]:
    """The compiled step and the checkpointer of a run, set up from the engine fields.

    Args:
      model, optimizer: created inside `context.strategy.scope()`.
      compute_loss: see `step.ComputeLoss`.
      **trackables: more state to checkpoint (hooks such as `loop.DecayOnPlateau`).
    """
    train_step = step.make_train_step(
        model,
        optimizer,
        compute_loss,
        jit_compile=config.jit_compile,
        steps_per_call=config.steps_per_execution,
        strategy=context.strategy,
        summary_writer=context.run_log.writer("train"),
        log_every_steps=config.log_every_steps,
    )
    checkpointer = checkpoint.Checkpointer(
        context.workdir,
        keep=config.checkpoints_to_keep,
        every_seconds=config.checkpoint_every_seconds,
        quiet=context.run_log.quiet,
        model=model,
        optimizer=optimizer,
        step=train_step.step,
        **trackables,
    )
    return train_step, checkpointer


@contextlib.contextmanager
def sub_run(context: RunContext, name: str, **run_log_options) -> Iterator[RunContext]:
    """A run inside the run: `<workdir>/<name>/` with its own log, closed on exit.

    For experiments that train several models (the optimiser race, the sparse autoencoders):
    each logs and checkpoints under its own folder, so each resumes on its own.

        with runs.sub_run(context, "adam", tensorboard=config.tensorboard) as adam_run:
            summary = classifier.train_classifier(config, adam_run, model, ...)

    `run_log_options` go to `RunLog` (`tensorboard`, `quiet`).
    """
    workdir = context.workdir / name
    run_log = RunLog(workdir, **run_log_options)
    try:
        yield dataclasses.replace(context, workdir=workdir, run_log=run_log)
    finally:
        run_log.close()


def close_run(context: RunContext, results: dict[str, Any] | None = None) -> None:
    """Closes the log (writing `results.json` when given) and releases the run directory."""
    context.run_log.close(results)
    checkpoint.unlock_workdir(context.workdir)


def finish_run(
    context: RunContext, config: config_lib.RunConfig, metrics: dict[str, Any]
) -> dict[str, Any]:
    """Writes `results.json` (metrics + experiment, config, machine) and closes the log.

    Returns:
      The results dict, `metrics` first.
    """
    results = {
        **metrics,
        "experiment": context.experiment_id,
        "config": dataclasses.asdict(config),
        "machine": machine_description(),
        "workdir": str(context.workdir),
    }
    context.run_log.print(
        f"Run directory: {context.workdir} (metrics.jsonl, results.json, figures/)"
    )
    close_run(context, results)
    return results
