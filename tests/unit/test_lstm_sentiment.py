"""ch07.lstm_sentiment's presets, parameter counts and Fig. 7.23 (no training)."""

import json

import numpy as np
import pytest

from experiments.ch07_sequences import lstm_sentiment
from fdl_tf2 import config as config_lib


def _preset(name: str) -> lstm_sentiment.Config:
    return config_lib.from_argv(lstm_sentiment.Config, lstm_sentiment.CONFIGS, [f"--config={name}"])


def _trainable(model) -> int:
    return sum(int(np.prod(weight.shape)) for weight in model.trainable_weights)


def test_book_presets_are_the_books_settings():
    book = _preset("book")
    assert (book.vocabulary_size, book.max_length, book.batch_size) == (30_000, 500, 32)
    assert (book.embedding_size, book.units, book.dropout) == (512, 512, 0.5)
    assert (book.padding, book.truncating, book.readout) == ("post", "post", "last")
    assert book.learning_rate == 1e-3 and book.adam_epsilon == 1e-8
    assert (book.eval_every_steps, book.checkpoints_to_keep) == (100, 100)
    assert book.per_step_input_dropout and not book.faithful_sigmoid_logits
    faithful = _preset("book_faithful")
    assert faithful.faithful_sigmoid_logits and faithful.sort_by_len
    assert config_lib.replace(faithful, faithful_sigmoid_logits=False, sort_by_len=False) == book


def test_the_books_model_has_17460230_trainable_parameters():
    # Embedding 30000 * 512 + LSTM 4 * 512 * (512 + 512 + 1) + Dense 512 * 2 + 2 + BN 2 * 2.
    faithful = lstm_sentiment.build_model(_preset("book_faithful"), 30_000)
    assert _trainable(faithful) == 15_360_000 + 2_099_200 + 1_026 + 4 == 17_460_230
    assert faithful.get_layer("output_sigmoid").__class__.__name__ == "SigmoidLogits"
    book = lstm_sentiment.build_model(_preset("book"), 30_000)
    assert _trainable(book) == 17_460_226  # Linear logits: no batch norm.
    assert book.get_layer("lstm").use_cudnn == "auto"  # Post-padding without XLA.


def test_cpu_preset_model_size_and_layout():
    cpu = _preset("cpu")
    model = lstm_sentiment.build_model(cpu, 30_000)
    # Embedding 30000 * 128 + LSTM 4 * 128 * (128 + 128 + 1) + Dense 128 * 2 + 2.
    assert _trainable(model) == 3_840_000 + 131_584 + 258 == 3_971_842
    assert (cpu.readout, cpu.truncating, cpu.lr_schedule) == ("max", "pre", "cosine")
    assert not cpu.jit_compile and cpu.dataset == "imdb"


def test_fig7_23_plots_train_and_validation_curves_against_the_step(tmp_path):
    lines = []
    for step in (100, 200, 300):
        for split in ("train", "validation"):
            lines.append({"step": step, "split": split, "cost": 1 / step, "accuracy": 0.5})
    lines.append({"step": 300, "split": "test", "cost": 0.4, "accuracy": 0.8})
    metrics = tmp_path / "metrics.jsonl"
    metrics.write_text("".join(json.dumps(line) + "\n" for line in lines))

    lstm_sentiment.plot_fig7_23(metrics, tmp_path / "fig.png")

    assert (tmp_path / "fig.png").stat().st_size > 5_000


@pytest.mark.parametrize("preset", sorted(lstm_sentiment.CONFIGS))
def test_every_preset_resolves(preset):
    assert isinstance(_preset(preset), lstm_sentiment.Config)
