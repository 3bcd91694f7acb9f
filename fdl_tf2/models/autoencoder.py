"""The chapter-6 autoencoders: the MNIST deep autoencoder, its denoising variant, and sparse ones.

Book: chapter 6, "Implementing an Autoencoder in TensorFlow" (seed lines 2559-2892, repo
`autoencoder_mnist.py`), "Denoising to Force Robust Representations" (lines 2894-2945, repo
`denoising_autoencoder_mnist.py`) and "Sparsity in Autoencoders" (lines 2947-2985, no code);
spec ch06-07 §2.1.2-2.1.5, checklist §5.2 items 2-4, 10-11. After Hinton & Salakhutdinov (2006),
without their RBM pretraining.

- `build_autoencoder(n_code)`: 784-1000-500-250-n_code-250-500-1000-784, every layer the book's
  `layer()`: Dense (W ~ N(0, sqrt(1 / fan_in)), b = 0) -> batch norm (decay 0.9, eps 1e-3) ->
  sigmoid, the code and output layers included (line 2591: sigmoids "to avoid sharp
  transitions"). The encoder and decoder are sub-models (`model.get_layer("encoder")`), so
  codes and reconstructions are one call each. 2,831,858 trainable parameters for n_code = 2.
- `l2_per_example`: the book's loss, the Euclidean norm of each example's reconstruction error
  (line 2612), *not* a mean squared error; the book's 4.78 is on this scale.
- `CorruptInput`: the denoising keep-mask, each pixel kept or zeroed with p = 0.5 and, as in the
  book (line 2928), no 1 / (1 - p) rescaling (so not `keras.layers.Dropout`).
- Beyond the book (it describes sparsity without code): `kl_sparsity_penalty` (a KL divergence
  between a target activation rate and each unit's mean activation, weighted by beta in the
  loss) and `TopKSparsity`, the k-sparse autoencoder of Makhzani & Frey (2014) that keeps the
  k largest code units; `build_sparse_autoencoder` puts either on one wide hidden layer.

`autoencoder_loss(...)` returns the engine's `compute_loss` (see `training.step`) for all of
them: inputs without labels, the book's L2 cost, and the summed squared error per image
(Hinton & Salakhutdinov's unit) as a metric.
"""

import keras
import tensorflow as tf

from fdl_tf2.models.feedforward import NUM_PIXELS, layer_seed

ENCODER_UNITS = (1000, 500, 250)
"""The repository's encoder widths (the seed text lost the encoder listing, line 2567)."""
SPARSITY_KINDS = ("none", "kl", "top_k")


def book_normal(seed: int | None = None) -> keras.initializers.Initializer:
    """The book's `tf.random_normal_initializer(stddev=sqrt(1 / fan_in))` (line 2596)."""
    return keras.initializers.VarianceScaling(
        scale=1.0, mode="fan_in", distribution="untruncated_normal", seed=seed
    )


def l2_per_example(inputs: tf.Tensor, reconstructions: tf.Tensor) -> tf.Tensor:
    """The book's per-example cost `sqrt(sum((x_hat - x)^2))`, `(batch, ...) -> (batch,)`."""
    return tf.sqrt(squared_error_per_example(inputs, reconstructions))


def squared_error_per_example(inputs: tf.Tensor, reconstructions: tf.Tensor) -> tf.Tensor:
    """Summed squared error of each example, `(batch, ...) -> (batch,)`, in float32."""
    error = tf.cast(reconstructions, tf.float32) - tf.cast(inputs, tf.float32)
    return tf.reduce_sum(tf.reshape(tf.square(error), [tf.shape(error)[0], -1]), axis=1)


def kl_sparsity_penalty(activations: tf.Tensor, target: float = 0.05) -> tf.Tensor:
    """Sum over units of KL(target || mean activation of the unit over the batch).

    `activations` `(batch, units)` in (0, 1) (sigmoid units). Each unit's mean activation
    rho_hat_j is a Bernoulli rate; the penalty sum_j [rho log(rho / rho_hat_j) + (1 - rho)
    log((1 - rho) / (1 - rho_hat_j))] is 0 when every unit fires at the target rate.
    """
    rate = tf.clip_by_value(
        tf.reduce_mean(tf.cast(activations, tf.float32), axis=0), 1e-6, 1.0 - 1e-6
    )
    return tf.reduce_sum(
        target * tf.math.log(target / rate) + (1 - target) * tf.math.log((1 - target) / (1 - rate))
    )


@keras.saving.register_keras_serializable(package="fdl_tf2")
class CorruptInput(keras.layers.Layer):
    """The denoising corruption: keeps each input value with `keep_probability`, else zeroes it.

    `call(x, corrupt)`: `(batch, ...) -> (batch, ...)`, `corrupt * (mask * x) + (1 - corrupt) *
    x` as the book's `corrupt` switch (line 2936); `corrupt` is a bool or a float 0/1 tensor.
    Kept values are not rescaled. Mask i is drawn from the stateless seed `(seed, i)`; the
    draw counter is a weight of the layer, so a checkpointed run resumes with the same masks.
    Inside an XLA-compiled step the masks differ from the plain kernel's (XLA generates its
    own random bits) but are still a function of `(seed, i)`.
    """

    def __init__(self, keep_probability: float = 0.5, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 < keep_probability <= 1.0:
            raise ValueError(f"keep_probability must be in (0, 1], got {keep_probability}.")
        self.keep_probability = keep_probability
        self.seed = seed
        self.draws = self.add_weight(
            shape=(),
            dtype="int32",
            initializer="zeros",
            trainable=False,
            aggregation="only_first_replica",
            name="draws",
        )

    def call(self, inputs, corrupt=True):
        # A stateless draw keyed by a checkpointed counter (Keras' SeedGenerator state is not
        # saved by tf.train.Checkpoint, and keras.random takes no tensor seed when eager).
        seed = tf.stack([tf.constant(self.seed or 0, tf.int32), tf.identity(self.draws.value)])
        self.draws.assign(self.draws + 1)
        keep = tf.random.stateless_uniform(tf.shape(inputs), seed=seed)
        mask = keras.ops.cast(keep < self.keep_probability, inputs.dtype)
        corrupt = keras.ops.cast(corrupt, inputs.dtype)
        return corrupt * (inputs * mask) + (1.0 - corrupt) * inputs

    def get_config(self):
        return {
            **super().get_config(),
            "keep_probability": self.keep_probability,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="fdl_tf2")
class TopKSparsity(keras.layers.Layer):
    """The k-sparse code (Makhzani & Frey 2014): keeps the k largest units of each row.

    `(batch, units) -> (batch, units)` with exactly k non-zeros per row (ties broken by
    `top_k`'s order); gradients flow through the kept units only.
    """

    def __init__(self, k: int, **kwargs):
        super().__init__(**kwargs)
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}.")
        self.k = k

    def call(self, inputs):
        _, indices = keras.ops.top_k(inputs, self.k)
        mask = keras.ops.sum(keras.ops.one_hot(indices, keras.ops.shape(inputs)[-1]), axis=1)
        return inputs * keras.ops.cast(mask, inputs.dtype)

    def get_config(self):
        return {**super().get_config(), "k": self.k}


def _sigmoid_layer(x, units: int, name: str, seed: int | None):
    """The book's `layer()`: Dense -> batch norm (0.9, 1e-3) -> sigmoid, scoped as `name`."""
    x = keras.layers.Dense(
        units, kernel_initializer=book_normal(seed), bias_initializer="zeros", name=name
    )(x)
    x = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-3, name=f"{name}_bn")(x)
    return keras.layers.Activation("sigmoid", name=f"{name}_sigmoid")(x)


def build_encoder(
    n_code: int = 2,
    *,
    hidden_units: tuple[int, ...] = ENCODER_UNITS,
    num_inputs: int = NUM_PIXELS,
    seed: int | None = None,
) -> keras.Model:
    """The encoder, `(batch, 784)` pixels in [0, 1] -> `(batch, n_code)` codes in (0, 1)."""
    inputs = keras.Input((num_inputs,), name="pixels")
    x = inputs
    for index, units in enumerate(hidden_units, start=1):
        x = _sigmoid_layer(x, units, f"hidden_{index}", layer_seed(seed, index))
    codes = _sigmoid_layer(x, n_code, "code", layer_seed(seed, len(hidden_units) + 1))
    return keras.Model(inputs, codes, name="encoder")


def build_decoder(
    n_code: int = 2,
    *,
    hidden_units: tuple[int, ...] = tuple(reversed(ENCODER_UNITS)),
    num_outputs: int = NUM_PIXELS,
    seed: int | None = None,
) -> keras.Model:
    """The decoder, `(batch, n_code)` codes -> `(batch, 784)` reconstructions in (0, 1)."""
    codes = keras.Input((n_code,), name="codes")
    x = codes
    for index, units in enumerate(hidden_units, start=1):
        x = _sigmoid_layer(x, units, f"hidden_{index}", layer_seed(seed, 10 + index))
    outputs = _sigmoid_layer(x, num_outputs, "output", layer_seed(seed, 10 + len(hidden_units) + 1))
    return keras.Model(codes, outputs, name="decoder")


def build_autoencoder(
    n_code: int = 2,
    *,
    hidden_units: tuple[int, ...] = ENCODER_UNITS,
    num_inputs: int = NUM_PIXELS,
    seed: int | None = None,
) -> keras.Model:
    """The chapter-6 MNIST autoencoder: `(batch, 784)` -> `(batch, 784)` reconstructions.

    Args:
      n_code: code size; the book trains 2 (Figs. 6.8-6.11) and compares 30 with PCA.
      hidden_units: encoder widths, mirrored by the decoder; the repository's (1000, 500, 250).
      num_inputs: pixels per image.
      seed: seed of the weight initialisers.

    The sub-models `get_layer("encoder")` and `get_layer("decoder")` share its weights.
    Trainable parameters: 2,831,858 for n_code = 2 and 2,845,942 for n_code = 30 (Dense
    biases kept, as in the book, though batch norm's beta makes them redundant).
    """
    encoder = build_encoder(n_code, hidden_units=hidden_units, num_inputs=num_inputs, seed=seed)
    decoder = build_decoder(
        n_code, hidden_units=tuple(reversed(hidden_units)), num_outputs=num_inputs, seed=seed
    )
    inputs = keras.Input((num_inputs,), name="pixels")
    return keras.Model(inputs, decoder(encoder(inputs)), name="autoencoder")


def build_sparse_autoencoder(
    num_hidden: int = 1000,
    *,
    sparsity: str = "kl",
    k: int = 25,
    num_inputs: int = NUM_PIXELS,
    seed: int | None = None,
) -> keras.Model:
    """Beyond the book: a one-hidden-layer autoencoder whose code is made sparse.

    Args:
      num_hidden: code units (an over-complete code is fine: sparsity, not width, limits it).
      sparsity: "kl" (sigmoid code; the loss adds beta * `kl_sparsity_penalty`), "top_k"
        (linear code passed through `TopKSparsity(k)`), or "none" (sigmoid, the dense
        baseline of the features figure).
      k: units kept per example by "top_k".

    `(batch, 784)` -> `(batch, 784)` sigmoid reconstructions; sub-models "encoder" (with the
    sparsity layer) and "decoder" (one Dense, whose kernel rows are the features).
    """
    if sparsity not in SPARSITY_KINDS:
        raise ValueError(f"Unknown sparsity {sparsity!r}; expected one of {SPARSITY_KINDS}.")
    pixels = keras.Input((num_inputs,), name="pixels")
    activation = None if sparsity == "top_k" else "sigmoid"
    codes = keras.layers.Dense(
        num_hidden, activation=activation, kernel_initializer=book_normal(seed), name="code"
    )(pixels)
    if sparsity == "top_k":
        codes = TopKSparsity(k, name="top_k")(codes)
    encoder = keras.Model(pixels, codes, name="encoder")
    code_inputs = keras.Input((num_hidden,), name="codes")
    outputs = keras.layers.Dense(
        num_inputs,
        activation="sigmoid",
        kernel_initializer=book_normal(layer_seed(seed, 1)),
        name="output",
    )(code_inputs)
    decoder = keras.Model(code_inputs, outputs, name="decoder")
    inputs = keras.Input((num_inputs,), name="pixels")
    return keras.Model(inputs, decoder(encoder(inputs)), name=f"sparse_autoencoder_{sparsity}")


def autoencoder_loss(
    *,
    corruption: CorruptInput | None = None,
    corrupt_in_evaluation: bool = True,
    sparsity_weight: float = 0.0,
    sparsity_target: float = 0.05,
):
    """The engine's `compute_loss` of an autoencoder (no labels), with the book's L2 cost.

    Args:
      corruption: denoising: the encoder sees `corruption(x)` and the cost compares the
        reconstruction with the clean x (line 2938). None trains a plain autoencoder.
      corrupt_in_evaluation: also corrupt in evaluation (`training=False`), as the
        repository's validation does (`corrupt: 1`); its test pass uses `corrupt: 0`.
      sparsity_weight: beta of the KL sparsity penalty on the codes (0: none).
      sparsity_target: the target mean activation of each code unit.

    The returned `compute_loss(model, batch, training)` takes `batch` = images `(batch, 784)`
    or `(images, labels)` (labels ignored) and returns `((sum of per-example L2 [+ beta * KL
    per example], count), {"l2": ..., "squared_error": ..., ["sparsity": ...]})`.
    """

    def compute_loss(model, batch, training):
        images = batch[0] if isinstance(batch, (tuple, list)) else batch
        images = tf.cast(images, tf.float32)
        inputs = images
        if corruption is not None and (training or corrupt_in_evaluation):
            inputs = corruption(images, corrupt=True)
        codes = model.get_layer("encoder")(inputs, training=training)
        reconstructions = model.get_layer("decoder")(codes, training=training)
        count = tf.cast(tf.shape(images)[0], tf.float32)
        l2 = tf.reduce_sum(l2_per_example(images, reconstructions))
        squared = tf.reduce_sum(squared_error_per_example(images, reconstructions))
        metrics = {"l2": (l2, count), "squared_error": (squared, count)}
        loss = l2
        if sparsity_weight:
            penalty = kl_sparsity_penalty(codes, sparsity_target)
            metrics["sparsity"] = (penalty * count, count)
            loss = l2 + sparsity_weight * penalty * count
        return (loss, count), metrics

    return compute_loss
