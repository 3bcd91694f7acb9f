"""Everything a run writes: TensorBoard events, metrics.jsonl, the console, results.json.

Run directory layout:

    <workdir>/
    ├── config.json        resolved configuration
    ├── metrics.jsonl      one JSON object per logged event (append-only)
    ├── tensorboard/       event files: train/, validation/, test/
    ├── checkpoints/       tf.train.CheckpointManager
    ├── figures/           PNG figures
    └── results.json       final metrics + provenance
"""

import json
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf


def machine_description() -> dict[str, Any]:
    """Where a run ran: CPU, accelerators and package versions (no paths, no host names)."""
    import keras

    cpu_name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu_name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": cpu_name,
        "cpu_count": os.cpu_count(),
        "accelerators": [device.name for device in tf.config.list_physical_devices("GPU")],
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(terse=True),
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    return value


class RunLog:
    """Owns a run directory: one summary writer per split, metrics.jsonl and the console.

    Args:
      workdir: the run directory (created if needed).
      tensorboard: write TensorBoard event files; metrics.jsonl is written either way.
      quiet: no console output (used by non-chief workers and tests).
    """

    def __init__(self, workdir: str | os.PathLike, *, tensorboard: bool = True, quiet=False):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.tensorboard = tensorboard
        self.quiet = quiet
        self._writers: dict[str, tf.summary.SummaryWriter] = {}
        self._metrics = open(self.workdir / "metrics.jsonl", "a")  # noqa: SIM115
        self._start = time.time()
        self._progress_shown = False

    # --- TensorBoard -------------------------------------------------------------------------

    def writer(self, split: str) -> tf.summary.SummaryWriter | None:
        """The summary writer of `tensorboard/<split>/`, or None when TensorBoard is off."""
        if not self.tensorboard:
            return None
        if split not in self._writers:
            self._writers[split] = tf.summary.create_file_writer(
                str(self.workdir / "tensorboard" / split)
            )
        return self._writers[split]

    def scalars(self, step: int, split: str, **values: float) -> None:
        """Logs scalars to TensorBoard (`<split>/<name>`) and one line of metrics.jsonl."""
        writer = self.writer(split)
        if writer is not None:
            with writer.as_default(step=step):
                for name, value in values.items():
                    if isinstance(value, (int, float, np.number)):
                        tf.summary.scalar(name, value)
        record = {"step": int(step), "split": split, "wall_time": round(self.elapsed(), 3)}
        record.update(values)
        if not self._metrics.closed:
            self._metrics.write(json.dumps(_jsonable(record)) + "\n")
            self._metrics.flush()

    def histograms(self, step: int, model, split: str = "train") -> None:
        """One histogram per model variable, tagged by its path (e.g. `hidden_1/kernel`)."""
        writer = self.writer(split)
        if writer is None:
            return
        with writer.as_default(step=step):
            for variable in model.variables:
                tf.summary.histogram(variable.path, variable)

    def histogram(self, step: int, name: str, values, split: str = "validation") -> None:
        writer = self.writer(split)
        if writer is not None:
            with writer.as_default(step=step):
                tf.summary.histogram(name, values)

    def images(self, step: int, name: str, images, max_outputs: int = 16, split="train") -> None:
        """Images `(count, height, width, channels)` in [0, 1] or uint8."""
        writer = self.writer(split)
        if writer is not None:
            with writer.as_default(step=step):
                tf.summary.image(name, images, max_outputs=max_outputs)

    def trace_on(self) -> None:
        """Starts recording the graph of the next traced `tf.function` call."""
        if self.tensorboard:
            tf.summary.trace_on(graph=True, profiler=False)

    def trace_export(self, name: str) -> None:
        if self.tensorboard:
            with self.writer("train").as_default():
                tf.summary.trace_export(name=name, step=0)

    def flush(self) -> None:
        for writer in self._writers.values():
            writer.flush()

    # --- Console -----------------------------------------------------------------------------

    def elapsed(self) -> float:
        return time.time() - self._start

    def print(self, line: str) -> None:
        if self.quiet:
            return
        if self._progress_shown:
            sys.stdout.write("\r\033[K")
            self._progress_shown = False
        print(line, flush=True)

    def progress(self, step: int, total: int, steps_per_sec: float, loss: float) -> None:
        """A one-line progress bar (only on a terminal)."""
        if self.quiet or not sys.stdout.isatty():
            return
        width = 30
        filled = int(width * step / max(total, 1))
        bar = "=" * filled + "." * (width - filled)
        sys.stdout.write(
            f"\r[{bar}] {step}/{total} steps  {steps_per_sec:,.0f} steps/s  loss {loss:.4f}"
        )
        sys.stdout.flush()
        self._progress_shown = True

    # --- Files -------------------------------------------------------------------------------

    def figure_path(self, name: str) -> Path:
        path = self.workdir / "figures" / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def write_json(self, name: str, payload: dict[str, Any]) -> Path:
        path = self.workdir / name
        path.write_text(json.dumps(_jsonable(payload), indent=2, sort_keys=True) + "\n")
        return path

    def close(self, results: dict[str, Any] | None = None) -> None:
        """Flushes everything; writes `results.json` when `results` is given."""
        if results is not None:
            self.write_json("results.json", results)
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
        self._metrics.close()
        self.tensorboard = False  # A closed log writes no more events.
