"""Every experiment end to end with its "smoke" preset: train, test, log, export, reload."""

import glob
import json

import numpy as np
import pytest
import tensorflow as tf

from fdl_tf2 import __main__ as cli
from fdl_tf2 import config as config_lib

EXPERIMENTS = cli.experiment_modules()


def _event_tags(folder):
    tags = set()
    for path in glob.glob(str(folder / "*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            tags.update(value.tag for value in event.summary.value)
    return tags


@pytest.mark.parametrize("experiment_id", sorted(EXPERIMENTS))
def test_smoke_preset_runs_end_to_end(experiment_id, tmp_path):
    module = EXPERIMENTS[experiment_id]
    config = config_lib.from_argv(
        module.Config,
        module.CONFIGS,
        ["--config=smoke", f"--workdir={tmp_path / 'run'}", f"--export_dir={tmp_path / 'models'}"],
    )
    results = module.main(config)

    assert np.isfinite(results["test_accuracy"]) and results["test_accuracy"] > 0.5
    run = tmp_path / "run"
    stored = json.loads((run / "results.json").read_text())
    assert stored["test_accuracy"] == pytest.approx(results["test_accuracy"])
    assert stored["config"]["epochs"] == config.epochs and "machine" in stored
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert {"train", "validation", "test"} <= {record["split"] for record in records}
    assert all("step" in record for record in records)
    # Per-step and per-epoch scalars, weight histograms and the traced graph ("train_steps").
    expected_train_tags = {"cost", "accuracy", "learning_rate", "train_steps", "output/kernel"}
    assert expected_train_tags <= _event_tags(run / "tensorboard" / "train")
    assert {"cost", "error", "output"} <= _event_tags(run / "tensorboard" / "validation")
    assert (run / "figures" / "learning_curves.png").stat().st_size > 10_000
    # The exported model serves raw uint8 pixels in a fresh load.
    export = results["export"]
    serve = tf.saved_model.load(export).signatures["serving_default"]
    outputs = serve(images=tf.zeros([2, 28, 28], tf.uint8))
    assert outputs["probabilities"].shape == (2, 10)
    # Running the same command again resumes from the final checkpoint and trains nothing.
    again = module.main(config_lib.replace(config, export=False))
    assert again["steps"] == results["steps"] and again["train_seconds"] == 0.0
