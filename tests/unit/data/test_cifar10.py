"""Tests of `fdl_tf2.data.cifar10`: binary reader, archive download, offline failure, real data."""

import functools
import hashlib
import io
import os
import re
import shutil
import tarfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from fdl_tf2.data import cifar10, download

_REAL_FOLDER = Path(os.environ.get("FDL_DATA_DIR", "/nonexistent")) / "cifar10"
_REAL_MISSING = [
    data_file.name for data_file in cifar10.FILES if not (_REAL_FOLDER / data_file.name).is_file()
]
requires_real_data = pytest.mark.skipif(
    bool(_REAL_MISSING),
    reason=f"CIFAR-10 offline copy not found: {_REAL_MISSING} missing under {_REAL_FOLDER} "
    "(set FDL_DATA_DIR to the data root).",
)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    # The checksum memo lives in the cache directory; keep it inside tmp_path.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def _pixel_value(record, channel, row, col):
    """A distinct, hand-checkable value for every (record, channel, row, col)."""
    return (record * 64 + channel * 80 + row * 2 + col) % 256


def _chw_record_bytes(record: int, label: int) -> bytes:
    """One canonical record written out plane by plane, without NumPy's transpose."""
    pixels = bytearray([label])
    for channel in range(3):
        for row in range(32):
            for col in range(32):
                pixels.append(_pixel_value(record, channel, row, col))
    return bytes(pixels)


def _write_batch(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    """Writes HWC uint8 `images` `(N, 32, 32, 3)` and `labels` `(N,)` as a canonical batch."""
    chw = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    path.write_bytes(np.concatenate([labels[:, None], chw], axis=1).astype(np.uint8).tobytes())


def _random_split(num_examples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (num_examples, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, num_examples, dtype=np.uint8)
    return images, labels


# --- Canonical binary reader. ---


def test_binary_reader_converts_chw_records_to_hwc_images(tmp_path):
    labels = (7, 0, 9)
    path = tmp_path / "batch.bin"
    path.write_bytes(
        b"".join(_chw_record_bytes(record, label) for record, label in enumerate(labels))
    )

    images, read_labels = cifar10.read_binary_batches([path])

    assert images.shape == (3, 32, 32, 3) and images.dtype == np.uint8
    assert read_labels.tolist() == list(labels) and read_labels.dtype == np.uint8
    # images[record, row, col, channel] must be the byte at plane `channel`, position (row, col).
    expected = np.fromfunction(
        lambda record, row, col, channel: _pixel_value(record, channel, row, col),
        (3, 32, 32, 3),
        dtype=np.int64,
    )
    np.testing.assert_array_equal(images, expected)
    assert images[1, 0, 0].tolist() == [64, 144, 224]  # Red, green, blue of record 1 at (0, 0).


def test_binary_reader_concatenates_files_in_order(tmp_path):
    first, second = _random_split(2, seed=0), _random_split(3, seed=1)
    _write_batch(tmp_path / "a.bin", *first)
    _write_batch(tmp_path / "b.bin", *second)

    images, labels = cifar10.read_binary_batches([tmp_path / "a.bin", tmp_path / "b.bin"])

    np.testing.assert_array_equal(images, np.concatenate([first[0], second[0]]))
    np.testing.assert_array_equal(labels, np.concatenate([first[1], second[1]]))


def test_binary_reader_rejects_size_not_multiple_of_record(tmp_path):
    path = tmp_path / "truncated.bin"
    path.write_bytes(_chw_record_bytes(0, 1) + b"\x00" * 100)

    with pytest.raises(cifar10.Cifar10FormatError, match=r"truncated\.bin.*3073"):
        cifar10.read_binary_batches([path])


def test_binary_reader_rejects_label_above_nine(tmp_path):
    path = tmp_path / "cifar100.bin"
    path.write_bytes(_chw_record_bytes(0, 42))

    with pytest.raises(cifar10.Cifar10FormatError, match="label 42"):
        cifar10.read_binary_batches([path])


def test_extracted_binaries_are_read_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("FDL_OFFLINE", "1")
    folder = tmp_path / "cifar10" / cifar10.BINARY_FOLDER
    folder.mkdir(parents=True)
    splits = {}
    for index, name in enumerate(cifar10._ARCHIVE_MEMBERS[:-1]):
        splits[name] = _random_split(2, seed=index)
        _write_batch(folder / name, *splits[name])
    (folder / "batches.meta.txt").write_text("\n".join(cifar10.LABEL_NAMES) + "\n\n")

    test_images, test_labels = cifar10.load_arrays("test", data_dir=tmp_path)
    train_images, _ = cifar10.load_arrays("train", data_dir=tmp_path)

    np.testing.assert_array_equal(test_images, splits["test_batch.bin"][0])
    np.testing.assert_array_equal(test_labels, splits["test_batch.bin"][1])
    np.testing.assert_array_equal(train_images[2:4], splits["data_batch_2.bin"][0])
    assert train_images.shape == (10, 32, 32, 3)
    assert cifar10.label_names(tmp_path) == cifar10.LABEL_NAMES
    assert sorted(cifar10.files_read(data_dir=tmp_path)) == sorted(
        f"{cifar10.BINARY_FOLDER}/{name}" for name in cifar10._ARCHIVE_MEMBERS
    )


# --- Canonical archive, downloaded from a loopback server. ---


def _add_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


@pytest.fixture
def served_archive(tmp_path, monkeypatch):
    """A tiny fake `cifar-10-binary.tar.gz` served over HTTP on 127.0.0.1.

    Yields:
      `{"train": (images, labels), "test": (images, labels), "requests": [paths]}`.
    """
    serve_dir = tmp_path / "serve"
    build_dir = tmp_path / "build"
    serve_dir.mkdir()
    build_dir.mkdir()
    train_parts, test = [], _random_split(3, seed=99)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for index, name in enumerate(cifar10.BINARY_FILES["train"]):
            train_parts.append(_random_split(2, seed=index))
            _write_batch(build_dir / name, *train_parts[-1])
            _add_member(tar, f"cifar-10-batches-bin/{name}", (build_dir / name).read_bytes())
        _write_batch(build_dir / "test_batch.bin", *test)
        _add_member(
            tar, "cifar-10-batches-bin/test_batch.bin", (build_dir / "test_batch.bin").read_bytes()
        )
        meta = ("\n".join(cifar10.LABEL_NAMES) + "\n\n").encode()
        _add_member(tar, "cifar-10-batches-bin/batches.meta.txt", meta)
        _add_member(tar, "cifar-10-batches-bin/readme.html", b"<html></html>")
        # Members outside the expected names must never be written anywhere.
        _add_member(tar, "../escaped.txt", b"escaped")
        _add_member(tar, "cifar-10-batches-bin/../../escaped2.txt", b"escaped")
    archive_bytes = buffer.getvalue()
    (serve_dir / cifar10.ARCHIVE_NAME).write_bytes(archive_bytes)

    requests = []

    class QuietHandler(SimpleHTTPRequestHandler):
        def log_message(self, format, *args):  # noqa: A002 - Signature of the base class.
            requests.append(self.path)

    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(serve_dir))
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    for variable in ("FDL_OFFLINE", "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    port = server.server_address[1]
    monkeypatch.setattr(cifar10, "ARCHIVE_URL", f"http://127.0.0.1:{port}/{cifar10.ARCHIVE_NAME}")
    monkeypatch.setattr(cifar10, "ARCHIVE_SHA256", hashlib.sha256(archive_bytes).hexdigest())
    try:
        yield {
            "train": (
                np.concatenate([images for images, _ in train_parts]),
                np.concatenate([labels for _, labels in train_parts]),
            ),
            "test": test,
            "requests": requests,
        }
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_missing_data_downloads_verifies_and_extracts_canonical_archive(tmp_path, served_archive):
    data_root = tmp_path / "data"

    test_images, test_labels = cifar10.load_arrays("test", data_dir=data_root)
    train_images, train_labels = cifar10.load_arrays("train", data_dir=data_root)

    np.testing.assert_array_equal(test_images, served_archive["test"][0])
    np.testing.assert_array_equal(test_labels, served_archive["test"][1])
    np.testing.assert_array_equal(train_images, served_archive["train"][0])
    np.testing.assert_array_equal(train_labels, served_archive["train"][1])
    assert len(served_archive["requests"]) == 1  # The second split reuses the extracted files.
    folder = data_root / "cifar10"
    assert sorted(path.name for path in (folder / cifar10.BINARY_FOLDER).iterdir()) == sorted(
        cifar10._ARCHIVE_MEMBERS
    )
    assert not list(tmp_path.rglob("escaped*.txt"))
    provenance = cifar10.files_read(data_dir=data_root)
    assert provenance[cifar10.ARCHIVE_NAME] == cifar10.ARCHIVE_SHA256
    assert f"{cifar10.BINARY_FOLDER}/test_batch.bin" in provenance
    assert cifar10.label_names(data_root) == cifar10.LABEL_NAMES


def test_archive_with_wrong_checksum_is_rejected_and_discarded(
    tmp_path, served_archive, monkeypatch
):
    monkeypatch.setattr(cifar10, "ARCHIVE_SHA256", "0" * 64)
    data_root = tmp_path / "data"

    with pytest.raises(download.ChecksumError, match="0000000000"):
        cifar10.load_arrays("test", data_dir=data_root)

    assert [path for path in data_root.rglob("*") if path.is_file()] == []


def test_offline_empty_data_dir_fails_fast_naming_both_layouts(tmp_path, monkeypatch):
    monkeypatch.setenv("FDL_OFFLINE", "1")
    start = time.monotonic()

    with pytest.raises(download.DatasetNotFoundError) as raised:
        cifar10.load_arrays("train", data_dir=tmp_path)

    assert time.monotonic() - start < 10.0
    message = str(raised.value)
    for name in ("train.tfrecord.gz", "test.tfrecord.gz", "label_names.txt"):
        assert name in message
    for name in ("cifar-10-batches-bin", "data_batch_1.bin", "test_batch.bin", "batches.meta.txt"):
        assert name in message
    assert cifar10.ARCHIVE_NAME in message and "FDL_OFFLINE" in message
    with pytest.raises(download.DatasetNotFoundError, match="label_names.txt"):
        cifar10.files_read(data_dir=tmp_path)


# --- Synthetic stand-in (its `classification_data` batches: test_image_augment.py). ---


def test_synthetic_arrays_match_the_real_shapes_and_dtypes():
    images, labels = cifar10.load_arrays("train", dataset="synthetic")
    assert images.shape == (2_000, 32, 32, 3) and images.dtype == np.uint8
    assert labels.shape == (2_000,) and labels.dtype == np.uint8
    assert set(np.unique(labels)) == set(range(cifar10.NUM_CLASSES))
    assert cifar10.files_read(dataset="synthetic") == {}


def test_unknown_split_and_dataset_are_rejected():
    with pytest.raises(ValueError, match="validation"):
        cifar10.load_arrays("validation", dataset="synthetic")
    with pytest.raises(ValueError, match="cifar100"):
        cifar10.load_arrays("train", dataset="cifar100")


# --- Real data (the offline copy). ---


@pytest.mark.data
@requires_real_data
def test_real_test_split_has_1000_images_per_class():
    images, labels = cifar10.load_arrays("test")

    assert images.shape == (10_000, 32, 32, 3) and images.dtype == np.uint8
    assert labels.shape == (10_000,) and labels.dtype == np.uint8
    assert np.bincount(labels, minlength=10).tolist() == [1000] * 10
    assert cifar10.label_names() == cifar10.LABEL_NAMES


@pytest.mark.data
@requires_real_data
def test_real_arrays_match_the_synthetic_stand_in_and_name_their_files():
    # The test split only: decoding all 50,000 training images would take seconds.
    images, labels = cifar10.load_arrays("test")
    fake_images, fake_labels = cifar10.load_arrays("test", dataset="synthetic")

    assert images.shape[1:] == fake_images.shape[1:] == (32, 32, 3)
    assert images.dtype == fake_images.dtype and labels.dtype == fake_labels.dtype
    assert set(cifar10.files_read()) == {data_file.name for data_file in cifar10.FILES}


@pytest.mark.data
@requires_real_data
def test_truncated_tfrecord_raises_checksum_error_naming_file(tmp_path):
    folder = tmp_path / "data" / "cifar10"
    folder.mkdir(parents=True)
    original = (_REAL_FOLDER / "test.tfrecord.gz").read_bytes()
    truncated = folder / "test.tfrecord.gz"
    truncated.write_bytes(original[: len(original) // 2])
    os.symlink(_REAL_FOLDER / "train.tfrecord.gz", folder / "train.tfrecord.gz")
    shutil.copy(_REAL_FOLDER / "label_names.txt", folder / "label_names.txt")

    with pytest.raises(download.ChecksumError, match=re.escape(str(truncated))):
        cifar10.load_arrays("test", data_dir=tmp_path / "data")
