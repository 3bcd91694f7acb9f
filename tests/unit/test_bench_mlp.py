"""The MLP benchmark's FLOP count and roofline GEMMs, and what `benchmarks.common` shares."""

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
    return common.traced_gemms(graph)


def test_step_gemms_are_the_matmuls_autodiff_runs():
    model = feedforward.build_mlp(seed=0)
    traced = _matmuls_of_a_training_step(model, bench_mlp.BATCH_SIZE)
    assert sorted(traced, key=repr) == sorted(bench_mlp.STEP_FLOPS.gemms, key=repr)
    assert len(traced) == 8  # 3 forward, 3 weight gradients, 2 input gradients.


def test_flop_counts_match_the_hand_count():
    forward = 2 * 100 * (784 * 256 + 256 * 256 + 256 * 10)  # 53,760,000
    flops = bench_mlp.STEP_FLOPS
    assert flops.forward == forward
    assert flops.train_3x_forward == 3 * forward
    # No input gradient for the first layer: 3x forward minus its forward.
    assert flops.exact == 3 * forward - 2 * 100 * 784 * 256 == 121_139_200


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


def test_verdict_lines_and_like_for_like_pairs():
    contenders = {"(a) x": {"rate": 3.0}, "(b) y": {"rate": 2.0}, "(a2) z": {"rate": 1.0}}
    samples = {"(a) x": [3.0, 3.0], "(b) y": [2.0, 2.0]}
    assert common.choose_ours(contenders, ["(a) x", "(a2) z"], "rate") == "(a) x"
    assert [row["ours_ratio"] for row in contenders.values()] == [1.0, 1.5, 3.0]
    pairs = [("(a) x", "(b) y"), ("(a) x", "(d) torch, skipped")]
    assert common.matched_pairs(contenders, pairs, "rate") == ["(a) x / (b) y: 1.50x"]
    assert common.speed_target(samples, contenders, "(a) x", "(b) y") == (
        "ours not slower than (b) y: PASS (1.50x)"
    )
    assert common.speed_target(samples, contenders, "(a) x", "(b) y", factor=2.0) == (
        "ours >= 2.0x (b) y: FAIL (1.50x)"
    )


def test_quick_is_one_repeat_of_the_quick_steps():
    parser = common.ArgumentParser("Doc.", script="bench_x", default_repeats=5, quick_steps=7)
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args(["--quick", "--repeats", "3", "--steps", "0"])
    assert parser.repeats_and_steps(args, args.steps) == (1, 7)
    args = parser.parse_args([])
    assert parser.repeats_and_steps(args, args.steps) == (5, 100)
    assert args.output == "runs/bench/bench_x.json" and not args.skip_torch


def test_array_fit_runner_refuses_steps_that_split_an_epoch():
    model = feedforward.build_mlp((8,), seed=0)
    model.compile(
        keras.optimizers.SGD(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    rng = np.random.default_rng(0)
    images = rng.random((60, 784), dtype=np.float32)
    labels = rng.integers(0, 10, size=(60,))
    runner = common.make_array_fit_runner(model, images, labels, batch_size=10)
    assert runner(4) > 0 and runner(12) > 0  # Part of one epoch; two whole epochs.
    with pytest.raises(ValueError, match="multiple of 6"):
        runner(9)


def test_torch_runner_trains_exactly_the_steps_asked_for():
    torch = pytest.importorskip("torch")
    assert common.setup_torch(torch, allow_gpu=False) == torch.device("cpu")
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    inputs, targets = torch.ones(4, 3), torch.zeros(4, dtype=torch.int64)
    batches_asked = []

    def epoch_batches(num_batches):
        batches_asked.append(num_batches)
        for _ in range(num_batches):
            yield inputs, targets

    runner = common.make_torch_runner(
        model, optimizer, torch.nn.functional.cross_entropy, epoch_batches, steps_per_epoch=5
    )
    before = model.weight.detach().clone()
    assert runner(12) > 0
    assert batches_asked == [5, 5, 2]  # Two whole epochs, then part of a third.
    assert not torch.equal(before, model.weight.detach())


@pytest.mark.parametrize("argv", [["--repeats", "0"], ["--epochs-per-rep", "0"]])
def test_bad_arguments_are_refused(argv, capsys):
    with pytest.raises(SystemExit):
        bench_mlp.main(argv)
    assert "must" in capsys.readouterr().err
