"""Chapter-4 error-surface demos: identifiability, linear interpolation, momentum walk, curvature.

Book: chapter 4, "Beyond Gradient Descent" (seed lines 1491-1931): model identifiability
(lines 1519-1533, Fig. 4.2), the linear interpolation between a random and a trained MLP
(lines 1535-1662, listings at 1551-1654, Fig. 4.3), the Hessian and the second-order Taylor
expansion (lines 1693-1734, Figs. 4.4-4.7), momentum as a smoothed random walk (lines
1736-1766, Fig. 4.8) and steepest descent against conjugate directions (lines 1792-1811,
Fig. 4.10). Spec ch04-05 §1.2, §1.3 and checklist items C4-2, C4-3, C4-4 and C4-8.

Two interpolation conventions exist (spec ch04-05 §5.1 item 1):

    "text": theta(alpha) = alpha * theta_trained + (1 - alpha) * theta_init  (line 1545)
    "repo": theta(alpha) = (1 - alpha) * theta_trained + alpha * theta_init  (listing 1603-1611)

So alpha = 1 is the trained solution in the text and the random init in the listing; the two
are related by alpha_text = 1 - alpha_repo.
"""

from collections.abc import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

CONVENTIONS = ("repo", "text")
BOOK_ALPHAS = np.arange(-2.0, 2.0, 0.01)  # The listing's sweep: 400 points, -2.00 ... 1.99.
BOOK_MOMENTA = (0.0, 0.1, 0.5, 0.9, 0.99)  # "No momentum" plus the repo's momentum_range.


# --- Identifiability (Fig. 4.2, lines 1519-1533) ---------------------------------------------


def _dense_after(
    model: keras.Model, layer_name: str
) -> tuple[keras.layers.Layer, keras.layers.Layer]:
    dense_layers = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    names = [layer.name for layer in dense_layers]
    if layer_name not in names[:-1]:
        raise ValueError(
            f"layer_name must name a hidden Dense layer followed by another Dense layer, one of "
            f"{names[:-1]}; got {layer_name!r}"
        )
    index = names.index(layer_name)
    return dense_layers[index], dense_layers[index + 1]


def permute_hidden_units(
    model: keras.Model, layer_name: str, permutation: Sequence[int]
) -> keras.Model:
    """Reorders the units of a hidden layer in place; the function computed is unchanged.

    Unit `j` of the new layer is unit `permutation[j]` of the old one: the columns of the
    layer's kernel `(in, units)` and its bias `(units,)` are permuted, and so are the rows of the
    next layer's kernel `(units, out)`. With n units there are n! such networks (line 1523).

    Args:
      model: a Sequential-like model of `Dense` layers, e.g. `feedforward.build_mlp()`.
      layer_name: the hidden layer, e.g. "hidden_1".
      permutation: a permutation of `range(units)`.

    Returns:
      `model`, modified in place.
    """
    layer, next_layer = _dense_after(model, layer_name)
    units = layer.kernel.shape[-1]
    permutation = np.asarray(permutation)
    if sorted(permutation.tolist()) != list(range(units)):
        raise ValueError(f"permutation must reorder range({units}); got {permutation.tolist()}")
    layer.kernel.assign(tf.gather(layer.kernel, permutation, axis=1))
    layer.bias.assign(tf.gather(layer.bias, permutation))
    next_layer.kernel.assign(tf.gather(next_layer.kernel, permutation, axis=0))
    return model


def rescale_relu_unit(model: keras.Model, layer_name: str, unit: int, k: float) -> keras.Model:
    """Scales one ReLU unit's incoming weights and bias by `k` and its outgoing weights by 1/k.

    For k > 0, relu(k z) / k = relu(z), so the network's outputs are unchanged (line 1529).
    The book says "any non-zero k"; for k < 0 the unit computes relu(-|k| z), a different
    function, which is kept here as the counterexample (spec ch04-05 §5.1 item 4).

    Returns:
      `model`, modified in place.
    """
    layer, next_layer = _dense_after(model, layer_name)
    units = layer.kernel.shape[-1]
    if not 0 <= unit < units:
        raise ValueError(f"unit must be in [0, {units}); got {unit}")
    if k == 0:
        raise ValueError(f"k must be non-zero; got {k}")
    column = np.ones(units, dtype=np.float32)
    column[unit] = k
    layer.kernel.assign(layer.kernel * column[None, :])
    layer.bias.assign(layer.bias * column)
    next_layer.kernel.assign(next_layer.kernel / column[:, None])
    return model


# --- Linear interpolation (Fig. 4.3, lines 1535-1662) ----------------------------------------


def _check_convention(convention: str) -> None:
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {CONVENTIONS}; got {convention!r}")


def interpolate_weights(
    initial: Sequence[np.ndarray],
    trained: Sequence[np.ndarray],
    alpha: float,
    convention: str = "repo",
) -> list[np.ndarray]:
    """The parameters on the line through `initial` and `trained` (lists of arrays, any shapes).

    "repo" (the book's listing, the default): `(1 - alpha) * trained + alpha * initial`, so
    alpha = 0 is the solution and alpha = 1 the random init. "text" (line 1545):
    `alpha * trained + (1 - alpha) * initial`, the reverse.
    """
    _check_convention(convention)
    if len(initial) != len(trained):
        raise ValueError(f"initial has {len(initial)} arrays but trained has {len(trained)}")
    weight_of_trained = 1.0 - alpha if convention == "repo" else alpha
    return [
        weight_of_trained * np.asarray(theta_f) + (1.0 - weight_of_trained) * np.asarray(theta_i)
        for theta_i, theta_f in zip(initial, trained, strict=True)
    ]


def interpolation_curve(
    model: keras.Model,
    initial_weights: Sequence[np.ndarray],
    trained_weights: Sequence[np.ndarray],
    images: np.ndarray,
    labels: np.ndarray,
    alphas: Sequence[float] = BOOK_ALPHAS,
    convention: str = "repo",
) -> np.ndarray:
    """Mean softmax cross-entropy of `model` at each point of the interpolation line.

    Args:
      model: the network; its weights are restored to `trained_weights` afterwards.
      initial_weights, trained_weights: `model.get_weights()`-style lists.
      images: inputs `(N, ...)` float32, e.g. the 10,000 test images `(10000, 784)`.
      labels: integer class labels `(N,)`.
      alphas: `(A,)` interpolation coefficients; default the listing's `arange(-2, 2, 0.01)`.
      convention: "repo" or "text" (see `interpolate_weights`).

    Returns:
      `(A,)` float64 mean losses. The loss is computed on the model's output, so with
      `output_relu=True` it is the book's cross-entropy of ReLU'd logits.
    """
    _check_convention(convention)
    variables = model.weights
    initial = [tf.constant(value, tf.float32) for value in initial_weights]
    trained = [tf.constant(value, tf.float32) for value in trained_weights]
    images = tf.constant(images, tf.float32)
    labels = tf.constant(labels, tf.int32)

    @tf.function(reduce_retracing=True)
    def loss_at(weight_of_trained):
        for variable, theta_i, theta_f in zip(variables, initial, trained, strict=True):
            variable.assign(weight_of_trained * theta_f + (1.0 - weight_of_trained) * theta_i)
        logits = tf.cast(model(images, training=False), tf.float32)
        return tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        )

    losses = []
    for alpha in np.asarray(alphas, dtype=np.float64):
        weight_of_trained = 1.0 - alpha if convention == "repo" else alpha
        losses.append(float(loss_at(tf.constant(weight_of_trained, tf.float32))))
    model.set_weights(list(trained_weights))
    return np.asarray(losses)


def interpolation_summary(
    alphas: np.ndarray, losses: np.ndarray, convention: str = "repo", window: float = 0.1
) -> dict[str, float]:
    """Numbers describing a Fig. 4.3 curve.

    Returns:
      `alpha_of_minimum` (in `convention`), `minimum_loss`, `trained_loss` and `initial_loss`
      (the losses nearest the two endpoints), `slope_at_trained` and `slope_at_initial`
      (mean |dL/d alpha| within `window` of each endpoint; a small value is the book's "flat
      region", line 1667), `flatness_ratio` = slope_at_trained / slope_at_initial, and
      `bumps_between_endpoints` (interior local maxima of the loss between the endpoints; the
      book's claim is that there are none, line 1660).
    """
    _check_convention(convention)
    alphas, losses = np.asarray(alphas, np.float64), np.asarray(losses, np.float64)
    trained_alpha, initial_alpha = (0.0, 1.0) if convention == "repo" else (1.0, 0.0)
    slopes = np.abs(np.gradient(losses, alphas))

    def near(alpha: float) -> np.ndarray:
        return np.abs(alphas - alpha) <= window + 1e-9

    def loss_at(alpha: float) -> float:
        return float(losses[np.argmin(np.abs(alphas - alpha))])

    between = (alphas >= 0.0 - 1e-9) & (alphas <= 1.0 + 1e-9)
    inner = losses[between]
    bumps = int(np.sum((inner[1:-1] > inner[:-2]) & (inner[1:-1] > inner[2:])))
    slope_trained = float(np.mean(slopes[near(trained_alpha)]))
    slope_initial = float(np.mean(slopes[near(initial_alpha)]))
    return {
        "alpha_of_minimum": float(alphas[np.argmin(losses)]),
        "minimum_loss": float(np.min(losses)),
        "trained_loss": loss_at(trained_alpha),
        "initial_loss": loss_at(initial_alpha),
        "slope_at_trained": slope_trained,
        "slope_at_initial": slope_initial,
        "flatness_ratio": slope_trained / max(slope_initial, 1e-12),
        "bumps_between_endpoints": bumps,
    }


# --- Momentum as a smoothed random walk (Fig. 4.8, lines 1736-1766) --------------------------


def momentum_random_walk(
    num_steps: int = 100,
    momentum: float = 0.0,
    seed: int | None = None,
    *,
    step_range: int = 10,
    variant: str = "book",
) -> tuple[np.ndarray, np.ndarray]:
    """A random walk of integer steps and its momentum-smoothed version (listing 1757-1764).

    Raw steps are drawn uniformly from {-step_range, ..., step_range} (21 values in the book).
    The smoothed walk starts at its own random draw, then
    `new_step = momentum * previous + (1 - momentum) * draw`, an exponential moving average.

    Args:
      num_steps: walk length; the book uses 100.
      momentum: m in [0, 1); m = 0 is the unsmoothed walk.
      seed: NumPy seed.
      step_range: half-width of the step set.
      variant: "book" smooths fresh draws, as the listing does (spec §5.1 item 7); "same"
        smooths the raw walk itself, so both curves show the same noise.

    Returns:
      `(raw, smoothed)`, each `(num_steps,)` float64.
    """
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must be in [0, 1); got {momentum}")
    if variant not in ("book", "same"):
        raise ValueError(f"variant must be 'book' or 'same'; got {variant!r}")
    if num_steps < 1:
        raise ValueError(f"num_steps must be positive; got {num_steps}")
    rng = np.random.default_rng(seed)
    raw = rng.integers(-step_range, step_range + 1, size=num_steps).astype(np.float64)
    draws = raw if variant == "same" else rng.integers(-step_range, step_range + 1, num_steps)
    smoothed = np.empty(num_steps)
    smoothed[0] = draws[0]
    for index in range(1, num_steps):
        smoothed[index] = momentum * smoothed[index - 1] + (1.0 - momentum) * draws[index]
    return raw, smoothed


def stationary_std(momentum: float, step_range: int = 10) -> float:
    """Stationary std of the smoothed walk: sigma * sqrt((1 - m) / (1 + m)).

    The EMA v_t = m v_{t-1} + (1 - m) s_t of independent draws of variance sigma^2 has
    Var(v) = (1 - m)^2 sigma^2 / (1 - m^2). A uniform draw from 2 r + 1 integers has
    sigma^2 = ((2 r + 1)^2 - 1) / 12 (36.67 for r = 10, sigma = 6.06).
    """
    sigma_squared = ((2 * step_range + 1) ** 2 - 1) / 12.0
    return float(np.sqrt(sigma_squared * (1.0 - momentum) / (1.0 + momentum)))


# --- Curvature: Hessian, Taylor expansion, line search, conjugate gradients ------------------


def hessian(fn: Callable[[tf.Tensor], tf.Tensor], x: np.ndarray | tf.Tensor) -> np.ndarray:
    """The Hessian `(n, n)` of a scalar `fn` at `x` `(n,)`, by nested `tf.GradientTape`."""
    x = tf.convert_to_tensor(x, tf.float64)
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            value = fn(x)
        gradient = inner.gradient(value, x)
    return outer.jacobian(gradient, x).numpy()


def gradient(fn: Callable[[tf.Tensor], tf.Tensor], x: np.ndarray | tf.Tensor) -> np.ndarray:
    """The gradient `(n,)` of a scalar `fn` at `x` `(n,)`."""
    x = tf.convert_to_tensor(x, tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(x)
        value = fn(x)
    return tape.gradient(value, x).numpy()


def taylor_second_order(
    fn: Callable[[tf.Tensor], tf.Tensor], x: np.ndarray, step: np.ndarray
) -> float:
    """E(x + d) ~ E(x) + d^T g + 1/2 d^T H d (line 1720); exact when `fn` is quadratic.

    With d = -eps g this is the book's E(x - eps g) ~ E(x) - eps g^T g + 1/2 eps^2 g^T H g
    (line 1724).
    """
    x, step = np.asarray(x, np.float64), np.asarray(step, np.float64)
    value = float(fn(tf.constant(x)))
    return value + float(step @ gradient(fn, x)) + 0.5 * float(step @ hessian(fn, x) @ step)


def optimal_step_size(g: np.ndarray, hessian_matrix: np.ndarray) -> float:
    """eps* = g^T g / g^T H g, the minimiser of the Taylor model along -g (line 1724)."""
    g = np.asarray(g, np.float64)
    curvature = float(g @ hessian_matrix @ g)
    if curvature <= 0:
        raise ValueError(f"g^T H g must be positive for a minimum along -g; got {curvature}")
    return float(g @ g) / curvature


def quadratic(matrix: np.ndarray, vector: np.ndarray) -> Callable[[tf.Tensor], tf.Tensor]:
    """E(x) = 1/2 x^T A x - b^T x as a TF function of `x` `(n,)`; minimum at A^-1 b."""
    matrix = tf.constant(matrix, tf.float64)
    vector = tf.constant(vector, tf.float64)

    def energy(x: tf.Tensor) -> tf.Tensor:
        return 0.5 * tf.tensordot(x, tf.linalg.matvec(matrix, x), 1) - tf.tensordot(vector, x, 1)

    return energy


def rosenbrock(x: tf.Tensor) -> tf.Tensor:
    """(1 - x0)^2 + 100 (x1 - x0^2)^2, minimum at (1, 1)."""
    return (1.0 - x[0]) ** 2 + 100.0 * (x[1] - x[0] ** 2) ** 2


def steepest_descent_path(
    matrix: np.ndarray, vector: np.ndarray, start: np.ndarray, num_steps: int
) -> np.ndarray:
    """Steepest descent with exact line search on E = 1/2 x^T A x - b^T x.

    Each step goes to the minimum along -g, so consecutive directions are orthogonal: the
    zig-zag of Fig. 4.10. Returns the iterates `(num_steps + 1, n)`.
    """
    matrix = np.asarray(matrix, np.float64)
    vector = np.asarray(vector, np.float64)
    path = [np.asarray(start, np.float64)]
    for _ in range(num_steps):
        g = matrix @ path[-1] - vector
        if np.linalg.norm(g) < 1e-14:
            break
        path.append(path[-1] - optimal_step_size(g, matrix) * g)
    return np.stack(path)


def conjugate_gradient_path(
    matrix: np.ndarray, vector: np.ndarray, start: np.ndarray, num_steps: int | None = None
) -> np.ndarray:
    """Linear conjugate gradients on E = 1/2 x^T A x - b^T x (Fletcher-Reeves).

    Each direction is A-conjugate to the previous ones, so an n-dimensional quadratic is
    minimised in at most n steps (lines 1796-1809). Returns the iterates `(steps + 1, n)`;
    `num_steps` defaults to n.
    """
    matrix = np.asarray(matrix, np.float64)
    vector = np.asarray(vector, np.float64)
    x = np.asarray(start, np.float64)
    num_steps = len(x) if num_steps is None else num_steps
    residual = vector - matrix @ x  # = -g.
    direction = residual.copy()
    path = [x]
    for _ in range(num_steps):
        if np.linalg.norm(residual) < 1e-14:
            break
        step = float(residual @ residual) / float(direction @ matrix @ direction)
        x = x + step * direction
        new_residual = residual - step * matrix @ direction
        beta = float(new_residual @ new_residual) / float(residual @ residual)
        direction = new_residual + beta * direction
        residual = new_residual
        path.append(x)
    return np.stack(path)


def fraction_positive_definite(dimension: int, num_samples: int = 10_000, seed: int = 0) -> float:
    """Fraction of random symmetric Gaussian "Hessians" `(d, d)` whose eigenvalues are all > 0.

    The book's saddle-point argument (lines 1673-1682) says a critical point is a minimum with
    probability 1/3^d, so most critical points of a high-dimensional surface are saddles. With
    Gaussian-orthogonal-ensemble matrices (entries N(0, 1), symmetrised) the fraction is 1/2 for
    d = 1 and falls even faster than 1/3^d as d grows.
    """
    if dimension < 1 or num_samples < 1:
        raise ValueError(
            f"dimension and num_samples must be positive; got {dimension}, {num_samples}"
        )
    rng = np.random.default_rng(seed)
    matrices = rng.normal(size=(num_samples, dimension, dimension))
    matrices = (matrices + np.swapaxes(matrices, 1, 2)) / 2.0
    return float(np.mean(np.all(np.linalg.eigvalsh(matrices) > 0, axis=1)))
