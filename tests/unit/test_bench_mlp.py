"""The MLP benchmark's FLOP count and roofline GEMMs, and the shared engine runner."""

import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from benchmarks import bench_mlp, common
from fdl_tf2.data import mnist, pipeline
from fdl_tf2.models import feedforward
from fdl_tf2.training import classifier


def _matmuls_of_a_training_step(model, batch_size):
    """`Gemm`s of the MatMul ops in the traced gradient of the classification loss."""

    @tf.function
    def gradients(inputs, targets):
        with tf.GradientTape() as tape:
            (loss_sum, count), _ = classifier.classification_loss(
                model, (inputs, targets), training=True
            )
            loss = loss_sum / count
        return tape.gradient(loss, model.trainable_variables)

    graph = gradients.get_concrete_function(
        tf.TensorSpec((batch_size, 784)), tf.TensorSpec((batch_size,), tf.int32)
    ).graph
    found = []
    for op in graph.get_operations():
        if op.type != "MatMul":
            continue
        transpose_a, transpose_b = op.get_attr("transpose_a"), op.get_attr("transpose_b")
        a_shape, b_shape = (tuple(tensor.shape) for tensor in op.inputs)
        rows, inner = a_shape[::-1] if transpose_a else a_shape
        columns = b_shape[0] if transpose_b else b_shape[1]
        found.append(common.Gemm(rows, inner, columns, transpose_a, transpose_b))
    return found


def test_step_gemms_are_the_matmuls_autodiff_runs():
    model = feedforward.build_mlp(seed=0)
    traced = _matmuls_of_a_training_step(model, bench_mlp.BATCH_SIZE)
    assert sorted(traced, key=repr) == sorted(bench_mlp.STEP_GEMMS, key=repr)
    assert len(traced) == 8  # 3 forward, 3 weight gradients, 2 input gradients.


def test_flop_counts_match_the_hand_count():
    forward = 2 * 100 * (784 * 256 + 256 * 256 + 256 * 10)  # 53,760,000
    assert bench_mlp.FORWARD_FLOPS == forward
    assert bench_mlp.TRAIN_FLOPS_PER_STEP == 3 * forward
    # No input gradient for the first layer: 3x forward minus its forward.
    assert bench_mlp.EXACT_TRAIN_FLOPS_PER_STEP == 3 * forward - 2 * 100 * 784 * 256
    assert bench_mlp.EXACT_TRAIN_FLOPS_PER_STEP == 121_139_200


@pytest.mark.parametrize(
    "make_probe",
    [
        lambda: common.make_gemm_runner(common.dense_training_gemms(4, (6, 5, 3)), 3),
        lambda: common.make_dense_step_gemm_runner(4, (6, 5, 3), 3),
        lambda: common.make_matmul_runner(4, 6, 5, 3),
    ],
)
def test_gemm_probes_return_a_positive_rate(make_probe):
    rate = make_probe()()
    assert np.isfinite(rate) and rate > 0


def test_engine_runner_trains_exactly_the_steps_asked_for_without_retracing():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(60, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=(60,), dtype=np.uint8)
    data = pipeline.ClassificationData(
        name="tiny",
        splits={"train": (images, labels)},
        preprocess_inputs=mnist.preprocess_images_fn("flat"),
        preprocess_targets=mnist.preprocess_labels_fn(),
        serving_spec=mnist.SERVING_SPEC,
    )
    model = feedforward.build_mlp((8,), seed=0)
    initial = [weight.numpy().copy() for weight in model.trainable_weights]
    runner, tracing_count = common.make_engine_runner(
        model,
        keras.optimizers.SGD(0.01),
        data.train_stream(batch_size=10, seed=0),
        steps_per_call=4,
        jit_compile=False,
    )
    for num_steps in (4, 7, 13):  # Crosses epoch boundaries (6 steps per epoch).
        assert runner(num_steps) > 0
    assert tracing_count() == 1
    assert any(
        not np.array_equal(before, weight.numpy())
        for before, weight in zip(initial, model.trainable_weights, strict=True)
    )


def test_missing_torch_is_an_error_unless_skipped(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError.
    with pytest.raises(SystemExit, match="--skip-torch"):
        common.import_torch(skip=False)
    assert common.import_torch(skip=True) is None


@pytest.mark.parametrize(
    "ours, other, verdict",
    [
        ([2.0, 2.0, 2.0], [1.0, 1.0, 1.0], "PASS"),
        ([0.9, 1.1, 0.9], [1.0] * 3, "NOISE"),
        ([0.9, 0.9, 0.9], [1.0] * 3, "FAIL"),
    ],
)
def test_not_slower_compares_per_repeat_ratios(ours, other, verdict):
    assert common.not_slower(ours, other) == verdict


@pytest.mark.parametrize("argv", [["--repeats", "0"], ["--epochs-per-rep", "0"]])
def test_bad_arguments_are_refused(argv, capsys):
    with pytest.raises(SystemExit):
        bench_mlp.main(argv)
    assert "must" in capsys.readouterr().err
