"""
Title: The DNC copies series of binary sequences through 10 memory slots (Fig. 8.9)
Book: Chapter 8, "Visualizing the DNC in action" (seed lines 5576-5597)
Description: feed-forward-controller DNC, N=10, W=10, R=1, on series of 5-vector sequences.
Expected result: <= 0.1 wrong bits per sequence on series of 4; write-then-read memory traces.

The book shows Fig. 8.9 from DNC-tensorflow (spec ch08-09 §1.10): a DNC whose controller has no
recurrent state and whose memory (10 slots) cannot hold the 20 vectors of a series of 4, so it
must free and reuse slots. It writes each vector of a sequence to its own slot, reads them back
in write order after the marker, and frees them: the free gates open after a read phase, the
allocation gate during a write phase, and the usage of a slot drops back to 0 after its read.

Training: binary cross-entropy on logits over batch, time and bits (upstream clipped sigmoid
outputs to [1e-6, 1 - 1e-6] instead), with a step-based curriculum of series lengths, as
upstream needed (series of 4 from scratch "always resulted in NaNs"): `series_lengths` (2, 4)
switched at `switch_steps`. Presets:
- `book`: DNC-tensorflow's settings, batch 1, RMSprop(1e-4, rho 0.9, momentum 0.9), clipvalue
  10, 100,000 steps on series of 2 then 20,000 on series of 4 (days on 2 cores);
- `cpu`: the same network and curriculum in batches of 32 with Adam 1e-3 and global-norm
  clipping, for a bounded run here (see experiments/README.md for its figures).
Evaluation: the mean number of wrong bits per sequence (threshold 0.5, output phases only) on a
fixed set of series of the curriculum's final length.
"""

import dataclasses
import sys

import keras
import numpy as np
import tensorflow as tf

from fdl_tf2 import config as config_lib
from fdl_tf2.data import copy_series
from fdl_tf2.memory import dnc
from fdl_tf2.training import loop, runs, schedules, step
from fdl_tf2.viz import memory as memory_figures

EXPERIMENT_ID = "ch08.dnc_copy"

FIGURES = ("fig8_9_dnc_copy_memory", "learning_curve")  # Checked by the smoke tests.


@dataclasses.dataclass(frozen=True)
class Config(config_lib.EngineConfig):
    """Defaults are the "book" preset: DNC-tensorflow's `train-series.py`."""

    memory_size: int = 10  # N slots: too few for the 20 vectors of a series of 4.
    word_size: int = 10  # W.
    num_reads: int = 1  # R, a single read head.
    controller_units: int = 256  # The feed-forward controller's 128 -> 256 ReLU output.
    bits: int = 5  # Random bits per vector (plus 1 marker channel).
    sequence_length: int = 5  # Vectors per sequence: 2 * 5 + 1 = 11 steps each.
    series_lengths: tuple = (2, 4)  # Sequences per series along the curriculum.
    switch_steps: tuple = (100_000,)  # Steps at which the next series length starts.
    num_steps: int = 120_000  # Upstream: 100,000 + 20,000 iterations.
    batch_size: int = 1  # Upstream's batch.
    optimizer: str = "rmsprop"  # "rmsprop" (upstream, TF1 RMSProp with momentum) or "adam".
    learning_rate: float = 1e-4
    lr_schedule: str = "constant"  # "constant" (upstream) or "cosine" (decays to 0 at the end).
    momentum: float = 0.9  # RMSprop's momentum (upstream 0.9).
    rho: float = 0.9  # RMSprop's decay (TF1's default 0.9).
    clip_value: float = 10.0  # Per-gradient value clipping (upstream [-10, 10]); 0 disables.
    clip_norm: float = 0.0  # Global-norm clipping; 0 disables.
    eval_every: int = 1_000  # Steps between evaluations (and checkpoints).
    eval_series: int = 64  # Series in the fixed evaluation set (of the final length).
    book_pairwise_add: bool = False  # The listing's `V + V` link-matrix bug (errata 1).
    dataset: str = "generated"  # The task is generated; no data files.


_CPU = dict(
    num_steps=30_000,
    switch_steps=(12_000,),
    batch_size=32,
    eval_every=2_000,
    optimizer="adam",
    learning_rate=1e-3,
    lr_schedule="cosine",
    clip_value=0.0,
    clip_norm=10.0,
    jit_compile=True,
)
"""The network and curriculum of the book preset, in batches of 32 with Adam (minutes here)."""

CONFIGS = {
    "smoke": dict(
        _CPU,
        num_steps=40,
        switch_steps=(20,),
        batch_size=4,
        eval_every=20,
        eval_series=8,
        steps_per_execution=10,
        jit_compile=False,
    ),
    "book": dict(),
    "quick": dict(
        _CPU, num_steps=4_000, switch_steps=(2_500,), eval_every=1_000
    ),  # `make ch08`: the figure.
    "cpu": _CPU,
}


def _check_config(config: Config) -> None:
    if config.optimizer not in ("rmsprop", "adam"):
        raise ValueError(f"optimizer must be 'rmsprop' or 'adam', got {config.optimizer!r}.")
    if config.lr_schedule not in schedules.SCHEDULES:
        raise ValueError(
            f"lr_schedule must be one of {schedules.SCHEDULES}, got {config.lr_schedule!r}."
        )
    copy_series.curriculum_length(0, config.series_lengths, config.switch_steps)
    if list(config.switch_steps) != sorted(config.switch_steps):
        raise ValueError(f"switch_steps must increase, got {config.switch_steps}.")
    for name in ("num_steps", "batch_size", "eval_every", "eval_series", "bits"):
        if getattr(config, name) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(config, name)}.")


def build_model(config: Config, record: bool = False) -> keras.Model:
    """`(B, T, bits + 1)` inputs -> `(B, T, bits + 1)` logits (plus the record, if asked)."""
    cell = dnc.DNCCell(
        output_size=config.bits + 1,
        memory_size=config.memory_size,
        word_size=config.word_size,
        num_reads=config.num_reads,
        controller="feedforward",
        controller_units=config.controller_units,
        book_pairwise_add=config.book_pairwise_add,
        record=record,
    )
    inputs = keras.Input((None, config.bits + 1))
    outputs = keras.layers.RNN(cell, return_sequences=True, name="dnc")(inputs)
    return keras.Model(inputs, outputs, name="dnc_copy")


def build_optimizer(config: Config, total_steps: int) -> keras.optimizers.Optimizer:
    rate = schedules.learning_rate(config.lr_schedule, config.learning_rate, total_steps)
    clipping = {}
    if config.clip_value:
        clipping["clipvalue"] = config.clip_value
    if config.clip_norm:
        clipping["global_clipnorm"] = config.clip_norm
    if config.optimizer == "adam":
        return keras.optimizers.Adam(rate, **clipping)
    return keras.optimizers.RMSprop(rate, rho=config.rho, momentum=config.momentum, **clipping)


def compute_loss(model, batch, training):
    """BCE summed over batch, time and bits; bit errors per sequence as the metric."""
    inputs, targets, output_mask = batch
    logits = model(inputs, training=training)
    cross_entropy = tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=logits)
    count = tf.cast(tf.size(cross_entropy), tf.float32)
    return (tf.reduce_sum(cross_entropy), count), {
        "bit_errors": copy_series.bit_errors(logits, targets, output_mask)
    }


def evaluation_set(config: Config) -> tf.data.Dataset:
    """Fixed series of the final length, seeded apart from the training batches."""
    length = config.series_lengths[-1]
    batches = []
    for index in range(0, config.eval_series, 32):
        size = min(32, config.eval_series - index)
        batches.append(
            copy_series.make_batch(
                tf.constant([config.seed + 1_000_003, index], tf.int64),
                size,
                length,
                config.sequence_length,
                config.bits,
            )
        )
    dataset = tf.data.Dataset.from_tensors(batches[0])
    for batch in batches[1:]:
        dataset = dataset.concatenate(tf.data.Dataset.from_tensors(batch))
    return dataset


def memory_trace(config: Config, model: keras.Model) -> dict:
    """Runs one series of the final length with a recording twin of the trained cell."""
    recorder = build_model(config, record=True)
    recorder.set_weights(model.get_weights())
    inputs, targets, _ = copy_series.make_batch(
        tf.constant([config.seed + 7, 0], tf.int64),
        1,
        config.series_lengths[-1],
        config.sequence_length,
        config.bits,
    )
    parts = dnc.split_record(
        recorder(inputs), config.bits + 1, config.memory_size, config.num_reads
    )
    trace = {name: np.asarray(value[0]) for name, value in parts.items()}
    trace["inputs"], trace["targets"] = np.asarray(inputs[0]), np.asarray(targets[0])
    return trace


def main(config: Config) -> dict:
    """Trains (or resumes) along the curriculum, evaluates, draws Fig. 8.9; returns results."""
    _check_config(config)
    context = runs.start_run(config, EXPERIMENT_ID)
    run_log = context.run_log
    try:
        total = config_lib.total_steps(config, config.num_steps)
        with context.strategy.scope():
            model = build_model(config)
            model.build((None, None, config.bits + 1))
            optimizer = build_optimizer(config, total)
        run_log.print(
            f"DNC N={config.memory_size}, W={config.word_size}, R={config.num_reads}, "
            f"feed-forward controller: {model.count_params():,} parameters; curriculum "
            f"{list(config.series_lengths)} at steps {[0, *config.switch_steps]}"
        )
        train_step, checkpointer = runs.make_engine(config, context, model, optimizer, compute_loss)
        evaluate = step.make_evaluate(model, compute_loss)
        eval_data = evaluation_set(config)

        def batches(start_step):
            return copy_series.train_batches(
                start_step,
                num_steps=total,
                batch_size=config.batch_size,
                seed=config.seed,
                series_lengths=config.series_lengths,
                switch_steps=config.switch_steps,
                sequence_length=config.sequence_length,
                bits=config.bits,
            )

        summary = loop.train(
            train_step,
            batches,
            num_steps=total,
            checkpointer=checkpointer,
            run_log=run_log,
            evaluate=lambda _: evaluate(eval_data),
            eval_every=config.eval_every,
            histogram_every=0,
            examples_per_step=config.batch_size,
            resume_hint=context.resume_command,
        )
        evaluation = evaluate(eval_data)
        trace = memory_trace(config, model)
        memory_figures.plot_copy_trace(trace, run_log.figure_path(FIGURES[0]))
        memory_figures.plot_learning_curve(
            context.workdir / "metrics.jsonl", "bit_errors", run_log.figure_path(FIGURES[1])
        )
        finite = bool(np.all([np.all(np.isfinite(w)) for w in model.get_weights()]))
        run_log.print(
            f"Series of {config.series_lengths[-1]}: {evaluation['bit_errors']:.3f} wrong bits "
            f"per sequence (goal <= 0.1), BCE {evaluation['cost']:.4f}; weights finite: {finite}"
        )
        results = {
            "bit_errors_per_sequence": evaluation["bit_errors"],
            "eval_cost": evaluation["cost"],
            "final_series_length": config.series_lengths[-1],
            "weights_finite": finite,
            "steps": summary["steps"],
            "train_seconds": summary["train_seconds"],
            "steps_per_sec": summary["steps_per_sec"],
            "parameters": model.count_params(),
        }
        return runs.finish_run(context, config, results)
    finally:
        runs.close_run(context)


if __name__ == "__main__":
    print(main(config_lib.from_argv(Config, CONFIGS, sys.argv[1:])))
