"""Every experiment end to end with its "smoke" preset: results, logs, figures, export.

An experiment module may declare `FIGURES = ("name", ...)`: the PNGs it must write under
`figures/`, and `SIGNATURES = ("name", ...)`: the serving signatures of its export, which is
then reloaded and the run resumed. Classifiers trained by the engine are also checked for
TensorBoard tags.
"""

import glob
import json
import math

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


def _smoke_config(module, tmp_path):
    arguments = ["--config=smoke", f"--workdir={tmp_path / 'run'}"]
    if "export_dir" in config_lib.fields(module.Config):
        arguments.append(f"--export_dir={tmp_path / 'models'}")
    return config_lib.from_argv(module.Config, module.CONFIGS, arguments)


def _is_classifier(module) -> bool:
    return hasattr(module.Config, "export") and getattr(module, "TRAINS_CLASSIFIER", False)


CLASSIFIERS = sorted(name for name, module in EXPERIMENTS.items() if _is_classifier(module))


def _check_results_logs_and_figures(module, experiment_id, results, run):
    numbers = {k: v for k, v in results.items() if isinstance(v, float)}
    assert all(math.isfinite(v) for v in numbers.values()), numbers
    stored = json.loads((run / "results.json").read_text())
    assert stored["experiment"] == experiment_id and "machine" in stored and "config" in stored
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert records and all("step" in r and "split" in r for r in records)
    for name in getattr(module, "FIGURES", ()):
        assert (run / "figures" / f"{name}.png").stat().st_size > 5_000, name


@pytest.mark.parametrize("experiment_id", sorted(set(EXPERIMENTS) - set(CLASSIFIERS)))
def test_smoke_preset_writes_results_logs_and_figures(experiment_id, tmp_path):
    module = EXPERIMENTS[experiment_id]
    config = _smoke_config(module, tmp_path)
    results = module.main(config)
    _check_results_logs_and_figures(module, experiment_id, results, tmp_path / "run")
    signatures = getattr(module, "SIGNATURES", ())
    if signatures:
        # A fresh load lists every signature; running the command again resumes from the final
        # checkpoint and trains nothing.
        assert results["export"].startswith(str(tmp_path / "models"))
        assert set(signatures) <= set(tf.saved_model.load(results["export"]).signatures)
        again = module.main(config_lib.replace(config, export=False))
        assert again["steps"] == results["steps"] and again["train_seconds"] == 0.0


@pytest.mark.parametrize("experiment_id", CLASSIFIERS)
def test_classifier_logs_exports_under_its_run_directory_and_resumes(
    experiment_id, tmp_path, monkeypatch
):
    """The classifiers' smoke runs, plus TensorBoard tags, the export and a resume.

    Smoke presets train on synthetic data, so they export under their run directory and
    never into the tracked model repository (a relative saved_models/ in the working dir).
    """
    monkeypatch.chdir(tmp_path)
    module = EXPERIMENTS[experiment_id]
    config = config_lib.from_argv(
        module.Config, module.CONFIGS, ["--config=smoke", f"--workdir={tmp_path / 'run'}"]
    )
    results = module.main(config)
    run = tmp_path / "run"
    _check_results_logs_and_figures(module, experiment_id, results, run)
    assert results["test_accuracy"] > 0.5
    assert results["export"].startswith(str(run / "saved_models")) and results["export"].endswith(
        "/1"
    )
    assert not (tmp_path / "saved_models").exists()
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert {"train", "validation", "test"} <= {record["split"] for record in records}
    # Per-step and per-epoch scalars, weight histograms and the traced graph ("train_steps").
    expected_train_tags = {"cost", "accuracy", "learning_rate", "train_steps", "output/kernel"}
    assert expected_train_tags <= _event_tags(run / "tensorboard" / "train")
    assert {"cost", "error", "output"} <= _event_tags(run / "tensorboard" / "validation")
    # The exported model serves raw uint8 pixels in a fresh load.
    serve = tf.saved_model.load(results["export"]).signatures["serving_default"]
    image_shape = serve.structured_input_signature[1]["images"].shape[1:]  # (28, 28), ...
    outputs = serve(images=tf.zeros([2, *image_shape], tf.uint8))
    assert outputs["probabilities"].shape == (2, 10)
    # Running the same command again resumes from the final checkpoint and trains nothing.
    again = module.main(config_lib.replace(config, export=False))
    assert again["steps"] == results["steps"] and again["train_seconds"] == 0.0
