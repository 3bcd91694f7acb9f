"""Run set-up and tear-down shared by every experiment, trained with the engine or not.

    context = runs.start_run(config, "ch01.perceptron")   # seeds, run directory, RunLog
    ...                                                   # context.run_log.scalars/images/...
    results = runs.finish_run(context, config, {"accuracy": 1.0})   # results.json, close

Process-global state (seeds, op determinism) is set here, on behalf of the experiment, never at
import time.
"""

import dataclasses
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from fdl_tf2 import config as config_lib
from fdl_tf2.training import distribute
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


def default_workdir(experiment_id: str) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return Path(RUNS_DIR) / experiment_id / stamp


def start_run(config: config_lib.RunConfig, experiment_id: str) -> RunContext:
    """Seeds, determinism, strategy and the run directory (resumed if it already exists)."""
    keras.utils.set_random_seed(config.seed)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    strategy = distribute.make_strategy(config.strategy)
    chief = distribute.is_chief(strategy)
    workdir = Path(config.workdir) if config.workdir else default_workdir(experiment_id)
    if not chief:  # Non-chief workers must not clobber the chief's files.
        workdir = Path(tempfile.mkdtemp(prefix=f"{experiment_id}-worker-"))
    run_log = RunLog(workdir, tensorboard=config.tensorboard, quiet=not chief)
    config_lib.save(config, workdir / "config.json")
    run_log.print(f"{experiment_id}: writing to {workdir}")
    return RunContext(experiment_id, workdir, run_log, strategy, chief)


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
    context.run_log.close(results)
    return results
