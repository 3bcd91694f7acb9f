"""The DNC benchmark's PyTorch twin, its parameter count, its data and its JSON (tiny sizes)."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from benchmarks import bench_dnc

# The book's DNC: LSTM(256) on 159 + 4 * 64 inputs, W_y, W_zeta (471 wide), W_r.
BOOK_PARAMETERS = 4 * 256 * (415 + 256 + 1) + 256 * 159 + 256 * 471 + 256 * 159

SMALL = dict(VOCABULARY_SIZE=11, MEMORY_SIZE=8, WORD_SIZE=4, NUM_READS=2, CONTROLLER_UNITS=6)


def _has_torch() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture
def small(monkeypatch):
    for name, value in SMALL.items():
        monkeypatch.setattr(bench_dnc, name, value)


def _perturbed(model: keras.Model) -> keras.Model:
    """Weights of std 0.5 (the init's 0.01 leaves every gate near 0.5 and every output near 0,
    which a wrong wiring could still match); the LSTM bias included."""
    rng = np.random.default_rng(1)
    for weight in model.trainable_weights:
        weight.assign(rng.normal(0.0, 0.5, weight.shape).astype(np.float32))
    return model


def _ids(batch: int = 2, length: int = 5) -> np.ndarray:
    return np.random.default_rng(2).integers(0, 11, (batch, length)).astype(np.int32)


def test_the_book_dnc_has_890112_parameters():
    assert BOOK_PARAMETERS == bench_dnc.BOOK_PARAMETERS == 890_112
    assert bench_dnc.book_parameter_count() == BOOK_PARAMETERS
    model = bench_dnc.build_model()
    assert bench_dnc.trainable_parameter_count(model) == BOOK_PARAMETERS
    if _has_torch():
        twin = bench_dnc.torch_equivalent(model)
        trainable = bench_dnc.trainable_parameters(twin)
        assert sum(parameter.numel() for parameter in trainable) == BOOK_PARAMETERS
        assert not twin.controller.bias_hh.requires_grad and not twin.controller.bias_hh.any()


def test_small_model_parameters_follow_the_formula(small):
    model = bench_dnc.build_model()
    assert bench_dnc.trainable_parameter_count(model) == bench_dnc.book_parameter_count()
    assert bench_dnc.book_parameter_count() == 4 * 6 * (11 + 8 + 6 + 1) + 6 * 11 + 6 * 33 + 8 * 11


def test_random_stories_have_the_babi_layout():
    stories = bench_dnc.random_stories(20, 128)
    positions = bench_dnc.answer_positions(128)
    assert positions.tolist() == [31, 63, 95, 127]
    arrays = bench_dnc.story_arrays(stories)
    inputs, targets, weights = arrays["inputs"], arrays["targets"], arrays["weights"]
    assert inputs.shape == targets.shape == weights.shape == (20, 128)
    assert (inputs[:, positions] == 158).all() and (inputs >= 0).all() and (inputs <= 158).all()
    assert (weights[:, positions] == 1).all() and weights.sum() == 20 * 4
    others = np.ones(128, bool)
    others[positions] = False
    np.testing.assert_array_equal(targets[:, others], inputs[:, others])
    assert (targets[:, positions] < 158).all()
    assert (arrays["lengths"] == 128).all()


def test_the_twin_computes_the_keras_outputs(small):
    torch = pytest.importorskip("torch")
    model = _perturbed(bench_dnc.build_model())
    ids = _ids()
    expected = np.asarray(model(ids))
    twin = bench_dnc.torch_equivalent(model)
    with torch.no_grad():
        outputs = twin(torch.from_numpy(ids.astype(np.int64))).numpy()
    assert outputs.shape == expected.shape == (2, 5, 11)
    assert np.abs(expected).max() > 0.1  # Not all near zero: the comparison means something.
    np.testing.assert_allclose(outputs, expected, atol=1e-5)


def test_the_twin_computes_the_keras_loss_and_gradients(small):
    torch = pytest.importorskip("torch")
    model = _perturbed(bench_dnc.build_model())
    stories = bench_dnc.random_stories(2, 8)
    arrays = bench_dnc.story_arrays(stories)
    assert arrays["inputs"].max() == 10  # The small vocabulary's answer mark.
    batch = {key: tf.constant(arrays[key]) for key in ("inputs", "targets", "weights")}
    with tf.GradientTape() as tape:
        (loss_sum, count), _ = bench_dnc.compute_loss(model, batch, True)
        keras_loss = loss_sum / count
    keras_gradients = tape.gradient(keras_loss, model.trainable_variables)

    twin = bench_dnc.torch_equivalent(model)
    logits = twin(torch.from_numpy(arrays["inputs"].astype(np.int64)))
    torch_loss = bench_dnc.torch_masked_cross_entropy(
        logits,
        (
            torch.from_numpy(arrays["targets"].astype(np.int64)),
            torch.from_numpy(arrays["weights"]),
        ),
    )
    torch_loss.backward()

    assert torch_loss.item() == pytest.approx(float(keras_loss), rel=1e-5)
    controller = twin.controller
    torch_gradients = {
        "W_y": twin.output_kernel.grad.numpy(),
        "W_zeta": twin.interface_kernel.grad.numpy(),
        "W_r": twin.read_kernel.grad.numpy(),
        "controller/kernel": controller.weight_ih.grad.numpy().T,
        "controller/recurrent_kernel": controller.weight_hh.grad.numpy().T,
        "controller/bias": controller.bias_ih.grad.numpy(),
    }
    names = [variable.path.removeprefix("dnc/dnc_cell/") for variable in model.trainable_variables]
    assert sorted(names) == sorted(torch_gradients)
    for name, keras_gradient in zip(names, keras_gradients, strict=True):
        keras_gradient = np.asarray(tf.convert_to_tensor(keras_gradient))
        torch_gradient = torch_gradients[name]
        scale = np.abs(keras_gradient).max()
        assert scale > 0, name
        np.testing.assert_allclose(torch_gradient, keras_gradient, atol=1e-4 * scale, err_msg=name)


def test_variants_are_parsed_and_checked():
    assert bench_dnc.parse_variants(["graph:10", "xla:1"]) == [("graph", 10), ("xla", 1)]
    for bad in (["cpu:10"], ["graph"], ["graph:0"], ["xla:2", "xla:2"]):
        with pytest.raises(ValueError):
            bench_dnc.parse_variants(bad)


@pytest.mark.slow  # 10-40 s: tracing the engine twice (one XLA) and fit, at two batch sizes.
def test_quick_run_writes_every_json_field(tmp_path, small):
    output = tmp_path / "bench.json"
    argv = ["--quick", "--variants", "graph:2", "xla:2", "--output", str(output)]
    if not _has_torch():
        argv.append("--skip-torch")

    results = bench_dnc.main(argv)

    stored = json.loads(output.read_text())
    assert stored["story_length"] == bench_dnc.QUICK_STORY_LENGTH == 16
    assert stored["batch_sizes"] == [1, 2] and set(stored["batches"]) == {"1", "2"}
    assert stored["trainable_parameters"] == bench_dnc.book_parameter_count()
    assert stored["repeats"] == 1 and stored["steps_per_measurement"] == 2
    engines = {"(a1) engine graph spc=2", "(a2) engine xla spc=2"}
    expected = engines | {bench_dnc.FIT} | ({bench_dnc.TORCH} if _has_torch() else set())
    for batch, row in stored["batches"].items():
        assert set(row["contenders"]) == expected
        assert row["ours"] in engines
        for contender in row["contenders"].values():
            assert contender["stories_per_sec"] == pytest.approx(
                contender["steps_per_sec"] * int(batch)
            )
            assert len(contender["samples_stories_per_sec"]) == 1
        assert set(row["targets"]) <= {"ours_vs_b", "ours_vs_c"}
        assert isinstance(row["fit_jit_compile"], bool)
    assert set(stored["stories_per_sec"]) == expected
    assert stored["best_batch"] in (1, 2)
    assert set(stored["ratios"]) == {"at_best_batch", "at_batch_1", "best_over_best"}
    assert (stored["ratios"]["at_batch_1"]["ours_over_torch"] is None) != _has_torch()
    assert stored["targets"]["stories_per_sec"].startswith("ours >= 20 stories/s")
    assert results["command"].startswith("python benchmarks/bench_dnc.py --quick")


@pytest.mark.parametrize(
    "argv",
    [
        ["--repeats", "0"],
        ["--steps", "0"],
        ["--batches", "0"],
        ["--story-length", "2"],
        ["--variants", "fast:3"],
    ],
)
def test_bad_arguments_are_refused(argv, capsys):
    with pytest.raises(SystemExit):
        bench_dnc.main(argv)
    assert "must" in capsys.readouterr().err
