"""Transition-based dependency parsing: the arc-standard system, a static oracle, linearisation.

Book: chapter 7, "Dependency Parsing and SyntaxNet" (seed lines 3674-3748, no code) and "Beam
Search and Global Normalization" (lines 3750-3785); spec ch06-07 §2.2.2-§2.2.3, checklist items
21-23, errata items 20-21.
References: Nivre (2004), "Incrementality in Deterministic Dependency Parsing" (the arc-standard
system, the book's ref. 77); Chen & Manning (2014), "A Fast and Accurate Dependency Parser using
Neural Networks" (ref. 78); Andor et al. (2016), arXiv 1603.06042 (global normalisation).

Words are numbered 1..n in sentence order; 0 is ROOT. A tree is a heads list: `heads[i]` is the
head of word i + 1 (0 for the root word), as in CoNLL files. A configuration is a stack (top
last), a buffer (front first) and the arcs built so far. The book's three actions (lines
3716-3727), with s0 the top of the stack and s1 the item below it:

    SHIFT      buffer front -> top of the stack
    LEFT-ARC   s0 becomes the parent of s1 (the right item heads the left); s1 is removed
    RIGHT-ARC  s1 becomes the parent of s0 (the left item heads the right); s0 is removed

With labels, each arc action exists once per label (|A| = 1 + 2·#labels); the book keeps 3.
A parse ends with an empty buffer and one item on the stack (line 3729).

Initial state (errata 20): the book puts the **first two words** on the stack (line 3706). The
default is the standard one, ROOT on the stack and every word in the buffer, where a final
RIGHT-ARC attaches the root word to ROOT (allowed only once the buffer is empty, so the tree has
one root): 2n actions. `initial_state="empty"` starts from an empty stack (2n - 1 actions) and
`"book"` from the book's two words (2n - 3 actions); in both the word left on the stack is the
root.

Also here: the static oracle (gold actions of a projective tree) and the book's linearisation
`(R, r_a, A, r_b, [B, b_d, D, b_e, E], r_c, C)` (lines 3693-3695). The book's examples, the
two beam-search toys and the hypothesis counts of line 3774 are in `parsing_demos`.
"""

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from fdl_tf2.models import beam_search

ROOT = 0
"""The artificial root node; words are 1..n."""

SHIFT, LEFT_ARC, RIGHT_ARC = 0, 1, 2
"""Action kinds, and the action ids of the unlabelled system."""

ACTION_NAMES = ("SHIFT", "LEFT-ARC", "RIGHT-ARC")

INITIAL_STATES = ("root", "empty", "book")
"""`root`: [ROOT] | all words; `empty`: [] | all words; `book`: [w1, w2] | w3..wn (line 3706)."""

ScoreFn = Callable[["Configuration"], np.ndarray]
"""`score_fn(configuration) -> (num_actions,)` log-probabilities (or scores) of the actions."""


class NonProjectiveError(ValueError):
    """The gold tree has crossing arcs, which the arc-standard system cannot build."""


class Arc(NamedTuple):
    """A dependency `head -> dependent`, with an optional label."""

    head: int
    dependent: int
    label: str | None = None


# --- Trees ------------------------------------------------------------------------------------


def validate_heads(heads: Sequence[int]) -> tuple[int, ...]:
    """Checks that `heads` is a single-rooted tree over words 1..n; returns it as a tuple.

    Raises:
      ValueError: an empty list, a head outside 0..n, a self-loop, not exactly one word attached
        to ROOT, or a cycle.
    """
    heads = tuple(int(head) for head in heads)
    count = len(heads)
    if count == 0:
        raise ValueError("A tree needs at least one word; got an empty heads list")
    for word, head in enumerate(heads, start=1):
        if not 0 <= head <= count:
            raise ValueError(f"Head of word {word} must be in 0..{count}; got {head}")
        if head == word:
            raise ValueError(f"Word {word} is its own head")
    roots = [word for word, head in enumerate(heads, start=1) if head == ROOT]
    if len(roots) != 1:
        raise ValueError(f"Exactly one word must have head 0 (ROOT); got words {roots}")
    for word in range(1, count + 1):
        node, steps = word, 0
        while node != ROOT:
            node, steps = heads[node - 1], steps + 1
            if steps > count:
                raise ValueError(f"The heads {list(heads)} contain a cycle through word {word}")
    return heads


def _is_ancestor(heads: tuple[int, ...], ancestor: int, node: int) -> bool:
    while node != ROOT:
        node = heads[node - 1]
        if node == ancestor:
            return True
    return ancestor == ROOT


def crossing_arc(heads: Sequence[int]) -> tuple[int, int, int] | None:
    """A witness of non-projectivity: `(head, dependent, word)` with `word` strictly between
    `head` and `dependent` but not a descendant of `head`; None for a projective tree."""
    heads = validate_heads(heads)
    for dependent, head in enumerate(heads, start=1):
        low, high = sorted((head, dependent))
        for word in range(low + 1, high):
            if not _is_ancestor(heads, head, word):
                return head, dependent, word
    return None


def is_projective(heads: Sequence[int]) -> bool:
    """No crossing arcs: every word between a head and its dependent descends from the head."""
    return crossing_arc(heads) is None


@dataclasses.dataclass(frozen=True)
class DependencyTree:
    """A dependency tree over a sentence.

    Attributes:
      words: `(n,)` the tokens.
      heads: `(n,)` head of word i + 1 (0 = ROOT); validated as a single-rooted tree.
      labels: `(n,)` label of the arc into word i + 1 (the root word's is its ROOT arc), or None.
    """

    words: tuple[str, ...]
    heads: tuple[int, ...]
    labels: tuple[str, ...] | None = None

    def __post_init__(self):
        object.__setattr__(self, "words", tuple(self.words))
        object.__setattr__(self, "heads", validate_heads(self.heads))
        if len(self.words) != len(self.heads):
            raise ValueError(f"{len(self.words)} words but {len(self.heads)} heads")
        if self.labels is not None:
            object.__setattr__(self, "labels", tuple(self.labels))
            if len(self.labels) != len(self.heads):
                raise ValueError(f"{len(self.labels)} labels but {len(self.heads)} heads")

    @property
    def root(self) -> int:
        """The word attached to ROOT."""
        return self.heads.index(ROOT) + 1

    def children(self, node: int) -> list[int]:
        """The dependents of `node` (0 = ROOT), in sentence order."""
        return [word for word, head in enumerate(self.heads, start=1) if head == node]

    def arcs(self) -> set[Arc]:
        labels = self.labels or (None,) * len(self.heads)
        return {
            Arc(h, d, label) for d, (h, label) in enumerate(zip(self.heads, labels, strict=True), 1)
        }


def linearize(tree: DependencyTree) -> tuple:
    """The book's linearisation (lines 3693-3695) as nested Python sequences.

    A node with children becomes its word followed, for each child in sentence order, by the
    child's arc label (when the tree is labelled) and the child: the child's word if it is a
    leaf, else the child's own linearisation as a list. The root's linearisation is a tuple. So
    the book's `(R, r_a, A, r_b, [B, b_d, D, b_e, E], r_c, C)` is

        ("R", "r_a", "A", "r_b", ["B", "b_d", "D", "b_e", "E"], "r_c", "C")

    and `format_linearization` prints it back in the book's form.
    """

    def items(node: int) -> list:
        linear: list = [tree.words[node - 1]]
        for child in tree.children(node):
            if tree.labels is not None:
                linear.append(tree.labels[child - 1])
            linear.append(items(child) if tree.children(child) else tree.words[child - 1])
        return linear

    return tuple(items(tree.root))


def format_linearization(linear: Sequence | str) -> str:
    """`("R", "r_a", ["B", "b_d", "D"])` -> `"(R, r_a, [B, b_d, D])"` (tuples in parentheses,
    lists in brackets, as the book prints them)."""
    if isinstance(linear, str):
        return linear
    inner = ", ".join(format_linearization(item) for item in linear)
    return f"({inner})" if isinstance(linear, tuple) else f"[{inner}]"


def random_projective_tree(num_words: int, rng: np.random.Generator) -> tuple[int, ...]:
    """A random single-rooted projective tree over `num_words` words, as a heads tuple.

    Each span is cut at random gaps into consecutive segments; each segment is the subtree of
    one dependent of the span's head, rooted at a random word of the segment. Not uniform over
    trees, but every projective tree has a non-zero probability.
    """
    if num_words < 1:
        raise ValueError(f"num_words must be >= 1; got {num_words}")
    heads = [ROOT] * num_words

    def subtree(low: int, high: int, head: int) -> None:
        root = int(rng.integers(low, high + 1))
        heads[root - 1] = head
        attach(low, root - 1, root)
        attach(root + 1, high, root)

    def attach(low: int, high: int, head: int) -> None:
        if low > high:
            return
        cuts = [gap for gap in range(low, high) if rng.random() < 0.5]  # Cut after word `gap`.
        for start, end in zip([low, *(c + 1 for c in cuts)], [*cuts, high], strict=True):
            subtree(start, end, head)

    subtree(1, num_words, ROOT)
    return tuple(heads)


# --- Configurations ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Configuration:
    """A parser state: stack (top last), buffer (front first), arcs, sentence length.

    Immutable and hashable, so beam hypotheses can share configurations.
    """

    stack: tuple[int, ...]
    buffer: tuple[int, ...]
    arcs: tuple[Arc, ...]
    num_words: int

    @property
    def heads(self) -> tuple[int, ...]:
        """`(n,)` head of each word, -1 where not attached yet."""
        heads = [-1] * self.num_words
        for arc in self.arcs:
            heads[arc.dependent - 1] = arc.head
        return tuple(heads)

    @property
    def labels(self) -> tuple[str | None, ...]:
        """`(n,)` label of each word's arc, None where not attached (or unlabelled)."""
        labels: list[str | None] = [None] * self.num_words
        for arc in self.arcs:
            labels[arc.dependent - 1] = arc.label
        return tuple(labels)

    @property
    def words_read(self) -> int:
        """How many words have left the buffer."""
        return self.num_words - len(self.buffer)

    def num_dependents(self, node: int) -> int:
        return sum(arc.head == node for arc in self.arcs)

    def tree(
        self, words: Sequence[str] | None = None, root_label: str | None = None
    ) -> DependencyTree:
        """The tree of a terminal configuration.

        A root word left on the stack (initial states "empty" and "book") gets head 0 and the
        label `root_label`; the tree is labelled when its arcs are or `root_label` is given
        (a labelled tree whose root label no arc produced uses "root"). Words default to
        `w1, w2, ...`.

        Raises:
          ValueError: the configuration is not terminal.
        """
        if self.buffer or len(self.stack) != 1:
            raise ValueError(f"Not a terminal configuration: {self.describe()}")
        heads = [ROOT if head == -1 else head for head in self.heads]
        if words is None:
            words = [f"w{word}" for word in range(1, self.num_words + 1)]
        if root_label is None and all(label is None for label in self.labels):
            return DependencyTree(tuple(words), heads)
        missing = "root" if root_label is None else root_label
        labels = tuple(missing if label is None else label for label in self.labels)
        return DependencyTree(tuple(words), heads, labels)

    def describe(self, words: Sequence[str] | None = None) -> str:
        """One line: `stack [ROOT, took] | buffer [a, taxi] | arcs {took -nsubj-> I}`."""
        stack = ", ".join(_node_name(node, words) for node in self.stack)
        buffer = ", ".join(_node_name(node, words) for node in self.buffer)
        arcs = ", ".join(arc_text(arc, words) for arc in self.arcs)
        return f"stack [{stack}] | buffer [{buffer}] | arcs {{{arcs}}}"


def _node_name(node: int, words: Sequence[str] | None) -> str:
    if node == ROOT:
        return "ROOT"
    return words[node - 1] if words is not None else f"w{node}"


def arc_text(arc: Arc, words: Sequence[str] | None = None) -> str:
    """`took -nsubj-> I` (or `took -> I` without a label)."""
    head, dependent = _node_name(arc.head, words), _node_name(arc.dependent, words)
    return f"{head} -{arc.label}-> {dependent}" if arc.label else f"{head} -> {dependent}"


class ArcStandard:
    """The arc-standard transition system (Nivre 2004), as the book defines it.

    Action ids: unlabelled, `SHIFT = 0, LEFT_ARC = 1, RIGHT_ARC = 2`; with L labels, 0 is SHIFT,
    `1 + k` is LEFT-ARC with `labels[k]` and `1 + L + k` is RIGHT-ARC with `labels[k]`.

    Legality: SHIFT needs a non-empty buffer; both arcs need two stack items; ROOT is never a
    dependent (no LEFT-ARC onto it), and RIGHT-ARC from ROOT needs an empty buffer (one root).

    Args:
      labels: the arc labels, or None for the book's three unlabelled actions.
      initial_state: one of `INITIAL_STATES`: "root" (default), "empty", or "book" (the first
        two words on the stack, seed line 3706; errata 20).
    """

    def __init__(self, labels: Sequence[str] | None = None, initial_state: str = "root"):
        if initial_state not in INITIAL_STATES:
            raise ValueError(
                f"initial_state must be one of {INITIAL_STATES}; got {initial_state!r}"
            )
        if labels is not None:
            labels = tuple(labels)
            if not labels or len(set(labels)) != len(labels):
                raise ValueError(f"labels must be distinct and non-empty; got {labels}")
        self.labels = labels
        self.initial_state = initial_state

    @property
    def num_labels(self) -> int:
        """1 for the unlabelled system (each arc kind is one action)."""
        return 1 if self.labels is None else len(self.labels)

    @property
    def num_actions(self) -> int:
        """|A| = 1 + 2 * num_labels (3 unlabelled; 15 with the book's 7 labels, line 3774)."""
        return 1 + 2 * self.num_labels

    def __repr__(self) -> str:
        return f"ArcStandard(labels={self.labels}, initial_state={self.initial_state!r})"

    # --- Actions ---

    def action(self, kind: int, label: str | None = None) -> int:
        """The action id of `kind` (SHIFT, LEFT_ARC, RIGHT_ARC) with `label`."""
        if kind == SHIFT:
            return SHIFT
        if kind not in (LEFT_ARC, RIGHT_ARC):
            raise ValueError(f"kind must be SHIFT, LEFT_ARC or RIGHT_ARC; got {kind}")
        if self.labels is None:
            if label is not None:
                raise ValueError(f"Unlabelled system; got label {label!r}")
            return kind
        if label not in self.labels:
            raise ValueError(f"Unknown label {label!r}; the labels are {self.labels}")
        return 1 + (kind - 1) * len(self.labels) + self.labels.index(label)

    def decode_action(self, action: int) -> tuple[int, str | None]:
        """`action id -> (kind, label)`."""
        if not 0 <= action < self.num_actions:
            raise ValueError(f"action must be in 0..{self.num_actions - 1}; got {action}")
        if action == SHIFT or self.labels is None:
            return action, None
        kind, index = divmod(action - 1, len(self.labels))
        return kind + 1, self.labels[index]

    def action_name(self, action: int) -> str:
        kind, label = self.decode_action(action)
        return ACTION_NAMES[kind] + (f"({label})" if label is not None else "")

    def sequence_length(self, num_words: int) -> int:
        """Actions in every complete parse: 2n (root), 2n - 1 (empty), 2n - 3 (book)."""
        return arc_standard_length(num_words, self.initial_state)

    # --- Transitions ---

    def initial(self, num_words: int) -> Configuration:
        if num_words < 1:
            raise ValueError(f"num_words must be >= 1; got {num_words}")
        words = tuple(range(1, num_words + 1))
        if self.initial_state == "root":
            return Configuration((ROOT,), words, (), num_words)
        if self.initial_state == "empty":
            return Configuration((), words, (), num_words)
        return Configuration(words[:2], words[2:], (), num_words)

    def is_terminal(self, config: Configuration) -> bool:
        """The book's end: an empty buffer and one item on the stack (ROOT, or the root word)."""
        return not config.buffer and len(config.stack) == 1

    def is_legal(self, config: Configuration, action: int) -> bool:
        kind, _ = self.decode_action(action)
        if kind == SHIFT:
            return bool(config.buffer)
        if len(config.stack) < 2:
            return False
        left = config.stack[-2]
        if kind == LEFT_ARC:
            return left != ROOT
        return left != ROOT or not config.buffer

    def legal_mask(self, config: Configuration) -> np.ndarray:
        """`(num_actions,)` bool: which actions `apply` accepts."""
        mask = np.zeros(self.num_actions, dtype=bool)
        mask[SHIFT] = bool(config.buffer)
        if len(config.stack) >= 2:
            left, first_right_arc = config.stack[-2], 1 + self.num_labels
            mask[1:first_right_arc] = left != ROOT  # LEFT-ARC with each label.
            mask[first_right_arc:] = left != ROOT or not config.buffer  # RIGHT-ARC.
        return mask

    def apply(self, config: Configuration, action: int) -> Configuration:
        """The configuration after `action`.

        Raises:
          ValueError: `action` is illegal in `config`.
        """
        if not self.is_legal(config, action):
            raise ValueError(f"{self.action_name(action)} is illegal in {config.describe()}")
        kind, label = self.decode_action(action)
        stack, buffer = config.stack, config.buffer
        if kind == SHIFT:
            return Configuration((*stack, buffer[0]), buffer[1:], config.arcs, config.num_words)
        left, right = stack[-2], stack[-1]
        if kind == LEFT_ARC:  # The right item heads the left one.
            arc, kept = Arc(right, left, label), right
        else:  # The left item heads the right one.
            arc, kept = Arc(left, right, label), left
        return Configuration((*stack[:-2], kept), buffer, (*config.arcs, arc), config.num_words)

    def run(self, num_words: int, actions: Sequence[int]) -> list[Configuration]:
        """Every configuration from `initial(num_words)` through `actions`: `len(actions) + 1`."""
        configs = [self.initial(num_words)]
        for action in actions:
            configs.append(self.apply(configs[-1], int(action)))
        return configs

    # --- Static oracle ---

    def _check_gold(self, heads, labels) -> tuple[tuple[int, ...], tuple[str, ...] | None]:
        heads = validate_heads(heads)
        if (labels is None) != (self.labels is None):
            raise ValueError(
                "Give labels exactly when the system is labelled "
                f"(system labels {self.labels}; got labels {labels})"
            )
        if labels is not None:
            labels = tuple(labels)
            if len(labels) != len(heads):
                raise ValueError(f"{len(labels)} labels but {len(heads)} heads")
            root = heads.index(ROOT)
            needed = [x for i, x in enumerate(labels) if i != root or self.initial_state == "root"]
            unknown = set(needed) - set(self.labels)
            if unknown:
                raise ValueError(f"Labels {sorted(unknown)} are not among {self.labels}")
        return heads, labels

    def _oracle_kind(self, config: Configuration, heads: Sequence[int]) -> int | None:
        stack = config.stack
        if len(stack) >= 2:
            left, right = stack[-2], stack[-1]
            if left != ROOT and heads[left - 1] == right:
                return LEFT_ARC
            if right != ROOT and heads[right - 1] == left:
                gold_dependents = sum(head == right for head in heads)
                if config.num_dependents(right) == gold_dependents and (
                    left != ROOT or not config.buffer
                ):
                    return RIGHT_ARC
        return SHIFT if config.buffer else None

    def oracle_action(
        self, config: Configuration, heads: Sequence[int], labels: Sequence[str] | None = None
    ) -> int | None:
        """The static oracle's next action towards the gold tree, or None when none is possible.

        LEFT-ARC when the gold head of s1 is s0; else RIGHT-ARC when the gold head of s0 is s1
        and s0 already has all its gold dependents; else SHIFT. Arc actions carry the gold label
        of the new dependent (`labels`, required by a labelled system). No validation: see
        `oracle`.
        """
        kind = self._oracle_kind(config, heads)
        if kind is None or kind == SHIFT:
            return kind
        dependent = config.stack[-2] if kind == LEFT_ARC else config.stack[-1]
        return self.action(kind, None if self.labels is None else labels[dependent - 1])

    def oracle(self, heads: Sequence[int], labels: Sequence[str] | None = None) -> list[int]:
        """The gold action sequence that builds the tree `heads` (with `labels` if labelled).

        In the "empty" and "book" states the root word's label is not produced by any action.

        Raises:
          NonProjectiveError: the tree has crossing arcs.
          ValueError: `heads` is not a single-rooted tree, or labels do not fit the system.
        """
        heads, labels = self._check_gold(heads, labels)
        crossing = crossing_arc(heads)
        if crossing is not None:
            head, dependent, word = crossing
            raise NonProjectiveError(
                f"The arc {head} -> {dependent} spans word {word}, which is not a descendant "
                f"of {head}: the tree is non-projective and arc-standard cannot build it"
            )
        config, actions = self.initial(len(heads)), []
        while not self.is_terminal(config):
            action = self.oracle_action(config, heads, labels)
            if action is None:  # Unreachable for a projective tree.
                raise NonProjectiveError(f"The oracle is stuck at {config.describe()}")
            actions.append(action)
            config = self.apply(config, action)
        return actions

    def can_reach(self, config: Configuration, heads: Sequence[int]) -> bool:
        """Whether following the static oracle from `config` builds exactly the tree `heads`
        (all arcs so far are gold and nothing needed has left the stack). Labels are ignored."""
        heads = tuple(heads)
        if len(heads) != config.num_words:
            raise ValueError(f"{len(heads)} heads for a {config.num_words}-word configuration")
        if any(heads[arc.dependent - 1] != arc.head for arc in config.arcs):
            return False
        any_label = None if self.labels is None else self.labels[0]  # Same structure.
        while not self.is_terminal(config):
            kind = self._oracle_kind(config, heads)
            if kind is None:
                return False
            config = self.apply(config, self.action(kind, None if kind == SHIFT else any_label))
        return tuple(ROOT if head == -1 else head for head in config.heads) == heads

    # --- Decoding with a scorer ---

    def step_fn(self, score_fn: ScoreFn, renormalize: bool = False) -> beam_search.StepFn:
        """A `beam_search` step function: apply the action, then score the new configuration.

        `step(config, action) -> (log_probs, new_config)`, with `action=None` on the first call
        (`start_token=None`). Illegal actions get `-inf`; a terminal configuration gets all
        `-inf`, which finishes its hypothesis.

        Args:
          score_fn: `score_fn(config) -> (num_actions,)` log-probabilities (or scores).
          renormalize: log-softmax over the legal actions after masking (for logits, or for
            probabilities that put mass on illegal actions).
        """

        def step(config: Configuration, action: int | None) -> tuple[np.ndarray, Configuration]:
            if action is not None:
                config = self.apply(config, int(action))
            if self.is_terminal(config):
                return np.full(self.num_actions, -np.inf), config
            scores = np.asarray(score_fn(config), dtype=np.float64)
            if scores.shape != (self.num_actions,):
                raise ValueError(f"score_fn must return ({self.num_actions},); got {scores.shape}")
            scores = np.where(self.legal_mask(config), scores, -np.inf)
            return (beam_search.log_softmax(scores) if renormalize else scores), config

        return step

    def parse(
        self,
        num_words: int,
        score_fn: ScoreFn,
        beam_size: int = 1,
        *,
        start: Configuration | None = None,
        renormalize: bool = False,
        length_penalty: beam_search.LengthPenalty = 0.0,
    ) -> list[beam_search.Hypothesis]:
        """Beam-search parses of a sentence (`beam_size=1`: greedy), best first.

        Each hypothesis's `state` is its final configuration (`.tree(words)` gives the tree).
        `start` overrides `initial(num_words)`.
        """
        start = self.initial(num_words) if start is None else start
        return beam_search.beam_search(
            self.step_fn(score_fn, renormalize),
            start,
            beam_size,
            self.sequence_length(num_words),
            length_penalty=length_penalty,
        )


def arc_standard_length(num_words: int, initial_state: str = "root") -> int:
    """Actions in every complete arc-standard parse of `num_words` words.

    Each word is shifted once and attached once: 2n from [ROOT] (the root word's attachment
    included), 2n - 1 from an empty stack, 2n - 3 from the book's two words (n >= 2).
    """
    if num_words < 1:
        raise ValueError(f"num_words must be >= 1; got {num_words}")
    if initial_state not in INITIAL_STATES:
        raise ValueError(f"initial_state must be one of {INITIAL_STATES}; got {initial_state!r}")
    if initial_state == "root":
        return 2 * num_words
    if initial_state == "empty":
        return 2 * num_words - 1
    return max(2 * num_words - 3, 0)


def action_names(system: ArcStandard, actions: Sequence[int]) -> list[str]:
    return [system.action_name(int(action)) for action in actions]


def trace(
    system: ArcStandard, words: Sequence[str], actions: Sequence[int]
) -> list[dict[str, Any]]:
    """Fig. 7.9 as rows, one per configuration from the initial one on.

    Returns:
      `len(actions) + 1` dicts: `step`, `action` (the name of the action that led there; "" for
      the initial configuration), `stack`, `buffer` and `arcs` as words, and `configuration`
      (`Configuration.describe`).
    """
    rows = []
    for step, config in enumerate(system.run(len(words), actions)):
        rows.append(
            {
                "step": step,
                "action": system.action_name(int(actions[step - 1])) if step else "",
                "stack": [_node_name(node, words) for node in config.stack],
                "buffer": [_node_name(node, words) for node in config.buffer],
                "arcs": [arc_text(arc, words) for arc in config.arcs],
                "configuration": config.describe(words),
            }
        )
    return rows
