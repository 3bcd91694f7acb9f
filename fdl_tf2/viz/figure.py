"""Writing figures: the one place where a finished matplotlib `Figure` becomes a PNG file."""

import os
from pathlib import Path

import numpy as np
from matplotlib import image
from matplotlib.figure import Figure


def save_figure(
    figure: Figure,
    output: str | os.PathLike,
    dpi: int = 100,
    tight_layout: bool = True,
    **savefig_options,
) -> Path:
    """Lays out and writes a figure, creating its folder; returns the path.

    Args:
      figure: a `matplotlib.figure.Figure` (no pyplot state to close).
      output: the PNG to write.
      dpi: resolution of the file.
      tight_layout: call `figure.tight_layout()` first (False when the caller laid it out).
      **savefig_options: passed to `Figure.savefig`, e.g. `bbox_inches="tight"`.

    Returns:
      The path written.
    """
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    if tight_layout:
        figure.tight_layout()
    figure.savefig(output, dpi=dpi, **savefig_options)
    return output


def png_to_array(path: str | os.PathLike) -> np.ndarray:
    """A saved PNG as uint8 `(1, height, width, 3)`, for TensorBoard image summaries."""
    pixels = image.imread(str(path))[..., :3]  # (height, width, 3) float in [0, 1].
    return (np.clip(pixels, 0.0, 1.0) * 255).astype(np.uint8)[None]
