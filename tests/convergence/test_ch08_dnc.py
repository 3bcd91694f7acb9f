"""Chapter-8 DNC convergence (slow; `make test-slow`): the copy series and a reduced bAbI task.

The copy `cpu` preset is the acceptance run (series of 2, then 4, through 10 memory slots);
the bAbI check trains a small DNC on synthetic single-supporting-fact stories, the checklist's
reduced-scale learning test (ch08-09 §6.3).
"""

import math

import pytest

from experiments.ch08_memory import dnc_babi, dnc_copy
from fdl_tf2 import config as config_lib

pytestmark = pytest.mark.slow


def test_copy_cpu_preset_copies_series_of_four_within_half_an_hour(tmp_path):
    config = config_lib.from_argv(
        dnc_copy.Config, dnc_copy.CONFIGS, ["--config=cpu", f"--workdir={tmp_path / 'run'}"]
    )
    results = dnc_copy.main(config)
    assert results["final_series_length"] == 4
    assert results["bit_errors_per_sequence"] <= 0.1
    assert results["weights_finite"] and math.isfinite(results["eval_cost"])
    assert results["train_seconds"] <= 30 * 60


def test_small_dnc_answers_synthetic_single_fact_stories(tmp_path):
    config = config_lib.from_argv(
        dnc_babi.Config,
        dnc_babi.CONFIGS,
        [
            "--config=smoke",
            "--num_steps=1500",
            "--eval_every=500",
            "--synthetic_stories=2000",
            "--memory_size=16",
            "--word_size=16",
            "--controller_units=64",
            "--batch_size=16",
            "--jit_compile=True",
            "--steps_per_execution=50",
            f"--workdir={tmp_path / 'run'}",
            f"--export_dir={tmp_path / 'models'}",
        ],
    )
    results = dnc_babi.main(config)
    assert results["task_1_error"] < 0.05
