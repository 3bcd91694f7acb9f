"""The book's parsing examples: hypothesis counts, the Fig. 7.5 / 7.11 examples, the garden path.

Book: chapter 7, "Dependency Parsing and SyntaxNet" and "Beam Search and Global Normalization"
(seed lines 3674-3785, no code); spec ch06-07 §2.2.2-§2.2.3, errata items 20-21. Built on the
arc-standard system of `parsing`:
- the hypothesis arithmetic of line 3774 (all action sequences against the legal parses);
- Fig. 7.5's sentence, in which "I" and "taxi" depend on "took" (the seed does not print the
  full sentence), and the tree of the book's linearisation example;
- the toy scores of Fig. 7.11 (greedy takes SHIFT, LEFT-ARC; beam 2 finds LEFT-ARC, RIGHT-ARC);
- a two-reading scorer for the garden-path sentence of line 3752. Both scorers are hand-made
  toys, not trained models.
"""

import math
from collections.abc import Callable, Iterator, Mapping, Sequence

import numpy as np

from fdl_tf2.models.parsing import (
    LEFT_ARC,
    RIGHT_ARC,
    ROOT,
    SHIFT,
    ArcStandard,
    Configuration,
    DependencyTree,
    ScoreFn,
    arc_standard_length,
)

# --- Hypothesis counts (line 3774; errata 21) -------------------------------------------------

BOOK_HYPOTHESIS_COUNT = 10**15
"""Line 3774: "1 000 000 000 000 000" hypotheses for 10 words and 15 actions."""


def catalan(k: int) -> int:
    """The k-th Catalan number, `C(2k, k) / (k + 1)`: 1, 1, 2, 5, 14, 42, ..."""
    return math.comb(2 * k, k) // (k + 1)


def count_legal_sequences(num_words: int, num_labels: int = 1, initial_state: str = "root") -> int:
    """Complete legal arc-standard action sequences for a sentence of `num_words` words.

    The shifts and reductions form a Dyck path (every reduction needs two stack items):
    `catalan(n - 1)` shapes, and each of the n - 1 word-to-word arcs is a LEFT or RIGHT arc with
    one of L labels, so `catalan(n - 1) * (2L) ** (n - 1)`; from [ROOT] the final ROOT arc adds
    a factor L. (Several sequences can build the same tree.) `enumerate_sequences` checks it.
    """
    if num_labels < 1:
        raise ValueError(f"num_labels must be >= 1; got {num_labels}")
    arc_standard_length(num_words, initial_state)  # Validates the arguments.
    count = catalan(num_words - 1) * (2 * num_labels) ** (num_words - 1)
    return count * num_labels if initial_state == "root" else count


def enumerate_sequences(system: ArcStandard, num_words: int) -> Iterator[tuple[int, ...]]:
    """Every complete legal action sequence of `system` for `num_words` words (depth first)."""

    def visit(config: Configuration, prefix: tuple[int, ...]) -> Iterator[tuple[int, ...]]:
        if system.is_terminal(config):
            yield prefix
            return
        for action in np.flatnonzero(system.legal_mask(config)).tolist():
            yield from visit(system.apply(config, action), (*prefix, action))

    yield from visit(system.initial(num_words), ())


def hypothesis_counts(
    num_words: int = 10, num_actions: int = 15, initial_state: str = "root"
) -> dict[str, int]:
    """The numbers behind line 3774, corrected (errata 21).

    The book says a 10-word sentence with 15 actions (1 SHIFT + 7 labelled LEFT-ARCs + 7
    labelled RIGHT-ARCs) has 10**15 hypotheses. Literally |A|**length is 15**10 ~ 5.8e11; but
    a parse of n words takes `arc_standard_length` ~ 2n = 20 actions, so 15**20 ~ 3.3e23
    sequences of that length. Only `count_legal_sequences` of them are legal: ~ 7.0e14 from
    [ROOT] and ~ 1.0e14 without it, the book's order of magnitude.

    Returns:
      `book_claim`, `actions_per_word_power` (|A|**n), `sequence_length`,
      `all_action_sequences` (|A|**length) and `legal_action_sequences`.
    """
    if num_actions < 3 or num_actions % 2 == 0:
        raise ValueError(f"num_actions must be 1 + 2 * num_labels (odd, >= 3); got {num_actions}")
    length = arc_standard_length(num_words, initial_state)
    return {
        "book_claim": BOOK_HYPOTHESIS_COUNT,
        "actions_per_word_power": num_actions**num_words,
        "sequence_length": length,
        "all_action_sequences": num_actions**length,
        "legal_action_sequences": count_legal_sequences(
            num_words, (num_actions - 1) // 2, initial_state
        ),
    }


# --- Fig. 7.5: a sentence in which "I" and "taxi" depend on "took" ---------------------------

EXAMPLE_TREE = DependencyTree(
    words=("I", "took", "a", "taxi"),
    heads=(2, ROOT, 4, 2),
    labels=("nsubj", "root", "det", "dobj"),
)
"""Fig. 7.5 (line 3680) says only that "I" (subject) and "taxi" (direct object) are children of
"took"; the full sentence is not in the text, so this is a short sentence with those arcs."""

BOOK_LINEARIZATION_TREE = DependencyTree(
    words=("R", "A", "B", "D", "E", "C"),
    heads=(ROOT, 1, 1, 3, 3, 1),
    labels=("root", "r_a", "r_b", "b_d", "b_e", "r_c"),
)
"""Fig. 7.6 (lines 3693-3695): root R with children A, B, C (edges r_a, r_b, r_c); B has
children D, E (edges b_d, b_e). Linearised: (R, r_a, A, r_b, [B, b_d, D, b_e, E], r_c, C)."""


# --- Fig. 7.11: greedy takes SHIFT, LEFT-ARC; beam 2 finds LEFT-ARC, RIGHT-ARC ----------------

FIG_7_11_PROBABILITIES: Mapping[tuple[int, ...], tuple[float, float, float]] = {
    (): (0.5, 0.4, 0.1),
    (SHIFT,): (0.3, 0.4, 0.3),
    (LEFT_ARC,): (0.1, 0.1, 0.8),
    (RIGHT_ARC,): (0.4, 0.3, 0.3),
}
"""Toy `P(SHIFT), P(LEFT-ARC), P(RIGHT-ARC)` after each action prefix (lines 3767-3769; the
figure's own numbers are not in the text). Greedy: SHIFT (0.5), then LEFT-ARC: 0.5 * 0.4 =
0.20. Best: LEFT-ARC, RIGHT-ARC: 0.4 * 0.8 = 0.32. Beam 2 keeps {SHIFT, LEFT-ARC} after step 1
and {LEFT-ARC RIGHT-ARC 0.32, SHIFT LEFT-ARC 0.20} after step 2."""


def fig_7_11_start() -> Configuration:
    """Where Fig. 7.11's two steps start: [ROOT, w1, w2, w3] | [w4, w5], after three SHIFTs,
    so that all three actions are legal at both steps."""
    return Configuration((ROOT, 1, 2, 3), (4, 5), (), 5)


def fig_7_11_score_fn(system: ArcStandard | None = None) -> ScoreFn:
    """Log of `FIG_7_11_PROBABILITIES` for the configurations one or two steps from
    `fig_7_11_start()`; uniform over the legal actions anywhere else."""
    system = system or ArcStandard()
    start = fig_7_11_start()
    table = {}
    for prefix, probabilities in FIG_7_11_PROBABILITIES.items():
        config = start
        for action in prefix:
            config = system.apply(config, action)
        table[config] = np.log(np.asarray(probabilities))

    def score(config: Configuration) -> np.ndarray:
        if config in table:
            return table[config]
        mask = system.legal_mask(config)
        return np.where(mask, -math.log(max(int(mask.sum()), 1)), -np.inf)

    return score


# --- The garden-path sentence (line 3752) -----------------------------------------------------

GARDEN_PATH_WORDS = (
    "The", "complex", "houses", "married", "and", "single", "soldiers", "and", "their", "families",
)  # fmt: skip

GARDEN_PATH_READINGS = {
    # First impression: "complex" an adjective, "houses" a noun, "married" the verb; the rest
    # then fits only awkwardly (here "soldiers" is forced into a conjunct of "married").
    "houses_noun": DependencyTree(
        GARDEN_PATH_WORDS,
        heads=(3, 3, 4, ROOT, 7, 7, 4, 10, 10, 7),
        labels=("det", "amod", "nsubj", "root", "cc", "amod", "conj", "cc", "poss", "conj"),
    ),
    # The meaning (lines 3752-3755): the complex (a noun) houses (a verb) the soldiers.
    "houses_verb": DependencyTree(
        GARDEN_PATH_WORDS,
        heads=(2, 3, ROOT, 7, 6, 4, 3, 10, 10, 7),
        labels=("det", "nsubj", "root", "amod", "cc", "conj", "obj", "cc", "poss", "conj"),
    ),
}
"""The two readings of "The complex houses married and single soldiers and their families"."""

GARDEN_PATH_REVEAL = 6
"""Toy: once "single" (word 6) has been read, "married and single" reads as adjectives."""


def garden_path_plausibility(words_read: int) -> tuple[float, float]:
    """Toy weights `(houses_noun, houses_verb)` of the two readings after `words_read` words:
    most readers first take "houses" as a noun (0.6 / 0.4), until "married and single" makes
    that reading implausible (0.05 / 0.95)."""
    return (0.6, 0.4) if words_read < GARDEN_PATH_REVEAL else (0.05, 0.95)


def reading_mixture_score_fn(
    system: ArcStandard,
    readings: Sequence[DependencyTree],
    plausibility: Callable[[int], Sequence[float]],
    smoothing: float = 0.05,
) -> ScoreFn:
    """A hand-made, locally normalised action model that hesitates between readings.

        P(a | c) ∝ smoothing + sum_r w_r(words_read(c)) * [c can reach r and a = oracle_r(c)]

    over the legal actions of c, as log-probabilities: each reading r votes, with weight
    `plausibility(words_read)[r]`, for its static-oracle action while the configuration can
    still build it. It is a toy, not a trained parser: it shows how a greedy decoder commits to
    the reading that is ahead when the readings part, and a beam keeps the other one alive
    until later words decide.
    """
    gold = [(tree.heads, tree.labels if system.labels else None) for tree in readings]
    cache: dict[Configuration, np.ndarray] = {}

    def score(config: Configuration) -> np.ndarray:
        if config not in cache:
            weights = plausibility(config.words_read)
            mask = system.legal_mask(config)
            votes = np.where(mask, smoothing, 0.0)
            for (heads, labels), weight in zip(gold, weights, strict=True):
                if system.can_reach(config, heads):
                    action = system.oracle_action(config, heads, labels)
                    votes[action] += weight
            with np.errstate(divide="ignore"):
                cache[config] = np.log(votes / votes.sum())
        return cache[config]

    return score
