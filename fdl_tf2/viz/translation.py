"""Figures of the chapter-7 translator: perplexity (7.31), learning rate (7.32), attention (7.33).

The book's own plots label their x axes "Epochs"; they are global steps (its INFO.md calls 200
steps an "epoch", errata 31), so these say "training step".
"""

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from fdl_tf2.training import records
from fdl_tf2.viz.figure import save_figure


def plot_perplexity(metrics_file: str | os.PathLike, output: str | os.PathLike) -> Path:
    """Fig. 7.31: training perplexity (per checkpoint interval) and dev perplexity per bucket.

    Reads `metrics.jsonl`: train records' `cost` (perplexity = exp(cost)) and validation
    records' `perplexity` and `bucket_<i>_perplexity`. Log scale: it starts in the hundreds.
    """
    rows = records.read_metrics(metrics_file)
    train = [r for r in rows if r["split"] == "train" and "cost" in r]
    validation = [r for r in rows if r["split"] == "validation" and "perplexity" in r]
    figure = Figure(figsize=(7, 4.5))
    axis = figure.subplots()
    axis.plot(
        [r["step"] for r in train], np.exp(np.minimum([r["cost"] for r in train], 300)),
        label="train (sampled softmax)", color="black",
    )  # fmt: skip
    axis.plot(
        [r["step"] for r in validation], [r["perplexity"] for r in validation],
        label="dev, all buckets", color="tab:red", linewidth=2,
    )  # fmt: skip
    buckets = sorted(
        {k for r in validation for k in r if k.startswith("bucket_") and k.endswith("perplexity")}
    )
    for key in buckets:
        points = [r for r in validation if key in r]
        axis.plot(
            [r["step"] for r in points], [r[key] for r in points],
            label=f"dev {key.removesuffix('_perplexity').replace('_', ' ')}", alpha=0.5,
        )  # fmt: skip
    axis.set_yscale("log")
    axis.set(xlabel="training step", ylabel="perplexity", title="Perplexity (Fig. 7.31)")
    axis.grid(alpha=0.3, which="both")
    axis.legend(fontsize=8)
    return save_figure(figure, output)


def plot_learning_rate(metrics_file: str | os.PathLike, output: str | os.PathLike) -> Path:
    """Fig. 7.32: the learning rate of each checkpoint interval against the step."""
    train = [r for r in records.read_metrics(metrics_file, split="train") if "learning_rate" in r]
    figure = Figure(figsize=(7, 4))
    axis = figure.subplots()
    axis.plot([r["step"] for r in train], [r["learning_rate"] for r in train], color="tab:blue")
    axis.set(xlabel="training step", ylabel="learning rate", title="Learning rate (Fig. 7.32)")
    axis.set_ylim(bottom=0)
    axis.grid(alpha=0.3)
    return save_figure(figure, output)


def plot_attention(
    weights: np.ndarray,
    source_tokens: Sequence[str],
    target_tokens: Sequence[str],
    output: str | os.PathLike,
    title: str = "Attention (Fig. 7.33)",
) -> Path:
    """Fig. 7.33: `weights[i, j]`, the attention on source token j while emitting target i.

    Args:
      weights: `(len(target_tokens), len(source_tokens))`, rows summing to 1.
      source_tokens: along the top, in reading order; target_tokens: down the side.
      Lighter is more attention, as in the book.
    """
    weights = np.asarray(weights)
    if weights.shape != (len(target_tokens), len(source_tokens)):
        raise ValueError(
            f"weights {weights.shape} do not match {len(target_tokens)} target and "
            f"{len(source_tokens)} source tokens."
        )
    figure = Figure(figsize=(1.0 + 0.45 * len(source_tokens), 1.0 + 0.4 * len(target_tokens)))
    axis = figure.subplots()
    axis.imshow(weights, cmap="gray", vmin=0.0, vmax=1.0, aspect="auto")
    axis.set_xticks(range(len(source_tokens)), source_tokens, rotation=60, ha="left")
    axis.set_yticks(range(len(target_tokens)), target_tokens)
    axis.xaxis.tick_top()
    axis.set_title(title, pad=12)
    return save_figure(figure, output)
