"""Training stories/s of the book-size bAbI DNC: our engine against Keras `fit` and PyTorch.

Book section: chapter 8, "Teaching a DNC to Read and Comprehend" (the repository's
`train_babi.py`, spec ch08-09 §1.9 and §1.13). The model is the book's: one-hot words of the
159-word lexicon into `keras.layers.RNN(DNCCell(159, memory_size=256, word_size=64,
num_reads=4), return_sequences=True)` with an `LSTMCell(256)` controller on the 159 + R W = 415
inputs `[x_t; r_{t-1}]`, and `W_y (256, 159)`, `W_zeta (256, 471)`, `W_r (256, 159)` without
biases: 890,112 trainable parameters (checked). The optimizer is the repository's: RMSprop
(1e-4, rho 0.9, momentum 0.9, epsilon 1e-7) with every gradient clipped to [-10, 10]; the loss
the experiment's corrected one, the softmax cross-entropy at the answer steps,
`sum_t w_t CE_t / sum_t w_t`.

What it measures, in one process, in TRAINING STORIES/s (batch x optimizer steps/s), on random
bAbI-shaped stories (no dataset files): `NUM_STORIES` stories of exactly `STORY_LENGTH` = 128
tokens (real en-10k training stories: mean 78, median 72, p90 133, max 820 tokens), random ids
of the 159-word lexicon, the answer mark "-" (id 158) at `ANSWERS_PER_STORY` = 4 evenly spaced
positions (31, 63, 95, 127) whose targets are random words and weights 1, the input ids as
targets and weights 0 everywhere else (the layout of `babi.encode_story`). Every story is as
long as the others, so every contender does the same work per story. Each contender runs at
every `--batches` size (default 1 8 32); the per-batch contenders are measured interleaved.

  (aK) our engine as the experiment trains: `fdl_tf2.training.step.make_train_step` with the
       masked cross-entropy as `compute_loss`, fed by `babi.train_batches` (one bucket of
       `STORY_LENGTH`; stories drawn with replacement by stateless random ops, no Python per
       step), in the variants of `--variants MODE:STEPS_PER_CALL`: MODE `graph` (the step in
       the `tf.function` loop) or `xla` (`jit_compile=True`: the step, the RNN's while loop
       with it, XLA-compiled), default graph:10, xla:10 and graph:1. "Ours" at a batch size is
       the fastest variant there; every variant is reported.
  (b)  Keras `fit` as a Keras user writes it: the same model compiled with
       `RMSprop(1e-4, rho=0.9, momentum=0.9, clipvalue=10)` and
       `SparseCategoricalCrossentropy(from_logits=True)`, compile defaults (`jit_compile="auto"`,
       `steps_per_execution=1`), `fit(ids, targets, sample_weight=weights, batch_size=B)` on
       in-memory int32 arrays (the pool tiled to exactly `--steps` batches, one epoch, shuffled
       as fit shuffles). Its loss is Keras' `sum(w CE) / (B T)`, a constant multiple of ours:
       the same work.
  (c)  the same DNC written in eager PyTorch (`torch_equivalent`): `nn.LSTMCell(415, 256)`
       and the three kernels as parameters, a Python loop over the time steps running the
       memory step in `fdl_tf2.memory.dnc.memory_step`'s order (retention, usage, allocation by
       a stable ascending sort (`torch.sort(stable=True)`, which is TensorFlow's `top_k(-u)`
       order: ties, as every slot's usage at step 1, keep the lower slot first, which
       `torch.topk` does not promise), the exclusive cumulative product and the inverse
       permutation by `argsort` + `gather`; write weighting; erase and write; link with
       `w[i] + w[j]` and a zero diagonal; precedence; content reads on the new memory;
       forward / backward weightings; read modes; read vectors; `y = upsilon + r W_r` with the
       read vectors flattened word-major as `dnc._flatten_reads`), batched, the one-hot
       built from the ids, `F.cross_entropy` weighted as ours, `torch.optim.RMSprop(lr=1e-4,
       alpha=0.9, momentum=0.9, eps=1e-7)` after `clip_grad_value_(10)`, as many threads as
       TensorFlow. It starts from the Keras weights: LSTM kernel -> `weight_ih` (transposed,
       the gate orders i, f, c, o and i, f, g, o agree), Keras' one LSTM bias -> `bias_ih`,
       `bias_hh` zero and frozen, so it trains the same 890,112 parameters; the tests check that
       it computes the Keras model's outputs.

How: as `bench_sentiment.py` (`benchmarks.common.measure_interleaved`), for each batch size in
turn: one untimed warm-up per contender (tracing, XLA compilation), then `--repeats`
interleaved measurements of `--steps` optimizer steps each; the median is reported. Goals (the
issue's): >= 20 stories/s for ours at its best batch size (the reference ports manage about
1/s at batch 1), and ours >= 1.3x (b) and >= 1.3x (c), judged at that batch (same batch for
all); the ratios at batch 1 and best-against-best are reported too.

What limits it: a step is `STORY_LENGTH` dependent DNC steps forward and as many backward.
Per time step and story the controller is one `(1, 415 + 256) @ (671, 1024)` product, and the
memory works on `(N, N)` = 65,536-entry link matrices (the link update, two `(R, N) @ (N, N)`
products for the directional weightings) and an N-slot sort: small, elementwise-heavy work
that batching spreads over more rows per op. TensorFlow pays per-op dispatch inside the while
loop (about 150 ops a time step forward); PyTorch pays Python dispatch for each of them.

Usage:
  python benchmarks/bench_dnc.py [--batches 1 8 32] [--variants graph:10 xla:10 graph:1]
      [--repeats 3] [--steps 5] [--story-length 128] [--quick] [--skip-torch]
      [--output runs/bench/bench_dnc.json]
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import gc  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import ops  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # For `benchmarks.common`.

from benchmarks import common  # noqa: E402
from benchmarks.common import Runner  # noqa: E402
from fdl_tf2.data import babi  # noqa: E402
from fdl_tf2.memory import addressing, dnc  # noqa: E402

SEED = common.SEED
VOCABULARY_SIZE = babi.LEXICON_SIZE  # 159
MEMORY_SIZE = 256  # N
WORD_SIZE = 64  # W
NUM_READS = 4  # R
CONTROLLER_UNITS = 256
BOOK_PARAMETERS = 890_112
STORY_LENGTH = 128
QUICK_STORY_LENGTH = 16
ANSWERS_PER_STORY = 4
NUM_STORIES = 256
LEARNING_RATE = 1e-4
RHO = 0.9  # RMSprop's decay; PyTorch's `alpha`.
MOMENTUM = 0.9
RMSPROP_EPSILON = 1e-7  # Keras' default, given to PyTorch too.
CLIP_VALUE = 10.0
DEFAULT_BATCHES = (1, 8, 32)
QUICK_BATCHES = (1, 2)
DEFAULT_VARIANTS = ("graph:10", "xla:10", "graph:1")
DEFAULT_STEPS = 5
DEFAULT_REPEATS = 3
QUICK_STEPS = 2
STORIES_PER_SEC_TARGET = 20.0
FIT_TARGET = 1.3
TORCH_TARGET = 1.3
MODES = {"graph": False, "xla": True}

FIT = "(b) keras fit defaults"
TORCH = "(c) pytorch eager"


def engine_name(index: int, mode: str, steps_per_call: int) -> str:
    return f"(a{index + 1}) engine {mode} spc={steps_per_call}"


def parameter_count(
    vocabulary_size: int, memory_size: int, word_size: int, num_reads: int, units: int
) -> int:
    """The DNC's trainable parameters: the LSTM controller on `V + R W` inputs (kernel,
    recurrent kernel, one bias), then `W_y (U, V)`, `W_zeta (U, R W + 3 W + 5 R + 3)` and
    `W_r (R W, V)`, no biases. `memory_size` does not enter: the memory is state."""
    del memory_size
    inputs = vocabulary_size + num_reads * word_size
    lstm = 4 * units * (inputs + units + 1)
    kernels = units * (vocabulary_size + dnc.interface_size(num_reads, word_size))
    return lstm + kernels + num_reads * word_size * vocabulary_size


def book_parameter_count() -> int:
    """`parameter_count` at this module's sizes."""
    return parameter_count(VOCABULARY_SIZE, MEMORY_SIZE, WORD_SIZE, NUM_READS, CONTROLLER_UNITS)


def trainable_parameter_count(model: keras.Model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


class OneHot(keras.layers.Layer):
    """int ids `(B, T)` -> float32 one-hot `(B, T, depth)` (ids outside [0, depth): zeros)."""

    def __init__(self, depth: int, **kwargs):
        super().__init__(**kwargs)
        self.depth = int(depth)

    def call(self, ids):
        return ops.one_hot(ops.cast(ids, "int32"), self.depth)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.depth)


def build_model() -> keras.Model:
    """ids `(B, T)` -> logits `(B, T, V)`: the one-hot words into `RNN(DNCCell)`, seeded
    (every contender starts from the same weights), at this module's sizes."""
    keras.utils.set_random_seed(SEED)
    ids = keras.Input((None,), dtype="int32", name="ids")
    cell = dnc.DNCCell(
        VOCABULARY_SIZE,
        memory_size=MEMORY_SIZE,
        word_size=WORD_SIZE,
        num_reads=NUM_READS,
        controller="lstm",
        controller_units=CONTROLLER_UNITS,
    )
    one_hot = OneHot(VOCABULARY_SIZE, name="one_hot")(ids)
    logits = keras.layers.RNN(cell, return_sequences=True, name="dnc")(one_hot)
    return keras.Model(ids, logits, name="babi_dnc")


def build_optimizer() -> keras.optimizers.Optimizer:
    return keras.optimizers.RMSprop(
        LEARNING_RATE,
        rho=RHO,
        momentum=MOMENTUM,
        epsilon=RMSPROP_EPSILON,
        clipvalue=CLIP_VALUE,
    )


def compute_loss(model, batch, training):
    """The engine's objective: `(sum w CE, sum w)` over the batch's answer steps, no metrics."""
    logits = model(batch["inputs"], training=training)  # (B, T, V)
    cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=batch["targets"], logits=tf.cast(logits, tf.float32)
    )  # (B, T)
    weights = batch["weights"]
    return (tf.reduce_sum(cross_entropy * weights), tf.reduce_sum(weights)), {}


# --- Data -----------------------------------------------------------------------------------


def answer_positions(length: int) -> np.ndarray:
    """`ANSWERS_PER_STORY` evenly spaced positions, the last one the story's last token."""
    return np.array(
        [length * (k + 1) // ANSWERS_PER_STORY - 1 for k in range(ANSWERS_PER_STORY)], np.int64
    )


def random_stories(num_stories: int, length: int) -> list[babi.EncodedStory]:
    """`num_stories` `babi.EncodedStory`s of exactly `length` tokens, drawn from `SEED`.

    Inputs: random ids in [0, V - 1) and the answer mark (id V - 1, "-" in the lexicon's order)
    at `answer_positions(length)`; targets: the inputs, and random words at the answers;
    weights 1 at the answers, else 0; one question per answer.
    """
    if length < ANSWERS_PER_STORY:
        raise ValueError(f"Stories need >= {ANSWERS_PER_STORY} tokens, got {length}.")
    rng = np.random.default_rng(SEED)
    answer_mark = VOCABULARY_SIZE - 1
    positions = answer_positions(length)
    stories = []
    for _ in range(num_stories):
        inputs = rng.integers(0, answer_mark, length).astype(np.int32)
        targets = inputs.copy()
        inputs[positions] = answer_mark
        targets[positions] = rng.integers(0, answer_mark, len(positions))
        weights = np.zeros(length, np.float32)
        weights[positions] = 1.0
        question_ids = np.full(length, -1, np.int32)
        question_ids[positions] = np.arange(len(positions), dtype=np.int32)
        stories.append(babi.EncodedStory(inputs, targets, weights, question_ids, task=1))
    return stories


def story_arrays(stories: list[babi.EncodedStory]) -> dict[str, np.ndarray]:
    """The stories as one bucket's arrays (`babi.bucket_stories`): "inputs", "targets",
    "weights" `(stories, T)`, ..."""
    length = len(stories[0].inputs)
    buckets = babi.bucket_stories(stories, (length,))
    if buckets.sizes != (len(stories),):
        raise ValueError("Every story must have the same length.")
    return buckets.arrays[0]


# --- TensorFlow contenders ------------------------------------------------------------------


def make_engine_runner(
    stories: list[babi.EncodedStory], batch_size: int, *, jit_compile: bool, steps_per_call: int
):
    """(aK): `step.make_train_step` with `compute_loss` on `babi.train_batches`.

    Returns:
      `(runner, tracing_count)`, see `common.make_engine_runner`.
    """
    length = len(stories[0].inputs)
    return common.make_engine_runner(
        build_model(),
        build_optimizer(),
        babi.train_batches(stories, batch_size=batch_size, seed=SEED, boundaries=(length,)),
        steps_per_call=steps_per_call,
        jit_compile=jit_compile,
        compute_loss=compute_loss,
    )


def make_fit_runner(arrays: dict[str, np.ndarray], batch_size: int) -> tuple[Runner, keras.Model]:
    """(b): `fit(ids, targets, sample_weight=weights)` after `compile` with defaults.

    Each call trains exactly `num_steps` batches: the story pool is tiled to
    `num_steps * batch_size` rows (before the clock starts) and fit runs one epoch of it.

    Returns:
      `(runner, model)`; `model.jit_compile` says whether fit used XLA.
    """
    model = build_model()
    model.compile(build_optimizer(), keras.losses.SparseCategoricalCrossentropy(from_logits=True))

    def run(num_steps: int) -> float:
        rows = np.arange(num_steps * batch_size) % len(arrays["inputs"])
        x, y, w = (arrays[key][rows] for key in ("inputs", "targets", "weights"))
        start = time.perf_counter()
        history = model.fit(x, y, sample_weight=w, batch_size=batch_size, epochs=1, verbose=0)
        seconds = time.perf_counter() - start
        common.check_fit_loss(history)
        return seconds

    return run, model


# --- PyTorch --------------------------------------------------------------------------------


def torch_equivalent(model: keras.Model):
    """The Keras DNC (`build_model`) as a `torch.nn.Module` holding a copy of its weights.

    `forward(ids int64 (B, T))` -> logits `(B, T, V)`, as `model(ids)`. See the module
    docstring, (c), for what it runs; the helpers below follow `fdl_tf2.memory.addressing`
    function by function.
    """
    import torch

    nn, functional = torch.nn, torch.nn.functional
    cell = model.get_layer("dnc").cell
    V, N, W, R = cell.output_size_, cell.memory_size, cell.word_size, cell.num_reads
    units = cell.controller_units
    fill = dnc.INITIAL_FILL

    def tensor(variable):
        return torch.from_numpy(np.array(keras.ops.convert_to_numpy(variable), np.float32))

    def oneplus(x):
        return 1.0 + functional.softplus(x)

    def content_weights(memory, keys, strengths):  # (B, N, W), (B, H, W), (B, H) -> (B, H, N)
        dot = torch.einsum("bhw,bnw->bhn", keys, memory)
        memory_norm = torch.sqrt((memory * memory).sum(-1) + addressing.COSINE_EPSILON)
        key_norm = torch.sqrt((keys * keys).sum(-1) + addressing.COSINE_EPSILON)
        similarity = dot / (key_norm[:, :, None] * memory_norm[:, None, :])
        return torch.softmax(strengths[:, :, None] * similarity, dim=-1)

    def allocation_weights(usage):  # (B, N)
        # Ascending usage, ties lower slot first: tf.math.top_k(-usage, N)'s order.
        sorted_usage, free_list = torch.sort(usage, dim=-1, stable=True)
        ones = torch.ones_like(sorted_usage[:, :1])
        exclusive = torch.cumprod(torch.cat([ones, sorted_usage[:, :-1]], -1), -1)
        sorted_allocation = (1.0 - sorted_usage) * exclusive
        inverse_permutation = torch.argsort(free_list, dim=-1)
        return torch.gather(sorted_allocation, -1, inverse_permutation)

    def flatten_reads(read_vectors):  # (B, R, W) -> (B, W R), word-major.
        return read_vectors.transpose(1, 2).reshape(read_vectors.shape[0], W * R)

    class TorchDNC(nn.Module):
        def __init__(self):
            super().__init__()
            self.controller = nn.LSTMCell(V + R * W, units)
            self.output_kernel = nn.Parameter(torch.zeros(units, V))  # W_y
            self.interface_kernel = nn.Parameter(
                torch.zeros(units, dnc.interface_size(R, W))
            )  # W_zeta
            self.read_kernel = nn.Parameter(torch.zeros(R * W, V))  # W_r
            self.register_buffer("off_diagonal", 1.0 - torch.eye(N))
            self.register_buffer("vocabulary", torch.arange(V))

        def parse_interface(self, zeta):  # `dnc.parse_interface`'s offsets.
            sizes = [R * W, R, W, 1, W, W, R, 1, 1, 3 * R]
            (keys, strengths, write_key, write_strength, erase, write_vector, free, allocation,
             write_gate, modes) = torch.split(zeta, sizes, dim=-1)  # fmt: skip
            batch = zeta.shape[0]
            return dict(
                read_keys=keys.reshape(batch, W, R).transpose(1, 2),
                read_strengths=oneplus(strengths),
                write_key=write_key[:, None, :],
                write_strength=oneplus(write_strength),
                erase_vector=torch.sigmoid(erase),
                write_vector=write_vector,
                free_gates=torch.sigmoid(free),
                allocation_gate=torch.sigmoid(allocation),  # (B, 1)
                write_gate=torch.sigmoid(write_gate),  # (B, 1)
                read_modes=torch.softmax(modes.reshape(batch, 3, R).transpose(1, 2), dim=-1),
            )

        def memory_step(self, state, interface):  # `dnc.memory_step`, in its order.
            memory, read_weights, write_weights, link, precedence, usage = state
            psi = torch.prod(1.0 - interface["free_gates"][:, :, None] * read_weights, dim=1)
            usage = (usage + write_weights - usage * write_weights) * psi
            allocation = allocation_weights(usage)
            write_content = content_weights(
                memory, interface["write_key"], interface["write_strength"]
            )[:, 0]
            gate_a = interface["allocation_gate"]
            write = interface["write_gate"] * (gate_a * allocation + (1.0 - gate_a) * write_content)
            weights = write[:, :, None]
            memory = memory * (1.0 - weights * interface["erase_vector"][:, None, :])
            memory = memory + weights * interface["write_vector"][:, None, :]
            row, column = write[:, :, None], write[:, None, :]
            link = (1.0 - row - column) * link + row * precedence[:, None, :]
            link = link * self.off_diagonal
            precedence = (1.0 - write.sum(-1, keepdim=True)) * precedence + write
            read_content = content_weights(
                memory, interface["read_keys"], interface["read_strengths"]
            )
            forward = torch.einsum("bij,brj->bri", link, read_weights)
            backward = torch.einsum("bji,brj->bri", link, read_weights)
            modes = interface["read_modes"]
            reads = modes[:, :, 0:1] * backward + modes[:, :, 1:2] * read_content
            reads = reads + modes[:, :, 2:3] * forward
            read_vectors = torch.einsum("brn,bnw->brw", reads, memory)
            return (memory, reads, write, link, precedence, usage), read_vectors

        def forward(self, ids):
            batch, length = ids.shape
            x = (ids[..., None] == self.vocabulary).to(torch.float32)  # (B, T, V)
            zeros = x.new_zeros(batch, units)
            controller_state = (zeros, zeros)
            state = (
                x.new_full((batch, N, W), fill),
                x.new_full((batch, R, N), fill),
                x.new_full((batch, N), fill),
                x.new_zeros(batch, N, N),
                x.new_zeros(batch, N),
                x.new_zeros(batch, N),
            )
            read_vectors = x.new_full((batch, R, W), fill)
            outputs = []
            for t in range(length):
                chi = torch.cat([x[:, t], flatten_reads(read_vectors)], -1)
                controller_state = self.controller(chi, controller_state)
                hidden = controller_state[0]
                preliminary = hidden @ self.output_kernel
                interface = self.parse_interface(hidden @ self.interface_kernel)
                state, read_vectors = self.memory_step(state, interface)
                outputs.append(preliminary + flatten_reads(read_vectors) @ self.read_kernel)
            return torch.stack(outputs, 1)

    twin = TorchDNC()
    controller = cell.controller
    with torch.no_grad():
        twin.controller.weight_ih.copy_(tensor(controller.kernel).T)
        twin.controller.weight_hh.copy_(tensor(controller.recurrent_kernel).T)
        twin.controller.bias_ih.copy_(tensor(controller.bias))
        twin.controller.bias_hh.zero_()
        twin.output_kernel.copy_(tensor(cell.output_kernel))
        twin.interface_kernel.copy_(tensor(cell.interface_kernel))
        twin.read_kernel.copy_(tensor(cell.read_kernel))
    twin.controller.bias_hh.requires_grad_(False)  # Keras has one bias: train only bias_ih.
    return twin


def trainable_parameters(twin) -> list:
    return [parameter for parameter in twin.parameters() if parameter.requires_grad]


def torch_masked_cross_entropy(logits, targets_and_weights):
    """`sum w CE / sum w` over `(B, T)` targets and weights, from logits `(B, T, V)`."""
    import torch

    targets, weights = targets_and_weights
    cross_entropy = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="none"
    )
    flat_weights = weights.reshape(-1)
    return (cross_entropy * flat_weights).sum() / flat_weights.sum()


def build_torch_optimizer(torch, parameters):
    """`RMSprop(1e-4, alpha=0.9, momentum=0.9, eps=1e-7)`, each gradient clipped to +-10."""
    optimizer = torch.optim.RMSprop(
        parameters, lr=LEARNING_RATE, alpha=RHO, eps=RMSPROP_EPSILON, momentum=MOMENTUM
    )

    def clip_gradients(*_):
        torch.nn.utils.clip_grad_value_(parameters, CLIP_VALUE)  # Keras' clipvalue.

    optimizer.register_step_pre_hook(clip_gradients)
    return optimizer


def make_torch_runner(
    torch, arrays: dict[str, np.ndarray], batch_size: int
) -> tuple[Runner, dict[str, str]]:
    """(c): the DNC in eager PyTorch, on the CPU (`torch` is the imported module).

    One shuffle of the story pool per epoch, then per step a gather of `batch_size` stories,
    the forward pass, the masked cross-entropy, backward, the clip and an RMSprop step.

    Returns:
      `(runner, {"version": ..., "device": ...})`.
    """
    device = common.setup_torch(torch, allow_gpu=False)
    twin = torch_equivalent(build_model()).to(device)
    parameters = trainable_parameters(twin)
    optimizer = build_torch_optimizer(torch, parameters)
    ids = torch.from_numpy(arrays["inputs"].astype(np.int64)).to(device)
    targets = torch.from_numpy(arrays["targets"].astype(np.int64)).to(device)
    weights = torch.from_numpy(arrays["weights"]).to(device)
    generator = torch.Generator().manual_seed(SEED)
    steps_per_epoch = len(ids) // batch_size

    def epoch_batches(num_batches: int):
        order = torch.randperm(ids.shape[0], generator=generator).to(device)
        for batch in range(num_batches):
            rows = order[batch * batch_size : (batch + 1) * batch_size]
            yield ids[rows], (targets[rows], weights[rows])

    runner = common.make_torch_runner(
        twin, optimizer, torch_masked_cross_entropy, epoch_batches, steps_per_epoch
    )
    return runner, {"version": torch.__version__, "device": str(device)}


# --- Measurement ----------------------------------------------------------------------------


def parse_variants(texts) -> list[tuple[str, int]]:
    """ "MODE:STEPS_PER_CALL" strings -> `(mode, steps_per_call)`; ValueError when malformed."""
    variants = []
    for text in texts:
        mode, _, count = text.partition(":")
        if mode not in MODES or not count.isdigit() or int(count) < 1:
            raise ValueError(
                f"A variant is MODE:STEPS_PER_CALL with MODE in {sorted(MODES)} and "
                f"STEPS_PER_CALL >= 1, got {text!r}."
            )
        variants.append((mode, int(count)))
    if len(set(variants)) != len(variants):
        raise ValueError(f"Variants must differ, got {list(texts)}.")
    return variants


def measure_batch(
    session: common.Session,
    stories: list[babi.EncodedStory],
    arrays: dict[str, np.ndarray],
    batch_size: int,
    variants: list[tuple[str, int]],
) -> dict[str, Any]:
    """Every contender at one batch size, interleaved; the row of that batch in the JSON."""
    print(f"\n--- batch {batch_size} ---", flush=True)
    runners: dict[str, Runner] = {}
    tracing_counts = {}
    engines = []
    for index, (mode, steps_per_call) in enumerate(variants):
        name = engine_name(index, mode, steps_per_call)
        engines.append(name)
        runners[name], tracing_counts[name] = make_engine_runner(
            stories, batch_size, jit_compile=MODES[mode], steps_per_call=steps_per_call
        )
    runners[FIT], fit_model = make_fit_runner(arrays, batch_size)
    torch_info = None
    if session.torch is not None:
        runners[TORCH], torch_info = make_torch_runner(session.torch, arrays, batch_size)

    start = time.perf_counter()
    samples = common.measure_interleaved(
        runners,
        {},
        num_steps=session.num_steps,
        repeats=session.repeats,
        items_per_step=batch_size,
        tracing_counts=tracing_counts,
    )
    measured_seconds = time.perf_counter() - start

    contenders = {}
    for name in runners:
        rate = statistics.median(samples[name])
        contenders[name] = {
            "stories_per_sec": rate,
            "steps_per_sec": rate / batch_size,
            "samples_stories_per_sec": samples[name],
        }
    ours = common.choose_ours(contenders, engines, "stories_per_sec")
    pairs = [(ours, FIT), (ours, TORCH), *[(name, engines[0]) for name in engines[1:]]]
    targets = {
        "ours_vs_b": common.speed_target(samples, contenders, ours, FIT, factor=FIT_TARGET),
    }
    if TORCH in contenders:
        targets["ours_vs_c"] = common.speed_target(
            samples, contenders, ours, TORCH, factor=TORCH_TARGET
        )
    row = {
        "batch_size": batch_size,
        "measured_seconds": measured_seconds,
        "fit_jit_compile": bool(fit_model.jit_compile),
        "torch": torch_info,
        "contenders": contenders,
        "ours": ours,
        "ours_over_fit": contenders[FIT]["ours_ratio"],
        "ours_over_torch": contenders[TORCH]["ours_ratio"] if TORCH in contenders else None,
        "matched_pairs": common.matched_pairs(contenders, pairs, "stories_per_sec"),
        "targets": targets,
    }
    del runners, fit_model
    gc.collect()
    return row


def _best(rows: dict[str, dict], name: str | None) -> tuple[str | None, float | None]:
    """`(batch, stories/s)` of the batch where `name` (None: ours) is fastest."""
    rates = {
        batch: row["contenders"][name or row["ours"]]["stories_per_sec"]
        for batch, row in rows.items()
        if (name or row["ours"]) in row["contenders"]
    }
    if not rates:
        return None, None
    batch = max(rates, key=rates.get)
    return batch, rates[batch]


def summarize(rows: dict[str, dict]) -> dict[str, Any]:
    """The cross-batch verdicts: ours' best batch, the ratios there and at batch 1, targets."""
    best_batch, best_rate = _best(rows, None)
    best = rows[best_batch]
    fit_batch, fit_rate = _best(rows, FIT)
    torch_batch, torch_rate = _best(rows, TORCH)
    ratios = {
        "at_best_batch": {
            "batch_size": best["batch_size"],
            "ours_over_fit": best["ours_over_fit"],
            "ours_over_torch": best["ours_over_torch"],
        },
        "at_batch_1": (
            {
                "ours_over_fit": rows["1"]["ours_over_fit"],
                "ours_over_torch": rows["1"]["ours_over_torch"],
            }
            if "1" in rows
            else None
        ),
        "best_over_best": {
            "fit_best_batch": int(fit_batch),
            "ours_over_fit": best_rate / fit_rate,
            "torch_best_batch": None if torch_batch is None else int(torch_batch),
            "ours_over_torch": None if torch_rate is None else best_rate / torch_rate,
        },
    }
    reached = best_rate >= STORIES_PER_SEC_TARGET
    targets = {
        "stories_per_sec": (
            f"ours >= {STORIES_PER_SEC_TARGET:g} stories/s at its best batch "
            f"({best['batch_size']}): {common.pass_fail(reached)} ({best_rate:.1f})"
        ),
        **{f"{key} at batch {best['batch_size']}": line for key, line in best["targets"].items()},
    }
    table = {}
    for row in rows.values():
        for name, contender in row["contenders"].items():
            table.setdefault(name, {})[str(row["batch_size"])] = contender["stories_per_sec"]
    return {
        "best_batch": best["batch_size"],
        "ours_at_best_batch": best["ours"],
        "ours_best_stories_per_sec": best_rate,
        "stories_per_sec": table,
        "ratios": ratios,
        "targets": targets,
    }


# --- Report ---------------------------------------------------------------------------------


def print_table(results: dict[str, Any]) -> None:
    rows = results["batches"]
    print()
    print(f"{results['benchmark']}")
    print(f"Training stories/s ({results['story_length']} tokens per story):")
    header = f"{'contender':<30}" + "".join(f"{'b=' + batch:>10}" for batch in rows)
    print(header)
    for name, rates in results["stories_per_sec"].items():
        cells = "".join(
            f"{rates[batch]:>10.2f}" if batch in rates else f"{'-':>10}" for batch in rows
        )
        print(f"{name:<30}{cells}")
    for batch, row in rows.items():
        torch_ratio = row["ours_over_torch"]
        torch_text = "(c) left out" if torch_ratio is None else f"ours / torch {torch_ratio:.2f}x"
        print(
            f"batch {batch}: ours = {row['ours']}, ours / fit {row['ours_over_fit']:.2f}x, "
            f"{torch_text}; fit jit_compile={row['fit_jit_compile']}"
        )
    best = results["ratios"]["best_over_best"]
    line = (
        f"best batch {results['best_batch']} ({results['ours_best_stories_per_sec']:.2f} "
        f"stories/s); best against best: ours / fit {best['ours_over_fit']:.2f}x "
        f"(fit's best batch {best['fit_best_batch']})"
    )
    if best["ours_over_torch"] is not None:
        line += (
            f", ours / torch {best['ours_over_torch']:.2f}x "
            f"(torch's best batch {best['torch_best_batch']})"
        )
    print(line)
    print(f"Load average during the run: {results['load_average']}")
    for batch, row in rows.items():
        print(f"Like-for-like at batch {batch}:")
        for pair in row["matched_pairs"]:
            print(f"  {pair}")
    for line in results["targets"].values():
        print(line)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = common.ArgumentParser(
        __doc__, script="bench_dnc", default_repeats=DEFAULT_REPEATS, quick_steps=QUICK_STEPS
    )
    parser.add_argument(
        "--steps", type=int, default=DEFAULT_STEPS, help="Training steps per measurement."
    )
    parser.add_argument(
        "--batches",
        type=int,
        nargs="+",
        default=None,
        help=f"Batch sizes (default {DEFAULT_BATCHES}; --quick: {QUICK_BATCHES}).",
    )
    parser.add_argument(
        "--variants",
        nargs="+",
        default=list(DEFAULT_VARIANTS),
        help="Engine variants MODE:STEPS_PER_CALL, MODE graph or xla.",
    )
    parser.add_argument(
        "--story-length",
        type=int,
        default=None,
        help=f"Tokens per story (default {STORY_LENGTH}; --quick: {QUICK_STORY_LENGTH}).",
    )
    args = parser.parse_args(argv)
    repeats, num_steps = parser.repeats_and_steps(args, args.steps)
    batches = args.batches or list(QUICK_BATCHES if args.quick else DEFAULT_BATCHES)
    batches = list(dict.fromkeys(batches))
    if min(batches) < 1 or max(batches) > NUM_STORIES:
        parser.error(f"--batches must be in [1, {NUM_STORIES}], got {batches}.")
    length = args.story_length or (QUICK_STORY_LENGTH if args.quick else STORY_LENGTH)
    if length < ANSWERS_PER_STORY:
        parser.error(f"--story-length must be >= {ANSWERS_PER_STORY}, got {length}.")
    try:
        variants = parse_variants(args.variants)
    except ValueError as error:
        parser.error(f"--variants must be MODE:STEPS_PER_CALL: {error}")
    common.share_the_gpu_with_torch()
    session = common.start_session("bench_dnc", argv, args, repeats=repeats, num_steps=num_steps)

    parameters = trainable_parameter_count(build_model())
    if parameters != book_parameter_count():
        raise RuntimeError(
            f"The DNC has {parameters} parameters, expected {book_parameter_count()}."
        )
    stories = random_stories(NUM_STORIES, length)
    arrays = story_arrays(stories)

    start = time.perf_counter()
    rows = {
        str(batch): measure_batch(session, stories, arrays, batch, variants) for batch in batches
    }
    measured_seconds = time.perf_counter() - start

    return session.finish(
        f"chapter-8 bAbI DNC: one-hot {VOCABULARY_SIZE} words, LSTM {CONTROLLER_UNITS} "
        f"controller, N={MEMORY_SIZE} W={WORD_SIZE} R={NUM_READS}, RMSprop {LEARNING_RATE:g} "
        f"momentum {MOMENTUM:g} clip {CLIP_VALUE:g}, stories of {length} tokens",
        {
            "story_length": length,
            "answers_per_story": ANSWERS_PER_STORY,
            "answer_positions": answer_positions(length).tolist(),
            "num_stories": NUM_STORIES,
            "vocabulary_size": VOCABULARY_SIZE,
            "memory_size": MEMORY_SIZE,
            "word_size": WORD_SIZE,
            "num_reads": NUM_READS,
            "controller_units": CONTROLLER_UNITS,
            "trainable_parameters": parameters,
            "batch_sizes": batches,
            "variants": [f"{mode}:{count}" for mode, count in variants],
            "measured_seconds": measured_seconds,
            **summarize(rows),
            "batches": rows,
        },
        print_table,
    )


if __name__ == "__main__":
    main()
