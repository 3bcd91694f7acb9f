"""Chapter-5 convergence on real MNIST and CIFAR-10 (slow; `make test-slow`).

The `quick` presets take a minute or two each on 2 cores; the `cpu` presets are the
acceptance runs (about 30 minutes for MNIST and an hour per CIFAR-10 variant on 2 cores).
"""

import pytest

from experiments.ch05_convnets import bn_comparison, cifar_convnet, mnist_convnet

pytestmark = [pytest.mark.slow, pytest.mark.data]


def test_mnist_convnet_quick_preset_learns_from_10000_images(run_experiment, mnist_dir):
    results = run_experiment(mnist_convnet, mnist_dir, "--config=quick")
    assert results["test_accuracy"] >= 0.97


def test_bn_comparison_quick_preset_bn_learns_faster(run_experiment, cifar10_dir):
    results = run_experiment(bn_comparison, cifar10_dir, "--config=quick")
    without, with_bn = (results["variants"][label] for label in ("without BN", "with BN"))
    assert with_bn["steps_to_threshold"] is not None
    assert without["steps_to_threshold"] is None or (
        with_bn["steps_to_threshold"] < without["steps_to_threshold"]
    )
    assert with_bn["test_accuracy"] > without["test_accuracy"]


def test_mnist_convnet_cpu_preset_reaches_the_book(run_experiment, mnist_dir):
    # Measured 99.46 % (seed 0) and 99.36 % (seed 1); book 99.4 %, keras-io 99.22 %.
    results = run_experiment(mnist_convnet, mnist_dir, "--config=cpu")
    assert results["test_accuracy"] >= 0.9935


def test_cifar_convnet_bn_cpu_preset_reaches_80_percent_on_the_full_test_set(
    run_experiment, cifar10_dir
):
    results = run_experiment(cifar_convnet, cifar10_dir, "--config=cpu_bn")
    assert results["test_accuracy"] >= 0.80
