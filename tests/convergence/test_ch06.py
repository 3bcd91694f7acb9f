"""Chapter-6 convergence on real MNIST and the offline Gutenberg corpus (slow; `make test-slow`).

The `quick` presets take minutes on 2 cores; the `cpu` presets are the acceptance runs of the
chapter-6 issue (about an hour per autoencoder on a quiet 2-core machine).
"""

import pytest

from experiments.ch06_embeddings import (
    autoencoder_mnist,
    denoising_autoencoder,
    pca_demos,
    skipgram,
)

pytestmark = [pytest.mark.slow, pytest.mark.data]


def test_pca_30_components_match_hinton_and_salakhutdinov(run_experiment, mnist_dir):
    results = run_experiment(pca_demos, mnist_dir, "--config=cpu")
    # Hinton & Salakhutdinov (2006): 13.87 summed squared error per test image.
    assert abs(results["pca_30_test_squared_error_per_image"] - 13.9) <= 0.5


def test_autoencoder_quick_preset_codes_beat_pca_codes(run_experiment, mnist_dir):
    results = run_experiment(autoencoder_mnist, mnist_dir, "--config=quick")
    assert results["autoencoder_knn_accuracy"] > results["pca_knn_accuracy"]


@pytest.mark.xfail(
    strict=False,
    reason="measured 4.843 (2026-12-02, experiments/README.md): the 4.6 goal and the book's 4.78 "
    "are not reached yet",
)
def test_autoencoder_2d_cpu_preset_beats_the_book(run_experiment, mnist_dir):
    results = run_experiment(autoencoder_mnist, mnist_dir, "--config=cpu")
    assert results["autoencoder_knn_accuracy"] > results["pca_knn_accuracy"]
    assert results["validation_cost"] < results["pca_test_cost"]  # 2-D PCA: 6.52.
    assert results["validation_cost"] <= 4.6  # The book: 4.78 after ~200 epochs.


def test_autoencoder_30d_cpu_preset_reaches_the_pretrained_figure(run_experiment, mnist_dir):
    results = run_experiment(autoencoder_mnist, mnist_dir, "--config=cpu", "--n_code=30")
    assert results["test_squared_error"] <= 3.00  # H&S 2006 with RBM pretraining.


def test_denoising_cpu_preset_cuts_the_masked_error_by_a_fifth(run_experiment, mnist_dir):
    results = run_experiment(denoising_autoencoder, mnist_dir, "--config=cpu")
    assert results["masked_cost_ratio"] <= 0.8


def test_skipgram_cpu_preset_keeps_pace_with_gensim(run_experiment, mnist_dir):
    results = run_experiment(skipgram, mnist_dir, "--config=cpu")  # The data root holds both.
    assert results["words_per_sec_vs_gensim"] >= 1.0
    assert results["wordsim353_rho"] >= 0.9 * results["gensim"]["wordsim353_rho"]
