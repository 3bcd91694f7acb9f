"""Chapter-7 translator convergence on the real Multi30k captions (slow; `make test-slow`).

The `cpu` preset is the acceptance run: 8,000 steps of batch 64 (17.7 epochs of the 29,000
pairs) on 2 CPU cores, then greedy and beam sacreBLEU on test_2016_flickr and the export.
"""

import os
from pathlib import Path

import pytest

from experiments.ch07_sequences import translation as experiment
from fdl_tf2.data import multi30k

pytestmark = [pytest.mark.slow, pytest.mark.data]


@pytest.fixture
def multi30k_dir() -> Path:
    """The data root holding the offline Multi30k files, or a skip naming what is missing."""
    root = os.environ.get("FDL_DATA_DIR")
    if not root:
        pytest.skip("real Multi30k needs $FDL_DATA_DIR (e.g. ../shared/data)")
    missing = [f.name for f in multi30k.FILES if not (Path(root) / "multi30k" / f.name).is_file()]
    if missing:
        pytest.skip(f"missing Multi30k files under {root}/multi30k: {missing}")
    return Path(root)


def test_en_fr_cpu_preset_reaches_45_bleu_with_beam_search(run_experiment, multi30k_dir):
    results = run_experiment(experiment, multi30k_dir, "--config=cpu")
    assert results["test_bleu"] >= 45.0  # sacreBLEU, detokenised, beam 5
    assert results["test_bleu"] >= results["test_bleu_greedy"] + 1.0
    assert results["train_seconds"] <= 2 * 3600


def test_de_en_cpu_preset_beats_the_attention_gru_peer(run_experiment, multi30k_dir):
    results = run_experiment(
        experiment, multi30k_dir, "--config=cpu", "--source_language=de", "--target_language=en"
    )
    # bentrevett/pytorch-seq2seq's attention GRU: 28.3 (lower-cased tokens, corpus BLEU).
    assert results["test_bleu_tokenized_lowercase"] >= 30.0
    assert results["train_seconds"] <= 2 * 3600
