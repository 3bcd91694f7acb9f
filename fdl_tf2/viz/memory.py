"""Figures of the chapter-8 DNC: memory traces of the copy task (Fig. 8.9), learning curves.

Fig. 8.9 (seed lines 5589-5595; DNC-tensorflow's `memory_visualization.py`) shows, against the
time step: the write and read weightings over the memory slots ("Memory Locations"), the free
gate, the allocation gate and the usage of each slot.
"""

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from fdl_tf2.training import records
from fdl_tf2.viz.figure import save_figure


def plot_copy_trace(trace: Mapping[str, np.ndarray], output: str | os.PathLike) -> Path:
    """Fig. 8.9 from one recorded series.

    Args:
        trace: `inputs` and `targets` `(T, bits + 1)`, `outputs` `(T, bits + 1)` logits,
            `write_weights` `(T, N)`, `read_weights` `(T, R, N)`, `usage` `(T, N)`,
            `free_gates` `(T, R)`, `allocation_gate` and `write_gate` `(T,)`.
    """
    steps = len(trace["write_weights"])
    time = np.arange(steps)
    figure = Figure(figsize=(11, 11))
    axes = figure.subplots(6, 1, sharex=True, height_ratios=[1.2, 1.2, 1.6, 1.6, 0.8, 1.6])
    outputs = 0.5 * (1.0 + np.tanh(0.5 * trace["outputs"]))  # sigmoid, without overflow
    panels = [
        (trace["inputs"].T, "inputs", "Greys", 1.0),
        (outputs.T, "outputs (sigmoid)", "Greys", 1.0),
    ]
    for axis, (image, title, colours, top) in zip(axes[:2], panels, strict=True):
        axis.imshow(image, aspect="auto", cmap=colours, vmin=0, vmax=top, interpolation="none")
        axis.set(title=title, ylabel="channel")
    # Memory locations: write weightings in red, the first head's read weightings in blue.
    write = trace["write_weights"].T  # (N, T)
    read = trace["read_weights"][:, 0].T  # (N, T)
    for axis, image, title, colours in (
        (axes[2], write, "write weighting (memory locations)", "Reds"),
        (axes[3], read, "read weighting, head 1 (memory locations)", "Blues"),
    ):
        axis.imshow(image, aspect="auto", cmap=colours, vmin=0, vmax=1, interpolation="none")
        axis.set(title=title, ylabel="slot")
    axes[4].plot(time, trace["free_gates"][:, 0], label="free gate (head 1)", color="tab:green")
    axes[4].plot(time, trace["allocation_gate"], label="allocation gate", color="tab:orange")
    axes[4].plot(time, trace["write_gate"], label="write gate", color="tab:red", alpha=0.5)
    axes[4].set(ylim=(-0.05, 1.05), title="gates")
    axes[4].legend(fontsize=7, loc="upper right", ncol=3)
    axes[5].imshow(
        trace["usage"].T, aspect="auto", cmap="Greens", vmin=0, vmax=1, interpolation="none"
    )
    axes[5].set(title="memory locations usage", ylabel="slot", xlabel="time step")
    figure.suptitle("DNC on a copy series (Fig. 8.9)")
    return save_figure(figure, output)


def plot_learning_curve(
    metrics_file: str | os.PathLike, metric: str, output: str | os.PathLike
) -> Path:
    """Training loss and the validation `metric` against the step (log y axis)."""
    rows = records.read_metrics(metrics_file)
    train = [r for r in rows if r["split"] == "train" and "cost" in r]
    validation = [r for r in rows if r["split"] == "validation" and metric in r]
    figure = Figure(figsize=(7, 4.5))
    loss_axis = figure.subplots()
    loss_axis.plot([r["step"] for r in train], [r["cost"] for r in train], color="black",
                   label="train loss")  # fmt: skip
    loss_axis.set(xlabel="training step", ylabel="train loss", yscale="log")
    metric_axis = loss_axis.twinx()
    metric_axis.plot(
        [r["step"] for r in validation], [max(r[metric], 1e-3) for r in validation],
        color="tab:red", marker="o", label=f"validation {metric}",
    )  # fmt: skip
    metric_axis.set(ylabel=f"{metric.replace('_', ' ')} (0 drawn at 1e-3)", yscale="log")
    loss_axis.grid(alpha=0.3, which="both")
    figure.legend(loc="upper right", fontsize=8)
    return save_figure(figure, output)
