import hashlib
import http.server
import os
import socket
import threading
import time

import pytest

from fdl_tf2.data import download, paths

_PAYLOAD = b"IDX fixture bytes " * 100


@pytest.fixture
def loopback_server(tmp_path):
    """Serves `tmp_path/www` on 127.0.0.1 (a free port) for the duration of a test."""
    root = tmp_path / "www"
    root.mkdir()
    (root / "file.gz").write_bytes(_PAYLOAD)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _data_file(url, sha=None):
    return download.DataFile("file.gz", (sha or hashlib.sha256(_PAYLOAD).hexdigest(),), url)


def test_missing_file_is_downloaded_verified_and_cached(loopback_server, tmp_path, monkeypatch):
    monkeypatch.delenv(paths.ENV_OFFLINE)
    data_file = _data_file(f"{loopback_server}/file.gz")
    located = download.ensure_files("toy", [data_file], tmp_path / "data")
    assert located["file.gz"].read_bytes() == _PAYLOAD
    # A second call finds the file and does not download again (the server is not needed).
    assert download.ensure_files("toy", [_data_file("http://127.0.0.1:9/none")], tmp_path / "data")


def test_checksum_mismatch_leaves_nothing_behind(loopback_server, tmp_path, monkeypatch):
    monkeypatch.delenv(paths.ENV_OFFLINE)
    data_file = _data_file(f"{loopback_server}/file.gz", sha="0" * 64)
    with pytest.raises(download.ChecksumError, match="expected 0000"):
        download.ensure_files("toy", [data_file], tmp_path / "data")
    assert os.listdir(tmp_path / "data" / "toy") == []


def test_offline_flag_fails_at_once_naming_files_and_env(tmp_path):
    start = time.monotonic()
    with pytest.raises(download.DatasetNotFoundError) as error:
        download.ensure_files("toy", [_data_file("http://127.0.0.1:9/x")], tmp_path)
    assert time.monotonic() - start < 1.0
    message = str(error.value)
    assert "file.gz" in message and "FDL_DATA_DIR" in message and "FDL_OFFLINE" in message


def test_unreachable_source_fails_within_ten_seconds(tmp_path, monkeypatch):
    monkeypatch.delenv(paths.ENV_OFFLINE)
    with socket.socket() as probe:  # A loopback port with nothing listening.
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    start = time.monotonic()
    with pytest.raises(download.DatasetNotFoundError, match="looks offline"):
        download.ensure_files("toy", [_data_file(f"http://127.0.0.1:{port}/file.gz")], tmp_path)
    assert time.monotonic() - start < 10.0


def test_data_dir_resolution_order(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.ENV_DATA_DIR, str(tmp_path / "env"))
    assert paths.data_dir(tmp_path / "flag") == tmp_path / "flag"
    assert paths.data_dir() == tmp_path / "env"
    monkeypatch.delenv(paths.ENV_DATA_DIR)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert paths.data_dir() == tmp_path / "cache" / "fdl_tf2" / "data"


def test_package_never_refers_to_the_shared_folder():
    package = os.path.dirname(os.path.dirname(download.__file__))
    for folder, _, files in os.walk(package):
        for name in files:
            if name.endswith(".py"):
                text = open(os.path.join(folder, name)).read()
                assert "shared/data" not in text and "../shared" not in text, name


def test_a_hanging_name_lookup_is_cut_off(tmp_path, monkeypatch):
    monkeypatch.delenv(paths.ENV_OFFLINE)
    monkeypatch.setattr(download, "CONNECT_TIMEOUT_S", 1.0)
    monkeypatch.setattr(download.socket, "getaddrinfo", lambda *args: time.sleep(30))
    start = time.monotonic()
    with pytest.raises(download.DatasetNotFoundError, match="resolving example.invalid"):
        download.ensure_files(
            "toy", [_data_file("https://example.invalid/file.gz")], tmp_path, timeout=1.0
        )
    assert time.monotonic() - start < 5.0
    assert not (tmp_path / "toy").exists()  # Nothing is left behind.
