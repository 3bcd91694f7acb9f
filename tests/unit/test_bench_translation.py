"""The translation benchmark's PyTorch twin and sampled softmax, its data and its JSON."""

import itertools
import json

import numpy as np
import pytest
import tensorflow as tf

from benchmarks import bench_translation
from fdl_tf2.data import translation
from fdl_tf2.models import seq2seq

# The cpu preset's model on the preset's vocabularies: embeddings, output projection, two GRU
# layers (reset_after=False: one bias), input feeding, W1, W2 + b, v, output dense.
UNITS, VS, VT = 256, 11_185, 11_501
TRAINABLE_PARAMETERS = (
    (VS + VT) * UNITS
    + VT * (UNITS + 1)
    + 2 * 3 * (2 * UNITS * UNITS + UNITS)
    + (2 * UNITS * UNITS + UNITS)
    + UNITS * UNITS
    + (UNITS * UNITS + UNITS)
    + UNITS
    + (2 * UNITS * UNITS + UNITS)
)


def _has_torch() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def _small_model(dropout: float = 0.0) -> seq2seq.Seq2SeqAttention:
    return seq2seq.Seq2SeqAttention(30, 40, units=8, num_layers=1, dropout=dropout, seed=0)


def test_random_pairs_fill_every_position_of_the_bucket():
    pairs = bench_translation.random_pairs(128)
    assert pairs.buckets == ((20, 25),) and pairs.sizes == (128,)
    encoder, decoder = pairs.encoder_inputs[0], pairs.decoder_inputs[0]
    targets, weights = pairs.targets[0], pairs.weights[0]
    assert encoder.shape == (128, 20) and decoder.shape == targets.shape == (128, 25)
    assert (encoder >= 4).all() and (encoder < VS).all()
    assert (decoder[:, 0] == translation.GO_ID).all() and (
        targets[:, -1] == translation.EOS_ID
    ).all()
    np.testing.assert_array_equal(decoder[:, 1:], targets[:, :-1])  # Targets: the next inputs.
    assert (targets[:, :-1] >= 4).all() and (targets < VT).all()
    assert (weights == 1).all() and bench_translation.TARGET_TOKENS_PER_STEP == 64 * 25


def test_every_contender_trains_the_same_parameters():
    model = bench_translation.build_model()
    assert bench_translation.trainable_parameter_count(model) == TRAINABLE_PARAMETERS == 9_945_581
    sampled = bench_translation.build_sampled_fit_model()
    assert bench_translation.trainable_parameter_count(sampled) == TRAINABLE_PARAMETERS
    if not _has_torch():
        return
    twin = bench_translation.torch_equivalent(model)
    trainable = bench_translation.trainable_parameters(twin)
    assert sum(parameter.numel() for parameter in trainable) == TRAINABLE_PARAMETERS
    for gru, suffix in ((twin.encoder, "_l0"), (twin.decoder_cell, "")):
        bias_hh = getattr(gru, f"bias_hh{suffix}")
        assert not bias_hh.requires_grad and not bias_hh.any()
    assert twin.dropout.p == pytest.approx(0.3)


def test_the_twin_computes_the_keras_outputs_when_the_reset_gate_cannot_matter():
    # Keras' GRU (reset_after=False) resets h before the recurrent product, PyTorch's after
    # it; with the candidate's recurrent block zero both compute tanh(W x + b), so the whole
    # forward pass must agree: the gate order, transposes and wiring of the copy are right.
    torch = pytest.importorskip("torch")
    model = _small_model()
    rng = np.random.default_rng(1)
    for cell in (model.encoder_layers[0].cell, model.decoder_cells[0]):
        recurrent = cell.recurrent_kernel.numpy()
        recurrent[:, 2 * 8 :] = 0.0
        cell.recurrent_kernel.assign(recurrent)
        cell.bias.assign(rng.normal(0.0, 0.5, cell.bias.shape).astype(np.float32))
    encoder_inputs = rng.integers(4, 30, (3, 6)).astype(np.int32)
    decoder_inputs = rng.integers(4, 40, (3, 5)).astype(np.int32)
    expected = model.teacher_forced(encoder_inputs, decoder_inputs).outputs.numpy()

    twin = bench_translation.torch_equivalent(model).eval()
    with torch.no_grad():
        outputs = twin(
            (torch.from_numpy(encoder_inputs).long(), torch.from_numpy(decoder_inputs).long())
        )
    np.testing.assert_allclose(outputs.numpy(), expected, atol=1e-5)


def test_torch_sampled_softmax_over_all_classes_is_the_full_softmax():
    torch = pytest.importorskip("torch")
    generator = torch.Generator().manual_seed(0)
    weight = torch.randn(12, 5, generator=generator)
    bias = torch.randn(12, generator=generator)
    inputs = torch.randn(7, 5, generator=generator)
    labels = torch.randint(0, 12, (7,), generator=generator)
    ones = torch.ones(12)

    losses = bench_translation.sampled_softmax_loss(
        weight, bias, labels, inputs, torch.arange(12), ones[:7], ones
    )

    expected = torch.nn.functional.cross_entropy(inputs @ weight.T + bias, labels, reduction="none")
    np.testing.assert_allclose(losses.numpy(), expected.numpy(), rtol=1e-6, atol=1e-6)


def test_torch_sampled_softmax_equals_tensorflows_on_the_same_negatives():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    classes, units, rows, num_sampled = 50, 6, 9, 20
    weight = rng.normal(size=(classes, units)).astype(np.float32)
    bias = rng.normal(size=classes).astype(np.float32)
    inputs = rng.normal(size=(rows, units)).astype(np.float32)
    labels = rng.integers(0, 8, rows)  # Small ids: accidental hits are likely.
    labels[:3] = [0, 1, 5]
    # Repeated candidates (0 three times, 1 twice), as a sampler with replacement would give:
    # TensorFlow masks only one copy of a true class.
    sampled = tf.constant([0, 0, 1, 0, 1, *range(20, 20 + num_sampled - 5)], tf.int64)
    counts = seq2seq.unique_sampling_expected_counts(classes, num_sampled).astype(np.float32)
    true_expected = tf.constant(counts[labels][:, None])
    sampled_expected = tf.constant(counts[sampled.numpy()])
    expected = tf.nn.sampled_softmax_loss(
        weight, bias, labels[:, None], inputs, num_sampled, classes,
        sampled_values=(sampled, true_expected, sampled_expected),
    )  # fmt: skip

    torch_sampled = torch.from_numpy(sampled.numpy())
    torch_labels = torch.from_numpy(labels)
    counts = bench_translation.log_uniform_expected_count(torch_sampled, num_sampled, classes)
    true_counts = bench_translation.log_uniform_expected_count(torch_labels, num_sampled, classes)
    np.testing.assert_allclose(counts.numpy(), sampled_expected.numpy(), rtol=1e-5)
    np.testing.assert_allclose(true_counts.numpy(), true_expected.numpy()[:, 0], rtol=1e-5)
    losses = bench_translation.sampled_softmax_loss(
        torch.from_numpy(weight), torch.from_numpy(bias), torch_labels,
        torch.from_numpy(inputs), torch_sampled, true_counts, counts,
    )  # fmt: skip
    np.testing.assert_allclose(losses.numpy(), expected.numpy(), rtol=1e-5, atol=1e-5)
    # TensorFlow masks only one copy of a label drawn several times (labels 0 and 1 in the
    # first rows); masking every copy gives a lower loss on exactly those rows.
    every_copy = bench_translation.sampled_softmax_loss(
        torch.from_numpy(weight), torch.from_numpy(bias), torch_labels,
        torch.from_numpy(inputs), torch_sampled, true_counts, counts, every_copy=True,
    ).numpy()  # fmt: skip
    copies = (labels[:, None] == sampled.numpy()[None, :]).sum(1)
    assert copies.max() > 1
    np.testing.assert_allclose(every_copy[copies <= 1], expected.numpy()[copies <= 1], rtol=1e-5)
    assert (every_copy[copies > 1] < expected.numpy()[copies > 1] - 1e-3).all()


def _inclusion_probabilities(probabilities: np.ndarray, num_sampled: int) -> np.ndarray:
    """P(class k among the candidates) under successive sampling, by enumeration."""
    inclusion = np.zeros(len(probabilities))
    for order in itertools.permutations(range(len(probabilities)), num_sampled):
        chance, left = 1.0, 1.0
        for k in order:
            chance, left = chance * probabilities[k] / left, left - probabilities[k]
        inclusion[list(order)] += chance
    return inclusion


def test_torch_sampler_draws_unique_log_uniform_candidates():
    torch = pytest.importorskip("torch")
    classes, num_sampled, rounds = 8, 3, 4000
    generator = torch.Generator().manual_seed(0)
    draws = [
        bench_translation.log_uniform_sample(num_sampled, classes, generator) for _ in range(rounds)
    ]
    assert all(len(set(d.tolist())) == num_sampled and d.dtype == torch.int64 for d in draws)
    frequencies = np.bincount(torch.cat(draws).numpy(), minlength=classes) / rounds
    expected = _inclusion_probabilities(seq2seq.log_uniform_probabilities(classes), num_sampled)
    np.testing.assert_allclose(frequencies, expected, atol=0.03)  # ~4 standard errors


@pytest.mark.slow  # 20-60 s: tracing four trainers, an export and three decoders.
def test_quick_run_writes_every_json_field(tmp_path, monkeypatch):
    # Tiny sizes for testing speed: the same code paths, steps of milliseconds.
    sizes = dict(
        SOURCE_VOCABULARY_SIZE=60, TARGET_VOCABULARY_SIZE=70, UNITS=8, NUM_SAMPLED=16,
        SOURCE_LENGTH=5, TARGET_LENGTH=6, TARGET_TOKENS_PER_STEP=64 * 6, DECODE_BATCH=10,
        QUICK_DECODE_SENTENCES=20, OUTPUT_TOKENS=4,
    )  # fmt: skip
    for name, value in sizes.items():
        monkeypatch.setattr(bench_translation, name, value)
    output = tmp_path / "bench.json"
    argv = ["--quick", "--output", str(output)]
    if not _has_torch():
        argv.append("--skip-torch")

    results = bench_translation.main(argv)

    stored = json.loads(output.read_text())
    assert stored["target_tokens_per_step"] == 384 and stored["bucket"] == [5, 6]
    names = set(stored["contenders"])
    assert {
        bench_translation.ENGINE,
        bench_translation.FIT_FULL,
        bench_translation.FIT_SAMPLED,
    } <= names
    assert (bench_translation.TORCH in names) == _has_torch()
    for row in stored["contenders"].values():
        assert row["target_tokens_per_sec"] == pytest.approx(row["steps_per_sec"] * 384)
        assert len(row["samples_steps_per_sec"]) == 1
    assert stored["ours"] == bench_translation.ENGINE
    assert set(stored["targets"]) <= {"ours_vs_b", "ours_vs_d"}
    assert set(stored["ratios"]) == {
        "ours_over_fit_full_softmax", "ours_over_fit_sampled_softmax", "ours_over_torch",
    }  # fmt: skip
    decoding = stored["decoding"]
    assert set(decoding["contenders"]) == {
        bench_translation.GRAPH_BEAM,
        bench_translation.GRAPH_GREEDY,
        bench_translation.PYTHON_BEAM,
    }
    rows = decoding["contenders"]
    assert rows[bench_translation.GRAPH_BEAM]["sentences_per_measurement"] == 20
    assert rows[bench_translation.PYTHON_BEAM]["sentences_per_measurement"] == 1
    for row in rows.values():
        assert row["sentences_per_sec"] > 0 and row["mean_output_length"] == 4
    # The Python reference and the exported graph run the same beam search on the same weights.
    assert decoding["python_equals_graph"] == "1/1"
    assert decoding["beam_size"] == 5 and decoding["length_penalty"] == 0.6
    assert decoding["max_output_tokens"] == 4 and decoding["eos_bias"] < -1e3
    assert results["command"].startswith("python benchmarks/bench_translation.py --quick")


@pytest.mark.parametrize("argv", [["--repeats", "0"], ["--steps", "0"], ["--steps", "30"]])
def test_bad_arguments_are_refused(argv, capsys):
    with pytest.raises(SystemExit):
        bench_translation.main(argv)
    assert "must" in capsys.readouterr().err
