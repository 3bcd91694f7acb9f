"""Figures drawn from a run's metrics.jsonl: the book's Fig. 3.5/3.6-style learning curves."""

import json
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # Files only; never a window.
import matplotlib.pyplot as plt  # noqa: E402


def save_figure(
    figure: plt.Figure, output: str | os.PathLike, dpi: int = 100, tight_layout: bool = True
) -> Path:
    """Lays out, writes and closes a matplotlib figure (creating its folder); returns the path."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    if tight_layout:
        figure.tight_layout()
    figure.savefig(output, dpi=dpi)
    plt.close(figure)
    return output


def read_metrics(path: str | os.PathLike) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def plot_learning_curves(metrics_file: str | os.PathLike, output: str | os.PathLike) -> Path:
    """Per-epoch training cost and validation error (or cost) against the epoch.

    Args:
      metrics_file: a run's `metrics.jsonl`.
      output: the PNG to write.

    Returns:
      The path written.
    """
    records = [r for r in read_metrics(metrics_file) if "epoch" in r]
    train = [r for r in records if r["split"] == "train"]
    validation = [r for r in records if r["split"] == "validation"]
    figure, (cost_axis, error_axis) = plt.subplots(1, 2, figsize=(10, 4))
    cost_axis.plot([r["epoch"] for r in train], [r["cost"] for r in train], label="train")
    if validation:
        cost_axis.plot(
            [r["epoch"] for r in validation], [r["cost"] for r in validation], label="validation"
        )
    cost_axis.set(xlabel="epoch", ylabel="cost", title="Cost", yscale="log")
    cost_axis.legend()
    for split, rows in (("train", train), ("validation", validation)):
        if rows and "error" in rows[0]:
            error_axis.plot([r["epoch"] for r in rows], [r["error"] for r in rows], label=split)
    error_axis.set(xlabel="epoch", ylabel="error", title="Classification error", yscale="log")
    error_axis.legend()
    return save_figure(figure, output)
