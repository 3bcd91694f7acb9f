"""The training engine: exact updates, exact resume, guards, logging, distribution, precision."""

import glob
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from fdl_tf2.data import mnist
from fdl_tf2.models import feedforward
from fdl_tf2.training import checkpoint, classifier, loop, step
from fdl_tf2.training.run_log import RunLog
from tests.helpers import weights_equal

_BATCH = 50
_STEPS_PER_EPOCH = 40


@pytest.fixture(scope="module")
def mirrored():
    """Two CPU replicas; one strategy per module (collective keys clash across strategies)."""
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert strategy.num_replicas_in_sync == 2
    return strategy


@pytest.fixture(scope="module")
def data():
    """Synthetic MNIST-shaped splits, 40 training steps per epoch at batch 50."""
    return mnist.classification_data(dataset="synthetic")


def _train(
    model,
    data,
    workdir,
    *,
    optimizer=None,
    strategy=None,
    validation=True,
    batches=None,
    epochs=2,
    steps_per_call=15,
    log_every_steps=5,
    histogram_every=1,
    jit_compile=False,
    num_steps=None,
    on_eval=(),
    keep=5,
):
    """`loop.train` of a classifier, one evaluation per epoch, as the recipe wires it."""
    run_log = RunLog(workdir, quiet=True)
    optimizer = optimizer or keras.optimizers.SGD(0.05)
    train_step = step.make_train_step(
        model,
        optimizer,
        classifier.classification_loss,
        jit_compile=jit_compile,
        steps_per_call=steps_per_call,
        strategy=strategy,
        summary_writer=run_log.writer("train"),
        log_every_steps=log_every_steps,
    )
    hooks = [on_eval] if callable(on_eval) else list(on_eval)
    extra = {f"hook_{index}": hook for index, hook in enumerate(hooks)}
    checkpointer = checkpoint.Checkpointer(
        workdir,
        keep=keep,
        quiet=True,
        model=model,
        optimizer=optimizer,
        step=train_step.step,
        **extra,
    )
    evaluate = step.make_evaluate(model, classifier.classification_loss)
    validation_data = data.dataset("validation", batch_size=500, training=False)
    try:
        return loop.train(
            train_step,
            batches or data.train_stream(batch_size=_BATCH, seed=0),
            num_steps=num_steps or epochs * _STEPS_PER_EPOCH,
            checkpointer=checkpointer,
            run_log=run_log,
            evaluate=(lambda _: evaluate(validation_data)) if validation else None,
            on_eval=hooks,
            steps_per_epoch=_STEPS_PER_EPOCH,
            histogram_every=histogram_every,
            examples_per_step=_BATCH,
        )
    finally:
        run_log.close()


def _small_mlp(seed=0):
    return feedforward.build_mlp((32,), seed=seed)


def _train_step(model, *, learning_rate):
    """A plain-SGD `TrainStep` on one device."""
    return step.make_train_step(
        model, keras.optimizers.SGD(learning_rate), classifier.classification_loss
    )


def test_one_step_equals_the_hand_computed_sgd_update():
    rng = np.random.default_rng(0)
    inputs = rng.uniform(size=(8, 784)).astype(np.float32)
    labels = rng.integers(0, 10, 8).astype(np.int32)
    model = feedforward.build_logistic_regression()
    model.set_weights([rng.normal(0, 0.01, (784, 10)).astype(np.float32), np.zeros(10, np.float32)])
    kernel, bias = (w.astype(np.float64) for w in model.get_weights())
    train_step = _train_step(model, learning_rate=0.5)
    dataset = tf.data.Dataset.from_tensors((inputs, labels)).repeat()
    totals = train_step(iter(dataset), 1)
    # NumPy reference: mean cross-entropy, gradient X^T (softmax - onehot) / B.
    logits = inputs @ kernel + bias
    probabilities = np.exp(logits - logits.max(1, keepdims=True))
    probabilities /= probabilities.sum(1, keepdims=True)
    loss = -np.mean(np.log(probabilities[np.arange(8), labels]))
    delta = (probabilities - np.eye(10)[labels]) / 8
    new_kernel, new_bias = model.get_weights()
    np.testing.assert_allclose(new_kernel, kernel - 0.5 * inputs.T @ delta, atol=1e-6)
    np.testing.assert_allclose(new_bias, bias - 0.5 * delta.sum(0), atol=1e-6)
    loss_sum, loss_count = (float(v) for v in totals["loss"])
    np.testing.assert_allclose(loss_sum / loss_count, loss, rtol=1e-5)
    assert loss_count == 8 and int(totals["steps"]) == 1 and bool(totals["finite"])
    assert int(train_step.step) == 1


def test_training_learns_and_logs_every_epoch(tmp_path, data):
    summary = _train(_small_mlp(), data, tmp_path)
    assert summary["steps"] == 80
    assert summary["validation"]["accuracy"] > 0.9
    records = [json.loads(line) for line in open(tmp_path / "metrics.jsonl")]
    assert [(r["split"], r["step"], r["epoch"]) for r in records] == [
        ("train", 40, 1),
        ("validation", 40, 1),
        ("train", 80, 2),
        ("validation", 80, 2),
    ]
    train = [r for r in records if r["split"] == "train"]
    assert train[1]["cost"] < train[0]["cost"] and train[0]["steps_per_sec"] > 0
    assert train[0]["error"] == pytest.approx(1 - train[0]["accuracy"])


def test_interval_means_are_exact_means_over_the_examples(tmp_path, data):
    model = _small_mlp()
    initial = model.get_weights()
    summary = _train(model, data, tmp_path, epochs=1, steps_per_call=7, validation=False)
    # Replay the same 40 batches through a fresh copy, one step at a time.
    replay = _small_mlp()
    replay.set_weights(initial)
    train_step = _train_step(replay, learning_rate=0.05)
    iterator = iter(data.train_stream(batch_size=_BATCH, seed=0)(0))
    sums = [train_step(iterator, 1)["loss"] for _ in range(40)]
    expected = sum(float(s) for s, _ in sums) / sum(float(c) for _, c in sums)
    assert summary["train"]["cost"] == pytest.approx(expected, rel=1e-6)
    assert weights_equal(model, replay)


def _tags(folder):
    tags = {}
    for path in glob.glob(str(folder / "*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            if event.HasField("graph_def"):
                tags["__graph__"] = "graph"
            for value in event.summary.value:
                tags[value.tag] = value.metadata.plugin_data.plugin_name
    return tags


def test_tensorboard_events_hold_scalars_histograms_and_the_graph(tmp_path, data):
    _train(_small_mlp(), data, tmp_path)
    train_tags = _tags(tmp_path / "tensorboard" / "train")
    validation_tags = _tags(tmp_path / "tensorboard" / "validation")
    for tag in ("cost", "accuracy", "error", "learning_rate", "steps_per_sec"):
        assert tag in train_tags, tag
    assert train_tags["hidden_1/kernel"] == "histograms"
    assert train_tags["output/bias"] == "histograms"
    assert train_tags["train_steps"] == "graph_run_metadata_graph"
    assert {"cost", "accuracy", "error"} <= set(validation_tags)


def test_per_step_scalars_are_written_every_log_every_steps(tmp_path, data):
    _train(_small_mlp(), data, tmp_path, log_every_steps=10, histogram_every=0)
    steps = []
    for path in glob.glob(str(tmp_path / "tensorboard" / "train" / "*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            steps += [event.step for v in event.summary.value if v.tag == "cost"]
    # In-graph per-step costs at 10, 20, ..., 80 plus one epoch-mean cost at 40 and 80.
    assert sorted(set(steps)) == [10, 20, 30, 40, 50, 60, 70, 80]


def test_checkpoints_keep_the_last_five_and_count_steps(tmp_path, data):
    _train(_small_mlp(), data, tmp_path, epochs=7, histogram_every=0, log_every_steps=0)
    manager_state = tf.train.get_checkpoint_state(str(tmp_path / "checkpoints"))
    assert len(manager_state.all_model_checkpoint_paths) == 5
    assert manager_state.model_checkpoint_path.endswith(f"ckpt-{7 * 40}")


def test_an_interrupted_run_resumes_to_identical_weights(tmp_path, data, monkeypatch):
    keras.utils.set_random_seed(1)
    reference = _small_mlp()
    _train(reference, data, tmp_path / "straight", epochs=3)

    keras.utils.set_random_seed(1)
    stopped = _small_mlp()
    _train(stopped, data, tmp_path / "resumed", epochs=3, num_steps=50)  # Mid-epoch 2.
    calls = {"count": 0}

    def interrupt(self, *args):  # Ctrl-C during epoch 3.
        calls["count"] += 1
        if calls["count"] == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(RunLog, "progress", interrupt)
    keras.utils.set_random_seed(99)  # Resumption must not depend on the fresh init.
    with pytest.raises(KeyboardInterrupt):
        _train(_small_mlp(seed=5), data, tmp_path / "resumed", epochs=3)
    saved = tf.train.latest_checkpoint(str(tmp_path / "resumed" / "checkpoints"))
    assert saved.endswith("ckpt-95")  # 80 steps + 15 in the interrupted call.
    monkeypatch.undo()
    resumed = _small_mlp(seed=7)
    summary = _train(resumed, data, tmp_path / "resumed", epochs=3)
    assert summary["steps"] == 120
    assert weights_equal(reference, resumed)


def test_a_non_finite_loss_stops_and_restores_the_last_good_checkpoint(tmp_path, data):
    model = feedforward.build_logistic_regression()  # No ReLU that would swallow the NaN.
    _train(model, data, tmp_path, epochs=1)
    good = [w.copy() for w in model.get_weights()]
    epochs = data.train_epochs(batch_size=_BATCH, seed=0)

    def poisoned(epoch):  # The 3rd batch of epoch 2 holds a NaN pixel.
        nan_at_third = tf.data.Dataset.range(40).map(lambda i: tf.where(i == 2, np.nan, 1.0))
        batches = tf.data.Dataset.zip(epochs(epoch), nan_at_third)
        return batches.map(lambda batch, scale: (batch[0] * scale, batch[1]))

    from fdl_tf2.data import pipeline

    with pytest.raises(loop.NonFiniteLossError, match=r"step 43 \(epoch 2\)"):
        _train(model, data, tmp_path, epochs=2, batches=pipeline.epoch_stream(poisoned, 40))
    for restored, expected in zip(model.get_weights(), good, strict=True):
        np.testing.assert_array_equal(restored, expected)
    assert tf.train.latest_checkpoint(str(tmp_path / "checkpoints")).endswith("ckpt-40")


def test_early_stopping_fires_when_validation_stalls(tmp_path, data):
    summary = _train(
        _small_mlp(),
        data,
        tmp_path,
        epochs=20,
        optimizer=keras.optimizers.SGD(0.0),
        on_eval=loop.EarlyStopping(patience=2),
    )
    assert summary["stopped_early"] and summary["steps"] == 3 * _STEPS_PER_EPOCH


def test_the_train_step_is_traced_once(data):
    model = _small_mlp()
    train_step = _train_step(model, learning_rate=0.05)
    epochs = data.train_epochs(batch_size=_BATCH, seed=0)
    for epoch in range(3):
        iterator = iter(epochs(epoch))
        for num_steps in (15, 15, 10):
            train_step(iterator, num_steps)
    assert train_step.experimental_get_tracing_count() == 1


def test_mirrored_strategy_matches_one_device_for_the_same_global_batch(tmp_path, data, mirrored):
    keras.utils.set_random_seed(3)
    single = _small_mlp()
    initial = single.get_weights()
    _train(single, data, tmp_path / "single", epochs=1, validation=False)
    with mirrored.scope():
        replicated = _small_mlp()
        replicated.set_weights(initial)
        optimizer = keras.optimizers.SGD(0.05)
    _train(
        replicated,
        data,
        tmp_path / "mirrored",
        epochs=1,
        optimizer=optimizer,
        strategy=mirrored,
        validation=False,
    )
    for a, b in zip(single.get_weights(), replicated.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=2e-5)


def test_mirrored_token_mean_uses_the_global_count_when_replicas_hold_unequal_counts(mirrored):
    """Replica 0 holds 1 counted example and replica 1 holds 2: the step is the global mean."""
    strategy = mirrored
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(4, 3)).astype(np.float32)
    targets = rng.normal(size=(4, 1)).astype(np.float32)
    weights = np.array([1, 0, 1, 1], np.float32)  # Replica 0 gets rows 0-1, replica 1 rows 2-3.
    initial = [rng.normal(size=(3, 1)).astype(np.float32), np.zeros(1, np.float32)]

    def masked_squared_error(model, batch, training):
        x, y, w = batch
        error = tf.reduce_sum(tf.square(model(x, training=training) - y), axis=-1)
        return (tf.reduce_sum(error * w), tf.reduce_sum(w)), {}

    with strategy.scope():
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        model.set_weights(initial)
        train_step = step.make_train_step(
            model, keras.optimizers.SGD(0.1), masked_squared_error, strategy=strategy
        )
    dataset = tf.data.Dataset.from_tensors((inputs, targets, weights)).repeat()
    train_step(iter(train_step.distribute(dataset)), 1)
    # NumPy: gradient of sum(w * (xW + b - y)^2) / sum(w).
    residual = inputs @ initial[0] + initial[1] - targets  # (4, 1)
    gradient_kernel = 2 * inputs.T @ (residual * weights[:, None]) / weights.sum()
    gradient_bias = 2 * (residual * weights[:, None]).sum(0) / weights.sum()
    np.testing.assert_allclose(model.get_weights()[0], initial[0] - 0.1 * gradient_kernel, 1e-5)
    np.testing.assert_allclose(model.get_weights()[1], initial[1] - 0.1 * gradient_bias, 1e-5)


def test_xla_step_matches_the_plain_step(tmp_path, data):
    keras.utils.set_random_seed(4)
    plain = _small_mlp()
    initial = plain.get_weights()
    _train(plain, data, tmp_path / "plain", epochs=1, validation=False)
    compiled = _small_mlp()
    compiled.set_weights(initial)
    _train(compiled, data, tmp_path / "xla", epochs=1, validation=False, jit_compile=True)
    for a, b in zip(plain.get_weights(), compiled.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-4)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_trains_with_float32_logits(tmp_path, data, policy):
    from fdl_tf2.training import precision

    optimizer = precision.use_mixed_precision(policy, keras.optimizers.SGD(0.05))
    assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer) == (policy == "mixed_float16")
    model = _small_mlp()
    assert model.get_layer("hidden_1").compute_dtype != "float32"
    assert model.output.dtype == "float32"
    summary = _train(model, data, tmp_path, epochs=1, optimizer=optimizer)
    assert summary["validation"]["accuracy"] > 0.8


def test_unknown_precision_policy_is_rejected():
    from fdl_tf2.training import precision

    with pytest.raises(ValueError, match="Unknown precision policy"):
        precision.use_mixed_precision("float8", keras.optimizers.SGD())


def test_a_short_iterator_ends_the_call_early_and_train_names_the_problem(tmp_path, data):
    model = _small_mlp()
    train_step = _train_step(model, learning_rate=0.05)
    short = data.train_epochs(batch_size=_BATCH, seed=0)(0).take(7)
    assert int(train_step(iter(short), 10)["steps"]) == 7
    with pytest.raises(ValueError, match="ran out at step 7"):
        _train(_small_mlp(), data, tmp_path, batches=lambda start: short)


def test_resuming_with_another_learning_rate_says_the_checkpoint_wins(tmp_path, data, capsys):
    model = _small_mlp()
    _train(model, data, tmp_path, epochs=1, optimizer=keras.optimizers.SGD(0.05))
    optimizer = keras.optimizers.SGD(0.5)
    run_log = RunLog(tmp_path, quiet=False)
    train_step = step.make_train_step(model, optimizer, classifier.classification_loss)
    checkpointer = checkpoint.Checkpointer(
        tmp_path, model=model, optimizer=optimizer, step=train_step.step
    )
    loop.train(
        train_step,
        data.train_stream(batch_size=_BATCH, seed=0),
        num_steps=40,
        checkpointer=checkpointer,
        run_log=run_log,
    )
    run_log.close()
    assert "learning rate 0.05 replaces the requested 0.5" in capsys.readouterr().out
    assert float(optimizer.learning_rate) == pytest.approx(0.05)


def test_the_book_console_line_is_printed_every_epoch(tmp_path, data, capsys):
    run_log = RunLog(tmp_path, quiet=False)
    model = _small_mlp()
    optimizer = keras.optimizers.SGD(0.05)
    train_step = step.make_train_step(
        model, optimizer, classifier.classification_loss, steps_per_call=40
    )
    checkpointer = checkpoint.Checkpointer(
        tmp_path, quiet=True, model=model, optimizer=optimizer, step=train_step.step
    )
    evaluate = step.make_evaluate(model, classifier.classification_loss)
    validation = data.dataset("validation", batch_size=500, training=False)
    loop.train(
        train_step,
        data.train_stream(batch_size=_BATCH, seed=0),
        num_steps=80,
        checkpointer=checkpointer,
        run_log=run_log,
        evaluate=lambda _: evaluate(validation),
        steps_per_epoch=40,
        console=classifier.book_epoch_line,
    )
    run_log.close()
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Epoch")]
    assert len(lines) == 2
    assert lines[0].startswith("Epoch: 0001 cost = ") and "Validation Error: 0." in lines[0]
