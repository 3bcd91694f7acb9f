"""Training throughput of the chapter-7 sentiment LSTM: our engine against Keras `fit` and PyTorch.

Book section: chapter 7, "Implementing a Sentiment Analysis Model" (Embedding -> LSTM with
dropout 0.5 on its inputs and outputs -> readout -> Dense(2), softmax cross-entropy, Adam 1e-3,
minibatches of 32). The model is the `cpu` preset of `experiments/ch07_sequences/
lstm_sentiment.py`: `fdl_tf2.models.sentiment.build_sentiment_lstm(30000, 128, 128,
readout="max", per_step_input_dropout=True)`, 3,971,842 trainable parameters, on post-padded
token ids with a mask (`mask_zero=True`), here `MAX_LENGTH` = 250 tokens per review (about the
mean length of an IMDB review, 269; the experiment pads to 500, which doubles every
contender's step time alike).

What it measures, in one process, on random token ids with review lengths uniform in
[25, 250] (no dataset files):

  (a)  our engine as the experiment runs it: `fdl_tf2.training.step.make_train_step` with
       `classifier.classification_loss`, fed by `ClassificationData.train_stream` (int32 ids in
       memory, epochs chained inside tf.data), 100 steps per call.
  (a2) the same with `jit_compile=True` (the LSTM's loop XLA-compiled for the CPU).
  (b)  Keras `model.fit(ids, labels)` with compile defaults (`steps_per_execution=1`,
       `jit_compile="auto"`), `SparseCategoricalCrossentropy(from_logits=True)`.
  (d)  the same model in eager PyTorch (`TorchSentimentLSTM`: `nn.Embedding`, `nn.Dropout` on
       the embeddings, `nn.LSTM(batch_first=True)` over every step, `nn.Dropout` on the
       outputs, the max over the real steps (pads set to -inf; post-padding, so the real steps'
       outputs are those of the unpadded review), `nn.Linear`), starting from the Keras
       model's weights, `torch.optim.Adam(1e-3, eps=1e-8)`, `F.cross_entropy`, as many threads
       as TensorFlow. Keras has one LSTM bias, PyTorch two: `bias_hh` is zero and frozen, so
       both train the same 3,971,842 parameters.

How: as `bench_mlp.py` (`benchmarks.common.measure_interleaved`): one untimed warm-up per
contender, then `--repeats` interleaved measurements of `--steps` steps each ((a2) runs a
quarter of them: it is several times slower); the median is reported, in tokens/s
(batch x MAX_LENGTH per step, pads included, as every contender computes them) and steps/s.
"Ours" is the faster engine variant. Goals (the issue's): ours >= 1.3x (b) and >= 1.0x (d).

What limits it: each contender's step is one LSTM recurrence of MAX_LENGTH dependent steps
forward and as many backward. Keras' LSTM on CPU (no cuDNN) runs `keras.layers.RNN`'s
`tf.while_loop` over `LSTMCell`, which multiplies each step's input by the kernel inside the
loop (`(32, 128) @ (128, 512)` per step, instead of one `(32 * 250, 128) @ (128, 512)` product
for all steps before the loop) and selects state and output by the mask at every step;
backward, the loop's gradient accumulates the kernel gradient step by step. PyTorch's CPU
`nn.LSTM` runs an ATen kernel that projects all inputs at once and loops only the recurrent
product. The input-projection probe below times that one product, forward and backward, to
size what hoisting it out of the loop could save; `probe_lstm_kernels.py` tries the hoisted loop
and TensorFlow's fused `BlockLSTMV2` op against Keras' layer (both were slower on this CPU).

Usage:
  python benchmarks/bench_sentiment.py [--repeats 3] [--steps 20] [--quick] [--skip-torch]
      [--output runs/bench/bench_sentiment.json]
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # For `benchmarks.common`.

from benchmarks import common  # noqa: E402
from benchmarks.common import Runner  # noqa: E402
from fdl_tf2.data import imdb, pipeline  # noqa: E402
from fdl_tf2.models import sentiment  # noqa: E402

SEED = common.SEED
VOCABULARY_SIZE = 30_000
EMBEDDING_SIZE = 128
UNITS = 128
MAX_LENGTH = 250
MIN_LENGTH = 25
READOUT = "max"
DROPOUT = 0.5
BATCH_SIZE = 32
TOKENS_PER_STEP = BATCH_SIZE * MAX_LENGTH
NUM_EXAMPLES = 3_200  # 100 steps per epoch.
STEPS_PER_EPOCH = NUM_EXAMPLES // BATCH_SIZE
LEARNING_RATE = 1e-3
ADAM_EPSILON = 1e-8  # TF1's default, as the experiment's Config.adam_epsilon.
STEPS_PER_EXECUTION = 100
DEFAULT_STEPS = 20
DEFAULT_REPEATS = 3
QUICK_STEPS = 4
XLA_STEP_FRACTION = 4
"""(a2) measures `steps // 4` steps: the XLA-compiled LSTM loop is several times slower."""
FIT_DEFAULTS_TARGET = 1.3
TORCH_TARGET = 1.0
PROJECTION_REPETITIONS = 20

ENGINE = "(a) engine spe=100"
ENGINE_XLA = "(a2) engine spe=100 xla"
FIT_DEFAULTS = "(b) keras fit defaults"
TORCH = "(d) pytorch eager"


def build_model(readout: str = READOUT, dropout: float = DROPOUT) -> keras.Model:
    """The cpu preset's sentiment LSTM, seeded (every contender starts alike), no cuDNN."""
    return sentiment.build_sentiment_lstm(
        VOCABULARY_SIZE,
        EMBEDDING_SIZE,
        UNITS,
        dropout=dropout,
        readout=readout,
        max_length=MAX_LENGTH,
        per_step_input_dropout=True,
        use_cudnn=False,
        seed=SEED,
    )


def build_optimizer() -> keras.optimizers.Optimizer:
    return keras.optimizers.Adam(LEARNING_RATE, epsilon=ADAM_EPSILON)


def random_reviews(num_examples: int = NUM_EXAMPLES) -> dict[str, np.ndarray]:
    """Post-padded int32 ids `(num_examples, MAX_LENGTH)` in [2, 30000) with lengths uniform
    in [MIN_LENGTH, MAX_LENGTH], int32 labels `(num_examples,)` in {0, 1}, drawn from `SEED`."""
    rng = np.random.default_rng(SEED)
    lengths = rng.integers(MIN_LENGTH, MAX_LENGTH + 1, num_examples)
    ids = rng.integers(2, VOCABULARY_SIZE, (num_examples, MAX_LENGTH)).astype(np.int32)
    ids[np.arange(MAX_LENGTH)[None, :] >= lengths[:, None]] = imdb.PAD_ID
    labels = rng.integers(0, 2, num_examples).astype(np.int32)
    return {"ids": ids, "labels": labels, "lengths": lengths}


def classification_data(reviews: dict[str, np.ndarray]) -> pipeline.ClassificationData:
    """The ids in memory as `imdb.sentiment_data` holds them (already tokenised)."""
    return pipeline.ClassificationData(
        name="random_imdb",
        splits={"train": (reviews["ids"], reviews["labels"])},
        preprocess_inputs=lambda ids: tf.cast(ids, tf.int32),
        preprocess_targets=lambda labels: tf.cast(labels, tf.int32),
        serving_spec=imdb.SERVING_SPEC,
    )


# --- TensorFlow contenders ------------------------------------------------------------------


def make_engine_runner(reviews: dict[str, np.ndarray], *, jit_compile: bool):
    """(a)/(a2): `step.make_train_step` with the classifier loss on the training stream.

    Returns:
      `(runner, tracing_count)`, see `common.make_engine_runner`.
    """
    return common.make_engine_runner(
        build_model(),
        build_optimizer(),
        classification_data(reviews).train_stream(batch_size=BATCH_SIZE, seed=SEED),
        steps_per_call=STEPS_PER_EXECUTION,
        jit_compile=jit_compile,
    )


def make_fit_runner(reviews: dict[str, np.ndarray]) -> tuple[Runner, keras.Model]:
    """(b): `model.fit(ids, labels)` after `compile` with defaults (`common.make_array_fit_runner`).

    Returns:
      `(runner, model)`; `model.jit_compile` says whether fit used XLA.
    """
    model = build_model()
    model.compile(build_optimizer(), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    runner = common.make_array_fit_runner(model, reviews["ids"], reviews["labels"], BATCH_SIZE)
    return runner, model


def make_input_projection_probe(repetitions: int = PROJECTION_REPETITIONS) -> common.Probe:
    """`() -> ms per step`: the LSTM's input projection for all steps as ONE product.

    Times `x @ W` for `x (32 * 250, 128)` and `W (128, 512)`, plus its two gradients
    (`x^T @ dz`, `dz @ W^T`), in a `tf.function` loop: what one training step would spend on
    the input side if the projection were hoisted out of the recurrence, as PyTorch's kernel
    does.
    """
    gemms = [
        common.Gemm(TOKENS_PER_STEP, EMBEDDING_SIZE, 4 * UNITS),
        common.Gemm(EMBEDDING_SIZE, TOKENS_PER_STEP, 4 * UNITS, transpose_a=True),
        common.Gemm(TOKENS_PER_STEP, 4 * UNITS, EMBEDDING_SIZE, transpose_b=True),
    ]
    gflops = common.make_gemm_runner(gemms, repetitions)
    flops = sum(gemm.flops for gemm in gemms)
    return lambda: flops / (gflops() * 1e9) * 1e3


# --- PyTorch --------------------------------------------------------------------------------


def torch_equivalent(model: keras.Model, readout: str = READOUT):
    """The Keras sentiment LSTM as a `torch.nn.Module` holding a copy of its weights.

    Embedding table as is; LSTM kernel `(E, 4U)` -> `weight_ih (4U, E)` = kernel^T and
    recurrent kernel -> `weight_hh` = its transpose (both use the gate order i, f, c/g, o,
    sigmoid gates and tanh), Keras' bias -> `bias_ih`, `bias_hh` zero and frozen; Dense kernel
    -> `Linear.weight` = kernel^T. The dropout rates are the Keras layers'.
    """
    import torch

    def tensor(variable):
        return torch.from_numpy(np.array(keras.ops.convert_to_numpy(variable), np.float32))

    embedding = model.get_layer("embedding")
    lstm = model.get_layer("lstm")
    dense = model.get_layer("output")
    layers = {layer.name: layer for layer in model.layers}
    input_dropout = layers["input_dropout"].rate if "input_dropout" in layers else 0.0
    output_dropout = model.get_layer("lstm_dropout").rate
    kernel, recurrent_kernel, bias = lstm.weights

    class TorchSentimentLSTM(torch.nn.Module):
        """ids `(batch, time)` (0 = pad, post-padded) -> logits `(batch, 2)`."""

        def __init__(self):
            super().__init__()
            self.embedding = torch.nn.Embedding(*embedding.embeddings.shape)
            self.input_dropout = torch.nn.Dropout(input_dropout)
            self.lstm = torch.nn.LSTM(kernel.shape[0], lstm.units, batch_first=True)
            self.output_dropout = torch.nn.Dropout(output_dropout)
            self.output = torch.nn.Linear(*dense.kernel.shape)

        def forward(self, ids):
            real = ids != imdb.PAD_ID  # (batch, time)
            x = self.input_dropout(self.embedding(ids))  # (batch, time, embedding)
            outputs, _ = self.lstm(x)  # (batch, time, units)
            outputs = self.output_dropout(outputs)
            if readout == "max":
                lowest = torch.finfo(outputs.dtype).min
                pooled = outputs.masked_fill(~real[..., None], lowest).amax(dim=1)
                features = torch.where(real.any(dim=1, keepdim=True), pooled, 0.0)
            else:  # The output after the last real token; post-padding.
                last = (real.sum(dim=1) - 1).clamp(min=0)
                features = outputs[torch.arange(ids.shape[0]), last]
                features = torch.where(real.any(dim=1, keepdim=True), features, 0.0)
            return self.output(features)

    twin = TorchSentimentLSTM()
    with torch.no_grad():
        twin.embedding.weight.copy_(tensor(embedding.embeddings))
        twin.lstm.weight_ih_l0.copy_(tensor(kernel).T)
        twin.lstm.weight_hh_l0.copy_(tensor(recurrent_kernel).T)
        twin.lstm.bias_ih_l0.copy_(tensor(bias))
        twin.lstm.bias_hh_l0.zero_()
        twin.output.weight.copy_(tensor(dense.kernel).T)
        twin.output.bias.copy_(tensor(dense.bias))
    twin.lstm.bias_hh_l0.requires_grad_(False)  # Keras has one bias: train only bias_ih.
    return twin


def trainable_parameters(twin) -> list:
    return [parameter for parameter in twin.parameters() if parameter.requires_grad]


def make_torch_runner(torch, reviews: dict[str, np.ndarray]) -> tuple[Runner, dict[str, str]]:
    """(d): the sentiment LSTM in eager PyTorch, on the CPU (`torch` is the imported module).

    One shuffle per epoch, then per step a gather of an int64 `(32, 250)` id batch, a forward
    and backward pass and an Adam step.

    Returns:
      `(runner, {"version": ..., "device": ...})`.
    """
    device = common.setup_torch(torch, allow_gpu=False)
    model = torch_equivalent(build_model()).to(device)
    optimizer = torch.optim.Adam(trainable_parameters(model), lr=LEARNING_RATE, eps=ADAM_EPSILON)
    ids = torch.from_numpy(reviews["ids"].astype(np.int64)).to(device)
    labels = torch.from_numpy(reviews["labels"].astype(np.int64)).to(device)
    generator = torch.Generator().manual_seed(SEED)

    def epoch_batches(num_batches: int):
        order = torch.randperm(ids.shape[0], generator=generator).to(device)
        for batch in range(num_batches):
            rows = order[batch * BATCH_SIZE : (batch + 1) * BATCH_SIZE]
            yield ids[rows], labels[rows]

    runner = common.make_torch_runner(
        model, optimizer, torch.nn.functional.cross_entropy, epoch_batches, STEPS_PER_EPOCH
    )
    return runner, {"version": torch.__version__, "device": str(device)}


# --- Report ---------------------------------------------------------------------------------


def print_table(results: dict[str, Any]) -> None:
    print()
    print(f"{results['benchmark']}: {TOKENS_PER_STEP:,} tokens per step")
    print(f"{'contender':<28} {'steps/s':>8} {'tokens/s':>10} {'ours/x':>7}")
    for name, row in results["contenders"].items():
        print(
            f"{name:<28} {row['steps_per_sec']:>8.2f} {row['tokens_per_sec']:>10.0f} "
            f"{row['ours_ratio']:>6.2f}x"
        )
    probe = results["probes"]["input_projection_ms"]
    print(f"Input projection for all {MAX_LENGTH} steps as one product, fwd + bwd: {probe:.1f} ms")
    print()
    print(f"ours = {results['ours']} (the faster engine variant)")
    ratios = results["ratios"]
    line = f"ours / fit defaults {ratios['ours_over_fit_defaults']:.2f}x, "
    if ratios["ours_over_torch"] is None:
        line += "(d) left out (--skip-torch)"
    else:
        line += f"ours / pytorch {ratios['ours_over_torch']:.2f}x"
    print(line)
    print(f"(b) fit defaults resolved jit_compile={results['fit_defaults_jit_compile']}.")
    print(f"Load average during the run: {results['load_average']}")
    common.print_pairs_and_targets(results)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = common.ArgumentParser(
        __doc__, script="bench_sentiment", default_repeats=DEFAULT_REPEATS, quick_steps=QUICK_STEPS
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=DEFAULT_STEPS,
        help=f"Training steps per measurement (<= or a multiple of {STEPS_PER_EPOCH}).",
    )
    args = parser.parse_args(argv)
    repeats, num_steps = parser.repeats_and_steps(args, args.steps)
    if num_steps > STEPS_PER_EPOCH and num_steps % STEPS_PER_EPOCH:
        parser.error(f"--steps must be <= or a multiple of {STEPS_PER_EPOCH}, got {num_steps}.")
    common.share_the_gpu_with_torch()
    session = common.start_session(
        "bench_sentiment", argv, args, repeats=repeats, num_steps=num_steps
    )

    reviews = random_reviews()
    runners: dict[str, Runner] = {}
    tracing_counts = {}
    for name, jit_compile in ((ENGINE, False), (ENGINE_XLA, True)):
        runners[name], tracing_counts[name] = make_engine_runner(reviews, jit_compile=jit_compile)
    runners[FIT_DEFAULTS], fit_defaults_model = make_fit_runner(reviews)
    torch_info = None
    if session.torch is not None:
        runners[TORCH], torch_info = make_torch_runner(session.torch, reviews)
    probes = {"input_projection_ms": make_input_projection_probe()}
    steps = {ENGINE_XLA: max(1, num_steps // XLA_STEP_FRACTION)}

    start = time.perf_counter()
    samples = common.measure_interleaved(
        runners,
        probes,
        num_steps=num_steps,
        repeats=repeats,
        steps=steps,
        tracing_counts=tracing_counts,
    )
    measured_seconds = time.perf_counter() - start

    contenders = {}
    for name in runners:
        rate = statistics.median(samples[name])
        contenders[name] = {
            "steps_per_sec": rate,
            "tokens_per_sec": rate * TOKENS_PER_STEP,
            "steps_per_measurement": steps.get(name, num_steps),
            "samples_steps_per_sec": samples[name],
        }
    ours = common.choose_ours(contenders, (ENGINE, ENGINE_XLA), "steps_per_sec")
    pairs = [(ENGINE, FIT_DEFAULTS), (ENGINE, TORCH), (ENGINE_XLA, ENGINE)]
    targets = {
        "ours_vs_b": common.speed_target(
            samples, contenders, ours, FIT_DEFAULTS, factor=FIT_DEFAULTS_TARGET
        ),
    }
    if TORCH in contenders:
        targets["ours_vs_d"] = common.speed_target(
            samples, contenders, ours, TORCH, factor=TORCH_TARGET
        )
    return session.finish(
        f"chapter-7 sentiment LSTM {VOCABULARY_SIZE}x{EMBEDDING_SIZE} embedding, LSTM {UNITS}, "
        f"{READOUT} readout, dropout {DROPOUT}, Adam 1e-3, batch {BATCH_SIZE} x {MAX_LENGTH} "
        "tokens",
        {
            "batch_size": BATCH_SIZE,
            "max_length": MAX_LENGTH,
            "tokens_per_step": TOKENS_PER_STEP,
            "steps_per_execution": STEPS_PER_EXECUTION,
            "trainable_parameters": sum(
                int(np.prod(w.shape)) for w in build_model().trainable_weights
            ),
            "fit_defaults_jit_compile": bool(fit_defaults_model.jit_compile),
            "torch": torch_info,
            "probes": {
                "input_projection_ms": statistics.median(samples["input_projection_ms"]),
                "samples": {"input_projection_ms": samples["input_projection_ms"]},
            },
            "measured_seconds": measured_seconds,
            "contenders": contenders,
            "ours": ours,
            "ratios": {
                "ours_over_fit_defaults": contenders[FIT_DEFAULTS]["ours_ratio"],
                "ours_over_torch": (
                    contenders[TORCH]["ours_ratio"] if TORCH in contenders else None
                ),
            },
            "matched_pairs": common.matched_pairs(contenders, pairs, "steps_per_sec"),
            "targets": targets,
        },
        print_table,
    )


if __name__ == "__main__":
    main()
