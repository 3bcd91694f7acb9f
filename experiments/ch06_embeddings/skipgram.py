"""
Title: Skip-gram word2vec with NCE on a text8-style corpus, against gensim
Book: Chapter 6, "Implementing the Skip-Gram Architecture" (seed lines 3089-3302)
Description: embedding 128, skip_window 5, num_skips 4, 64 negatives, vocabulary 10,000.
Expected result: sensible neighbour lists (numbers, colours, pronouns cluster); the book's
lists come from text8 (17 M tokens), which is not offline; the offline corpus is 1.9 M tokens.

Two objectives on one model (`fdl_tf2.models.word2vec`):
- `book` preset: the book's `tf.nn.nce_loss` with 64 log-uniform negatives per batch of 32
  `generate_batch` pairs, SGD 0.1, 5 epochs, cost lines every 2,000 steps and neighbour lists
  every 10,000 (about 1.2 M steps on this corpus).
- `cpu` preset: word2vec's negative sampling with the same 64 negatives shared by groups of
  pairs, large batches, frequent-word subsampling and gensim's linearly decaying rate, the
  pairs generated in tf.data (no Python per pair).
Either run reports the 20 x 8 neighbour lists, WordSim353 / SimLex-999 Spearman rho and
analogy accuracy with their coverage, writes Fig. 6.21 (t-SNE of the 500 most frequent
words, perplexity 30, PCA init) and the TensorBoard projector, and with `--compare_gensim`
trains `gensim.models.Word2Vec` on the same corpus, vocabulary and settings in the same run.
The export serves `embed` (words -> vectors, in_vocabulary) and `nearest` (words, k ->
neighbours, similarities) from raw strings.
"""

import dataclasses
from datetime import datetime, timezone

import keras
import numpy as np

from fdl_tf2 import config as config_lib
from fdl_tf2.data import text_corpus
from fdl_tf2.export import saved_model
from fdl_tf2.models import word2vec
from fdl_tf2.training import epochs as epoch_training
from fdl_tf2.training import loop, runs
from fdl_tf2.viz import embeddings as embedding_figures

EXPERIMENT_ID = "ch06.skipgram"

FIGURES = ("fig6_21_tsne",)  # Checked by the smoke tests.
SIGNATURES = ("embed", "nearest")  # Of the export (reloaded by the smoke tests).
OBJECTIVES = ("nce", "negative_sampling")


@dataclasses.dataclass(frozen=True)
class Config(config_lib.ExportConfig):
    """Defaults are the "book" preset (the repository's `skipgram.py`)."""

    corpus: str = "gutenberg"  # text_corpus.CORPORA, or "lee" (gensim's 60k-token test corpus).
    max_tokens: int = 0  # Use only the first N tokens; 0 means the whole corpus.
    vocabulary_size: int = 10_000
    embedding_size: int = 128
    skip_window: int = 5
    num_skips: int = 4  # Context words per centre (book); the fast path uses gensim's window.
    num_sampled: int = 64  # The book's neg_size.
    objective: str = "nce"  # Or "negative_sampling" (the fast path).
    batch_size: int = 32
    learning_rate: float = 0.1  # Plain SGD (line 3133); negative sampling: the rate per pair.
    lr_schedule: str = "constant"  # Or "linear": decay to 1e-4 of it over the run (gensim).
    initialization: str = "book"  # Or "word2vec": U(+-0.5 / d) inputs, zero outputs (gensim).
    epochs: int = 5
    sample: float = 0.0  # Frequent-word subsampling threshold (the book: none; gensim 1e-3).
    display_step: int = 2000  # Steps between cost lines (the book's display_step).
    val_step: int = 10_000  # Steps between neighbour lists; 0 means once per epoch.
    tsne_words: int = 500  # Fig. 6.21: the most frequent words (UNK included, as the book).
    tsne_iterations: int = 5000
    compare_gensim: bool = False  # Also train gensim's skip-gram with the same settings.


# 2 CPU cores, minutes: the fast path with gensim's settings (per-pair rate 0.025 decayed
# linearly, subsampling 1e-3, its initialisation), XLA, compared with gensim in the run.
_CPU = dict(
    objective="negative_sampling",
    batch_size=word2vec.FAST_BATCH_SIZE,
    learning_rate=word2vec.FAST_LEARNING_RATE,
    lr_schedule="linear",
    sample=1e-3,
    initialization="word2vec",
    jit_compile=True,
    val_step=0,
    compare_gensim=True,
)

CONFIGS = {
    # Seconds, no dataset files: gensim's bundled 60k-token corpus.
    "smoke": dict(
        corpus="lee",
        vocabulary_size=1000,
        embedding_size=16,
        epochs=1,
        batch_size=256,
        display_step=50,
        val_step=0,
        tsne_words=60,
        tsne_iterations=250,
        verify_export=True,
    ),
    "book": dict(),
    "cpu": _CPU,
    # `make ch06`: the cpu race for one epoch, not exported (a minute or two for each library).
    "quick": dict(_CPU, epochs=1, export=False),
}


def read_corpus(config: Config) -> list[str]:
    if config.corpus == "lee":
        from gensim.test.utils import datapath

        with open(datapath("lee_background.cor"), encoding="utf8") as text:
            words = text_corpus.text8_words(text.read())
    else:
        words = text_corpus.read_words(config.corpus, data_dir=config.data_dir)
    return words[: config.max_tokens] if config.max_tokens else words


def _optimizer(config: Config, total_steps: int) -> keras.optimizers.SGD:
    """Plain SGD. Negative sampling's rate is per pair (x batch size for the batch mean)."""
    if config.objective == "negative_sampling":
        if config.lr_schedule != "linear":
            raise ValueError(
                "--objective=negative_sampling decays linearly (--lr_schedule=linear)."
            )
        return word2vec.make_sgd(
            total_steps, batch_size=config.batch_size, learning_rate=config.learning_rate
        )
    if config.lr_schedule == "constant":
        return keras.optimizers.SGD(config.learning_rate)
    if config.lr_schedule == "linear":
        return keras.optimizers.SGD(
            keras.optimizers.schedules.PolynomialDecay(
                config.learning_rate, total_steps, end_learning_rate=config.learning_rate * 1e-4
            )
        )
    raise ValueError(f"Unknown lr_schedule {config.lr_schedule!r}; expected constant or linear.")


def _batches(config: Config, ids: np.ndarray, vocabulary: text_corpus.Vocabulary):
    """`(batches(start_step), steps_per_epoch, compute_loss)` of the configured objective."""
    if config.objective == "nce":
        data = text_corpus.SkipGramData(
            ids, num_skips=config.num_skips, skip_window=config.skip_window, shuffle=False
        )
        book_stream = data.train_stream(batch_size=config.batch_size, seed=config.seed)

        def stream(start_step):  # The book's labels are (batch, 1); the loss takes (batch,).
            return book_stream(start_step).map(lambda centres, labels: (centres, labels[:, 0]))

        loss = word2vec.make_nce_loss(config.num_sampled, seed=config.seed)
        return stream, data.steps_per_epoch(config.batch_size), loss
    if config.objective == "negative_sampling":
        stream, steps = word2vec.fast_batches(
            ids,
            vocabulary.counts,
            batch_size=config.batch_size,
            num_negatives=config.num_sampled,
            window=config.skip_window,
            sample=config.sample,
            seed=config.seed,
        )
        return stream, steps, word2vec.negative_sampling_loss
    raise ValueError(f"Unknown objective {config.objective!r}; expected one of {OBJECTIVES}.")


def main(config: Config) -> dict:
    """Trains the skip-gram (and gensim's); returns the metrics (also results.json)."""
    words = read_corpus(config)
    ids, vocabulary = text_corpus.build_vocabulary(words, config.vocabulary_size)
    context = runs.start_run(config, EXPERIMENT_ID)
    run_log = context.run_log
    try:
        batches, steps_per_epoch, compute_loss = _batches(config, ids, vocabulary)
        total = config_lib.total_steps(config, config.epochs * steps_per_epoch)
        with context.strategy.scope():
            model = word2vec.build_skipgram(
                len(vocabulary.words),
                config.embedding_size,
                initialization=config.initialization,
                seed=config.seed,
            )
            optimizer = _optimizer(config, total)
        train_step, checkpointer = runs.make_engine(config, context, model, optimizer, compute_loss)
        layer = word2vec.skipgram_layer(model)
        query_ids = word2vec.validation_ids(span=min(500, len(vocabulary.words)), seed=config.seed)

        def evaluate(step: int) -> dict[str, float]:
            matrix = keras.ops.convert_to_numpy(layer.embeddings)
            for line in word2vec.neighbour_lines(matrix, vocabulary.words, query_ids):
                run_log.print(line)
            return word2vec.evaluate(matrix, vocabulary.words)

        summary = loop.train(
            train_step,
            batches,
            num_steps=total,
            checkpointer=checkpointer,
            run_log=run_log,
            evaluate=evaluate,
            eval_every=config.val_step or steps_per_epoch,
            steps_per_epoch=steps_per_epoch,
            histogram_every=0,
            examples_per_step=config.batch_size,
            resume_hint=context.resume_command,
        )
        matrix = keras.ops.convert_to_numpy(layer.embeddings)
        quality = word2vec.evaluate(matrix, vocabulary.words)
        tokens = len(ids) * summary["steps"] / steps_per_epoch
        results = {
            **quality,
            "words_per_sec": tokens / summary["train_seconds"] if summary["train_seconds"] else 0,
            "neighbours": word2vec.neighbour_lines(matrix, vocabulary.words, query_ids),
            "corpus": {
                "name": config.corpus,
                "tokens": len(ids),
                "unknown": int(vocabulary.counts[0]),
            },
            "steps": summary["steps"],
            "train_seconds": summary["train_seconds"],
            "steps_per_sec": summary["steps_per_sec"],
            "parameters": model.count_params(),
        }
        if config.compare_gensim:
            results["gensim"] = _gensim(config, ids, vocabulary)
            ratio = results["words_per_sec"] / results["gensim"]["words_per_sec"]
            results["words_per_sec_vs_gensim"] = ratio
            run_log.print(
                f"ours {results['words_per_sec']:,.0f} words/s, WordSim353 rho "
                f"{quality['wordsim353_rho']:.3f}; gensim {results['gensim']['words_per_sec']:,.0f}"
                f" words/s, rho {results['gensim']['wordsim353_rho']:.3f} ({ratio:.2f}x speed)"
            )
        normalized = word2vec.normalize(matrix)
        shown = min(config.tsne_words, len(vocabulary.words))
        points = embedding_figures.tsne_embedding(
            normalized[:shown], seed=config.seed, max_iter=config.tsne_iterations, num_threads=1
        )
        embedding_figures.plot_with_labels(
            points, vocabulary.words[:shown], run_log.figure_path("fig6_21_tsne")
        )
        embedding_figures.write_projector(
            context.workdir / "tensorboard" / "projector", normalized, vocabulary.words, "words"
        )
        if config.export and context.chief:
            results["export"] = str(export(config, context, model, vocabulary, quality))
        return runs.finish_run(context, config, results)
    finally:
        runs.close_run(context)


def _gensim(config: Config, ids: np.ndarray, vocabulary: text_corpus.Vocabulary) -> dict:
    matrix, seconds = word2vec.train_gensim(
        ids,
        vocabulary.words,
        vocabulary.counts,
        embedding_size=config.embedding_size,
        window=config.skip_window,
        negative=config.num_sampled,
        epochs=config.epochs,
        sample=config.sample,
        workers=2,
        seed=config.seed + 1,
    )
    return {
        **word2vec.evaluate(matrix, vocabulary.words),
        "words_per_sec": len(ids) * config.epochs / seconds,
        "train_seconds": seconds,
        "neighbours": word2vec.neighbour_lines(
            matrix, vocabulary.words, word2vec.validation_ids(seed=config.seed)
        ),
    }


def export(config: Config, context: runs.RunContext, model, vocabulary, quality: dict):
    """Exports `embed` and `nearest` over raw strings as `word2vec`."""
    service = word2vec.WordVectors(model, vocabulary.words)
    # Two known words, the empty string and an unknown word (fixed-width bytes: no pickling).
    samples = [vocabulary.words[1], vocabulary.words[2], "", "qzxv"]
    words = np.array([word.encode() for word in samples], dtype=np.bytes_)
    path = saved_model.export(
        "word2vec",
        endpoints=service.endpoints(),
        samples={"embed": (words,), "nearest": (words, np.int32(8))},
        track=[service, model],
        export_dir=_export_dir(config, context),
        verify=config.verify_export,
        facts={
            "experiment": EXPERIMENT_ID,
            "corpus": config.corpus,
            "wordsim353_rho": round(quality["wordsim353_rho"], 4),
            "exported": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        },
    )
    context.run_log.print(f"Exported and verified {path}")
    return path


def _export_dir(config: Config, context: runs.RunContext):
    # gensim's tiny test corpus is the smoke preset's: export under the run, as synthetic data.
    tiny = "synthetic" if config.corpus == "lee" else config.corpus
    return epoch_training.export_dir(config, context, tiny)


if __name__ == "__main__":
    import sys

    print(main(config_lib.from_argv(Config, CONFIGS, sys.argv[1:])))
