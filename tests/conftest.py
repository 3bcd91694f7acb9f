"""Test-wide set-up: TF backend, offline mode, two logical CPUs, and per-test hygiene."""

import os
from pathlib import Path

import pytest

# Before Keras is imported: the backend is read at import time.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["FDL_OFFLINE"] = "1"  # Tests never use the network.

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

# Two logical CPU devices let MirroredStrategy run with 2 replicas on any machine. This must
# happen before TensorFlow initialises its runtime, hence at import time of the conftest.
_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _cpus[0], [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)

# The tests run in deterministic mode: seeds (per test, below) plus op determinism.
tf.config.experimental.enable_op_determinism()

MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


# A full garbage collection costs about 0.3 s once TensorFlow is loaded, more than most unit
# tests; collecting after every GC_EVERY_TESTS tests bounds memory as well.
GC_EVERY_TESTS = 25
_tests_run = 0


@pytest.fixture(autouse=True)
def _hygiene(tmp_path_factory, monkeypatch):
    global _tests_run
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "xdg-cache"))
    keras.config.set_dtype_policy("float32")
    keras.utils.set_random_seed(0)
    yield
    keras.config.set_dtype_policy("float32")
    _tests_run += 1
    keras.backend.clear_session(free_memory=_tests_run % GC_EVERY_TESTS == 0)


@pytest.fixture
def mnist_dir() -> Path:
    """The data root holding real MNIST, or a skip naming what is missing."""
    root = os.environ.get("FDL_DATA_DIR")
    if not root:
        pytest.skip("real MNIST needs $FDL_DATA_DIR (e.g. ../shared/data)")
    missing = [name for name in MNIST_FILES if not (Path(root) / "mnist" / name).is_file()]
    if missing:
        pytest.skip(f"missing MNIST files under {root}/mnist: {missing}")
    return Path(root)


@pytest.fixture
def cifar10_dir() -> Path:
    """The data root holding the offline CIFAR-10 TFRecords, or a skip naming what is missing."""
    root = os.environ.get("FDL_DATA_DIR")
    if not root:
        pytest.skip("real CIFAR-10 needs $FDL_DATA_DIR (e.g. ../shared/data)")
    names = ("train.tfrecord.gz", "test.tfrecord.gz")
    missing = [name for name in names if not (Path(root) / "cifar10" / name).is_file()]
    if missing:
        pytest.skip(f"missing CIFAR-10 files under {root}/cifar10: {missing}")
    return Path(root)
