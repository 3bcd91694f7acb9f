"""Training throughput of the chapter-6 skip-gram: our fast path against gensim's Word2Vec.

Book section: chapter 6, "Implementing the Skip-Gram Architecture". This is the race that
`experiments/ch06_embeddings/skipgram.py --config=cpu` runs once at the end of a run
(`compare_gensim`). Here it runs in one process, on a bounded slice of the corpus, with
interleaved, repeated measurements. Both contenders use the cpu preset's settings, which are
read from the experiment (`skipgram.CONFIGS["cpu"]`): a 10,000-word vocabulary, embedding 128,
window 5, 64 negatives, subsampling 1e-3, a per-pair rate of 0.025 decaying linearly to 1e-4.
Both get the same vocabulary: the 10,000 most frequent words of the slice raced on.

  (a) ours: the preset's training path, built by the experiment's own helpers so the two cannot
      drift apart. `skipgram._batches` gives the `word2vec.fast_batches` tf.data stream
      (reduced windows, subsampling and 64 negatives shared per batch of 256 pairs, one epoch
      generated at a time), `negative_sampling_loss` and the steps per epoch. The model is
      `word2vec.build_skipgram(initialization="word2vec")` and the optimizer
      `skipgram._optimizer` (`word2vec.make_sgd`). `step.make_train_step` runs them with
      `steps_per_call=100` and `jit_compile=True` (`common.make_engine_runner`: one iterator
      opened as `loop.train` opens it, totals read on the host after every call).
  (b) gensim: `word2vec.train_gensim`, i.e. `gensim.models.Word2Vec(sg=1)` with workers=2 and
      seed + 1, as the experiment calls it. It gets the same token ids and exactly our
      vocabulary and counts (`build_vocab_from_freq`), with the same dimension, window,
      negatives and sample.

How: `common.measure_interleaved`. Every contender gets one untimed warm-up measurement (for
(a): tracing, XLA compilation, the first epoch's pairs). Then come `--repeats` rounds; in
each, (a) trains `--epochs-per-rep` epochs and then (b) trains a fresh model for as many
epochs. A measurement's words/s is corpus tokens x epochs / training seconds, as the experiment
counts it. Tokens are the ids after `--max-tokens`, UNK included, the same count for both.
Timed: (a) the engine calls, host sync included, and then the wait for the stream's background
build of the next epoch (`wait_until_idle`, so that it does not run while gensim is timed).
(b) `Word2Vec.train` only: `train_gensim` starts its clock after `build_vocab_from_freq` and
stops it before reading the vectors out.
Untimed for both: reading the corpus and building the vocabulary. The medians are reported,
then the per-repeat ratios ours/gensim and the target "ours >= 1.0x gensim" (`common.not_slower`:
PASS, NOISE or FAIL).

Usage:
  python benchmarks/bench_skipgram.py [--repeats 3] [--epochs-per-rep 1] [--max-tokens 500000]
      [--corpus gutenberg|gutenberg_no_bible|text8|lee] [--data-dir DIR] [--quick]
      [--output runs/bench/bench_skipgram.json]
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import dataclasses  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # For `benchmarks.common`.

from benchmarks import common  # noqa: E402
from benchmarks.common import Runner  # noqa: E402
from experiments.ch06_embeddings import skipgram  # noqa: E402
from fdl_tf2.data import download, text_corpus  # noqa: E402
from fdl_tf2.models import word2vec  # noqa: E402
from fdl_tf2.training import step  # noqa: E402

PRESET = skipgram.Config(**skipgram.CONFIGS["cpu"])
"""The experiment's cpu preset: the settings both contenders train with."""
CORPORA = (*text_corpus.CORPORA, "lee")
"""`lee` is gensim's bundled `lee_background.cor` (about 60k tokens), used only when asked."""
DEFAULT_MAX_TOKENS = 500_000
"""About 2-3 minutes for a default run on 2 cores (4 epochs per contender, warm-up included)."""
QUICK_TOKENS = 100_000
DEFAULT_REPEATS = 3
GENSIM_WORKERS = 2
"""As the experiment's `_gensim` (one per core of the 2-core machine)."""
TARGET = 1.0
"""The goal: ours at least as fast as gensim, in words/s."""

OURS = "(a) ours fast path xla"
GENSIM = "(b) gensim word2vec"


def bench_config(
    corpus: str = PRESET.corpus, max_tokens: int = 0, data_dir: str | None = None
) -> skipgram.Config:
    """The cpu preset with the benchmark's corpus, its first `max_tokens` tokens (0: all) and
    the data root (None: $FDL_DATA_DIR, else the per-user cache)."""
    return dataclasses.replace(PRESET, corpus=corpus, max_tokens=max_tokens, data_dir=data_dir)


def read_ids(config: skipgram.Config) -> tuple[np.ndarray, text_corpus.Vocabulary]:
    """The experiment's corpus and vocabulary: `(ids (num_tokens,) int32, UNK = 0, Vocabulary)`.

    Raises:
      SystemExit: the corpus files are missing or corrupt; the message names the files, where
        they were looked for, and `--corpus lee`.
    """
    try:
        words = skipgram.read_corpus(config)
    except (download.DatasetNotFoundError, download.ChecksumError) as error:
        raise SystemExit(
            f"error: {error}\nOr race on gensim's bundled 60k-token corpus: --corpus lee."
        ) from None
    return text_corpus.build_vocabulary(words, config.vocabulary_size)


# --- The contenders ---------------------------------------------------------------------------


IDLE_INTERVAL_S = 0.02
IDLE_BUSY_FRACTION = 0.1
"""The process counts as idle once its CPU time grows by < 10 % of one core over 20 ms."""


def wait_until_idle(
    interval: float = IDLE_INTERVAL_S, busy_fraction: float = IDLE_BUSY_FRACTION
) -> float:
    """Sleeps until this process is idle (see `IDLE_BUSY_FRACTION`); returns the seconds waited.

    (a)'s stream builds the next epoch's pairs in tf.data's background threads. The build is
    triggered as the stream crosses into an epoch, so it would otherwise run during the next
    contender's measurement.
    """
    start = time.perf_counter()
    while True:
        cpu_seconds = time.process_time()
        time.sleep(interval)
        if time.process_time() - cpu_seconds < busy_fraction * interval:
            return time.perf_counter() - start


@dataclasses.dataclass(frozen=True)
class Ours:
    """(a) ready to race: `run(num_epochs) -> seconds` trains exactly `num_epochs` epochs and
    then waits (timed) for the stream's background work to end (`wait_until_idle`)."""

    run: Runner
    tracing_count: Callable[[], int]  # Traces of the compiled multi-step function (1 expected).
    model: keras.Model  # `word2vec.build_skipgram`: centre ids (batch,) -> embeddings (batch, d).
    optimizer: keras.optimizers.Optimizer
    batches: Callable[[int], tf.data.Dataset]  # The training stream, `batches(start_step)`.
    compute_loss: step.ComputeLoss  # `word2vec.negative_sampling_loss`.
    steps_per_epoch: int
    idle_waits: list[float]  # Per call of `run`: the seconds of it spent in `wait_until_idle`.


def make_ours(
    config: skipgram.Config,
    ids: np.ndarray,
    vocabulary: text_corpus.Vocabulary,
    *,
    total_epochs: int,
) -> Ours:
    """(a): the experiment's `_batches`, `build_skipgram` and `_optimizer`, run by the engine.

    The rate decays linearly over `total_epochs` epochs: every epoch the benchmark trains,
    warm-up included, so the decay spans the whole benchmark as it spans a run.

    A run builds each epoch's pairs in the background while it trains on the one before.
    Here the build that the end of a measurement triggers is waited for inside that
    measurement (`wait_until_idle`). So each measurement pays for one epoch's build, after its
    training rather than overlapped with it, and none of (a)'s work runs while gensim is timed.

    Args:
      ids: int32 `(num_tokens,)` from `read_ids`.
    """
    batches, steps_per_epoch, compute_loss = skipgram._batches(config, ids, vocabulary)
    model = word2vec.build_skipgram(
        len(vocabulary.words),
        config.embedding_size,
        initialization=config.initialization,
        seed=config.seed,
    )
    optimizer = skipgram._optimizer(config, total_epochs * steps_per_epoch)
    run_steps, tracing_count = common.make_engine_runner(
        model,
        optimizer,
        batches,
        steps_per_call=config.steps_per_execution,
        jit_compile=config.jit_compile,
        compute_loss=compute_loss,
    )
    idle_waits: list[float] = []

    def run(num_epochs: int) -> float:
        seconds = run_steps(num_epochs * steps_per_epoch)
        idle_waits.append(wait_until_idle())
        return seconds + idle_waits[-1]

    return Ours(
        run, tracing_count, model, optimizer, batches, compute_loss, steps_per_epoch, idle_waits
    )


def gensim_arguments(config: skipgram.Config, num_epochs: int) -> dict[str, Any]:
    """The keyword arguments of `word2vec.train_gensim`, as the experiment's `_gensim` sets them."""
    return dict(
        embedding_size=config.embedding_size,
        window=config.skip_window,
        negative=config.num_sampled,
        epochs=num_epochs,
        sample=config.sample,
        workers=GENSIM_WORKERS,
        seed=config.seed + 1,
    )


def make_gensim_runner(
    config: skipgram.Config, ids: np.ndarray, vocabulary: text_corpus.Vocabulary
) -> Runner:
    """(b): `run(num_epochs) -> seconds` of `Word2Vec.train` on a fresh gensim model.

    Each call builds the model and its vocabulary (untimed, in `train_gensim`) and trains
    `num_epochs` epochs, its rate decaying over them.

    Raises (from the runner):
      RuntimeError: gensim returned non-finite vectors.
    """

    def run(num_epochs: int) -> float:
        embeddings, seconds = word2vec.train_gensim(
            ids, vocabulary.words, vocabulary.counts, **gensim_arguments(config, num_epochs)
        )
        if not np.isfinite(embeddings).all():
            raise RuntimeError("gensim produced non-finite vectors.")
        return seconds

    return run


def gensim_info() -> dict[str, Any]:
    """gensim's version and `FAST_VERSION` (>= 0: its compiled training routines run)."""
    import gensim
    from gensim.models import word2vec as gensim_word2vec

    return {"version": gensim.__version__, "fast_version": int(gensim_word2vec.FAST_VERSION)}


# --- Timing and verdict -----------------------------------------------------------------------


def race(
    runners: dict[str, Runner],
    *,
    num_tokens: int,
    epochs_per_rep: int,
    repeats: int,
    tracing_counts: dict[str, Callable[[], int]] | None = None,
) -> dict[str, list[float]]:
    """One warm-up each, then `repeats` interleaved measurements of `epochs_per_rep` epochs.

    Returns:
      contender name -> its `repeats` samples in words/s, each
      `num_tokens * epochs_per_rep / seconds`.
    """
    return common.measure_interleaved(
        runners,
        {},
        num_steps=epochs_per_rep,
        repeats=repeats,
        items_per_step=num_tokens,
        tracing_counts=tracing_counts,
    )


def summarize(
    samples: dict[str, list[float]], *, num_tokens: int, steps_per_epoch: int, batch_size: int
) -> dict[str, Any]:
    """The medians, the per-repeat ratios ours/gensim and the target line.

    Args:
      samples: `race`'s, for `OURS` and `GENSIM`.
      num_tokens: corpus tokens per epoch.
      steps_per_epoch, batch_size: (a)'s steps per epoch and pairs per step.

    Returns:
      `contenders` (per name: the median words/s, seconds per epoch, the samples, ours'
      ratio over it; for (a) also its steps/s and pairs/s), `per_repeat_ratios`,
      `median_per_repeat_ratio` and `targets`.
    """
    contenders: dict[str, dict[str, Any]] = {}
    for name, rates in samples.items():
        words_per_sec = statistics.median(rates)
        contenders[name] = {
            "words_per_sec": words_per_sec,
            "seconds_per_epoch": num_tokens / words_per_sec,
            "samples_words_per_sec": rates,
        }
    steps_per_sec = contenders[OURS]["words_per_sec"] * steps_per_epoch / num_tokens
    contenders[OURS]["steps_per_sec"] = steps_per_sec
    contenders[OURS]["pairs_per_sec"] = steps_per_sec * batch_size
    for row in contenders.values():
        row["ours_ratio"] = contenders[OURS]["words_per_sec"] / row["words_per_sec"]
    ratios = [ours / other for ours, other in zip(samples[OURS], samples[GENSIM], strict=True)]
    verdict = common.not_slower(samples[OURS], samples[GENSIM], factor=TARGET)
    return {
        "contenders": contenders,
        "ours": OURS,
        "per_repeat_ratios": ratios,
        "median_per_repeat_ratio": statistics.median(ratios),
        "targets": {
            "ours_vs_gensim": (
                f"ours >= {TARGET:.1f}x gensim: {verdict} "
                f"(ratio of the medians {contenders[GENSIM]['ours_ratio']:.2f}x)"
            )
        },
    }


# --- Report ---------------------------------------------------------------------------------


def print_table(results: dict[str, Any]) -> None:
    print()
    corpus = results["corpus"]
    print(f"{results['benchmark']}: {corpus['tokens']:,} tokens of {corpus['name']}")
    print(f"{'contender':<26} {'words/s':>9} {'s/epoch':>8} {'ours/x':>7}")
    for name, row in results["contenders"].items():
        print(
            f"{name:<26} {row['words_per_sec']:>9,.0f} {row['seconds_per_epoch']:>8.2f} "
            f"{row['ours_ratio']:>6.2f}x"
        )
    ours = results["contenders"][OURS]
    print(
        f"(a): {ours['steps_per_sec']:,.0f} steps/s of {results['settings']['batch_size']} "
        f"pairs, {ours['pairs_per_sec']:,.0f} pairs/s"
    )
    ratios = " ".join(f"{ratio:.2f}x" for ratio in results["per_repeat_ratios"])
    print(f"Per-repeat ours/gensim: {ratios} (median {results['median_per_repeat_ratio']:.2f}x)")
    print(f"Load average during the run: {results['load_average']}")
    for line in results["targets"].values():
        print(line)


def make_parser() -> common.ArgumentParser:
    parser = common.ArgumentParser(
        __doc__, script="bench_skipgram", default_repeats=DEFAULT_REPEATS, quick_steps=1
    )
    parser.add_argument(
        "--epochs-per-rep", type=int, default=1, help="Epochs per measurement (default 1)."
    )
    parser.add_argument(
        "--max-tokens",
        type=int,
        default=DEFAULT_MAX_TOKENS,
        help=f"Race on the corpus' first N tokens (default {DEFAULT_MAX_TOKENS:,}; 0: all).",
    )
    parser.add_argument(
        "--corpus",
        choices=CORPORA,
        default=PRESET.corpus,
        help="Default gutenberg (offline, 1.9 M tokens); lee: gensim's bundled test corpus.",
    )
    parser.add_argument(
        "--data-dir",
        "--data_dir",
        dest="data_dir",
        default=None,
        help="Dataset root (default $FDL_DATA_DIR, else the per-user cache).",
    )
    # The shared flags, as they read here (`make bench` passes the same ARGS to every script).
    helps = {
        "quick": f"1 repeat of 1 epoch over {QUICK_TOKENS:,} tokens: a sanity check.",
        "skip_torch": "Accepted and ignored: this race has no PyTorch contender.",
    }
    for action in parser._actions:
        action.help = helps.get(action.dest, action.help)
    return parser


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = make_parser()
    args = parser.parse_args(argv)
    repeats, epochs_per_rep = parser.repeats_and_steps(
        args, args.epochs_per_rep, steps_flag="--epochs-per-rep"
    )
    max_tokens = QUICK_TOKENS if args.quick else args.max_tokens
    if max_tokens < 0:
        parser.error(f"--max-tokens must be >= 0 (0: the whole corpus), got {max_tokens}.")
    args.skip_torch = True  # No PyTorch here: never import it.

    config = bench_config(args.corpus, max_tokens, args.data_dir)
    ids, vocabulary = read_ids(config)
    num_tokens = len(ids)
    ours = make_ours(config, ids, vocabulary, total_epochs=(repeats + 1) * epochs_per_rep)
    session = common.start_session(
        "bench_skipgram",
        argv,
        args,
        repeats=repeats,
        num_steps=epochs_per_rep * ours.steps_per_epoch,
    )
    print(
        f"Corpus {config.corpus}: {num_tokens:,} tokens, vocabulary {len(vocabulary.words):,}"
        f", UNK {vocabulary.counts[0] / num_tokens:.1%}. A measurement: {epochs_per_rep} "
        f"epoch(s); (a) {epochs_per_rep * ours.steps_per_epoch:,} steps of {config.batch_size} "
        f"pairs, (b) Word2Vec.train with {GENSIM_WORKERS} workers."
    )

    runners = {OURS: ours.run, GENSIM: make_gensim_runner(config, ids, vocabulary)}
    samples = race(
        runners,
        num_tokens=num_tokens,
        epochs_per_rep=epochs_per_rep,
        repeats=repeats,
        tracing_counts={OURS: ours.tracing_count},
    )
    summary = summarize(
        samples,
        num_tokens=num_tokens,
        steps_per_epoch=ours.steps_per_epoch,
        batch_size=config.batch_size,
    )
    return session.finish(
        f"chapter-6 skip-gram, negative sampling ({config.num_sampled} negatives, window "
        f"{config.skip_window}, d {config.embedding_size}, {len(vocabulary.words):,} words): "
        "ours vs gensim Word2Vec",
        {
            "corpus": {
                "name": config.corpus,
                "max_tokens": max_tokens,
                "tokens": num_tokens,
                "unknown": int(vocabulary.counts[0]),
                "vocabulary_size": len(vocabulary.words),
            },
            "epochs_per_measurement": epochs_per_rep,
            "ours_steps_per_epoch": ours.steps_per_epoch,
            # Per (a) measurement, warm-up first: the timed wait for the stream's next epoch.
            "ours_idle_wait_seconds": ours.idle_waits,
            "settings": {
                "objective": config.objective,
                "embedding_size": config.embedding_size,
                "window": config.skip_window,
                "negatives": config.num_sampled,
                "sample": config.sample,
                "batch_size": config.batch_size,
                "learning_rate_per_pair": config.learning_rate,
                "lr_schedule": config.lr_schedule,
                "initialization": config.initialization,
                "jit_compile": config.jit_compile,
                "steps_per_call": config.steps_per_execution,
                "intra_op_threads": common.intra_op_threads(),
                "gensim_workers": GENSIM_WORKERS,
            },
            "gensim": gensim_info(),
            **summary,
        },
        print_table,
    )


if __name__ == "__main__":
    main()
