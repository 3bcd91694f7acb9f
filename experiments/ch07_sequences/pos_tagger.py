"""
Title: Feed-forward n-gram part-of-speech tagger on CoNLL-2000
Book: Chapter 7, "Implementing a Part-of-Speech Tagger" (seed lines 3325-3672; the repo's
`read_pos_data.py` and `feedforward_pos.py`)
Description: 300-d word vectors of a 3-word left context (900 inputs) -> 512 -> 256 -> 44
tags, each Dense + batch norm (+ sigmoid), Adam, batch 100; the book's demo sentence tagged.
Expected result: book > 96 % (GoogleNews vectors); cpu preset 93.8 % test; goal 96.5 % met
by "cpu_features" (centred window + word-shape features, not the book's): 96.89 % test.

Measured (2 shared cores, seed 0; see experiments/README.md): the cpu preset (project vectors
fine-tuned, 6 epochs, 5 min of training) tags 93.78 % of the test tokens (validation 95.07 %),
the 5-word window 93.64 %, the book's frozen vectors with modern defaults ("cpu_frozen", 20
epochs) 89.65 %, below the 90.32 % of tagging each word with its most frequent training tag.
With the book's network alone the issue's 96.5 % is not reached: 6.0 % of the test tokens
are words the training file lacks, and the tagger gets only 47 % of them right (half of its
errors); 5.4 % of the test tokens have no project vector (GoogleNews covers nearly all).
Two extensions of Collobert et al., 2011 (off by default, so the book's and the presets above
are unchanged): a centred window (`window="centered"`: w[i-1], w[i], w[i+1] for n = 3) and,
per window position, the word's shape class and 3-character suffix with small trainable
embeddings (`word_features`, `data.word_shape`; suffixes from the training split, >= 5
occurrences: 1,153). "cpu_features" (both, otherwise the cpu preset: 6 epochs, 301 s of
training, 38 steps/s, 6,244,868 trainable parameters) tags 96.89 % of the test tokens
(validation 97.48 %; words unseen in training 82.75 %, seen ones 97.79 %); the export, on the
raw test sentences, 96.42 % (105 sentences have phrases that merge differently without gold
tags). Ablation: the centred window alone ("cpu_centered") 94.95 % test (validation 96.09 %,
unseen words 51.73 %); "cpu_features" with `--n_gram=5` 96.96 % test, but validation 97.43 %,
so the 3-word window was kept. The book preset's first two epochs: cost 3.164 / 2.985 and validation
(= test) error 0.213 / 0.199 (book: 3.149 / 0.336 and 2.972 / 0.301), just above the 2.8225
floor of its sigmoid logits.

Word vectors. The book's GoogleNews vectors are not offline, so by default the project's are
used: 300-d gensim skip-gram vectors trained on the 15 Gutenberg books plus the CoNLL-2000
training sentences (`data.word_vectors.train_vectors`, about 2.5 minutes on 2 shared cores),
trained on first use into the per-user cache (`word_vectors.default_vectors_path()`) and
reused afterwards. They are written in word2vec binary format and read back through
`KeyedVectors.load_word2vec_format`, the path a GoogleNews file takes
(`--vectors=/path/GoogleNews-vectors-negative300.bin --vectors_limit=...`). Only the dataset
vocabulary is cached (`word_vectors.cached_vectors`, in the per-user cache); words without a
vector get uniform(-0.25, 0.25) vectors derived from the word, equal on every reload.
`results.json` records the vectors behind each accuracy: file name, size, SHA-256, dimension,
the coverage of the dataset's types and tokens, and the OOV counts.

Data. The book's preprocessing (`data.conll2000.preprocess_tokens`). By default windows stay
inside a sentence (PAD before its start), the last 10 % of the training file's sentences are
the validation set, and the test file is read once, at the end. The book's choices are flags,
all on in the "book" preset: `validate_on_test` (its per-epoch "Validation Error" is on the
test set, errata item 19), `cross_sentence_windows` (its token stream drops sentence ends,
item 18), `book_minibatches` (its contiguous, unshuffled, wrapping minibatches,
`conll2000.BookMinibatches`) and `faithful_sigmoid_logits` (its output layer is
Dense + BN + sigmoid fed to softmax cross-entropy as logits: the loss cannot go below 2.8225
for 44 tags, item 17).

Outputs: the book's console lines (`Epoch: 0001 cost = ...  Validation Error: ...`) and demo
tagging (`word\\t\\ttag`, with the left context of "She decided that it was time to leave
home ."); Fig. 7.4 in TensorBoard: "training loss" is `train/cost`, "validation error" is
`validation/error` (also drawn to figures/fig7_4.png, with figures/learning_curves.png per
epoch); `results.json`. The export `pos_tagger` serves raw sentences
(`export.text_endpoints`: string `(batch,)` -> tokens, tags, lengths, truncated), and its
accuracy on the test sentences, joined with spaces, is measured against the in-memory model's.

    python -m fdl_tf2 run ch07.pos_tagger --config=cpu
    python -m fdl_tf2 run ch07.pos_tagger --config=book --epochs=2   # the book's two epochs
    python -m fdl_tf2 run ch07.pos_tagger --config=window5           # the 5-word window
    python -m fdl_tf2 run ch07.pos_tagger --config=cpu_features      # centred + word shapes
"""

import dataclasses
import difflib
import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from fdl_tf2 import config as config_lib
from fdl_tf2.data import conll2000, paths, pipeline, word_shape
from fdl_tf2.data import word_vectors as wv
from fdl_tf2.export import saved_model, text_endpoints
from fdl_tf2.models import pos_tagger
from fdl_tf2.training import classifier, records, runs, schedules, step
from fdl_tf2.training import epochs as epoch_training
from fdl_tf2.viz import curves

EXPERIMENT_ID = "ch07.pos_tagger"

FIGURES = ("learning_curves", "fig7_4")  # Written to figures/ (checked by the smoke tests).
SIGNATURES = ("serving_default",)  # Of the export (reloaded by the smoke tests).
DATASETS = ("conll2000", "synthetic")

BOOK = {
    "epoch_1": {"cost": 3.149141798, "validation_error": 0.336273431778},  # Lines 3605-3606.
    "epoch_2": {"cost": 2.971566474, "validation_error": 0.300647974014},  # Lines 3630-3631.
    "test_accuracy": "> 0.96 within 100 epochs (GoogleNews vectors; line 3655)",
    "sigmoid_logits_loss_floor": round(pos_tagger.sigmoid_logits_loss_floor(), 4),
}
ACCEPTANCE_TEST_ACCURACY = 0.965


@dataclasses.dataclass(frozen=True)
class Config(config_lib.ExportConfig):
    """The book's hyperparameters with modern data handling; "book" adds the book's quirks."""

    n_gram: int = 3  # Window length: the target word and its n-1 left neighbours.
    embedding_size: int = 300  # Of the project's vectors; a --vectors file must match it.
    vectors: str = ""  # word2vec-format file; "" means the project's (trained on first use).
    vectors_limit: int = 0  # Read only the first N vectors (GoogleNews: 3 M); 0 reads all.
    trainable_embeddings: bool = False  # Fine-tune the vectors (the book keeps them fixed).
    epochs: int = 1000  # The repository's training_epochs.
    batch_size: int = 100
    learning_rate: float = 1e-3  # Adam(1e-3, 0.9, 0.999, 1e-8): TF1's defaults, the book's.
    lr_schedule: str = "constant"  # Or "cosine": decay to 0 over the run.
    validate_on_test: bool = False  # Book: the per-epoch validation set is the test set.
    cross_sentence_windows: bool = False  # Book: windows over the flattened token stream.
    book_minibatches: bool = False  # Book: contiguous, unshuffled, wrapping minibatches.
    faithful_sigmoid_logits: bool = False  # Book: softmax over sigmoid outputs (floor 2.8225).
    validation_fraction: float = 0.1  # Last share of the training sentences held out.
    tag_order: str = "book"  # Tag ids: "book" (first seen in train, then test) or "train".
    demo_every: int = 1  # Epochs between taggings of the demo sentence; 0: at the end only.
    dataset: str = "conll2000"  # Or "synthetic": a generated corpus and random vectors.
    # Not the book's (Collobert et al., 2011): a centred window and word-shape features.
    window: str = "left"  # Book: the left context; "centered": n // 2 words either side.
    word_features: bool = False  # Add each position's shape class and suffix (`word_shape`).
    suffix_length: int = 3  # Characters of the (ASCII-lower-cased) suffix feature.
    suffix_min_count: int = 5  # Training tokens a suffix needs to get its own id (else UNK).
    shape_embedding_size: int = 8  # Trainable embedding of the shape class.
    suffix_embedding_size: int = 32  # Trainable embedding of the suffix.
    checkpoints_to_keep: int = 50  # The repository's Saver(max_to_keep=50).


_CPU = dict(trainable_embeddings=True, epochs=6, lr_schedule="cosine", checkpoints_to_keep=3)
# The book preset keeps the repository's 50 checkpoints, about 30 MB each (the frozen
# embedding included): 1.5 GB for a 1000-epoch run.

CONFIGS = {
    # Seconds; used by tests: a generated corpus with 16-d random vectors, no vector training.
    # Verified in a fresh process (the only run of the text endpoint's verification).
    "smoke": dict(dataset="synthetic", embedding_size=16, epochs=2, batch_size=50),
    "book": dict(
        validate_on_test=True,
        cross_sentence_windows=True,
        book_minibatches=True,
        faithful_sigmoid_logits=True,
    ),
    # 2 shared CPU cores, 5 minutes of training (38 steps/s): the modern defaults with the
    # project's vectors fine-tuned (frozen, they underfit: "cpu_frozen"), Adam decayed by a
    # cosine over 6 epochs (validation error is flat after epoch 4), 3 checkpoints (each
    # holds the 18k x 300 embedding and its Adam moments). 93.78 % test.
    "cpu": _CPU,
    # The book's frozen vectors, modern defaults: 20 epochs, 4 minutes (160 steps/s), 89.65 %.
    "cpu_frozen": dict(_CPU, trainable_embeddings=False, epochs=20, demo_every=5),
    # The 5-word window variant of the cpu run (the book's CLI argument `5`): 93.64 %.
    "window5": dict(_CPU, n_gram=5),
    # Not the book's: the cpu run with a centred 3-word window (w[i-1], w[i], w[i+1]):
    # 94.95 % test (validation 96.09 %).
    "cpu_centered": dict(_CPU, window="centered"),
    # The centred window plus each position's shape class and 3-character suffix: 96.89 %
    # test (validation 97.48 %), 5 minutes of training.
    "cpu_features": dict(_CPU, window="centered", word_features=True),
}


# --- Word vectors -------------------------------------------------------------------------


def vectors_file(config: Config) -> Path:
    """The word2vec file of the run: `--vectors`, or the project's for `embedding_size`."""
    if config.vectors:
        return Path(config.vectors).expanduser()
    if config.embedding_size == wv.EMBEDDING_SIZE:
        return wv.default_vectors_path()
    return wv.default_vectors_path().with_name(f"gutenberg_conll2000_sg{config.embedding_size}.bin")


def _cache_dir(path: Path, limit: int | None) -> Path:
    # Keyed by the file's place, size and time as well as its name: a retrained file (same
    # name and size) must not reuse the cache of the old one.
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{limit}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return paths.cache_dir() / "word_vectors" / f"conll2000-{path.stem}-{digest}"


def conll_vectors(
    config: Config, run_log
) -> tuple[wv.VectorCache, conll2000.TaggedCorpus, dict[str, Any]]:
    """The dataset's vector cache, its processed corpus and the vectors' training record.

    Trains the project's vectors first when they are the default and do not exist yet.
    """
    path = vectors_file(config)
    record: dict[str, Any] = {}
    if not path.is_file():
        if config.vectors:
            raise FileNotFoundError(f"--vectors={config.vectors}: no such file.")
        run_log.print(f"Training the project's {config.embedding_size}-d vectors into {path} ...")
        wv.train_vectors(path, data_dir=config.data_dir, vector_size=config.embedding_size)
    if Path(f"{path}.json").is_file():
        record = json.loads(Path(f"{path}.json").read_text())
    run_log.print(f"Word vectors: {path.name}")
    limit = config.vectors_limit or None
    corpora: dict[str, conll2000.TaggedCorpus] = {}

    def dataset_words(in_vocabulary):
        corpora["last"] = conll2000.prepare_corpus(
            in_vocabulary,
            validation_fraction=0.0 if config.validate_on_test else config.validation_fraction,
            tag_order=config.tag_order,
            data_dir=config.data_dir,
        )
        return corpora["last"].words()

    # The cache's `in_vectors` answers as the source did on this dataset, so the corpus the
    # last call processed is the one the cache describes, whichever path was taken.
    cache = wv.cached_vectors(_cache_dir(path, limit), path, dataset_words, limit=limit)
    return cache, corpora["last"], record


class _ArrayVectors:
    """Random vectors for a word list (the synthetic dataset's stand-in for KeyedVectors)."""

    def __init__(self, words, size: int, seed: int):
        rng = np.random.default_rng(seed)
        self.vector_size = size
        self._rows = {word: rng.normal(size=size).astype(np.float32) for word in words}

    def __contains__(self, word):
        return word in self._rows

    def __getitem__(self, word):
        return self._rows[word]


# Generated sentences: each tag has its words; "New York" merges into a phrase, "old-fashioned"
# splits, and "Diego", "fashioned" and "seems" have no vector.
_SYNTHETIC_WORDS = {
    "DT": ("the", "a", "this"), "JJ": ("big", "small", "red", "old-fashioned"),
    "NN": ("dog", "house", "car", "buy-out"), "NNS": ("dogs", "cars", "houses"),
    "VBD": ("saw", "liked", "found"), "VBZ": ("is", "seems"), "IN": ("in", "on", "near"),
    "CD": ("1989", "3.5", "12"), "PRP": ("he", "she"), ".": (".",),
}  # fmt: skip
_SYNTHETIC_PLACES = (("New", "York"), ("San", "Diego"))
_SYNTHETIC_TEMPLATES = (
    ("DT", "JJ", "NN", "VBD", "IN", "DT", "NN", "."),
    ("PLACE", "VBD", "CD", "NNS", "."),
    ("DT", "NN", "VBZ", "JJ", "."),
    ("PRP", "VBD", "DT", "JJ", "NN", "IN", "PLACE", "."),
)
_SYNTHETIC_MISSING = {"Diego", "fashioned", "old_fashioned", "seems"}


def synthetic_splits(seed: int) -> dict[str, list[conll2000.Sentence]]:
    """A generated tagged corpus: raw train / validation / test splits of 320 / 40 / 40."""
    rng = np.random.default_rng(seed)
    sentences = []
    for _ in range(400):
        sentence = []
        for tag in _SYNTHETIC_TEMPLATES[rng.integers(len(_SYNTHETIC_TEMPLATES))]:
            if tag == "PLACE":
                sentence += [(word, "NNP") for word in _SYNTHETIC_PLACES[rng.integers(2)]]
            else:
                sentence.append((str(rng.choice(_SYNTHETIC_WORDS[tag])), tag))
        sentences.append(sentence)
    return {"train": sentences[:320], "validation": sentences[320:360], "test": sentences[360:]}


def synthetic_vectors(config: Config, workdir: Path):
    """`synthetic_splits` and the cache of their random vectors (under the run directory)."""
    raw = synthetic_splits(config.seed)
    if config.validate_on_test:
        raw["validation"] = []
    sentences = [s for split in raw.values() for s in split]
    words = {conll2000.normalize_word(w) for s in sentences for w, _ in s} | {"New_York"}
    words |= {piece for word in words for piece in word.split("_")}
    vectors = _ArrayVectors(sorted(words - _SYNTHETIC_MISSING), config.embedding_size, 0)
    corpus = conll2000.prepare_corpus(lambda word: word in vectors, raw_splits=raw)
    source = {"name": "synthetic", "dim": config.embedding_size, "count": len(vectors._rows)}
    cache = wv.build_cache(workdir / "vector_cache", corpus.words(), vectors, source=source)
    return cache, corpus, {}


# --- Data ---------------------------------------------------------------------------------


def book_minibatch_stream(
    windows: np.ndarray, labels: np.ndarray, batch_size: int
) -> Callable[[int], tf.data.Dataset]:
    """`start_step -> batches`: the repo's contiguous wrapping minibatches, by step number.

    Batch k holds windows `(p + i) mod M` for i < batch_size, with p = k * batch_size mod
    (M - 1) (the repo's pointer, `conll2000.BookMinibatches`; M windows). The one batch of the
    repo's with batch_size + 1 windows (when p + batch_size == M - 1) loses its last window
    here, so that every batch has the same shape.
    """
    num_windows = len(windows)
    inputs, targets = tf.constant(windows, tf.int32), tf.constant(labels, tf.int32)

    def batch(index):
        start = (index * batch_size) % (num_windows - 1)
        rows = (start + tf.range(batch_size, dtype=tf.int64)) % num_windows
        return tf.gather(inputs, rows), tf.gather(targets, rows)

    return lambda start_step: tf.data.Dataset.range(start_step, 2**62).map(batch)


@dataclasses.dataclass(frozen=True)
class _BookOrderData(pipeline.ClassificationData):
    """`ClassificationData` whose training batches follow the repo's order (no shuffling)."""

    def train_stream(self, *, batch_size: int, seed: int):
        windows, labels = self.splits["train"]
        return book_minibatch_stream(windows, labels, batch_size)


def suffix_vocabulary(
    config: Config, corpus: conll2000.TaggedCorpus
) -> word_shape.SuffixVocabulary | None:
    """The training split's suffix vocabulary with `word_features`, else None."""
    if not config.word_features:
        return None
    return corpus.suffix_vocabulary(config.suffix_length, config.suffix_min_count)


def classification_data(
    config: Config,
    cache: wv.VectorCache,
    corpus: conll2000.TaggedCorpus,
    files: dict,
    suffixes: word_shape.SuffixVocabulary | None = None,
) -> pipeline.ClassificationData:
    """The windows of every split; the test windows also validate with `validate_on_test`.

    Inputs are int32 `(batch, n)` word ids, or with `suffixes` `(batch, n, 3)` word, shape
    and suffix ids."""
    data = conll2000.classification_data(
        corpus,
        cache.lookup,
        n=config.n_gram,
        cross_sentence=config.cross_sentence_windows,
        window=config.window,
        suffixes=suffixes,
        files=files,
    )
    splits = dict(data.splits)
    if config.validate_on_test:
        splits["validation"] = splits["test"]
    kind = _BookOrderData if config.book_minibatches else pipeline.ClassificationData
    fields = {f.name: getattr(data, f.name) for f in dataclasses.fields(data)}
    return kind(**{**fields, "splits": splits})


# --- Reports ------------------------------------------------------------------------------


def seen_and_unseen_accuracy(
    model: keras.Model,
    data: pipeline.ClassificationData,
    corpus: conll2000.TaggedCorpus,
    split: str = "test",
) -> dict[str, float | int | None] | None:
    """Accuracy on the tokens whose processed word is in the training split, and on the rest.

    Needs one window per token in corpus order (not `cross_sentence_windows`).
    """
    windows, labels = data.splits[split]
    words = [word for word, _ in conll2000.flatten(corpus.splits[split])]
    if len(words) != len(labels) or not words:
        return None
    training_words = {word for word, _ in conll2000.flatten(corpus.splits["train"])}
    logits = model.predict(windows, batch_size=4096, verbose=0)  # (tokens, num_tags)
    correct = np.argmax(logits, axis=-1) == labels
    unseen = np.array([word not in training_words for word in words])
    return {
        "seen_accuracy": float(correct[~unseen].mean()) if (~unseen).any() else None,
        "unseen_accuracy": float(correct[unseen].mean()) if unseen.any() else None,
        "unseen_share": float(unseen.mean()),
        "unseen_tokens": int(unseen.sum()),
    }


def first_epochs(metrics_file: Path, count: int = 2) -> list[dict[str, float]]:
    """The training cost and validation error of epochs 1..count (from metrics.jsonl)."""
    lines = records.read_metrics(metrics_file)
    rows = []
    for epoch in range(1, count + 1):
        train = [r for r in lines if r["split"] == "train" and r.get("epoch") == epoch]
        validation = [r for r in lines if r["split"] == "validation" and r.get("epoch") == epoch]
        if train and validation:
            rows.append(
                {
                    "epoch": epoch,
                    "cost": train[-1]["cost"],
                    "validation_error": validation[-1]["error"],
                }
            )
    return rows


def vectors_report(cache: wv.VectorCache, corpus: conll2000.TaggedCorpus, record: dict) -> dict:
    """Which vectors produced the run's accuracies, and how much of the data they cover."""
    coverage = cache.metadata["coverage"]
    test_words = [word for word, _ in conll2000.flatten(corpus.splits["test"])]
    return {
        "source": cache.metadata["source"],
        "dim": cache.embedding_size,
        "vocabulary_size": len(cache.words),
        "coverage": coverage,
        "oov_types": coverage["types"] - coverage["types_found"],
        "oov_tokens": coverage["tokens"] - coverage["tokens_found"],
        "test_coverage": wv.coverage(test_words, cache.in_vectors),
        "oov_seed": cache.metadata["oov"]["seed"],
        "training": record,
    }


def export_accuracy(
    service: text_endpoints.PosTaggerService,
    raw_sentences: list[conll2000.Sentence],
    in_vocabulary: conll2000.InVocabulary,
    batch_size: int = 256,
) -> dict[str, float]:
    """The endpoint's accuracy on raw sentences sent as `" ".join(words)`.

    The gold tokens are the book's preprocessing of each sentence (`preprocess_tokens` with
    the gold tags: the corpus's test split). Where the endpoint's tokens differ (a phrase
    whose gold tags differ merges at serving time), the sequences are aligned and the gold
    tokens without a match count as errors.
    """
    tag = tf.function(
        service.tag, input_signature=[tf.TensorSpec((None,), tf.string)], autograph=False
    )
    correct = total = differing = 0
    for start in range(0, len(raw_sentences), batch_size):
        batch = raw_sentences[start : start + batch_size]
        outputs = tag(tf.constant([" ".join(word for word, _ in s) for s in batch]))
        tokens, tags = outputs["tokens"].numpy(), outputs["tags"].numpy()
        lengths = outputs["lengths"].numpy()
        for row, sentence in enumerate(batch):
            gold = conll2000.preprocess_tokens(sentence, in_vocabulary)
            served = [t.decode() for t in tokens[row, : lengths[row]]]
            predicted = [t.decode() for t in tags[row, : lengths[row]]]
            words = [word for word, _ in gold]
            total += len(gold)
            if served == words:
                correct += sum(p == t for p, (_, t) in zip(predicted, gold, strict=True))
                continue
            differing += 1
            matcher = difflib.SequenceMatcher(a=words, b=served, autojunk=False)
            for block in matcher.get_matching_blocks():
                for i in range(block.size):
                    correct += predicted[block.b + i] == gold[block.a + i][1]
    return {
        "accuracy": correct / total if total else float("nan"),
        "tokens": total,
        "sentences": len(raw_sentences),
        "sentences_tokenised_differently": differing,
    }


def export(config, context, service, model, facts) -> Path:
    """`pos_tagger`: `serving_default` over raw string sentences (`text_endpoints`)."""
    demo = " ".join(conll2000.DEMO_SENTENCE)
    # A sentence, the empty string, numbers and a phrase, non-ASCII text, a too-long input.
    samples = [
        demo,
        "",
        "Prices in New York rose 3.5 % in 1989 .",
        "Caf\u00e9 \u00fcber na\u00efve \u0663 .",
        " ".join(["the"] * (text_endpoints.MAX_TOKENS + 3)),
    ]
    sentences = np.array([sample.encode() for sample in samples], dtype=np.bytes_)
    dataset = "synthetic" if config.dataset == "synthetic" else conll2000.DATASET
    return saved_model.export(
        "pos_tagger",
        endpoints=service.endpoints(),
        samples={"serving_default": (sentences,)},
        track=[service, model],
        export_dir=epoch_training.export_dir(config, context, dataset),
        verify=config.verify_export,
        facts={
            **facts,
            "experiment": EXPERIMENT_ID,
            "exported": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        },
    )


# --- The experiment -----------------------------------------------------------------------


def main(config: Config) -> dict:
    """Trains, tests, tags the demo sentence and exports; returns the metrics (results.json)."""
    if config.dataset not in DATASETS:
        raise ValueError(f"Unknown dataset {config.dataset!r}; expected one of {DATASETS}.")
    context = runs.start_run(config, EXPERIMENT_ID)
    run_log = context.run_log
    try:
        run_log.print(f"Using a {config.n_gram}-gram model")
        if config.dataset == "synthetic":
            cache, corpus, record = synthetic_vectors(config, context.workdir)
            files = {}
        else:
            cache, corpus, record = conll_vectors(config, run_log)
            files = conll2000.files_read(config.data_dir)
        if cache.embedding_size != config.embedding_size:
            raise ValueError(
                f"The vectors are {cache.embedding_size}-d; run with "
                f"--embedding_size={cache.embedding_size}."
            )
        vectors = vectors_report(cache, corpus, record)
        run_log.print(
            f"Vectors {vectors['source'].get('name')}: {vectors['dim']}-d, "
            f"{vectors['coverage']['type_coverage']:.1%} of the dataset's word types and "
            f"{vectors['coverage']['token_coverage']:.1%} of its tokens have one "
            f"({vectors['oov_types']:,} types get random vectors)."
        )
        suffixes = suffix_vocabulary(config, corpus)
        if suffixes is not None:
            run_log.print(
                f"Word-shape features: {word_shape.NUM_SHAPES} shape classes, "
                f"{len(suffixes):,} suffixes of {suffixes.length} characters "
                f"(seen >= {config.suffix_min_count} times in training)"
            )
        data = classification_data(config, cache, corpus, files, suffixes)
        steps = config_lib.total_steps(
            config, config.epochs * data.steps_per_epoch(config.batch_size)
        )
        with context.strategy.scope():
            model = pos_tagger.build_pos_tagger(
                cache.matrix,
                n_gram=config.n_gram,
                num_tags=corpus.num_tags,
                faithful_sigmoid_logits=config.faithful_sigmoid_logits,
                trainable_embeddings=config.trainable_embeddings,
                num_suffixes=len(suffixes) if suffixes is not None else 0,
                shape_embedding_size=config.shape_embedding_size,
                suffix_embedding_size=config.suffix_embedding_size,
                seed=config.seed,
            )
            rate = schedules.learning_rate(config.lr_schedule, config.learning_rate, steps)
            optimizer = keras.optimizers.Adam(rate, epsilon=1e-8)

        def tag_demo() -> list[tuple[str, str]]:
            return pos_tagger.tag_sentence(
                model,
                conll2000.DEMO_SENTENCE,
                cache.lookup,
                corpus.tags,
                prefix=conll2000.DEMO_PREFIX,
                window=config.window,
                suffixes=suffixes,
            )

        steps_per_epoch = data.steps_per_epoch(config.batch_size)

        def demo_hook(step_number: int, _) -> None:
            epoch = step_number // steps_per_epoch
            if config.demo_every and epoch % config.demo_every == 0:
                run_log.print(pos_tagger.format_tagged(tag_demo()))

        summary = classifier.train_classifier(
            config,
            context,
            model,
            optimizer,
            data,
            epochs=config.epochs,
            batch_size=config.batch_size,
            on_eval=demo_hook,
        )
        evaluate = step.make_evaluate(model, classifier.classification_loss)
        test = evaluate(data.dataset("test", batch_size=1000, training=False))
        run_log.scalars(summary["steps"], "test", cost=test["cost"], accuracy=test["accuracy"])
        run_log.print("Optimization Finished!")
        run_log.print(f"Test Accuracy: {test['accuracy']:.4f}")
        by_word = (
            None
            if config.cross_sentence_windows
            else seen_and_unseen_accuracy(model, data, corpus, "test")
        )
        if by_word and by_word["unseen_tokens"]:
            run_log.print(
                f"Test accuracy on words seen in training {by_word['seen_accuracy']:.4f}, "
                f"unseen {by_word['unseen_accuracy']:.4f} ({by_word['unseen_share']:.1%} of "
                "the tokens)"
            )
        demo = tag_demo()
        run_log.print(pos_tagger.format_tagged(demo))
        run_log.flush()
        metrics_file = context.workdir / "metrics.jsonl"
        curves.plot_learning_curves(metrics_file, run_log.figure_path("learning_curves"))
        if config.tensorboard:
            curves.plot_tensorboard_curves(
                context.workdir / "tensorboard",
                run_log.figure_path("fig7_4"),
                tags=("cost", "error"),
                title=f"{EXPERIMENT_ID}: training loss and validation error",
                figure_name="Fig. 7.4",
            )
        results: dict[str, Any] = {
            "test_accuracy": test["accuracy"],
            "test_error": 1.0 - test["accuracy"],
            "test_cost": test["cost"],
            "validation_accuracy": summary.get("validation", {}).get("accuracy"),
            "validation_is_test": config.validate_on_test,
            "test_by_word": by_word,
            "suffixes": len(suffixes) if suffixes is not None else None,
            "train_cost": summary.get("train", {}).get("cost"),
            "first_epochs": first_epochs(metrics_file),
            "epochs_completed": summary["epochs_completed"],
            "steps": summary["steps"],
            "train_seconds": summary["train_seconds"],
            "steps_per_sec": summary["steps_per_sec"],
            "examples_per_sec": summary["examples_per_sec"],
            "parameters": model.count_params(),
            "trainable_parameters": sum(int(np.prod(w.shape)) for w in model.trainable_weights),
            "vectors": vectors,
            "num_tags": corpus.num_tags,
            "windows": {split: data.num_examples(split) for split in data.splits},
            "demo": [f"{word}\t\t{tag}" for word, tag in demo],
            "reference": {**BOOK, "acceptance_test_accuracy": ACCEPTANCE_TEST_ACCURACY},
            "dataset": {"name": config.dataset, "files_sha256": files},
        }
        if config.export and context.chief:
            service = text_endpoints.PosTaggerService(
                model,
                cache.words,
                cache.found,
                corpus.tags,
                window=config.window,
                suffixes=suffixes,
            )
            raw_test = _raw_test_sentences(config)
            served = export_accuracy(service, raw_test, cache.in_vectors)
            results["export_test"] = served
            run_log.print(
                f"Export on the raw test sentences: accuracy {served['accuracy']:.4f} "
                f"({served['sentences_tokenised_differently']} sentences tokenised differently)"
            )
            facts = {
                "dataset": config.dataset,
                "n_gram": config.n_gram,
                "window": config.window,
                "word_features": config.word_features,
                "trainable_embeddings": config.trainable_embeddings,
                "test_accuracy": round(test["accuracy"], 4),
                "vectors": vectors["source"].get("name"),
            }
            path = export(config, context, service, model, facts)
            results["export"] = str(path)
            run_log.print(f"Exported and verified {path}")
        run_log.print(f"TensorBoard: tensorboard --logdir {context.workdir / 'tensorboard'}")
        return runs.finish_run(context, config, results)
    finally:
        runs.close_run(context)


def _raw_test_sentences(config: Config) -> list[conll2000.Sentence]:
    if config.dataset == "synthetic":
        return synthetic_splits(config.seed)["test"]
    return conll2000.load_sentences("test", data_dir=config.data_dir)


if __name__ == "__main__":
    import sys

    print(main(config_lib.from_argv(Config, CONFIGS, sys.argv[1:])))
