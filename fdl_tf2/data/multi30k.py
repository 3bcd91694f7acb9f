"""Multi30k (task 1, raw): the offline stand-in for the chapter-7 WMT en-fr translation data.

Book: chapter 7, "A Neural Translation Network" (seed lines 4212-4226; the repo's
`seq2seq/data_utils.py`, which downloads WMT'10 giga-fren and WMT'15 newstest2013); spec ch06-07
§2.2.10, checklist §5.3 item 29, data §7. Data: Elliott et al., 2016, "Multi30K: Multilingual
English-German Image Descriptions", and Elliott et al., 2017 (the French side); the English
captions are Flickr30k's (Young et al., 2014).

Files (`FILES`), under `<data root>/multi30k/`: `{train,val,test_2016_flickr}.{en,fr,de}.gz`,
UTF-8, one untokenised, true-cased sentence per line; line i of the three languages of a split
are translations of each other. Lines: train 29,000, val 1,014, test_2016_flickr 1,000
(`NUM_LINES`). The offline copy is byte-identical to the dataset repository's
`data/task1/raw/` at a pinned commit (`URL_BASE`); when a file is missing and the machine is
online, it is downloaded from there and verified.

The WMT corpus the book trains on (~22.5 M pairs, several GB) has no offline copy; the book's
`data_utils` functions (`translation`) run unchanged on these files instead. Use "val" for the
per-checkpoint dev perplexity and "test_2016_flickr" for the final score. en -> fr is the
book's direction; de -> en is the direction peers report on Multi30k.

Reading keeps every character of a line but its "\\n" (the files have no "\\r"); lines are
split on "\\n" only, not `str.splitlines`, which would also break at U+0085 or U+2028.
"""

import functools
import gzip
import os
from pathlib import Path

from fdl_tf2.data import download, paths

DATASET = "multi30k"
SPLITS = ("train", "val", "test_2016_flickr")
LANGUAGES = ("en", "fr", "de")
NUM_LINES = {"train": 29_000, "val": 1_014, "test_2016_flickr": 1_000}

URL_BASE = (
    "https://raw.githubusercontent.com/multi30k/dataset/"
    "a3d2e0d26b56f3846f66a952536ffed4e401d05a/data/task1/raw/"
)
"""The dataset repository's raw task-1 files at the commit the offline copy was taken from."""

_SHA256 = {
    "train.en.gz": "d79cfa999dd4c51d2cb42499b6796d5a882c3a8a961923c25a898c90f8bbd56f",
    "train.fr.gz": "622e75069e9f4c577425c4f277116ce66e63a2401c0a2312d90073cb12379a3c",
    "train.de.gz": "726e39b2fa9eb9ffb6dc763fb35a179f80fae06ffc5d28b6ace5faa883de28a6",
    "val.en.gz": "14f7d25ddd868909a9213e361768460edcacdd6ab9d1e77b92560dc10c10dc28",
    "val.fr.gz": "ca3106f1a72390591d25f6c45cb4cd39dec4cd3f123e099748a3ce5256c160e9",
    "val.de.gz": "f0cba2f995189cf5770f29a8a9a537a3ad3f51657ad873405082ff6863a5e75a",
    "test_2016_flickr.en.gz": "611d361c6334bc7246101d48097c13cf5c4413c5befc793cc629934359d532d9",
    "test_2016_flickr.fr.gz": "6d326e188d259fb1d04ac19eae3af956559b3a0b93d7635e56c90987c40c8b90",
    "test_2016_flickr.de.gz": "9204244e408ccb38d2a55cfcd344df15005fc42a07a6e55ca6c52b6ababb8cc8",
}

SPLIT_FILES = {
    (split, language): download.DataFile(
        f"{split}.{language}.gz",
        (_SHA256[f"{split}.{language}.gz"],),
        URL_BASE + f"{split}.{language}.gz",
    )
    for split in SPLITS
    for language in LANGUAGES
}
"""`{(split, language): DataFile}`: the 9 files (the offline copy equals the download)."""
FILES = tuple(SPLIT_FILES.values())


class AlignmentError(ValueError):
    """Two files of one split that should be line-aligned have different line counts."""


def _check(split: str, language: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r}; expected one of {SPLITS}.")
    if language not in LANGUAGES:
        raise ValueError(f"Unknown language {language!r}; expected one of {LANGUAGES}.")


def read_lines(path: str | os.PathLike) -> list[str]:
    """The lines of a gzipped UTF-8 file, each without its "\\n" (and nothing else stripped).

    Raises:
      download.ChecksumError: the file is not a readable gzip of UTF-8 text (normally caught
        earlier by the checksum).
    """
    try:
        with gzip.open(path, "rb") as handle:
            text = handle.read().decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as error:
        raise download.ChecksumError(
            f"{path}: not a readable gzipped UTF-8 file ({error})."
        ) from error
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # The final "\n" ends the last line; it does not start a new one.
    return lines


@functools.lru_cache(maxsize=12)
def _read_cached(path: str, size: int, mtime_ns: int) -> tuple[str, ...]:
    # Keyed by size and modification time too, so a replaced file is read again.
    return tuple(read_lines(path))


def load_sentences(
    split: str, language: str, *, data_dir: str | os.PathLike | None = None
) -> list[str]:
    """The sentences of one file, in file order (read once per process).

    Args:
      split: one of `SPLITS`.
      language: one of `LANGUAGES`.
      data_dir: `--data_dir`; None means `$FDL_DATA_DIR`, else the per-user cache.

    Returns:
      One string per line, without the trailing "\\n" (29,000 / 1,014 / 1,000 of them).

    Raises:
      ValueError: an unknown split or language (naming the valid ones).
      download.DatasetNotFoundError: the file is missing (at once when offline).
      download.ChecksumError: the file is not the expected bytes (e.g. truncated).
    """
    _check(split, language)
    data_file = SPLIT_FILES[(split, language)]
    path = download.ensure_files(DATASET, (data_file,), paths.data_dir(data_dir))[data_file.name]
    status = Path(path).stat()
    return list(_read_cached(str(path), status.st_size, status.st_mtime_ns))


def load_pairs(
    split: str,
    source: str = "en",
    target: str = "fr",
    *,
    data_dir: str | os.PathLike | None = None,
) -> tuple[list[str], list[str]]:
    """`(source sentences, target sentences)` of a split, line-aligned (en -> fr: the book's).

    Raises:
      ValueError: an unknown split or language, or source == target.
      AlignmentError: the two files have different numbers of lines.
      download.DatasetNotFoundError, download.ChecksumError: as `load_sentences`.
    """
    _check(split, source)
    _check(split, target)
    if source == target:
        raise ValueError(f"source and target must differ, got {source!r} twice.")
    source_sentences = load_sentences(split, source, data_dir=data_dir)
    target_sentences = load_sentences(split, target, data_dir=data_dir)
    if len(source_sentences) != len(target_sentences):
        raise AlignmentError(
            f"{DATASET} {split}: {split}.{source}.gz has {len(source_sentences)} lines but "
            f"{split}.{target}.gz has {len(target_sentences)}; the files are not line-aligned."
        )
    return source_sentences, target_sentences


def files_read(
    split_languages: tuple[tuple[str, str], ...], data_dir: str | os.PathLike | None = None
) -> dict[str, str]:
    """`{file name: sha256}` of the given `(split, language)` files (results.json provenance)."""
    for split, language in split_languages:
        _check(split, language)
    files = [SPLIT_FILES[key] for key in split_languages]
    located = download.ensure_files(DATASET, files, data_dir)
    return {file.name: download.verify(located[file.name], file) for file in files}
