"""The chapter-4 optimizers: Keras parity, the book's equations in NumPy, training, saving."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from fdl_tf2.data import mnist
from fdl_tf2.models import feedforward
from fdl_tf2.training import classifier, optimizers, precision, step

_STEPS = 100  # The spec asks for >= 100 steps on each fixed problem (C4-5).

# --- Fixed problems: an ill-conditioned quadratic and the Rosenbrock function -----------------

_ANGLE = np.pi / 6
_ROTATION = np.array([[np.cos(_ANGLE), -np.sin(_ANGLE)], [np.sin(_ANGLE), np.cos(_ANGLE)]])
_HESSIAN = _ROTATION @ np.diag([1.0, 50.0]) @ _ROTATION.T  # Condition number 50, rotated.


def _quadratic_loss(w):
    return 0.5 * tf.tensordot(w, tf.linalg.matvec(tf.constant(_HESSIAN), w), 1)


def _quadratic_gradient(w):
    return _HESSIAN @ w


def _rosenbrock_loss(w):
    return (1.0 - w[0]) ** 2 + 100.0 * (w[1] - w[0] ** 2) ** 2


def _rosenbrock_gradient(w):
    x, y = w
    return np.array([-2.0 * (1.0 - x) - 400.0 * x * (y - x**2), 200.0 * (y - x**2)])


_PROBLEMS = {
    "quadratic": (_quadratic_loss, _quadratic_gradient, np.array([1.0, 1.0])),
    "rosenbrock": (_rosenbrock_loss, _rosenbrock_gradient, np.array([-1.5, 2.0])),
}

# Name -> (our optimizer, the Keras optimizer "keras" mode must match, NumPy book rule). Learning
# rates keep plain SGD stable on Rosenbrock (curvature ~ 2,700 at the start).
_CASES = {
    "sgd": (
        lambda mode: optimizers.SGD(2e-4, epsilon_placement=mode),
        lambda: keras.optimizers.SGD(2e-4),
    ),
    "momentum": (
        lambda mode: optimizers.Momentum(1e-4, momentum=0.9, epsilon_placement=mode),
        lambda: keras.optimizers.SGD(1e-4, momentum=0.9),
    ),
    "nesterov": (
        lambda mode: optimizers.NesterovMomentum(1e-4, momentum=0.9, epsilon_placement=mode),
        lambda: keras.optimizers.SGD(1e-4, momentum=0.9, nesterov=True),
    ),
    "adagrad": (
        lambda mode: optimizers.AdaGrad(0.1, epsilon_placement=mode),
        lambda: keras.optimizers.Adagrad(0.1, initial_accumulator_value=0.1, epsilon=1e-7),
    ),
    "rmsprop": (
        lambda mode: optimizers.RMSProp(0.01, epsilon_placement=mode),
        lambda: keras.optimizers.RMSprop(0.01, rho=0.9),
    ),
    "rmsprop_momentum": (
        lambda mode: optimizers.RMSProp(0.003, momentum=0.5, epsilon_placement=mode),
        lambda: keras.optimizers.RMSprop(0.003, rho=0.9, momentum=0.5),
    ),
    "adam": (
        lambda mode: optimizers.Adam(0.01, epsilon_placement=mode),
        lambda: keras.optimizers.Adam(0.01),
    ),
}


def _trajectory(optimizer, problem, steps=_STEPS):
    """`(steps, 2)` float64 iterates of `optimizer` from the problem's start, in a tf.function."""
    loss_fn, _, start = _PROBLEMS[problem]
    w = tf.Variable(start, dtype=tf.float64)
    optimizer.build([w])

    @tf.function
    def run():
        iterates = tf.TensorArray(tf.float64, size=steps)
        for index in tf.range(steps):
            with tf.GradientTape() as tape:
                loss = loss_fn(w)
            optimizer.apply([tape.gradient(loss, w)], [w])
            iterates = iterates.write(index, w.read_value())
        return iterates.stack()

    return run().numpy()


# --- NumPy transcriptions of the book's rules ("book" mode) ------------------------------------


def _numpy_book_trajectory(name, problem, steps=_STEPS):
    """The book's equations (lines 1742, 1788, 1825-1829, 1850, 1870-1901) with TF1 constants."""
    _, gradient_fn, start = _PROBLEMS[problem]
    theta = start.copy()
    velocity = np.zeros(2)
    r = np.zeros(2)
    m, v = np.zeros(2), np.zeros(2)
    iterates = []
    # Keras keeps the learning rate as a float32 variable; use the same value.
    f32 = lambda x: float(np.float32(x))  # noqa: E731
    for t in range(1, steps + 1):
        if name == "sgd":
            theta = theta - f32(2e-4) * gradient_fn(theta)
            iterates.append(theta)
        elif name == "momentum":
            velocity = 0.9 * velocity - f32(1e-4) * gradient_fn(theta)
            theta = theta + velocity
            iterates.append(theta)
        elif name == "nesterov":
            # The gradient at the look-ahead point theta + m v (spec §5.1 item 8).
            velocity = 0.9 * velocity - f32(1e-4) * gradient_fn(theta + 0.9 * velocity)
            theta = theta + velocity
            # The optimizer's variable holds the look-ahead point.
            iterates.append(theta + 0.9 * velocity)
        elif name == "adagrad":
            if t == 1:
                r = np.full(2, 0.1)  # TF1 initial_accumulator_value (listing 1833-1838).
            g = gradient_fn(theta)
            r = r + g * g
            theta = theta - f32(0.1) / (1e-7 + np.sqrt(r)) * g
            iterates.append(theta)
        elif name in ("rmsprop", "rmsprop_momentum"):
            lr, mu = (f32(0.01), 0.0) if name == "rmsprop" else (f32(0.003), 0.5)
            if t == 1:
                r = np.ones(2)  # TF1 RMSPropOptimizer starts the mean square at 1.
            g = gradient_fn(theta)
            r = 0.9 * r + (1 - 0.9) * g * g
            step = lr * g / (1e-10 + np.sqrt(r))
            velocity = mu * velocity + step
            theta = theta - velocity
            iterates.append(theta)
        elif name == "adam":
            g = gradient_fn(theta)
            m = 0.9 * m + (1 - 0.9) * g
            v = 0.999 * v + (1 - 0.999) * g * g
            m_hat = m / (1 - 0.9**t)
            v_hat = v / (1 - 0.999**t)
            theta = theta - f32(0.01) / (1e-8 + np.sqrt(v_hat)) * m_hat
            iterates.append(theta)
    return np.array(iterates)


# --- C4-5: parity with keras.optimizers and with the book's equations --------------------------


@pytest.mark.parametrize("name", sorted(_CASES))
def test_keras_mode_matches_the_keras_optimizer_step_for_step(name):
    ours, theirs = _CASES[name]
    for problem in sorted(_PROBLEMS):
        expected = _trajectory(theirs(), problem)
        actual = _trajectory(ours("keras"), problem)
        np.testing.assert_allclose(actual, expected, rtol=1e-6, atol=1e-12, err_msg=problem)
        # The run moved: parity of two frozen variables would prove nothing.
        assert np.abs(expected[-1] - _PROBLEMS[problem][2]).max() > 1e-3


@pytest.mark.parametrize("name", sorted(_CASES))
def test_book_mode_matches_the_numpy_transcription_of_the_book(name):
    ours, _ = _CASES[name]
    for problem in sorted(_PROBLEMS):
        actual = _trajectory(ours("book"), problem)
        expected = _numpy_book_trajectory(name, problem)
        np.testing.assert_allclose(actual, expected, rtol=1e-6, atol=1e-9, err_msg=problem)


def test_adagrad_book_mode_is_close_to_keras_but_not_equal():
    # The modes differ only in where delta = 1e-7 sits (spec C4-5: closeness, rtol 1e-3).
    book = _trajectory(optimizers.AdaGrad(0.1, epsilon_placement="book"), "quadratic")
    keras_mode = _trajectory(optimizers.AdaGrad(0.1, epsilon_placement="keras"), "quadratic")
    np.testing.assert_allclose(book, keras_mode, rtol=1e-3)
    assert np.abs(book - keras_mode).max() > 0


def test_rmsprop_book_mode_starts_its_accumulator_at_one_like_tf1():
    w = tf.Variable([3.0], dtype=tf.float64)
    for mode, accumulator, delta in (("book", 1.0, 1e-10), ("keras", 0.0, 1e-7)):
        optimizer = optimizers.RMSProp(0.01, epsilon_placement=mode)
        optimizer.build([w])
        assert float(optimizer.accumulators[0][0]) == accumulator and optimizer.epsilon == delta
    # First step with g = 2 in book mode: r = 0.9 + 0.1 * 4 = 1.3, step = 0.01 * 2 / sqrt(1.3).
    optimizer = optimizers.RMSProp(0.01, epsilon_placement="book")
    optimizer.apply([tf.constant([2.0], tf.float64)], [w])
    np.testing.assert_allclose(
        w.numpy(), [3.0 - np.float32(0.01) * 2 / (1e-10 + np.sqrt(1.3))], rtol=1e-12
    )


def test_default_constants_are_the_tf1_listings_in_book_mode_and_keras_in_keras_mode():
    assert optimizers.Adam().epsilon == 1e-8  # Listing 1905-1909.
    assert optimizers.Adam(epsilon_placement="keras").epsilon == 1e-7
    assert optimizers.AdaGrad().initial_accumulator_value == 0.1  # Listing 1833-1838.
    assert optimizers.AdaGrad().epsilon == 1e-7  # Line 1831.
    rmsprop = optimizers.RMSProp()
    assert (rmsprop.rho, rmsprop.momentum, rmsprop.epsilon) == (0.9, 0.0, 1e-10)  # 1856-1860.
    assert optimizers.RMSProp(epsilon_placement="keras").initial_accumulator_value == 0.0


@pytest.mark.parametrize("mode", ["book", "keras"])
def test_adam_bias_correction_makes_the_first_step_about_the_learning_rate(mode):
    gradient = np.array([0.01, -1.0, 7.0, -1e3])
    w = tf.Variable(np.zeros(4), dtype=tf.float64)
    optimizer = optimizers.Adam(learning_rate=0.25, epsilon_placement=mode)  # Exact in float32.
    optimizer.build([w])
    optimizer.apply([tf.constant(gradient)], [w])
    # Without the correction the step would be 0.1 / sqrt(0.001) ~ 3.2 times larger.
    np.testing.assert_allclose(w.numpy(), -0.25 * np.sign(gradient), rtol=1e-3)


def test_adam_book_and_keras_forms_agree_when_epsilon_is_zero():
    # Betas exact in float32, because Keras's `ops.cast` rounds Python floats through float32.
    settings = dict(learning_rate=0.01, beta_1=0.875, beta_2=1 - 2**-10, epsilon=0.0)
    book = _trajectory(optimizers.Adam(**settings, epsilon_placement="book"), "rosenbrock")
    keras_mode = _trajectory(optimizers.Adam(**settings, epsilon_placement="keras"), "rosenbrock")
    np.testing.assert_allclose(book, keras_mode, rtol=1e-9)


def test_nesterov_differs_from_heavy_ball_momentum():
    heavy_ball = _trajectory(optimizers.Momentum(1e-4, momentum=0.9), "rosenbrock")
    nesterov = _trajectory(optimizers.NesterovMomentum(1e-4, momentum=0.9), "rosenbrock")
    assert np.abs(heavy_ball[-1] - nesterov[-1]).max() > 1e-3


def test_bad_hyperparameters_raise_value_error_naming_the_value():
    bad = [
        (lambda: optimizers.SGD(epsilon_placement="numpy"), "'numpy'"),
        (lambda: optimizers.Momentum(momentum=1.5), "momentum=1.5"),
        (lambda: optimizers.RMSProp(rho=-0.1), "rho=-0.1"),
        (lambda: optimizers.AdaGrad(initial_accumulator_value=-1.0), "value=-1.0"),
        (lambda: optimizers.Adam(beta_2=1.0), "beta_2=1.0"),
    ]
    for make, received in bad:
        with pytest.raises(ValueError, match=received):
            make()


# --- Training: jit-compiled train function, mixed precision -----------------------------------

_TRAINING = {
    "sgd": lambda: optimizers.SGD(0.1),
    "momentum": lambda: optimizers.Momentum(0.02, momentum=0.9),
    "nesterov": lambda: optimizers.NesterovMomentum(0.02, momentum=0.9),
    "adagrad": lambda: optimizers.AdaGrad(0.05),
    "rmsprop": lambda: optimizers.RMSProp(0.01),
    "adam": lambda: optimizers.Adam(0.002),
}


@pytest.fixture(scope="module")
def data():
    """Synthetic MNIST-shaped splits: 2,000 training examples, 40 steps per epoch at batch 50."""
    return mnist.classification_data(dataset="synthetic")


def _train_function(model, optimizer, *, jit_compile):
    return step.make_train_step(
        model, optimizer, classifier.classification_loss, jit_compile=jit_compile
    )


@pytest.mark.parametrize("name", ["adam"])
def test_jit_compiled_train_function_gives_the_same_steps_as_the_plain_one(name):
    rng = np.random.default_rng(0)
    inputs = rng.uniform(size=(8, 784)).astype(np.float32)
    labels = rng.integers(0, 10, 8).astype(np.int32)
    dataset = tf.data.Dataset.from_tensors((inputs, labels)).repeat()
    weights = []
    for jit_compile in (False, True):
        model = feedforward.build_logistic_regression()
        model.set_weights([np.full((784, 10), 0.01, np.float32), np.zeros(10, np.float32)])
        train_steps = _train_function(model, _TRAINING[name](), jit_compile=jit_compile)
        totals = train_steps(iter(dataset), 5)
        assert int(totals["steps"]) == 5 and bool(totals["finite"])
        weights.append(model.get_weights()[0])
    np.testing.assert_allclose(weights[1], weights[0], atol=1e-6)
    assert np.abs(weights[0] - 0.01).max() > 1e-4  # The weights moved.


@pytest.mark.parametrize("name", sorted(_TRAINING))
def test_each_optimizer_trains_synthetic_mnist_under_mixed_float16_and_xla(name, data):
    optimizer = precision.use_mixed_precision("mixed_float16", _TRAINING[name]())
    assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    model = feedforward.build_mlp((32,), seed=0)
    assert model.get_layer("hidden_1").compute_dtype == "float16"
    train_steps = step.make_train_step(
        model, optimizer, classifier.classification_loss, jit_compile=True
    )
    epochs = data.train_epochs(batch_size=50, seed=0)
    assert bool(train_steps(iter(epochs(0)), 40)["finite"])
    images, labels = data.splits["validation"]
    logits = model(data.preprocess_inputs(images), training=False)
    accuracy = float(np.mean(np.argmax(logits, axis=-1) == labels))
    assert accuracy > 0.95, accuracy  # Synthetic classes are easy: each reaches 1.0.


# --- Serialisation ------------------------------------------------------------------------------


def test_config_round_trips_and_keras_serialize_restores_the_class():
    for optimizer_class in optimizers.OPTIMIZERS.values():
        optimizer = optimizer_class(learning_rate=0.0625, epsilon_placement="keras")
        config = optimizer.get_config()
        assert config["epsilon_placement"] == "keras" and config["learning_rate"] == 0.0625
        assert optimizer_class.from_config(config).get_config() == config
        serialized = keras.optimizers.serialize(optimizer)
        assert serialized["registered_name"] == f"fdl_tf2>{optimizer_class.__name__}"
        restored = keras.optimizers.deserialize(serialized)
        assert type(restored) is optimizer_class and restored.get_config() == config


def test_a_model_compiled_with_book_adam_survives_keras_saving(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=optimizers.Adam(0.01), loss="mse")
    model.fit(np.ones((4, 3)), np.zeros((4, 2)), epochs=1, verbose=0)
    model.save(tmp_path / "model.keras")
    restored = keras.saving.load_model(tmp_path / "model.keras")
    assert isinstance(restored.optimizer, optimizers.Adam)
    assert restored.optimizer.get_config() == model.optimizer.get_config()
    assert restored.optimizer.epsilon == 1e-8
    np.testing.assert_array_equal(restored.get_weights()[0], model.get_weights()[0])


def test_a_tf_checkpoint_restores_the_optimizer_state(tmp_path):
    # `loop.train` resumes through tf.train.Checkpoint(model=, optimizer=, step=).
    w = tf.Variable([1.0, -2.0])
    optimizer = optimizers.RMSProp(0.01, momentum=0.5)
    optimizer.build([w])
    optimizer.apply([tf.constant([3.0, 4.0])], [w])
    path = tf.train.Checkpoint(optimizer=optimizer, w=w).save(str(tmp_path / "ckpt"))
    fresh_w = tf.Variable([0.0, 0.0])
    fresh = optimizers.RMSProp(0.01, momentum=0.5)
    fresh.build([fresh_w])
    tf.train.Checkpoint(optimizer=fresh, w=fresh_w).restore(path).assert_consumed()
    assert int(fresh.iterations) == 1
    np.testing.assert_array_equal(fresh.accumulators[0], optimizer.accumulators[0])
    np.testing.assert_array_equal(fresh.velocities[0], optimizer.velocities[0])
