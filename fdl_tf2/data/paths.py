"""Where datasets live: `--data_dir`, else `$FDL_DATA_DIR`, else a per-user cache directory.

The layout below the root is the same as the project's offline copy: `mnist/`,
`fashion_mnist/`, `cifar10/`, ... (see each dataset module's `FILES`).
"""

import os
from pathlib import Path

ENV_DATA_DIR = "FDL_DATA_DIR"
ENV_OFFLINE = "FDL_OFFLINE"


def cache_dir() -> Path:
    """The per-user cache root: `$XDG_CACHE_HOME/fdl_tf2`, else `~/.cache/fdl_tf2`."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "fdl_tf2"


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """Resolves the dataset root in the documented order (override, $FDL_DATA_DIR, cache)."""
    if override:
        return Path(override).expanduser()
    if os.environ.get(ENV_DATA_DIR):
        return Path(os.environ[ENV_DATA_DIR]).expanduser()
    return cache_dir() / "data"


def searched_dirs(override: str | os.PathLike | None = None) -> list[str]:
    """Human-readable description of the resolution order, for error messages."""
    return [
        f"--data_dir={override}" if override else "--data_dir (not given)",
        f"${ENV_DATA_DIR}={os.environ[ENV_DATA_DIR]}"
        if os.environ.get(ENV_DATA_DIR)
        else f"${ENV_DATA_DIR} (not set)",
        f"per-user cache {cache_dir() / 'data'}",
    ]


def offline() -> bool:
    """True when `$FDL_OFFLINE` is set to a true value: never try the network."""
    return os.environ.get(ENV_OFFLINE, "").lower() in ("1", "true", "yes")
