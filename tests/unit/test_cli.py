import os
import subprocess
import sys

import pytest

from fdl_tf2 import __main__ as cli
from fdl_tf2.data import text_corpus

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_list_names_every_ch03_experiment_with_section_and_defaults(capsys, monkeypatch):
    monkeypatch.chdir(_ROOT)
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "ch03.logistic_regression" in out and "ch03.mlp" in out
    assert "Chapter 3" in out and "learning_rate=0.01" in out and "smoke, book, cpu" in out


def test_show_prints_every_preset(capsys, monkeypatch):
    monkeypatch.chdir(_ROOT)
    assert cli.main(["show", "ch03.mlp"]) == 0
    out = capsys.readouterr().out
    assert "[smoke]" in out and "[book]" in out and "epochs = 300" in out


def test_unknown_field_is_an_error_listing_valid_fields(capsys, monkeypatch):
    monkeypatch.chdir(_ROOT)
    assert cli.main(["run", "ch03.mlp", "--config=smoke", "--epoch=3"]) == 2
    err = capsys.readouterr().err
    assert "Unknown field --epoch" in err and "--epochs=300" in err and "--output_relu" in err


def test_wrong_type_and_unknown_experiment_are_errors(capsys, monkeypatch):
    monkeypatch.chdir(_ROOT)
    assert cli.main(["run", "ch03.mlp", "--epochs=many"]) == 2
    assert "expected a value of type int" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="Unknown experiment 'ch03.cnn'"):
        cli.main(["run", "ch03.cnn"])


def test_data_command_reports_missing_datasets_offline(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(_ROOT)
    assert cli.main(["data", f"--data_dir={tmp_path}"]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path) in out and "mnist" in out and "missing" in out
    # The chapter-6 corpora are listed too; 15 missing books are summarised on one line.
    assert "missing 15 of 15 files (austen-emma.txt.gz" in out
    assert "text8.zip" in out


def test_data_command_lists_the_text_corpora_of_a_data_root(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(_ROOT)
    books = tmp_path / "text" / "gutenberg"
    books.mkdir(parents=True)
    for book in text_corpus.BOOKS:
        (books / f"{book}.txt.gz").write_bytes(b"")
    assert cli.main(["data", f"--data_dir={tmp_path}"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.split() == ["gutenberg", "present"] for line in lines), lines


def test_module_entry_point_runs_as_a_subprocess():
    result = subprocess.run(
        [sys.executable, "-m", "fdl_tf2", "list", "ch03"],
        capture_output=True,
        text=True,
        cwd=_ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ch03.mlp" in result.stdout


def test_a_missing_dataset_is_a_clear_error_not_a_traceback(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(_ROOT)
    assert cli.main(["run", "ch03.logistic_regression", f"--data_dir={tmp_path}"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: Dataset 'mnist' is missing")
    assert "train-images-idx3-ubyte.gz" in err and "FDL_DATA_DIR" in err


def test_missing_vgg_weights_offline_are_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(_ROOT)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # An empty Keras cache.
    assert cli.main(["run", "ch05.neural_style", "--config=cpu"]) == 1  # FDL_OFFLINE=1 here.
    err = capsys.readouterr().err
    assert err.startswith("error: VGG-19 ImageNet weights are not available")
    assert "--weights=" in err and str(tmp_path) in err
