"""Chapter-4 error-surface demos (spec ch04-05 C4-2, C4-3, C4-4, C4-8)."""

import numpy as np
import pytest
import tensorflow as tf

from fdl_tf2.foundations import landscape
from fdl_tf2.models import feedforward

ILL_CONDITIONED = np.array([[10.0, 2.0], [2.0, 1.0]])
TARGET = np.array([1.0, -2.0])


@pytest.fixture(scope="module")
def inputs():
    return np.random.default_rng(0).uniform(0, 1, (64, 784)).astype(np.float32)


def _small_mlp(seed=0, relu_output=False):
    return feedforward.build_mlp(output_relu=relu_output, seed=seed)


# --- C4-2 identifiability ---------------------------------------------------------------------


@pytest.mark.parametrize("layer_name", ["hidden_1", "hidden_2"])
def test_permuting_hidden_units_leaves_outputs_unchanged(inputs, layer_name):
    model = _small_mlp()
    before = model(inputs).numpy()
    kernel_before = model.get_layer(layer_name).kernel.numpy()
    permutation = np.random.default_rng(1).permutation(256)
    landscape.permute_hidden_units(model, layer_name, permutation)
    np.testing.assert_array_equal(
        model.get_layer(layer_name).kernel.numpy(), kernel_before[:, permutation]
    )
    np.testing.assert_allclose(model(inputs).numpy(), before, rtol=1e-5, atol=1e-5)


def test_permutation_must_reorder_every_unit():
    with pytest.raises(ValueError, match="permutation"):
        landscape.permute_hidden_units(_small_mlp(), "hidden_1", [0] * 256)
    with pytest.raises(ValueError, match="output"):
        landscape.permute_hidden_units(_small_mlp(), "output", range(10))


@pytest.mark.parametrize("k", [0.1, 3.0, 250.0])
def test_positive_relu_rescaling_leaves_outputs_unchanged(inputs, k):
    model = _small_mlp(relu_output=True)
    # A non-zero bias makes the test fail if the bias were not scaled with the weights.
    model.get_layer("hidden_1").bias.assign(np.full(256, 0.05, np.float32))
    before = model(inputs).numpy()
    for unit in (0, 17, 255):
        landscape.rescale_relu_unit(model, "hidden_1", unit, k)
        landscape.rescale_relu_unit(model, "hidden_2", unit, k)
    np.testing.assert_allclose(model(inputs).numpy(), before, rtol=1e-4, atol=1e-4)


def test_negative_relu_rescaling_changes_outputs(inputs):
    model = _small_mlp()
    before = model(inputs).numpy()
    for unit in range(8):
        landscape.rescale_relu_unit(model, "hidden_2", unit, -1.0)
    assert np.max(np.abs(model(inputs).numpy() - before)) > 1e-2


def test_zero_rescaling_is_rejected():
    with pytest.raises(ValueError, match="non-zero"):
        landscape.rescale_relu_unit(_small_mlp(), "hidden_1", 0, 0.0)


# --- C4-3 linear interpolation ----------------------------------------------------------------


def test_interpolate_weights_follows_both_conventions():
    initial, trained = [np.zeros(3)], [np.ones(3)]
    np.testing.assert_allclose(landscape.interpolate_weights(initial, trained, 0.0)[0], 1.0)
    np.testing.assert_allclose(landscape.interpolate_weights(initial, trained, 1.0)[0], 0.0)
    np.testing.assert_allclose(
        landscape.interpolate_weights(initial, trained, 0.25, "text")[0], 0.25
    )
    np.testing.assert_allclose(landscape.interpolate_weights(initial, trained, -1.0)[0], 2.0)
    with pytest.raises(ValueError, match="convention"):
        landscape.interpolate_weights(initial, trained, 0.0, "book")


def test_book_alphas_are_400_points_from_minus_two():
    assert len(landscape.BOOK_ALPHAS) == 400
    assert landscape.BOOK_ALPHAS[0] == pytest.approx(-2.0)
    assert landscape.BOOK_ALPHAS[-1] == pytest.approx(1.99)


@pytest.mark.parametrize("convention", ["repo", "text"])
def test_interpolation_endpoints_equal_each_models_loss(inputs, convention):
    labels = np.random.default_rng(2).integers(0, 10, len(inputs))
    initial_model, trained_model = _small_mlp(seed=1), _small_mlp(seed=2, relu_output=True)
    trained_model.get_layer("output").bias.assign(np.linspace(-1, 1, 10).astype(np.float32))
    loss = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    trained_loss = float(loss(labels, trained_model(inputs)))
    trained_weights = trained_model.get_weights()
    alphas = np.array([0.0, 1.0, 0.5])
    losses = landscape.interpolation_curve(
        trained_model,
        initial_model.get_weights(),
        trained_weights,
        inputs,
        labels,
        alphas,
        convention,
    )
    # The init's loss through the ReLU'd-output model: relu(logits) of the initial weights.
    initial_relu_loss = float(loss(labels, tf.nn.relu(initial_model(inputs))))
    expected = (
        (trained_loss, initial_relu_loss)
        if convention == "repo"
        else (initial_relu_loss, trained_loss)
    )
    np.testing.assert_allclose(losses[:2], expected, rtol=1e-5)
    assert losses[2] != pytest.approx(losses[0], rel=1e-3)
    for restored, original in zip(trained_model.get_weights(), trained_weights, strict=True):
        np.testing.assert_array_equal(restored, original)


def test_interpolation_summary_finds_minimum_and_flatness():
    alphas = np.arange(-2, 2, 0.01)
    losses = (alphas - 0.0) ** 2 + 1.0  # Flat at the "repo" solution, steep at the init.
    summary = landscape.interpolation_summary(alphas, losses, "repo")
    assert summary["alpha_of_minimum"] == pytest.approx(0.0, abs=1e-9)
    assert summary["trained_loss"] == pytest.approx(1.0)
    assert summary["initial_loss"] == pytest.approx(2.0, abs=1e-6)
    assert summary["flatness_ratio"] < 0.1
    assert summary["bumps_between_endpoints"] == 0
    bumpy = losses + 0.5 * np.exp(-((alphas - 0.5) ** 2) / 0.01)
    assert landscape.interpolation_summary(alphas, bumpy)["bumps_between_endpoints"] == 1


# --- C4-4 momentum random walk ----------------------------------------------------------------


def test_stationary_std_matches_the_spec_values():
    expected = {0.0: 6.055, 0.1: 5.48, 0.5: 3.50, 0.9: 1.39, 0.99: 0.43}
    for momentum, value in expected.items():
        assert landscape.stationary_std(momentum) == pytest.approx(value, abs=0.01)


@pytest.mark.parametrize("variant", ["book", "same"])
def test_momentum_walk_std_follows_the_stationary_law(variant):
    stds = []
    for momentum in landscape.BOOK_MOMENTA:
        raw, smoothed = landscape.momentum_random_walk(100_000, momentum, seed=3, variant=variant)
        assert set(np.unique(raw)) <= set(range(-10, 11))
        empirical = np.std(smoothed[2000:])  # After burn-in (m^2000 ~ 0 for m = 0.99).
        assert empirical == pytest.approx(landscape.stationary_std(momentum), rel=0.1)
        stds.append(empirical)
    assert all(later < earlier for earlier, later in zip(stds, stds[1:], strict=False))


def test_momentum_walk_is_the_books_moving_average():
    raw, smoothed = landscape.momentum_random_walk(50, 0.5, seed=4, variant="same")
    expected = [raw[0]]
    for step in raw[1:]:
        expected.append(0.5 * expected[-1] + 0.5 * step)
    np.testing.assert_allclose(smoothed, expected)
    np.testing.assert_array_equal(
        landscape.momentum_random_walk(50, 0.0, seed=4, variant="same")[1], raw
    )
    with pytest.raises(ValueError, match="momentum"):
        landscape.momentum_random_walk(10, 1.0)


# --- C4-8 curvature ---------------------------------------------------------------------------


def test_hessian_of_a_quadratic_is_its_matrix():
    energy = landscape.quadratic(ILL_CONDITIONED, TARGET)
    np.testing.assert_allclose(landscape.hessian(energy, [0.3, -0.7]), ILL_CONDITIONED, atol=1e-12)


def test_hessian_of_rosenbrock_matches_the_analytic_one():
    x0, x1 = 0.5, -1.5
    analytic = np.array([[2 - 400 * (x1 - x0**2) + 800 * x0**2, -400 * x0], [-400 * x0, 200.0]])
    np.testing.assert_allclose(
        landscape.hessian(landscape.rosenbrock, [x0, x1]), analytic, rtol=1e-12
    )


def test_second_order_taylor_is_exact_on_a_quadratic_and_not_on_rosenbrock():
    energy = landscape.quadratic(ILL_CONDITIONED, TARGET)
    x, step = np.array([2.0, 1.0]), np.array([-0.4, 0.9])
    assert landscape.taylor_second_order(energy, x, step) == pytest.approx(
        float(energy(tf.constant(x + step))), abs=1e-12
    )
    y = np.array([0.5, -1.5])
    assert landscape.taylor_second_order(landscape.rosenbrock, y, step) != pytest.approx(
        float(landscape.rosenbrock(tf.constant(y + step))), rel=1e-3
    )


def test_optimal_step_size_minimises_the_quadratic_along_the_gradient():
    energy = landscape.quadratic(ILL_CONDITIONED, TARGET)
    x = np.array([2.0, 1.0])
    g = landscape.gradient(energy, x)
    best = landscape.optimal_step_size(g, ILL_CONDITIONED)
    # Brute force: the grid minimiser of E(x - eps g) agrees with eps* to the grid spacing.
    steps = np.linspace(0.0, 1.0, 100_001)
    points = x[None, :] - steps[:, None] * g[None, :]
    values = 0.5 * np.einsum("ni,ij,nj->n", points, ILL_CONDITIONED, points) - points @ TARGET
    assert steps[np.argmin(values)] == pytest.approx(best, abs=1e-5)
    taylor = [
        landscape.taylor_second_order(energy, x, -eps * g) for eps in (best * 0.9, best * 1.1)
    ]
    assert min(taylor) > float(energy(tf.constant(x - best * g)))
    with pytest.raises(ValueError, match="positive"):
        landscape.optimal_step_size(g, -ILL_CONDITIONED)


def test_steepest_descent_zig_zags_while_conjugate_gradients_finish_in_two_steps():
    minimum = np.linalg.solve(ILL_CONDITIONED, TARGET)
    start = np.array([-2.0, 4.0])
    descent = landscape.steepest_descent_path(ILL_CONDITIONED, TARGET, start, 10)
    conjugate = landscape.conjugate_gradient_path(ILL_CONDITIONED, TARGET, start)
    assert len(conjugate) == 3
    np.testing.assert_allclose(conjugate[-1], minimum, atol=1e-10)
    steps = np.diff(descent, axis=0)
    # Exact line search: every step is orthogonal to the previous one (the zig-zag).
    cosines = np.sum(steps[1:] * steps[:-1], axis=1)
    np.testing.assert_allclose(cosines, 0.0, atol=1e-9 * np.max(np.sum(steps**2, axis=1)))
    assert np.linalg.norm(descent[2] - minimum) > 0.1
    assert np.linalg.norm(descent[-1] - minimum) < np.linalg.norm(descent[2] - minimum)


def test_random_hessians_are_rarely_positive_definite_in_high_dimension():
    fractions = [landscape.fraction_positive_definite(d, 20_000, seed=6) for d in range(1, 6)]
    assert fractions[0] == pytest.approx(0.5, abs=0.02)
    assert all(later < earlier for earlier, later in zip(fractions, fractions[1:], strict=False))
    assert fractions[4] < 3.0**-5


# --- The experiment's optional faithful mode: the authors' TF1 checkpoint ---------------------


def _write_tf1_mlp_checkpoint(prefix):
    """A `tf.compat.v1.train.Saver` checkpoint named like the repository's frozen MLP."""
    rng = np.random.default_rng(5)
    shapes = {"hidden_1": (784, 256), "hidden_2": (256, 256), "output": (256, 10)}
    with tf.Graph().as_default():
        v1 = tf.compat.v1
        with v1.variable_scope("mlp_model"):
            for layer, (fan_in, fan_out) in shapes.items():
                with v1.variable_scope(layer):
                    kernel = rng.normal(0, np.sqrt(2 / fan_in), (fan_in, fan_out))
                    v1.get_variable("W", initializer=kernel.astype(np.float32))
                    v1.get_variable("b", initializer=np.zeros(fan_out, np.float32))
        with v1.Session() as session:
            session.run(v1.global_variables_initializer())
            v1.train.Saver().save(session, str(prefix), global_step=547800)


def test_experiment_interpolates_towards_a_tf1_checkpoint_without_training(tmp_path):
    from experiments.ch04_beyond_gradient_descent import landscape as experiment

    _write_tf1_mlp_checkpoint(tmp_path / "frozen" / "model-checkpoint")
    overrides = dict(experiment.CONFIGS["smoke"], alpha_step=0.5, law_steps=5000)
    config = experiment.Config(
        **overrides, checkpoint=str(tmp_path / "frozen"), workdir=str(tmp_path / "run")
    )
    results = experiment.main(config)
    assert results["epochs"] == 0
    assert results["num_alphas"] == 8
    assert results["trained_loss"] == pytest.approx(results["test_loss"], rel=1e-5)
    assert results["max_logit_change_permutation"] < 1e-4
    assert results["max_logit_change_rescale_k_minus_1"] > 1e-2
