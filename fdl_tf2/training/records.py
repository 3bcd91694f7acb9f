"""Reading what a run wrote: `metrics.jsonl` lines and TensorBoard scalar events.

`RunLog` (`fdl_tf2.training.run_log`) writes both; this module is the one reader of them, for
figures, experiments that compare runs and tests:

    records = read_metrics(workdir / "metrics.jsonl")                # every line, as dicts
    steps, accuracy = metric_curve(workdir / "metrics.jsonl", "validation", "accuracy")
    scalars = read_event_scalars(workdir / "tensorboard" / "train")  # {tag: [(step, value)]}
    steps, costs = event_curve(workdir / "tensorboard" / "train", "cost")
"""

import json
import os
from pathlib import Path

import numpy as np
import tensorflow as tf

# --- metrics.jsonl ------------------------------------------------------------------------------


def read_metrics(path: str | os.PathLike, *, split: str | None = None) -> list[dict]:
    """The lines of a run's `metrics.jsonl`, in file order, optionally of one split only.

    `RunLog.scalars(step, split, **values)` writes lines such as `{"step": 390, "split":
    "validation", "wall_time": 12.3, "epoch": 1, "cost": 1.2, "accuracy": 0.55}`; non-finite
    values are stored as the strings "nan", "inf" and "-inf".

    Args:
      path: the `metrics.jsonl` file.
      split: keep only the lines of this split ("train", "validation", "test", ...).

    Returns:
      One dict per non-empty line.
    """
    records = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    if split is not None:
        records = [record for record in records if record.get("split") == split]
    return records


def metric_curve(
    metrics_file: str | os.PathLike, split: str, name: str
) -> tuple[np.ndarray, np.ndarray]:
    """One scalar of one split from a run's `metrics.jsonl`, against the training step.

    The training loop logs the training loss as "cost". The file is append-only, so a resumed
    run may log a step twice: the last line wins. Non-finite values, which `RunLog` stores as
    strings ("nan", "inf"), become floats.

    Args:
      metrics_file: the run's `metrics.jsonl`.
      split: "train", "validation" or "test".
      name: the scalar, e.g. "accuracy" or "cost".

    Returns:
      `(steps, values)`: int64 `(n,)` sorted increasing and float64 `(n,)`.

    Raises:
      ValueError: no line of `split` carries `name` (the message lists the names it has).
    """
    records = read_metrics(metrics_file, split=split)
    by_step = {int(r["step"]): float(r[name]) for r in records if name in r}
    if not by_step:
        available = sorted({key for r in records for key in r} - {"step", "split", "wall_time"})
        raise ValueError(
            f"{metrics_file} has no {name!r} for split {split!r}; that split logs {available}"
        )
    steps = np.array(sorted(by_step), dtype=np.int64)
    return steps, np.array([by_step[step] for step in steps], dtype=np.float64)


# --- TensorBoard event files --------------------------------------------------------------------


def read_event_scalars(event_dir: str | os.PathLike) -> dict[str, list[tuple[int, float]]]:
    """All scalars of the event files in one directory: `{tag: [(step, value), ...]}` by step.

    Reads both `simple_value` summaries and the TF2 tensor summaries that `tf.summary.scalar`
    writes, with `tf.compat.v1.train.summary_iterator`. Values written at the same step keep
    their file order.

    Args:
      event_dir: a folder of `events.out.tfevents.*` files, e.g. `<workdir>/tensorboard/train`.

    Returns:
      The points of each scalar tag, sorted by step; `{}` when the folder holds no events.
    """
    scalars: dict[str, list[tuple[int, float]]] = {}
    for event_file in sorted(Path(event_dir).glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(event_file)):
            for value in event.summary.value:
                if value.HasField("simple_value"):
                    number = float(value.simple_value)
                elif value.HasField("tensor") and not value.tensor.tensor_shape.dim:
                    array = tf.make_ndarray(value.tensor)
                    if array.dtype.kind not in "fiu":  # E.g. a serialized graph (a string).
                        continue
                    number = float(array)
                else:
                    continue
                scalars.setdefault(value.tag, []).append((int(event.step), number))
    # A stable sort by step keeps the file order of values written at the same step.
    return {tag: sorted(points, key=lambda point: point[0]) for tag, points in scalars.items()}


def first_value_per_step(points: list[tuple[int, float]]) -> tuple[np.ndarray, np.ndarray]:
    """`[(step, value), ...]` -> `(steps, values)`, keeping the first value of each step.

    The training loop writes the per-step `cost` and, at each epoch's last step, the epoch mean
    under the same tag; the first value of a step is the per-step one.

    Args:
      points: one tag's points, as `read_event_scalars` returns them.

    Returns:
      `(steps, values)`: `(n,)` ints sorted increasing and float64 `(n,)`; both empty when
      `points` is.
    """
    first: dict[int, float] = {}
    for step, value in points:
        first.setdefault(step, value)
    steps = np.array(sorted(first))
    return steps, np.array([first[step] for step in steps])


def event_curve(event_dir: str | os.PathLike, tag: str) -> tuple[np.ndarray, np.ndarray]:
    """One scalar tag of a TensorBoard folder as a curve (`first_value_per_step`).

    Args:
      event_dir: a folder of event files (see `read_event_scalars`).
      tag: the scalar tag, e.g. "cost".

    Returns:
      `(steps, values)`; both empty when the tag does not occur.
    """
    return first_value_per_step(read_event_scalars(event_dir).get(tag, []))
