"""The chapter-7 translation model: training against Keras `fit` and PyTorch, and beam decoding.

Book section: chapter 7, "Neural Machine Translation" (a GRU encoder-decoder with additive
attention and input feeding, a sampled softmax of 512 log-uniform negatives in training, beam
search for translating). The model is the `cpu` preset of `experiments/ch07_sequences/
translation.py`: `Seq2SeqAttention(11185, 11501, units=256, num_layers=1, dropout=0.3)` (the
vocabulary sizes are those of the preset on Multi30k en -> fr), 9,945,581 trainable
parameters, Adam 2e-3 with `global_clipnorm=5`, batch 64, `loss_average="token"`. The
preset's cosine decay is left out: every contender trains at a constant 2e-3.

What it measures, in one process, on random token ids (no dataset files):

  Training, in TARGET TOKENS/s, on batches of the (20, 25) bucket: 64 pairs of a 20-token
  source and 25 decoder steps. Every position is a real token (the source has no pad, the
  target is 24 words + EOS, all weights 1), so target tokens/s = 64 x 25 x steps/s for every
  contender. (The book's strict bucket rule would leave one pad per row; this layout makes
  every timed position count.)

  (a)  our engine as the experiment runs it: `fdl_tf2.training.step.make_train_step` with the
       experiment's `loss_function(config, 512, optimizer)` (teacher forcing, the sampled
       softmax, the token mean), fed by `translation.train_batches` over 1,280 random pairs in
       one bucket, `STEPS_PER_CALL` = 20 steps per call.
  (b)  Keras `fit` as a Keras user writes it: the same `Seq2SeqAttention` (its `call((encoder
       inputs, decoder inputs))` returns the full logits) compiled with
       `SparseCategoricalCrossentropy(from_logits=True)` and `fit(..., sample_weight=weights)`:
       the FULL softmax over 11,501 classes, compile defaults.
  (b2) Keras `fit` with the engine's objective: the same model class with `train_step`
       overridden to minimise the experiment's `loss_function` (the sampled softmax), so that
       (a) / (b2) isolates the engine (graph loop, no per-step Python) from the loss.
  (d)  the same architecture in eager PyTorch (`torch_equivalent`): `nn.Embedding`s, a one-layer
       `nn.GRU(batch_first=True)` encoder, a Python loop over the 25 target steps with
       `nn.GRUCell`, additive attention `v^T tanh(W1 h_j + W2 q)`, input feeding by a linear on
       `[emb; context]`, the output dense on `[top; context]`, dropout where Keras has it, and
       the sampled softmax written out (`log_uniform_sample`, `sampled_softmax_loss`: 512
       log-uniform negatives with replacement by inverse CDF, log expected counts subtracted,
       accidental hits removed as TensorFlow removes them (see `sampled_softmax_loss`),
       cross-entropy over [true, sampled]), `torch.optim.Adam(2e-3, eps=1e-7)` with
       `clip_grad_norm_(5)`, as many threads as TensorFlow. The weights are
       copied from the Keras model, but Keras' GRU is `reset_after=False` (TF1's: the reset
       gate multiplies the state before the recurrent product) while PyTorch's GRU resets
       after it (`r * (W_hn h + b_hn)`): the two are NOT the same function. Their sizes are:
       `bias_hh` is zero and frozen, so both train the same 9,945,581 parameters.

  Decoding, in SENTENCES/s, of random source sentences of 10-20 words, with the weights of
  a fresh seeded model (no dropout) whose EOS bias is -1e4 (`disable_eos`), so that every
  hypothesis of every contender decodes exactly `OUTPUT_TOKENS` = 15 tokens (the caps are
  lowered from the experiment's 50 to 15). Random weights give nearly flat distributions
  alike for every sentence: an EOS bias tuned so that greedy outputs average 15 tokens left
  the greedy lengths bimodal and made beam search (length penalty 0.6) end every sentence
  with EOS first. A trained model's batch runs until its longest sentence ends; here every
  sentence is as long as the others, which flatters batched decoding a little.

  (e)  the exported serving graph: the experiment's `make_service` (a `TranslatorService`,
       beam 5, length penalty 0.6, 15 output tokens) on a fake vocabulary of the
       right sizes, exported with `saved_model.export(..., verify=False)` to a temporary
       folder, reloaded with `tf.saved_model.load`; its `translate` signature on batches of
       `DECODE_BATCH` = 100 raw strings (tokenising, beam search and detokenising in the graph).
  (e2) the same export's greedy decoder (`translate_greedy`, beam 1), for context.
  (f)  a Python-loop decoder: `fdl_tf2.models.beam_search.beam_search` (the pure-Python
       reference) driving `model.decoder_step` eagerly, one hypothesis and step per call, one
       sentence at a time (as `tests/unit/models/test_seq2seq.py`'s `python_step_fn`), then the
       words and `translation.detokenize`; on the first `PYTHON_SENTENCES` of the same
       sentences (it is far slower). Its translations are compared with (e)'s.

How: as `bench_sentiment.py` (`benchmarks.common.measure_interleaved`): one untimed warm-up
per contender, then `--repeats` interleaved measurements of `--steps` training steps each (the
decoders: of their sentences); the median is reported. Goals (the issue's): ours = (a) >= 1.3x
(b) and >= 1.0x (d); the decoders have none, their ratios are reported.

What limits it: each training step is a 20-step GRU recurrence forward and backward, then 25
dependent decoder steps (a cell and an attention over 20 positions for 64 rows each), all
small products on 2 cores; the sampled softmax adds one `(1600, 256) @ (256, 513)` product.
(b)'s full softmax instead computes the `(1600, 256) @ (256, 11501)` logits and their two
gradients (about 28 GFLOP per step), which no sampled contender pays. PyTorch pays Python
dispatch for each of its ~25 x 10 small ops per step and direction. In decoding, (e) runs
every step as one batch of 500 hypothesis rows (a `(500, 256) @ (256, 11501)` product and a
top-k over 5 x 11,501 candidates per sentence); (f) runs one `(1, 256) @ (256, 11501)` eager
step per hypothesis and sorts 5 x 11,501 Python candidates per step.

Usage:
  python benchmarks/bench_translation.py [--repeats 3] [--steps 20] [--quick] [--skip-torch]
      [--output runs/bench/bench_translation.json]
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import dataclasses  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # For `benchmarks.common`.

from benchmarks import common  # noqa: E402
from benchmarks.common import Runner  # noqa: E402
from experiments.ch07_sequences import translation as experiment  # noqa: E402
from fdl_tf2 import config as config_lib  # noqa: E402
from fdl_tf2.data import translation  # noqa: E402
from fdl_tf2.export import saved_model  # noqa: E402
from fdl_tf2.export import translator as translator_export  # noqa: E402
from fdl_tf2.models import beam_search, seq2seq, seq2seq_decoding  # noqa: E402

SEED = common.SEED
PRESET = config_lib.from_argv(experiment.Config, experiment.CONFIGS, ["--config=cpu"])
SOURCE_VOCABULARY_SIZE = 11_185  # The cpu preset's Multi30k en vocabulary.
TARGET_VOCABULARY_SIZE = 11_501  # ... and fr.
UNITS = PRESET.units  # 256
NUM_LAYERS = PRESET.num_layers  # 1
DROPOUT = PRESET.dropout  # 0.3
NUM_SAMPLED = PRESET.num_samples  # 512
LEARNING_RATE = PRESET.learning_rate  # 2e-3, constant here (the preset decays it).
MAX_GRADIENT_NORM = PRESET.max_gradient_norm  # 5
ADAM_EPSILON = 1e-7  # Keras' default, given to PyTorch too.
BATCH_SIZE = PRESET.batch_size  # 64
SOURCE_LENGTH, TARGET_LENGTH = translation.BUCKETS[2]  # (20, 25)
TARGET_TOKENS_PER_STEP = BATCH_SIZE * TARGET_LENGTH
STEPS_PER_EPOCH = 20  # 1,280 pairs: one fit epoch is 20 steps.
STEPS_PER_CALL = 20
DEFAULT_STEPS = 20
DEFAULT_REPEATS = 3
QUICK_STEPS = 2
FIT_DEFAULTS_TARGET = 1.3
TORCH_TARGET = 1.0

BEAM_SIZE = PRESET.beam_size  # 5
LENGTH_PENALTY = PRESET.length_penalty  # 0.6
DECODE_BATCH = 100
DECODE_SENTENCES = 200  # (e) and (e2): 2 batches per measurement.
PYTHON_SENTENCES = 5  # (f): the first 5 of them.
QUICK_DECODE_SENTENCES = 100
QUICK_PYTHON_SENTENCES = 1
SENTENCE_LENGTHS = (10, 20)  # Source words, uniform, inclusive.
OUTPUT_TOKENS = 15  # The decoders' cap (the experiment's is 50); about a Multi30k caption.
EOS_BIAS = -1e4  # Never chosen: every hypothesis decodes OUTPUT_TOKENS tokens.

ENGINE = f"(a) engine spe={STEPS_PER_CALL}"
FIT_FULL = "(b) keras fit full softmax"
FIT_SAMPLED = "(b2) keras fit sampled softmax"
TORCH = "(d) pytorch eager"
GRAPH_BEAM = f"(e) exported graph beam {BEAM_SIZE}"
GRAPH_GREEDY = "(e2) exported graph greedy"
PYTHON_BEAM = f"(f) python beam_search beam {BEAM_SIZE}"
GREEDY_KEY = "translate_greedy"


def config() -> experiment.Config:
    """The cpu preset with this module's sizes (which the tests shrink)."""
    return dataclasses.replace(
        PRESET,
        source_vocabulary_size=SOURCE_VOCABULARY_SIZE,
        target_vocabulary_size=TARGET_VOCABULARY_SIZE,
        units=UNITS,
        num_layers=NUM_LAYERS,
        dropout=DROPOUT,
        num_samples=NUM_SAMPLED,
        batch_size=BATCH_SIZE,
    )


def build_model(dropout: float | None = None) -> seq2seq.Seq2SeqAttention:
    """The cpu preset's model (`experiment.build_model`), seeded: every contender starts alike."""
    vocabularies = types.SimpleNamespace(
        source_words=range(SOURCE_VOCABULARY_SIZE), target_words=range(TARGET_VOCABULARY_SIZE)
    )
    settings = config() if dropout is None else dataclasses.replace(config(), dropout=dropout)
    return experiment.build_model(settings, vocabularies)


def build_optimizer() -> keras.optimizers.Optimizer:
    return keras.optimizers.Adam(
        LEARNING_RATE, epsilon=ADAM_EPSILON, global_clipnorm=MAX_GRADIENT_NORM
    )


def trainable_parameter_count(model: keras.Model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


# --- Data -----------------------------------------------------------------------------------


def random_pairs(num_pairs: int = BATCH_SIZE * STEPS_PER_EPOCH) -> translation.BucketedPairs:
    """`num_pairs` full-length random pairs in one bucket `(SOURCE_LENGTH, TARGET_LENGTH)`.

    Source ids in [4, Vs) with no pad; targets `TARGET_LENGTH - 1` ids in [4, Vt) then EOS;
    decoder inputs GO + the target without its EOS; weights all 1: the layout of
    `translation.bucket_layout`, with every position a real token.
    """
    rng = np.random.default_rng(SEED)
    first = len(translation.START_VOCAB)
    encoder = rng.integers(first, SOURCE_VOCABULARY_SIZE, (num_pairs, SOURCE_LENGTH))
    words = rng.integers(first, TARGET_VOCABULARY_SIZE, (num_pairs, TARGET_LENGTH - 1))
    targets = np.concatenate([words, np.full((num_pairs, 1), translation.EOS_ID)], 1)
    decoder = np.concatenate([np.full((num_pairs, 1), translation.GO_ID), words], 1)
    return translation.BucketedPairs(
        buckets=((SOURCE_LENGTH, TARGET_LENGTH),),
        encoder_inputs=(encoder.astype(np.int32),),
        decoder_inputs=(decoder.astype(np.int32),),
        targets=(targets.astype(np.int32),),
        weights=(np.ones((num_pairs, TARGET_LENGTH), np.float32),),
        num_dropped=0,
    )


def _arrays(pairs: translation.BucketedPairs) -> dict[str, np.ndarray]:
    return {key: getattr(pairs, key)[0] for key in translation._KEYS}


# --- TensorFlow contenders ------------------------------------------------------------------


def make_engine_runner(pairs: translation.BucketedPairs):
    """(a): `step.make_train_step` with the experiment's loss on `translation.train_batches`.

    Returns:
      `(runner, tracing_count)`, see `common.make_engine_runner`.
    """
    model, optimizer = build_model(), build_optimizer()
    return common.make_engine_runner(
        model,
        optimizer,
        translation.train_batches(pairs, batch_size=BATCH_SIZE, seed=SEED),
        steps_per_call=STEPS_PER_CALL,
        jit_compile=False,
        compute_loss=experiment.loss_function(config(), NUM_SAMPLED, optimizer),
    )


class SampledSoftmaxFitModel(seq2seq.Seq2SeqAttention):
    """(b2): `Seq2SeqAttention` whose `fit` minimises the experiment's `loss_function`.

    `train_step` receives `((encoder_inputs, decoder_inputs), targets, weights)` and runs what
    the engine's replica step runs (the sampled softmax seeded by the optimizer's step, the
    token mean), so `fit` and the engine differ only in how steps are driven.
    """

    def train_step(self, data):
        (encoder_inputs, decoder_inputs), targets, weights = keras.utils.unpack_x_y_sample_weight(
            data
        )
        batch = {
            "encoder_inputs": encoder_inputs,
            "decoder_inputs": decoder_inputs,
            "targets": targets,
            "weights": weights,
        }
        compute_loss = experiment.loss_function(config(), NUM_SAMPLED, self.optimizer)
        with tf.GradientTape() as tape:
            (loss_sum, count), _ = compute_loss(self, batch, True)
            loss = tf.math.divide_no_nan(loss_sum, count)
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)
        return {"loss": loss}


def build_sampled_fit_model() -> SampledSoftmaxFitModel:
    return SampledSoftmaxFitModel(
        SOURCE_VOCABULARY_SIZE,
        TARGET_VOCABULARY_SIZE,
        units=UNITS,
        num_layers=NUM_LAYERS,
        dropout=DROPOUT,
        seed=config().seed,
    )


def make_fit_runner(model: keras.Model, pairs: translation.BucketedPairs) -> Runner:
    """`model.fit((encoder_inputs, decoder_inputs), targets, sample_weight=weights)` of a
    compiled model, exactly `num_steps` batches of `BATCH_SIZE` (<= or a multiple of one
    epoch, `STEPS_PER_EPOCH` steps)."""
    arrays = _arrays(pairs)

    def run(num_steps: int) -> float:
        per_epoch = min(num_steps, STEPS_PER_EPOCH)
        if num_steps % per_epoch:
            raise ValueError(f"num_steps must be <= or a multiple of {STEPS_PER_EPOCH}.")
        n = per_epoch * BATCH_SIZE
        start = time.perf_counter()
        history = model.fit(
            (arrays["encoder_inputs"][:n], arrays["decoder_inputs"][:n]),
            arrays["targets"][:n],
            sample_weight=arrays["weights"][:n],
            batch_size=BATCH_SIZE,
            epochs=num_steps // per_epoch,
            verbose=0,
        )
        seconds = time.perf_counter() - start
        common.check_fit_loss(history)
        return seconds

    return run


def make_full_softmax_fit_runner(pairs) -> tuple[Runner, keras.Model]:
    """(b): compile defaults, `SparseCategoricalCrossentropy(from_logits=True)` on full logits."""
    model = build_model()
    model.compile(build_optimizer(), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return make_fit_runner(model, pairs), model


def make_sampled_fit_runner(pairs) -> tuple[Runner, keras.Model]:
    """(b2): compile defaults, `train_step` = the experiment's sampled-softmax loss."""
    model = build_sampled_fit_model()
    model.compile(build_optimizer())
    model.optimizer.build(model.trainable_variables)  # Its slots, before fit traces train_step.
    return make_fit_runner(model, pairs), model


# --- PyTorch --------------------------------------------------------------------------------


def log_uniform_expected_count(classes, num_sampled: int, num_classes: int):
    """The expected counts of `seq2seq.log_uniform_candidates` (unique sampling), torch."""
    import torch

    counts = seq2seq.unique_sampling_expected_counts(num_classes, num_sampled)
    return torch.from_numpy(counts.astype(np.float32))[classes]


def log_uniform_sample(num_sampled: int, num_classes: int, generator=None):
    """`num_sampled` distinct int64 classes drawn without replacement in proportion to `P(k)`.

    `torch.multinomial(P, num_sampled, replacement=False)`: successive sampling, the
    distribution of `seq2seq.log_uniform_candidates` (Gumbel top-k) and of TF's unique sampler.
    """
    import torch

    probabilities = torch.from_numpy(seq2seq.log_uniform_probabilities(num_classes))
    return torch.multinomial(probabilities, num_sampled, replacement=False, generator=generator)


def sampled_softmax_loss(
    weight, bias, labels, inputs, sampled, true_expected, sampled_expected, every_copy=False
):
    """`tf.nn.sampled_softmax_loss` (one true class, accidental hits removed) in PyTorch.

    Args:
      weight: `(V, units)`; bias: `(V,)`; labels: int64 `(n,)`; inputs: `(n, units)`;
      sampled: int64 `(S,)`; true_expected: `(n,)`, sampled_expected: `(S,)` expected counts.
      every_copy: mask every sampled copy of a row's label. False (the default) does what
        TensorFlow does: `tf.nn.compute_accidental_hits` presupposes unique candidates and
        reports only the LAST copy of a label drawn several times, so the other copies stay
        in the softmax. Both contenders draw unique candidates, where the two agree.

    Returns:
      `(n,)`: the cross-entropy of the true class over [true, sampled], each logit minus the
      log of its expected count, the accidental hits masked out.
    """
    import torch

    true_logits = (inputs * weight[labels]).sum(-1) + bias[labels] - torch.log(true_expected)
    sampled_logits = inputs @ weight[sampled].T + bias[sampled] - torch.log(sampled_expected)
    hits = labels[:, None] == sampled[None, :]  # (n, S)
    if not every_copy:
        positions = torch.arange(sampled.shape[0], device=sampled.device)
        last = torch.where(hits, positions, -1).amax(dim=1, keepdim=True)
        hits = hits & (positions[None, :] == last)
    sampled_logits = sampled_logits.masked_fill(hits, float("-inf"))
    logits = torch.cat([true_logits[:, None], sampled_logits], 1)  # (n, 1 + S)
    zeros = torch.zeros(labels.shape[0], dtype=torch.long, device=labels.device)
    return torch.nn.functional.cross_entropy(logits, zeros, reduction="none")


def _gru_gates(matrix: np.ndarray, units: int) -> np.ndarray:
    """Keras' gate blocks z, r, h (last axis) -> PyTorch's r, z, n."""
    z, r, h = (matrix[..., i * units : (i + 1) * units] for i in range(3))
    return np.concatenate([r, z, h], -1)


def torch_equivalent(model: seq2seq.Seq2SeqAttention):
    """The one-layer GRU `Seq2SeqAttention` (additive attention) as a `torch.nn.Module`.

    `forward((encoder_inputs, decoder_inputs))` (int64, no pads) -> the decoder outputs `o_t`
    `(batch, target_time, units)`; the loss projects them with `output_projection`. The
    weights are copied from `model` (GRU kernels transposed and reordered to PyTorch's gate
    order, Keras' single GRU bias -> `bias_ih`, `bias_hh` zero and frozen), but PyTorch's GRU
    applies the reset gate after the recurrent product and Keras' (`reset_after=False`)
    before it: same sizes, not the same function. Pads are not masked (the data has none).
    """
    import torch

    if model.num_layers != 1 or model.cell_kind != "gru" or model.attention_kind != "additive":
        raise ValueError("torch_equivalent covers the cpu preset: 1 GRU layer, additive.")
    units, embedding_size = model.units, model.embedding_size
    nn = torch.nn

    def tensor(variable):
        return torch.from_numpy(np.array(keras.ops.convert_to_numpy(variable), np.float32))

    class TorchSeq2SeqAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.source_embedding = nn.Embedding(model.source_vocabulary_size, embedding_size)
            self.target_embedding = nn.Embedding(model.target_vocabulary_size, embedding_size)
            self.encoder = nn.GRU(embedding_size, units, batch_first=True)
            self.decoder_cell = nn.GRUCell(embedding_size, units)
            self.input_projection = nn.Linear(embedding_size + units, embedding_size)
            self.attention_w1 = nn.Linear(units, units, bias=False)
            self.attention_w2 = nn.Linear(units, units)
            self.attention_v = nn.Parameter(torch.zeros(units))
            self.output_dense = nn.Linear(2 * units, units)
            self.output_projection = nn.Linear(units, model.target_vocabulary_size)
            self.dropout = nn.Dropout(model.dropout_rate)

        def forward(self, inputs):
            encoder_inputs, decoder_inputs = inputs
            x = self.dropout(self.source_embedding(encoder_inputs))
            outputs, final = self.encoder(x)  # (batch, source, units), (1, batch, units)
            memory = self.dropout(outputs)
            keys = self.attention_w1(memory)  # W1 h_j, once per sentence.
            state = final[0]
            context = torch.zeros_like(state)
            embedded = self.target_embedding(decoder_inputs)  # (batch, target, E)
            tops, contexts = [], []
            for t in range(decoder_inputs.shape[1]):
                fed = self.input_projection(torch.cat([embedded[:, t], context], -1))
                state = self.decoder_cell(self.dropout(fed), state)
                scores = torch.tanh(keys + self.attention_w2(state)[:, None, :]) @ self.attention_v
                weights = torch.softmax(scores, dim=-1)  # (batch, source)
                context = (weights[:, :, None] * memory).sum(1)
                tops.append(self.dropout(state))
                contexts.append(context)
            return self.output_dense(
                torch.cat([torch.stack(tops, 1), torch.stack(contexts, 1)], -1)
            )

    twin = TorchSeq2SeqAttention()
    encoder_kernel, encoder_recurrent, encoder_bias = model.encoder_layers[0].weights
    cell = model.decoder_cells[0]
    with torch.no_grad():
        twin.source_embedding.weight.copy_(tensor(model.source_embedding.embeddings))
        twin.target_embedding.weight.copy_(tensor(model.target_embedding.embeddings))
        for gru, (kernel, recurrent, bias), names in (
            (twin.encoder, (encoder_kernel, encoder_recurrent, encoder_bias), "_l0"),
            (twin.decoder_cell, (cell.kernel, cell.recurrent_kernel, cell.bias), ""),
        ):
            getattr(gru, f"weight_ih{names}").copy_(
                torch.from_numpy(_gru_gates(tensor(kernel).numpy(), units).T.copy())
            )
            getattr(gru, f"weight_hh{names}").copy_(
                torch.from_numpy(_gru_gates(tensor(recurrent).numpy(), units).T.copy())
            )
            getattr(gru, f"bias_ih{names}").copy_(
                torch.from_numpy(_gru_gates(tensor(bias).numpy(), units).copy())
            )
            getattr(gru, f"bias_hh{names}").zero_()
            getattr(gru, f"bias_hh{names}").requires_grad_(False)  # Keras has one GRU bias.
        for linear, dense in (
            (twin.input_projection, model.input_projection),
            (twin.attention_w2, model.attention_query),
            (twin.output_dense, model.output_dense),
            (twin.output_projection, model.output_projection),
        ):
            linear.weight.copy_(tensor(dense.kernel).T)
            linear.bias.copy_(tensor(dense.bias))
        twin.attention_w1.weight.copy_(tensor(model.attention_keys.kernel).T)
        twin.attention_v.copy_(tensor(model.attention_v))
    return twin


def trainable_parameters(twin) -> list:
    return [parameter for parameter in twin.parameters() if parameter.requires_grad]


def make_torch_runner(torch, pairs: translation.BucketedPairs) -> tuple[Runner, dict[str, str]]:
    """(d): the model in eager PyTorch, on the CPU (`torch` is the imported module).

    One shuffle per epoch, then per step a gather of the int64 batch, the forward pass, the
    sampled softmax on fresh negatives, backward, `clip_grad_norm_(5)` and an Adam step.

    Returns:
      `(runner, {"version": ..., "device": ...})`.
    """
    device = common.setup_torch(torch, allow_gpu=False)
    twin = torch_equivalent(build_model()).to(device)
    parameters = trainable_parameters(twin)
    optimizer = torch.optim.Adam(parameters, lr=LEARNING_RATE, eps=ADAM_EPSILON)

    def clip_gradients(*_):
        torch.nn.utils.clip_grad_norm_(parameters, MAX_GRADIENT_NORM)  # Keras' global_clipnorm.

    optimizer.register_step_pre_hook(clip_gradients)
    arrays = {key: torch.from_numpy(value) for key, value in _arrays(pairs).items()}
    inputs = (arrays["encoder_inputs"].long(), arrays["decoder_inputs"].long())
    labels, weights = arrays["targets"].long(), arrays["weights"]
    generator = torch.Generator().manual_seed(SEED)
    sampler = torch.Generator().manual_seed(SEED + 1)

    def epoch_batches(num_batches: int):
        order = torch.randperm(labels.shape[0], generator=generator)
        for batch in range(num_batches):
            rows = order[batch * BATCH_SIZE : (batch + 1) * BATCH_SIZE]
            yield (inputs[0][rows], inputs[1][rows]), (labels[rows], weights[rows])

    projection = twin.output_projection

    def compute_loss(outputs, targets_and_weights):
        targets, target_weights = targets_and_weights
        flat_labels = targets.reshape(-1)
        sampled = log_uniform_sample(NUM_SAMPLED, TARGET_VOCABULARY_SIZE, sampler)
        losses = sampled_softmax_loss(
            projection.weight,
            projection.bias,
            flat_labels,
            outputs.reshape(-1, outputs.shape[-1]),
            sampled,
            log_uniform_expected_count(flat_labels, NUM_SAMPLED, TARGET_VOCABULARY_SIZE),
            log_uniform_expected_count(sampled, NUM_SAMPLED, TARGET_VOCABULARY_SIZE),
        )
        flat_weights = target_weights.reshape(-1)
        return (losses * flat_weights).sum() / flat_weights.sum()

    runner = common.make_torch_runner(twin, optimizer, compute_loss, epoch_batches, STEPS_PER_EPOCH)
    return runner, {"version": torch.__version__, "device": str(device)}


# --- Decoding -------------------------------------------------------------------------------


def fake_vocabularies() -> types.SimpleNamespace:
    """START_VOCAB then "s4", "s5", ... (source) and "t4", ... (target), of the model's sizes."""
    start = list(translation.START_VOCAB)
    return types.SimpleNamespace(
        source_words=start + [f"s{i}" for i in range(len(start), SOURCE_VOCABULARY_SIZE)],
        target_words=start + [f"t{i}" for i in range(len(start), TARGET_VOCABULARY_SIZE)],
    )


def random_sentences(num_sentences: int, vocabularies: types.SimpleNamespace) -> list[str]:
    """Sentences of `SENTENCE_LENGTHS` random source words (no special token), seeded."""
    rng = np.random.default_rng(SEED + 2)
    words = vocabularies.source_words[len(translation.START_VOCAB) :]
    lengths = rng.integers(SENTENCE_LENGTHS[0], SENTENCE_LENGTHS[1] + 1, num_sentences)
    return [" ".join(words[i] for i in rng.integers(0, len(words), n)) for n in lengths]


def make_services(model, vocabularies) -> dict[int, translator_export.TranslatorService]:
    """Beam size -> the experiment's `make_service` (at most 40 source tokens), with the
    output cap lowered from 50 to `OUTPUT_TOKENS` (read when the decoder is traced)."""
    settings = config()
    services = {}
    for beam in (BEAM_SIZE, 1):
        services[beam] = experiment.make_service(settings, model, vocabularies, beam)
        services[beam].max_output_tokens = OUTPUT_TOKENS
    return services


def disable_eos(model) -> None:
    """Sets the EOS output bias to `EOS_BIAS`, so that no hypothesis ends before the cap.

    With random weights the decoder's distributions are nearly flat and alike for every
    sentence: an EOS bias tuned for greedy outputs of about 15 tokens makes beam search with
    the length penalty end every hypothesis at once (EOS first, measured), so the lengths are
    fixed by the cap instead.
    """
    bias = model.output_projection.bias
    values = keras.ops.convert_to_numpy(bias).copy()
    values[translation.EOS_ID] = EOS_BIAS
    bias.assign(values)


def export_translators(services, export_dir: str | os.PathLike) -> Path:
    """`translate` / `serving_default` (beam) and `translate_greedy`, `verify=False`."""
    endpoints = dict(services[BEAM_SIZE].endpoints())
    endpoints[GREEDY_KEY] = services[1].endpoints()[translator_export.TRANSLATE_KEY]
    samples = np.array([b"s4 s5 s6", b""], dtype=np.bytes_)
    return saved_model.export(
        "translator_bench",
        endpoints=endpoints,
        samples={key: (samples,) for key in endpoints},
        track=list(services.values()),
        export_dir=export_dir,
        verify=False,
    )


def make_graph_decode_runner(signature, sentences: list[str], record: dict) -> Runner:
    """`num_sentences -> seconds`: the first `num_sentences` through a loaded signature, in
    batches of `DECODE_BATCH`; `record` gets their translations and lengths."""

    def run(num_sentences: int) -> float:
        translations, lengths = [], []
        start = time.perf_counter()
        for begin in range(0, num_sentences, DECODE_BATCH):
            batch = tf.constant(sentences[begin : min(begin + DECODE_BATCH, num_sentences)])
            outputs = signature(sentences=batch)
            translations += [t.decode() for t in outputs["translations"].numpy()]
            lengths += outputs["lengths"].numpy().tolist()
        seconds = time.perf_counter() - start
        record.update(translations=translations, lengths=lengths)
        return seconds

    return run


def python_translate(model, service, sentence: str, target_words) -> tuple[str, int]:
    """One sentence through `beam_search.beam_search` on eager `decoder_step` calls.

    Returns:
      `(translation, output tokens without EOS)` of the best hypothesis.
    """
    encoder_inputs = service.encoder_inputs(tf.constant([sentence]))[0]
    memory, cell_states = model.encode(encoder_inputs)

    def step_fn(state, token):
        output, new_state, _ = model.decoder_step(memory, state, tf.constant([token]))
        log_probs = tf.nn.log_softmax(model.logits(output))[0]
        return log_probs.numpy().astype(np.float64), new_state

    best = beam_search.beam_search(
        step_fn,
        model.initial_state(memory, cell_states),
        service.beam_size,
        service.max_output_tokens,
        eos_id=seq2seq_decoding.EOS_ID,
        start_token=seq2seq_decoding.GO_ID,
        length_penalty=service.length_penalty,
    )[0]
    tokens = list(best.tokens)
    if tokens and tokens[-1] == seq2seq_decoding.EOS_ID:
        tokens = tokens[:-1]
    words = [target_words[token] for token in tokens]
    return translation.detokenize(words, service.target_language), len(tokens)


def make_python_decode_runner(model, service, sentences, target_words, record) -> Runner:
    """(f): `num_sentences -> seconds` of `python_translate`, one sentence after the other."""

    def run(num_sentences: int) -> float:
        translations, lengths = [], []
        start = time.perf_counter()
        for sentence in sentences[:num_sentences]:
            text, length = python_translate(model, service, sentence, target_words)
            translations.append(text)
            lengths.append(length)
        seconds = time.perf_counter() - start
        record.update(translations=translations, lengths=lengths)
        return seconds

    return run


def measure_decoding(repeats: int, num_sentences: int, python_sentences: int) -> dict[str, Any]:
    """(e), (e2) and (f): the model without EOS, its export, interleaved timings."""
    model = build_model(dropout=0.0)
    disable_eos(model)
    vocabularies = fake_vocabularies()
    sentences = random_sentences(num_sentences, vocabularies)
    services = make_services(model, vocabularies)
    records: dict[str, dict] = {GRAPH_BEAM: {}, GRAPH_GREEDY: {}, PYTHON_BEAM: {}}
    with tempfile.TemporaryDirectory(prefix="bench_translation_") as export_dir:
        start = time.perf_counter()
        path = export_translators(services, export_dir)
        loaded = tf.saved_model.load(str(path))
        export_seconds = time.perf_counter() - start
        runners = {
            GRAPH_BEAM: make_graph_decode_runner(
                loaded.signatures[translator_export.TRANSLATE_KEY], sentences, records[GRAPH_BEAM]
            ),
            GRAPH_GREEDY: make_graph_decode_runner(
                loaded.signatures[GREEDY_KEY], sentences, records[GRAPH_GREEDY]
            ),
            PYTHON_BEAM: make_python_decode_runner(
                model,
                services[BEAM_SIZE],
                sentences,
                vocabularies.target_words,
                records[PYTHON_BEAM],
            ),
        }
        steps = {PYTHON_BEAM: python_sentences}
        samples = common.measure_interleaved(
            runners, {}, num_steps=num_sentences, repeats=repeats, steps=steps
        )
    contenders = {}
    for name in runners:
        lengths = records[name]["lengths"]
        contenders[name] = {
            "sentences_per_sec": statistics.median(samples[name]),
            "sentences_per_measurement": steps.get(name, num_sentences),
            "mean_output_length": float(np.mean(lengths)),
            "output_length_min_median_max": [
                int(np.min(lengths)),
                float(np.median(lengths)),
                int(np.max(lengths)),
            ],
            "samples_sentences_per_sec": samples[name],
        }
    for row in contenders.values():
        row["graph_beam_ratio"] = (
            contenders[GRAPH_BEAM]["sentences_per_sec"] / row["sentences_per_sec"]
        )
    graph = records[GRAPH_BEAM]
    python = records[PYTHON_BEAM]
    compared = len(python["translations"])
    same = sum(
        a == b
        for a, b in zip(graph["translations"][:compared], python["translations"], strict=True)
    )
    return {
        "beam_size": BEAM_SIZE,
        "length_penalty": LENGTH_PENALTY,
        "max_output_tokens": services[BEAM_SIZE].max_output_tokens,
        "decode_batch": DECODE_BATCH,
        "source_words": list(SENTENCE_LENGTHS),
        "mean_source_words": float(np.mean([len(s.split()) for s in sentences])),
        "eos_bias": EOS_BIAS,
        "export_and_load_seconds": export_seconds,
        "contenders": contenders,
        "graph_beam_mean_length_on_python_sentences": float(np.mean(graph["lengths"][:compared])),
        "python_equals_graph": f"{same}/{compared}",
        "ratios": {
            "graph_beam_over_python_beam": contenders[PYTHON_BEAM]["graph_beam_ratio"],
            "graph_greedy_over_graph_beam": (
                contenders[GRAPH_GREEDY]["sentences_per_sec"]
                / contenders[GRAPH_BEAM]["sentences_per_sec"]
            ),
        },
    }


# --- Report ---------------------------------------------------------------------------------


def print_table(results: dict[str, Any]) -> None:
    print()
    print(f"{results['benchmark']}: {TARGET_TOKENS_PER_STEP:,} target tokens per step")
    print(f"{'contender':<32} {'steps/s':>8} {'tokens/s':>10} {'ours/x':>7}")
    for name, row in results["contenders"].items():
        print(
            f"{name:<32} {row['steps_per_sec']:>8.2f} {row['target_tokens_per_sec']:>10.0f} "
            f"{row['ours_ratio']:>6.2f}x"
        )
    ratios = results["ratios"]
    line = (
        f"ours / fit full softmax {ratios['ours_over_fit_full_softmax']:.2f}x, "
        f"ours / fit sampled softmax {ratios['ours_over_fit_sampled_softmax']:.2f}x, "
    )
    if ratios["ours_over_torch"] is None:
        line += "(d) left out (--skip-torch)"
    else:
        line += f"ours / pytorch {ratios['ours_over_torch']:.2f}x"
    print(line)
    print(f"(b) fit resolved jit_compile={results['fit_jit_compile']}.")
    decoding = results["decoding"]
    print()
    print(
        f"Beam decoding (beam {decoding['beam_size']}, length penalty "
        f"{decoding['length_penalty']}, {decoding['mean_source_words']:.1f} source words, "
        f"{decoding['max_output_tokens']} output tokens, EOS disabled):"
    )
    print(f"{'contender':<32} {'sent/s':>8} {'sentences':>9} {'out len':>8} {'(e)/x':>7}")
    for name, row in decoding["contenders"].items():
        print(
            f"{name:<32} {row['sentences_per_sec']:>8.2f} "
            f"{row['sentences_per_measurement']:>9} {row['mean_output_length']:>8.1f} "
            f"{row['graph_beam_ratio']:>6.2f}x"
        )
    same_length = decoding["graph_beam_mean_length_on_python_sentences"]
    print(
        f"(f) translations equal to (e)'s: {decoding['python_equals_graph']} (on those "
        f"sentences (e)'s mean length is {same_length:.1f})"
    )
    print(f"Load average during the run: {results['load_average']}")
    common.print_pairs_and_targets(results)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = common.ArgumentParser(
        __doc__,
        script="bench_translation",
        default_repeats=DEFAULT_REPEATS,
        quick_steps=QUICK_STEPS,
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
        "bench_translation", argv, args, repeats=repeats, num_steps=num_steps
    )

    pairs = random_pairs()
    runners: dict[str, Runner] = {}
    tracing_counts = {}
    runners[ENGINE], tracing_counts[ENGINE] = make_engine_runner(pairs)
    runners[FIT_FULL], fit_model = make_full_softmax_fit_runner(pairs)
    runners[FIT_SAMPLED], _ = make_sampled_fit_runner(pairs)
    torch_info = None
    if session.torch is not None:
        runners[TORCH], torch_info = make_torch_runner(session.torch, pairs)

    start = time.perf_counter()
    samples = common.measure_interleaved(
        runners, {}, num_steps=num_steps, repeats=repeats, tracing_counts=tracing_counts
    )
    training_seconds = time.perf_counter() - start

    contenders = {}
    for name in runners:
        rate = statistics.median(samples[name])
        contenders[name] = {
            "steps_per_sec": rate,
            "target_tokens_per_sec": rate * TARGET_TOKENS_PER_STEP,
            "steps_per_measurement": num_steps,
            "samples_steps_per_sec": samples[name],
        }
    ours = common.choose_ours(contenders, (ENGINE,), "steps_per_sec")
    pairs_compared = [
        (ENGINE, FIT_FULL),
        (ENGINE, FIT_SAMPLED),
        (ENGINE, TORCH),
        (FIT_SAMPLED, FIT_FULL),
    ]
    targets = {
        "ours_vs_b": common.speed_target(
            samples, contenders, ours, FIT_FULL, factor=FIT_DEFAULTS_TARGET
        ),
    }
    if TORCH in contenders:
        targets["ours_vs_d"] = common.speed_target(
            samples, contenders, ours, TORCH, factor=TORCH_TARGET
        )

    if args.quick:
        decode_sentences, python_sentences = QUICK_DECODE_SENTENCES, QUICK_PYTHON_SENTENCES
    else:
        decode_sentences, python_sentences = DECODE_SENTENCES, PYTHON_SENTENCES
    start = time.perf_counter()
    decoding = measure_decoding(repeats, decode_sentences, python_sentences)
    decoding["measured_seconds"] = time.perf_counter() - start

    return session.finish(
        f"chapter-7 translation seq2seq {SOURCE_VOCABULARY_SIZE}/{TARGET_VOCABULARY_SIZE} "
        f"vocabularies, GRU {UNITS} x {NUM_LAYERS}, additive attention, dropout {DROPOUT}, "
        f"sampled softmax {NUM_SAMPLED}, Adam {LEARNING_RATE:g} clip {MAX_GRADIENT_NORM:g}, "
        f"batch {BATCH_SIZE} x ({SOURCE_LENGTH}, {TARGET_LENGTH})",
        {
            "batch_size": BATCH_SIZE,
            "bucket": [SOURCE_LENGTH, TARGET_LENGTH],
            "target_tokens_per_step": TARGET_TOKENS_PER_STEP,
            "steps_per_call": STEPS_PER_CALL,
            "num_sampled": NUM_SAMPLED,
            "trainable_parameters": trainable_parameter_count(fit_model),
            "fit_jit_compile": bool(fit_model.jit_compile),
            "torch": torch_info,
            "measured_seconds": training_seconds,
            "contenders": contenders,
            "ours": ours,
            "ratios": {
                "ours_over_fit_full_softmax": contenders[FIT_FULL]["ours_ratio"],
                "ours_over_fit_sampled_softmax": contenders[FIT_SAMPLED]["ours_ratio"],
                "ours_over_torch": (
                    contenders[TORCH]["ours_ratio"] if TORCH in contenders else None
                ),
            },
            "matched_pairs": common.matched_pairs(contenders, pairs_compared, "steps_per_sec"),
            "targets": targets,
            "decoding": decoding,
        },
        print_table,
    )


if __name__ == "__main__":
    main()
