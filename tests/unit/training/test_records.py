"""Run-record readers (`training.records`): metrics.jsonl lines, TensorBoard scalar events."""

import math

import numpy as np
import pytest
import tensorflow as tf

from fdl_tf2.training import records
from fdl_tf2.training.run_log import RunLog


def _resumed_run(tmp_path):
    log = RunLog(tmp_path, tensorboard=False, quiet=True)
    log.scalars(100, "train", epoch=1, cost=2.0, accuracy=0.3)
    log.scalars(100, "validation", epoch=1, cost=1.5, accuracy=0.5)
    log.scalars(200, "validation", epoch=2, cost=1.2, accuracy=0.7)
    log.close()
    # A resumed run appends to the same file and logs step 200 again.
    log = RunLog(tmp_path, tensorboard=False, quiet=True)
    log.scalars(300, "validation", epoch=3, cost=float("nan"), accuracy=0.8)
    log.scalars(200, "validation", epoch=2, cost=1.1, accuracy=0.72)
    log.close()
    return tmp_path / "metrics.jsonl"


def test_read_metrics_returns_every_line_in_file_order_or_one_split(tmp_path):
    metrics = _resumed_run(tmp_path)
    lines = records.read_metrics(metrics)
    assert [(line["step"], line["split"]) for line in lines] == [
        (100, "train"),
        (100, "validation"),
        (200, "validation"),
        (300, "validation"),
        (200, "validation"),
    ]
    validation = records.read_metrics(metrics, split="validation")
    assert [line["accuracy"] for line in validation] == [0.5, 0.7, 0.8, 0.72]
    assert records.read_metrics(metrics, split="test") == []


def test_metric_curve_keeps_the_last_line_of_a_step_and_reads_nan(tmp_path):
    metrics = _resumed_run(tmp_path)
    steps, values = records.metric_curve(metrics, "validation", "accuracy")
    assert steps.dtype == np.int64
    np.testing.assert_array_equal(steps, [100, 200, 300])
    np.testing.assert_array_equal(values, [0.5, 0.72, 0.8])
    steps, costs = records.metric_curve(metrics, "validation", "cost")
    np.testing.assert_array_equal(costs[:2], [1.5, 1.1])
    assert math.isnan(costs[2])  # RunLog stores NaN as the string "nan".
    steps, costs = records.metric_curve(metrics, "train", "cost")
    np.testing.assert_array_equal(steps, [100])
    with pytest.raises(ValueError, match=r"no 'loss' for split 'train'.*'cost'"):
        records.metric_curve(metrics, "train", "loss")


def test_event_scalars_are_read_by_tag_and_step_skipping_graphs(tmp_path):
    run_log = RunLog(tmp_path, quiet=True)
    run_log.trace_on()  # A graph in the same file: a string tensor the reader must skip.
    tf.function(lambda: tf.constant(1.0))()
    run_log.trace_export("graph")
    for step in (10, 20, 30):
        run_log.scalars(step, "train", cost=1.0 / step, error=0.5 / step)
        run_log.scalars(step, "validation", cost=2.0 / step, error=0.6 / step)
    run_log.close()
    train = records.read_event_scalars(tmp_path / "tensorboard" / "train")
    np.testing.assert_allclose([value for _, value in train["cost"]], [0.1, 0.05, 1 / 30])
    assert [step for step, _ in train["error"]] == [10, 20, 30]
    assert "graph" not in train
    assert records.read_event_scalars(tmp_path / "nothing_here") == {}


def test_event_curve_keeps_the_first_value_of_a_step(tmp_path):
    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default():
        for step, value in ((20, 0.5), (10, 1.0), (20, 0.25), (30, 0.125)):
            tf.summary.scalar("cost", value, step=step)  # Step 20: per-step, then epoch mean.
    writer.close()
    steps, values = records.event_curve(tmp_path, "cost")
    np.testing.assert_array_equal(steps, [10, 20, 30])
    np.testing.assert_array_equal(values, [1.0, 0.5, 0.125])
    steps, values = records.event_curve(tmp_path, "accuracy")
    assert len(steps) == len(values) == 0
    steps, values = records.first_value_per_step([(2, 3.0), (1, 4.0), (2, 5.0)])
    np.testing.assert_array_equal(steps, [1, 2])
    np.testing.assert_array_equal(values, [4.0, 3.0])
