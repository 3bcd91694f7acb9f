import gzip
import hashlib
import http.server
import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from fdl_tf2.data import download, multi30k, paths


@pytest.fixture
def multi30k_dir():
    """The data root holding the real Multi30k files, or a skip naming what is missing."""
    root = os.environ.get("FDL_DATA_DIR")
    if not root:
        pytest.skip("real Multi30k needs $FDL_DATA_DIR (e.g. ../shared/data)")
    missing = [f.name for f in multi30k.FILES if not (Path(root) / "multi30k" / f.name).is_file()]
    if missing:
        pytest.skip(f"missing Multi30k files under {root}/multi30k: {missing}")
    return Path(root)


def _gz(lines):
    return gzip.compress("".join(line + "\n" for line in lines).encode("utf-8"), mtime=0)


def _pin(monkeypatch, split, language, payload, url=None):
    """Points the module's DataFile for (split, language) at `payload`'s digest (and `url`)."""
    name = f"{split}.{language}.gz"
    data_file = download.DataFile(name, (hashlib.sha256(payload).hexdigest(),), url)
    monkeypatch.setitem(multi30k.SPLIT_FILES, (split, language), data_file)


# --- The real files -----------------------------------------------------------------------


@pytest.mark.parametrize("split", multi30k.SPLITS)
def test_every_real_file_has_the_documented_line_count(multi30k_dir, split):
    for language in multi30k.LANGUAGES:
        sentences = multi30k.load_sentences(split, language, data_dir=multi30k_dir)
        expected = {"train": 29_000, "val": 1_014, "test_2016_flickr": 1_000}[split]
        assert len(sentences) == multi30k.NUM_LINES[split] == expected
        assert not any(sentence.endswith("\n") for sentence in sentences)


def test_the_first_validation_pair_is_the_cotton_truck(multi30k_dir):
    english, french = multi30k.load_pairs("val", data_dir=multi30k_dir)
    assert english[0] == "A group of men are loading cotton onto a truck"
    assert french[0] == "Un groupe d'hommes chargent du coton dans un camion"
    assert english[2] == "A boy wearing headphones sits on a woman's shoulders."
    assert french[2] == "Un garçon avec un casque est assis sur les épaules d'une femme."


def test_pairs_are_aligned_in_every_direction(multi30k_dir):
    german, english = multi30k.load_pairs("test_2016_flickr", "de", "en", data_dir=multi30k_dir)
    assert len(english) == len(german) == 1_000
    assert english == multi30k.load_sentences("test_2016_flickr", "en", data_dir=multi30k_dir)
    # The reader caches: a second call returns equal (but fresh, mutable) lists.
    again = multi30k.load_sentences("test_2016_flickr", "en", data_dir=multi30k_dir)
    assert again == english and again is not english


def test_a_truncated_copy_raises_checksum_error(multi30k_dir, tmp_path):
    (tmp_path / "multi30k").mkdir()
    original = (multi30k_dir / "multi30k" / "val.fr.gz").read_bytes()
    (tmp_path / "multi30k" / "val.fr.gz").write_bytes(original[: len(original) // 2])
    with pytest.raises(download.ChecksumError, match="corrupt or truncated"):
        multi30k.load_sentences("val", "fr", data_dir=tmp_path)


# --- Errors -------------------------------------------------------------------------------


def test_unknown_split_or_language_names_the_valid_ones():
    with pytest.raises(ValueError, match=r"'dev'.*'train', 'val', 'test_2016_flickr'"):
        multi30k.load_sentences("dev", "en")
    with pytest.raises(ValueError, match=r"'cs'.*'en', 'fr', 'de'"):
        multi30k.load_pairs("val", "en", "cs")
    with pytest.raises(ValueError, match="must differ"):
        multi30k.load_pairs("val", "en", "en")


def test_a_missing_file_fails_at_once_offline(tmp_path):
    start = time.monotonic()
    with pytest.raises(download.DatasetNotFoundError) as error:
        multi30k.load_sentences("val", "en", data_dir=tmp_path)
    assert time.monotonic() - start < 1.0
    assert "val.en.gz" in str(error.value) and "FDL_OFFLINE" in str(error.value)


def test_partner_files_of_different_lengths_raise_alignment_error(tmp_path, monkeypatch):
    english, french = _gz(["A dog .", "A cat ."]), _gz(["Un chien ."])
    (tmp_path / "multi30k").mkdir()
    (tmp_path / "multi30k" / "val.en.gz").write_bytes(english)
    (tmp_path / "multi30k" / "val.fr.gz").write_bytes(french)
    _pin(monkeypatch, "val", "en", english)
    _pin(monkeypatch, "val", "fr", french)
    with pytest.raises(multi30k.AlignmentError, match="val.en.gz has 2 lines but val.fr.gz has 1"):
        multi30k.load_pairs("val", data_dir=tmp_path)


def test_lines_keep_everything_but_the_newline(tmp_path):
    # U+0085 and U+2028 are line breaks to str.splitlines but not to the file format.
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(" lead\u0085 and\u2028 trail \n\nlast".encode()))
    assert multi30k.read_lines(path) == [" lead\u0085 and\u2028 trail ", "", "last"]


# --- Download -----------------------------------------------------------------------------


@pytest.fixture
def loopback_server(tmp_path):
    """Serves `tmp_path/www` on 127.0.0.1 (a free port) for the duration of a test."""
    root = tmp_path / "www"
    root.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_missing_files_are_downloaded_verified_and_read(loopback_server, tmp_path, monkeypatch):
    monkeypatch.delenv(paths.ENV_OFFLINE)
    www, url = loopback_server
    payloads = {
        "en": _gz(["Two dogs run .", "A man sings"]),
        "fr": _gz(["Deux chiens courent .", "Un homme chante"]),
    }
    for language, payload in payloads.items():
        (www / f"val.{language}.gz").write_bytes(payload)
        _pin(monkeypatch, "val", language, payload, url + f"val.{language}.gz")
    data = tmp_path / "data"
    english, french = multi30k.load_pairs("val", data_dir=data)
    assert english == ["Two dogs run .", "A man sings"]
    assert french == ["Deux chiens courent .", "Un homme chante"]
    assert (data / "multi30k" / "val.fr.gz").read_bytes() == payloads["fr"]
    # Offline again, the downloaded copies serve without the server.
    shutil.rmtree(www)
    monkeypatch.setenv(paths.ENV_OFFLINE, "1")
    assert multi30k.load_sentences("val", "en", data_dir=data) == english


def test_the_real_urls_point_at_the_pinned_commit():
    assert len(multi30k.FILES) == 9
    for (split, language), data_file in multi30k.SPLIT_FILES.items():
        assert data_file.url == (
            "https://raw.githubusercontent.com/multi30k/dataset/"
            f"a3d2e0d26b56f3846f66a952536ffed4e401d05a/data/task1/raw/{split}.{language}.gz"
        )
        assert len(data_file.sha256) == 1 and len(data_file.sha256[0]) == 64
