"""Dataset files: checksum verification, canonical downloads, and a fast offline failure.

Every dataset module lists the files it reads as `DataFile`s. `ensure_files` finds them under
the data root (see `paths.data_dir`), verifies their SHA-256 the first time they are used
(and remembers that they passed, keyed by path, size and modification time), and, only when
they are missing and the machine is online, downloads them from their canonical public source.

Offline (no network, or `FDL_OFFLINE=1`) a missing dataset fails within seconds with a message
that names the files needed, the directories searched and how to provide them.
"""

import concurrent.futures
import dataclasses
import hashlib
import json
import os
import socket
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from fdl_tf2.data import paths

CONNECT_TIMEOUT_S = 5.0
"""Per-connection timeout; a missing dataset offline fails in at most about twice this."""
_CHUNK_BYTES = 1 << 20


class DatasetNotFoundError(FileNotFoundError):
    """A dataset's files are missing and could not be downloaded."""


class ChecksumError(ValueError):
    """A dataset file exists but its contents are not the expected bytes."""


@dataclasses.dataclass(frozen=True)
class DataFile:
    """One file of a dataset.

    Attributes:
      name: path relative to the dataset folder, e.g. `train-images-idx3-ubyte.gz`.
      sha256: accepted SHA-256 digests (e.g. the project's offline copy and the canonical file).
      url: the canonical public source, or None when the file cannot be downloaded.
      url_sha256: digest of the file at `url`; defaults to the last entry of `sha256`.
    """

    name: str
    sha256: tuple[str, ...]
    url: str | None = None
    url_sha256: str | None = None

    @property
    def download_sha256(self) -> str:
        return self.url_sha256 or self.sha256[-1]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()


def _memo_path() -> Path:
    return paths.cache_dir() / "verified_files.json"


def _load_memo() -> dict[str, list]:
    try:
        return json.loads(_memo_path().read_text())
    except (OSError, ValueError):
        return {}


def _remember(key: str, stamp: list) -> None:
    memo = _load_memo()
    memo[key] = stamp
    path = _memo_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False) as handle:
            json.dump(memo, handle)
        os.replace(handle.name, path)
    except OSError:
        pass  # A read-only cache only costs re-hashing next time.


def verify(path: Path, data_file: DataFile) -> str:
    """Checks `path` against `data_file.sha256`; returns the digest.

    The result is remembered per (real path, size, mtime), so a file is hashed once.

    Raises:
      ChecksumError: naming the file, its digest and the expected ones.
    """
    path = Path(path)
    status = path.stat()
    key = os.path.realpath(path)
    stamp_prefix = [status.st_size, status.st_mtime_ns]
    remembered = _load_memo().get(key)
    if remembered and remembered[:2] == stamp_prefix and remembered[2] in data_file.sha256:
        return remembered[2]
    digest = sha256_of(path)
    if digest not in data_file.sha256:
        raise ChecksumError(
            f"{path} is corrupt or truncated: its SHA-256 is {digest} ({status.st_size} bytes), "
            f"expected one of {list(data_file.sha256)}. Delete it and provide a good copy "
            "(or let fdl_tf2 download it again when online)."
        )
    _remember(key, [*stamp_prefix, digest])
    return digest


def _missing_message(
    dataset: str, root: Path, missing: Sequence[DataFile], reason: str, data_dir=None
) -> str:
    names = "\n".join(f"  {root / dataset / data_file.name}" for data_file in missing)
    searched = "\n".join(f"  {entry}" for entry in paths.searched_dirs(data_dir))
    return (
        f"Dataset {dataset!r} is missing and {reason}.\n"
        f"Files needed:\n{names}\n"
        f"Data directory resolution order:\n{searched}\n"
        f"Provide the files there (e.g. point ${paths.ENV_DATA_DIR} or --data_dir at a folder "
        f"containing {dataset}/), or run `python -m fdl_tf2 data --download` when online."
    )


def resolve_host(url: str, timeout: float) -> None:
    """Resolves the URL's host within `timeout` seconds.

    `urlopen(timeout=...)` does not bound name resolution, which on a machine without network
    can hang for much longer than the connection timeout.

    Raises:
      OSError: the host does not resolve, or not in time.
    """
    host = urllib.parse.urlsplit(url).hostname
    if not host:
        raise OSError(f"{url} has no host name.")
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        executor.submit(socket.getaddrinfo, host, None).result(timeout=timeout)
    except concurrent.futures.TimeoutError as error:
        raise OSError(f"resolving {host} took more than {timeout:.0f} s") from error
    finally:
        executor.shutdown(wait=False)


def download(
    url: str,
    destination: Path,
    expected_digest: str,
    timeout: float = CONNECT_TIMEOUT_S,
    *,
    algorithm: str = "sha256",
) -> Path:
    """Downloads `url` to `destination`, verifying its digest before the file appears there.

    Args:
      algorithm: a `hashlib` name; "sha256" for the datasets, "md5" where a publisher gives
        only that (the Keras application weights).

    Raises:
      ChecksumError: the downloaded bytes do not match; nothing is left behind.
      OSError: the server could not be reached (including timeouts).
    """
    destination = Path(destination)
    resolve_host(url, timeout)
    digest = hashlib.new(algorithm, usedforsecurity=False)
    with urllib.request.urlopen(url, timeout=timeout) as response:
        destination.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=destination.parent, delete=False) as handle:
            try:
                for block in iter(lambda: response.read(_CHUNK_BYTES), b""):
                    digest.update(block)
                    handle.write(block)
            except BaseException:
                handle.close()
                os.unlink(handle.name)
                raise
    if digest.hexdigest() != expected_digest:
        os.unlink(handle.name)
        raise ChecksumError(
            f"Download of {url} has {algorithm} {digest.hexdigest()}, expected "
            f"{expected_digest}; "
            f"discarded (not written to {destination})."
        )
    os.replace(handle.name, destination)
    return destination


def ensure_files(
    dataset: str,
    files: Sequence[DataFile],
    data_dir: str | os.PathLike | None = None,
    timeout: float = CONNECT_TIMEOUT_S,
) -> dict[str, Path]:
    """Returns `{file name: verified path}` for a dataset, downloading missing files if online.

    Args:
      dataset: the dataset folder under the data root, e.g. `mnist`.
      files: the files the caller reads.
      data_dir: `--data_dir`; None means `$FDL_DATA_DIR`, else the per-user cache.
      timeout: per-connection timeout of a download, in seconds.

    Raises:
      DatasetNotFoundError: files are missing and offline, or their download failed.
      ChecksumError: a file is present but corrupt, or a download did not match.
    """
    root = paths.data_dir(data_dir)
    located = {data_file.name: root / dataset / data_file.name for data_file in files}
    missing = [data_file for data_file in files if not located[data_file.name].is_file()]
    if missing:
        if paths.offline():
            reason = f"${paths.ENV_OFFLINE} is set, so nothing is downloaded"
            raise DatasetNotFoundError(_missing_message(dataset, root, missing, reason, data_dir))
        not_downloadable = [data_file for data_file in missing if not data_file.url]
        if not_downloadable:
            reason = "these files have no public download source"
            raise DatasetNotFoundError(
                _missing_message(dataset, root, not_downloadable, reason, data_dir)
            )
        start = time.monotonic()
        for data_file in missing:
            try:
                download(data_file.url, located[data_file.name], data_file.download_sha256, timeout)
            except (TimeoutError, urllib.error.URLError, OSError) as error:
                reason = (
                    f"downloading {data_file.url} failed after {time.monotonic() - start:.1f} s "
                    f"({error}); this machine looks offline"
                )
                raise DatasetNotFoundError(
                    _missing_message(dataset, root, missing, reason, data_dir)
                ) from error
    for data_file in files:
        verify(located[data_file.name], data_file)
    return located


def status(dataset: str, files: Sequence[DataFile], data_dir=None) -> list[str]:
    """Names of the dataset's files that are not present under the data root."""
    root = paths.data_dir(data_dir)
    return [
        data_file.name for data_file in files if not (root / dataset / data_file.name).is_file()
    ]
