import numpy as np

from experiments.ch04_beyond_gradient_descent import optimizer_race


def test_smoothing_is_tensorboards_exponential_moving_average():
    values = np.array([1.0, 0.0, 0.0, 1.0])
    np.testing.assert_allclose(
        optimizer_race.smoothed(values, 0.5), [1.0, 0.5, 0.25, 0.625], rtol=1e-12
    )
    np.testing.assert_array_equal(optimizer_race.smoothed(values, 0.0), values)


def test_first_step_below_the_threshold_or_none():
    steps = np.array([10, 20, 30, 40])
    values = np.array([0.5, 0.2, 0.09, 0.05])
    assert optimizer_race.first_step_below(steps, values, 0.1) == 30
    assert optimizer_race.first_step_below(steps, values, 0.01) is None


def test_optimizer_mlp_builds_every_book_optimizer_and_rejects_others():
    import pytest

    from experiments.ch04_beyond_gradient_descent import optimizer_mlp
    from fdl_tf2 import config as config_lib

    for name in ("sgd", "momentum", "adagrad", "rmsprop", "adam"):
        config = config_lib.replace(optimizer_mlp.Config(), optimizer=name)
        assert type(optimizer_mlp.build_optimizer(config)).__name__.lower().startswith(name[:4])
    with pytest.raises(ValueError, match="Unknown optimizer 'adamax'"):
        optimizer_mlp.build_optimizer(
            config_lib.replace(optimizer_mlp.Config(), optimizer="adamax")
        )
