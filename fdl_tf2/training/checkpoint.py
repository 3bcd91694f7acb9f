"""Checkpoints that survive what happens to real runs: signals, corrupt files, a second process.

    checkpointer = Checkpointer(workdir, keep=5, every_seconds=600, model=model, step=step)
    start_step = checkpointer.restore()          # Newest readable checkpoint, or 0.
    with checkpointer.catch_signals():           # SIGTERM / SIGINT -> save, then exit.
        ...                                      # checkpointer.save(step), maybe_save(step)

- `restore()` walks the checkpoints from the newest down and takes the first that reads; a
  truncated or corrupt one is skipped with a warning that names it.
- `save(step)` writes `checkpoints/ckpt-<step>` and keeps the newest `keep`; `maybe_save(step)`
  saves when `every_seconds` have passed since the last save.
- `catch_signals()` turns SIGTERM (what a scheduler or `docker stop` sends) and SIGINT (Ctrl-C)
  into a flag; the training loop checks it between compiled calls, saves at the current step
  and raises `TrainingInterrupted`, a `SystemExit` with status 128 + signal number. A second
  signal while saving aborts at once.
- `lock_workdir(workdir)` makes a run directory exclusive to one process: a second process is
  refused with the PID holding it. The lock is an OS file lock, so the kernel drops it when its
  process dies, even by `kill -9`; the next run takes it over.
"""

import contextlib
import fcntl
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import tensorflow as tf


class WorkdirLockedError(RuntimeError):
    """Another live process is using the run directory."""


class TrainingInterrupted(SystemExit):
    """A signal stopped training after a checkpoint at `step` was written.

    Its exit status is 128 + the signal number (143 for SIGTERM, 130 for SIGINT), as a shell
    reports a process killed by that signal.
    """

    def __init__(self, signum: int, step: int, path: str | None):
        super().__init__(128 + signum)
        self.signum, self.step, self.path = signum, step, path


_HELD_LOCKS: dict[Path, int] = {}  # Resolved lock file -> open descriptor, for this process.


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lock_workdir(workdir: str | os.PathLike) -> Path:
    """Takes `<workdir>/.lock` for this process (re-entrant within the process).

    Returns:
      The lock file's path.

    Raises:
      WorkdirLockedError: a live process holds it; the message names its PID.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    path = (workdir / ".lock").resolve()
    if path in _HELD_LOCKS:
        return path
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(descriptor, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(descriptor)
        raise WorkdirLockedError(
            f"{workdir} is in use by process {holder} (lock file {path}). Wait for it to "
            "finish, stop it, or choose another --workdir."
        ) from None
    previous = os.pread(descriptor, 32, 0).decode(errors="replace").strip()
    if previous.isdigit() and int(previous) != os.getpid() and not _process_alive(int(previous)):
        print(f"Taking over the lock of {workdir} from process {previous}, which has ended.")
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
    _HELD_LOCKS[path] = descriptor
    return path


def unlock_workdir(workdir: str | os.PathLike) -> None:
    """Releases this process's lock on `workdir` (no-op when it holds none)."""
    path = (Path(workdir) / ".lock").resolve()
    descriptor = _HELD_LOCKS.pop(path, None)
    if descriptor is not None:
        os.ftruncate(descriptor, 0)
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        os.close(descriptor)


class Checkpointer:
    """Saves and restores `trackables` under `<workdir>/checkpoints` (see the module doc).

    Args:
      workdir: the run directory.
      keep: checkpoints kept on disk (the newest ones).
      every_seconds: `maybe_save` saves when this many seconds passed since the last save;
        0 disables time-based saves.
      quiet: no console output.
      **trackables: what to save, e.g. `model=model, optimizer=optimizer, step=step`.
    """

    def __init__(
        self,
        workdir: str | os.PathLike,
        *,
        keep: int = 5,
        every_seconds: float = 0.0,
        quiet: bool = False,
        **trackables,
    ):
        if keep < 1:
            raise ValueError(f"keep must be >= 1, got {keep}.")
        if every_seconds < 0:
            raise ValueError(f"every_seconds must be >= 0, got {every_seconds}.")
        self.directory = Path(workdir) / "checkpoints"
        self.every_seconds = every_seconds
        self.quiet = quiet
        self.checkpoint = tf.train.Checkpoint(**trackables)
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, str(self.directory), max_to_keep=keep
        )
        self.last_save_time = time.monotonic()
        self.interrupted_by: int | None = None

    @property
    def latest(self) -> str | None:
        return self.manager.latest_checkpoint

    def _print(self, line: str) -> None:
        if not self.quiet:
            print(line, flush=True)

    def restore(self) -> str | None:
        """Restores the newest readable checkpoint; returns its path (None on a fresh run).

        Unreadable checkpoints (truncated, corrupt, missing files) are skipped, newest first,
        each with a warning naming it.

        Raises:
          RuntimeError: checkpoints exist but none of them can be read.
        """
        candidates = list(reversed(self.manager.checkpoints))
        failures = []
        for path in candidates:
            try:
                self.checkpoint.restore(path).assert_existing_objects_matched()
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as error:  # noqa: BLE001  (any read failure means "skip it")
                message = f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"
                failures.append(f"{path} ({message})")
                warnings.warn(
                    f"Checkpoint {path} cannot be read ({message}); trying an older one.",
                    RuntimeWarning,
                    stacklevel=2,
                )
                continue
            if failures:
                self._print(f"Skipped unreadable checkpoints: {'; '.join(failures)}")
            self.last_save_time = time.monotonic()
            return path
        if candidates:
            raise RuntimeError(
                f"No readable checkpoint in {self.directory}: {'; '.join(failures)}. "
                "Delete the folder to start again."
            )
        return None

    def save(self, step: int) -> str:
        """Writes `ckpt-<step>` (replacing one of that number) and drops the oldest extras."""
        path = self.manager.save(checkpoint_number=int(step))
        self.last_save_time = time.monotonic()
        return path

    def maybe_save(self, step: int) -> str | None:
        """Saves when `every_seconds` have passed since the last save."""
        if self.every_seconds and time.monotonic() - self.last_save_time >= self.every_seconds:
            return self.save(step)
        return None

    # --- Signals -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def catch_signals(self) -> Iterator[None]:
        """SIGTERM and SIGINT set `interrupted_by` instead of killing the process.

        Only the main thread can install handlers; elsewhere this is a no-op.
        """
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        self.interrupted_by = None

        def handler(signum, frame):
            if self.interrupted_by is not None:  # A second signal: give up at once.
                raise KeyboardInterrupt
            self.interrupted_by = signum
            sys.stderr.write(
                f"\n{signal.Signals(signum).name}: saving a checkpoint after the current "
                "steps (send it again to abort without saving).\n"
            )

        previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)

    def stop_if_interrupted(self, step: int, resume_hint: str = "") -> None:
        """After a caught signal: saves at `step`, prints how to resume, raises.

        Raises:
          TrainingInterrupted: when a signal was caught.
        """
        if self.interrupted_by is None:
            return
        signum = self.interrupted_by
        path = self.save(step)
        self._print(f"{signal.Signals(signum).name}: checkpoint saved at step {step} ({path}).")
        if resume_hint:
            self._print(f"Resume with: {resume_hint}")
        raise TrainingInterrupted(signum, step, path)
