"""
Title: Neural machine translation with attention (English -> French)
Book: Chapter 7, "Neural Machine Translation" (seed lines 4212-5319; repository `seq2seq/`:
    `translate.py`, `seq2seq_model.py`, `seq2seq.py`, `data_utils.py`), Figs. 7.31-7.33
Description: the book's bucketed GRU encoder-decoder with additive attention and input
    feeding, sampled softmax (512) in training, SGD 0.5 with its x0.99 decay rule and
    global-norm clipping 5, a checkpoint and per-bucket dev perplexity every 200 steps; greedy
    and beam-search decoding in the graph; sacreBLEU; a translator served from raw strings.
Expected result: the book trains on WMT'10 giga-fren for 4 days on 8 GPUs and reports only
    perplexities (train 3.78 at 450k steps). Here: Multi30k (29,000 caption pairs), BLEU on
    test_2016_flickr; acceptance >= 45 sacreBLEU en->fr with beam search.

Data (`fdl_tf2.data.multi30k`, `fdl_tf2.data.translation`): the raw Multi30k task-1 files,
tokenised with the book's `basic_tokenizer`, digits -> 0, vocabularies from the training
split (START_VOCAB ids 0-3, then by frequency, capped at `*_vocabulary_size`: 40,000 keeps
every type), the repository's buckets (5,10), (10,15), (20,25), (40,50) (`buckets="book_text"`
for the text's (30,40)), the source reversed, EOS appended to the target, GO in front of the
decoder input. Each step draws a bucket in proportion to its size and a batch with
replacement from it (the book's `get_batch`), as a pure function of (seed, step), so a
resumed run continues exactly. `val` gives the dev perplexity, `test_2016_flickr` the BLEU.
`dataset="toy"` is a rule-based English -> pseudo-French corpus that moves adjectives behind
their nouns (`fdl_tf2.data.toy_translation`; seconds, for tests). For real WMT files,
`translation.prepare_wmt_data` builds the book's vocabulary and id files.

Model (`fdl_tf2.models.seq2seq`): see its docstring. The book's text and code disagree in
several places (errata 28-39): the default is the code (GRU cells, additive attention on the
new state, GO); `attention="dot_previous"` is the text's recipe. Losses: sampled softmax in
training (`num_samples`), the full softmax for dev perplexity and decoding
(`sampled_eval_loss=True` reproduces the repository's sampled dev loss, which is optimistic).

Console: the book's lines every `steps_per_checkpoint` steps,
    global step 200 learning rate 0.5000 step-time 0.61 perplexity 1538.98
      eval: bucket 0 perplexity 164.05
where "perplexity" is exp of the interval's mean training loss (sampled softmax) and the eval
lines are the teacher-forced dev perplexity of each bucket, here over the WHOLE dev split (the
book used one random batch per bucket).

Decoding: greedy (the book's `decode()`) and beam search with length normalisation, both
`tf.while_loop`s inside the exported graph (`fdl_tf2.models.seq2seq_decoding`). `--decode`
starts the book's interactive loop (prompt "> ") on the run's latest checkpoint. Over-long
input is cut to the largest bucket's source length, not crashed on.

Presets:
- "book": the repository's flags: 3 x 1024 GRU, vocabularies 40,000, SGD 0.5, decay x0.99,
  clip 5, batch 64, a checkpoint every 200 steps, 450,000 steps (its log). A GPU run.
- "cpu": sized for 2 CPU cores, documented with its measured figures below.
- "smoke": the toy corpus, seconds.

Exports `translator_<source>_<target>` (`fdl_tf2.export.translator`): `translate` and
`serving_default`, strings `(batch,)` -> `translations` `(batch,)` and scores, with the beam
size fixed at export (`beam_size`); `translate_with_attention` adds the attention matrices.
"""

import dataclasses
import math
import sys
import time
from datetime import datetime, timezone
from typing import Any, NamedTuple

import keras
import numpy as np
import tensorflow as tf

from fdl_tf2 import config as config_lib
from fdl_tf2.data import multi30k, toy_translation, translation
from fdl_tf2.export import saved_model
from fdl_tf2.export import translator as translator_export
from fdl_tf2.models import bleu, seq2seq
from fdl_tf2.training import epochs as epoch_training
from fdl_tf2.training import loop, runs, schedules
from fdl_tf2.viz import translation as translation_figures

EXPERIMENT_ID = "ch07.translation"
FIGURES = ("fig7_31_perplexity", "fig7_32_learning_rate", "fig7_33_attention")
SIGNATURES = (
    translator_export.TRANSLATE_KEY,
    saved_model.SIGNATURE_KEY,
    translator_export.ATTENTION_KEY,
)

DATASETS = ("multi30k", "toy")
BUCKET_SETS = {"repo": translation.BUCKETS, "book_text": translation.BOOK_TEXT_BUCKETS}
OPTIMIZERS = ("sgd", "adam")
LR_SCHEDULES = ("book_decay", "constant", "cosine")
ATTENTION_SENTENCES = {
    "en": "A little girl in a pink dress is running on the green grass .",
    "de": "Ein Mann , der einen roten Hut trägt , sitzt auf einer Bank .",
    "fr": "Une petite fille en robe rose court sur l' herbe verte .",
}
"""Fig. 7.33's sentence per SOURCE language, each with a change of word order: into French the
colours follow their nouns ("robe rose", "herbe verte"); from German the verb of the relative
clause comes last ("der einen roten Hut trägt" -> "who is wearing a red hat")."""

REFERENCE = {
    "book_train_perplexity_450k_steps": 3.78,
    "acceptance_bleu_en_fr_beam": 45.0,
    "bentrevett_attention_gru_de_en_bleu": 28.3,
}


@dataclasses.dataclass(frozen=True)
class Config(config_lib.ExportConfig):
    """Defaults are the "book" preset (the repository's `translate.py` flags)."""

    dataset: str = "multi30k"  # Or "toy" (no files; tests).
    source_language: str = "en"
    target_language: str = "fr"  # The book's direction; de -> en is the peers' benchmark.
    source_vocabulary_size: int = 40_000  # en_vocab_size.
    target_vocabulary_size: int = 40_000  # fr_vocab_size.
    buckets: str = "repo"  # _buckets (5,10),(10,15),(20,25),(40,50); "book_text": (30,40).
    reverse_source: bool = True  # Fig. 7.30.
    train_subset: int = 0  # max_train_data_size: 0 reads every pair.
    units: int = 1024  # size.
    num_layers: int = 3  # num_layers.
    embedding_size: int = 0  # 0: units (EmbeddingWrapper(embedding_size=size)).
    cell: str = "gru"  # use_lstm=False; "lstm".
    attention: str = "additive"  # The repository; "dot_previous": the book's text.
    dropout: float = 0.0  # The repository has none.
    num_samples: int = 512  # Sampled softmax negatives; 0 or >= vocabulary: full softmax.
    loss_average: str = "sequence"  # sequence_loss's per-sentence mean; "token".
    sampled_eval_loss: bool = False  # True: the repository's sampled-softmax dev loss.
    optimizer: str = "sgd"  # GradientDescentOptimizer; "adam".
    learning_rate: float = 0.5
    lr_schedule: str = "book_decay"  # x decay_factor when the loss > max of the last 3.
    learning_rate_decay_factor: float = 0.99
    max_gradient_norm: float = 5.0  # clip_by_global_norm.
    batch_size: int = 64
    steps_per_checkpoint: int = 200  # Console lines, dev perplexity and a checkpoint.
    num_steps: int = 450_000  # The book's log ends at step 450,000 (perplexity_data.txt).
    eval_batch_size: int = 128
    beam_size: int = 1  # Of the export and the reported BLEU; 1: the book's greedy decoder.
    length_penalty: float = 0.0  # GNMT alpha of the beam ranking; 0: plain log-probability.
    bleu_sentences: int = 0  # Test sentences scored; 0: all 1,000.
    decode: bool = False  # The book's interactive `--decode` loop on the latest checkpoint.
    checkpoints_to_keep: int = 5  # Saver(tf.all_variables()) keeps 5.


CONFIGS = {
    "smoke": dict(
        dataset="toy",
        units=24,
        num_layers=1,
        num_samples=16,
        optimizer="adam",
        learning_rate=0.01,
        lr_schedule="constant",
        batch_size=32,
        steps_per_checkpoint=40,
        num_steps=80,
        beam_size=3,
        length_penalty=0.6,
        eval_batch_size=64,
        steps_per_execution=20,
        checkpoints_to_keep=2,
        verify_export=False,
    ),
    "book": dict(),
    # Two CPU cores: one 256-unit GRU layer each side, Adam with a cosine decay.
    "cpu": dict(
        units=256,
        num_layers=1,
        optimizer="adam",
        learning_rate=2e-3,
        lr_schedule="cosine",
        loss_average="token",
        dropout=0.3,
        num_steps=8_000,
        steps_per_checkpoint=500,
        beam_size=5,
        length_penalty=0.6,
    ),
}
# `make ch07`: 600 steps of the cpu model, BLEU on 200 test sentences, not exported (minutes).
CONFIGS["quick"] = dict(
    CONFIGS["cpu"], num_steps=600, steps_per_checkpoint=300, bleu_sentences=200, export=False
)


def _check_config(config: Config) -> None:
    for name, allowed in (
        ("dataset", DATASETS),
        ("buckets", tuple(BUCKET_SETS)),
        ("optimizer", OPTIMIZERS),
        ("lr_schedule", LR_SCHEDULES),
        ("cell", seq2seq.CELLS),
        ("attention", seq2seq.ATTENTIONS),
        ("loss_average", seq2seq.AVERAGES),
    ):
        if getattr(config, name) not in allowed:
            raise ValueError(
                f"Unknown {name} {getattr(config, name)!r}; expected one of {allowed}."
            )
    for name in ("source_language", "target_language"):
        if getattr(config, name) not in multi30k.LANGUAGES:
            raise ValueError(f"{name} must be one of {multi30k.LANGUAGES}.")
    if config.dataset == "toy" and (config.source_language, config.target_language) != ("en", "fr"):
        raise ValueError(
            "The toy corpus is English -> (pseudo-)French: keep the default languages."
        )
    if config.source_language == config.target_language:
        raise ValueError("source_language and target_language must differ.")
    if config.lr_schedule == "book_decay" and not 0 < config.learning_rate_decay_factor < 1:
        raise ValueError("learning_rate_decay_factor must be in (0, 1).")
    if config.beam_size < 1 or config.batch_size < 1 or config.steps_per_checkpoint < 1:
        raise ValueError("beam_size, batch_size and steps_per_checkpoint must be >= 1.")


# --- Data -------------------------------------------------------------------------------------


class Corpus(NamedTuple):
    """Raw sentence pairs per split, `(sources, targets)` each."""

    train: tuple[list[str], list[str]]
    dev: tuple[list[str], list[str]]
    test: tuple[list[str], list[str]]


class TranslationData(NamedTuple):
    """Vocabularies (id order) and the bucketed id arrays of training and dev."""

    corpus: Corpus
    source_words: list[str]
    target_words: list[str]
    train: translation.BucketedPairs
    dev: translation.BucketedPairs


def load_corpus(config: Config) -> Corpus:
    if config.dataset == "toy":
        # The toy corpus is English -> pseudo-French whatever the languages say.
        return Corpus(
            *(toy_translation.toy_pairs(n, seed=s) for n, s in ((3000, 0), (200, 1), (200, 2)))
        )
    pairs = {
        split: multi30k.load_pairs(
            split, config.source_language, config.target_language, data_dir=config.data_dir
        )
        for split in multi30k.SPLITS
    }
    return Corpus(pairs["train"], pairs["val"], pairs["test_2016_flickr"])


def prepare_data(config: Config) -> TranslationData:
    """The corpus, its vocabularies and the bucketed training and dev pairs."""
    corpus = load_corpus(config)
    train_sources, train_targets = corpus.train
    if config.train_subset:
        train_sources, train_targets = (
            train_sources[: config.train_subset],
            train_targets[: config.train_subset],
        )
    source_words = translation.create_vocabulary(train_sources, config.source_vocabulary_size)
    target_words = translation.create_vocabulary(train_targets, config.target_vocabulary_size)
    source_ids, target_ids = translation.word_ids(source_words), translation.word_ids(target_words)
    buckets = BUCKET_SETS[config.buckets]

    def bucketed(sources, targets):
        ids = translation.pairs_to_ids(sources, targets, source_ids, target_ids)
        return translation.bucket_pairs(*ids, buckets, reverse_source=config.reverse_source)

    return TranslationData(
        corpus,
        source_words,
        target_words,
        bucketed(train_sources, train_targets),
        bucketed(*corpus.dev),
    )


# --- Model and training -----------------------------------------------------------------------


def build_model(config: Config, data: TranslationData) -> seq2seq.Seq2SeqAttention:
    return seq2seq.Seq2SeqAttention(
        len(data.source_words),
        len(data.target_words),
        units=config.units,
        num_layers=config.num_layers,
        embedding_size=config.embedding_size,
        cell=config.cell,
        attention=config.attention,
        dropout=config.dropout,
        seed=config.seed,
    )


def build_optimizer(config: Config, total_steps: int) -> keras.optimizers.Optimizer:
    if config.lr_schedule == "book_decay":
        rate = config.learning_rate  # A variable the decay hook multiplies.
    else:
        rate = schedules.learning_rate(config.lr_schedule, config.learning_rate, total_steps)
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(rate, global_clipnorm=config.max_gradient_norm)
    return keras.optimizers.Adam(rate, global_clipnorm=config.max_gradient_norm)


def loss_function(config: Config, training_samples: int, optimizer=None):
    """`compute_loss(model, batch, training)` for `training.step` (see `seq2seq`).

    The sampled softmax's negatives are seeded by `(config.seed, optimizer.iterations)`, so a
    resumed run draws the same ones as a run that never stopped.
    """

    def compute_loss(model, batch, training):
        outputs = model.teacher_forced(
            batch["encoder_inputs"], batch["decoder_inputs"], training=training
        ).outputs
        step = optimizer.iterations.value if optimizer is not None else tf.constant(0, tf.int64)
        seed = tf.stack([tf.constant(config.seed, tf.int64), tf.cast(step, tf.int64)])
        token_losses = seq2seq.token_cross_entropy(
            model, outputs, batch["targets"], num_sampled=training_samples, seed=seed
        )
        loss = seq2seq.sequence_loss(token_losses, batch["weights"], config.loss_average)
        tokens = tf.reduce_sum(batch["weights"])
        return loss, {"target_tokens": (tokens, tf.constant(1.0))}

    return compute_loss


def make_evaluate(config: Config, model, dev: translation.BucketedPairs):
    """`step -> {"cost", "perplexity", "bucket_<i>_perplexity"}`: teacher-forced dev loss."""
    samples = config.num_samples if config.sampled_eval_loss else 0
    compute_loss = loss_function(config, samples)
    datasets = translation.eval_batches(dev, config.eval_batch_size)
    # One trace for every bucket and batch size.
    spec = {key: tf.TensorSpec([None, None], spec.dtype) for key, spec in
            datasets[0].element_spec.items() if key != "bucket"}  # fmt: skip
    spec["bucket"] = tf.TensorSpec([], tf.int32)

    @tf.function(input_signature=[spec])
    def batch_loss(batch):
        (total, count), _ = compute_loss(model, batch, False)
        return total, count

    def evaluate(step: int) -> dict[str, float]:
        results, grand_total, grand_count = {}, 0.0, 0.0
        for index, dataset in enumerate(datasets):
            total = count = 0.0
            for batch in dataset:
                batch_total, batch_count = batch_loss(batch)
                total, count = total + float(batch_total), count + float(batch_count)
            if count:
                results[f"bucket_{index}_perplexity"] = translation.perplexity(total / count)
            grand_total, grand_count = grand_total + total, grand_count + count
        cost = grand_total / grand_count
        return {"cost": cost, "perplexity": translation.perplexity(cost), **results}

    return evaluate


def book_console(optimizer, num_buckets: int):
    """`report -> lines`: the book's `translate.py` checkpoint lines."""

    def console(report) -> str:
        lines = [
            f"global step {report['step']} learning rate {loop.learning_rate(optimizer):.4f} "
            f"step-time {1.0 / report['steps_per_sec']:.2f} perplexity "
            f"{translation.perplexity(report['train']['cost']):.2f}"
        ]
        validation = report.get("validation", {})
        for index in range(num_buckets):
            key = f"bucket_{index}_perplexity"
            if key in validation:
                lines.append(f"  eval: bucket {index} perplexity {validation[key]:.2f}")
            else:
                lines.append(f"  eval: empty bucket {index}")
        return "\n".join(lines)

    return console


# --- Translating and scoring ------------------------------------------------------------------


def make_service(config: Config, model, data: TranslationData, beam_size: int):
    buckets = BUCKET_SETS[config.buckets]
    return translator_export.TranslatorService(
        model,
        data.source_words,
        data.target_words,
        beam_size=beam_size,
        length_penalty=config.length_penalty,
        max_source_tokens=buckets[-1][0],
        max_output_tokens=buckets[-1][1],
        reverse_source=config.reverse_source,
        target_language=config.target_language if config.dataset == "multi30k" else "en",
    )


def translate_all(service, sentences: list[str], batch_size: int) -> tuple[list[str], float]:
    """Translations of `sentences` through the serving graph, and the seconds it took."""
    translate = tf.function(service.translate)
    outputs, start = [], time.perf_counter()
    for begin in range(0, len(sentences), batch_size):
        batch = tf.constant(sentences[begin : begin + batch_size])
        outputs += [t.decode() for t in translate(batch)["translations"].numpy()]
    return outputs, time.perf_counter() - start


def score_translations(config: Config, model, data: TranslationData, run_log) -> dict[str, Any]:
    """Greedy and beam sacreBLEU on the test split (plus the peers' protocol), with examples."""
    sources, references = data.corpus.test
    if config.bleu_sentences:
        sources, references = sources[: config.bleu_sentences], references[: config.bleu_sentences]
    results = {}
    for name, beam_size in (("greedy", 1), ("beam", config.beam_size)):
        if name == "beam" and beam_size == 1:
            results["beam"] = results["greedy"]
            continue
        hypotheses, seconds = translate_all(
            make_service(config, model, data, beam_size), sources, config.eval_batch_size
        )
        scores = {p: bleu.corpus_bleu(hypotheses, references, p) for p in bleu.PROTOCOLS}
        results[name] = {
            "beam_size": beam_size,
            "bleu": scores["sacrebleu"]["bleu"],
            "signature": scores["sacrebleu"]["signature"],
            "bleu_tokenized_lowercase": scores["tokenized_lowercase"]["bleu"],
            "sentences_per_sec": len(sources) / seconds,
            "examples": [
                {"source": s, "reference": r, "translation": h}
                for s, r, h in list(zip(sources, references, hypotheses, strict=True))[:5]
            ],
        }
        run_log.print(
            f"{name} (beam {beam_size}): sacreBLEU {scores['sacrebleu']['bleu']:.2f} "
            f"[{scores['sacrebleu']['signature']}], tokenized lower-case BLEU "
            f"{scores['tokenized_lowercase']['bleu']:.2f}, {len(sources) / seconds:.1f} sentences/s"
        )
    for example in results["beam"]["examples"][:3]:
        run_log.print(f"  source:      {example['source']}")
        run_log.print(f"  reference:   {example['reference']}")
        run_log.print(f"  translation: {example['translation']}")
    return results


def attention_figure(config: Config, model, data: TranslationData, output) -> dict[str, Any]:
    """Fig. 7.33 on the source language's `ATTENTION_SENTENCES` entry (toy corpus: a toy one)."""
    sentence = ATTENTION_SENTENCES[config.source_language]
    if config.dataset == "toy":
        sentence = "the big red dog sees a small cat."
    service = make_service(config, model, data, config.beam_size)
    outputs = service.translate(tf.constant([sentence]), attention=True)
    source_tokens = translation.basic_tokenizer(sentence)[: service.max_source_tokens]
    translated = outputs["translations"].numpy()[0].decode()
    length = int(outputs["lengths"][0])
    decoded = service.decode(service.encoder_inputs(tf.constant([sentence]))[0])
    target_tokens = [w.decode() for w in service.words(decoded).to_list()[0]]
    weights = outputs["attention"].numpy()[0, :length, : len(source_tokens)]
    translation_figures.plot_attention(weights, source_tokens, target_tokens, output)
    return {"sentence": sentence, "translation": translated}


def interactive_decode(config: Config, model, data: TranslationData) -> None:
    """The book's `--decode`: read a sentence after "> ", print its translation, until EOF."""
    service = make_service(config, model, data, config.beam_size)
    translate = tf.function(service.translate)
    sys.stdout.write("> ")
    sys.stdout.flush()
    for line in sys.stdin:
        outputs = translate(tf.constant([line.rstrip("\n")]))
        if bool(outputs["truncated"][0]):
            print(f"(cut to the first {service.max_source_tokens} tokens)")
        print(outputs["translations"].numpy()[0].decode())
        sys.stdout.write("> ")
        sys.stdout.flush()


def export(config: Config, context, model, data: TranslationData, bleu_results) -> str:
    service = make_service(config, model, data, config.beam_size)
    samples = np.array(
        [s.encode() for s in data.corpus.test[0][:3]]
        + [b"", "Ünïcödé caf\u00e9 \u2014 \U0001f600".encode(), b"word " * 500],
        dtype=np.bytes_,
    )
    name = f"translator_{config.source_language}_{config.target_language}"
    dataset = "synthetic" if config.dataset == "toy" else config.dataset
    path = saved_model.export(
        name,
        endpoints=service.endpoints(),
        samples={key: (samples,) for key in SIGNATURES},
        track=[service],
        export_dir=epoch_training.export_dir(config, context, dataset),
        verify=config.verify_export,
        facts={
            "experiment": EXPERIMENT_ID,
            "dataset": config.dataset,
            "beam_size": config.beam_size,
            "test_bleu": round(bleu_results["beam"]["bleu"], 2),
            "bleu_signature": bleu_results["beam"]["signature"],
            "exported": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        },
    )
    context.run_log.print(f"Exported and verified {path}")
    return str(path)


# --- Main -------------------------------------------------------------------------------------


def main(config: Config) -> dict:
    """Trains (or resumes), scores BLEU, draws Figs. 7.31-7.33, exports; returns the results."""
    _check_config(config)
    data = prepare_data(config)
    context = runs.start_run(config, EXPERIMENT_ID)
    run_log = context.run_log
    try:
        run_log.print(
            f"Vocabularies {len(data.source_words):,} {config.source_language} / "
            f"{len(data.target_words):,} {config.target_language}; training pairs per bucket "
            f"{list(data.train.sizes)} ({data.train.num_dropped} dropped); dev "
            f"{list(data.dev.sizes)}"
        )
        total = config_lib.total_steps(config, config.num_steps)
        with context.strategy.scope():
            model = build_model(config, data)
            optimizer = build_optimizer(config, total)
        run_log.print(f"Creating {config.num_layers} layers of {config.units} units "
                      f"({model.count_params():,} parameters).")  # fmt: skip
        hooks = {}
        if config.lr_schedule == "book_decay":
            hooks["decay"] = loop.DecayAboveRecentMax(
                optimizer, factor=config.learning_rate_decay_factor
            )
        train_step, checkpointer = runs.make_engine(
            config,
            context,
            model,
            optimizer,
            loss_function(config, config.num_samples, optimizer),
            **hooks,
        )
        if config.decode:
            restored = checkpointer.restore()
            if not restored:
                raise FileNotFoundError(f"No checkpoint in {context.workdir} to decode with.")
            interactive_decode(config, model, data)
            return {"decoded_with": restored}
        summary = loop.train(
            train_step,
            translation.train_batches(data.train, batch_size=config.batch_size, seed=config.seed),
            num_steps=total,
            checkpointer=checkpointer,
            run_log=run_log,
            evaluate=make_evaluate(config, model, data.dev),
            eval_every=config.steps_per_checkpoint,
            on_eval=list(hooks.values()),
            histogram_every=0,
            examples_per_step=config.batch_size,
            console=book_console(optimizer, len(data.train.buckets)),
            resume_hint=context.resume_command,
        )
        metrics_file = context.workdir / "metrics.jsonl"
        translation_figures.plot_perplexity(metrics_file, run_log.figure_path(FIGURES[0]))
        translation_figures.plot_learning_rate(metrics_file, run_log.figure_path(FIGURES[1]))
        evaluation = make_evaluate(config, model, data.dev)(summary["steps"])
        bleu_results = score_translations(config, model, data, run_log)
        results = {
            "test_bleu": bleu_results["beam"]["bleu"],
            "test_bleu_greedy": bleu_results["greedy"]["bleu"],
            "bleu_signature": bleu_results["beam"]["signature"],
            "test_bleu_tokenized_lowercase": bleu_results["beam"]["bleu_tokenized_lowercase"],
            "dev_perplexity": evaluation["perplexity"],
            "dev_bucket_perplexities": {
                k: v for k, v in evaluation.items() if k.startswith("bucket_")
            },
            "bleu": bleu_results,
            "attention_example": attention_figure(
                config, model, data, run_log.figure_path(FIGURES[2])
            ),
            "vocabulary_sizes": [len(data.source_words), len(data.target_words)],
            "train_bucket_sizes": list(data.train.sizes),
            "steps": summary["steps"],
            "train_seconds": summary["train_seconds"],
            "steps_per_sec": summary["steps_per_sec"],
            "parameters": model.count_params(),
            "reference": REFERENCE,
        }
        if not math.isnan(summary["steps_per_sec"]):
            tokens = [float(w.sum()) for w in data.train.weights]
            mean_tokens = sum(tokens) / max(sum(data.train.sizes), 1) * config.batch_size
            results["target_tokens_per_sec"] = summary["steps_per_sec"] * mean_tokens
        if config.export and context.chief:
            results["export"] = export(config, context, model, data, bleu_results)
        return runs.finish_run(context, config, results)
    finally:
        runs.close_run(context)


if __name__ == "__main__":
    tf.get_logger().setLevel("ERROR")
    print(main(config_lib.from_argv(Config, CONFIGS, sys.argv[1:])))
