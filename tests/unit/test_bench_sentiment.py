"""The sentiment-LSTM benchmark's PyTorch twin, its data and its JSON (tiny sizes)."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from benchmarks import bench_sentiment
from fdl_tf2.training import classifier

TRAINABLE_PARAMETERS = 30_000 * 128 + 4 * 128 * (128 + 128 + 1) + 128 * 2 + 2


def _reviews(num_examples: int = 6) -> dict[str, np.ndarray]:
    reviews = bench_sentiment.random_reviews(num_examples)
    reviews["ids"][0] = 0  # An empty review: all padding.
    reviews["lengths"][0] = 0
    return reviews


def _perturbed(model: keras.Model) -> keras.Model:
    """Random LSTM and output biases, so a twin that dropped one would compute otherwise."""
    rng = np.random.default_rng(1)
    for name in ("lstm", "output"):
        bias = model.get_layer(name).weights[-1]
        bias.assign(rng.normal(0.0, 0.3, bias.shape).astype(np.float32))
    return model


def test_random_reviews_are_post_padded_ids_with_the_documented_lengths():
    reviews = bench_sentiment.random_reviews(500)
    ids, lengths = reviews["ids"], reviews["lengths"]
    assert ids.shape == (500, bench_sentiment.MAX_LENGTH) and ids.dtype == np.int32
    np.testing.assert_array_equal(np.count_nonzero(ids, axis=1), lengths)
    real = np.arange(bench_sentiment.MAX_LENGTH)[None, :] < lengths[:, None]
    assert (ids[real] >= 2).all() and (ids[real] < 30_000).all() and (ids[~real] == 0).all()
    assert lengths.min() >= bench_sentiment.MIN_LENGTH
    assert set(np.unique(reviews["labels"])) == {0, 1}


def test_torch_twin_trains_exactly_the_keras_parameters():
    pytest.importorskip("torch")
    model = bench_sentiment.build_model()
    twin = bench_sentiment.torch_equivalent(model)
    keras_count = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert keras_count == TRAINABLE_PARAMETERS == 3_971_842
    trainable = bench_sentiment.trainable_parameters(twin)
    assert sum(parameter.numel() for parameter in trainable) == TRAINABLE_PARAMETERS
    assert not twin.lstm.bias_hh_l0.requires_grad and not twin.lstm.bias_hh_l0.any()
    assert twin.input_dropout.p == twin.output_dropout.p == 0.5


@pytest.mark.parametrize("readout", ["max", "last"])
def test_both_models_compute_the_same_logits_on_the_same_weights(readout):
    torch = pytest.importorskip("torch")
    model = _perturbed(bench_sentiment.build_model(readout=readout))
    twin = bench_sentiment.torch_equivalent(model, readout=readout).eval()
    ids = _reviews()["ids"]

    expected = np.asarray(model(ids, training=False))
    with torch.no_grad():
        logits = twin(torch.from_numpy(ids.astype(np.int64))).numpy()

    np.testing.assert_allclose(logits, expected, atol=2e-5)
    np.testing.assert_allclose(logits[0], model.get_layer("output").bias.numpy(), atol=1e-6)


def test_training_losses_and_gradients_agree_without_dropout():
    torch = pytest.importorskip("torch")
    model = _perturbed(bench_sentiment.build_model(dropout=0.0))
    twin = bench_sentiment.torch_equivalent(model).train()
    reviews = _reviews()
    ids, labels = reviews["ids"], reviews["labels"]

    with tf.GradientTape() as tape:
        (loss_sum, count), _ = classifier.classification_loss(model, (ids, labels), True)
        keras_loss = loss_sum / count
    keras_gradients = [
        np.asarray(tf.convert_to_tensor(g))
        for g in tape.gradient(keras_loss, model.trainable_variables)
    ]
    torch_loss = torch.nn.functional.cross_entropy(
        twin(torch.from_numpy(ids.astype(np.int64))), torch.from_numpy(labels.astype(np.int64))
    )
    torch_loss.backward()

    assert torch_loss.item() == pytest.approx(float(keras_loss), rel=1e-5)
    torch_gradients = [
        twin.embedding.weight.grad.numpy(),
        twin.lstm.weight_ih_l0.grad.numpy().T,
        twin.lstm.weight_hh_l0.grad.numpy().T,
        twin.lstm.bias_ih_l0.grad.numpy(),
        twin.output.weight.grad.numpy().T,
        twin.output.bias.grad.numpy(),
    ]
    assert len(keras_gradients) == len(torch_gradients)
    for keras_gradient, torch_gradient in zip(keras_gradients, torch_gradients, strict=True):
        scale = np.abs(keras_gradient).max()
        assert scale > 0
        np.testing.assert_allclose(torch_gradient, keras_gradient, atol=1e-4 * scale)


def test_a_few_adam_steps_lower_the_loss_in_both_frameworks():
    torch = pytest.importorskip("torch")
    reviews = _reviews(8)
    ids, labels = reviews["ids"][:, :40], reviews["labels"]  # Short reviews: fast steps.
    ids = np.concatenate([ids, np.zeros((8, bench_sentiment.MAX_LENGTH - 40), np.int32)], 1)
    model = bench_sentiment.build_model(dropout=0.0)
    twin = bench_sentiment.torch_equivalent(model).train()
    # Keras folds Adam's bias corrections into the step size, so its epsilon acts as
    # eps / sqrt(1 - beta_2^t), PyTorch's as eps; a tiny epsilon makes the two rules equal.
    optimizer = keras.optimizers.Adam(1e-3, epsilon=1e-12)
    torch_optimizer = torch.optim.Adam(
        bench_sentiment.trainable_parameters(twin), lr=1e-3, eps=1e-12
    )

    @tf.function
    def keras_step():
        with tf.GradientTape() as tape:
            (loss_sum, count), _ = classifier.classification_loss(model, (ids, labels), True)
            loss = loss_sum / count
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(gradients, model.trainable_variables)
        return loss

    torch_ids = torch.from_numpy(ids.astype(np.int64))
    torch_labels = torch.from_numpy(labels.astype(np.int64))
    keras_losses, torch_losses = [], []
    for _ in range(6):
        keras_losses.append(float(keras_step()))
        loss = torch.nn.functional.cross_entropy(twin(torch_ids), torch_labels)
        torch_optimizer.zero_grad()
        loss.backward()
        torch_optimizer.step()
        torch_losses.append(loss.item())

    assert keras_losses[-1] < 0.97 * keras_losses[0]
    np.testing.assert_allclose(torch_losses, keras_losses, rtol=1e-4)


@pytest.mark.slow  # 15-45 s: tracing four contenders and compiling (a2) with XLA.
def test_quick_run_writes_every_json_field(tmp_path, monkeypatch):
    # Tiny sizes for testing speed: the same code paths, steps of milliseconds.
    sizes = dict(VOCABULARY_SIZE=50, EMBEDDING_SIZE=4, UNITS=4, MAX_LENGTH=8, MIN_LENGTH=1)
    for name, value in sizes.items():
        monkeypatch.setattr(bench_sentiment, name, value)
    monkeypatch.setattr(bench_sentiment, "TOKENS_PER_STEP", 32 * 8)
    monkeypatch.setattr(bench_sentiment, "PROJECTION_REPETITIONS", 2)
    output = tmp_path / "bench.json"
    argv = ["--quick", "--output", str(output)]
    if not _has_torch():
        argv.append("--skip-torch")

    results = bench_sentiment.main(argv)

    stored = json.loads(output.read_text())
    assert (
        stored["tokens_per_step"] == 256
        and stored["trainable_parameters"] == 50 * 4 + 4 * 4 * 9 + 10
    )
    names = set(stored["contenders"])
    assert {
        bench_sentiment.ENGINE,
        bench_sentiment.ENGINE_XLA,
        bench_sentiment.FIT_DEFAULTS,
    } <= names
    for row in stored["contenders"].values():
        assert row["tokens_per_sec"] == pytest.approx(row["steps_per_sec"] * 256)
        assert len(row["samples_steps_per_sec"]) == 1
    assert stored["ours"] in (bench_sentiment.ENGINE, bench_sentiment.ENGINE_XLA)
    assert stored["probes"]["input_projection_ms"] > 0
    assert set(stored["targets"]) <= {"ours_vs_b", "ours_vs_d"}
    assert results["command"].startswith("python benchmarks/bench_sentiment.py --quick")


def _has_torch() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.parametrize("argv", [["--repeats", "0"], ["--steps", "0"], ["--steps", "150"]])
def test_bad_arguments_are_refused(argv, capsys):
    with pytest.raises(SystemExit):
        bench_sentiment.main(argv)
    assert "must" in capsys.readouterr().err
