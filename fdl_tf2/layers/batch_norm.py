"""The book's batch normalisation, written from scratch as a Keras layer.

Book: chapter 5, "Batch normalization" (seed lines 2237-2332): `conv_batch_norm` and
`layer_batch_norm` (spec ch04-05 §2.6, C5-6). Ioffe & Szegedy, 2015.

For inputs `x` of shape `(batch, ..., channels)` and per-channel moments over every other axis
(`[0, 1, 2]` for images, `[0]` for dense activations):

    training:   y = gamma * (x - mean_B) / sqrt(var_B + eps) + beta,
                and the moving averages m <- decay * m + (1 - decay) * moment_B
    inference:  y = gamma * (x - m_mean) / sqrt(m_var + eps) + beta

with gamma = 1, beta = 0 initially, decay 0.9 and eps 1e-3 as in the book. var_B is the biased
(population) batch variance, as `tf.nn.moments` computes it. The layer is written with
`keras.ops`, so it runs on every Keras backend.

One detail differs from `keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-3)`: the
book's `tf.train.ExponentialMovingAverage` of a tensor is *zero-debiased*: its shadow starts
at 0 and is divided by `1 - decay^t` after t updates, so the first update already gives the
batch moments. Keras starts from mean 0 / variance 1 without debiasing. The two agree once
`decay^t` is negligible (t >= ~100 for decay 0.9); `zero_debias=False` gives Keras' rule
exactly. Both are tested against each other in `tests/unit/layers/test_batch_norm.py`.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="fdl_tf2")
class BookBatchNorm(keras.layers.Layer):
    """Batch normalisation over the last axis, with the book's zero-debiased moving moments.

    Input and output: `(batch, ..., channels)`. Weights: `gamma`, `beta` (trainable,
    `(channels,)`), `moving_mean`, `moving_variance` (non-trainable, `(channels,)`) and the
    update count `moving_updates` (scalar) used for zero-debiasing.
    """

    def __init__(
        self, decay: float = 0.9, epsilon: float = 1e-3, zero_debias: bool = True, **kwargs
    ):
        kwargs.setdefault("autocast", False)  # Weights and moments stay float32.
        super().__init__(**kwargs)
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be in [0, 1), got {decay}.")
        self.decay = decay
        self.epsilon = epsilon
        self.zero_debias = zero_debias

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError("BookBatchNorm needs a known channel (last) dimension.")
        # autocast=False on every weight: a direct (not in-model) call under a mixed policy
        # would otherwise read them as float16, despite the layer's own autocast=False.
        self.gamma = self.add_weight(
            shape=(channels,), initializer="ones", autocast=False, name="gamma"
        )
        self.beta = self.add_weight(
            shape=(channels,), initializer="zeros", autocast=False, name="beta"
        )
        # Zero-debiased shadows start at 0 (TF1's EMA of a tensor); Keras' rule starts at 0 / 1.
        variance_init = "zeros" if self.zero_debias else "ones"
        self.moving_mean = self.add_weight(
            shape=(channels,),
            initializer="zeros",
            trainable=False,
            autocast=False,
            name="moving_mean",
        )
        self.moving_variance = self.add_weight(
            shape=(channels,),
            initializer=variance_init,
            trainable=False,
            autocast=False,
            name="moving_variance",
        )
        self.moving_updates = self.add_weight(
            shape=(), initializer="zeros", trainable=False, autocast=False, name="moving_updates"
        )

    def moving_moments(self):
        """The inference moments `(mean, variance)`, each `(channels,)`: the moving averages,
        divided by `1 - decay^t` when `zero_debias`."""
        if not self.zero_debias:
            return self.moving_mean, self.moving_variance
        # Before any update the correction is 1/0; use mean 0 / variance 1 then.
        correction = ops.maximum(1.0 - ops.power(self.decay, self.moving_updates), 1e-12)
        started = self.moving_updates > 0
        mean = ops.where(started, self.moving_mean / correction, 0.0)
        variance = ops.where(started, self.moving_variance / correction, 1.0)
        return mean, variance

    def call(self, inputs, training=None):
        x = ops.cast(inputs, "float32")  # Moments in float32 under mixed precision.
        if training:
            axes = list(range(len(x.shape) - 1))
            mean, variance = ops.moments(x, axes)
            for moving, batch_value in (
                (self.moving_mean, mean),
                (self.moving_variance, variance),
            ):
                moving.assign(self.decay * moving + (1.0 - self.decay) * batch_value)
            self.moving_updates.assign_add(1.0)
        else:
            mean, variance = self.moving_moments()
        outputs = ops.batch_normalization(
            x, mean, variance, axis=-1, offset=self.beta, scale=self.gamma, epsilon=self.epsilon
        )
        return ops.cast(outputs, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "decay": self.decay,
            "epsilon": self.epsilon,
            "zero_debias": self.zero_debias,
        }
