"""Regenerates `swirls.jpg`, the procedural default style image (no third-party content).

    python fdl_tf2/assets/style_transfer/make_swirls.py

A line-integral convolution (LIC) smears white noise along a vector field made of a few
vortices on a gentle diagonal flow, which gives brush-stroke-like streaks; a smooth field
picks each pixel's colour from a night-sky palette. Deterministic for a given seed.
"""

import sys
from pathlib import Path

import numpy as np
from PIL import Image

SIZE = 384  # Pixels per side.
STEPS = 24  # Streamline steps each way of the line-integral convolution.
PALETTE = np.array(
    [  # From dark to light: night blue, cobalt, sky blue, pale green, ochre, yellow, cream.
        (12, 22, 60),
        (25, 60, 140),
        (70, 120, 200),
        (150, 190, 170),
        (205, 165, 60),
        (245, 215, 80),
        (250, 245, 210),
    ],
    dtype=np.float64,
)


def _vector_field(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors `(size, size)` x and y of vortices on a diagonal flow."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    vx = np.full_like(x, 0.6)
    vy = np.full_like(y, 0.25)
    for _ in range(7):
        cx, cy = rng.uniform(0, size, 2)
        radius = rng.uniform(0.08, 0.22) * size
        spin = rng.choice([-1.0, 1.0]) * rng.uniform(1.5, 3.0)
        dx, dy = x - cx, y - cy
        weight = spin * np.exp(-(dx**2 + dy**2) / radius**2) / radius
        vx += -dy * weight
        vy += dx * weight
    norm = np.hypot(vx, vy) + 1e-9
    return vx / norm, vy / norm


def _lic(noise: np.ndarray, vx: np.ndarray, vy: np.ndarray, steps: int) -> np.ndarray:
    """Mean of `noise` along each pixel's streamline, `steps` pixels forward and backward."""
    size = noise.shape[0]
    y0, x0 = np.mgrid[0:size, 0:size].astype(np.float64)
    total = noise.copy()
    for direction in (1.0, -1.0):
        x, y = x0.copy(), y0.copy()
        for _ in range(steps):
            i = np.clip(np.rint(y).astype(int), 0, size - 1)
            j = np.clip(np.rint(x).astype(int), 0, size - 1)
            x += direction * vx[i, j]
            y += direction * vy[i, j]
            i = np.clip(np.rint(y).astype(int), 0, size - 1)
            j = np.clip(np.rint(x).astype(int), 0, size - 1)
            total += noise[i, j]
    return total / (2 * steps + 1)


def _smooth_field(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """A smooth random field in [0, 1]: bicubic upsampling of a `cells × cells` grid."""
    coarse = rng.uniform(0, 255, (cells, cells)).astype(np.uint8)
    field = np.asarray(Image.fromarray(coarse).resize((size, size), Image.BICUBIC), np.float64)
    return (field - field.min()) / (field.max() - field.min())


def make_swirls(size: int = SIZE, seed: int = 0) -> np.ndarray:
    """The style image, `(size, size, 3)` uint8."""
    rng = np.random.default_rng(seed)
    vx, vy = _vector_field(rng, size)
    # Noise with 2-pixel grains gives strokes a few pixels wide.
    grains = rng.uniform(0, 1, (size // 2, size // 2))
    noise = np.kron(grains, np.ones((2, 2)))
    streaks = _lic(noise, vx, vy, STEPS)
    streaks = (streaks - streaks.mean()) / (streaks.std() + 1e-9)
    tone = 0.75 * _smooth_field(rng, size, 5) + 0.25 * _smooth_field(rng, size, 12)
    level = np.clip(tone + 0.12 * streaks, 0.0, 1.0) * (len(PALETTE) - 1)
    low = np.floor(level).astype(int).clip(0, len(PALETTE) - 2)
    frac = (level - low)[..., None]
    rgb = PALETTE[low] * (1 - frac) + PALETTE[low + 1] * frac
    return np.clip(rgb, 0, 255).astype(np.uint8)


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("swirls.jpg")
    Image.fromarray(make_swirls()).save(out, quality=90)
    print(f"wrote {out} ({out.stat().st_size} bytes)")
