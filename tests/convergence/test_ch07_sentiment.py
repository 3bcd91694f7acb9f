"""Chapter-7 sentiment LSTM convergence on the real IMDB reviews (slow; `make test-slow`).

The `cpu` preset: about 20-35 minutes of training on 2 CPU cores (4 epochs of 703 steps at
2-4 steps/s), plus the evaluations and the export. The `cpu_w2v` preset (3 epochs from word2vec
vectors of the training reviews) is the one recorded at the acceptance figure of 88.5 %.
"""

import os
from pathlib import Path

import pytest

from experiments.ch07_sequences import lstm_sentiment
from fdl_tf2.data import imdb

pytestmark = [pytest.mark.slow, pytest.mark.data]


@pytest.fixture
def imdb_dir() -> Path:
    """The data root holding the offline IMDB TFRecords, or a skip naming what is missing."""
    root = os.environ.get("FDL_DATA_DIR")
    if not root:
        pytest.skip("real IMDB needs $FDL_DATA_DIR (e.g. ../shared/data)")
    missing = [f.name for f in imdb.FILES if not (Path(root) / "imdb" / f.name).is_file()]
    if missing:
        pytest.skip(f"missing IMDB files under {root}/imdb: {missing}")
    return Path(root)


def test_lstm_sentiment_cpu_preset_beats_dai_le_homl3_and_the_book(run_experiment, imdb_dir):
    results = run_experiment(lstm_sentiment, imdb_dir, "--config=cpu")
    # The real 25,000-review test set: measured 87.66 % (Dai & Le 2015 86.5 %, HOML3 87.0 %);
    # the acceptance figure of 88.5 % is the cpu_w2v preset's (below).
    assert results["test_accuracy"] >= 0.87
    # The book's ~86 % is on its 2,500-review validation split.
    assert results["validation_accuracy"] >= 0.86
    assert results["train_seconds"] <= 90 * 60


def test_lstm_sentiment_cpu_w2v_preset_reaches_the_acceptance_figure(run_experiment, imdb_dir):
    # 3 epochs from word2vec vectors of the 22,500 training reviews (about 10-20 minutes).
    results = run_experiment(lstm_sentiment, imdb_dir, "--config=cpu_w2v")
    assert results["test_accuracy"] >= 0.885
    assert results["validation_accuracy"] >= 0.86
    assert results["train_seconds"] <= 90 * 60
    embedding = results["pretrained_embeddings"]
    assert embedding["name"] == "word2vec_train" and embedding["rows_set"] == 29_998
    assert embedding["corpus"]["sentences"] == 22_500  # The training reviews only.
