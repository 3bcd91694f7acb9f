"""Regularisation of chapter 2: L2/L1 penalties, max-norm constraints, dropout, early stopping.

Book: chapter 2, "Training Feed-Forward Neural Networks", sections "Regularization" and
"Dropout" (seed lines 794-830) and early stopping on a validation set (line 761).
Paper: Srivastava et al. 2014, "Dropout: A Simple Way to Prevent Neural Networks from
Overfitting" (book note 15).

The book has no code here; these are NumPy references and the exact mapping of the book's
quantities onto Keras 3 (spec ch01-03 §4.2, C2-11 ... C2-14):

    book L2 term   1/2 * lambda * sum(w^2)  ==  keras.regularizers.L2(lambda / 2)
    book L1 term   lambda * sum(|w|)         ==  keras.regularizers.L1(lambda)
    max-norm c     ||w_unit||_2 <= c         ==  keras.constraints.MaxNorm(c, axis=0)
    dropout keep p                           ==  keras.layers.Dropout(rate=1 - p)

Keras `L2(l2)` computes `l2 * sum(w^2)` (no 1/2), hence the halving. Keras `Dropout` is the
inverted variant: it divides the kept activations by `1 - rate` during training.
"""

import keras
import numpy as np

_KERAS_EPSILON = 1e-7
"""`keras.config.epsilon()`, the denominator guard of `MaxNorm`."""


# --- L2 and L1 penalties ----------------------------------------------------------------------


def book_l2_to_keras(lam: float) -> keras.regularizers.Regularizer:
    """The book's L2 term `1/2 * lam * sum(w^2)` (line 799) as a Keras regularizer.

    Args:
      lam: the book's regularisation strength lambda (>= 0).

    Returns:
      `keras.regularizers.L2(lam / 2)`, whose value on `w` is `lam / 2 * sum(w^2)`.

    Raises:
      ValueError: a negative `lam`.
    """
    if lam < 0:
        raise ValueError(f"The L2 strength lambda must be >= 0, got {lam}.")
    return keras.regularizers.L2(lam / 2.0)


def book_l2_penalty(weights: np.ndarray | list[np.ndarray], lam: float) -> float:
    """`1/2 * lam * sum(w^2)` over one array or a list of arrays (NumPy reference).

    Args:
      weights: an array of any shape, or a list of them (e.g. every kernel of a model).
      lam: the book's lambda.
    """
    arrays = weights if isinstance(weights, (list, tuple)) else [weights]
    return 0.5 * lam * float(sum(np.sum(np.square(np.asarray(w, np.float64))) for w in arrays))


def book_l1_to_keras(lam: float) -> keras.regularizers.Regularizer:
    """The book's L1 term `lam * sum(|w|)` (line 812): exactly `keras.regularizers.L1(lam)`.

    Raises:
      ValueError: a negative `lam`.
    """
    if lam < 0:
        raise ValueError(f"The L1 strength lambda must be >= 0, got {lam}.")
    return keras.regularizers.L1(lam)


def book_l1_penalty(weights: np.ndarray | list[np.ndarray], lam: float) -> float:
    """`lam * sum(|w|)` over one array or a list of arrays (NumPy reference)."""
    arrays = weights if isinstance(weights, (list, tuple)) else [weights]
    return lam * float(sum(np.sum(np.abs(np.asarray(w, np.float64))) for w in arrays))


# --- Max-norm constraint ----------------------------------------------------------------------


def max_norm_project(kernel: np.ndarray, max_value: float) -> np.ndarray:
    """Projects each unit's incoming weight vector onto the ball of radius `max_value`.

    A `Dense` kernel has shape `(inputs, units)`, so unit j's incoming vector is column j
    (line 814). Columns with norm <= c are unchanged; longer ones are rescaled to norm c:

        w_j <- w_j * min(||w_j||, c) / (||w_j|| + 1e-7)

    The 1e-7 is Keras's epsilon, so this equals `keras.constraints.MaxNorm(c, axis=0)`.
    Example: `[[3, 4], [0, 0]]` with c = 3 gives `[[3, 3], [0, 0]]`.

    Args:
      kernel: array of shape `(inputs, units)`.
      max_value: the radius c (the book's typical values are 3 or 4, line 816).

    Returns:
      The projected kernel, shape `(inputs, units)`.

    Raises:
      ValueError: a non-positive `max_value` or a kernel that is not 2-D.
    """
    if max_value <= 0:
        raise ValueError(f"max_value must be positive, got {max_value}.")
    kernel = np.asarray(kernel)
    if kernel.ndim != 2:
        raise ValueError(f"Expected a 2-D (inputs, units) kernel, got shape {kernel.shape}.")
    norms = np.sqrt(np.sum(np.square(kernel), axis=0, keepdims=True))  # (1, units)
    return kernel * (np.clip(norms, 0.0, max_value) / (norms + _KERAS_EPSILON))


# --- Dropout ----------------------------------------------------------------------------------


def _check_keep_prob(keep_prob: float) -> None:
    if not 0.0 < keep_prob <= 1.0:
        raise ValueError(f"keep_prob must be in (0, 1], got {keep_prob}.")


def dropout_naive(
    x: np.ndarray, keep_prob: float, training: bool, rng: np.random.Generator
) -> np.ndarray:
    """The book's first dropout variant: drop in training, scale by p at test time (line 824).

    Training: each activation is kept with probability p, else set to 0, so
    `E[output] = p * x` (line 826). Test: `output = p * x`, the same expectation.

    Args:
      x: activations, any shape.
      keep_prob: the book's p, the probability of KEEPING a unit (Keras rate = 1 - p).
      training: training mode (random mask) or test mode (deterministic scaling).
      rng: the source of the random mask.

    Returns:
      An array shaped like `x`.
    """
    _check_keep_prob(keep_prob)
    x = np.asarray(x)
    if not training:
        return keep_prob * x
    mask = rng.random(x.shape) < keep_prob
    return np.where(mask, x, 0.0).astype(x.dtype, copy=False)


def dropout_inverted(
    x: np.ndarray, keep_prob: float, training: bool, rng: np.random.Generator
) -> np.ndarray:
    """Inverted dropout: divide kept activations by p in training; identity at test (line 828).

    Training: `E[output] = p * x / p + (1 - p) * 0 = x`. This is what
    `keras.layers.Dropout(rate=1 - keep_prob)` computes.

    Args:
      x: activations, any shape.
      keep_prob: the book's p, the probability of KEEPING a unit.
      training: training mode (mask and rescale) or test mode (identity).
      rng: the source of the random mask.

    Returns:
      An array shaped like `x`.
    """
    _check_keep_prob(keep_prob)
    x = np.asarray(x)
    if not training:
        return x
    mask = rng.random(x.shape) < keep_prob
    return np.where(mask, x / keep_prob, 0.0).astype(x.dtype, copy=False)


def keras_dropout_rate(keep_prob: float) -> float:
    """Keras `Dropout(rate=...)` for the book's keep probability p: `rate = 1 - p`."""
    _check_keep_prob(keep_prob)
    return 1.0 - keep_prob


# --- Early stopping ---------------------------------------------------------------------------


class PatienceEarlyStopping(keras.callbacks.Callback):
    """The patience rule of the book's Theano code (first-edition repository, spec §2.2).

    Counted in training minibatches (`iteration`). After each epoch's validation:

        if val_loss < best:
            if val_loss < best * improvement_threshold:
                patience = max(patience, iteration * patience_increase)
            best = val_loss
        if patience <= iteration: stop

    The Theano code validates every `min(n_train_batches, patience / 2)` minibatches; this port
    validates once per epoch (Keras's `val_loss`). Keras's `EarlyStopping(monitor="val_loss",
    patience=k)` is the epoch-counted modern rule; this callback ports the original for
    comparison. Best weights are restored on stopping.

    Args:
      patience: minibatches to look at at least (the tutorial uses 5000 or 10000).
      patience_increase: factor that extends patience on a significant improvement (2).
      improvement_threshold: a relative improvement below this factor is significant (0.995).
      monitor: the logged validation quantity.
    """

    def __init__(
        self,
        patience: int = 5000,
        patience_increase: float = 2.0,
        improvement_threshold: float = 0.995,
        monitor: str = "val_loss",
    ):
        super().__init__()
        if patience <= 0:
            raise ValueError(f"patience must be positive, got {patience}.")
        self.initial_patience = patience
        self.patience_increase = patience_increase
        self.improvement_threshold = improvement_threshold
        self.monitor = monitor

    def on_train_begin(self, logs=None):
        self.patience = self.initial_patience
        self.iteration = 0
        self.best = np.inf
        self.best_weights = None
        self.stopped_epoch = None

    def on_train_batch_end(self, batch, logs=None):
        self.iteration += 1

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            raise ValueError(f"{self.monitor!r} is not logged; logs have {sorted(logs or {})}.")
        if value < self.best:
            if value < self.best * self.improvement_threshold:
                self.patience = max(self.patience, self.iteration * self.patience_increase)
            self.best = value
            self.best_weights = self.model.get_weights()
        if self.patience <= self.iteration:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            if self.best_weights is not None:
                self.model.set_weights(self.best_weights)
