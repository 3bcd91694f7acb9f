"""The skip-gram race: both contenders train, on the same corpus and settings; words/s."""

import json
import math
import threading
import time

import numpy as np
import pytest

from benchmarks import bench_skipgram
from fdl_tf2.models import word2vec

TINY_TOKENS = 5_000
"""The first tokens of gensim's `lee_background.cor`: one epoch is a few dozen steps."""


def _tiny_corpus():
    """The cpu preset on the first `TINY_TOKENS` tokens of lee: `(config, ids (n,), vocabulary)`."""
    config = bench_skipgram.bench_config("lee", TINY_TOKENS)
    ids, vocabulary = bench_skipgram.read_ids(config)
    return config, ids, vocabulary


def _mean_loss(ours: bench_skipgram.Ours, batch) -> float:
    (loss_sum, count), _ = ours.compute_loss(ours.model, batch, False)
    return float(loss_sum / count)


def test_the_race_uses_the_cpu_presets_settings():
    preset = bench_skipgram.PRESET
    assert preset.objective == "negative_sampling"
    assert (preset.batch_size, preset.learning_rate) == (
        word2vec.FAST_BATCH_SIZE,
        word2vec.FAST_LEARNING_RATE,
    )
    assert (preset.lr_schedule, preset.initialization, preset.sample) == (
        "linear",
        "word2vec",
        1e-3,
    )
    assert preset.jit_compile and preset.steps_per_execution == 100
    assert (preset.num_sampled, preset.skip_window, preset.embedding_size) == (64, 5, 128)
    assert (preset.vocabulary_size, preset.corpus) == (10_000, "gutenberg")


def test_gensim_keeps_every_word_of_a_small_slice(tmp_path):
    # The first 5,000 tokens hold many words seen fewer than 5 times (gensim's default
    # min_count): train_gensim must still return a vector for every word of our vocabulary.
    config, ids, vocabulary = _tiny_corpus()
    assert (vocabulary.counts[1:] < 5).sum() > 100
    matrix, seconds = word2vec.train_gensim(
        ids, vocabulary.words, vocabulary.counts, embedding_size=8, epochs=1, workers=1
    )
    assert matrix.shape == (len(vocabulary.words), 8) and seconds > 0
    assert not np.any(matrix[0]) and np.all(np.any(matrix[1:] != 0, axis=1))


def _spin(seconds: float) -> None:
    """Keeps one core busy for `seconds`, as tf.data's background build does."""
    stop = time.perf_counter() + seconds
    while time.perf_counter() < stop:
        pass


def test_wait_until_idle_waits_for_background_work():
    worker = threading.Thread(target=_spin, args=(0.3,))
    worker.start()
    waited = bench_skipgram.wait_until_idle()
    worker.join()
    assert 0.25 < waited < 2.0
    assert bench_skipgram.wait_until_idle() < 0.2  # Idle now: one interval or a few.


def test_ours_trains_the_tiny_corpus_and_its_loss_falls():
    config, ids, vocabulary = _tiny_corpus()
    ours = bench_skipgram.make_ours(config, ids, vocabulary, total_epochs=2)
    layer = word2vec.skipgram_layer(ours.model)
    assert (layer.vocabulary_size, layer.embedding_size) == (len(vocabulary.words), 128)
    # The stream of the experiment: 256 pairs and 64 shared negatives per step, window 5 and
    # subsampling 1e-3 setting the steps per epoch.
    keep = word2vec.keep_probabilities(vocabulary.counts, config.sample)
    expected_pairs = word2vec.expected_pairs(ids, keep, config.skip_window)
    assert ours.steps_per_epoch == int(expected_pairs // config.batch_size) > 10
    batch = next(iter(ours.batches(0)))
    assert [tuple(tensor.shape) for tensor in batch] == [(256,), (256,), (64,)]

    embeddings_before = layer.embeddings.numpy().copy()
    assert not layer.output_weights.numpy().any()  # word2vec's start: W = 0, all scores 0.
    loss_before = _mean_loss(ours, batch)
    # Every score is 0: softplus(0) = log 2 for the positive and each of the 64 negatives
    # (a negative equal to the pair's context is skipped).
    assert loss_before == pytest.approx(65 * math.log(2), rel=0.05)

    assert ours.run(2) > 0
    assert len(ours.idle_waits) == 1 and ours.idle_waits[0] >= bench_skipgram.IDLE_INTERVAL_S
    assert int(ours.optimizer.iterations) == 2 * ours.steps_per_epoch
    assert ours.tracing_count() == 1
    loss_after = _mean_loss(ours, batch)
    assert np.isfinite(loss_after) and loss_after < 0.5 * loss_before
    assert not np.array_equal(embeddings_before, layer.embeddings.numpy())
    # The linear decay spans exactly the epochs asked for: it ends at 1e-4 per pair.
    assert float(ours.optimizer.learning_rate) == pytest.approx(1e-4 * config.batch_size)


def test_gensim_gets_our_ids_vocabulary_and_the_same_settings(monkeypatch):
    config, ids, vocabulary = _tiny_corpus()
    calls = []
    train_gensim = word2vec.train_gensim

    def recording_train_gensim(*args, **kwargs):
        calls.append((args, kwargs))
        return train_gensim(*args, **kwargs)

    monkeypatch.setattr(word2vec, "train_gensim", recording_train_gensim)
    assert bench_skipgram.make_gensim_runner(config, ids, vocabulary)(1) > 0
    (passed_ids, words, counts), settings = calls[0]
    assert passed_ids is ids
    assert words == vocabulary.words and counts is vocabulary.counts
    assert settings == dict(
        embedding_size=config.embedding_size,
        window=config.skip_window,
        negative=config.num_sampled,
        epochs=1,
        sample=config.sample,
        workers=2,
        seed=config.seed + 1,
    )


def test_words_per_second_is_tokens_times_epochs_over_seconds():
    seconds_per_epoch = {bench_skipgram.OURS: 2.0, bench_skipgram.GENSIM: 4.0}
    runners = {
        name: (lambda epochs, seconds=seconds: epochs * seconds)
        for name, seconds in seconds_per_epoch.items()
    }
    samples = bench_skipgram.race(runners, num_tokens=10_000, epochs_per_rep=3, repeats=2)
    assert samples == {bench_skipgram.OURS: [5_000.0] * 2, bench_skipgram.GENSIM: [2_500.0] * 2}
    summary = bench_skipgram.summarize(
        samples, num_tokens=10_000, steps_per_epoch=50, batch_size=256
    )
    ours, gensim = (summary["contenders"][name] for name in seconds_per_epoch)
    assert ours["seconds_per_epoch"] == 2.0 and gensim["seconds_per_epoch"] == 4.0
    assert ours["steps_per_sec"] == 25.0 and ours["pairs_per_sec"] == 25.0 * 256
    assert (ours["ours_ratio"], gensim["ours_ratio"]) == (1.0, 2.0)
    assert summary["per_repeat_ratios"] == [2.0, 2.0]
    assert summary["targets"]["ours_vs_gensim"] == (
        "ours >= 1.0x gensim: PASS (ratio of the medians 2.00x)"
    )


@pytest.mark.parametrize(
    "ours, verdict", [([1.1, 1.2, 1.1], "PASS"), ([0.9, 1.1, 0.9], "NOISE"), ([0.9] * 3, "FAIL")]
)
def test_the_target_is_judged_per_repeat(ours, verdict):
    samples = {bench_skipgram.OURS: ours, bench_skipgram.GENSIM: [1.0] * 3}
    summary = bench_skipgram.summarize(samples, num_tokens=10, steps_per_epoch=1, batch_size=1)
    assert summary["targets"]["ours_vs_gensim"].startswith(f"ours >= 1.0x gensim: {verdict} (")


def test_a_missing_corpus_is_a_clear_error_without_a_traceback(tmp_path):
    with pytest.raises(SystemExit) as raised:
        bench_skipgram.main(["--quick", "--data-dir", str(tmp_path), "--output", "unused.json"])
    message = str(raised.value.code)
    assert message.startswith("error: Dataset 'text/gutenberg' is missing")
    assert str(tmp_path) in message and "--corpus lee" in message


def test_the_script_writes_the_shared_header_and_both_rates(tmp_path, capsys):
    output = tmp_path / "bench_skipgram.json"
    argv = ["--corpus", "lee", "--max-tokens", str(TINY_TOKENS), "--repeats", "1", "--skip-torch"]
    argv += ["--output", str(output)]
    _, ids, vocabulary = _tiny_corpus()
    results = bench_skipgram.main(argv)
    assert json.loads(output.read_text()) == results
    header = ("benchmark", "command", "machine", "cpu_features", "load_average", "repeats")
    assert all(key in results for key in (*header, "steps_per_measurement"))
    assert results["command"] == "python benchmarks/bench_skipgram.py " + " ".join(argv)
    assert results["corpus"]["tokens"] == len(ids) == TINY_TOKENS
    assert results["corpus"]["vocabulary_size"] == len(vocabulary.words)
    assert results["steps_per_measurement"] == results["ours_steps_per_epoch"] > 10
    for row in results["contenders"].values():
        assert row["words_per_sec"] > 0 and len(row["samples_words_per_sec"]) == 1
    assert results["gensim"]["fast_version"] >= 0  # gensim's compiled routines ran.
    out = capsys.readouterr().out
    assert results["targets"]["ours_vs_gensim"] in out
    assert "Per-repeat ours/gensim" in out
