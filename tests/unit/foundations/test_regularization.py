"""Chapter 2 regularisation (spec ch01-03 C2-11 ... C2-14): L2/L1, max-norm, dropout, stopping."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from fdl_tf2.foundations import regularization

# --- C2-11: L2 and L1 ---------------------------------------------------------------------------


def test_keras_l2_of_book_lambda_equals_half_lambda_sum_of_squares():
    weights = np.array([[1.0, -2.0], [0.5, 3.0]], np.float32)
    lam = 0.3
    expected = 0.5 * lam * (1.0 + 4.0 + 0.25 + 9.0)  # 2.13625
    value = float(regularization.book_l2_to_keras(lam)(weights))
    assert value == pytest.approx(expected, rel=1e-6)
    assert regularization.book_l2_penalty(weights, lam) == pytest.approx(expected, rel=1e-12)
    # Keras's own L2(l2) has no 1/2: it computes l2 * sum(w^2).
    assert float(keras.regularizers.L2(lam)(weights)) == pytest.approx(2 * expected, rel=1e-6)


def test_model_losses_hold_the_book_l2_term_of_every_kernel():
    lam = 0.1
    inputs = keras.Input((3,))
    hidden = keras.layers.Dense(4, kernel_regularizer=regularization.book_l2_to_keras(lam))(inputs)
    outputs = keras.layers.Dense(2, kernel_regularizer=regularization.book_l2_to_keras(lam))(hidden)
    model = keras.Model(inputs, outputs)
    model(np.zeros((1, 3), np.float32))
    kernels = [layer.kernel.numpy() for layer in model.layers[1:]]
    total = sum(float(loss) for loss in model.losses)
    assert total == pytest.approx(regularization.book_l2_penalty(kernels, lam), rel=1e-5)


def test_keras_l1_equals_lambda_sum_of_absolute_values():
    weights = np.array([[1.0, -2.0], [0.5, -3.0]], np.float32)
    lam = 0.2
    expected = lam * 6.5
    assert float(regularization.book_l1_to_keras(lam)(weights)) == pytest.approx(expected, 1e-6)
    assert regularization.book_l1_penalty(weights, lam) == pytest.approx(expected, rel=1e-12)


def test_negative_lambda_is_rejected_with_the_value():
    with pytest.raises(ValueError, match="-0.5"):
        regularization.book_l2_to_keras(-0.5)
    with pytest.raises(ValueError, match="-1"):
        regularization.book_l1_to_keras(-1)


def _train_linear_regression(regularizer):
    """Fits y = x @ w_true (3 informative of 20 inputs) with a regularized linear model."""
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(200, 20)).astype(np.float32)
    true_weights = np.zeros((20, 1), np.float32)
    true_weights[:3, 0] = [2.0, -1.5, 1.0]
    targets = inputs @ true_weights + 0.1 * rng.normal(size=(200, 1)).astype(np.float32)
    model = keras.Sequential(
        [keras.Input((20,)), keras.layers.Dense(1, kernel_regularizer=regularizer)]
    )
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse", steps_per_execution=20)
    model.fit(inputs, targets, batch_size=20, epochs=15, verbose=0)
    return model.layers[0].kernel.numpy().ravel()


def test_l1_gives_more_near_zero_weights_than_l2_at_comparable_strength():
    # Comparable strength: gradients 0.05 * sign(w) and 0.1 * w are equal at |w| = 0.5.
    l1_weights = _train_linear_regression(regularization.book_l1_to_keras(0.05))
    l2_weights = _train_linear_regression(regularization.book_l2_to_keras(0.1))
    near_zero_l1 = int(np.sum(np.abs(l1_weights) < 0.01))
    near_zero_l2 = int(np.sum(np.abs(l2_weights) < 0.01))
    assert near_zero_l1 > near_zero_l2, (near_zero_l1, near_zero_l2)
    assert near_zero_l1 >= 10  # Most of the 17 uninformative weights.


# --- C2-12: max-norm ----------------------------------------------------------------------------


def test_max_norm_projection_of_the_spec_example():
    projected = regularization.max_norm_project(np.array([[3.0, 4.0], [0.0, 0.0]]), 3.0)
    np.testing.assert_allclose(projected, [[3.0, 3.0], [0.0, 0.0]], atol=1e-6)


@pytest.mark.parametrize("max_value", [3.0, 4.0])
def test_numpy_max_norm_projection_equals_keras_max_norm_on_columns(max_value):
    kernel = np.random.default_rng(1).normal(0.0, 3.0, (5, 7)).astype(np.float32)
    kernel[:, 0] *= 0.01  # One column well inside the ball stays unchanged.
    keras_result = keras.constraints.MaxNorm(max_value=max_value, axis=0)(kernel)
    projected = regularization.max_norm_project(kernel, max_value)
    np.testing.assert_allclose(projected, np.asarray(keras_result), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(projected[:, 0], kernel[:, 0], rtol=1e-5)  # Up to Keras's eps.
    assert np.all(np.linalg.norm(projected, axis=0) <= max_value + 1e-5)


@pytest.mark.parametrize("max_value", [3.0, 4.0])
def test_max_norm_holds_after_every_step_with_a_huge_learning_rate(max_value):
    # No bias and no second layer: nothing unconstrained can overflow at this learning rate.
    layer = keras.layers.Dense(
        8, use_bias=False, kernel_constraint=keras.constraints.MaxNorm(max_value, axis=0)
    )
    model = keras.Sequential([keras.Input((4,)), layer])
    optimizer = keras.optimizers.SGD(learning_rate=100.0)  # Deliberately huge.
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(16, 4)).astype(np.float32)
    targets = 10.0 * rng.normal(size=(16, 8)).astype(np.float32)
    largest_norms = []
    for _ in range(10):
        with tf.GradientTape() as tape:
            loss = keras.ops.mean((model(inputs) - targets) ** 2)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(gradients, model.trainable_variables)
        norms = np.linalg.norm(layer.kernel.numpy(), axis=0)
        largest_norms.append(norms.max())
        assert np.all(norms <= max_value + 1e-5), norms
    assert max(largest_norms) > max_value - 1e-3  # The constraint was actually active.


def test_max_norm_rejects_bad_arguments():
    with pytest.raises(ValueError, match="0"):
        regularization.max_norm_project(np.ones((2, 2)), 0.0)
    with pytest.raises(ValueError, match=r"\(3,\)"):
        regularization.max_norm_project(np.ones(3), 3.0)


# --- C2-13: dropout -----------------------------------------------------------------------------

_X = np.array([1.0, -2.0, 3.0, 0.5], np.float32)
_SAMPLES = 20_000


@pytest.mark.parametrize("keep_prob", [0.5, 0.8])
def test_inverted_dropout_has_mean_x_in_training_and_is_identity_at_test(keep_prob):
    rng = np.random.default_rng(0)
    batch = np.tile(_X, (_SAMPLES, 1))
    outputs = regularization.dropout_inverted(batch, keep_prob, training=True, rng=rng)
    np.testing.assert_allclose(outputs.mean(axis=0), _X, atol=0.05)
    kept_fraction = np.mean(outputs != 0)
    assert kept_fraction == pytest.approx(keep_prob, abs=0.01)
    np.testing.assert_allclose(outputs[outputs != 0], (batch / keep_prob)[outputs != 0])
    assert np.array_equal(regularization.dropout_inverted(_X, keep_prob, False, rng), _X)


def test_naive_dropout_halves_test_outputs_for_p_one_half_and_matches_training_mean():
    rng = np.random.default_rng(0)
    batch = np.tile(_X, (_SAMPLES, 1))
    outputs = regularization.dropout_naive(batch, 0.5, training=True, rng=rng)
    # E[output] = p * x in training (line 826); test time scales by p (line 824).
    test_outputs = regularization.dropout_naive(_X, 0.5, training=False, rng=rng)
    np.testing.assert_allclose(test_outputs, 0.5 * _X)
    np.testing.assert_allclose(outputs.mean(axis=0), test_outputs, atol=0.05)
    assert set(np.unique(outputs[:, 0])) == {0.0, 1.0}  # Kept values are not rescaled.


@pytest.mark.parametrize("keep_prob", [0.5, 0.8])
def test_keras_dropout_with_rate_one_minus_p_matches_the_inverted_variant(keep_prob):
    rate = regularization.keras_dropout_rate(keep_prob)
    assert rate == pytest.approx(1.0 - keep_prob)
    layer = keras.layers.Dropout(rate=rate, seed=0)
    batch = np.tile(_X, (_SAMPLES, 1))
    outputs = np.asarray(layer(batch, training=True))
    np.testing.assert_allclose(outputs.mean(axis=0), _X, atol=0.05)
    assert np.mean(outputs != 0) == pytest.approx(keep_prob, abs=0.01)
    # Kept values are x / p, exactly as `dropout_inverted`.
    np.testing.assert_allclose(outputs[outputs != 0], (batch / keep_prob)[outputs != 0], rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(layer(batch, training=False)), batch)


def test_dropout_rejects_a_keep_probability_outside_zero_one():
    with pytest.raises(ValueError, match="1.5"):
        regularization.dropout_inverted(_X, 1.5, True, np.random.default_rng(0))
    with pytest.raises(ValueError, match="0.0"):
        regularization.dropout_naive(_X, 0.0, True, np.random.default_rng(0))


# --- C2-14: early stopping ----------------------------------------------------------------------


class _ScriptedValidation(keras.callbacks.Callback):
    """Replaces `val_loss` with a known curve and records each epoch's first kernel value."""

    def __init__(self, curve):
        super().__init__()
        self.curve = curve
        self.kernels = []

    def on_epoch_end(self, epoch, logs=None):
        logs["val_loss"] = self.curve[epoch]
        self.kernels.append(self.model.layers[0].kernel.numpy().copy())


def _tiny_model():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    return model


def _tiny_data():
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(8, 2)).astype(np.float32)
    return inputs, inputs @ np.array([[1.0], [-1.0]], np.float32)


def test_keras_early_stopping_stops_on_a_scripted_curve_and_restores_the_best_weights():
    curve = [1.0, 0.8, 0.6, 0.65, 0.7, 0.75, 0.5, 0.4]  # Best at epoch 2; patience 3.
    script = _ScriptedValidation(curve)
    stopping = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=3, restore_best_weights=True
    )
    model = _tiny_model()
    # The scripted callback must run first so EarlyStopping sees the scripted value.
    history = model.fit(*_tiny_data(), epochs=len(curve), verbose=0, callbacks=[script, stopping])
    assert len(history.history["loss"]) == 6  # Epochs 0..5: three without improvement.
    assert stopping.stopped_epoch == 5
    np.testing.assert_array_equal(model.layers[0].kernel.numpy(), script.kernels[2])
    assert not np.array_equal(script.kernels[5], script.kernels[2])


def test_theano_patience_rule_extends_patience_on_significant_improvement():
    # 1 batch per epoch (8 examples, batch 8): iteration == epoch + 1.
    curve = [1.0, 0.9, 0.8, 0.799, 0.7995, 0.85, 0.9, 0.95, 0.97, 0.99, 1.0, 1.0]
    script = _ScriptedValidation(curve)
    patience = regularization.PatienceEarlyStopping(patience=2)
    model = _tiny_model()
    inputs, targets = _tiny_data()
    model.fit(
        inputs, targets, batch_size=8, epochs=len(curve), verbose=0, callbacks=[script, patience]
    )
    # Significant improvements at iterations 2 and 3 raise patience to 3 * 2 = 6; the 0.799 at
    # iteration 4 is below 0.995 * 0.8, not significant, so training stops at iteration 6.
    assert patience.stopped_epoch == 5
    assert patience.best == pytest.approx(0.799)
    np.testing.assert_array_equal(model.layers[0].kernel.numpy(), script.kernels[3])
