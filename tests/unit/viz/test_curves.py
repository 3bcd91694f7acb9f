"""Training-curve figures: steps to a threshold, Figs. 3.5, 4.9 and 5.17 (C3-8, C4-7, C5-7)."""

import math

import numpy as np
import pytest

from fdl_tf2.training.run_log import RunLog
from fdl_tf2.viz import curves

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_steps_to_threshold_returns_the_first_step_at_or_above_the_threshold():
    steps = [0, 100, 200, 300, 400]
    values = [0.1, 0.69, 0.7, 0.65, 0.9]
    assert curves.steps_to_threshold(steps, values, 0.7) == 200  # Equality counts.
    assert curves.steps_to_threshold(steps, values, 0.8) == 400
    assert curves.steps_to_threshold(steps, values, 0.05) == 0
    assert curves.steps_to_threshold(steps, values, 0.95) is None
    assert isinstance(curves.steps_to_threshold(np.array(steps), values, 0.7), int)


def test_steps_to_threshold_for_a_loss_looks_for_the_first_value_at_or_below():
    steps, losses = [10, 20, 30], [2.0, 0.5, 0.4]
    assert curves.steps_to_threshold(steps, losses, 0.5, higher_is_better=False) == 20
    assert curves.steps_to_threshold(steps, losses, 0.1, higher_is_better=False) is None


def test_steps_to_threshold_skips_nan_and_rejects_bad_input():
    assert curves.steps_to_threshold([1, 2, 3], [math.nan, 0.2, 0.9], 0.5) == 3
    with pytest.raises(ValueError, match="non-decreasing"):
        curves.steps_to_threshold([2, 1], [0.0, 1.0], 0.5)
    with pytest.raises(ValueError, match="one length"):
        curves.steps_to_threshold([1, 2, 3], [0.0, 1.0], 0.5)


def test_plot_bn_comparison_accepts_rows_and_step_value_pairs(tmp_path):
    steps = np.arange(0, 1001, 100)
    slow = np.linspace(0.1, 0.8, len(steps))
    fast = np.minimum(0.1 + steps / 300, 0.9)
    path = curves.plot_bn_comparison(
        {"without BN": np.column_stack([steps, slow]), "with BN": (steps, fast)},
        tmp_path / "bn.png",
        threshold=0.7,
        losses={"without BN": (steps, 2.0 - slow), "with BN": [(0, 2.0), (1000, 0.3)]},
    )
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    path = curves.plot_bn_comparison({"only": (steps, slow)}, tmp_path / "one.png", threshold=0.95)
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    with pytest.raises(ValueError, match="curve 'bad'"):
        curves.plot_bn_comparison({"bad": np.zeros((3, 3))}, tmp_path / "bad.png")
    with pytest.raises(ValueError, match="at least one"):
        curves.plot_bn_comparison({}, tmp_path / "none.png")


def test_learning_and_tensorboard_curves_are_drawn_from_a_run(tmp_path):
    run_log = RunLog(tmp_path, quiet=True)
    for epoch, step in enumerate((10, 20, 30), start=1):
        run_log.scalars(step, "train", epoch=epoch, cost=1.0 / step, error=0.5 / step)
        run_log.scalars(step, "validation", epoch=epoch, cost=2.0 / step, error=0.6 / step)
    run_log.close()
    path = curves.plot_learning_curves(tmp_path / "metrics.jsonl", tmp_path / "learning.png")
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    output = curves.plot_tensorboard_curves(tmp_path / "tensorboard", tmp_path / "fig.png")
    assert output.stat().st_size > 5_000
    with pytest.raises(ValueError, match="no scalar"):
        curves.plot_tensorboard_curves(tmp_path / "tensorboard", tmp_path / "x.png", tags=["q"])


def test_optimizer_ablation_and_error_curves_are_written(tmp_path):
    steps = np.arange(10, 110, 10)
    costs = {
        name: (steps, np.geomspace(2.0, scale, len(steps)))
        for name, scale in (("sgd", 0.3), ("momentum", 0.05), ("adam", 0.02))
    }
    accuracies = {name: (steps, np.linspace(0.5, 0.9, len(steps))) for name in costs}
    lines = [
        {"epoch": epoch, "accuracy": 0.5 + 0.1 * epoch, "cost": 1.0 / epoch} for epoch in (1, 2, 3)
    ]
    paths = [
        curves.plot_optimizer_race(costs, accuracies, tmp_path / "race.png"),
        curves.plot_sgd_vs_momentum(costs, 0.1, tmp_path / "fig4_9.png"),
        curves.plot_initialization_ablation(
            {"he_normal": lines, "uniform": lines}, tmp_path / "init.png", relu_output=True
        ),
        curves.plot_training_error([1.0, 0.5, 0.2], tmp_path / "error.png"),
    ]
    for path in paths:
        assert path.read_bytes()[:8] == PNG_SIGNATURE, path
