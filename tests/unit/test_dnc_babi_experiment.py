"""ch08.dnc_babi: presets, config checks, both losses against NumPy, exact resume."""

import json

import numpy as np
import pytest
import tensorflow as tf

from experiments.ch08_memory import dnc_babi as experiment
from fdl_tf2 import config as config_lib


def _preset(name: str, *arguments: str) -> experiment.Config:
    return config_lib.from_argv(
        experiment.Config, experiment.CONFIGS, [f"--config={name}", *arguments]
    )


def test_book_preset_is_the_repository_train_babi():
    book = _preset("book")
    assert (book.memory_size, book.word_size, book.num_reads) == (256, 64, 4)
    assert (book.controller_units, book.batch_size, book.num_steps) == (256, 1, 100_000)
    assert (book.optimizer, book.learning_rate, book.momentum, book.rho) == (
        "rmsprop", 1e-4, 0.9, 0.9,
    )  # fmt: skip
    assert book.clip_value == 10.0 and not book.book_loss_mask and not book.book_pairwise_add
    model = experiment.build_model(book, 159)
    assert model.count_params() == 890_112


@pytest.mark.parametrize(
    "field, value",
    [("optimizer", "sgd"), ("dataset", "cbt"), ("batch_size", "0"), ("eval_stories", "-1")],
)
def test_unusable_config_values_are_refused_before_anything_runs(field, value, tmp_path):
    config = _preset("smoke", f"--{field}={value}", f"--workdir={tmp_path / 'run'}")
    with pytest.raises(ValueError, match=field):
        experiment.main(config)
    assert not (tmp_path / "run").exists()


class _FixedLogits:
    """A stand-in model returning fixed logits."""

    def __init__(self, logits):
        self.logits = tf.constant(logits, tf.float32)

    def __call__(self, inputs, training=False):
        return self.logits


def test_corrected_and_book_losses_against_numpy():
    rng = np.random.default_rng(0)
    batch, time, classes = 2, 5, 4
    logits = rng.normal(size=(batch, time, classes))
    targets = rng.integers(0, classes, size=(batch, time)).astype(np.int32)
    weights = np.array([[0, 0, 1, 0, 0], [0, 1, 0, 1, 0]], np.float32)
    lengths = np.array([4, 5], np.int32)  # the first story has one pad step
    batch_dict = {
        "inputs": tf.zeros((batch, time), tf.int32),
        "targets": tf.constant(targets),
        "weights": tf.constant(weights),
        "lengths": tf.constant(lengths),
    }
    log_softmax = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    cross_entropy = -np.take_along_axis(log_softmax, targets[..., None], -1)[..., 0]
    (total, count), metrics = experiment.loss_function(False)(_FixedLogits(logits), batch_dict,
                                                              False)  # fmt: skip
    np.testing.assert_allclose(
        float(total) / float(count), (cross_entropy * weights).sum() / weights.sum(), rtol=1e-5
    )
    # The repository: reduce_mean(weights [T, 1] * CE [T]) per story over its T real steps.
    book = []
    for b in range(batch):
        real = lengths[b]
        broadcast = weights[b, :real, None] * cross_entropy[b, None, :real]  # (T, T)
        book.append(broadcast.mean())
    (total, count), _ = experiment.loss_function(True)(_FixedLogits(logits), batch_dict, False)
    np.testing.assert_allclose(float(total) / float(count), np.mean(book), rtol=1e-5)
    accuracy = (logits.argmax(-1) == targets).astype(float)
    np.testing.assert_allclose(
        float(metrics["answer_word_accuracy"][0]) / float(metrics["answer_word_accuracy"][1]),
        (accuracy * weights).sum() / weights.sum(),
    )


def _validation(results_dir) -> dict:
    rows = [json.loads(line) for line in (results_dir / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if r["split"] == "validation"][-1]


def test_an_interrupted_run_resumes_exactly(tmp_path):
    common = ["--export=False", "--num_steps=20", "--eval_every=10", "--steps_per_execution=5"]
    straight = experiment.main(_preset("smoke", *common, f"--workdir={tmp_path / 'straight'}"))
    resumed_dir = f"--workdir={tmp_path / 'resumed'}"
    experiment.main(_preset("smoke", *common, "--max_steps=10", resumed_dir))
    resumed = experiment.main(_preset("smoke", *common, resumed_dir))
    assert resumed["steps"] == straight["steps"] == 20
    assert resumed["per_task_error"] == straight["per_task_error"]
    first, second = _validation(tmp_path / "straight"), _validation(tmp_path / "resumed")
    assert first["mean_error"] == second["mean_error"]
    straight_train = [
        json.loads(line)
        for line in (tmp_path / "straight" / "metrics.jsonl").read_text().splitlines()
    ]
    resumed_train = [
        json.loads(line)
        for line in (tmp_path / "resumed" / "metrics.jsonl").read_text().splitlines()
    ]
    last_cost = [r["cost"] for r in straight_train if r["split"] == "train"][-1]
    assert [r["cost"] for r in resumed_train if r["split"] == "train"][-1] == last_cost
