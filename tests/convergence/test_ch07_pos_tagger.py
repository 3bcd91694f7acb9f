"""Chapter-7 POS tagger on the real CoNLL-2000 files (slow; `make test-slow`).

Each test trains the project's word vectors first (about 2.5 minutes on 2 cores: the tests'
per-user cache is a fresh temporary folder), then runs a preset: the book preset for two
epochs (about a minute) or the cpu preset (about 5 minutes of training).
"""

import os
from pathlib import Path

import pytest

from experiments.ch07_sequences import pos_tagger
from fdl_tf2.data import conll2000, text_corpus
from fdl_tf2.models import pos_tagger as tagger_model

pytestmark = [pytest.mark.slow, pytest.mark.data]
pytest.importorskip("gensim")  # The "text" extra trains the vectors.


@pytest.fixture
def text_root() -> Path:
    """The data root holding CoNLL-2000 and the Gutenberg books, or a skip naming what lacks."""
    root = os.environ.get("FDL_DATA_DIR")
    if not root:
        pytest.skip("real CoNLL-2000 and Gutenberg text need $FDL_DATA_DIR (e.g. ../shared/data)")
    needed = [Path(root) / conll2000.DATASET / f.name for f in conll2000.FILES]
    needed += [
        Path(root) / text_corpus.GUTENBERG_DATASET / f.name
        for f in text_corpus.GUTENBERG_FILES.values()
    ]
    missing = [str(path) for path in needed if not path.is_file()]
    if missing:
        pytest.skip(f"missing data files: {missing}")
    return Path(root)


def test_book_preset_costs_sit_just_above_the_sigmoid_logits_floor(run_experiment, text_root):
    results = run_experiment(pos_tagger, text_root, "--config=book", "--epochs=2", "--export=False")
    first, second = results["first_epochs"]
    floor = tagger_model.sigmoid_logits_loss_floor(44)
    # The book: 3.149 / 0.336 and 2.972 / 0.301 with GoogleNews vectors.
    assert floor < second["cost"] < first["cost"] < 3.3
    assert second["validation_error"] < first["validation_error"] < 0.5
    assert results["validation_is_test"] and results["num_tags"] == 44


def test_cpu_preset_tags_the_test_set_and_its_export_agrees(run_experiment, text_root):
    results = run_experiment(pos_tagger, text_root, "--config=cpu")
    # Measured 0.9378 (seed 0) with the project's vectors, 3 points above the most frequent
    # tag of each word (0.9032 on this test set).
    assert results["test_accuracy"] >= 0.93
    assert results["vectors"]["coverage"]["token_coverage"] > 0.95
    served = results["export_test"]
    # Measured 0.9331: the same predictions, less the 105 test sentences in which serving merges
    # a phrase whose gold tags differ (`text_endpoints`).
    assert abs(served["accuracy"] - results["test_accuracy"]) < 0.01
    assert len(results["demo"]) == len(conll2000.DEMO_SENTENCE)


@pytest.mark.xfail(
    reason="The issue's acceptance figure: not reached with the project's vectors and the "
    "book's left-context window (see experiments/README.md for the measured figures).",
    strict=False,
)
def test_cpu_preset_reaches_the_acceptance_figure(run_experiment, text_root):
    results = run_experiment(pos_tagger, text_root, "--config=cpu", "--export=False")
    assert results["test_accuracy"] >= pos_tagger.ACCEPTANCE_TEST_ACCURACY
