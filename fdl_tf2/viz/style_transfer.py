"""Neural style transfer figures (Fig. 5.20): content, style and result side by side; losses.

Book: chapter 5, "Neural style" (seed lines 2459-2487); the method is Gatys et al., 2015, "A
Neural Algorithm of Artistic Style". The optimisation is `fdl_tf2.models.style_transfer`; each
`plot_*` function writes one PNG and returns its path.
"""

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from fdl_tf2.viz.figure import save_figure


def plot_comparison(
    content: np.ndarray,
    styles: Sequence[np.ndarray],
    result: np.ndarray,
    output: str | os.PathLike,
) -> Path:
    """The content image, each style image and the stylised result, one panel each.

    Args:
      content: `(h, w, 3)` pixels in 0-255.
      styles: the style images, each `(h_i, w_i, 3)` in 0-255.
      result: `(h, w, 3)` the stylised image in 0-255.
      output: the PNG to write.

    Returns:
      The path written.
    """
    panels = [("content", content), *((f"style {i + 1}", s) for i, s in enumerate(styles))]
    panels.append(("result", result))
    figure = Figure(figsize=(3.6 * len(panels), 4.2), layout="constrained")
    axes = figure.subplots(1, len(panels))
    for axis, (title, image) in zip(axes, panels, strict=True):
        axis.imshow(np.clip(image, 0, 255).astype(np.uint8))
        axis.set_title(f"{title} ({image.shape[1]}x{image.shape[0]})")
        axis.axis("off")
    figure.suptitle("Neural style transfer (cf. book Fig. 5.20)")
    return save_figure(figure, output, tight_layout=False)


def plot_losses(
    history: Sequence[dict], loss_names: Sequence[str], output: str | os.PathLike
) -> Path:
    """The weighted losses (total, content, style, TV) against the iteration (log scale).

    Args:
      history: one dict per logged iteration with "step" and each of `loss_names`.
      loss_names: the losses to draw; "total" is drawn thicker.
      output: the PNG to write.

    Returns:
      The path written.
    """
    figure = Figure(figsize=(7, 4.5))
    axis = figure.subplots()
    steps = [record["step"] for record in history]
    for name in loss_names:
        values = [max(record[name], 1e-12) for record in history]
        axis.plot(steps, values, label=name, linewidth=2 if name == "total" else 1)
    axis.set(xlabel="iteration", ylabel="weighted loss", yscale="log", title="Style transfer loss")
    axis.legend()
    axis.grid(alpha=0.3)
    return save_figure(figure, output)
