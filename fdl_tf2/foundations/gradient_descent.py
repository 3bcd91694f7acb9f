"""Squared error, the delta rule and gradient descent, from scratch in NumPy.

Book: chapter 2, "Training Feed-Forward Neural Networks" (seed lines 532-834): the fast-food
neuron and squared error (534-560), gradient descent on the error bowl (562-580, Figs. 2.2-2.3),
the learning rate and the delta rule (582-605, Fig. 2.4), the sigmoid neuron (607-642), batch,
stochastic and minibatch gradient descent (685-709, Figs. 2.6-2.7) and overfitting (711-729,
Figs. 2.8-2.9).

Chapter 2 SUMS the gradient over the examples of a batch (lines 603, 639, 681, 707); the
chapter-3 code averages it (`reduce_mean`), so the same learning rate is a batch-size times
larger step here (spec ch01-03 §5.2 item 6). The functions below follow the book and say so.
"""

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

# --- Chapter 2.1: squared error and the delta rule -------------------------------------------


def squared_error(targets: np.ndarray, outputs: np.ndarray) -> float:
    """The book's error `E = 1/2 * sum_i (t_i - y_i)^2` (line 551), summed over everything.

    Args:
      targets: `t`, any shape.
      outputs: `y`, the same shape as `targets`.
    """
    targets, outputs = np.asarray(targets), np.asarray(outputs)
    if targets.shape != outputs.shape:
        raise ValueError(f"Shapes differ: targets {targets.shape}, outputs {outputs.shape}.")
    return float(0.5 * np.sum((targets - outputs) ** 2))


def mean_squared_error(targets: np.ndarray, outputs: np.ndarray) -> float:
    """`mean_i (t_i - y_i)^2`, used to compare fits on different numbers of points."""
    targets, outputs = np.asarray(targets), np.asarray(outputs)
    return float(np.mean((targets - outputs) ** 2))


def delta_rule_update(
    weights: np.ndarray, inputs: np.ndarray, targets: np.ndarray, learning_rate: float
) -> np.ndarray:
    """One delta-rule step for a linear neuron `y = x . w` (lines 598-603).

        delta_w_k = -eps * dE/dw_k = eps * sum_i x_k^(i) * (t^(i) - y^(i))

    The update SUMS over the examples, as the book does; chapter 3 averages instead, which
    divides the step by the number of examples (spec ch01-03 §5.2 item 6).

    Args:
      weights: `(num_features,)`.
      inputs: `(num_examples, num_features)`.
      targets: `(num_examples,)`.
      learning_rate: `eps`.

    Returns:
      The new weights, `(num_features,)`.
    """
    outputs = inputs @ weights
    return weights + learning_rate * inputs.T @ (targets - outputs)


def train_linear_neuron(
    inputs: np.ndarray,
    targets: np.ndarray,
    *,
    learning_rate: float,
    num_steps: int,
    initial_weights: np.ndarray | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Full-batch delta-rule training of a linear neuron from random weights (line 574).

    Args:
      inputs: `(num_examples, num_features)`, e.g. fast-food orders.
      targets: `(num_examples,)`, e.g. the bills.
      learning_rate: `eps`; the summed update diverges above `2 / lambda_max(X^T X)`.
      num_steps: number of updates.
      initial_weights: `(num_features,)`; default standard normal from `seed`.
      seed: seed of the random initial weights.

    Returns:
      The final weights `(num_features,)` and the squared error before each step and after the
      last, `(num_steps + 1,)`.
    """
    if num_steps < 0:
        raise ValueError(f"num_steps must be >= 0, got {num_steps}.")
    if initial_weights is None:
        initial_weights = np.random.default_rng(seed).normal(size=inputs.shape[1])
    weights = np.array(initial_weights, dtype=np.float64)
    errors = [squared_error(targets, inputs @ weights)]
    for _ in range(num_steps):
        weights = delta_rule_update(weights, inputs, targets, learning_rate)
        errors.append(squared_error(targets, inputs @ weights))
    return weights, np.array(errors)


# --- Chapter 2.4: the sigmoid neuron ----------------------------------------------------------


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """`y = 1 / (1 + exp(-z))` (line 616)."""
    return 1.0 / (1.0 + np.exp(-logits))


def sigmoid_derivative(logits: np.ndarray) -> np.ndarray:
    """`dy/dz = y (1 - y)` (line 627)."""
    outputs = sigmoid(logits)
    return outputs * (1.0 - outputs)


def sigmoid_neuron_gradient(
    weights: np.ndarray, inputs: np.ndarray, targets: np.ndarray
) -> np.ndarray:
    """`dE/dw_k = -sum_i x_k^(i) y^(i) (1 - y^(i)) (t^(i) - y^(i))` (line 635), no bias (609).

    Args:
      weights: `(num_features,)`.
      inputs: `(num_examples, num_features)`.
      targets: `(num_examples,)` in [0, 1].

    Returns:
      The gradient of the summed squared error, `(num_features,)`.
    """
    outputs = sigmoid(inputs @ weights)
    return -inputs.T @ (outputs * (1.0 - outputs) * (targets - outputs))


# --- Chapter 2.6: batch, stochastic and minibatch gradient descent ----------------------------


def _tree_map(function: Callable, *trees: Any) -> Any:
    """Applies `function` leafwise to an array or to (nested) lists/tuples of arrays."""
    if isinstance(trees[0], (list, tuple)):
        return type(trees[0])(_tree_map(function, *leaves) for leaves in zip(*trees, strict=True))
    return function(*trees)


def _copy(params: Any) -> Any:
    return _tree_map(lambda leaf: np.array(leaf, dtype=np.float64, copy=True), params)


def updates_per_epoch(num_examples: int, batch_size: int, drop_remainder: bool = False) -> int:
    """`ceil(d / b)` updates per epoch, or `floor(d / b)` without the last partial batch (761)."""
    if drop_remainder:
        return num_examples // batch_size
    return math.ceil(num_examples / batch_size)


@dataclasses.dataclass
class GradientDescentHistory:
    """What `gradient_descent` did.

    Attributes:
      params: the final parameters (same structure as the initial ones).
      params_history: the parameters before the first update and after every update.
      losses: `loss_fn(params, *data)` at the same points, if a `loss_fn` was given.
      updates_per_epoch: the number of updates in each epoch.
      batch_sizes: the number of examples behind each update.
    """

    params: Any
    params_history: list = dataclasses.field(default_factory=list)
    losses: list[float] = dataclasses.field(default_factory=list)
    updates_per_epoch: list[int] = dataclasses.field(default_factory=list)
    batch_sizes: list[int] = dataclasses.field(default_factory=list)


def gradient_descent(
    params: Any,
    grad_fn: Callable[..., Any],
    data: Sequence[np.ndarray],
    *,
    batch_size: int,
    learning_rate: float,
    epochs: int,
    drop_remainder: bool = False,
    shuffle: bool = True,
    seed: int = 0,
    loss_fn: Callable[..., float] | None = None,
    keep_history: bool = True,
) -> GradientDescentHistory:
    """Batch, stochastic and minibatch gradient descent in one function (lines 685-709).

    `batch_size = len(data)` is batch GD, `batch_size = 1` is stochastic GD and anything in
    between is minibatch GD. Each epoch shuffles the examples (if `shuffle`) and performs
    `ceil(d / b)` updates, the last on the remaining `d mod b` examples, or `floor(d / b)`
    updates when `drop_remainder` is set (the book's "d/b updates per epoch", line 761).

        params <- params - learning_rate * grad_fn(params, *batch)

    Whether the gradient is summed over the batch (the book) or averaged (chapter 3) is up to
    `grad_fn`.

    Args:
      params: an array or a (nested) list/tuple of arrays; copied, never modified.
      grad_fn: `grad_fn(params, *batch_arrays)` -> gradients with the structure of `params`.
      data: arrays with the same first dimension `d` (examples), e.g. `(inputs, targets)`.
      batch_size: `b`, 1 <= b <= d.
      learning_rate: `eps`.
      epochs: number of passes over the data.
      drop_remainder: skip the last partial batch of each epoch.
      shuffle: reshuffle the examples each epoch (seeded).
      seed: seed of the shuffling.
      loss_fn: `loss_fn(params, *data)` evaluated on all the data before and after every update.
      keep_history: record the parameters after every update (turn off for big models).

    Returns:
      A `GradientDescentHistory`.

    Raises:
      ValueError: an empty `data`, mismatched lengths, or a batch size outside [1, d].
    """
    if not data:
        raise ValueError("data must hold at least one array.")
    num_examples = len(data[0])
    if any(len(array) != num_examples for array in data):
        raise ValueError(f"Arrays in data have different lengths: {[len(a) for a in data]}.")
    if not 1 <= batch_size <= num_examples:
        raise ValueError(f"batch_size must be in [1, {num_examples}], got {batch_size}.")
    if epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}.")
    rng = np.random.default_rng(seed)
    params = _copy(params)
    history = GradientDescentHistory(params=params)

    def record() -> None:
        if keep_history:
            history.params_history.append(_copy(params))
        if loss_fn is not None:
            history.losses.append(float(loss_fn(params, *data)))

    record()
    num_updates = updates_per_epoch(num_examples, batch_size, drop_remainder)
    for _ in range(epochs):
        order = rng.permutation(num_examples) if shuffle else np.arange(num_examples)
        for update in range(num_updates):
            indices = order[update * batch_size : (update + 1) * batch_size]
            gradients = grad_fn(params, *(array[indices] for array in data))
            params = _tree_map(lambda p, g: p - learning_rate * g, params, gradients)
            history.batch_sizes.append(len(indices))
            record()
        history.updates_per_epoch.append(num_updates)
    history.params = params
    return history


# --- Chapter 2.2-2.3: the quadratic error bowl (Figs. 2.2-2.4) --------------------------------


@dataclasses.dataclass(frozen=True)
class QuadraticBowl:
    """`E(w) = offset + 1/2 (w - w*)^T H (w - w*)`, the error surface of Figs. 2.2-2.4.

    A linear neuron's squared error is exactly such a bowl, with `H = X^T X` (see
    `linear_neuron_bowl`). Gradient descent with step `eps` converges iff
    `eps < 2 / lambda_max(H)`.

    Attributes:
      hessian: `H`, symmetric positive definite, `(2, 2)` (any `(n, n)` works).
      minimum: `w*`, `(n,)`.
      offset: the error at the minimum.
    """

    hessian: np.ndarray
    minimum: np.ndarray
    offset: float = 0.0

    def loss(self, weights: np.ndarray) -> np.ndarray:
        """`E` at `weights` of shape `(..., n)`; returns shape `(...)`."""
        delta = np.asarray(weights) - self.minimum
        return self.offset + 0.5 * np.einsum("...i,ij,...j->...", delta, self.hessian, delta)

    def gradient(self, weights: np.ndarray) -> np.ndarray:
        """`dE/dw = H (w - w*)`, shape `(..., n)`."""
        return (np.asarray(weights) - self.minimum) @ self.hessian.T

    @property
    def max_curvature(self) -> float:
        """`lambda_max`, the largest eigenvalue of `H`."""
        return float(np.linalg.eigvalsh(self.hessian)[-1])

    @property
    def critical_learning_rate(self) -> float:
        """`2 / lambda_max`: steps above it diverge along the steepest direction."""
        return 2.0 / self.max_curvature


DEMO_BOWL = QuadraticBowl(
    hessian=np.array([[3.0, 1.0], [1.0, 1.0]]),  # Eigenvalues 2 +- sqrt(2): elongated, tilted.
    minimum=np.array([1.0, 2.0]),
)
"""The bowl of the Fig. 2.2-2.4 demos: lambda_max = 3.41, so steps above eps = 0.586 diverge."""


def linear_neuron_bowl(inputs: np.ndarray, targets: np.ndarray) -> QuadraticBowl:
    """The squared error of a linear neuron `y = x . w` as a `QuadraticBowl`.

    `E(w) = 1/2 |t - X w|^2 = E(w*) + 1/2 (w - w*)^T X^T X (w - w*)`, with `w*` the
    least-squares solution.

    Args:
      inputs: `(num_examples, num_features)`.
      targets: `(num_examples,)`.
    """
    minimum = np.linalg.lstsq(inputs, targets, rcond=None)[0]
    return QuadraticBowl(
        hessian=inputs.T @ inputs,
        minimum=minimum,
        offset=squared_error(targets, inputs @ minimum),
    )


def bowl_trajectory(
    bowl: QuadraticBowl, start: np.ndarray, learning_rate: float, num_steps: int
) -> np.ndarray:
    """Full-batch gradient descent on `bowl` from `start` (Figs. 2.3 and 2.4).

    Returns:
      The weights before the first step and after each step, `(num_steps + 1, n)`.
    """
    weights = np.array(start, dtype=np.float64)
    path = [weights]
    for _ in range(num_steps):
        weights = weights - learning_rate * bowl.gradient(weights)
        path.append(weights)
    return np.array(path)


# --- Chapter 2.6: a loss with a plateau (Figs. 2.6-2.7, illustrative) ------------------------


@dataclasses.dataclass(frozen=True)
class PlateauLoss:
    """A designed 1-D loss where batch GD stalls on a plateau and per-example steps escape.

    The book gives no loss for Figs. 2.6/2.7, so this one is a choice of the port:

        E(w)   = 1 - exp(-(w - w*)^2 / (2 s^2))           (batch loss: a well in a plateau)
        e_i(w) = E(w) + b_i * (w - w*)   with mean_i b_i = 0   (example i's loss)

    Far from `w*` the batch surface is flat (its gradient decays like exp(-r^2 / 2)), so batch
    GD started there barely moves. Each example's surface is tilted by `b_i`, and the tilts
    cancel only on average: the per-example steps are a random walk along the plateau that
    sooner or later drops into the well (line 696: the "dynamic" error surface of stochastic
    GD). Gradients are per-example means, so batch and stochastic steps have the same scale.

    Attributes:
      minimum: `w*`.
      width: `s`, the width of the well.
      tilts: `b_i`, `(num_examples,)`, zero-mean.
    """

    minimum: float
    width: float
    tilts: np.ndarray

    @classmethod
    def make(
        cls, num_examples: int = 20, *, minimum=0.0, width=0.5, tilt_scale=1.0, seed: int = 0
    ) -> "PlateauLoss":
        """Random zero-mean tilts of standard deviation about `tilt_scale`."""
        tilts = np.random.default_rng(seed).normal(0.0, tilt_scale, num_examples)
        return cls(minimum=minimum, width=width, tilts=tilts - tilts.mean())

    def batch_loss(self, weight: np.ndarray) -> np.ndarray:
        """`E(w)`, elementwise over `weight`."""
        return 1.0 - np.exp(-((np.asarray(weight) - self.minimum) ** 2) / (2 * self.width**2))

    def example_losses(self, weight: np.ndarray) -> np.ndarray:
        """`e_i(w)`, shape `(num_examples,) + weight.shape`."""
        weight = np.asarray(weight)
        tilt = self.tilts.reshape((-1,) + (1,) * weight.ndim)
        return self.batch_loss(weight) + tilt * (weight - self.minimum)

    def gradient(self, weight: np.ndarray, tilts: np.ndarray) -> np.ndarray:
        """The mean gradient of the losses of the examples with tilts `tilts` at `weight`."""
        delta = np.asarray(weight) - self.minimum
        well = delta / self.width**2 * np.exp(-(delta**2) / (2 * self.width**2))
        return well + np.mean(tilts)

    def descend(
        self, start: float, *, batch_size: int, learning_rate: float, epochs: int, seed: int = 0
    ) -> np.ndarray:
        """Gradient descent on the weight; returns its value after each update (start first)."""
        history = gradient_descent(
            np.array([start], dtype=np.float64),
            lambda weight, tilts: self.gradient(weight, tilts),
            (self.tilts,),
            batch_size=batch_size,
            learning_rate=learning_rate,
            epochs=epochs,
            seed=seed,
        )
        return np.array([weight[0] for weight in history.params_history])


# --- Chapter 2.7: overfitting a polynomial (Figs. 2.8-2.9) ------------------------------------


def polynomial_fit(x: np.ndarray, y: np.ndarray, degree: int) -> np.polynomial.Polynomial:
    """Least-squares polynomial of `degree` through the points (Fig. 2.8: degrees 1 and 12).

    Uses `numpy.polynomial.Polynomial.fit`, which rescales `x` to [-1, 1] so that degree 12 is
    numerically well conditioned.

    Args:
      x, y: `(num_points,)`.
      degree: >= 0.
    """
    if degree < 0:
        raise ValueError(f"degree must be >= 0, got {degree}.")
    return np.polynomial.Polynomial.fit(np.asarray(x), np.asarray(y), degree)


def polynomial_predict(polynomial: np.polynomial.Polynomial, x: np.ndarray) -> np.ndarray:
    """The polynomial's values at `x`, same shape as `x`."""
    return polynomial(np.asarray(x))
