"""The chapter-6 autoencoders: exact sizes, the book's layer and loss, corruption, sparsity."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from fdl_tf2.models import autoencoder


def test_book_autoencoder_has_the_spec_parameter_counts_and_shapes():
    model = autoencoder.build_autoencoder(2)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == 2_831_858  # 2,823,286 Dense + 8,572 BN gamma/beta (spec §2.1.2).
    assert model.count_params() - trainable == 8_572  # BN moving mean and variance.
    model30 = autoencoder.build_autoencoder(30)
    assert sum(int(np.prod(w.shape)) for w in model30.trainable_weights) == 2_845_942
    encoder, decoder = model.get_layer("encoder"), model.get_layer("decoder")
    assert [layer.name for layer in encoder.layers if isinstance(layer, keras.layers.Dense)] == [
        "hidden_1",
        "hidden_2",
        "hidden_3",
        "code",
    ]
    assert [encoder.get_layer(n).units for n in ("hidden_1", "hidden_2", "hidden_3")] == [
        1000,
        500,
        250,
    ]
    assert [decoder.get_layer(n).units for n in ("hidden_1", "hidden_2", "hidden_3")] == [
        250,
        500,
        1000,
    ]
    images = np.random.default_rng(0).uniform(size=(5, 784)).astype(np.float32)
    codes = encoder(images, training=False)
    assert codes.shape == (5, 2) and decoder(codes, training=False).shape == (5, 784)
    # The sub-models are the model's own layers: encode-then-decode is the model.
    np.testing.assert_allclose(
        decoder(codes, training=False), model(images, training=False), rtol=1e-6
    )
    # Sigmoid everywhere, the code layer included (line 2591).
    assert np.all((codes > 0) & (codes < 1))


def test_every_layer_is_dense_batch_norm_sigmoid_with_the_book_initialiser():
    model = autoencoder.build_autoencoder(2, seed=0)
    encoder = model.get_layer("encoder")
    norm = encoder.get_layer("hidden_1_bn")
    assert norm.momentum == pytest.approx(0.9) and norm.epsilon == pytest.approx(1e-3)
    assert encoder.get_layer("hidden_1_sigmoid").activation is keras.activations.sigmoid
    kernel = keras.ops.convert_to_numpy(encoder.get_layer("hidden_1").kernel)
    assert kernel.std() == pytest.approx(np.sqrt(1 / 784), rel=0.02)  # N(0, sqrt(1 / fan_in)).
    assert np.abs(kernel).max() > 3.5 * np.sqrt(1 / 784)  # Untruncated: tails beyond 2 sigma.
    bias = keras.ops.convert_to_numpy(encoder.get_layer("hidden_1").bias)
    assert not bias.any()


def test_inference_uses_the_moving_statistics():
    model = autoencoder.build_autoencoder(2, hidden_units=(16, 8), seed=0)
    images = np.random.default_rng(1).uniform(size=(32, 784)).astype(np.float32)
    first = model(images, training=False)
    # The moving statistics make an example's output independent of the rest of its batch...
    np.testing.assert_allclose(model(images[:4], training=False), first[:4], rtol=1e-5)
    # ... batch statistics do not, and training updates the moving statistics.
    assert not np.allclose(model(images, training=True)[:4], model(images[:4], training=True))
    assert not np.allclose(model(images, training=False), first)


def test_book_loss_is_the_per_example_euclidean_norm():
    rng = np.random.default_rng(2)
    x, x_hat = rng.uniform(size=(6, 784)), rng.uniform(size=(6, 784))
    expected = np.sqrt(((x_hat - x) ** 2).sum(axis=1))
    np.testing.assert_allclose(autoencoder.l2_per_example(x, x_hat), expected, rtol=1e-5)
    np.testing.assert_allclose(
        autoencoder.squared_error_per_example(x, x_hat), expected**2, rtol=1e-5
    )


def test_autoencoder_loss_needs_no_labels_and_returns_sums_and_counts():
    model = autoencoder.build_autoencoder(2, hidden_units=(16, 8), seed=0)
    images = np.random.default_rng(3).uniform(size=(10, 784)).astype(np.float32)
    reconstructions = keras.ops.convert_to_numpy(model(images, training=False))
    l2 = np.sqrt(((reconstructions - images) ** 2).sum(axis=1))
    compute_loss = autoencoder.autoencoder_loss()
    for batch in (images, (images, np.zeros(10))):  # Labels, when present, are ignored.
        (loss, count), metrics = compute_loss(model, batch, False)
        assert float(count) == 10
        np.testing.assert_allclose(float(loss), l2.sum(), rtol=1e-5)
        np.testing.assert_allclose(float(metrics["squared_error"][0]), (l2**2).sum(), rtol=1e-5)


def test_corruption_zeroes_half_the_pixels_without_rescaling():
    corruption = autoencoder.CorruptInput(0.5, seed=0)
    images = np.random.default_rng(4).uniform(0.1, 1.0, size=(200, 784)).astype(np.float32)
    corrupted = keras.ops.convert_to_numpy(corruption(images, corrupt=True))
    kept = corrupted != 0
    assert abs(kept.mean() - 0.5) < 0.01
    np.testing.assert_array_equal(corrupted[kept], images[kept])  # No 1 / (1 - p) rescaling.
    np.testing.assert_array_equal(corruption(images, corrupt=False), images)
    np.testing.assert_array_equal(corruption(images, corrupt=0.0), images)  # The book's float.
    # Each call draws a new mask.
    assert (keras.ops.convert_to_numpy(corruption(images, corrupt=True)) != corrupted).any()
    with pytest.raises(ValueError, match="keep_probability"):
        autoencoder.CorruptInput(0.0)


def test_corruption_masks_resume_from_a_checkpoint(tmp_path):
    corruption = autoencoder.CorruptInput(0.5, seed=7)
    images = tf.ones([4, 784])
    corruption(images)
    path = tf.train.Checkpoint(corruption=corruption).write(str(tmp_path / "ckpt"))
    expected = keras.ops.convert_to_numpy(corruption(images))
    restored = autoencoder.CorruptInput(0.5, seed=7)
    tf.train.Checkpoint(corruption=restored).read(path).assert_consumed()
    np.testing.assert_array_equal(restored(images), expected)


def test_corruption_in_an_xla_step_depends_only_on_the_seed_and_the_draw():
    # The chapter-6 cpu presets compile the step with XLA. XLA's random bits differ from the
    # plain kernel's, so its masks are others, but they still depend only on (seed, draw
    # counter): a run resumed from a checkpoint sees the masks it would have seen.
    images = tf.ones([4, 784])
    first, resumed = autoencoder.CorruptInput(0.5, seed=3), autoencoder.CorruptInput(0.5, seed=3)
    corrupt_first = tf.function(lambda x: first(x), jit_compile=True)
    corrupt_resumed = tf.function(lambda x: resumed(x), jit_compile=True)
    masks = [corrupt_first(images).numpy() for _ in range(2)]
    resumed.draws.assign(1)  # As restored from a checkpoint written after one draw.
    np.testing.assert_array_equal(corrupt_resumed(images), masks[1])
    assert abs(masks[0].mean() - 0.5) < 0.03 and (masks[0] != masks[1]).any()


def test_denoising_loss_compares_with_the_clean_input():
    # An identity "autoencoder": the reconstruction is the corrupted input, so the cost is
    # exactly the norm of what the corruption removed.
    pixels = keras.Input((784,))
    encoder = keras.Model(pixels, pixels, name="encoder")
    codes = keras.Input((784,))
    decoder = keras.Model(codes, codes, name="decoder")
    identity = keras.Model(pixels, decoder(encoder(pixels)))
    images = np.full((8, 784), 0.5, np.float32)
    corruption = autoencoder.CorruptInput(0.5, seed=1)
    (loss, count), _ = autoencoder.autoencoder_loss(corruption=corruption)(identity, images, True)
    zeroed = 784 * 8 - np.count_nonzero(keras.ops.convert_to_numpy(corruption(images)))
    assert abs(float(loss) / float(count) - 0.5 * np.sqrt(zeroed / 8)) < 0.5
    (clean, _), _ = autoencoder.autoencoder_loss(
        corruption=corruption, corrupt_in_evaluation=False
    )(identity, images, False)
    assert float(clean) == 0.0


def test_kl_sparsity_penalty_matches_numpy():
    rng = np.random.default_rng(5)
    activations = rng.uniform(0.01, 0.99, size=(64, 20)).astype(np.float32)
    rho, rate = 0.05, activations.mean(axis=0)
    expected = np.sum(rho * np.log(rho / rate) + (1 - rho) * np.log((1 - rho) / (1 - rate)))
    np.testing.assert_allclose(
        float(autoencoder.kl_sparsity_penalty(activations, rho)), expected, rtol=1e-4
    )
    at_target = np.full((10, 20), rho, np.float32)
    assert abs(float(autoencoder.kl_sparsity_penalty(at_target, rho))) < 1e-5


def test_top_k_keeps_exactly_the_k_largest_units_and_their_gradients():
    layer = autoencoder.TopKSparsity(3)
    values = tf.constant(np.random.default_rng(6).normal(size=(5, 12)), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(values)
        sparse = layer(values)
        total = tf.reduce_sum(sparse)
    sparse = sparse.numpy()
    assert (np.count_nonzero(sparse, axis=1) == 3).all()
    largest = np.sort(values.numpy(), axis=1)[:, -3:]
    np.testing.assert_allclose(np.sort(sparse[sparse != 0].reshape(5, 3), axis=1), largest)
    np.testing.assert_array_equal(tape.gradient(total, values).numpy(), (sparse != 0) * 1.0)
    assert autoencoder.TopKSparsity.from_config(layer.get_config()).k == 3


def test_sparse_autoencoders_build_and_add_the_penalty():
    images = np.random.default_rng(7).uniform(size=(16, 784)).astype(np.float32)
    k_sparse = autoencoder.build_sparse_autoencoder(50, sparsity="top_k", k=5, seed=0)
    codes = keras.ops.convert_to_numpy(k_sparse.get_layer("encoder")(images))
    assert (np.count_nonzero(codes, axis=1) == 5).all()
    kl = autoencoder.build_sparse_autoencoder(50, sparsity="kl", seed=0)
    (plain, _), _ = autoencoder.autoencoder_loss()(kl, images, False)
    (penalised, count), metrics = autoencoder.autoencoder_loss(sparsity_weight=0.1)(
        kl, images, False
    )
    penalty = float(metrics["sparsity"][0]) / float(count)
    np.testing.assert_allclose(float(penalised), float(plain) + 0.1 * penalty * 16, rtol=1e-5)
    with pytest.raises(ValueError, match="sparsity"):
        autoencoder.build_sparse_autoencoder(50, sparsity="l1")
