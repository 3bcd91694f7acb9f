"""Word-shape features of the POS tagger: a capitalisation class and a suffix id per word.

Not in the book: the two extra inputs of Collobert et al., 2011, "Natural Language Processing
(Almost) from Scratch" (§3.5 / §4: a capitalisation feature and a suffix feature beside each
word vector of the window). They tell an unseen word's tag where its (random) vector cannot:
"Dealers", "1,570", "unanimously", "reclassified".

Both are computed from the word as the tagger sees it, after the book's preprocessing
(`conll2000.preprocess_tokens`: digits are "#", "-" is "_", phrases are `w1_w2`; the case is
kept). Only ASCII letters count as letters, so that the same classes come out of Python here
and of the TensorFlow string ops of `export.text_endpoints` (whose `tf.strings.lower` is
ASCII-only), for any Unicode word.

Shape ids (`SHAPES`, id = position), the first rule that applies:

    0 <pad>      a window position outside the sentence (never a word's class)
    1 digit      contains "#" or an ASCII digit ("####", "#.#", "####s")
    2 all_caps   an ASCII capital and no ASCII lower-case letter ("IBM", "U.S.", "A")
    3 init_cap   starts with an ASCII capital ("Dealers", "McDonald", "New_York")
    4 lower      any other word with an ASCII lower-case letter ("the", "iPhone", "caf\u00e9")
    5 other      the rest: punctuation, symbols, letters outside ASCII, "" ("%", "\u6f22\u5b57")

Suffix ids: the last `suffix_length` characters (Unicode code points; the whole word when it
is shorter) of the ASCII-lower-cased word, looked up in a suffix vocabulary built from the
TRAINING split only (`SuffixVocabulary.build`): 0 is the window pad, 1 (`UNK_ID`) every
suffix seen fewer than `min_count` times in training or not at all.
"""

import collections
import dataclasses
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

PAD_ID = 0
UNK_ID = 1
SHAPES = ("<pad>", "digit", "all_caps", "init_cap", "lower", "other")
SHAPE_IDS = {name: index for index, name in enumerate(SHAPES)}
NUM_SHAPES = len(SHAPES)
SUFFIX_LENGTH = 3
SUFFIX_MIN_COUNT = 5
SUFFIX_SPECIAL_TOKENS = ("<pad>", "<unk>")
"""Ids 0 and 1 of a suffix vocabulary (a real suffix such as "<unk>" is looked up as text)."""

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_DIGITS = frozenset("#0123456789")


def _is_ascii_upper(character: str) -> bool:
    return "A" <= character <= "Z"


def _is_ascii_lower(character: str) -> bool:
    return "a" <= character <= "z"


def shape_id(word: str) -> int:
    """The shape class of one processed word (the table of the module docstring), 1..5."""
    if any(character in _DIGITS for character in word):
        return SHAPE_IDS["digit"]
    has_lower = any(_is_ascii_lower(character) for character in word)
    if not has_lower and any(_is_ascii_upper(character) for character in word):
        return SHAPE_IDS["all_caps"]
    if word and _is_ascii_upper(word[0]):
        return SHAPE_IDS["init_cap"]
    return SHAPE_IDS["lower"] if has_lower else SHAPE_IDS["other"]


def ascii_lower(word: str) -> str:
    """`word` with A-Z lower-cased and every other character kept (as `tf.strings.lower`)."""
    return word.translate(_ASCII_LOWER)


def suffix(word: str, length: int = SUFFIX_LENGTH) -> str:
    """The last `length` code points of the ASCII-lower-cased word (all of it if shorter)."""
    if length < 1:
        raise ValueError(f"suffix length must be >= 1, got {length}.")
    return ascii_lower(word)[-length:]


@dataclasses.dataclass(frozen=True, eq=False)
class SuffixVocabulary:
    """Id -> suffix (`suffixes`: `SUFFIX_SPECIAL_TOKENS`, then the kept suffixes) and back.

    Attributes:
      suffixes: id -> suffix; ids 0 and 1 are the pad and UNK.
      length: the suffix length in code points.
      lookup: suffix -> id, for the real suffixes (ids >= 2).
    """

    suffixes: tuple[str, ...]
    length: int = SUFFIX_LENGTH
    lookup: dict[str, int] = dataclasses.field(init=False)

    def __post_init__(self):
        if tuple(self.suffixes[:2]) != SUFFIX_SPECIAL_TOKENS:
            raise ValueError(f"suffixes must start with {SUFFIX_SPECIAL_TOKENS}.")
        if self.length < 1:
            raise ValueError(f"suffix length must be >= 1, got {self.length}.")
        lookup = {text: index for index, text in enumerate(self.suffixes) if index >= 2}
        object.__setattr__(self, "lookup", lookup)

    @classmethod
    def build(
        cls,
        words: Iterable[str],
        *,
        length: int = SUFFIX_LENGTH,
        min_count: int = SUFFIX_MIN_COUNT,
    ) -> "SuffixVocabulary":
        """The suffixes of `words` (the training tokens) seen at least `min_count` times.

        Ordered by count, most frequent first, ties alphabetically (reproducible).
        """
        if min_count < 1:
            raise ValueError(f"min_count must be >= 1, got {min_count}.")
        counts = collections.Counter(suffix(word, length) for word in words)
        kept = sorted((text for text, n in counts.items() if n >= min_count),
                      key=lambda text: (-counts[text], text))  # fmt: skip
        return cls((*SUFFIX_SPECIAL_TOKENS, *kept), length)

    def __len__(self) -> int:
        return len(self.suffixes)

    def suffix_id(self, word: str) -> int:
        """The id of `word`'s suffix; `UNK_ID` if the suffix was not kept."""
        return self.lookup.get(suffix(word, self.length), UNK_ID)


def shape_and_suffix_ids(words: Sequence[str], suffixes: SuffixVocabulary) -> np.ndarray:
    """`shape_id` and `SuffixVocabulary.suffix_id` of each word: int32 `(len(words), 2)`."""
    rows = [(shape_id(word), suffixes.suffix_id(word)) for word in words]
    return np.asarray(rows, np.int32).reshape(len(words), 2)


def word_features(
    words: Sequence[str],
    word_lookup: Mapping[str, int],
    suffixes: SuffixVocabulary,
    *,
    unk_id: int = UNK_ID,
) -> np.ndarray:
    """The tagger's per-token ids of one sentence: int32 `(len(words), 3)`.

    Columns: word id (`word_lookup`, missing words -> `unk_id`), `shape_id`, suffix id.
    """
    word_ids = np.asarray([word_lookup.get(word, unk_id) for word in words], np.int32)
    return np.column_stack([word_ids, shape_and_suffix_ids(words, suffixes)]).astype(np.int32)
