"""Chapter-3 convergence on real MNIST: the book's numbers (slow; `make test-slow`)."""

import pytest

from experiments.ch03_tensorflow import logistic_regression, mlp
from fdl_tf2 import config as config_lib

pytestmark = [pytest.mark.slow, pytest.mark.data]


def _run(module, tmp_path, mnist_dir, *arguments):
    config = config_lib.from_argv(
        module.Config,
        module.CONFIGS,
        [
            *arguments,
            f"--data_dir={mnist_dir}",
            f"--workdir={tmp_path / 'run'}",
            f"--export_dir={tmp_path / 'models'}",
        ],
    )
    return module.main(config)


def test_logistic_regression_beats_the_book_after_100_epochs(tmp_path, mnist_dir):
    results = _run(logistic_regression, tmp_path, mnist_dir, "--config=book")
    assert results["test_accuracy"] >= 0.920  # Book 91.9 %, FDL-ja 92.11 %.


def test_mlp_demo_preset_reaches_97_percent_in_10_epochs(tmp_path, mnist_dir):
    results = _run(mlp, tmp_path, mnist_dir, "--config=demo")
    assert results["test_accuracy"] >= 0.97


def test_mlp_book_preset_after_300_epochs(tmp_path, mnist_dir):
    # Measured 97.96 % (seed 0); the book reports 98.2 %, FDL-ja 97.87 %.
    results = _run(mlp, tmp_path, mnist_dir, "--config=book")
    assert results["test_accuracy"] >= 0.978
