"""Contracts of the training engine, each checked with a toy model of a few units.

`step.make_train_step`, `step.make_evaluate`, `loop.train`, `checkpoint.Checkpointer`,
`run_log.RunLog` and `export.saved_model` promise to be model-agnostic. Each test below is a
shape of training the book needs and a classifier does not exercise: a loss without labels
(autoencoders, Chapter 8), a masked per-token mean (language models, Chapter 7), a loss that
reads the output layer's weights (sampled softmax, Chapter 7), an endless stream of batches
(RL, memory tasks), custom evaluation metrics with a learning-rate hook (the NMT plateau rule),
a step-based curriculum (DNC copy lengths) and a SavedModel with two endpoints (encode and
decode). Every test checks numbers against NumPy or a hand computation, not only that it runs.

Sizes are tiny (batches of 4-8, a few units) so that the whole file runs in seconds on two
cores; most of its time is the export test's fresh Python processes.
"""

import json
import math
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from fdl_tf2.data import pipeline
from fdl_tf2.export import saved_model
from fdl_tf2.training import loop, step
from fdl_tf2.training.checkpoint import Checkpointer
from fdl_tf2.training.run_log import RunLog

_ENDLESS = 2**62  # Dataset.range's "no last step".


# --- Helpers -------------------------------------------------------------------------------


def _dense(units, seed, **kwargs):
    """A Dense layer whose initial weights depend only on `seed` (for bit-identical reruns)."""
    return keras.layers.Dense(
        units, kernel_initializer=keras.initializers.GlorotUniform(seed=seed), **kwargs
    )


def _values(variables):
    return [np.array(variable.numpy()) for variable in variables]


def _assert_bit_identical(train_step_a, train_step_b):
    """Every weight and optimizer variable (moments, iteration count) is exactly equal."""
    for name in ("model", "optimizer"):
        variables_a = getattr(train_step_a, name).variables
        variables_b = getattr(train_step_b, name).variables
        for a, b in zip(_values(variables_a), _values(variables_b), strict=True):
            np.testing.assert_array_equal(a, b)
    assert int(train_step_a.step) == int(train_step_b.step)


def _train(workdir, train_step, batches, *, num_steps, trackables=None, **options):
    """One `loop.train` call with its own Checkpointer and RunLog in `workdir`.

    The checkpoint holds the model, the optimizer, the step and `trackables` (hooks).

    Returns:
      The summary of `loop.train`.
    """
    checkpointer = Checkpointer(
        workdir,
        quiet=True,
        model=train_step.model,
        optimizer=train_step.optimizer,
        step=train_step.step,
        **(trackables or {}),
    )
    run_log = RunLog(workdir, quiet=True)
    try:
        return loop.train(
            train_step,
            batches,
            num_steps=num_steps,
            checkpointer=checkpointer,
            run_log=run_log,
            **options,
        )
    finally:
        run_log.close()


def _records(workdir, split):
    lines = (workdir / "metrics.jsonl").read_text().splitlines()
    return [record for record in map(json.loads, lines) if record["split"] == split]


def _squared_error(model, batch, training):
    """Regression loss: `(sum of squared errors, number of elements)`, and the mean |error|."""
    inputs, targets = batch
    errors = model(inputs, training=training) - targets
    count = tf.cast(tf.size(errors), tf.float32)
    return (tf.reduce_sum(tf.square(errors)), count), {
        "mean_absolute_error": (tf.reduce_sum(tf.abs(errors)), count)
    }


# A linear-regression stream: the batch of step `s` is keyed by `s` alone (stateless RNG).
_TRUE_WEIGHTS = np.array([[1.0], [-2.0], [0.5]], np.float32)


def _regression_batch(step_index):
    x = tf.random.stateless_normal((8, 3), seed=tf.stack([step_index, tf.constant(11, tf.int64)]))
    return x, x @ _TRUE_WEIGHTS + 0.5


def _regression_stream(start_step):
    return tf.data.Dataset.range(start_step, _ENDLESS).map(_regression_batch)


def _regression_model(seed):
    inputs = keras.Input((3,))
    return keras.Model(inputs, _dense(1, seed)(inputs))


# --- 1. A loss without labels ----------------------------------------------------------------


def _linear_autoencoder(seed=0):
    inputs = keras.Input((4,))
    code = _dense(2, seed, use_bias=False, name="encoder")(inputs)
    return keras.Model(inputs, _dense(4, seed + 1, use_bias=False, name="decoder")(code))


def _reconstruction_error(model, x, training):
    """Batches are bare `x` `(batch, 4)`: the target is the input itself."""
    squared = tf.square(model(x, training=training) - x)
    return (tf.reduce_sum(squared), tf.cast(tf.size(squared), tf.float32)), {}


def test_autoencoder_without_labels_takes_the_numpy_sgd_step_and_learns(tmp_path):
    rng = np.random.default_rng(0)
    # Rank-2 data plus a little noise: a 2-unit linear code can reconstruct it well.
    x = (rng.normal(size=(32, 2)) @ rng.normal(size=(2, 4))).astype(np.float32)
    x += 0.05 * rng.normal(size=x.shape).astype(np.float32)
    batches = pipeline.epoch_stream(lambda epoch: tf.data.Dataset.from_tensor_slices(x).batch(8), 4)
    assert batches(0).element_spec.shape.as_list() == [None, 4]  # No targets tuple.
    model, learning_rate = _linear_autoencoder(), 0.05
    optimizer = keras.optimizers.SGD(learning_rate)
    train_step = step.make_train_step(model, optimizer, _reconstruction_error)
    w1, w2 = _values(model.trainable_variables)

    totals = train_step(iter(batches(0)), 1)

    # NumPy reference: L = sum((x W1 W2 - x)^2) / N over the N = 8 * 4 elements of batch 0.
    batch = x[:8]
    code = batch @ w1
    error = code @ w2 - batch
    d_output = 2.0 * error / error.size
    grad_w2 = code.T @ d_output
    grad_w1 = batch.T @ (d_output @ w2.T)
    new_w1, new_w2 = _values(model.trainable_variables)
    np.testing.assert_allclose(new_w1, w1 - learning_rate * grad_w1, rtol=0, atol=1e-6)
    np.testing.assert_allclose(new_w2, w2 - learning_rate * grad_w2, rtol=0, atol=1e-6)
    assert np.abs(new_w1 - w1).max() > 1e-3 and np.abs(new_w2 - w2).max() > 1e-3  # Not ~0.
    loss_sum, loss_count = (float(value) for value in totals["loss"])
    assert loss_count == 32.0
    assert loss_sum == pytest.approx(np.sum(error**2), rel=1e-5)
    assert int(totals["steps"]) == 1 and int(train_step.step) == 1

    # The dataset-wide mean over all 32 * 4 elements, after that step.
    everything = tf.data.Dataset.from_tensor_slices(x).batch(8)
    after_one_step = step.make_evaluate(model, _reconstruction_error)(everything)["cost"]
    reconstruction = x @ new_w1 @ new_w2
    assert after_one_step == pytest.approx(np.mean((reconstruction - x) ** 2), rel=1e-5)

    # The same initial weights trained for 200 steps through the loop reconstruct far better.
    trained = _linear_autoencoder()
    train_step = step.make_train_step(
        trained, keras.optimizers.SGD(learning_rate), _reconstruction_error, steps_per_call=50
    )
    summary = _train(tmp_path, train_step, batches, num_steps=200)
    assert summary["steps"] == 200
    after = step.make_evaluate(trained, _reconstruction_error)(everything)["cost"]
    assert after < 0.2 * after_one_step


# --- 2. A masked per-token mean --------------------------------------------------------------

_VOCABULARY = 6  # Token 0 is padding; real tokens are 1..5.


def _token_classifier():
    tokens = keras.Input((None,), dtype="int32")
    # Unit-variance embeddings make the per-token losses differ (the default init is ~0).
    normal = keras.initializers.RandomNormal(stddev=1.0, seed=0)
    embedded = keras.layers.Embedding(
        _VOCABULARY, 3, embeddings_initializer=normal, name="embedding"
    )(tokens)
    return keras.Model(tokens, _dense(_VOCABULARY, 0, name="logits")(embedded))


def _masked_cross_entropy(model, batch, training):
    """Cross-entropy summed over the unpadded tokens of `(batch, time)`, and their number."""
    tokens, targets = batch
    logits = model(tokens, training=training)  # (batch, time, vocabulary)
    per_token = tf.nn.sparse_softmax_cross_entropy_with_logits(targets, logits)
    mask = tf.cast(tokens != 0, tf.float32)
    correct = tf.cast(tf.argmax(logits, -1, output_type=tf.int32) == targets, tf.float32)
    count = tf.reduce_sum(mask)
    return (tf.reduce_sum(per_token * mask), count), {
        "accuracy": (tf.reduce_sum(correct * mask), count)
    }


def _padded_tokens():
    """10 sequences of 1-7 tokens padded to 7, in batches of 4, 4 and 2 (unequal counts)."""
    rng = np.random.default_rng(0)
    lengths = np.array([7, 2, 5, 1, 3, 6, 4, 2, 7, 3])
    tokens = rng.integers(1, _VOCABULARY, size=(10, 7)).astype(np.int32)
    targets = rng.integers(0, _VOCABULARY, size=(10, 7)).astype(np.int32)
    padding = np.arange(7)[None, :] >= lengths[:, None]
    tokens[padding] = 0
    targets[padding] = _VOCABULARY - 1  # Would change every number below if it leaked in.
    return tokens, targets


def test_masked_token_mean_is_dataset_sum_over_unpadded_count():
    tokens, targets = _padded_tokens()
    model = _token_classifier()
    dataset = tf.data.Dataset.from_tensor_slices((tokens, targets)).batch(4)

    evaluation = step.make_evaluate(model, _masked_cross_entropy)(dataset)

    # NumPy reference: logits = E[tokens] W + b; the mean is over unpadded tokens only.
    table, kernel, bias = _values(model.weights)
    logits = table[tokens] @ kernel + bias
    log_probabilities = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    nll = -np.take_along_axis(log_probabilities, targets[..., None], -1)[..., 0]
    mask = tokens != 0
    correct = (logits.argmax(-1) == targets) & mask
    assert evaluation["cost"] == pytest.approx(nll[mask].sum() / mask.sum(), rel=1e-6)
    assert evaluation["accuracy"] == pytest.approx(correct.sum() / mask.sum(), rel=1e-6)
    batch_means = [nll[i : i + 4][mask[i : i + 4]].mean() for i in (0, 4, 8)]
    assert abs(np.mean(batch_means) - evaluation["cost"]) > 1e-3  # The distinction matters.


def test_masked_token_step_follows_the_gradient_of_the_unpadded_mean():
    tokens, targets = _padded_tokens()
    model, learning_rate = _token_classifier(), 0.5
    train_step = step.make_train_step(
        model, keras.optimizers.SGD(learning_rate), _masked_cross_entropy
    )
    dataset = tf.data.Dataset.from_tensor_slices((tokens, targets)).batch(4)
    before = _values(model.trainable_variables)

    # Reference: the plain mean over the unpadded tokens of batch 0, selected by boolean_mask.
    mask = tokens[:4] != 0
    with tf.GradientTape() as tape:
        logits = tf.boolean_mask(model(tokens[:4]), mask)  # (unpadded tokens, vocabulary)
        mean = tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(targets[:4][mask], logits)
        )
    gradients = [tf.convert_to_tensor(g) for g in tape.gradient(mean, model.trainable_variables)]

    totals = train_step(iter(dataset), 1)

    after = _values(model.trainable_variables)
    for old, new, gradient in zip(before, after, gradients, strict=True):
        np.testing.assert_allclose(new, old - learning_rate * gradient.numpy(), rtol=0, atol=1e-6)
    assert float(totals["loss"][1]) == mask.sum() == 15
    assert float(totals["loss"][0]) / 15 == pytest.approx(float(mean), rel=1e-6)
    np.testing.assert_array_equal(after[0][0], before[0][0])  # Padding's embedding row.


# --- 3. A loss that reads the output layer's weights -----------------------------------------

_CLASSES = 20


def _sampled_softmax_model():
    """`x (batch, 8) -> [hidden (batch, 16), logits (batch, 20)]`."""
    inputs = keras.Input((8,))
    hidden = _dense(16, 0, activation="tanh", name="hidden")(inputs)
    return keras.Model(inputs, [hidden, _dense(_CLASSES, 1, name="output")(hidden)])


def _sampled_softmax_loss(model, batch, training):
    """Sampled softmax over 5 negatives when training, the full softmax when evaluating."""
    x, labels = batch
    hidden, logits = model(x, training=training)
    if training:
        output = model.get_layer("output")
        per_example = tf.nn.sampled_softmax_loss(
            weights=tf.transpose(output.kernel),  # (hidden, classes) -> (classes, hidden).
            biases=output.bias,
            labels=labels[:, None],
            inputs=hidden,
            num_sampled=5,
            num_classes=_CLASSES,
            remove_accidental_hits=True,
            seed=7,
        )
    else:
        per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
    correct = tf.cast(tf.argmax(logits, -1) == labels, tf.float32)
    count = tf.cast(tf.size(per_example), tf.float32)
    return (tf.reduce_sum(per_example), count), {"accuracy": (tf.reduce_sum(correct), count)}


def test_sampled_softmax_updates_the_output_kernel_and_learns(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 8)).astype(np.float32)
    labels = np.argmax(x @ rng.normal(size=(8, _CLASSES)), -1).astype(np.int64)
    batches = pipeline.epoch_stream(
        lambda epoch: pipeline.batched(
            x, labels, batch_size=32, training=True, preprocess=lambda *batch: batch, epoch=epoch
        ),
        steps_per_epoch=8,
    )
    model = _sampled_softmax_model()
    output = model.get_layer("output")
    kernel_before, bias_before = _values([output.kernel, output.bias])

    # One plain SGD step on 4 examples: only the columns of their labels and of the 5 sampled
    # negatives move (the full softmax would move all 20), and every label's column does.
    one_step = step.make_train_step(model, keras.optimizers.SGD(0.5), _sampled_softmax_loss)
    one_step(iter(tf.data.Dataset.from_tensors((x[:4], labels[:4]))), 1)
    kernel_after, bias_after = _values([output.kernel, output.bias])
    moved = np.flatnonzero(np.abs(kernel_after - kernel_before).max(axis=0) > 1e-6)  # Classes.
    assert set(labels[:4]) <= set(moved)
    assert len(moved) <= len(set(labels[:4])) + 5
    assert set(np.flatnonzero(bias_after != bias_before)) == set(moved)

    # About 100 Adam steps through the loop on a learnable task (labels = argmax of x W).
    evaluate = step.make_evaluate(model, _sampled_softmax_loss)  # The full softmax.
    everything = tf.data.Dataset.from_tensor_slices((x, labels)).batch(256)
    initial = evaluate(everything)
    train_step = step.make_train_step(
        model, keras.optimizers.Adam(0.02), _sampled_softmax_loss, steps_per_call=40
    )
    summary = _train(
        tmp_path,
        train_step,
        batches,
        num_steps=120,
        eval_every=40,
        evaluate=lambda step_index: evaluate(everything),
    )

    sampled = [record["cost"] for record in _records(tmp_path, "train")]
    assert sampled[-1] < 0.5 * sampled[0]  # The sampled loss that the step minimises falls...
    assert summary["validation"]["cost"] < 0.5 * initial["cost"]  # ...and the full one too.
    assert summary["validation"]["accuracy"] > initial["accuracy"] + 0.3


# --- 4. An endless stream of batches ---------------------------------------------------------


def test_endless_stream_logs_at_interval_ends_and_resumes_bit_identically(tmp_path):
    def run(workdir, seed, num_steps):
        model, optimizer = _regression_model(seed), keras.optimizers.Adam(0.05)
        evaluate = step.make_evaluate(model, _squared_error)
        held_out = tf.data.Dataset.range(10**6, 10**6 + 4).map(_regression_batch)
        train_step = step.make_train_step(model, optimizer, _squared_error, steps_per_call=10)
        summary = _train(
            workdir,
            train_step,
            _regression_stream,
            num_steps=num_steps,
            eval_every=15,
            evaluate=lambda step_index: evaluate(held_out),
        )
        return summary, train_step

    summary, _ = run(tmp_path / "resumed", seed=0, num_steps=37)
    assert summary["steps"] == 37
    assert [r["step"] for r in _records(tmp_path / "resumed", "train")] == [15, 30, 37]
    assert [r["step"] for r in _records(tmp_path / "resumed", "validation")] == [15, 30, 37]

    # A fresh model (other initial weights) and optimizer resume from the step-37 checkpoint.
    summary, resumed = run(tmp_path / "resumed", seed=1, num_steps=50)
    _, straight = run(tmp_path / "straight", seed=0, num_steps=50)

    assert summary["steps"] == 50
    assert [r["step"] for r in _records(tmp_path / "resumed", "train")] == [15, 30, 37, 45, 50]
    assert [r["step"] for r in _records(tmp_path / "straight", "train")] == [15, 30, 45, 50]
    _assert_bit_identical(resumed, straight)
    assert int(resumed.optimizer.iterations) == 50


# --- 5. Custom evaluation metrics and a learning-rate hook -----------------------------------

# A scripted perplexity, one value per evaluation (every 2 steps). With patience 3 the hook
# decays twice: 2.2 is the third evaluation in a row not below the best 2.0 (evaluation 5),
# and 2.3 the third not below the new best 1.9 (evaluation 9).
_PERPLEXITY = [3.0, 2.0, 2.5, 2.4, 2.2, 1.9, 2.0, 2.1, 2.3]
_EVAL_EVERY, _BASE_RATE = 2, 0.05


def test_plateau_hook_decays_on_custom_metrics_and_resumes_its_state(tmp_path):
    def run(workdir, seed, num_steps):
        model, optimizer = _regression_model(seed), keras.optimizers.SGD(_BASE_RATE)
        hook = loop.DecayOnPlateau(optimizer, patience=3, monitor="perplexity")
        mean_absolute_error = step.make_evaluate(model, _squared_error)
        held_out = tf.data.Dataset.range(10**6, 10**6 + 2).map(_regression_batch)

        def evaluate(step_index):
            perplexity = _PERPLEXITY[step_index // _EVAL_EVERY - 1]  # Keyed by step: resumable.
            real = mean_absolute_error(held_out)
            return {
                "perplexity": perplexity,
                "bits": math.log2(perplexity),
                "mean_absolute_error": real["mean_absolute_error"],
            }

        train_step = step.make_train_step(model, optimizer, _squared_error)
        summary = _train(
            workdir,
            train_step,
            _regression_stream,
            num_steps=num_steps,
            eval_every=_EVAL_EVERY,
            evaluate=evaluate,
            on_eval=hook,
            trackables={"plateau": hook},
        )
        return summary, train_step, hook

    summary, straight, hook = run(tmp_path / "straight", seed=0, num_steps=18)
    optimizer = straight.optimizer

    assert loop.learning_rate(optimizer) == pytest.approx(_BASE_RATE * 0.99**2, rel=1e-6)
    assert int(hook.decays) == 2
    train = _records(tmp_path / "straight", "train")
    # Each train record holds the rate its interval used: the hook runs after the record.
    expected_rates = [_BASE_RATE] * 5 + [_BASE_RATE * 0.99] * 4
    assert [r["learning_rate"] for r in train] == pytest.approx(expected_rates, rel=1e-6)
    validation = _records(tmp_path / "straight", "validation")
    assert [r["step"] for r in validation] == list(range(2, 19, 2))
    assert [r["perplexity"] for r in validation] == _PERPLEXITY
    assert [r["bits"] for r in validation] == pytest.approx(np.log2(_PERPLEXITY))
    assert summary["validation"]["mean_absolute_error"] == validation[-1]["mean_absolute_error"]
    # The last metric is the real mean absolute error of the final model on the held-out data.
    x, y = zip(*tf.data.Dataset.range(10**6, 10**6 + 2).map(_regression_batch), strict=True)
    kernel, bias = _values(straight.model.weights)
    predictions = np.concatenate(x) @ kernel + bias
    assert validation[-1]["mean_absolute_error"] == pytest.approx(
        np.mean(np.abs(predictions - np.concatenate(y))), rel=1e-5
    )

    # Stop after evaluation 7 (one decay done, one evaluation into the next plateau), resume.
    run(tmp_path / "resumed", seed=0, num_steps=14)
    _, resumed, resumed_hook = run(tmp_path / "resumed", seed=1, num_steps=18)

    assert loop.learning_rate(resumed.optimizer) == loop.learning_rate(optimizer)
    assert int(resumed_hook.decays) == int(hook.decays) == 2
    assert int(resumed_hook.waited) == int(hook.waited)
    assert float(resumed_hook.best) == float(hook.best) == 1.9
    _assert_bit_identical(resumed, straight)


# --- 6. A step-based curriculum --------------------------------------------------------------

_SWITCH_STEP = 20  # Sequences of length 2 before this step, of length 4 from it on.


def _copy_batch(step_index, length):
    """A copy task: 4 random sequences `(4, length, 3)`, keyed by the step alone."""
    seed = tf.stack([step_index, tf.constant(5, tf.int64)])
    return tf.random.stateless_normal((4, length, 3), seed=seed)


def _curriculum(start_step):
    # Two datasets of static lengths 2 and 4; concatenate merges their specs to (4, None, 3).
    short = tf.data.Dataset.range(start_step, max(start_step, _SWITCH_STEP))
    long = tf.data.Dataset.range(max(start_step, _SWITCH_STEP), _ENDLESS)
    return short.map(lambda s: _copy_batch(s, 2)).concatenate(long.map(lambda s: _copy_batch(s, 4)))


def _copy_model(seed):
    sequences = keras.Input((None, 3))  # Any length: Dense acts on every time step.
    hidden = _dense(8, seed, activation="tanh")(sequences)
    return keras.Model(sequences, _dense(3, seed + 1)(hidden))


def _copy_loss(model, sequences, training):
    (loss_sum, count), _ = _squared_error(model, (sequences, sequences), training)
    length = tf.cast(tf.shape(sequences)[1], tf.float32)
    return (loss_sum, count), {"length": (length, 1.0)}  # Mean length of the steps run.


def test_curriculum_switches_at_a_step_inside_a_call_and_resumes_bit_identically(tmp_path):
    assert _curriculum(0).element_spec.shape.as_list() == [4, None, 3]
    assert _curriculum(30).element_spec.shape.as_list() == [4, None, 3]

    def lengths(workdir):
        return {r["step"]: r["length"] for r in _records(workdir, "train")}

    def make(seed):
        model, optimizer = _copy_model(seed), keras.optimizers.Adam(0.01)
        return step.make_train_step(model, optimizer, _copy_loss, steps_per_call=8)

    # With eval_every=15 and 8 steps per call, the straight run's call of steps 15-22 spans 20.
    straight = make(seed=0)
    _train(tmp_path / "straight", straight, _curriculum, num_steps=40, eval_every=15)
    assert lengths(tmp_path / "straight") == {15: 2.0, 30: (5 * 2 + 10 * 4) / 15, 40: 4.0}

    # One TrainStep (traced once) runs to 20, 21 and 25; a fresh one resumes from there.
    workdir = tmp_path / "resumed"
    interrupted = make(seed=0)
    for num_steps in (20, 21, 25):
        _train(workdir, interrupted, _curriculum, num_steps=num_steps, eval_every=15)
    assert lengths(workdir) == {15: 2.0, 20: 2.0, 21: 4.0, 25: 4.0}  # Step 19: 2; step 20: 4.
    assert interrupted.experimental_get_tracing_count() == 1
    resumed = make(seed=1)
    _train(workdir, resumed, _curriculum, num_steps=40, eval_every=15)
    assert lengths(workdir) == {15: 2.0, 20: 2.0, 21: 4.0, 25: 4.0, 30: 4.0, 40: 4.0}
    _assert_bit_identical(resumed, straight)


# --- 7. A SavedModel with two endpoints ------------------------------------------------------

_LOAD_SCRIPT = """
import sys
import numpy as np
import tensorflow as tf
path, samples, out = sys.argv[1:4]
arrays = np.load(samples)
loaded = tf.saved_model.load(path)
code = loaded.signatures["encode"](pixels=tf.constant(arrays["pixels"]))["code"]
reconstruction = loaded.signatures["decode"](code=code)["reconstruction"]
try:  # Right dtype and rank, wrong width: the exporter's shape check must refuse it.
    loaded.signatures["encode"](pixels=tf.zeros((2, 5), tf.uint8))
    refused = False
except (ValueError, tf.errors.InvalidArgumentError):
    refused = True
np.savez(out, code=code.numpy(), reconstruction=reconstruction.numpy(), refused=refused)
"""


def _autoencoder_endpoints(encoder, decoder):
    """`encode(pixels uint8 (batch, 4)) -> code (batch, 2)`; `decode(code) -> reconstruction`."""

    def encode(pixels):
        # The slice ignores the width (it would take (batch, 5) too): only the exporter's
        # in-graph shape check can refuse a wrong width.
        return {"code": encoder(tf.cast(pixels[:, :4], tf.float32) / 255.0)}

    def decode(code):
        return {"reconstruction": decoder(code) * 255.0}

    return {
        "encode": (encode, [tf.TensorSpec((None, 4), tf.uint8, name="pixels")]),
        "decode": (decode, [tf.TensorSpec((None, 2), tf.float32, name="code")]),
    }


def test_two_endpoint_export_reloads_in_a_fresh_process(tmp_path):
    inputs = keras.Input((4,))
    encoder = keras.Model(inputs, _dense(2, 0, activation="tanh")(inputs))
    codes = keras.Input((2,))
    decoder = keras.Model(codes, _dense(4, 1, activation="sigmoid")(codes))
    pixels = np.random.default_rng(0).integers(0, 256, (5, 4)).astype(np.uint8)
    code = encoder(pixels.astype(np.float32) / 255.0).numpy()
    reconstruction = decoder(code).numpy() * 255.0
    endpoints = _autoencoder_endpoints(encoder, decoder)
    samples = {"encode": (pixels,), "decode": (code,)}

    # verify=False: the built-in check would start the same two fresh processes (a reload and
    # saved_model_cli, ~10 CPU-seconds each for importing TensorFlow) that this test starts.
    path = saved_model.export(
        "toy_autoencoder",
        endpoints=endpoints,
        samples=samples,
        track=[encoder, decoder],
        export_dir=tmp_path,
        verify=False,
    )

    assert path == tmp_path / "toy_autoencoder" / "1"
    np.savez(tmp_path / "samples.npz", pixels=pixels)
    command = [
        sys.executable,
        "-c",
        _LOAD_SCRIPT,
        path,
        tmp_path / "samples.npz",
        tmp_path / "reloaded.npz",
    ]
    loader = subprocess.Popen(  # Runs while saved_model_cli runs: both mostly import TF.
        [str(part) for part in command],
        env={**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "2"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    shown = saved_model.show_signature(path)
    _, errors = loader.communicate()
    assert loader.returncode == 0, errors[-2000:]
    reloaded = np.load(tmp_path / "reloaded.npz")
    np.testing.assert_allclose(reloaded["code"], code, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(reloaded["reconstruction"], reconstruction, rtol=1e-5, atol=1e-4)
    assert bool(reloaded["refused"])
    for name in ("signature_def['encode']", "signature_def['decode']", "pixels", "code"):
        assert name in shown
    readme = (tmp_path / "toy_autoencoder" / "README.md").read_text()
    assert (
        "- `encode`: inputs `pixels`: uint8 [None, 4]; outputs `code`: float32 [None, 2]" in readme
    )
    assert "- `decode`: inputs `code`: float32 [None, 2]; outputs `reconstruction`" in readme

    # A wrong expectation failing verification is tested in tests/unit/export/.


def test_book_nmt_rule_decays_when_the_loss_exceeds_the_max_of_the_last_three(tmp_path):
    """translate.py: `if len(previous_losses) > 2 and loss > max(previous_losses[-3:])`."""
    losses = [5.0, 4.0, 4.5, 4.6, 4.7, 3.0, 3.1, 3.2, 3.15, 4.9]
    previous, expected_rates, rate = [], [], 0.5
    for loss in losses:  # The book's rule, written out.
        if len(previous) > 2 and loss > max(previous[-3:]):
            rate *= 0.99
        previous.append(loss)
        expected_rates.append(rate)
    # 4.6 is not above max(5, 4, 4.5); 4.7 is above max(4, 4.5, 4.6); 4.9 above 3.2.
    assert expected_rates.count(0.5) == 4 and expected_rates[-1] == pytest.approx(0.5 * 0.99**2)
    optimizer = keras.optimizers.SGD(0.5)
    hook = loop.DecayAboveRecentMax(optimizer)
    rates = []
    for index, loss in enumerate(losses[:5]):
        hook(200 * (index + 1), {"train_cost": loss, "cost": 99.0})  # "cost" is not read.
        rates.append(loop.learning_rate(optimizer))
    # A restored copy continues exactly: the state is in variables.
    path = tf.train.Checkpoint(hook=hook).write(str(tmp_path / "hook"))
    restored = loop.DecayAboveRecentMax(optimizer)
    tf.train.Checkpoint(hook=restored).read(path).assert_consumed()
    for index, loss in enumerate(losses[5:]):
        restored(200 * (index + 6), {"train_cost": loss})
        rates.append(loop.learning_rate(optimizer))
    assert rates == pytest.approx(expected_rates, rel=1e-6)
    assert int(hook.decays) == 1 and int(restored.decays) == 2
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9)
    with pytest.raises(ValueError, match="schedule"):
        loop.DecayAboveRecentMax(keras.optimizers.SGD(schedule))
