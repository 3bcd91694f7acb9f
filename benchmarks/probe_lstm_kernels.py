"""Can a different LSTM kernel beat Keras' own on CPU? One LSTM layer, forward + backward, 3 ways.

Context: `bench_sentiment.py` finds the sentiment LSTM's training step dominated by the LSTM
recurrence, which our engine and Keras `fit` run alike (Keras' `LSTM` on CPU, no cuDNN). Before
writing a custom recurrent layer for the engine, this probe times, for the bench's shape (batch
32, 250 steps, 128 inputs, 128 units), `tf.function`-compiled, the gradient of
`sum(sin(outputs))` with respect to the kernel, recurrent kernel and bias:

  keras   `keras.layers.LSTM(128, return_sequences=True, use_cudnn=False)`: Keras' generic
          `tf.while_loop` over `LSTMCell`, with the input product inside the loop.
  scan    the same equations with the input projection hoisted out of the loop (one
          `(32 * 250, 128) @ (128, 512)` product) and `tf.scan` over the recurrent product only.
  block   `tf.raw_ops.BlockLSTMV2`, TensorFlow's fused LSTM op (one op for the whole sequence,
          gates in Keras' i, f, c, o order, weights `[kernel; recurrent_kernel]`).

It prints each variant's median milliseconds and its largest deviation from the Keras layer
(outputs, and gradients relative to the Keras gradients' largest magnitude).

Usage:
  python benchmarks/probe_lstm_kernels.py [--repeats 10]
"""

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import statistics  # noqa: E402
import time  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

BATCH_SIZE, STEPS, INPUTS, UNITS = 32, 250, 128, 128


def keras_variant(layer: keras.layers.LSTM):
    return lambda x: layer(x)


def scan_variant(layer: keras.layers.LSTM):
    """Hoisted input projection `(steps, batch, 4 * units)`, then `tf.scan` of h @ U."""
    cell = layer.cell

    def run(x):  # x: (batch, steps, inputs) -> (batch, steps, units)
        projected = tf.einsum("bti,ig->tbg", x, cell.kernel) + cell.bias

        def step(state, projected_t):
            h, c = state
            z = projected_t + tf.matmul(h, cell.recurrent_kernel)
            i, f, g, o = tf.split(z, 4, axis=1)
            c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
            return tf.sigmoid(o) * tf.tanh(c), c

        zeros = tf.zeros((tf.shape(x)[0], UNITS))
        outputs, _ = tf.scan(step, projected, initializer=(zeros, zeros))
        return tf.transpose(outputs, [1, 0, 2])

    return run


def block_variant(layer: keras.layers.LSTM):
    """`BlockLSTMV2` over the time-major input; its output h is the 7th result."""
    cell = layer.cell

    def run(x):
        zeros = tf.zeros((tf.shape(x)[0], UNITS))
        no_peephole = tf.zeros((UNITS,))
        results = tf.raw_ops.BlockLSTMV2(
            seq_len_max=tf.cast(tf.shape(x)[1], tf.int64),
            x=tf.transpose(x, [1, 0, 2]),
            cs_prev=zeros,
            h_prev=zeros,
            w=tf.concat([cell.kernel, cell.recurrent_kernel], axis=0),
            wci=no_peephole,
            wcf=no_peephole,
            wco=no_peephole,
            b=cell.bias,
            cell_clip=0.0,
            use_peephole=False,
        )
        return tf.transpose(results[6], [1, 0, 2])

    return run


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(BATCH_SIZE, STEPS, INPUTS)).astype(np.float32))
    layer = keras.layers.LSTM(UNITS, return_sequences=True, use_cudnn=False)
    reference_outputs = layer(x)
    weights = [layer.cell.kernel, layer.cell.recurrent_kernel, layer.cell.bias]
    variants = {"keras": keras_variant, "scan": scan_variant, "block": block_variant}
    reference_gradients, results = None, {}
    for name, make in variants.items():
        run = make(layer)

        @tf.function
        def gradients(x, run=run):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.sin(run(x)))
            return tape.gradient(loss, weights)

        values = [g.numpy() for g in gradients(x)]
        if reference_gradients is None:
            reference_gradients = values
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            _ = [g.numpy() for g in gradients(x)]
            times.append(time.perf_counter() - start)
        results[name] = {
            "ms": 1e3 * statistics.median(times),
            "output_deviation": float(np.max(np.abs(run(x) - reference_outputs))),
            "gradient_deviation": max(
                float(np.max(np.abs(g - r)) / np.max(np.abs(r)))
                for g, r in zip(values, reference_gradients, strict=True)
            ),
        }
        row = results[name]
        print(
            f"{name:6s} {row['ms']:8.1f} ms fwd+bwd   outputs off by {row['output_deviation']:.1e}"
            f"   gradients off by {row['gradient_deviation']:.1e} (relative)"
        )
    return results


if __name__ == "__main__":
    main()
