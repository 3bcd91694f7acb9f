"""ch07.translation: presets, config checks, the book's console lines, resume and `--decode`."""

import io
import json
import sys

import numpy as np
import pytest

from experiments.ch07_sequences import translation as experiment
from fdl_tf2 import config as config_lib
from fdl_tf2.data import multi30k, toy_translation, translation
from fdl_tf2.models import bleu, seq2seq


def _preset(name: str, *arguments: str) -> experiment.Config:
    return config_lib.from_argv(
        experiment.Config, experiment.CONFIGS, [f"--config={name}", *arguments]
    )


def test_book_preset_is_the_repository_flags():
    book = _preset("book")
    assert (book.units, book.num_layers, book.cell, book.attention) == (1024, 3, "gru", "additive")
    assert (book.source_vocabulary_size, book.target_vocabulary_size) == (40_000, 40_000)
    assert (book.optimizer, book.learning_rate, book.lr_schedule) == ("sgd", 0.5, "book_decay")
    assert (book.learning_rate_decay_factor, book.max_gradient_norm) == (0.99, 5.0)
    assert (book.batch_size, book.steps_per_checkpoint, book.num_samples) == (64, 200, 512)
    assert experiment.BUCKET_SETS[book.buckets] == ((5, 10), (10, 15), (20, 25), (40, 50))
    assert book.reverse_source and book.beam_size == 1 and book.loss_average == "sequence"
    # The book-size model: 169,079,872 parameters (checked against the built model in
    # tests/unit/models/test_seq2seq.py at a small size; building it here would take 700 MB).
    assert seq2seq.book_parameter_count(40_004, 40_004) > 169_000_000


@pytest.mark.parametrize(
    "field, value",
    [
        ("dataset", "wmt"),
        ("buckets", "huge"),
        ("optimizer", "rmsprop"),
        ("lr_schedule", "step"),
        ("cell", "rnn"),
        ("attention", "luong"),
        ("loss_average", "batch"),
        ("target_language", "es"),
        ("target_language", "en"),
        ("beam_size", "0"),
    ],
)
def test_unusable_config_values_are_refused_before_anything_runs(field, value, tmp_path):
    config = _preset("smoke", f"--{field}={value}", f"--workdir={tmp_path / 'run'}")
    with pytest.raises(ValueError, match=field if field != "target_language" else "language"):
        experiment.main(config)
    assert not (tmp_path / "run").exists()


def test_unknown_config_fields_are_refused():
    with pytest.raises((ValueError, SystemExit)):
        _preset("smoke", "--beam_width=4")


def test_book_console_lines():
    class Rate:
        learning_rate = type("V", (), {"numpy": lambda self: np.float32(0.495)})()

    console = experiment.book_console(Rate(), 3)
    report = {
        "step": 200,
        "steps_per_sec": 1 / 0.61,
        "train": {"cost": np.log(1538.98)},
        "validation": {"bucket_0_perplexity": 164.05, "bucket_2_perplexity": 269.09},
    }
    assert console(report).splitlines() == [
        "global step 200 learning rate 0.4950 step-time 0.61 perplexity 1538.98",
        "  eval: bucket 0 perplexity 164.05",
        "  eval: empty bucket 1",
        "  eval: bucket 2 perplexity 269.09",
    ]


def test_toy_corpus_moves_adjectives_behind_their_nouns():
    english, french = toy_translation.toy_pairs(50, seed=3)
    assert toy_translation.toy_pairs(50, seed=3) == (english, french)
    pairs = zip(english, french, strict=True)
    assert all(toy_translation.translate_reference(e) == f for e, f in pairs)
    assert toy_translation.translate_reference("the big red dog sees a small cat.") == (
        "le chien rouge grand voit un chat petit."
    )
    lengths = [len(translation.basic_tokenizer(s)) for s in english + french]
    assert min(lengths) == 6 and max(lengths) <= 12
    with pytest.raises(KeyError):
        toy_translation.translate_reference("the purple dog.")


def test_bleu_protocols():
    references = ["Un homme dort sur un canapé vert.", "Deux chiens courent dans l'herbe."]
    perfect = bleu.corpus_bleu(references, references)
    assert perfect["bleu"] == pytest.approx(100.0) and "tok:13a" in perfect["signature"]
    assert "case:mixed" in perfect["signature"]
    lower = [r.lower() for r in references]
    assert bleu.corpus_bleu(lower, references)["bleu"] < 100.0
    assert bleu.corpus_bleu(lower, references, "tokenized_lowercase")["bleu"] == pytest.approx(100)
    assert "tok:none" in bleu.corpus_bleu(lower, references, "tokenized_lowercase")["signature"]
    with pytest.raises(ValueError, match="protocol"):
        bleu.corpus_bleu(references, references, "meteor")
    with pytest.raises(ValueError, match="hypotheses"):
        bleu.corpus_bleu(references[:1], references)


def _dev_perplexity(results_dir) -> float:
    rows = [json.loads(line) for line in (results_dir / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if r["split"] == "validation"][-1]["perplexity"]


def test_an_interrupted_run_resumes_exactly_and_decodes_interactively(tmp_path, monkeypatch):
    common = ["--export=False", "--num_steps=40", "--steps_per_checkpoint=20", "--bleu_sentences=8"]
    straight = experiment.main(_preset("smoke", *common, f"--workdir={tmp_path / 'straight'}"))
    resumed_dir = f"--workdir={tmp_path / 'resumed'}"
    experiment.main(_preset("smoke", *common, "--max_steps=20", resumed_dir))
    resumed = experiment.main(_preset("smoke", *common, resumed_dir))
    assert resumed["steps"] == straight["steps"] == 40
    assert _dev_perplexity(tmp_path / "resumed") == _dev_perplexity(tmp_path / "straight")
    assert resumed["test_bleu"] == straight["test_bleu"]
    # The book's `--decode` loop on the latest checkpoint: a prompt, one line per sentence.
    monkeypatch.setattr(sys, "stdin", io.StringIO("the big dog sees a cat.\n\n"))
    output = io.StringIO()
    monkeypatch.setattr(sys, "stdout", output)
    decoded = experiment.main(_preset("smoke", *common, "--decode=True", resumed_dir))
    monkeypatch.undo()
    # The run's own lines, then a translation after each prompt (the empty line has one too).
    _, *answers, last = output.getvalue().split("> ")
    assert decoded["decoded_with"].endswith("ckpt-40")
    assert len(answers) == 2 and all(a.strip() for a in answers) and last == ""


def test_book_training_rule_follows_the_logged_losses(tmp_path):
    """SGD 0.5 with the book's decay: each interval's rate follows from the costs logged before."""
    config = _preset(
        "smoke",
        "--optimizer=sgd",
        "--lr_schedule=book_decay",
        "--learning_rate=0.5",
        "--num_steps=120",
        "--steps_per_checkpoint=3",
        "--batch_size=4",  # Noisy interval losses: the rule fires a few times.
        "--export=False",
        "--bleu_sentences=4",
        f"--workdir={tmp_path / 'run'}",
    )
    experiment.main(config)
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    train = [r for r in map(json.loads, lines) if r["split"] == "train"]
    assert len(train) == 40
    rate, previous = 0.5, []
    for record in train:  # The rate of an interval is the one set after the interval before.
        assert record["learning_rate"] == pytest.approx(rate, rel=1e-6)
        if len(previous) > 2 and record["cost"] > max(previous[-3:]):
            rate *= 0.99
        previous.append(record["cost"])
    assert rate < 0.5 * 0.99  # At least two decays were checked.


def test_attention_figure_has_a_sentence_in_every_source_language():
    """Fig. 7.33 is drawn on a sentence of the SOURCE language (de -> en once got English)."""
    assert set(experiment.ATTENTION_SENTENCES) == set(multi30k.LANGUAGES)
    assert "Mann" in experiment.ATTENTION_SENTENCES["de"]
    assert "fille" in experiment.ATTENTION_SENTENCES["fr"]
