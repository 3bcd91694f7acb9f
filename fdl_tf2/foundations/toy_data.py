"""Generated data for the chapter 1-2 demos (the book gives none; spec ch01-03 §2.1).

Every generator takes a `seed` and returns NumPy arrays, so demos, figures and tests are
reproducible. Sizes and ranges are choices of this port, documented per function.
"""

import numpy as np

EXAM_THETA = np.array([-24.0, 3.0, 4.0])
"""The book's exam perceptron, theta = [bias, w_sleep, w_study] (seed line 379)."""

FAST_FOOD_PRICES = np.array([5.0, 2.0, 3.0])
"""Prices of burger, fries and soda; the book names the items but not the prices (line 543)."""


def exam_data(num_examples: int = 60, *, seed: int = 0, margin: float = 0.5):
    """Hours of sleep and study, labelled +1 (pass) / -1 (fail) by 3*x1 + 4*x2 >= 24.

    Points closer than `margin` to the boundary are resampled, so the set is separable with a
    visible gap (Fig. 1.4).

    Returns:
      `inputs` float64 `(num_examples, 2)` in [0, 8] and `labels` int `(num_examples,)` in
      {-1, +1}.
    """
    rng = np.random.default_rng(seed)
    points = []
    while len(points) < num_examples:
        x = rng.uniform(0.0, 8.0, size=2)
        z = EXAM_THETA[0] + EXAM_THETA[1:] @ x
        if abs(z) / np.linalg.norm(EXAM_THETA[1:]) >= margin:
            points.append(x)
    inputs = np.array(points)
    labels = np.where(EXAM_THETA[0] + inputs @ EXAM_THETA[1:] >= 0, 1, -1)
    return inputs, labels


def fast_food_orders(num_orders: int = 50, *, seed: int = 0, max_items: int = 5):
    """Random meal orders and their exact bills at `FAST_FOOD_PRICES`.

    Returns:
      `orders` float64 `(num_orders, 3)` (integer counts 0..max_items of burger, fries, soda)
      and `bills` float64 `(num_orders,)`.
    """
    rng = np.random.default_rng(seed)
    orders = rng.integers(0, max_items + 1, size=(num_orders, 3)).astype(np.float64)
    return orders, orders @ FAST_FOOD_PRICES


def noisy_line(num_points: int = 15, *, seed: int = 0, noise: float = 0.3, low=-1.0, high=1.0):
    """Points on y = 2x + 1 with Gaussian noise (the polynomial-overfitting demo, Figs. 2.8-2.9).

    Returns:
      `x` float64 `(num_points,)` in [low, high] and `y` float64 `(num_points,)`.
    """
    rng = np.random.default_rng(seed)
    x = rng.uniform(low, high, num_points)
    return x, 2.0 * x + 1.0 + rng.normal(0.0, noise, num_points)


def two_d_classes(name: str, num_per_class: int = 100, *, seed: int = 0, noise: float = 0.1):
    """2-D two-class toy sets like the ConvNetJS classify2d demo: "circle", "xor", "spiral".

    Returns:
      `inputs` float32 `(2 * num_per_class, 2)` roughly in [-1, 1]^2 and `labels` int32
      `(2 * num_per_class,)` in {0, 1}.

    Raises:
      ValueError: an unknown name.
    """
    rng = np.random.default_rng(seed)
    n = num_per_class
    if name == "circle":
        radius = np.concatenate([rng.uniform(0.0, 0.45, n), rng.uniform(0.65, 1.0, n)])
        angle = rng.uniform(0.0, 2 * np.pi, 2 * n)
        inputs = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    elif name == "xor":
        inputs = rng.uniform(-1.0, 1.0, (2 * n, 2))  # Class = whether the signs agree.
    elif name == "spiral":
        t = np.sqrt(rng.uniform(0.05, 1.0, n)) * 3.0 * np.pi
        arms = [
            np.stack([t * np.cos(t + phase), t * np.sin(t + phase)], axis=1) / (3 * np.pi)
            for phase in (0.0, np.pi)
        ]
        inputs = np.concatenate(arms)
    else:
        raise ValueError(f"Unknown toy set {name!r}; expected circle, xor or spiral.")
    if name == "xor":
        labels = inputs[:, 0] * inputs[:, 1] > 0  # Before the noise: a clean XOR rule.
    else:
        labels = np.repeat([0, 1], n)
    inputs = inputs + rng.normal(0.0, noise, inputs.shape)
    return inputs.astype(np.float32), np.asarray(labels, dtype=np.int32)
