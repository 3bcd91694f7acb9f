import gzip
import hashlib
import http.server
import io
import os
import tarfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from fdl_tf2.data import download, multi30k, paths
from fdl_tf2.data import translation as tr


@pytest.fixture(scope="module")
def multi30k_root():
    """The data root holding the real Multi30k files, or a skip naming what is missing."""
    root = os.environ.get("FDL_DATA_DIR")
    if not root:
        pytest.skip("real Multi30k needs $FDL_DATA_DIR (e.g. ../shared/data)")
    missing = [f.name for f in multi30k.FILES if not (Path(root) / "multi30k" / f.name).is_file()]
    if missing:
        pytest.skip(f"missing Multi30k files under {root}/multi30k: {missing}")
    return Path(root)


@pytest.fixture(scope="module")
def train_en_fr(multi30k_root):
    """The real en -> fr training pairs: vocabularies, ids and the repo-bucket layout."""
    english, french = multi30k.load_pairs("train", data_dir=multi30k_root)
    en_words = tr.create_vocabulary(english, 40_000)
    fr_words = tr.create_vocabulary(french, 40_000)
    source, target = tr.pairs_to_ids(english, french, tr.word_ids(en_words), tr.word_ids(fr_words))
    return en_words, fr_words, source, target, tr.bucket_pairs(source, target, tr.BUCKETS)


def _words(ids, words):
    return [words[i] for i in ids]


# --- Tokens -------------------------------------------------------------------------------


def test_basic_tokenizer_splits_white_space_then_punctuation():
    assert tr.basic_tokenizer("I read.") == ["I", "read", "."]
    assert tr.basic_tokenizer(' Un homme (grand) dit: "l\'eau!?" ') == [
        "Un", "homme", "(", "grand", ")", "dit", ":", '"', "l", "'", "eau", "!", "?", '"',
    ]  # fmt: skip
    assert tr.basic_tokenizer("a\u00a0b\u2003c\td") == ["a", "b", "c", "d"]  # Unicode spaces.
    assert tr.basic_tokenizer("co-op 3.5") == ["co-op", "3", ".", "5"]  # "-" is not split.
    assert tr.basic_tokenizer("") == tr.basic_tokenizer(" ... ")[:0] == []


def test_digits_become_zero():
    assert tr.normalize_digits("1984") == "0000"
    assert tr.normalize_digits("B52s") == "B00s"
    assert tr.normalize_digits("\u0663x") == "0x"  # An Arabic-Indic digit is a digit too.
    graph = tr.normalize_digits_in_graph(tf.ragged.constant([["1984", "a7"], []]))
    assert graph.to_list() == [[b"0000", b"a0"], []]


def test_in_graph_tokens_handle_edge_cases():
    sentences = tf.constant(
        ["", "   ", "I read.", "x\u00a0\u2028y", b"caf\xff (1)".decode("utf-8", "replace")]
    )
    expected = [tr.basic_tokenizer(s.decode()) for s in sentences.numpy()]
    assert [[t.decode() for t in row] for row in tr.tokenize_in_graph(sentences).to_list()] == (
        expected
    )
    # Invalid UTF-8 bytes reach the graph as U+FFFD, as Python's errors="replace" decodes them.
    raw = tr.tokenize_in_graph(tf.constant([b"caf\xff (1)"])).to_list()
    assert raw == [["caf\ufffd".encode(), b"(", b"1", b")"]]
    assert tr.tokenize_in_graph(tf.constant([], tf.string)).to_list() == []


@pytest.mark.parametrize("language", ["en", "fr"])
def test_in_graph_tokens_equal_basic_tokenizer_on_all_of_val(multi30k_root, language):
    sentences = multi30k.load_sentences("val", language, data_dir=multi30k_root)
    tokens = tr.tokenize_in_graph(tf.constant(sentences))
    python = [tr.basic_tokenizer(sentence) for sentence in sentences]
    assert [[t.decode() for t in row] for row in tokens.to_list()] == python
    normalized = tr.normalize_digits_in_graph(tokens).to_list()
    assert [[t.decode() for t in row] for row in normalized] == [
        [tr.normalize_digits(token) for token in row] for row in python
    ]
    assert any(token != tr.normalize_digits(token) for row in python for token in row)


# --- Detokenising -------------------------------------------------------------------------


def test_detokenize_undoes_the_tokenizer_on_ordinary_text():
    for sentence, language in [
        ("A woman's dog (a poodle) runs, jumps; then stops.", "en"),
        ('He says "hi" to 3.5 people: J.P. Morgan!', "en"),
        ("L'homme regarde l'eau.", "fr"),
        ('Un panneau dit : "Bienvenue motards" !', "fr"),
        ("Wie geht's?", "de"),
    ]:
        assert tr.detokenize(tr.basic_tokenizer(sentence), language) == sentence
    assert tr.detokenize(["l", "'", "homme"], "fr") == "l'homme"
    assert tr.detokenize(["woman", "'", "s"]) == "woman's"
    assert tr.detokenize(["Qui", "?"], "fr") == "Qui ?"
    assert tr.detokenize([]) == ""
    assert tr.detokenize(['"', "a", '"', '"', "b", '"']) == '"a" "b"'  # Adjacent quotes.


# Measured: val.en 1,012 / 1,014 (0.99803), val.fr 1,014 / 1,014, test_2016_flickr.fr 1,000 /
# 1,000 (train: en 0.99859, fr 0.99941). The failures are possessive plurals and spaced text.
@pytest.mark.parametrize(
    "split, language, at_least",
    [("val", "en", 0.997), ("val", "fr", 0.999), ("test_2016_flickr", "fr", 0.999)],
)
def test_detokenize_round_trips_nearly_every_sentence(multi30k_root, split, language, at_least):
    sentences = multi30k.load_sentences(split, language, data_dir=multi30k_root)
    exact = [
        tr.detokenize(tr.basic_tokenizer(s), language) == " ".join(s.split()) for s in sentences
    ]
    assert np.mean(exact) >= at_least


@pytest.mark.parametrize("language", ["en", "fr"])
def test_in_graph_detokenize_equals_python_on_all_of_val(multi30k_root, language):
    sentences = multi30k.load_sentences("val", language, data_dir=multi30k_root)
    corners = ['" a " b " c', '" " " x " "', 'a "" b', "x . 5 , 3 . y", "( ( ) '", "A . B . C"]
    sentences += corners
    tokens = tr.tokenize_in_graph(tf.constant(sentences))
    graph = [text.decode() for text in tr.detokenize_in_graph(tokens, language).numpy()]
    assert graph == [tr.detokenize(tr.basic_tokenizer(s), language) for s in sentences]


# --- Vocabularies -------------------------------------------------------------------------


def test_special_ids_are_zero_to_three():
    assert tr.START_VOCAB == ("_PAD", "_GO", "_EOS", "_UNK")
    assert (tr.PAD_ID, tr.GO_ID, tr.EOS_ID, tr.UNK_ID) == (0, 1, 2, 3)
    words = tr.create_vocabulary(["b a b", "c"], 10)
    assert [tr.word_ids(words)[w] for w in tr.START_VOCAB] == [0, 1, 2, 3]


def test_vocabulary_is_by_count_then_first_occurrence_and_capped():
    sentences = ["z y x y 7", "x 9 _UNK w"]  # Counts: y 2, x 2, 0 2 (digits), z 1, w 1.
    assert tr.create_vocabulary(sentences, 100) == [*tr.START_VOCAB, "y", "x", "0", "z", "w"]
    assert tr.create_vocabulary(sentences, 6) == [*tr.START_VOCAB, "y", "x"]
    assert tr.create_vocabulary(sentences, 100, normalize_digits=False)[4:7] == ["y", "x", "z"]
    with pytest.raises(ValueError, match="max_size must be >= 4"):
        tr.create_vocabulary(sentences, 3)


def test_real_training_vocabularies_keep_every_type(train_en_fr):
    en_words, fr_words, *_ = train_en_fr
    # 11,181 English and 11,497 French types (digits normalised) plus the 4 special tokens.
    assert (len(en_words), len(fr_words)) == (11_185, 11_501)
    assert en_words[4:8] == ["a", ".", "A", "in"]
    assert fr_words[4:8] == [".", "un", "'", "une"]


def test_vocabulary_file_round_trips_and_bad_files_are_refused(tmp_path):
    words = [*tr.START_VOCAB, "été", "a"]
    tr.save_vocabulary(words, tmp_path / "vocab.fr")
    assert (tmp_path / "vocab.fr").read_text(encoding="utf-8") == "\n".join(words) + "\n"
    lookup, loaded = tr.load_vocabulary(tmp_path / "vocab.fr")
    assert loaded == words and lookup == {w: i for i, w in enumerate(words)}
    cases = {
        "": "is empty",
        "a\nb\n": "must start with",
        "_PAD\n_GO\n_EOS\n_UNK\nx\n\ny\n": ":6: an empty line",
        "_PAD\n_GO\n_EOS\n_UNK\nx\nx\n": r":6: 'x' again \(first on line 5\)",
    }
    for text, message in cases.items():
        (tmp_path / "bad").write_text(text)
        with pytest.raises(tr.VocabularyError, match=message):
            tr.load_vocabulary(tmp_path / "bad")
    (tmp_path / "binary").write_bytes(b"\xff\xfe")
    with pytest.raises(tr.VocabularyError, match="not a readable"):
        tr.load_vocabulary(tmp_path / "binary")


def test_sentence_ids_map_unknown_words_to_unk_and_digits_to_zero():
    lookup = tr.word_ids([*tr.START_VOCAB, "I", "read", ".", "0000"])
    assert tr.sentence_to_token_ids("I read 1984 books.", lookup) == [4, 5, 7, 3, 6]
    assert tr.sentence_to_token_ids("1984", lookup, normalize_digits=False) == [3]
    source, target = tr.pairs_to_ids(["I read."], ["read I"], lookup, lookup)
    assert (source, target) == ([[4, 5, 6]], [[5, 4]])
    with pytest.raises(ValueError, match="1 source sentences but 2"):
        tr.pairs_to_ids(["a"], ["b", "c"], lookup, lookup)


# --- prepare_wmt_data ---------------------------------------------------------------------

_EN = ["I read.", "You read 2 books.", "I see you."]
_FR = ["Je lis.", "Tu lis 2 livres.", "Je te vois."]


def _write_corpus(folder: Path):
    for prefix in ("giga-fren.release2.fixed", "newstest2013"):
        (folder / f"{prefix}.en").write_text("\n".join(_EN) + "\n", encoding="utf-8")
        (folder / f"{prefix}.fr").write_text("\n".join(_FR) + "\n", encoding="utf-8")


def test_prepare_wmt_data_writes_the_books_files_from_local_text(tmp_path):
    _write_corpus(tmp_path)
    result = tr.prepare_wmt_data(tmp_path, 7, 100, download=False)
    assert result == (
        tmp_path / "giga-fren.release2.fixed.ids7.en",
        tmp_path / "giga-fren.release2.fixed.ids100.fr",
        tmp_path / "newstest2013.ids7.en",
        tmp_path / "newstest2013.ids100.fr",
        tmp_path / "vocab7.en",
        tmp_path / "vocab100.fr",
    )
    _, en_words = tr.load_vocabulary(result.en_vocabulary)
    assert en_words == [*tr.START_VOCAB, ".", "I", "read"]  # Counts 3, 2, 2; capped at 7.
    assert tr.read_token_ids(result.en_train_ids) == [[5, 6, 4], [3, 6, 3, 3, 4], [5, 3, 3, 4]]
    fr_lookup, _ = tr.load_vocabulary(result.fr_vocabulary)
    assert tr.read_token_ids(result.fr_dev_ids)[1] == [
        fr_lookup[w] for w in "Tu lis 0 livres .".split()
    ]
    # Existing files are kept, as the book does (a second call changes nothing).
    stamp = result.en_train_ids.stat().st_mtime_ns
    assert tr.prepare_wmt_data(tmp_path, 7, 100, download=False) == result
    assert result.en_train_ids.stat().st_mtime_ns == stamp


def test_prepare_wmt_data_takes_configurable_and_gzipped_paths(tmp_path):
    (tmp_path / "corpus").mkdir()
    for language, lines in (("en", _EN), ("fr", _FR)):
        data = ("\n".join(lines) + "\n").encode()
        (tmp_path / "corpus" / f"train.{language}.gz").write_bytes(gzip.compress(data))
        (tmp_path / f"dev.{language}").write_bytes(data)
    result = tr.prepare_wmt_data(
        tmp_path, 50, 50, train_prefix="corpus/train", dev_prefix="dev", download=False
    )
    assert result.fr_train_ids == tmp_path / "corpus" / "train.ids50.fr"
    assert result.en_dev_ids == tmp_path / "dev.ids50.en"
    assert tr.read_token_ids(result.fr_train_ids) == tr.read_token_ids(result.fr_dev_ids)


def test_prepare_wmt_data_fails_fast_and_clearly_without_the_files(tmp_path, monkeypatch):
    with pytest.raises(
        download.DatasetNotFoundError, match=r"training files missing.*download=False"
    ):
        tr.prepare_wmt_data(tmp_path, 10, 10, download=False)
    start = time.monotonic()
    with pytest.raises(download.DatasetNotFoundError, match="FDL_OFFLINE is set"):
        tr.prepare_wmt_data(tmp_path, 10, 10)  # conftest sets FDL_OFFLINE=1.
    assert time.monotonic() - start < 1.0
    monkeypatch.delenv(paths.ENV_OFFLINE)
    with pytest.raises(download.DatasetNotFoundError, match="no SHA-256 is pinned"):
        tr.prepare_wmt_data(tmp_path, 10, 10)
    assert tr.WMT_TRAIN_URL == "http://www.statmt.org/wmt10/training-giga-fren.tar"
    assert tr.WMT_DEV_URL == "http://www.statmt.org/wmt15/dev-v2.tgz"


def _tar(members: dict[str, bytes], mode: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def loopback_server(tmp_path):
    """Serves `tmp_path/www` on 127.0.0.1 (a free port) for the duration of a test."""
    root = tmp_path / "www"
    root.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_prepare_wmt_data_downloads_and_unpacks_the_books_archives(
    loopback_server, tmp_path, monkeypatch
):
    monkeypatch.delenv(paths.ENV_OFFLINE)
    www, url = loopback_server
    en, fr = ("\n".join(_EN) + "\n").encode(), ("\n".join(_FR) + "\n").encode()
    train = _tar(
        {"giga-fren.release2.fixed.en.gz": gzip.compress(en),
         "giga-fren.release2.fixed.fr.gz": gzip.compress(fr)}, "w"
    )  # fmt: skip
    dev = _tar({"dev/newstest2013.en": en, "dev/newstest2013.fr": fr, "dev/other.en": b""}, "w:gz")
    (www / "training-giga-fren.tar").write_bytes(train)
    (www / "dev-v2.tgz").write_bytes(dev)
    work = tmp_path / "work"
    result = tr.prepare_wmt_data(
        work,
        20,
        20,
        train_url=url + "training-giga-fren.tar",
        dev_url=url + "dev-v2.tgz",
        train_sha256=hashlib.sha256(train).hexdigest(),
        dev_sha256=hashlib.sha256(dev).hexdigest(),
    )
    assert (work / "giga-fren.release2.fixed.fr").read_bytes() == fr
    assert (work / "newstest2013.en").read_bytes() == en
    assert tr.read_token_ids(result.en_dev_ids) == tr.read_token_ids(result.en_train_ids)
    with pytest.raises(download.ChecksumError):
        tr.prepare_wmt_data(
            tmp_path / "other", 20, 20, train_url=url + "training-giga-fren.tar",
            train_sha256="0" * 64,
        )  # fmt: skip


# --- Buckets ------------------------------------------------------------------------------


def test_bucket_choice_at_the_boundaries_is_strict_for_training():
    buckets = tr.BUCKETS
    assert tr.bucket_of(4, 9, buckets) == 0
    assert tr.bucket_of(5, 9, buckets) == 1  # Source 5 does not fit s = 5.
    assert tr.bucket_of(4, 10, buckets) == 1  # Target 10 (EOS included) does not fit t = 10.
    assert tr.bucket_of(39, 49, buckets) == 3
    assert tr.bucket_of(40, 49, buckets) is None and tr.bucket_of(39, 50, buckets) is None
    assert tr.bucket_of(39, 39, tr.BOOK_TEXT_BUCKETS) is None
    assert tr.bucket_of(29, 39, tr.BOOK_TEXT_BUCKETS) == 3


def test_decode_bucket_choice_is_not_strict_and_falls_back_to_the_last():
    assert [tr.decode_bucket_of(n, tr.BUCKETS) for n in (0, 5, 6, 10, 11, 20, 21, 40, 99)] == [
        0, 0, 1, 1, 2, 2, 3, 3, 3,
    ]  # fmt: skip


def test_read_data_appends_eos_and_drops_what_fits_nowhere():
    sources = [[4] * 4, [4] * 5, [4] * 40, [4]]
    targets = [[5] * 8, [5] * 3, [5], [5] * 9]
    data_set = tr.read_data(sources, targets, tr.BUCKETS)
    assert data_set[0] == [([4] * 4, [5] * 8 + [tr.EOS_ID])]
    assert data_set[1] == [([4] * 5, [5, 5, 5, 2]), ([4], [5] * 9 + [2])]
    assert data_set[2:] == [[], []]
    assert tr.bucket_pairs(sources, targets).num_dropped == 1
    assert sum(map(len, tr.read_data(sources, targets, tr.BUCKETS, max_size=2))) == 2


def test_real_training_pairs_fill_the_buckets_as_the_spec_says(train_en_fr):
    *_, source, target, bucketed = train_en_fr
    assert bucketed.sizes == (8, 5_004, 21_479, 2_508) and bucketed.num_dropped == 1
    book_text = tr.bucket_pairs(source, target, tr.BOOK_TEXT_BUCKETS)
    assert book_text.sizes == (8, 5_004, 21_479, 2_432) and book_text.num_dropped == 77


# --- The book's layout (Fig. 7.30) --------------------------------------------------------


def test_figure_7_30_layout():
    english = ["I read .", "See you in a little while ."]
    french = ["Je lis .", "A tout a l'heure"]
    en_words = tr.create_vocabulary(english, 100)
    fr_words = tr.create_vocabulary(french, 100)
    source, target = tr.pairs_to_ids(english, french, tr.word_ids(en_words), tr.word_ids(fr_words))
    data_set = tr.read_data(source, target, tr.BUCKETS)
    assert [len(pairs) for pairs in data_set] == [1, 1, 0, 0]
    P, G, E = "_PAD", "_GO", "_EOS"  # noqa: N806

    encoder, decoder, targets, weights = tr.bucket_layout(data_set[0], tr.BUCKETS[0])
    assert encoder.dtype == decoder.dtype == targets.dtype == np.int32
    assert weights.dtype == np.float32
    assert encoder.shape == (1, 5) and decoder.shape == targets.shape == weights.shape == (1, 10)
    assert _words(encoder[0], en_words) == [P, P, ".", "read", "I"]
    assert _words(decoder[0], fr_words) == [G, "Je", "lis", ".", E, P, P, P, P, P]
    assert _words(targets[0], fr_words) == ["Je", "lis", ".", E, P, P, P, P, P, P]
    assert weights[0].tolist() == [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]

    encoder, decoder, targets, weights = tr.bucket_layout(data_set[1], tr.BUCKETS[1])
    # Errata 30: the book prints ". while little in a you See"; the reversal is this.
    assert _words(encoder[0], en_words) == [P] * 3 + ". while little a in you See".split()
    assert _words(decoder[0], fr_words) == [G, "A", "tout", "a", "l", "'", "heure", E] + [P] * 7
    assert _words(targets[0], fr_words) == ["A", "tout", "a", "l", "'", "heure", E] + [P] * 8
    assert weights[0].tolist() == [1.0] * 7 + [0.0] * 8
    unreversed = tr.bucket_layout(data_set[1], tr.BUCKETS[1], reverse_source=False)[0]
    assert _words(unreversed[0], en_words) == "See you in a little while .".split() + [P] * 3


def _book_get_batch(pairs, bucket):
    """The book's `get_batch` on given pairs (spec §2.2.10): time-major lists, as reference."""
    encoder_size, decoder_size = bucket
    encoder_inputs, decoder_inputs = [], []
    for encoder_input, decoder_input in pairs:
        encoder_pad = [tr.PAD_ID] * (encoder_size - len(encoder_input))
        encoder_inputs.append(list(reversed(encoder_input + encoder_pad)))
        decoder_pad_size = decoder_size - len(decoder_input) - 1
        decoder_inputs.append([tr.GO_ID] + decoder_input + [tr.PAD_ID] * decoder_pad_size)
    batch_encoder = [np.array([row[t] for row in encoder_inputs], np.int32)
                     for t in range(encoder_size)]  # fmt: skip
    batch_decoder, batch_weights = [], []
    for t in range(decoder_size):
        batch_decoder.append(np.array([row[t] for row in decoder_inputs], np.int32))
        weight = np.ones(len(pairs), np.float32)
        for b in range(len(pairs)):
            if t == decoder_size - 1 or decoder_inputs[b][t + 1] == tr.PAD_ID:
                weight[b] = 0.0
        batch_weights.append(weight)
    return batch_encoder, batch_decoder, batch_weights


def test_bucket_layout_equals_the_books_get_batch_transposed():
    rng = np.random.default_rng(0)
    bucket = (10, 15)
    pairs = [
        (rng.integers(4, 50, rng.integers(0, 10)).tolist(),
         rng.integers(4, 50, rng.integers(0, 14)).tolist())
        for _ in range(32)
    ]  # fmt: skip
    encoder, decoder, targets, weights = tr.bucket_layout(pairs, bucket)
    book_encoder, book_decoder, book_weights = _book_get_batch(pairs, bucket)
    np.testing.assert_array_equal(encoder.T, np.stack(book_encoder))
    np.testing.assert_array_equal(decoder.T, np.stack(book_decoder))
    np.testing.assert_array_equal(weights.T, np.stack(book_weights))
    np.testing.assert_array_equal(targets[:, :-1], decoder[:, 1:])
    assert weights.sum() == sum(len(target) for _, target in pairs) == (targets != 0).sum()
    with pytest.raises(ValueError, match=r"bucket \(10, 15\) takes at most 10 and 14"):
        tr.bucket_layout([([4] * 11, [5])], bucket)
    with pytest.raises(ValueError, match="at most 10 and 14"):
        tr.bucket_layout([([4], [5] * 15)], bucket)


# --- tf.data batches ----------------------------------------------------------------------


def _toy_bucketed():
    rng = np.random.default_rng(1)
    sources = [rng.integers(4, 30, n).tolist() for n in rng.integers(1, 20, 60)]
    targets = [rng.integers(4, 30, n).tolist() for n in rng.integers(1, 24, 60)]
    return tr.bucket_pairs(sources, targets, tr.BUCKETS)


def _as_numpy(element):
    return {key: value.numpy() for key, value in element.items()}


def test_train_batches_are_a_pure_function_of_seed_and_step():
    bucketed = _toy_bucketed()
    make = tr.train_batches(bucketed, batch_size=4, seed=7)
    from_zero = [_as_numpy(e) for e in make(0).take(30)]
    resumed = [_as_numpy(e) for e in make(20).take(10)]
    again = [_as_numpy(e) for e in tr.train_batches(bucketed, batch_size=4, seed=7)(0).take(30)]
    for expected, got in zip(from_zero[20:] + from_zero, resumed + again, strict=True):
        assert expected.keys() == got.keys()
        for key in expected:
            np.testing.assert_array_equal(expected[key], got[key])
    other = [_as_numpy(e) for e in tr.train_batches(bucketed, batch_size=4, seed=8)(0).take(30)]
    assert any(
        not np.array_equal(a["encoder_inputs"], b["encoder_inputs"])
        for a, b in zip(from_zero, other, strict=True)
    )


def test_train_batches_have_the_bucket_shapes_and_rows_of_that_bucket():
    bucketed = _toy_bucketed()
    dataset = tr.train_batches(bucketed, batch_size=5, seed=0)(0)
    spec = dataset.element_spec
    for key in ("encoder_inputs", "decoder_inputs", "targets", "weights"):
        assert spec[key].shape.as_list() == [5, None]
    assert spec["weights"].dtype == tf.float32 and spec["targets"].dtype == tf.int32
    assert spec["bucket"].shape == () and spec["bucket"].dtype == tf.int32
    for element in dataset.take(40):
        batch = _as_numpy(element)
        bucket = int(batch["bucket"])
        source_size, target_size = bucketed.buckets[bucket]
        assert batch["encoder_inputs"].shape == (5, source_size)
        assert batch["decoder_inputs"].shape == batch["weights"].shape == (5, target_size)
        assert batch["weights"].sum() == (batch["targets"] != tr.PAD_ID).sum()
        rows = {tuple(row) for row in bucketed.encoder_inputs[bucket]}
        assert all(tuple(row) in rows for row in batch["encoder_inputs"])


def test_one_traced_step_serves_every_bucket():
    dataset = tr.train_batches(_toy_bucketed(), batch_size=3, seed=0)(0)

    @tf.function(input_signature=[dataset.element_spec])
    def step(batch):
        width = tf.shape(batch["encoder_inputs"])[1]
        return tf.reduce_sum(batch["weights"]) + tf.cast(width, tf.float32)

    buckets = {int(element["bucket"]) for element in dataset.take(40) if step(element) is not None}
    assert len(buckets) >= 2
    assert step.experimental_get_tracing_count() == 1


def test_bucket_frequencies_follow_the_bucket_sizes(train_en_fr):
    bucketed = train_en_fr[-1]
    dataset = tr.train_batches(bucketed, batch_size=2, seed=3)(0)
    steps = 2_000
    drawn = np.array([int(b) for b in dataset.map(lambda e: e["bucket"]).take(steps)])
    frequencies = np.bincount(drawn, minlength=4) / steps
    expected = np.array(bucketed.sizes) / sum(bucketed.sizes)  # 0.0003, 0.173, 0.741, 0.087
    np.testing.assert_allclose(frequencies, expected, atol=0.035)  # ~3.5 standard errors.


def test_an_empty_bucket_is_never_drawn():
    sources, targets = [[4] * 2] * 3 + [[4] * 12] * 5, [[5] * 3] * 3 + [[5] * 12] * 5
    bucketed = tr.bucket_pairs(sources, targets, tr.BUCKETS)
    assert bucketed.sizes == (3, 0, 5, 0)
    drawn = [int(b) for b in tr.train_batches(bucketed, batch_size=1, seed=0)(0)
             .map(lambda e: e["bucket"]).take(400)]  # fmt: skip
    assert set(drawn) == {0, 2}
    with pytest.raises(ValueError, match="Every bucket is empty"):
        tr.train_batches(tr.bucket_pairs([], [], tr.BUCKETS), batch_size=1, seed=0)


def test_eval_batches_cover_every_pair_once_in_order():
    bucketed = _toy_bucketed()
    datasets = tr.eval_batches(bucketed, batch_size=4)
    assert len(datasets) == len(tr.BUCKETS)
    for index, dataset in enumerate(datasets):
        batches = [_as_numpy(batch) for batch in dataset]
        size = bucketed.sizes[index]
        assert [len(b["targets"]) for b in batches] == [4] * (size // 4) + (
            [size % 4] if size % 4 else []
        )
        for key in ("encoder_inputs", "decoder_inputs", "targets", "weights"):
            joined = np.concatenate([b[key] for b in batches]) if batches else None
            if batches:
                np.testing.assert_array_equal(joined, getattr(bucketed, key)[index])
        assert all(int(b["bucket"]) == index for b in batches)
    empty = tr.eval_batches(tr.bucket_pairs([[4]], [[5]], tr.BUCKETS), 8)[3]
    assert list(empty) == []


def test_perplexity_is_exp_loss_capped_like_the_book():
    assert tr.perplexity(0.0) == 1.0
    assert tr.perplexity(300.0) == float("inf")


def test_in_graph_detokenize_equals_python_on_random_token_soup():
    rng = np.random.default_rng(0)
    alphabet = np.array(['"', "'", ".", ",", "(", ")", "!", "?", ":", ";", "3", "A", "b", "wo"])
    rows = [rng.choice(alphabet, rng.integers(0, 9)).tolist() for _ in range(400)]
    for language in ("en", "fr"):
        graph = tr.detokenize_in_graph(tf.ragged.constant(rows, dtype=tf.string), language)
        assert [text.decode() for text in graph.numpy()] == [
            tr.detokenize(row, language) for row in rows
        ]
