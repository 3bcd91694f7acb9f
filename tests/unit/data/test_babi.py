import dataclasses
import gzip
import hashlib
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from fdl_tf2.data import babi, download

# The book's lists/sets example story (seed lines 5738-5743).
EXAMPLE = [
    "1 Mary took the milk there.",
    "2 Mary went to the office.",
    "3 What is Mary carrying?\tmilk\t1",
    "4 Mary took the apple there.",
    "5 Sandra went to the bedroom.",
    "6 What is Mary carrying?\tmilk,apple\t1 4",
]
EXAMPLE_INPUTS = (
    "mary took the milk there . mary went to the office . what is mary carrying ? - "
    "mary took the apple there . sandra went to the bedroom . what is mary carrying ? - -"
).split()


@pytest.fixture
def babi_dir():
    """The data root holding the 39 offline bAbI files, or a skip naming what is missing."""
    root = os.environ.get("FDL_DATA_DIR")
    if not root:
        pytest.skip("real bAbI needs $FDL_DATA_DIR (e.g. ../shared/data)")
    folder = Path(root) / babi.DATASET
    missing = [f.name for f in babi.FILES if not (folder / f.name).is_file()]
    if missing:
        pytest.skip(f"missing bAbI files under {folder}: {missing}")
    return Path(root)


def _text(lines):
    return "".join(line + "\n" for line in lines)


def _gz(lines):
    return gzip.compress(_text(lines).encode("utf-8"), mtime=0)


# --- Tokens and stories -------------------------------------------------------------------


def test_tokenize_line_keeps_lowercased_words_and_marks_and_drops_numbers():
    assert babi.tokenize_line("6 What is Mary carrying?\tmilk,apple\t1 4") == [
        "what", "is", "mary", "carrying", "?", "milk", "apple",
    ]  # fmt: skip
    assert babi.tokenize_line("12 The kitchen is north of the hallway.") == [
        "the", "kitchen", "is", "north", "of", "the", "hallway", ".",
    ]  # fmt: skip
    # Not alphabetic: "Mary's" and "3rd" drop out, as with the book's `word.isalpha()`.
    assert babi.tokenize_line("Mary's 3rd apple.") == ["apple", "."]


def test_the_books_lists_sets_example_parses_by_hand():
    (story,) = babi.parse_lines(EXAMPLE, source="example")
    assert story.inputs == tuple(EXAMPLE_INPUTS)
    assert story.answers == (("milk",), ("milk", "apple"))
    assert story.targets[-3:] == ("?", "milk", "apple")
    assert story.targets[17] == "milk" and story.inputs[17] == "-"
    assert (story.source, story.line, story.num_questions) == ("example", 1, 2)

    lexicon = babi.build_lexicon([])  # Only "?", ".", "-".
    assert lexicon == {"?": 0, ".": 1, "-": 2}
    words = sorted(set(EXAMPLE_INPUTS) - {"?", ".", "-"})
    lexicon = {w: i for i, w in enumerate([*words, "?", ".", "-"])}
    encoded = babi.encode_story(story, lexicon)
    dash = lexicon["-"]
    answer_steps = [17, 35, 36]
    assert np.flatnonzero(encoded.inputs == dash).tolist() == answer_steps
    assert encoded.inputs.dtype == np.int32 and encoded.targets.dtype == np.int32
    assert encoded.weights.dtype == np.float32
    assert np.flatnonzero(encoded.weights).tolist() == answer_steps
    assert encoded.targets[answer_steps].tolist() == [
        lexicon["milk"],
        lexicon["milk"],
        lexicon["apple"],
    ]
    # Elsewhere the targets are the inputs (the book's output_vec).
    others = np.setdiff1d(np.arange(len(EXAMPLE_INPUTS)), answer_steps)
    np.testing.assert_array_equal(encoded.targets[others], encoded.inputs[others])
    assert encoded.question_ids[answer_steps].tolist() == [0, 1, 1]
    assert (encoded.question_ids[others] == -1).all() and encoded.num_questions == 2


def test_each_story_stays_in_its_own_file_and_the_last_one_is_kept(tmp_path):
    # The book flushes a story only when the next begins, across files: A's last story would
    # land in B, and B's last story would be lost.
    first = [*EXAMPLE[:3], "1 John went to the garden.", "2 Where is John?\tgarden\t1"]
    second = ["1 Daniel went to the kitchen.", "2 Where is Daniel?\tkitchen\t1", *EXAMPLE]
    (tmp_path / "a.txt").write_text(_text(first))
    (tmp_path / "b.txt.gz").write_bytes(_gz(second))
    in_a = babi.read_stories(tmp_path / "a.txt")
    in_b = babi.read_stories(tmp_path / "b.txt.gz")
    assert [s.answers for s in in_a] == [(("milk",),), (("garden",),)]
    assert [s.answers for s in in_b] == [(("kitchen",),), (("milk",), ("milk", "apple"))]
    assert [s.line for s in in_a] == [1, 4] and [s.line for s in in_b] == [1, 3]
    assert in_b[-1].inputs == tuple(EXAMPLE_INPUTS)
    assert babi.read_stories(tmp_path / "b.txt.gz", length_limit=11) == in_b[:1]


def test_the_task_number_comes_from_the_file_name(tmp_path):
    path = tmp_path / "qa8_lists-sets_test.txt"
    path.write_text(_text(EXAMPLE))
    assert babi.read_stories(path)[0].task == 8
    assert babi.read_stories(path, task=0)[0].task == 0
    assert babi.file_name(8, "test") == path.name


@pytest.mark.parametrize(
    "lines, message",
    [
        (["1 Mary went to the office.", "3 Where is Mary?\toffice\t1"], "line 2: line id 3"),
        (["2 Mary went to the office."], "line 1: line id 2"),
        (["1 Mary went to the office.", "Where is Mary?\toffice\t1"], "line 2: expected"),
        (["1 Mary went to the office.", "2 Where is Mary?\toffice"], "line 2: a question line"),
        (["1 Mary went to the office.", "2 Where is Mary\toffice\t1"], "line 2: a question must"),
        (["1 Mary went to the office.", "2 Where is Mary?\t\t1"], "line 2: the answer"),
        (["1 Where is Mary?"], "line 1: a question needs"),
        (["1 Mary went to the office.", ""], "line 2: expected"),
    ],
)
def test_malformed_lines_raise_naming_the_file_and_line(lines, message):
    with pytest.raises(babi.FormatError, match=f"^bad.txt, {message}"):
        babi.parse_lines(lines, source="bad.txt")


def test_a_corrupt_or_truncated_gzip_raises_a_clear_error(tmp_path):
    payload = _gz(babi.synthetic_stories(20, seed=0))
    (tmp_path / "cut.txt.gz").write_bytes(payload[: len(payload) // 2])
    (tmp_path / "junk.txt.gz").write_bytes(b"\x1f\x8b" + b"not deflate at all" * 10)
    for name in ("cut.txt.gz", "junk.txt.gz"):
        with pytest.raises(babi.FormatError, match=f"{name}: not a readable gzipped UTF-8 file"):
            babi.read_stories(tmp_path / name)
    assert issubclass(babi.FormatError, download.ChecksumError)


# --- Synthetic stories ----------------------------------------------------------------------


@pytest.mark.parametrize("task", babi.SYNTHETIC_TASKS)
def test_synthetic_stories_are_deterministic_and_round_trip(task, tmp_path):
    lines = babi.synthetic_stories(30, seed=7, task=task)
    assert lines == babi.synthetic_stories(30, seed=7, task=task)
    assert lines != babi.synthetic_stories(30, seed=8, task=task)
    stories = babi.parse_lines(lines)
    assert len(stories) == 30 and babi.count_questions(stories) == 90
    (tmp_path / "s.txt.gz").write_bytes(_gz(lines))
    assert babi.read_stories(tmp_path / "s.txt.gz", task=0) == [
        babi.Story(s.inputs, s.answers, 0, str(tmp_path / "s.txt.gz"), s.line) for s in stories
    ]
    lexicon = babi.synthetic_lexicon()
    assert list(lexicon)[-3:] == ["?", ".", "-"]
    encoded = babi.encode_stories(stories, lexicon)
    assert sum(int(e.weights.sum()) for e in encoded) == sum(
        len(a) for s in stories for a in s.answers
    )


def test_synthetic_answers_follow_the_story():
    # Single fact: the answer is where the person last went.
    for story in babi.parse_lines(babi.synthetic_stories(20, seed=1, task="single_fact")):
        words, question = list(story.inputs), 0
        for index, token in enumerate(words):
            if token == "-":
                who = words[index - 2]
                last = max(i for i in range(index) if words[i] == who and words[i + 1] != "?")
                place = words[words.index(".", last) - 1]
                assert story.answers[question] == (place,)
                question += 1
    # Lists: multi-word answers ("milk,apple") and "nothing" both occur.
    answers = [
        a for s in babi.parse_lines(babi.synthetic_stories(50, 2, "lists")) for a in s.answers
    ]
    assert any(len(a) >= 2 for a in answers) and ("nothing",) in answers
    with pytest.raises(ValueError, match="'qa1'"):
        babi.synthetic_stories(1, 0, task="qa1")


# --- Files: missing, qa3, counts -----------------------------------------------------------


def test_a_missing_file_fails_at_once_naming_it_and_the_folder(tmp_path):
    start = time.monotonic()
    with pytest.raises(download.DatasetNotFoundError) as error:
        babi.load_task(1, "train", data_dir=tmp_path)
    assert time.monotonic() - start < 1.0
    message = str(error.value)
    assert "qa1_single-supporting-fact_train.txt.gz" in message and str(tmp_path) in message
    assert babi.ARCHIVE_URL in message


def test_the_missing_qa3_train_file_is_a_warning_not_an_error(tmp_path):
    with pytest.warns(babi.MissingTaskWarning, match="qa3_three-supporting-facts_train.*19 tasks"):
        assert babi.locate(3, "train", data_dir=tmp_path) is None
    with pytest.warns(babi.MissingTaskWarning):
        assert babi.load_task(3, "train", data_dir=tmp_path) == []
    with pytest.raises(download.DatasetNotFoundError, match="qa3_three-supporting-facts_test"):
        babi.locate(3, "test", data_dir=tmp_path)
    assert babi.trained_tasks(tmp_path) == ()
    with pytest.raises(ValueError, match="Unknown bAbI task 21"):
        babi.locate(21, "train", data_dir=tmp_path)


def test_a_file_with_the_wrong_question_count_raises(tmp_path, monkeypatch):
    payload = _gz(babi.synthetic_stories(4, seed=0))
    folder = tmp_path / babi.DATASET
    folder.mkdir(parents=True)
    (folder / "qa1_single-supporting-fact_test.txt.gz").write_bytes(payload)
    pinned = download.DataFile(
        "qa1_single-supporting-fact_test.txt.gz", (hashlib.sha256(payload).hexdigest(),)
    )
    monkeypatch.setitem(babi.GZ_FILES, (1, "test"), pinned)
    with pytest.raises(babi.FormatError, match="12 questions, expected 1000"):
        babi.load_task(1, "test", data_dir=tmp_path)


def test_plain_txt_files_are_read_and_checked_against_the_pinned_digest(tmp_path):
    folder = tmp_path / babi.DATASET
    folder.mkdir(parents=True)
    (folder / "qa1_single-supporting-fact_test.txt").write_text(_text(EXAMPLE))
    with pytest.raises(download.ChecksumError, match="corrupt or truncated"):
        babi.locate(1, "test", data_dir=tmp_path)
    # The unpinned qa3 train file is taken as it is (checked later by its question count).
    (folder / "qa3_three-supporting-facts_train.txt").write_text(_text(EXAMPLE))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert babi.locate(3, "train", data_dir=tmp_path).name.endswith("_train.txt")
    assert babi.trained_tasks(tmp_path) == (3,)


def test_the_file_tables_cover_39_files_and_20_tasks():
    assert len(babi.TASKS) == 20 and [n for n, _ in babi.TASKS] == list(range(1, 21))
    assert babi.TASK_NAMES[8] == "lists-sets" and babi.TASK_NAMES[20] == "agents-motivations"
    assert len(babi.FILES) == 39 and (3, "train") not in babi.GZ_FILES
    assert all(len(f.sha256[0]) == 64 and f.url is None for f in babi.FILES)
    assert babi.GZ_FILES[(1, "test")].name == "qa1_single-supporting-fact_test.txt.gz"
    assert babi.PLAIN_FILES[(1, "test")].name == "qa1_single-supporting-fact_test.txt"


# --- Evaluation -----------------------------------------------------------------------------


def _example_encoded():
    (story,) = babi.parse_lines(EXAMPLE)
    words = sorted(set(EXAMPLE_INPUTS) - {"?", ".", "-"})
    lexicon = {w: i for i, w in enumerate([*words, "?", ".", "-"])}
    return babi.encode_story(story, lexicon), lexicon


def test_a_question_is_correct_only_if_all_its_answer_words_are():
    encoded, lexicon = _example_encoded()
    milk, apple = lexicon["milk"], lexicon["apple"]
    assert babi.question_correct([milk, milk, apple], encoded).tolist() == [True, True]
    assert babi.question_correct([milk, milk, milk], encoded).tolist() == [True, False]
    assert babi.question_correct([apple, apple, apple], encoded).tolist() == [False, False]
    # Predictions at every step work too; only the "-" steps are read.
    everywhere = np.zeros(len(encoded.inputs), np.int64)
    everywhere[[17, 35, 36]] = [apple, milk, apple]
    assert babi.question_correct(everywhere, encoded).tolist() == [False, True]
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        babi.question_correct([milk, milk], encoded)


def test_task_errors_average_over_questions_not_words():
    encoded, lexicon = _example_encoded()
    other = dataclasses.replace(encoded, task=2)
    milk, apple = lexicon["milk"], lexicon["apple"]
    errors = babi.task_errors(
        [encoded, encoded, other], [[milk, milk, milk], [milk, milk, apple], [apple, milk, apple]]
    )
    # Task 0: 4 questions, 1 wrong; task 2: 2 questions, 1 wrong.
    assert errors == {0: pytest.approx(0.25), 2: pytest.approx(0.5)}


def test_summarize_a_small_table_by_hand():
    errors = {1: 0.0, 2: 0.10, 3: 0.30, 4: 0.05}
    summary = babi.summarize(errors)  # Default: task 3 untrained.
    assert summary.mean_error == pytest.approx(0.1125)  # (0 + 0.1 + 0.3 + 0.05) / 4.
    assert summary.mean_error_trained == pytest.approx(0.05)  # (0 + 0.1 + 0.05) / 3.
    assert (summary.failed, summary.failed_tasks, summary.failed_trained) == (2, (2, 3), 1)
    assert (summary.num_tasks, summary.num_trained) == (4, 3)
    every = babi.summarize(errors, trained_tasks=[1, 2, 3, 4])
    assert every.mean_error_trained == pytest.approx(every.mean_error)


def test_the_book_table_averages_to_15_78_with_8_failed():
    book = {task: percent / 100 for task, percent in babi.BOOK_ERROR_PERCENT.items()}
    summary = babi.summarize(book, trained_tasks=range(1, 21))
    assert round(100 * summary.mean_error, 2) == babi.BOOK_MEAN_ERROR_PERCENT == 15.78
    assert summary.failed_tasks == (2, 3, 14, 15, 16, 17, 18, 19)
    assert summary.failed == babi.BOOK_FAILED == 8
    assert set(babi.PAPER_MEAN_ERROR) == set(range(1, 21)) == set(babi.BOOK_ERROR_PERCENT)
    assert babi.PAPER_MEAN_ERROR[19] == (64.6, 37.4)
    assert (babi.TF_DNC_MEAN_ERROR_PERCENT, babi.TF_DNC_FAILED) == (14.7, 8)


def test_format_table_prints_aligned_columns():
    errors = {task: 0.01 * task for task in range(1, 21)}
    table = babi.format_table(errors).splitlines()
    assert table[0].split()[:3] == ["Task", "Ours", "%"]
    task_rows = table[2:22]
    assert len({len(row) for row in task_rows}) == 1
    assert task_rows[2].startswith(" 3 three-supporting-facts*")
    assert task_rows[18].split()[-5:] == ["19.00", "98.21", "64.6", "±", "37.4"]
    assert any(row.startswith("Mean err. (20 tasks)") and "10.50" in row for row in table)
    assert any(row.startswith("Mean err. (19 trained)") for row in table)
    assert any(row.startswith("Failed (err. > 5%)") and row.split()[4] == "15" for row in table)


# --- Batches --------------------------------------------------------------------------------


def _synthetic_encoded(num_stories=40, seed=0):
    lines = babi.synthetic_stories(num_stories, seed=seed, task="lists")
    stories = babi.parse_lines(lines, task=8)
    short = babi.parse_lines(babi.synthetic_stories(num_stories, seed, questions_per_story=1))
    return babi.encode_stories(stories + short, babi.synthetic_lexicon())


def test_buckets_pad_with_masks_and_keep_every_story():
    encoded = _synthetic_encoded()
    buckets = babi.bucket_stories(encoded, boundaries=(16, 32, 64))
    assert sum(buckets.sizes) == len(encoded)
    indices = np.concatenate([a["index"] for a in buckets.arrays])
    assert sorted(indices.tolist()) == list(range(len(encoded)))
    for length, arrays in zip(buckets.lengths, buckets.arrays, strict=True):
        assert arrays["inputs"].shape == (len(arrays["index"]), length)
        steps = np.arange(length)[None, :]
        pad = steps >= arrays["lengths"][:, None]
        assert (arrays["inputs"][pad] == babi.PAD_ID).all()
        assert (arrays["weights"][pad] == 0).all() and (arrays["targets"][pad] == 0).all()
        assert (arrays["question_ids"][pad] == -1).all()
        for row, index in enumerate(arrays["index"]):
            story = encoded[index]
            np.testing.assert_array_equal(arrays["inputs"][row, : len(story.inputs)], story.inputs)
            np.testing.assert_array_equal(
                arrays["weights"][row, : len(story.inputs)], story.weights
            )
        # Padding one-hot encodes to zero vectors.
        one_hot = tf.one_hot(arrays["inputs"], depth=len(babi.synthetic_lexicon())).numpy()
        assert (one_hot[pad] == 0).all() and (one_hot[~pad].sum(-1) == 1).all()
    long_bucket = babi.bucket_stories(encoded, boundaries=(8,))
    assert long_bucket.lengths[-1] == max(len(s.inputs) for s in encoded)


def test_training_batches_are_a_pure_function_of_seed_and_step():
    encoded = _synthetic_encoded()
    make = babi.train_batches(encoded, batch_size=3, seed=5, boundaries=(16, 32, 64))
    spec = make(0).element_spec
    assert spec["inputs"].shape.as_list() == [3, None] and spec["lengths"].shape == (3,)
    assert spec["weights"].dtype == tf.float32 and spec["inputs"].dtype == tf.int32
    first = [{k: v.numpy() for k, v in b.items()} for b in make(0).take(8)]
    again = [{k: v.numpy() for k, v in b.items()} for b in make(0).take(8)]
    resumed = [{k: v.numpy() for k, v in b.items()} for b in make(5).take(3)]
    for a, b in zip(first, again, strict=True):
        assert all(np.array_equal(a[k], b[k]) for k in a)
    for a, b in zip(first[5:], resumed, strict=True):
        assert all(np.array_equal(a[k], b[k]) for k in a)
    for batch in first:
        assert batch["inputs"].shape[1] in (16, 32, 64)
        assert (batch["weights"].sum(1) > 0).all()
        assert (batch["lengths"] <= batch["inputs"].shape[1]).all()
    other = [
        b["index"].numpy() for b in babi.train_batches(encoded, batch_size=3, seed=6)(0).take(8)
    ]
    assert any(not np.array_equal(a["index"], b) for a, b in zip(first, other, strict=True))
    with pytest.raises(ValueError, match="batch_size"):
        babi.train_batches(encoded, batch_size=0, seed=0)


def test_eval_batches_visit_every_story_once_and_perfect_answers_score_zero():
    encoded = _synthetic_encoded()
    indices, predictions = [], {}
    for batch in babi.eval_batches(encoded, batch_size=7, boundaries=(16, 32, 64)):
        assert batch["inputs"].shape[0] <= 7
        for row, index in enumerate(batch["index"].numpy()):
            indices.append(int(index))
            predictions[int(index)] = batch["targets"].numpy()[row, : batch["lengths"][row]]
    assert sorted(indices) == list(range(len(encoded)))
    errors = babi.task_errors(encoded, [predictions[i] for i in range(len(encoded))])
    assert errors == {0: 0.0, 8: 0.0}


# --- The real files -------------------------------------------------------------------------


@pytest.mark.data
def test_the_real_lexicon_has_159_entries_with_the_marks_last(babi_dir):
    lexicon = babi.load_lexicon(data_dir=babi_dir)
    assert len(lexicon) == babi.LEXICON_SIZE == 159
    assert list(lexicon)[-3:] == ["?", ".", "-"] and lexicon["-"] == 158
    words = list(lexicon)[:-3]
    assert words == sorted(words) and all(w.isalpha() and w == w.lower() for w in words)


@pytest.mark.data
@pytest.mark.parametrize("task, split", [(1, "train"), (19, "train"), (8, "test"), (3, "test")])
def test_real_files_have_10000_train_and_1000_test_questions(babi_dir, task, split):
    stories = babi.load_task(task, split, data_dir=babi_dir)
    assert babi.count_questions(stories) == {"train": 10_000, "test": 1_000}[split]
    assert all(story.task == task for story in stories)


@pytest.mark.data
def test_the_first_real_lists_story_and_the_offline_qa3_gap(babi_dir):
    stories = babi.load_task(8, "train", data_dir=babi_dir)
    first = " ".join(stories[0].inputs[:30])
    assert first == (
        "mary moved to the bathroom . sandra journeyed to the bedroom . mary got the football "
        "there . john went to the kitchen . what is mary carrying ? -"
    )
    assert stories[0].answers[:2] == (("football",), ("nothing",))
    paths_answers = babi.load_task(19, "test", data_dir=babi_dir)[0].answers
    assert paths_answers[0] == ("s", "s")  # "s,s": two answer words.
    if not (babi_dir / babi.DATASET / "qa3_three-supporting-facts_train.txt.gz").is_file():
        assert babi.trained_tasks(babi_dir) == tuple(t for t in range(1, 21) if t != 3)
        with pytest.warns(babi.MissingTaskWarning):
            assert 3 not in babi.load_split("train", data_dir=babi_dir, tasks=(1, 3))


@pytest.mark.data
def test_the_parser_equals_the_books_loop_on_a_real_file_but_keeps_the_last_story(babi_dir):
    # The book's encode_data token loop, run on one file; its stories are flushed at the next
    # "1", so the file's last story is left in `inputs` (here flushed by hand).
    path = babi.locate(17, "test", data_dir=babi_dir)
    book, inputs, outputs = [], None, None
    for line in babi.read_lines(path):
        answers_flag = False
        line = line.replace(".", " .").replace("?", " ?").replace(",", " ")
        for index, word in enumerate(line.split()):
            if word == "1" and index == 0:
                if inputs is not None:
                    book.append((inputs, outputs))
                inputs, outputs = [], []
            if word.isalpha() or word in ("?", "."):
                if not answers_flag:
                    inputs.append(word.lower())
                else:
                    inputs.append("-")
                    outputs.append(word.lower())
                if not answers_flag:
                    answers_flag = word == "?"
    ours = babi.read_stories(path)
    assert len(ours) == len(book) + 1
    book.append((inputs, outputs))
    for story, (book_inputs, book_outputs) in zip(ours, book, strict=True):
        assert list(story.inputs) == book_inputs
        assert [w for answer in story.answers for w in answer] == book_outputs


@pytest.mark.data
def test_make_dataset_on_real_test_stories(babi_dir):
    dataset = babi.make_dataset(
        "test", batch_size=16, training=False, data_dir=babi_dir, tasks=(1,)
    )
    rows = 0
    for batch in dataset:
        assert batch["inputs"].shape[1] in babi.BUCKET_BOUNDARIES
        rows += int(batch["inputs"].shape[0])
    assert rows == len(babi.load_task(1, "test", data_dir=babi_dir))
    train = babi.make_dataset(
        "train", batch_size=2, training=True, data_dir=babi_dir, tasks=(1, 8), seed=3
    )
    batch = next(iter(train))
    assert batch["inputs"].shape[0] == 2 and set(batch["task"].numpy()) <= {1, 8}
