"""The chapter-4 optimizers written from the book's equations as Keras 3 optimizers.

Book: chapter 4, "Beyond Gradient Descent": momentum (seed lines 1736-1786), Nesterov momentum
(1788-1790), AdaGrad (1819-1842), RMSProp (1844-1862) and Adam (1864-1911), with the TF1
constructor listings at 1833-1838, 1856-1860 and 1905-1909 (spec ch04-05 §1.1, §1.5, C4-5).
Papers: Sutskever et al. 2013 (Nesterov); Duchi et al. 2011 (AdaGrad); Tieleman & Hinton 2012
(RMSProp); Kingma & Ba 2014 (Adam).

Notation (the book's): `epsilon` is the learning rate `learning_rate`, `delta` the small
constant `epsilon`, `g` the gradient, `theta` the variable `w`.

Each adaptive optimizer takes `epsilon_placement`:
  - "book": the book's equations, `delta` OUTSIDE the square root, and the TF1 constants
    (RMSProp accumulator starts at 1 and delta = 1e-10; Adam delta = 1e-8).
  - "keras": exactly what `keras.optimizers.{SGD, Adagrad, RMSprop, Adam}` compute (delta
    inside the square root for Adagrad/RMSprop, Adam's "epsilon-hat" form, RMSprop's
    accumulator starting at 0, epsilon 1e-7), so the two match step for step.
SGD, Momentum and Nesterov have no delta; they accept the argument for a uniform interface and
compute the same thing in both modes. "book" mode follows the book's equations, not TF1's
kernels: TF1's own RMSProp put epsilon inside the root and its AdaGrad had no epsilon at all.

All classes override only `build`, `update_step` and `get_config`, as in the class docstring of
Keras's `Optimizer` (spec STYLE §1, §15 item 8).
"""

import keras
from keras import ops

PLACEMENTS = ("book", "keras")
_SERIALIZABLE = keras.saving.register_keras_serializable(package="fdl_tf2")


def _check_placement(epsilon_placement: str) -> str:
    if epsilon_placement not in PLACEMENTS:
        raise ValueError(
            f"`epsilon_placement` must be one of {PLACEMENTS}; received {epsilon_placement!r}."
        )
    return epsilon_placement


def _check_fraction(name: str, value: float) -> float:
    if not 0.0 <= float(value) < 1.0:
        raise ValueError(f"`{name}` must be in [0, 1); received {name}={value!r}.")
    return float(value)


@_SERIALIZABLE
class SGD(keras.optimizers.Optimizer):
    """Plain (minibatch) gradient descent.

    ```python
    w = w - learning_rate * g
    ```

    Args:
      learning_rate: the book's epsilon; 0.01 as in the chapter-3/4 MLP runs.
      epsilon_placement: "book" or "keras"; no effect (there is no delta).
      **kwargs: the base `keras.optimizers.Optimizer` arguments (name, clipnorm, ...).
    """

    def __init__(self, learning_rate=0.01, epsilon_placement="book", **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.epsilon_placement = _check_placement(epsilon_placement)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        self.assign_sub(variable, ops.multiply(gradient, learning_rate))

    def get_config(self):
        config = super().get_config()
        config.update({"epsilon_placement": self.epsilon_placement})
        return config


@_SERIALIZABLE
class Momentum(keras.optimizers.Optimizer):
    """Heavy-ball momentum (line 1742), identical to `keras.optimizers.SGD(momentum=m)`.

    ```python
    velocity = momentum * velocity - learning_rate * g    # v_i = m v_{i-1} - epsilon g_i
    w = w + velocity                                     # theta_i = theta_{i-1} + v_i
    ```

    The velocity starts at 0.

    Args:
      learning_rate: the book's epsilon; 0.01 as in the book's Fig. 4.9 run (line 1771).
      momentum: the book's m in [0, 1); 0.9 as in the book's run.
      epsilon_placement: "book" or "keras"; no effect (there is no delta).
      **kwargs: the base `keras.optimizers.Optimizer` arguments.
    """

    def __init__(self, learning_rate=0.01, momentum=0.9, epsilon_placement="book", **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.momentum = _check_fraction("momentum", momentum)
        self.epsilon_placement = _check_placement(epsilon_placement)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.velocities = self.add_optimizer_variables(variables, "velocity")

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        velocity = self.velocities[self._get_variable_index(variable)]
        momentum = ops.cast(self.momentum, variable.dtype)
        self.assign(
            velocity,
            ops.subtract(ops.multiply(velocity, momentum), ops.multiply(gradient, learning_rate)),
        )
        self.assign_add(variable, velocity)

    def get_config(self):
        config = super().get_config()
        config.update({"momentum": self.momentum, "epsilon_placement": self.epsilon_placement})
        return config


@_SERIALIZABLE
class NesterovMomentum(Momentum):
    """Nesterov momentum: the gradient is taken at the look-ahead point theta + m v (line 1788).

    The book's rule (with the typo of spec §5.1 item 8 corrected) is

    ```python
    g = grad E(theta + momentum * velocity)
    velocity = momentum * velocity - learning_rate * g
    theta = theta + velocity
    ```

    An optimizer only sees the gradient at the variable it updates, so the variable holds the
    look-ahead point `w = theta + momentum * velocity` (Sutskever et al. 2013; the form
    `keras.optimizers.SGD(momentum=m, nesterov=True)` uses). Substituting gives

    ```python
    velocity = momentum * velocity - learning_rate * g     # g = grad E(w)
    w = w + momentum * velocity - learning_rate * g
    ```

    so `w - momentum * velocity` is the book's theta at every step.

    Args:
      learning_rate: the book's epsilon.
      momentum: m in [0, 1).
      epsilon_placement: "book" or "keras"; no effect (there is no delta).
      **kwargs: the base `keras.optimizers.Optimizer` arguments.
    """

    # Same hyperparameters, state and config as `Momentum`; only the update differs.

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        velocity = self.velocities[self._get_variable_index(variable)]
        momentum = ops.cast(self.momentum, variable.dtype)
        self.assign(
            velocity,
            ops.subtract(ops.multiply(velocity, momentum), ops.multiply(gradient, learning_rate)),
        )
        self.assign_add(
            variable,
            ops.subtract(ops.multiply(velocity, momentum), ops.multiply(gradient, learning_rate)),
        )


@_SERIALIZABLE
class AdaGrad(keras.optimizers.Optimizer):
    """AdaGrad: the learning rate divided by the root of the summed squared gradients.

    "book" (lines 1825 and 1829; r_0 from the TF1 listing, 1833-1838):

    ```python
    r = r + g * g                                   # r starts at initial_accumulator_value
    w = w - learning_rate / (delta + sqrt(r)) * g
    ```

    "keras" (`keras.optimizers.Adagrad`):

    ```python
    r = r + g * g
    w = w - learning_rate * g / sqrt(r + epsilon)
    ```

    The book's text (line 1840) says TF1 merged delta into `initial_accumulator_value`; they are
    not equivalent (delta sits outside the root, r_0 inside; spec §5.1 item 10).

    Args:
      learning_rate: the book's epsilon; 0.01 (proposed in spec C4-6, the book gives none).
      initial_accumulator_value: r_0 >= 0; 0.1 as in the TF1 listing and in Keras. The book's
        equations start from r_0 = 0 (line 1823).
      epsilon: delta; 1e-7 (the book's "~1e-7", line 1831, and the Keras default).
      epsilon_placement: "book" (delta outside the root) or "keras" (inside).
      **kwargs: the base `keras.optimizers.Optimizer` arguments.
    """

    def __init__(
        self,
        learning_rate=0.01,
        initial_accumulator_value=0.1,
        epsilon=1e-7,
        epsilon_placement="book",
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, **kwargs)
        if initial_accumulator_value < 0:
            raise ValueError(
                "`initial_accumulator_value` must be >= 0; received "
                f"initial_accumulator_value={initial_accumulator_value!r}."
            )
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.epsilon = float(epsilon)
        self.epsilon_placement = _check_placement(epsilon_placement)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        initializer = keras.initializers.Constant(self.initial_accumulator_value)
        self.accumulators = self.add_optimizer_variables(
            variables, "accumulator", initializer=initializer
        )

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        accumulator = self.accumulators[self._get_variable_index(variable)]
        self.assign_add(accumulator, ops.square(gradient))
        if self.epsilon_placement == "keras":
            denominator = ops.sqrt(ops.add(accumulator, self.epsilon))
        else:
            denominator = ops.add(ops.sqrt(accumulator), self.epsilon)
        self.assign_sub(variable, ops.divide(ops.multiply(learning_rate, gradient), denominator))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon,
                "epsilon_placement": self.epsilon_placement,
            }
        )
        return config


@_SERIALIZABLE
class RMSProp(keras.optimizers.Optimizer):
    """RMSProp: AdaGrad with an exponentially weighted moving average (line 1850).

    "book" (line 1850, the AdaGrad update of line 1829, optional momentum as line 1862 suggests;
    r_0 = 1 and delta = 1e-10 as TF1 `RMSPropOptimizer`, listing 1856-1860):

    ```python
    r = rho * r + (1 - rho) * g * g
    step = learning_rate * g / (delta + sqrt(r))
    if momentum > 0:
        velocity = momentum * velocity + step     # Momentum on the scaled gradient.
        step = velocity
    w = w - step
    ```

    "keras" (`keras.optimizers.RMSprop(centered=False)`: r_0 = 0, epsilon = 1e-7):

    ```python
    r = rho * r + (1 - rho) * g * g
    step = learning_rate * g / sqrt(r + epsilon)
    (momentum as above)
    w = w - step
    ```

    Args:
      learning_rate: the book's epsilon; 0.001 (proposed in spec C4-6, the book gives none).
      rho: the decay rate in [0, 1); 0.9 as the TF1 listing's `decay`.
      momentum: in [0, 1); 0.0 as in the listing.
      epsilon: delta; None means 1e-10 ("book", the listing) or 1e-7 ("keras").
      initial_accumulator_value: r_0; None means 1.0 ("book", TF1) or 0.0 ("keras").
      epsilon_placement: "book" (delta outside the root) or "keras" (inside).
      **kwargs: the base `keras.optimizers.Optimizer` arguments.
    """

    def __init__(
        self,
        learning_rate=0.001,
        rho=0.9,
        momentum=0.0,
        epsilon=None,
        initial_accumulator_value=None,
        epsilon_placement="book",
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.epsilon_placement = _check_placement(epsilon_placement)
        book = self.epsilon_placement == "book"
        self.rho = _check_fraction("rho", rho)
        self.momentum = _check_fraction("momentum", momentum)
        self.epsilon = float((1e-10 if book else 1e-7) if epsilon is None else epsilon)
        if initial_accumulator_value is None:
            initial_accumulator_value = 1.0 if book else 0.0
        self.initial_accumulator_value = float(initial_accumulator_value)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        initializer = keras.initializers.Constant(self.initial_accumulator_value)
        self.accumulators = self.add_optimizer_variables(
            variables, "accumulator", initializer=initializer
        )
        self.velocities = []
        if self.momentum > 0:
            self.velocities = self.add_optimizer_variables(variables, "velocity")

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        index = self._get_variable_index(variable)
        accumulator = self.accumulators[index]
        # The operation order is Keras's, so "keras" mode matches it bit for bit.
        self.assign(
            accumulator,
            ops.add(
                ops.multiply(self.rho, accumulator),
                ops.multiply(1 - self.rho, ops.square(gradient)),
            ),
        )
        if self.epsilon_placement == "keras":
            denominator = ops.sqrt(ops.add(accumulator, self.epsilon))
        else:
            denominator = ops.add(ops.sqrt(accumulator), self.epsilon)
        step = ops.divide(ops.multiply(learning_rate, gradient), denominator)
        if self.momentum > 0:
            velocity = self.velocities[index]
            self.assign(velocity, ops.add(ops.multiply(self.momentum, velocity), step))
            step = velocity
        self.assign_sub(variable, step)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "rho": self.rho,
                "momentum": self.momentum,
                "epsilon": self.epsilon,
                "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon_placement": self.epsilon_placement,
            }
        )
        return config


@_SERIALIZABLE
class Adam(keras.optimizers.Optimizer):
    """Adam: bias-corrected moving averages of the gradient and its square (lines 1870-1901).

    "book" (with the typo of line 1897, v~ = v~ / ..., corrected to v / ...; t = 1, 2, ...):

    ```python
    m = beta_1 * m + (1 - beta_1) * g
    v = beta_2 * v + (1 - beta_2) * g * g
    m_hat = m / (1 - beta_1 ** t)
    v_hat = v / (1 - beta_2 ** t)
    w = w - learning_rate / (delta + sqrt(v_hat)) * m_hat
    ```

    "keras" (`keras.optimizers.Adam`, and TF1 `AdamOptimizer`: the paper's "epsilon-hat" form):

    ```python
    alpha = learning_rate * sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
    m = m + (g - m) * (1 - beta_1)
    v = v + (g * g - v) * (1 - beta_2)
    w = w - alpha * m / (sqrt(v) + epsilon)
    ```

    The two are equal for delta = epsilon = 0; otherwise the Keras epsilon acts like a book
    delta of `epsilon / sqrt(1 - beta_2 ** t)` (about 32 epsilon at t = 1 for beta_2 = 0.999).
    Either way the first step is about `learning_rate` per coordinate in the direction of
    `-sign(g)` (m_hat = g, v_hat = g * g).

    Args:
      learning_rate: the book's epsilon; 0.001 as in the TF1 listing (line 1905).
      beta_1, beta_2: decay rates in [0, 1); 0.9 and 0.999 as in the listing.
      epsilon: delta; None means 1e-8 ("book", the listing) or 1e-7 ("keras" default).
      epsilon_placement: "book" or "keras".
      **kwargs: the base `keras.optimizers.Optimizer` arguments.
    """

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=None,
        epsilon_placement="book",
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.epsilon_placement = _check_placement(epsilon_placement)
        self.beta_1 = _check_fraction("beta_1", beta_1)
        self.beta_2 = _check_fraction("beta_2", beta_2)
        default_epsilon = 1e-8 if self.epsilon_placement == "book" else 1e-7
        self.epsilon = float(default_epsilon if epsilon is None else epsilon)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.first_moments, self.second_moments = self.add_optimizer_variables(
            variables, ["first_moment", "second_moment"]
        )

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        # `iterations` counts finished steps, so this step is t = iterations + 1.
        step = ops.cast(self.iterations + 1, variable.dtype)
        if self.epsilon_placement == "keras":
            # Keras's `ops.cast` of a Python float goes through float32 (0.999 becomes
            # 0.99900001); "keras" mode copies that, "book" mode keeps the exact constants.
            beta_1 = ops.cast(self.beta_1, variable.dtype)
            beta_2 = ops.cast(self.beta_2, variable.dtype)
        else:
            beta_1 = ops.convert_to_tensor(self.beta_1, dtype=variable.dtype)
            beta_2 = ops.convert_to_tensor(self.beta_2, dtype=variable.dtype)
        beta_1_power = ops.power(beta_1, step)
        beta_2_power = ops.power(beta_2, step)
        index = self._get_variable_index(variable)
        m = self.first_moments[index]
        v = self.second_moments[index]
        if self.epsilon_placement == "keras":
            # Keras's operation order, so that the two match bit for bit.
            alpha = learning_rate * ops.sqrt(1 - beta_2_power) / (1 - beta_1_power)
            self.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1 - self.beta_1))
            self.assign_add(v, ops.multiply(ops.subtract(ops.square(gradient), v), 1 - self.beta_2))
            self.assign_sub(
                variable, ops.divide(ops.multiply(m, alpha), ops.add(ops.sqrt(v), self.epsilon))
            )
            return
        self.assign(
            m, ops.add(ops.multiply(self.beta_1, m), ops.multiply(1 - self.beta_1, gradient))
        )
        self.assign(
            v,
            ops.add(
                ops.multiply(self.beta_2, v), ops.multiply(1 - self.beta_2, ops.square(gradient))
            ),
        )
        m_hat = ops.divide(m, 1 - beta_1_power)
        v_hat = ops.divide(v, 1 - beta_2_power)
        self.assign_sub(
            variable,
            ops.multiply(ops.divide(learning_rate, ops.add(self.epsilon, ops.sqrt(v_hat))), m_hat),
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "beta_1": self.beta_1,
                "beta_2": self.beta_2,
                "epsilon": self.epsilon,
                "epsilon_placement": self.epsilon_placement,
            }
        )
        return config


OPTIMIZERS = {
    "sgd": SGD,
    "momentum": Momentum,
    "nesterov": NesterovMomentum,
    "adagrad": AdaGrad,
    "rmsprop": RMSProp,
    "adam": Adam,
}
"""The optimizer names of the book's `optimizer_mlp.py <name>` (line 1920), plus Nesterov."""
