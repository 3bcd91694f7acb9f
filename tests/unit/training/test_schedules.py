"""Tests of `fdl_tf2.training.schedules.learning_rate`."""

import math

import keras
import pytest

from fdl_tf2.training import schedules


def test_constant_schedule_is_the_base_rate_itself():
    rate = schedules.learning_rate("constant", 0.01, total_steps=1000)
    assert rate == 0.01 and isinstance(rate, float)
    # A constant rate needs no step count.
    assert schedules.learning_rate("constant", 1e-3, total_steps=0) == 1e-3


def test_cosine_schedule_decays_to_zero_by_a_half_cosine():
    base, total = 0.01, 1000
    schedule = schedules.learning_rate("cosine", base, total_steps=total)
    assert isinstance(schedule, keras.optimizers.schedules.CosineDecay)
    for step in (0, 1, 100, 250, 500, 750, 999):
        expected = base * 0.5 * (1 + math.cos(math.pi * step / total))
        assert float(schedule(step)) == pytest.approx(expected, rel=1e-5, abs=1e-9), step
    assert float(schedule(total)) == pytest.approx(0.0, abs=1e-9)
    assert float(schedule(2 * total)) == pytest.approx(0.0, abs=1e-9)  # Stays at 0.
    # An optimizer reads the rate of its current iteration.
    optimizer = keras.optimizers.SGD(schedule)
    optimizer.iterations.assign(total // 2)
    assert float(optimizer.learning_rate) == pytest.approx(base / 2, rel=1e-5)


def test_bad_names_and_step_counts_are_rejected():
    with pytest.raises(ValueError, match="'linear'.*constant"):
        schedules.learning_rate("linear", 0.01, total_steps=100)
    for total in (0, -5):
        with pytest.raises(ValueError, match=f"total_steps > 0, got {total}"):
            schedules.learning_rate("cosine", 0.01, total_steps=total)
