"""The perceptron, the artificial neuron, activations, softmax and dense layers in NumPy.

Book: Chapter 1, "The Neural Network" (seed lines 310-528): the exam perceptron (lines
367-390), the neuron `y = f(x . w + b)` (lines 409-440), feed-forward layers in matrix form
(lines 442-468), linear neurons and why stacking them adds nothing (lines 470-481), sigmoid,
tanh and ReLU (lines 484-510) and the softmax output layer (lines 512-524).

References: F. Rosenblatt, "The perceptron", Psychological Review 65(6), 1958; W. McCulloch
and W. Pitts, "A logical calculus of the ideas immanent in nervous activity", 1943; V. Nair
and G. Hinton, "Rectified linear units improve restricted Boltzmann machines", ICML 2010.

These are references for the tests and the chapter-1 figures; the models of later chapters
use Keras layers.
"""

from collections.abc import Callable, Sequence

import numpy as np

Activation = Callable[[np.ndarray], np.ndarray]


# --- Activations (lines 432, 472, 489-504) -------------------------------------------------


def step(z: np.ndarray) -> np.ndarray:
    """The perceptron's activation: `f(z) = -1 if z < 0 else 1` (line 432).

    The boundary is inclusive: `step(0) = 1`.

    Args:
      z: logits of any shape.

    Returns:
      float64 array of the same shape, with values in {-1, 1}.
    """
    return np.where(np.asarray(z) >= 0, 1.0, -1.0)


def linear(z: np.ndarray, a: float = 1.0, b: float = 0.0) -> np.ndarray:
    """The linear neuron's activation `f(z) = a * z + b` (line 472); the defaults are identity."""
    return a * np.asarray(z, dtype=np.float64) + b


def sigmoid(z: np.ndarray) -> np.ndarray:
    """`f(z) = 1 / (1 + exp(-z))`, range (0, 1) (line 489, Fig. 1.11).

    Evaluated as `exp(z) / (1 + exp(z))` for negative z, so `exp` never overflows: the naive
    formula warns for z < -709 (float64).

    Args:
      z: logits of any shape.

    Returns:
      float64 array of the same shape.
    """
    z = np.asarray(z, dtype=np.float64)
    exp_of_minus_abs = np.exp(-np.abs(z))  # In (0, 1]: no overflow.
    return np.where(
        z >= 0, 1.0 / (1.0 + exp_of_minus_abs), exp_of_minus_abs / (1.0 + exp_of_minus_abs)
    )


def tanh(z: np.ndarray) -> np.ndarray:
    """`f(z) = (exp(z) - exp(-z)) / (exp(z) + exp(-z))`, range (-1, 1), zero-centred (line 493)."""
    return np.tanh(np.asarray(z, dtype=np.float64))


def relu(z: np.ndarray) -> np.ndarray:
    """`f(z) = max(0, z)`, the "hockey stick" (line 504, Fig. 1.13)."""
    return np.maximum(0.0, np.asarray(z, dtype=np.float64))


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """`y_i = exp(z_i) / sum_j exp(z_j)` (line 522): a probability distribution over classes.

    The maximum logit is subtracted first (the result is unchanged, since the factor
    `exp(-max)` cancels), so large logits do not overflow: `softmax([1000, 1000]) = [0.5, 0.5]`.

    Args:
      logits: `(..., num_classes)` (or any shape, normalised along `axis`).
      axis: the class axis.

    Returns:
      float64 array of the same shape; it sums to 1 along `axis`.
    """
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - np.max(logits, axis=axis, keepdims=True)
    exps = np.exp(shifted)
    return exps / np.sum(exps, axis=axis, keepdims=True)


# --- The perceptron and the neuron (lines 367-440) ------------------------------------------


def perceptron(x: np.ndarray, theta: Sequence[float] | np.ndarray) -> np.ndarray:
    """The linear perceptron `h(x, theta) = -1 if x . [theta_1 ... theta_n] + theta_0 < 0 else 1`.

    Line 369; with `theta = [-24, 3, 4]` it is the exam classifier `3 x1 + 4 x2 - 24 >= 0`
    (lines 379-381, Fig. 1.4). Points on the line count as +1.

    Args:
      x: one input `(n,)` or a batch `(..., n)`.
      theta: `(n + 1,)`, the bias `theta_0` first, then the weights.

    Returns:
      float64 `(...)` in {-1, 1}: a 0-d array for one input.

    Raises:
      ValueError: `theta` is not a vector one longer than the last axis of `x`.
    """
    x = np.asarray(x, dtype=np.float64)
    theta = np.asarray(theta, dtype=np.float64)
    if theta.ndim != 1 or x.ndim == 0 or theta.shape[0] != x.shape[-1] + 1:
        raise ValueError(
            f"theta must have shape (n + 1,) for inputs (..., n); got theta {theta.shape} "
            f"and x {x.shape}."
        )
    return step(x @ theta[1:] + theta[0])


def neuron(
    x: np.ndarray, w: np.ndarray, b: float | np.ndarray, activation: Activation = linear
) -> np.ndarray:
    """One artificial neuron `y = f(x . w + b)` (line 418, Fig. 1.7).

    With `activation=step` it is the perceptron (Fig. 1.8); with `linear` it is the fast-food
    neuron (Fig. 1.10).

    Args:
      x: inputs `(n,)` or a batch `(..., n)`.
      w: weights `(n,)`.
      b: the bias, a scalar.
      activation: `f`, applied to the logit `z = x . w + b`.

    Returns:
      `(...)`: the output of each input.

    Raises:
      ValueError: `w` is not a vector as long as the last axis of `x`.
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 1 or x.ndim == 0 or x.shape[-1] != w.shape[0]:
        raise ValueError(
            f"w must have shape (n,) for inputs (..., n); got w {w.shape}, x {x.shape}."
        )
    return activation(x @ w + b)


# --- Layers in matrix form (lines 442-481) --------------------------------------------------


def dense_layer(
    x: np.ndarray, weights: np.ndarray, bias: np.ndarray, activation: Activation = linear
) -> np.ndarray:
    """A fully connected layer `y = f(W^T x + b)` (line 468), batched as `f(X @ W + b)`.

    `W[i, j]` is the weight from input i to neuron j (the book's `w_{i,j}`, line 452).

    Args:
      x: one input `(n,)` or a batch `(batch, n)`.
      weights: `W`, `(n, m)`.
      bias: `b`, `(m,)`.
      activation: `f`, applied elementwise.

    Returns:
      `(m,)` or `(batch, m)`.

    Raises:
      ValueError: the shapes of `x`, `weights` and `bias` do not fit together.
    """
    x = np.asarray(x, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    bias = np.asarray(bias, dtype=np.float64)
    if weights.ndim != 2 or bias.shape != (weights.shape[1],) or x.shape[-1] != weights.shape[0]:
        raise ValueError(
            f"Expected x (..., n), weights (n, m), bias (m,); got x {x.shape}, "
            f"weights {weights.shape}, bias {bias.shape}."
        )
    return activation(x @ weights + bias)


def collapse_linear_layers(
    layers: Sequence[tuple[np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray]:
    """The one layer equal to a stack of linear (identity-activation) layers (line 474).

    For two layers, `(x @ W1 + b1) @ W2 + b2 = x @ (W1 @ W2) + (b1 @ W2 + b2)`; more layers
    fold in the same way, left to right. Hidden layers of linear neurons therefore add no
    expressive power.

    Args:
      layers: `[(W1, b1), (W2, b2), ...]`, `W_k` of shape `(n_k, n_{k+1})`, `b_k` `(n_{k+1},)`.

    Returns:
      `(W, b)`: `W` `(n_1, n_last)` and `b` `(n_last,)`.

    Raises:
      ValueError: no layers, or consecutive shapes that do not chain.
    """
    if not layers:
        raise ValueError(f"Expected at least one (weights, bias) pair; got {layers!r}.")
    weights, bias = (np.asarray(array, dtype=np.float64) for array in layers[0])
    for index, (next_weights, next_bias) in enumerate(layers[1:], start=1):
        next_weights = np.asarray(next_weights, dtype=np.float64)
        next_bias = np.asarray(next_bias, dtype=np.float64)
        if next_weights.shape[0] != weights.shape[1]:
            raise ValueError(
                f"Layer {index} has weights {next_weights.shape}, which do not follow an output "
                f"of width {weights.shape[1]}."
            )
        weights, bias = weights @ next_weights, bias @ next_weights + next_bias
    return weights, bias


def fast_food_bill(order: np.ndarray, prices: np.ndarray) -> np.ndarray:
    """The fast-food linear neuron: inputs are item counts, weights are prices (line 472).

    `bill = f(order . prices)` with `f(z) = z` (a = 1, b = 0) and no bias (Fig. 1.10).

    Args:
      order: counts of burger, fries and soda, `(3,)` or `(num_orders, 3)`.
      prices: `(3,)`, e.g. `toy_data.FAST_FOOD_PRICES`.

    Returns:
      The bill(s), `()` or `(num_orders,)`.
    """
    return neuron(order, prices, 0.0, activation=linear)
