"""Chapter-3 convergence on real MNIST: the book's numbers (slow; `make test-slow`)."""

import pytest

from experiments.ch03_tensorflow import logistic_regression, mlp

pytestmark = [pytest.mark.slow, pytest.mark.data]


def test_logistic_regression_beats_the_book_after_100_epochs(run_experiment, mnist_dir):
    results = run_experiment(logistic_regression, mnist_dir, "--config=book")
    assert results["test_accuracy"] >= 0.920  # Book 91.9 %, FDL-ja 92.11 %.


def test_mlp_demo_preset_reaches_97_percent_in_10_epochs(run_experiment, mnist_dir):
    results = run_experiment(mlp, mnist_dir, "--config=demo")
    assert results["test_accuracy"] >= 0.97


def test_mlp_book_preset_after_300_epochs(run_experiment, mnist_dir):
    # Measured 97.96 % (seed 0); the book reports 98.2 %, FDL-ja 97.87 %.
    results = run_experiment(mlp, mnist_dir, "--config=book")
    assert results["test_accuracy"] >= 0.978
