"""Backpropagation from scratch in NumPy for a multilayer perceptron of sigmoid neurons.

Book: chapter 2, "Training Feed-Forward Neural Networks", section "The Backpropagation
Algorithm" (seed lines 644-683; Rumelhart, Hinton & Williams 1986, note 10), with the bias
as a weight on a constant-1 input (line 609) and minibatch updates (line 707).

Notation (the book's, mapped once): layer `i` feeds layer `j`; `w_ij` is `weights[i, j]`;
`z_j` is a neuron's logit, `y_j = sigmoid(z_j)` its output; `t_j` a target. The error is
`E = 1/2 sum_j (t_j - y_j)^2` summed over the examples, and the backward pass is

    dE/dy_j = -(t_j - y_j)                      output layer (line 660)
    dE/dz_j = y_j (1 - y_j) dE/dy_j             (line 668)
    dE/dw_ij = y_i dE/dz_j                      (line 676), summed over the examples (681)
    dE/dy_i = sum_j w_ij dE/dz_j                the layer below (line 664)

Parameters are a flat list `[W_1, b_1, W_2, b_2, ...]` with `W_l` of shape `(n_{l-1}, n_l)`
and `b_l` of shape `(n_l,)`; the bias-as-weight variant uses `[A_1, A_2, ...]` with
`A_l = [W_l; b_l]` of shape `(n_{l-1} + 1, n_l)` acting on inputs extended with a constant 1.
"""

from collections.abc import Callable, Sequence

import numpy as np

from fdl_tf2.foundations import gradient_descent as gd


def init_mlp(layer_sizes: Sequence[int], *, seed: int = 0, scale: float = 1.0) -> list:
    """Random parameters `[W_1, b_1, ...]` for sizes like `(2, 8, 1)`.

    Weights are `N(0, scale^2 / fan_in)` and biases zero (float64).

    Raises:
      ValueError: fewer than two layer sizes or a size below 1.
    """
    if len(layer_sizes) < 2 or min(layer_sizes) < 1:
        raise ValueError(f"Need >= 2 positive layer sizes, got {tuple(layer_sizes)}.")
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(layer_sizes[:-1], layer_sizes[1:], strict=True):
        params.append(rng.normal(0.0, scale / np.sqrt(fan_in), (fan_in, fan_out)))
        params.append(np.zeros(fan_out))
    return params


def parameter_count(layer_sizes: Sequence[int]) -> int:
    """Weights plus biases of a dense net, e.g. 24,790 for 784-30-30-10 (line 713)."""
    return sum(
        (fan_in + 1) * fan_out
        for fan_in, fan_out in zip(layer_sizes[:-1], layer_sizes[1:], strict=True)
    )


def forward(params: list, inputs: np.ndarray) -> list[np.ndarray]:
    """The outputs `y` of every layer, the inputs first.

    Args:
      params: `[W_1, b_1, ..., W_L, b_L]`.
      inputs: `(batch, n_0)`.

    Returns:
      `[inputs, y_1, ..., y_L]`, `y_l` of shape `(batch, n_l)`.
    """
    outputs = [np.asarray(inputs, dtype=np.float64)]
    for weights, biases in zip(params[0::2], params[1::2], strict=True):
        outputs.append(gd.sigmoid(outputs[-1] @ weights + biases))
    return outputs


def predict(params: list, inputs: np.ndarray) -> np.ndarray:
    """The network's output `(batch, n_L)`."""
    return forward(params, inputs)[-1]


def loss(params: list, inputs: np.ndarray, targets: np.ndarray) -> float:
    """`E = 1/2 sum (t - y)^2` over all examples and output units."""
    return gd.squared_error(np.asarray(targets, dtype=np.float64), predict(params, inputs))


def backprop(params: list, inputs: np.ndarray, targets: np.ndarray) -> tuple[float, list]:
    """The error and its gradients by backpropagation (lines 660-681).

    Args:
      params: `[W_1, b_1, ..., W_L, b_L]`.
      inputs: `(batch, n_0)`.
      targets: `(batch, n_L)` in [0, 1].

    Returns:
      `E` (summed over the batch) and `[dE/dW_1, dE/db_1, ...]` shaped like `params`.
    """
    outputs = forward(params, inputs)
    targets = np.asarray(targets, dtype=np.float64)
    dE_dy = -(targets - outputs[-1])  # Line 660: output layer, (batch, n_L).
    gradients = [None] * len(params)
    for layer in range(len(params) // 2, 0, -1):
        y_i, y_j = outputs[layer - 1], outputs[layer]
        dE_dz = y_j * (1.0 - y_j) * dE_dy  # Line 668, (batch, n_j).
        gradients[2 * layer - 2] = y_i.T @ dE_dz  # Line 676 summed over examples (681).
        gradients[2 * layer - 1] = dE_dz.sum(axis=0)  # The bias sees a constant input 1.
        dE_dy = dE_dz @ params[2 * layer - 2].T  # Line 664: to the layer below, (batch, n_i).
    return gd.squared_error(targets, outputs[-1]), gradients


# --- The bias as a weight on a constant-1 input (line 609) -----------------------------------


def to_bias_as_weight(params: list) -> list:
    """`[W_1, b_1, ...]` -> `[A_1, ...]` with `A_l = [W_l; b_l]`, `(n_{l-1} + 1, n_l)`."""
    return [
        np.vstack([weights, biases])
        for weights, biases in zip(params[0::2], params[1::2], strict=True)
    ]


def _with_constant_one(values: np.ndarray) -> np.ndarray:
    return np.hstack([values, np.ones((len(values), 1))])


def backprop_bias_as_weight(
    augmented_weights: list, inputs: np.ndarray, targets: np.ndarray
) -> tuple[float, list]:
    """`backprop` for a net without biases whose every layer also sees a constant input 1.

    Args:
      augmented_weights: `[A_1, ..., A_L]`, `A_l` of shape `(n_{l-1} + 1, n_l)`.
      inputs: `(batch, n_0)`.
      targets: `(batch, n_L)`.

    Returns:
      `E` and `[dE/dA_1, ...]`; the last row of each is the explicit-bias gradient.
    """
    outputs = [_with_constant_one(np.asarray(inputs, dtype=np.float64))]  # (batch, n_0 + 1).
    for layer, weights in enumerate(augmented_weights, start=1):
        y_j = gd.sigmoid(outputs[-1] @ weights)
        outputs.append(y_j if layer == len(augmented_weights) else _with_constant_one(y_j))
    targets = np.asarray(targets, dtype=np.float64)
    dE_dy = -(targets - outputs[-1])  # Line 660.
    gradients = [None] * len(augmented_weights)
    for layer in range(len(augmented_weights), 0, -1):
        y_i, y_j = outputs[layer - 1], outputs[layer][:, : augmented_weights[layer - 1].shape[1]]
        dE_dz = y_j * (1.0 - y_j) * dE_dy  # Line 668.
        gradients[layer - 1] = y_i.T @ dE_dz  # Line 676; the constant 1 gives the bias row.
        dE_dy = dE_dz @ augmented_weights[layer - 1][:-1].T  # Line 664; no error for the 1.
    return gd.squared_error(targets, outputs[-1]), gradients


# --- Checking and training ---------------------------------------------------------------------


def numerical_gradients(
    loss_fn: Callable[[list], float], params: list, step: float = 1e-6
) -> list[np.ndarray]:
    """Central finite differences `(E(p + h) - E(p - h)) / 2h` for every parameter entry.

    Args:
      loss_fn: `loss_fn(params) -> float`.
      params: a list of float64 arrays (not modified).
      step: `h`.
    """
    params = [np.array(array, dtype=np.float64) for array in params]
    gradients = []
    for array in params:
        gradient = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            original = array[index]
            array[index] = original + step
            loss_plus = loss_fn(params)
            array[index] = original - step
            loss_minus = loss_fn(params)
            array[index] = original
            gradient[index] = (loss_plus - loss_minus) / (2 * step)
        gradients.append(gradient)
    return gradients


def max_gradient_error(params: list, inputs: np.ndarray, targets: np.ndarray) -> float:
    """Largest absolute difference between `backprop` and `numerical_gradients`."""
    _, analytic = backprop(params, inputs, targets)
    numeric = numerical_gradients(lambda p: loss(p, inputs, targets), params)
    return max(float(np.max(np.abs(a - n))) for a, n in zip(analytic, numeric, strict=True))


def accuracy(params: list, inputs: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of examples whose single sigmoid output, thresholded at 0.5, equals `labels`."""
    predictions = predict(params, inputs)[:, 0] >= 0.5
    return float(np.mean(predictions == np.asarray(labels).astype(bool)))


def train_mlp(
    params: list,
    inputs: np.ndarray,
    targets: np.ndarray,
    *,
    learning_rate: float,
    epochs: int,
    batch_size: int,
    seed: int = 0,
    on_epoch_end: Callable[[int, list], None] | None = None,
) -> list:
    """Minibatch gradient descent with the summed backprop gradients (line 707).

    Args:
      params: initial `[W_1, b_1, ...]` (not modified).
      inputs: `(num_examples, n_0)`.
      targets: `(num_examples, n_L)`.
      learning_rate: `eps`; the gradient is a SUM over the minibatch, as in the book.
      epochs, batch_size, seed: as in `gradient_descent.gradient_descent`.
      on_epoch_end: called as `on_epoch_end(epoch, params)` after every epoch (1-based).

    Returns:
      The trained parameters.
    """
    for epoch in range(1, epochs + 1):
        history = gd.gradient_descent(
            params,
            lambda p, x, t: backprop(p, x, t)[1],
            (np.asarray(inputs, dtype=np.float64), np.asarray(targets, dtype=np.float64)),
            batch_size=batch_size,
            learning_rate=learning_rate,
            epochs=1,
            seed=seed + epoch,
            keep_history=False,
        )
        params = history.params
        if on_epoch_end is not None:
            on_epoch_end(epoch, params)
    return params
