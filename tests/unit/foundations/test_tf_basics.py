"""Chapter-3 TensorFlow basics (spec ch01-03 §4.3: C3-1 to C3-5, C3-11, C3-12).

C3-8 (Fig. 3.5 from event files) is tested in tests/unit/test_records.py and
tests/unit/viz/test_curves.py.

tests/conftest.py splits the CPU into two logical devices (/CPU:0, /CPU:1) and enables op
determinism, so every random op below is seeded.
"""

import json
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from fdl_tf2.foundations import tf_basics
from fdl_tf2.models import feedforward
from fdl_tf2.training.run_log import RunLog

RESULTS_DIR = Path(__file__).resolve().parents[3] / "experiments" / "results"


# --- C3-1: variables -------------------------------------------------------------------------


def test_book_weights_variable_has_shape_300_by_200_and_std_half():
    weights = tf.Variable(tf.random.normal([300, 200], stddev=0.5, seed=1), name="weights")
    assert tuple(weights.shape) == (300, 200)
    assert weights.name == "weights:0"
    # 60,000 draws: the standard error of the std estimate is 0.5 / sqrt(2 * 60000) ~ 0.0014.
    assert abs(float(tf.math.reduce_std(weights)) - 0.5) < 0.01


def test_non_trainable_variable_is_excluded_from_trainable_variables():
    module = tf.Module()
    module.weights = tf.Variable(tf.random.normal([300, 200], stddev=0.5, seed=1))
    module.frozen = tf.Variable(tf.random.normal([300, 200], stddev=0.5, seed=2), trainable=False)
    assert len(module.variables) == 2
    assert [v.ref() for v in module.trainable_variables] == [module.weights.ref()]

    inputs = keras.Input((3,))
    frozen_layer = keras.layers.Dense(2, trainable=False, name="frozen")
    model = keras.Model(inputs, frozen_layer(keras.layers.Dense(4, name="trained")(inputs)))
    assert {variable.path for variable in model.trainable_variables} == {
        "trained/kernel",
        "trained/bias",
    }
    assert len(model.non_trainable_variables) == 2


def test_each_book_initialiser_has_its_tf2_name_and_distribution():
    shape = [200, 300]
    np.testing.assert_array_equal(tf.zeros(shape, dtype=tf.float32), np.zeros(shape))
    np.testing.assert_array_equal(tf.ones(shape), np.ones(shape))
    normal = tf.random.normal(shape, mean=0.0, stddev=1.0, seed=3).numpy()
    assert abs(normal.mean()) < 0.01 and abs(normal.std() - 1.0) < 0.01
    assert np.abs(normal).max() > 3.0  # Untruncated: 60,000 draws reach past 3 sigma.
    truncated = tf.random.truncated_normal(shape, mean=0.0, stddev=1.0, seed=4).numpy()
    assert np.abs(truncated).max() <= 2.0  # Redrawn beyond 2 sigma (line 933).
    assert abs(truncated.std() - 0.8796) < 0.01  # The std of N(0, 1) truncated at +-2.
    uniform = tf.random.uniform(shape, minval=0, maxval=None, seed=5).numpy()
    assert uniform.min() >= 0.0 and uniform.max() < 1.0  # maxval=None means 1 for floats.
    assert abs(uniform.mean() - 0.5) < 0.01


# --- C3-2: Table 3.1, one assertion per row ---------------------------------------------------


def test_table_3_1_elementwise_math_ops():
    a, b = tf.constant([1.0, 4.0]), tf.constant([2.0, 2.0])
    results = [
        tf.add(a, b),
        tf.subtract(a, b),
        tf.multiply(a, b),
        tf.divide(a, b),
        tf.math.exp(tf.math.log(a)),
        tf.cast(tf.math.greater(a, b), tf.float32),
        tf.cast(tf.math.less(a, b), tf.float32),
        tf.cast(tf.math.equal(a, b), tf.float32),
    ]
    expected = [[3, 6], [-1, 2], [2, 8], [0.5, 2], [1, 4], [0, 1], [1, 0], [0, 0]]
    np.testing.assert_allclose(np.stack(results), expected, rtol=1e-6)


def test_table_3_1_array_ops():
    matrix = tf.constant([[1, 2, 3], [4, 5, 6]])
    assert tf.concat([matrix, matrix], axis=0).shape == (4, 3)
    np.testing.assert_array_equal(tf.slice(matrix, [0, 1], [2, 2]), [[2, 3], [5, 6]])
    left, right = tf.split(matrix, [1, 2], axis=1)
    np.testing.assert_array_equal(right, [[2, 3], [5, 6]])
    assert left.shape == (2, 1)
    assert int(tf.rank(matrix)) == 2
    np.testing.assert_array_equal(tf.shape(matrix), [2, 3])
    np.testing.assert_array_equal(tf.constant(7), 7)
    shuffled = tf.random.shuffle(tf.range(100), seed=6).numpy()
    assert sorted(shuffled) == list(range(100)) and list(shuffled) != list(range(100))


def test_table_3_1_matrix_ops():
    matrix = tf.constant([[2.0, 1.0], [1.0, 3.0]])
    np.testing.assert_allclose(tf.linalg.matmul(matrix, [[1.0], [1.0]]), [[3.0], [4.0]])
    np.testing.assert_allclose(
        tf.linalg.matmul(matrix, tf.linalg.inv(matrix)), np.eye(2), atol=1e-6
    )
    assert float(tf.linalg.det(matrix)) == pytest.approx(5.0, rel=1e-6)


def test_table_3_1_stateful_ops():
    counter = tf.Variable(1.0)
    counter.assign(5.0)
    counter.assign_add(2.0)
    assert float(counter) == 7.0


def test_table_3_1_neural_network_building_blocks():
    logits = tf.constant([[1.0, 2.0, 3.0]])
    expected_softmax = np.exp([1, 2, 3]) / np.exp([1, 2, 3]).sum()
    np.testing.assert_allclose(tf.nn.softmax(logits)[0], expected_softmax, rtol=1e-6)
    np.testing.assert_allclose(tf.nn.sigmoid(0.0), 0.5)
    np.testing.assert_array_equal(tf.nn.relu([-1.0, 2.0]), [0.0, 2.0])
    image = tf.reshape(tf.range(16, dtype=tf.float32), [1, 4, 4, 1])
    box_filter = tf.ones([2, 2, 1, 1])
    summed = tf.nn.conv2d(image, box_filter, strides=2, padding="VALID")
    np.testing.assert_array_equal(tf.squeeze(summed), [[10, 18], [42, 50]])
    pooled = tf.nn.max_pool2d(image, ksize=2, strides=2, padding="VALID")
    np.testing.assert_array_equal(tf.squeeze(pooled), [[5, 7], [13, 15]])


def test_table_3_1_checkpointing_ops(tmp_path):
    weights = tf.Variable([1.0, 2.0])
    checkpoint = tf.train.Checkpoint(weights=weights)
    path = checkpoint.save(str(tmp_path / "ckpt"))
    weights.assign([0.0, 0.0])
    checkpoint.restore(path).assert_consumed()
    np.testing.assert_array_equal(weights, [1.0, 2.0])


def test_table_3_1_queue_and_synchronisation_ops():
    # TF2 input pipelines use tf.data; the queue ops still exist as tf.queue for the table row.
    queue = tf.queue.FIFOQueue(capacity=3, dtypes=tf.float32)
    queue.enqueue(1.0)
    queue.enqueue(2.0)
    assert int(queue.size()) == 2
    assert float(queue.dequeue()) == 1.0  # First in, first out.


def test_table_3_1_control_flow_ops():
    @tf.function
    def collatz_steps(number):
        steps = tf.constant(0)
        number, steps = tf.while_loop(
            lambda n, s: n > 1,
            lambda n, s: (tf.cond(n % 2 == 0, lambda: n // 2, lambda: 3 * n + 1), s + 1),
            (number, steps),
        )
        return steps

    assert int(collatz_steps(tf.constant(6))) == 8  # 6 3 10 5 16 8 4 2 1.


# --- C3-3: placeholders and sessions -> tf.function ----------------------------------------


def test_affine_function_serves_batches_of_1_and_1000_with_one_trace():
    model = tf_basics.affine_function(seed=1)
    assert model(tf.zeros([1, 784])).shape == (1, 10)
    assert model(tf.zeros([1000, 784])).shape == (1000, 10)
    assert model.__call__.experimental_get_tracing_count() == 1


def test_affine_function_row_i_is_w_applied_to_sample_i():
    model = tf_basics.affine_function(seed=1)
    weights, biases = model.weights.numpy(), model.biases.numpy()
    assert weights.shape == (784, 10) and weights.min() >= -1.0 and weights.max() < 1.0
    assert weights.std() == pytest.approx(2 / np.sqrt(12), rel=0.05)  # U(-1, 1).
    np.testing.assert_array_equal(biases, np.zeros(10))
    inputs = np.random.default_rng(0).random((5, 784), dtype=np.float32)
    outputs = model(inputs).numpy()
    for row in range(5):
        # float32 sums of 784 products: an output near 0 needs an absolute tolerance.
        expected = inputs[row].astype(np.float64) @ weights + biases
        np.testing.assert_allclose(outputs[row], expected, rtol=1e-5, atol=1e-4)


def test_affine_graph_is_exported_for_tensorboard(tmp_path):
    model = tf_basics.affine_function(seed=1)
    run_log = RunLog(tmp_path, quiet=True)
    run_log.trace_on()  # Before the first call: only a new trace is recorded.
    model(tf.zeros([2, 784]))
    run_log.trace_export("affine")
    run_log.close()
    event_files = list((tmp_path / "tensorboard" / "train").glob("events.out.tfevents.*"))
    assert event_files
    tags = {
        value.tag
        for event in tf.compat.v1.train.summary_iterator(str(event_files[0]))
        for value in event.summary.value
    }
    assert "affine" in tags
    assert {"MatMul", "AddV2", "Placeholder"} <= set(tf_basics.affine_graph_ops(model))


def test_a_v1_variable_adds_init_value_variable_and_assign_ops():
    op_types = [line.split(": ")[1] for line in tf_basics.v1_variable_ops()]
    assert {"Const", "VariableV2", "Assign"} <= set(op_types)


# --- C3-4: variable sharing ------------------------------------------------------------------


def test_fresh_network_makes_twelve_distinct_variables_in_two_calls():
    inputs = tf.random.uniform([3, 784], seed=7)
    first_outputs, first = tf_basics.make_fresh_network(inputs, seed=1)
    second_outputs, second = tf_basics.make_fresh_network(inputs, seed=11)
    variables = first + second
    assert len({variable.ref() for variable in variables}) == 12
    assert sum(int(np.prod(variable.shape)) for variable in first) == 84_060
    # Same names in eager TF2 (spec C3-4a), different values: the "sharing" did not happen.
    assert [variable.name for variable in first] == [variable.name for variable in second]
    assert not np.allclose(first_outputs, second_outputs)
    # No nonlinearity: the network is one affine map, x @ W1 W2 W3 + ((b1 W2) + b2) W3 + b3.
    w1, _, w2, _, w3, _ = (variable.numpy() for variable in first)
    np.testing.assert_allclose(first_outputs, inputs.numpy() @ w1 @ w2 @ w3, rtol=1e-3, atol=1e-3)


def test_graph_mode_uniquifies_the_second_copy_names_as_the_book_prints():
    first, second = tf_basics.fresh_network_names_in_graph_mode()
    assert first == ["W_1:0", "biases_1:0", "W_2:0", "biases_2:0", "W_3:0", "biases_3:0"]
    assert second == [
        "W_1_1:0", "biases_1_1:0", "W_2_1:0", "biases_2_1:0", "W_3_1:0", "biases_3_1:0"
    ]  # fmt: skip
    assert tf.executing_eagerly()


def test_shared_keras_network_uses_six_variables_across_calls():
    model = tf_basics.build_shared_network(seed=1)
    first_inputs = np.random.default_rng(1).random((4, 784), dtype=np.float32)
    second_inputs = np.random.default_rng(2).random((4, 784), dtype=np.float32)
    both = model(np.concatenate([first_inputs, second_inputs])).numpy()
    first, second = model(first_inputs).numpy(), model(second_inputs).numpy()
    assert len(model.variables) == 6 and model.count_params() == 84_060
    np.testing.assert_allclose(np.concatenate([first, second]), both, rtol=1e-5, atol=1e-4)
    kernel = model.get_layer("layer_1").kernel.numpy()
    assert kernel.min() >= -1.0 and kernel.max() <= 1.0 and kernel.std() > 0.5
    assert not np.any(model.get_layer("layer_1").bias.numpy())


def test_variable_scope_without_reuse_raises_and_reuse_variables_shares():
    result = tf_basics.variable_scope_demo()
    assert "layer_1/W already exists" in result["error"]
    assert result["shared_names"] == [
        f"shared_variables/layer_{k}/{name}:0" for k in (1, 2, 3) for name in ("W", "b")
    ]
    assert tf.executing_eagerly()


# --- C3-5: devices ---------------------------------------------------------------------------


def test_log_device_placement_can_be_switched_on_and_off():
    tf.debugging.set_log_device_placement(True)
    try:
        np.testing.assert_array_equal(tf_basics.matmul_on_device("/CPU:0"), [[5.0], [11.0]])
    finally:
        tf.debugging.set_log_device_placement(False)


def test_soft_placement_runs_a_missing_gpu_request_on_an_existing_device():
    if len(tf.config.list_logical_devices("GPU")) > 2:
        pytest.skip("this machine has a /GPU:2")
    np.testing.assert_array_equal(tf_basics.matmul_on_device("/GPU:2"), [[5.0], [11.0]])
    fallback = tf_basics.matmul_device("/GPU:2")
    assert not fallback.endswith("GPU:2") and fallback.endswith(("CPU:0", "GPU:0"))


def test_hard_placement_of_a_missing_gpu_raises_and_restores_the_setting():
    if len(tf.config.list_logical_devices("GPU")) > 2:
        pytest.skip("this machine has a /GPU:2")
    assert tf.config.get_soft_device_placement()
    with pytest.raises(tf.errors.InvalidArgumentError, match="Could not satisfy device"):
        tf_basics.matmul_on_device("/GPU:2", soft_placement=False)
    assert tf.config.get_soft_device_placement()


def test_tower_on_two_logical_cpus_sums_to_10_22():
    devices = tf_basics.logical_devices("CPU")
    assert len(devices) == 2  # From tests/conftest.py.
    np.testing.assert_array_equal(tf_basics.tower_sum(devices), [[10.0], [22.0]])
    np.testing.assert_array_equal(tf_basics.tower_sum(devices[:1]), [[5.0], [11.0]])
    with pytest.raises(ValueError, match=r"\[\]"):
        tf_basics.tower_sum([])


def test_mirrored_strategy_replaces_the_manual_tower():
    devices = tf_basics.logical_devices("CPU")
    np.testing.assert_array_equal(tf_basics.mirrored_tower_sum(devices), [[10.0], [22.0]])


# --- C3-11: the book's derived claims from the port's accuracies -----------------------------


def test_cheque_error_and_error_reduction_reproduce_the_book_arithmetic():
    assert tf_basics.cheque_error_rate(0.919) == pytest.approx(0.2867, abs=1e-4)  # "almost 30%".
    assert tf_basics.relative_error_reduction(8.1, 1.8) == pytest.approx(0.7778, abs=1e-4)
    assert tf_basics.cheque_error_rate(1.0) == 0.0
    with pytest.raises(ValueError, match="1.5"):
        tf_basics.cheque_error_rate(1.5)
    with pytest.raises(ValueError, match="0"):
        tf_basics.relative_error_reduction(0.0, 0.1)


def test_derived_claims_hold_for_the_ports_measured_accuracies():
    paths = [RESULTS_DIR / f"ch03.{name}.book.json" for name in ("logistic_regression", "mlp")]
    if not all(path.is_file() for path in paths):
        pytest.skip(f"measured results missing: {paths}")
    logistic, mlp = (json.loads(path.read_text())["test_accuracy"] for path in paths)
    # Book: "almost 30%" of 4-digit cheques misread (1 - 0.919^4); the port's 92.23% -> 27.6%.
    cheque = tf_basics.cheque_error_rate(logistic)
    assert cheque == pytest.approx(1 - logistic**4, rel=1e-12)
    assert 0.25 < cheque < 0.30
    # Book: "almost 78%" fewer digit errors; the port's 7.77% -> 2.04% is a 73.7% reduction.
    reduction = tf_basics.relative_error_reduction(1 - logistic, 1 - mlp)
    assert reduction == pytest.approx(((1 - logistic) - (1 - mlp)) / (1 - logistic), rel=1e-12)
    assert 0.70 < reduction < 0.80


# --- C3-12: the chapter-4 hand-off -----------------------------------------------------------


def _write_tf1_mlp_checkpoint(prefix: Path, scope: str = "mlp_model") -> dict[str, np.ndarray]:
    """A TF1 `tf.train.Saver` checkpoint laid out like the book repository's MLP."""
    rng = np.random.default_rng(0)
    shapes = {"hidden_1": (784, 256), "hidden_2": (256, 256), "output": (256, 10)}
    values = {}
    for layer, (fan_in, fan_out) in shapes.items():
        values[f"{scope}/{layer}/W"] = rng.normal(0, np.sqrt(2 / fan_in), (fan_in, fan_out))
        values[f"{scope}/{layer}/b"] = rng.normal(0, 0.1, (fan_out,))
    with tf.Graph().as_default():
        v1 = tf.compat.v1
        with v1.variable_scope(scope):
            for layer in shapes:
                with v1.variable_scope(layer):
                    for name in ("W", "b"):
                        value = values[f"{scope}/{layer}/{name}"].astype(np.float32)
                        v1.get_variable(name, initializer=value)
        with v1.Session() as session:
            session.run(v1.global_variables_initializer())
            v1.train.Saver().save(session, str(prefix), global_step=547400)
    return values


def test_tf1_mlp_checkpoint_loads_into_the_keras_mlp_and_matches_numpy(tmp_path):
    values = _write_tf1_mlp_checkpoint(tmp_path / "model-checkpoint")
    model = feedforward.build_mlp(seed=0)
    copied = tf_basics.load_tf1_mlp_checkpoint(tmp_path, model)
    assert copied == {
        "mlp_model/hidden_1/W": (784, 256),
        "mlp_model/hidden_1/b": (256,),
        "mlp_model/hidden_2/W": (256, 256),
        "mlp_model/hidden_2/b": (256,),
        "mlp_model/output/W": (256, 10),
        "mlp_model/output/b": (10,),
    }
    inputs = np.random.default_rng(1).random((8, 784), dtype=np.float32)
    hidden = inputs
    for layer in ("hidden_1", "hidden_2"):
        hidden = np.maximum(
            hidden @ values[f"mlp_model/{layer}/W"] + values[f"mlp_model/{layer}/b"], 0
        )
    expected = hidden @ values["mlp_model/output/W"] + values["mlp_model/output/b"]
    np.testing.assert_allclose(model(inputs).numpy(), expected, rtol=1e-4, atol=1e-4)
    assert tf.executing_eagerly()


def test_tf1_checkpoint_with_wrong_shapes_is_rejected_with_both_shapes(tmp_path):
    _write_tf1_mlp_checkpoint(tmp_path / "model-checkpoint")
    narrow = feedforward.build_mlp(hidden_units=(128, 256))
    with pytest.raises(ValueError, match=r"\(784, 256\).*\(784, 128\)"):
        tf_basics.load_tf1_mlp_checkpoint(tmp_path, narrow)
    with pytest.raises(ValueError, match="no variable 'other/hidden_1/W'"):
        tf_basics.load_tf1_mlp_checkpoint(tmp_path, feedforward.build_mlp(), scope="other")
