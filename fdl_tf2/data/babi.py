"""bAbI QA tasks v1.2 (en-10k): the chapter-8 DNC question-answering data, read as the book does.

Book: chapter 8, "Teaching a DNC to Read and Comprehend" (seed lines 5732-5779; the repo's
`archive/dnc/preprocess.py`, `train_babi.py` and `test_babi.py`); spec ch08-09 §1.12, §1.13,
§5 item 4, checklist §6.3, §7. Data: Weston et al., 2015, "Towards AI-Complete Question
Answering: A Set of Prerequisite Toy Tasks" (CC BY 3.0). Reference results: Graves et al., 2016,
"Hybrid computing using a neural network with dynamic external memory" (Extended Data Table 1).

Files, under `<data root>/babi/en-10k/`: `qa<N>_<name>_{train,test}.txt.gz` for the 20 `TASKS`
(the bAbI file names plus `.gz`, byte-identical to the book repository's `data/babi-en-10k/`).
The offline copy has 39 of the 40: `qa3_three-supporting-facts_train.txt` is missing, which is a
`MissingTaskWarning`, not an error: training then covers 19 tasks while the test sets still
cover all 20 (report task 3 separately; `summarize` gives both means). Any other missing file
fails at once with `download.DatasetNotFoundError` naming the file and the data directory. There
is no single-file download: the canonical source is the archive `ARCHIVE_URL`; extract its
`tasks_1-20_v1-2/en-10k/*.txt` into the folder by hand (plain `.txt` files are read too, and
checked against the digest of the offline copy's decompressed bytes; the qa3 train file, which
has no offline copy to pin, is checked only by its question count). Every train file has
10,000 questions and every test file 1,000 (`NUM_QUESTIONS`, checked on every read).

Format: `<id> <sentence>` or `<id> <question>\\t<answer>\\t<supporting fact ids>`; the ids
restart at 1 at each new story and count up by 1; answers of tasks 8 and 19 are
comma-separated lists ("milk,apple", "s,w").

Preprocessing (exactly `preprocess.py`): `tokenize_line` turns "." into " .", "?" into " ?" and
"," into " ", splits on whitespace and keeps the lower-cased `str.isalpha` words plus the "?"
and "." tokens, so numbers (line ids, supporting-fact ids) drop out. A story is one sequence of
input tokens: each statement's words and "."; each question's words and "?", then one "-" per
answer word; the answer words are the targets at the "-" positions.

Story boundaries, FIXED relative to the book (spec §5 item 4): `preprocess.py` keeps one
running story across files and files it only when the next story starts, so the last story of
each file is attributed to the next file read (train/test leakage in `os.listdir` order) and
the last story of the last file is lost. Here every story belongs to its own file and the last
story of every file is kept.

Lexicon (`build_lexicon`): built from the train AND test files as the book does; the alphabetic
words in SORTED order (the book's order is Python 2 dict iteration order, i.e. arbitrary), then
"?", "." and "-" with the last three ids. Sorted order makes the ids independent of the order
and number of the files read. 159 entries on the 39 offline files (`LEXICON_SIZE`, checked by
`load_lexicon`).

Encoding (`encode_story`, as `train_babi.py`'s `prepare_sample`): `inputs` holds the token ids
("-" id at answer positions); `targets` is a copy of `inputs` with the answer word ids at the
"-" positions (the book's `output_vec`; only the answer positions carry weight, so the other
values are never scored); `weights` is 1.0 at the "-" positions, else 0.0; `question_ids`
numbers the questions of a story at their "-" positions (-1 elsewhere), for evaluation.

Batches (`train_batches`, `eval_batches`, `make_dataset`): stories are bucketed by length into
the fixed `BUCKET_BOUNDARIES` (a longer story gets a last bucket as long as the longest story),
so a batch is padded to its bucket's boundary and few shapes occur. Padding: `inputs` and
`question_ids` with `PAD_ID` = -1 (`tf.one_hot(-1, depth)` is all zeros, so padded steps feed
zero vectors), `targets` with `TARGET_PAD_ID` = 0 (a valid class id: sparse cross-entropy rejects
-1 on CPU), `weights` with 0.0; `lengths` gives the true lengths. Training draws batch k from
(seed, k) alone with stateless random ops (bucket with probability proportional to its number
of stories, then stories uniformly with replacement), so every story is equally likely, as in
the book's "sample one story at random", and `make(k)` resumes a run at step k exactly.

Evaluation (exactly `test_babi.py`): the predicted word at an answer step is the argmax of the
output; a question is correct only if all its answer words are; a task's error is 1 - (mean
question correctness); a task fails when its error exceeds 5 % (`FAILED_THRESHOLD`).
"""

import dataclasses
import functools
import gzip
import os
import re
import warnings
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from fdl_tf2.data import download, paths

DATASET = "babi/en-10k"
SPLITS = ("train", "test")
TASKS = (
    (1, "single-supporting-fact"),
    (2, "two-supporting-facts"),
    (3, "three-supporting-facts"),
    (4, "two-arg-relations"),
    (5, "three-arg-relations"),
    (6, "yes-no-questions"),
    (7, "counting"),
    (8, "lists-sets"),
    (9, "simple-negation"),
    (10, "indefinite-knowledge"),
    (11, "basic-coreference"),
    (12, "conjunction"),
    (13, "compound-coreference"),
    (14, "time-reasoning"),
    (15, "basic-deduction"),
    (16, "basic-induction"),
    (17, "positional-reasoning"),
    (18, "size-reasoning"),
    (19, "path-finding"),
    (20, "agents-motivations"),
)
"""The 20 bAbI tasks as `(number, file-stem name)`: file `qa<number>_<name>_<split>.txt`."""
TASK_NAMES = dict(TASKS)
NUM_QUESTIONS = {"train": 10_000, "test": 1_000}
"""Questions per file of each split (en-10k)."""
LEXICON_SIZE = 159
"""156 words + "?", "." and "-": the book's one-hot size X = Y = 159."""
QUESTION_MARK, PERIOD, ANSWER_MARK = "?", ".", "-"
PAD_ID = -1
"""Padding of `inputs` and `question_ids`; `tf.one_hot(PAD_ID, depth)` is a zero vector."""
TARGET_PAD_ID = 0
"""Padding of `targets` (weight 0 there; a valid id, as sparse cross-entropy needs)."""
FAILED_THRESHOLD = 0.05
"""A task is failed when its error rate exceeds this (the book's and the DNC paper's 5 %)."""
BUCKET_BOUNDARIES = (64, 128, 192, 256, 384, 512, 768, 1024)
"""Padded story lengths of the batches (median story 72 tokens, 99th percentile 268, max 1393)."""

ARCHIVE_URL = "http://www.thespermwhale.com/jaseweston/babi/tasks_1-20_v1-2.tar.gz"
"""The canonical bAbI v1.2 archive (Facebook Research); en-10k is `tasks_1-20_v1-2/en-10k/`."""
ARCHIVE_FOLDER = "tasks_1-20_v1-2/en-10k/"

# --- Reference results (percent error per task), spec ch08-09 §1.12 -----------------------

BOOK_ERROR_PERCENT = {
    1: 0.0, 2: 11.88, 3: 27.8, 4: 1.4, 5: 1.7, 6: 0.5, 7: 4.9, 8: 2.1, 9: 0.8, 10: 1.7,
    11: 0.1, 12: 0.0, 13: 0.4, 14: 11.8, 15: 45.44, 16: 56.43, 17: 39.02, 18: 8.68, 19: 98.21,
    20: 2.71,
}  # fmt: skip
"""The book's table (= Mostafa-Samir/DNC-tensorflow's README, ~500k iterations)."""
BOOK_MEAN_ERROR_PERCENT = 15.78
BOOK_FAILED = 8
PAPER_MEAN_ERROR = {
    1: (9.0, 12.6), 2: (39.2, 20.5), 3: (39.6, 16.4), 4: (0.4, 0.7), 5: (1.5, 1.0),
    6: (6.9, 7.5), 7: (9.8, 7.0), 8: (5.5, 5.9), 9: (7.7, 8.3), 10: (9.6, 11.4),
    11: (3.3, 5.7), 12: (5.0, 6.3), 13: (3.1, 3.6), 14: (11.0, 7.5), 15: (27.2, 20.1),
    16: (53.6, 1.9), 17: (32.4, 8.0), 18: (4.2, 1.8), 19: (64.6, 37.4), 20: (0.0, 0.1),
}  # fmt: skip
"""DNC paper (Graves et al. 2016, DNC1): per-task `(mean, sd)` percent error over 20 runs."""
PAPER_MEAN_ERROR_ALL = (16.7, 7.6)
PAPER_FAILED = (11.2, 5.4)
TF_DNC_MEAN_ERROR_PERCENT = 14.7
"""willsq/tf-DNC (590k iterations); only the mean and the failed count are published."""
TF_DNC_FAILED = 8

# --- Files ----------------------------------------------------------------------------------

_SHA256 = {
    (1, "test"): "b8075f168b9cd91cba2734a621d847f045157e0160cf9513bd93e5a7082073c2",
    (1, "train"): "c842d10d979c468f988a54c3e3fb8e4f99842f920f9c0051efee5c6b686add1d",
    (2, "test"): "c74a28c3f41831b540bfaeaf239959b853dcc5ca4cd3e46f86f2026013566d68",
    (2, "train"): "3eac6839cdac9d2947e3b5d0c5b3a92468fb03b2d9c018be326111a0b202101f",
    (3, "test"): "6421735def6796a48a81ef9203459a37aa6d52e9403bf90f64887154246fdfb7",
    (4, "test"): "fcbea839c6775b4b33a9669a78e43c1d43f224be257f0982510ad409046c8c80",
    (4, "train"): "03e960984e899b098b70a8110768a51d86227669a2b7876160735cbb8d475162",
    (5, "test"): "86b6d380236783ca5f8cfafcec2ee43991873ab53ad5b43b3681742a00ca0527",
    (5, "train"): "2f5304e8b3a3f9e7d89cc44809e2c1ddc2465ab338a39b7538209e8f94e53925",
    (6, "test"): "c8c9d84130145ca14a0d5b4439619f072beea8908e436e313199ed2990ed8347",
    (6, "train"): "b56960c900a2c0504eeae4781b17cddb9853b88c4e38872003815e14f188459e",
    (7, "test"): "96cbed0052a4ca3f7e75b658b1d53b883a93593d36a39a2b0c2262d531fef4fd",
    (7, "train"): "aaff35593253c8f682405564971c8ca57ef44d1aa52f0d30a104df7c6af11788",
    (8, "test"): "783237ae47a726cc3ccf93211b47d4880a301be08af377488c14414ca590c395",
    (8, "train"): "7e3dd1364367394998c505241d4c52ceec2f6ccdbebf8b9ace37534eb0a267fd",
    (9, "test"): "eca0fe0026fdd50f7391a27ccce3ae90d0cb57ae4f95e86bcd69304e96e0aaff",
    (9, "train"): "f6f12e129f084cf179f061e29c0a2ad14ab37218fa84568ac36a493ada8d1ff7",
    (10, "test"): "05e91908ba8b36c2ee7e2db950ffb9fe59a2420d8e155aac6fbec96689a25172",
    (10, "train"): "1b9d97d9f431604eca3e67c5c1c93029b6691c993ef7b8d1254e0875d56d1ee9",
    (11, "test"): "c9df44634a9e791a399e20c15af2b7efaa8c6578d384e5d06bfd6dd39fef630b",
    (11, "train"): "27e95b413dd93dee4bbb6cdfdc4e71a00b4e1177a5f2ad8a9575b719009f9491",
    (12, "test"): "e46af216abc75759cc5a36d8f3913350314450e278ed038acec973d9293c7d94",
    (12, "train"): "933f0d73593e5f3de90da21e6801d1f738d2f79edb29aba845f9dcdbd7601204",
    (13, "test"): "93926ea63807de517287c062f52ffbcbb822d4bb60a0d20f6ff8ecfbd2dc042a",
    (13, "train"): "7d173bc8e6829022010212c6670ca135c27b6eee7bb619f9fdc4cf9262a963a4",
    (14, "test"): "0478f7b79a6ae6899e7044fee38da8405f22e96e3a8e79a05624b746f5a646b1",
    (14, "train"): "1a076af0407013afed27ff15eba0f3143adaf4796b7d00e03e30b0e41f15838d",
    (15, "test"): "a6eed731165e088197ecb04293af21f12a15e5aecf3f82a01d663ba34501e8dc",
    (15, "train"): "79018d953bd15604046a66cffeb43a1c26b3d85f9a8607abeaeb012f99ef4041",
    (16, "test"): "b445009141b35e09afea5754a1e6787954a994facc6c89ec018215ccf1fbadea",
    (16, "train"): "6f0ac25c272069868b0815a5c982ba0918ead0a3c116f88eb4db0e10f0a74274",
    (17, "test"): "1cab518adde63b197c187cf9322b3add2a72140799c1883afbc6c6660691a183",
    (17, "train"): "3c803582c56af697b99a7f1cc292e92a146f0593b7b9dde71cdcc0a898cdc501",
    (18, "test"): "e024784e5f219c0cd2ab68de05f3919f770fc4968f6424743b69551838981d13",
    (18, "train"): "99e059d2693cfc34905e00ffb9427d5900fd015eea98aeecc970d3511c5dd7d0",
    (19, "test"): "af659cfc244fa6c6f70086f15fefdaf36b32e1ae620230a80e06fd04c3684368",
    (19, "train"): "26402551f542086198c8ed4b81d8582be3900850bce84bfc2b5669f886370ef2",
    (20, "test"): "eb852cc791b2bfd586bf7f9faafe6756ff3d79f9548c1e98d8837d4e41079306",
    (20, "train"): "b8915ead76f9883df256509c9873eb9fc445b47818df39f47b0de72b61dac110",
}
"""SHA-256 of the 39 offline `.txt.gz` files, keyed by `(task, split)`."""
_SHA256_PLAIN = {
    (1, "test"): "55acf66cef2f6d798e2aa1d056e1ec8f24e910ea9215b639450574321132959b",
    (1, "train"): "749ea9f7c99070feb2d88c975a254417a0dcc8274add4435ae5ae24c7afc7e9d",
    (2, "test"): "eff93fb9cd81ba02eb765772cf7cc269769ed44ec71cbbbc19cfb16ee5eba0f6",
    (2, "train"): "d4074c0c5d54f70ce2f538056ce2b6ef6a313da336da4245f1a24f1298e37ef3",
    (3, "test"): "17795c977100baf8188f386522ae301b62d6c1a13efc01b3aea781e588b4d57f",
    (4, "test"): "07f0ca18ddeea9eed4ba6d59e162adcb0ce44815721114b3540d92825509331e",
    (4, "train"): "5d11b821d35234988ab907866aa7ce718e6b6d751acf63bdef52262afb59f12c",
    (5, "test"): "ec825c1c8a76e63a31f0d7a7763cd63740e98332fa9bdf246a19068949bd5f97",
    (5, "train"): "2506910935b701bac64fc8b1d7ff12bd8d0f47ceefca183454282bec784c12a5",
    (6, "test"): "b108b16f1eccbd1c24df6dca2649079a7b2f10af7fd12d4c45a3393802de59e3",
    (6, "train"): "602f379184bf3cb59660d0f7769d9c94ccdc1fc4d82dfe90bd460d985b1ff0c5",
    (7, "test"): "a74d1f2b91329b2bae814d41cdac2fbdfdf0328562b7d8afa9a0fa576d461e27",
    (7, "train"): "4a2508733bef9b38cfce4b3108a91b83cdee378de4a7370e4d32fea2dacd3b7d",
    (8, "test"): "362a653c821a580fa315a85243b4f03bfa06fa7e0269b6f8e596f8fe6911646a",
    (8, "train"): "9518da2d3aa5d98bec33335e0d5ba3a22c2bd1929ee679085d37eb50a7652e4a",
    (9, "test"): "63590aff3f89993db409f0e9a9eb39c2a5b9d5efff99b255d800a891b0044d9f",
    (9, "train"): "5f8949f6ef7d64516fc4dd5732b12b5932d057b1a614e8ac94e795fb020d4ff0",
    (10, "test"): "fde8f20ed0b3ba979058ed391a566af34653f23baab5b2793ee37f87ef4e88b7",
    (10, "train"): "c5c0788b0446095c07a0442784cad2b59c1d58e875ebe8ad852f5e3f628613f4",
    (11, "test"): "46f3290d0158ce1285a40cd2d793f5a65f86ae5000226e165cbc85a3dfeb2f6f",
    (11, "train"): "edfcd97fecd4a5045af25e1790cf1408856ae362c39521b1b69cd32b88ec0ced",
    (12, "test"): "6437718f8f9801ce345869e910b896836cdc6fd2d01dc7b4d2df49730703b4b1",
    (12, "train"): "39d58df3564916c66cebc98befb65d605c032181e51208730fd8837a77bc166a",
    (13, "test"): "76a25b684f23c9cc473d8cd1465506168b9a1ec8891cfc59d0bbd87e6a064990",
    (13, "train"): "c530fdf122d26617a8a03ba5cdbacee87c22624ba7f50d1f07f9658c900e22d8",
    (14, "test"): "e3f0b19858ffbec3ed1e49076cc4d1295a89ce146c50318b862f13f202b3caf2",
    (14, "train"): "c322e0814eef71f088af1aa1334e7ae4b1ee6ca18f2ee94c05e2189226964ed6",
    (15, "test"): "32b77e117fe9acf5f94906684e3b5206de0108e646c76e1da3e022896ec7ee94",
    (15, "train"): "0a86673f7fafa484f8ee394048f03de19405bdc40b58f21086969efad2862010",
    (16, "test"): "4a11e55366f2a5a859b5a81f683ee23801bdbe71ef984e51adb976bd053e8dcf",
    (16, "train"): "27fef347ce0b25dd148efea2b15f154926e0e9069d4ea6ab9cfca3add492ab35",
    (17, "test"): "9e1e0250ed4ec1831757fab26c04138f81ea557ebf6976a220db879cbed04bac",
    (17, "train"): "8a383651e009db50d6c9effed5778b8646c28c55fadb1592b5f4d8d3a187bbce",
    (18, "test"): "d34f70eb7228a276fcb3a7854174fe562c5634f4fb454a39fc3d1ad9934be3ef",
    (18, "train"): "9e7c15107067d2070170ef12579a8bfe34dfc35a7ac9ebd13f2001dc1a7488f9",
    (19, "test"): "023e391f0d7f79c9e6ae1c46c093e2d0dbd50ab8fbd8965e037a75e3614c20e5",
    (19, "train"): "6cfdc6f448e3cf0e3d8a390fa3add461935b033f89ede32aeef30812401ec91e",
    (20, "test"): "bd3bde3788ac14ba0ae095078f7b820fbd2bfa6a34dba9d1d46a34afde9c2729",
    (20, "train"): "36f20f3baf6bad2297d5b9fd877e633550c36106fe78bc10ddfb7b1eede62573",
}
"""SHA-256 of the same files uncompressed (the bAbI `.txt` files themselves)."""


def _check(task: int, split: str) -> None:
    if task not in TASK_NAMES:
        raise ValueError(f"Unknown bAbI task {task!r}; expected 1..20.")
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r}; expected one of {SPLITS}.")


def file_name(task: int, split: str) -> str:
    """The bAbI name of a task file, e.g. `qa8_lists-sets_train.txt` (stored with `.gz`)."""
    _check(task, split)
    return f"qa{task}_{TASK_NAMES[task]}_{split}.txt"


GZ_FILES = {
    key: download.DataFile(file_name(*key) + ".gz", (digest,), None)
    for key, digest in _SHA256.items()
}
"""`{(task, split): DataFile}`: the 39 offline `.txt.gz` files (no single-file download URL)."""
PLAIN_FILES = {
    key: download.DataFile(file_name(*key), (digest,)) for key, digest in _SHA256_PLAIN.items()
}
"""The same 39 files as plain `.txt` (the archive's form), pinned to the same contents."""
FILES = tuple(GZ_FILES.values())

_FILE_NAME = re.compile(r"qa(\d{1,2})_([a-z\-]*)_(train|test)\.txt(\.gz)?")
_LINE = re.compile(r"(\d+) (.*)")
_MANUAL_STEP = (
    f"bAbI has no single-file download: fetch {ARCHIVE_URL}, extract its "
    f"{ARCHIVE_FOLDER}*.txt files into the folder above (plain .txt is read too; .txt.gz "
    "also works)."
)


class FormatError(download.ChecksumError):
    """A bAbI file is unreadable, malformed (the message names file and line) or incomplete."""


class MissingTaskWarning(UserWarning):
    """A task file the offline copy is known to lack (qa3 train) is missing: 19 tasks train."""


def locate(task: int, split: str, *, data_dir: str | os.PathLike | None = None) -> Path | None:
    """The verified path of one task file: `<name>.txt.gz`, else the plain `<name>.txt`.

    Args:
      task: 1..20.
      split: "train" or "test".
      data_dir: `--data_dir`; None means `$FDL_DATA_DIR`, else the per-user cache.

    Returns:
      The path, or None when the file is qa3 train (which the offline copy lacks) and absent;
      that case warns with `MissingTaskWarning`.

    Raises:
      ValueError: an unknown task or split.
      download.DatasetNotFoundError: any other file is missing (at once, online or not).
      download.ChecksumError: the file is not the expected bytes.
    """
    name = file_name(task, split)
    folder = paths.data_dir(data_dir) / DATASET
    gz_path, plain_path = folder / (name + ".gz"), folder / name
    key = (task, split)
    if plain_path.is_file() and not gz_path.is_file():
        if key in PLAIN_FILES:
            download.verify(plain_path, PLAIN_FILES[key])
        return plain_path  # The unpinned qa3 train file is checked by its question count.
    if key in GZ_FILES:
        try:
            return download.ensure_files(DATASET, (GZ_FILES[key],), data_dir)[gz_path.name]
        except download.DatasetNotFoundError as error:
            raise download.DatasetNotFoundError(f"{error}\n{_MANUAL_STEP}") from None
    if gz_path.is_file():
        return gz_path
    warnings.warn(
        f"bAbI {name} (or {name}.gz) is missing from {folder}: training uses the other 19 tasks "
        f"and task 3 is only tested (report it separately). {_MANUAL_STEP}",
        MissingTaskWarning,
        stacklevel=2,
    )
    return None


def trained_tasks(data_dir: str | os.PathLike | None = None) -> tuple[int, ...]:
    """The tasks whose train file is present (19 on the offline copy: all but 3); no warning."""
    folder = paths.data_dir(data_dir) / DATASET
    return tuple(
        task
        for task, _ in TASKS
        if any((folder / (file_name(task, "train") + ext)).is_file() for ext in (".gz", ""))
    )


# --- Reading and parsing --------------------------------------------------------------------


def tokenize_line(text: str) -> list[str]:
    """The book's tokens of a line: lower-cased alphabetic words, "?" and "."; numbers drop out.

    `preprocess.py`: "." -> " .", "?" -> " ?", "," -> " ", split on whitespace, keep a word if
    `word.isalpha()` (lower-cased) or it is "?" or ".".

    >>> tokenize_line("6 What is Mary carrying?\\tmilk,apple\\t1 4")
    ['what', 'is', 'mary', 'carrying', '?', 'milk', 'apple']
    """
    text = text.replace(".", " .").replace("?", " ?").replace(",", " ")
    return [
        word.lower() if word.isalpha() else word
        for word in text.split()
        if word.isalpha() or word in (QUESTION_MARK, PERIOD)
    ]


@dataclasses.dataclass(frozen=True)
class Story:
    """One bAbI story as the book encodes it, in tokens.

    Attributes:
      inputs: what the network reads: each statement's words and "."; each question's words and
        "?", then one "-" per answer word.
      answers: per question, its answer words in order (the targets at its "-" positions).
      task: the task number (from the file name), or 0 when unknown.
      source: the file (or other source) the story was read from.
      line: the 1-based line number of its first line there.
    """

    inputs: tuple[str, ...]
    answers: tuple[tuple[str, ...], ...]
    task: int = 0
    source: str = ""
    line: int = 0

    @property
    def targets(self) -> tuple[str, ...]:
        """`inputs` with each "-" replaced by its answer word (the book's `output_vec`)."""
        words = iter(word for answer in self.answers for word in answer)
        return tuple(next(words) if token == ANSWER_MARK else token for token in self.inputs)

    @property
    def num_questions(self) -> int:
        return len(self.answers)


def read_lines(path: str | os.PathLike) -> list[str]:
    """The lines of a `.txt` or `.txt.gz` UTF-8 file, without their "\\n" (or "\\r\\n").

    Raises:
      FormatError: not a readable (gzipped) UTF-8 file, e.g. a truncated gzip.
    """
    path = Path(path)
    compressed = path.name.endswith(".gz")
    try:
        if compressed:
            with gzip.open(path, "rb") as handle:
                data = handle.read()
        else:
            data = path.read_bytes()
        text = data.decode("utf-8")
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as error:
        kind = "gzipped UTF-8" if compressed else "UTF-8 text"
        raise FormatError(f"{path}: not a readable {kind} file ({error}).") from error
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # The final "\n" ends the last line; it does not start a new one.
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def parse_lines(lines: Iterable[str], *, source: str = "<lines>", task: int = 0) -> list[Story]:
    """Parses bAbI-format lines into stories; the last story is kept (the book's is lost).

    A line with id 1 starts a story; ids then count up by 1. A line holding TABs is a question
    `<question>?\\t<answer words, comma-separated>\\t<supporting fact ids>`; supporting facts are
    dropped. Lines must not end in a partial story: every story is complete where it stops.

    Raises:
      FormatError: a malformed line, naming `source`, the line number and the line.
    """
    stories: list[Story] = []
    inputs: list[str] | None = None
    answers: list[tuple[str, ...]] = []
    previous, start = 0, 0

    def fail(number: int, line: str, why: str) -> None:
        raise FormatError(f"{source}, line {number}: {why}; got {line!r}.")

    for number, line in enumerate(lines, 1):
        match = _LINE.fullmatch(line)
        if not match:
            fail(number, line, "expected '<id> <sentence>' or '<id> <question>\\t<answer>\\t<ids>'")
        line_id, text = int(match[1]), match[2]
        if line_id == 1:
            if inputs is not None:
                stories.append(Story(tuple(inputs), tuple(answers), task, source, start))
            inputs, answers, start = [], [], number
        elif inputs is None or line_id != previous + 1:
            fail(number, line, f"line id {line_id} does not follow {previous} (stories start at 1)")
        previous = line_id
        if "\t" in text:
            fields = text.split("\t")
            if len(fields) != 3:
                fail(number, line, f"a question line has 3 TAB-separated fields, not {len(fields)}")
            question, answer = tokenize_line(fields[0]), tokenize_line(fields[1])
            if question[-1:] != [QUESTION_MARK] or question.count(QUESTION_MARK) != 1:
                fail(number, line, "a question must end with its only '?'")
            if not answer or not all(word.isalpha() for word in answer):
                fail(number, line, "the answer must be comma-separated alphabetic words")
            if not all(field.isdigit() for field in fields[2].split()):
                fail(number, line, "supporting facts must be line ids")
            inputs.extend(question)
            inputs.extend(ANSWER_MARK * len(answer))
            answers.append(tuple(answer))
        else:
            tokens = tokenize_line(text)
            if QUESTION_MARK in tokens:
                fail(number, line, "a question needs '\\t<answer>\\t<supporting ids>'")
            inputs.extend(tokens)
    if inputs is not None:
        # The fix of the book's boundary bug: the file's last story stays in this file.
        stories.append(Story(tuple(inputs), tuple(answers), task, source, start))
    return stories


@functools.lru_cache(maxsize=48)
def _read_cached(path: str, size: int, mtime_ns: int, task: int) -> tuple[Story, ...]:
    # Keyed by size and modification time too, so a replaced file is read again.
    return tuple(parse_lines(read_lines(path), source=path, task=task))


def _task_of(path: Path) -> int:
    match = _FILE_NAME.fullmatch(path.name)
    return int(match[1]) if match else 0


def read_stories(
    path: str | os.PathLike, *, task: int | None = None, length_limit: int | None = None
) -> list[Story]:
    """The stories of one bAbI-format file (`.txt` or `.txt.gz`), in file order (cached).

    Args:
      path: the file.
      task: the task number to record; None takes it from a `qa<N>_..._<split>.txt[.gz]` name
        (else 0).
      length_limit: the book's `--length_limit`: drop stories of more input tokens.

    Raises:
      FormatError: unreadable file or malformed line (naming file and line).
    """
    path = Path(path)
    status = path.stat()
    task = _task_of(path) if task is None else task
    stories = _read_cached(str(path), status.st_size, status.st_mtime_ns, task)
    return [story for story in stories if length_limit is None or len(story.inputs) <= length_limit]


def count_questions(stories: Iterable[Story]) -> int:
    return sum(story.num_questions for story in stories)


def _load(task, split, data_dir, length_limit) -> list[Story] | None:
    path = locate(task, split, data_dir=data_dir)
    if path is None:
        return None
    stories = read_stories(path, task=task)
    found, expected = count_questions(stories), NUM_QUESTIONS[split]
    if found != expected:
        raise FormatError(
            f"{path}: {found} questions, expected {expected} (bAbI en-10k {split}); the file is "
            "truncated or not the right one."
        )
    return [story for story in stories if length_limit is None or len(story.inputs) <= length_limit]


def load_task(
    task: int,
    split: str,
    *,
    data_dir: str | os.PathLike | None = None,
    length_limit: int | None = None,
) -> list[Story]:
    """The stories of one task file, its question count checked (10,000 train / 1,000 test).

    Returns:
      The stories (those within `length_limit` if given); [] with a `MissingTaskWarning` when
      the file is the absent qa3 train file.

    Raises:
      ValueError: an unknown task or split.
      download.DatasetNotFoundError: another file is missing.
      FormatError: the file is unreadable, malformed, or has the wrong number of questions.
    """
    return _load(task, split, data_dir, length_limit) or []


def load_split(
    split: str,
    *,
    data_dir: str | os.PathLike | None = None,
    tasks: Iterable[int] | None = None,
    length_limit: int | None = None,
) -> dict[int, list[Story]]:
    """`{task: stories}` of a split over `tasks` (default all 20); an absent qa3 train is left out.

    Raises:
      As `load_task`.
    """
    loaded = {}
    for task in TASK_NAMES if tasks is None else tasks:
        stories = _load(task, split, data_dir, length_limit)
        if stories is not None:
            loaded[task] = stories
    return loaded


# --- Lexicon and encoding -------------------------------------------------------------------


def build_lexicon(files: Iterable[str | os.PathLike]) -> dict[str, int]:
    """The book's lexicon of the given files: `{token: id}`.

    Every alphabetic word of the files (lower-cased; statements, questions and answers) in
    sorted order, then "?", "." and "-" with the last three ids.

    Raises:
      FormatError: as `read_stories`.
    """
    words = set()
    for path in files:
        for story in read_stories(path):
            words.update(story.inputs)
            words.update(word for answer in story.answers for word in answer)
    words -= {QUESTION_MARK, PERIOD, ANSWER_MARK}
    tokens = [*sorted(words), QUESTION_MARK, PERIOD, ANSWER_MARK]
    return {token: index for index, token in enumerate(tokens)}


def load_lexicon(*, data_dir: str | os.PathLike | None = None) -> dict[str, int]:
    """The lexicon of every present task file, train and test (the book's); 159 entries.

    Raises:
      FormatError: the lexicon does not have `LEXICON_SIZE` entries (not the en-10k data).
      download.DatasetNotFoundError, FormatError: as `load_task`.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingTaskWarning)  # Not needed for the lexicon.
        located = [locate(task, split, data_dir=data_dir) for task, _ in TASKS for split in SPLITS]
    lexicon = build_lexicon(path for path in located if path is not None)
    if len(lexicon) != LEXICON_SIZE:
        raise FormatError(
            f"The bAbI lexicon has {len(lexicon)} entries, expected {LEXICON_SIZE} (en-10k v1.2)."
        )
    return lexicon


@dataclasses.dataclass(frozen=True, eq=False)
class EncodedStory:
    """A story as arrays of lexicon ids (the book's `prepare_sample`, with question grouping).

    Attributes:
      inputs: int32 `(T,)` token ids; the "-" id at the answer positions.
      targets: int32 `(T,)`: the answer word ids at the "-" positions, the input ids elsewhere.
      weights: float32 `(T,)`: 1.0 at the "-" positions, 0.0 elsewhere.
      question_ids: int32 `(T,)`: at a "-" position the index of its question in the story
        (0, 1, ...), else -1.
      task: the task number (0 when unknown).
    """

    inputs: np.ndarray
    targets: np.ndarray
    weights: np.ndarray
    question_ids: np.ndarray
    task: int = 0

    @property
    def num_questions(self) -> int:
        return int(self.question_ids.max()) + 1 if self.question_ids.size else 0


def encode_story(story: Story, lexicon: Mapping[str, int]) -> EncodedStory:
    """`story` as lexicon ids (see `EncodedStory`).

    Raises:
      ValueError: a word that is not in the lexicon (naming the story's file and line).
    """
    try:
        inputs = np.array([lexicon[token] for token in story.inputs], np.int32)
        targets = np.array([lexicon[token] for token in story.targets], np.int32)
    except KeyError as error:
        raise ValueError(
            f"{story.source}, line {story.line}: {error.args[0]!r} is not in the lexicon."
        ) from None
    is_answer = np.array([token == ANSWER_MARK for token in story.inputs], bool)
    question_ids = np.full(len(inputs), -1, np.int32)
    counts = [len(answer) for answer in story.answers]
    question_ids[is_answer] = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
    return EncodedStory(inputs, targets, is_answer.astype(np.float32), question_ids, story.task)


def encode_stories(stories: Iterable[Story], lexicon: Mapping[str, int]) -> list[EncodedStory]:
    return [encode_story(story, lexicon) for story in stories]


# --- Evaluation (test_babi.py) --------------------------------------------------------------


def question_correct(predicted: np.ndarray, story: EncodedStory) -> np.ndarray:
    """Per question of the story, whether ALL its answer words were predicted correctly.

    Args:
      predicted: int `(num_answer_words,)`, the predicted ids at the story's "-" positions in
        order, or `(T,)`, predicted ids at every step (only the "-" steps are read).
      story: the encoded story.

    Returns:
      bool `(num_questions,)`.

    Raises:
      ValueError: `predicted` has neither shape.
    """
    predicted = np.asarray(predicted)
    positions = np.flatnonzero(story.question_ids >= 0)
    if predicted.shape == story.inputs.shape:
        predicted = predicted[positions]
    elif predicted.shape != positions.shape:
        raise ValueError(
            f"predicted has shape {predicted.shape}; expected {positions.shape} (answer steps) "
            f"or {story.inputs.shape} (every step)."
        )
    wrong_words = predicted != story.targets[positions]
    wrong = np.bincount(
        story.question_ids[positions], weights=wrong_words, minlength=story.num_questions
    )
    return wrong == 0


def task_errors(
    stories: Sequence[EncodedStory], predictions: Sequence[np.ndarray]
) -> dict[int, float]:
    """`{task: error rate}`: 1 - the mean over the task's questions of `question_correct`."""
    if len(stories) != len(predictions):
        raise ValueError(f"{len(stories)} stories but {len(predictions)} predictions.")
    grades: dict[int, list[np.ndarray]] = {}
    for story, predicted in zip(stories, predictions, strict=True):
        grades.setdefault(story.task, []).append(question_correct(predicted, story))
    return {task: 1.0 - float(np.concatenate(g).mean()) for task, g in sorted(grades.items())}


@dataclasses.dataclass(frozen=True)
class Summary:
    """The bottom rows of the book's table, as fractions (not percent).

    Attributes:
      mean_error: the mean error over every task given (20 normally).
      mean_error_trained: the mean over the trained tasks only (19 on the offline copy).
      failed: the number of tasks with error > `FAILED_THRESHOLD`; failed_tasks lists them.
      failed_trained: the same count among the trained tasks.
      num_tasks, num_trained: how many tasks each mean covers.
    """

    mean_error: float
    mean_error_trained: float
    failed: int
    failed_tasks: tuple[int, ...]
    failed_trained: int
    num_tasks: int
    num_trained: int


def _trained(per_task_error: Mapping[int, float], trained: Iterable[int] | None) -> set[int]:
    return set(per_task_error) - {3} if trained is None else set(trained) & set(per_task_error)


def summarize(
    per_task_error: Mapping[int, float], trained_tasks: Iterable[int] | None = None
) -> Summary:
    """Mean error and failed count (error > 5 %) over all tasks and over the trained ones.

    Args:
      per_task_error: `{task: error rate}` as fractions (e.g. from `task_errors`).
      trained_tasks: the tasks that had training stories; None means every task but 3 (the
        offline copy lacks qa3 train); pass `trained_tasks(data_dir)` when it may be present.
    """
    if not per_task_error:
        raise ValueError("per_task_error is empty.")
    trained = _trained(per_task_error, trained_tasks)
    failed = tuple(t for t, error in sorted(per_task_error.items()) if error > FAILED_THRESHOLD)
    trained_errors = [per_task_error[task] for task in trained]
    return Summary(
        mean_error=float(np.mean(list(per_task_error.values()))),
        mean_error_trained=float(np.mean(trained_errors)) if trained_errors else float("nan"),
        failed=len(failed),
        failed_tasks=failed,
        failed_trained=sum(task in trained for task in failed),
        num_tasks=len(per_task_error),
        num_trained=len(trained),
    )


def format_table(
    per_task_error: Mapping[int, float], trained_tasks: Iterable[int] | None = None
) -> str:
    """The `test_babi.py` table: Task / ours / book / DNC paper mean ± sd, all in percent.

    Untrained tasks are starred; the summary rows give the mean over all tasks and over the
    trained ones, and the failed counts (error > 5 %).
    """
    summary = summarize(per_task_error, trained_tasks)
    trained = _trained(per_task_error, trained_tasks)
    name_width = max(len(name) for _, name in TASKS) + 5
    header = f"{'Task':<{name_width}} {'Ours %':>8} {'Book %':>8} {'Paper mean ± sd %':>18}"
    rows = [header, "-" * len(header)]
    for task, name in TASKS:
        if task not in per_task_error:
            continue
        label = f"{task:>2} {name}{'' if task in trained else '*'}"
        paper = "{:.1f} ± {:.1f}".format(*PAPER_MEAN_ERROR[task])
        rows.append(
            f"{label:<{name_width}} {100 * per_task_error[task]:>8.2f} "
            f"{BOOK_ERROR_PERCENT[task]:>8.2f} {paper:>18}"
        )
    rows.append("-" * len(header))
    paper_mean = "{:.1f} ± {:.1f}".format(*PAPER_MEAN_ERROR_ALL)
    paper_failed = "{:.1f} ± {:.1f}".format(*PAPER_FAILED)
    rows.append(
        f"{f'Mean err. ({summary.num_tasks} tasks)':<{name_width}} "
        f"{100 * summary.mean_error:>8.2f} {BOOK_MEAN_ERROR_PERCENT:>8.2f} {paper_mean:>18}"
    )
    if summary.num_trained != summary.num_tasks:
        rows.append(
            f"{f'Mean err. ({summary.num_trained} trained)':<{name_width}} "
            f"{100 * summary.mean_error_trained:>8.2f} {'':>8} {'':>18}"
        )
    rows.append(
        f"{'Failed (err. > 5%)':<{name_width}} {summary.failed:>8d} {BOOK_FAILED:>8d} "
        f"{paper_failed:>18}"
    )
    if summary.num_trained != summary.num_tasks:
        rows.append("* not trained (its training file is missing); tested only")
    return "\n".join(rows)


# --- Synthetic stories ----------------------------------------------------------------------

_PEOPLE = ("Mary", "John", "Sandra", "Daniel")
_PLACES = ("bathroom", "bedroom", "garden", "hallway", "kitchen", "office")
_OBJECTS = ("apple", "football", "milk")
_MOVES = ("went to", "moved to", "journeyed to", "travelled to")
SYNTHETIC_TASKS = ("single_fact", "lists")


def synthetic_stories(
    num_stories: int, seed: int = 0, task: str = "single_fact", questions_per_story: int = 3
) -> list[str]:
    """bAbI-format lines (without "\\n") of small random stories, a pure function of the seed.

    Each story has `questions_per_story` blocks of two statements and a question.
    "single_fact" (like qa1): "1 Mary went to the office." ... "3 Where is Mary?\\toffice\\t1";
    the answer is the person's last place. "lists" (like qa8): people take, drop and move
    objects; "What is Mary carrying?\\tmilk,apple\\t1 4" lists what the person holds, in the
    order taken, or "nothing". Words: 4 people, 6 places, 3 objects.

    Raises:
      ValueError: an unknown task, or num_stories / questions_per_story < 1.
    """
    if task not in SYNTHETIC_TASKS:
        raise ValueError(f"Unknown synthetic task {task!r}; expected one of {SYNTHETIC_TASKS}.")
    if num_stories < 1 or questions_per_story < 1:
        raise ValueError(
            f"num_stories and questions_per_story must be >= 1, got {num_stories} and "
            f"{questions_per_story}."
        )
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(num_stories):
        line_id = 0

        def add(text: str) -> int:
            nonlocal line_id
            line_id += 1
            lines.append(f"{line_id} {text}")
            return line_id

        place, place_line = {}, {}  # Person -> last place and the line that said so.
        held: dict[str, list[tuple[str, int]]] = {person: [] for person in _PEOPLE}
        last_line: dict[str, int] = {}
        for _ in range(questions_per_story):
            for _ in range(2):
                person = str(rng.choice(_PEOPLE))
                free = [o for o in _OBJECTS if all(o != h for p in held.values() for h, _ in p)]
                action = (
                    "move" if task == "single_fact" else str(rng.choice(["move", "take", "drop"]))
                )
                if (action == "take" and not free) or (action == "drop" and not held[person]):
                    action = "move"
                if action == "move":
                    where = str(rng.choice(_PLACES))
                    verb = str(rng.choice(_MOVES))
                    place[person], place_line[person] = where, add(f"{person} {verb} the {where}.")
                    last_line[person] = place_line[person]
                elif action == "take":
                    thing = str(rng.choice(free))
                    last_line[person] = add(f"{person} took the {thing} there.")
                    held[person].append((thing, last_line[person]))
                else:
                    thing, _ = held[person].pop(int(rng.integers(len(held[person]))))
                    last_line[person] = add(f"{person} dropped the {thing}.")
            if task == "single_fact":
                who = str(rng.choice(sorted(place)))
                add(f"Where is {who}?\t{place[who]}\t{place_line[who]}")
            else:
                holders = [p for p in _PEOPLE if held[p]]
                pool = holders if holders and rng.random() < 0.7 else sorted(last_line)
                who = str(rng.choice(pool))
                if held[who]:
                    answer = ",".join(thing for thing, _ in held[who])
                    support = " ".join(str(number) for _, number in held[who])
                else:
                    answer, support = "nothing", str(last_line[who])
                add(f"What is {who} carrying?\t{answer}\t{support}")
    return lines


def synthetic_lexicon() -> dict[str, int]:
    """A lexicon covering every word `synthetic_stories` can produce (sorted, then ?, ., -)."""
    text = " ".join(
        [*_PEOPLE, *_PLACES, *_OBJECTS, *_MOVES, "the Where is What carrying nothing took there"]
        + ["dropped"]
    )
    words = sorted(set(tokenize_line(text)))
    return {
        token: index for index, token in enumerate([*words, QUESTION_MARK, PERIOD, ANSWER_MARK])
    }


# --- Batches --------------------------------------------------------------------------------

_KEYS = ("inputs", "targets", "weights", "question_ids")
_STEP_LIMIT = 2**62


@dataclasses.dataclass(frozen=True, eq=False)
class Buckets:
    """Encoded stories grouped by padded length.

    Attributes:
      lengths: per bucket, its padded length (a boundary, or the longest story's length).
      arrays: per bucket, a dict of NumPy arrays: "inputs", "targets", "question_ids" int32 and
        "weights" float32 `(stories, length)`, padded as the module docstring says; "lengths",
        "task" and "index" (the story's position in the list given) int32 `(stories,)`.
    """

    lengths: tuple[int, ...]
    arrays: tuple[dict[str, np.ndarray], ...]

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(len(arrays["lengths"]) for arrays in self.arrays)


def bucket_stories(
    stories: Sequence[EncodedStory], boundaries: Sequence[int] = BUCKET_BOUNDARIES
) -> Buckets:
    """Puts each story in the first bucket whose boundary is >= its length; empty buckets go.

    Stories longer than the last boundary share one more bucket, as long as the longest.

    Raises:
      ValueError: no stories, or boundaries not strictly increasing positive integers.
    """
    if not stories:
        raise ValueError("There are no stories to batch.")
    boundaries = tuple(int(b) for b in boundaries)
    if (
        not boundaries
        or boundaries[0] < 1
        or any(a >= b for a, b in zip(boundaries[:-1], boundaries[1:], strict=True))
    ):
        raise ValueError(f"boundaries must be increasing positive integers, got {boundaries}.")
    story_lengths = np.array([len(story.inputs) for story in stories])
    limits = np.array([*boundaries, max(int(story_lengths.max()), boundaries[-1] + 1)])
    which = np.searchsorted(limits, story_lengths)  # First limit >= length.
    lengths, arrays = [], []
    for bucket, limit in enumerate(limits):
        members = np.flatnonzero(which == bucket)
        if not members.size:
            continue
        columns = {
            "inputs": np.full((members.size, limit), PAD_ID, np.int32),
            "targets": np.full((members.size, limit), TARGET_PAD_ID, np.int32),
            "weights": np.zeros((members.size, limit), np.float32),
            "question_ids": np.full((members.size, limit), PAD_ID, np.int32),
        }
        for row, index in enumerate(members):
            story = stories[index]
            for key in _KEYS:
                columns[key][row, : len(story.inputs)] = getattr(story, key)
        columns["lengths"] = story_lengths[members].astype(np.int32)
        columns["task"] = np.array([stories[i].task for i in members], np.int32)
        columns["index"] = members.astype(np.int32)
        lengths.append(int(limit))
        arrays.append(columns)
    return Buckets(tuple(lengths), tuple(arrays))


def train_batches(
    stories: Sequence[EncodedStory] | Buckets,
    *,
    batch_size: int,
    seed: int,
    boundaries: Sequence[int] = BUCKET_BOUNDARIES,
) -> Callable[[int], tf.data.Dataset]:
    """Random training batches as an infinite, resumable tf.data stream.

    Step k's batch: a bucket with probability (its stories) / (all stories), then `batch_size`
    stories uniformly with replacement from it, both drawn by stateless random ops seeded by
    (seed, k). So every story is equally likely (the book samples one story at random, batch
    1), and the batch is a pure function of (seed, k): `make(k)` yields exactly the elements
    k, k+1, ... of `make(0)` (checkpoint resume). No Python runs per step.

    Returns:
      `make(start_step=0) -> tf.data.Dataset` of dicts: "inputs", "targets", "question_ids"
      int32 and "weights" float32 `(batch_size, length)`, "lengths", "task", "index" int32
      `(batch_size,)`. The element_spec's time axis is None, so one traced train step with
      `input_signature=[dataset.element_spec]` serves every bucket.

    Raises:
      ValueError: batch_size < 1, or no stories.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
    buckets = stories if isinstance(stories, Buckets) else bucket_stories(stories, boundaries)
    sizes = np.array(buckets.sizes, np.float64)
    logits = tf.constant(np.log(sizes / sizes.sum())[None, :], tf.float64)  # (1, buckets)
    constants = [{key: tf.constant(value) for key, value in a.items()} for a in buckets.arrays]

    def branch(index: int, rows_seed: tf.Tensor) -> Callable[[], dict]:
        def gather():
            rows = tf.random.stateless_uniform(
                [batch_size], rows_seed, minval=0, maxval=int(sizes[index]), dtype=tf.int64
            )
            return {key: tf.gather(value, rows) for key, value in constants[index].items()}

        return gather

    def batch_at(step: tf.Tensor) -> dict:
        step_seed = tf.stack([tf.constant(seed, tf.int64), step])  # (2,)
        bucket_seed, rows_seed = tf.unstack(tf.random.experimental.stateless_split(step_seed, 2))
        bucket = tf.random.stateless_categorical(logits, 1, bucket_seed, dtype=tf.int32)[0, 0]
        batch = tf.switch_case(bucket, [branch(i, rows_seed) for i in range(len(sizes))])
        return {
            key: tf.ensure_shape(value, (batch_size, None) if key in _KEYS else (batch_size,))
            for key, value in batch.items()
        }

    def make(start_step: int = 0) -> tf.data.Dataset:
        if start_step < 0:
            raise ValueError(f"start_step must be >= 0, got {start_step}.")
        steps = tf.data.Dataset.range(start_step, _STEP_LIMIT)
        return steps.map(
            batch_at, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
        ).prefetch(tf.data.AUTOTUNE)

    return make


def eval_batches(
    stories: Sequence[EncodedStory] | Buckets,
    *,
    batch_size: int,
    boundaries: Sequence[int] = BUCKET_BOUNDARIES,
) -> tf.data.Dataset:
    """Every story once, bucket by bucket (the last batch of a bucket partial).

    Elements are the dicts of `train_batches` with a batch axis of None; "index" maps each row
    back to its story (for `task_errors`).

    Raises:
      ValueError: batch_size < 1, or no stories.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
    buckets = stories if isinstance(stories, Buckets) else bucket_stories(stories, boundaries)
    datasets = [tf.data.Dataset.from_tensor_slices(a).batch(batch_size) for a in buckets.arrays]
    dataset = datasets[0]
    for other in datasets[1:]:
        dataset = dataset.concatenate(other)
    return dataset.prefetch(tf.data.AUTOTUNE)


def make_dataset(
    split: str,
    *,
    batch_size: int,
    training: bool,
    data_dir: str | os.PathLike | None = None,
    seed: int = 0,
    start_step: int = 0,
    tasks: Iterable[int] | None = None,
    length_limit: int | None = None,
    lexicon: Mapping[str, int] | None = None,
    boundaries: Sequence[int] = BUCKET_BOUNDARIES,
) -> tf.data.Dataset:
    """The batches of a split, all its tasks joined (the book's 20 test sets are per task).

    Args:
      split: "train" or "test".
      batch_size: stories per batch (the book: 1).
      training: True: `train_batches(...)(start_step)`, infinite and random; False:
        `eval_batches`, every story once.
      data_dir: `--data_dir`; None means `$FDL_DATA_DIR`, else the per-user cache.
      seed, start_step: the training stream's seed and first step.
      tasks: the tasks to read (default all; an absent qa3 train is skipped with a warning).
      length_limit: drop stories of more input tokens (the book's `--length_limit`).
      lexicon: default `load_lexicon(data_dir=data_dir)`.
      boundaries: the bucket lengths.

    Raises:
      As `load_split`, `bucket_stories` and `train_batches`.
    """
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r}; expected one of {SPLITS}.")
    lexicon = load_lexicon(data_dir=data_dir) if lexicon is None else lexicon
    loaded = load_split(split, data_dir=data_dir, tasks=tasks, length_limit=length_limit)
    encoded = [encode_story(s, lexicon) for stories in loaded.values() for s in stories]
    if training:
        return train_batches(encoded, batch_size=batch_size, seed=seed, boundaries=boundaries)(
            start_step
        )
    return eval_batches(encoded, batch_size=batch_size, boundaries=boundaries)
