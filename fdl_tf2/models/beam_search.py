"""Beam search over action or token sequences, with greedy and brute-force references.

Book: chapter 7, "Beam Search and Global Normalization" (seed lines 3750-3785): greedy decoding
cannot undo an early mistake once later inputs depend on it (the garden-path sentence); beam
search keeps the b most probable hypotheses for the first k actions, **expands** each by all
|A| actions (b·|A| candidates) and **prunes** back to the b most probable (Fig. 7.11, b = 2);
spec ch06-07 §2.2.3 and checklist item 22.
References: Wu et al. (2016), "Google's Neural Machine Translation System", arXiv 1609.08144
(the length penalty `lp`); Andor et al. (2016), "Globally Normalized Transition-Based Neural
Networks", arXiv 1603.06042 (the book's refs. 80-81).

The search is pure Python / NumPy and knows nothing about parsing or translation: the model
is a step function

    log_probs, new_state = step_fn(state, token)

- `state`: whatever the model carries for one hypothesis (a parser configuration, an RNN
  decoder state, or simply the token history), *before* `token` is consumed;
- `token`: the hypothesis's last token, or `start_token` on the first call (None for the
  parser, the GO id for a seq2seq decoder);
- `log_probs`: `(num_actions,)` scores of every possible next token given the prefix that
  ends with `token`; log-probabilities for a locally normalised model, but any additive scores
  work. `-inf` marks an impossible (illegal) action, which is never chosen;
- `new_state`: the state after consuming `token`.

So one call per surviving hypothesis and step does both the transition and the scoring, which
suits an RNN decoder (feed the token, read the logits) as well as a transition system (apply
the action, score the new configuration).

A hypothesis is **finished** when its last token is `eos_id`, or when `step_fn` returns no
finite score (the state admits no continuation: a terminal parser configuration). A finished
hypothesis stays in the beam with its score unchanged and competes for the b slots with the
expansions of the unfinished ones, as in a fixed-width in-graph beam (its only successor is
itself); the search stops when the whole beam is finished or `max_len` tokens were chosen.
Hypotheses still unfinished at `max_len` are returned with `finished=False`.

Length normalisation ranks hypotheses by `normalized_score = score / lp(length)` (length in
tokens, `eos_id` included), both while pruning and in the result:

    lp(L) = ((5 + L) / 6) ** alpha      length_penalty=alpha (GNMT; alpha = 0: plain log-prob)
    lp(L) = L                           length_penalty="average" (mean log-prob per token)

Without it (the default), beam search prefers short hypotheses, since every token adds a
negative log-probability. Ties are broken deterministically: equal normalised scores are
ordered by their token tuples, so the lowest token ids come first (as `np.argmax` does).
"""

import math
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np

StepFn = Callable[[Any, Any], tuple[np.ndarray, Any]]
"""`step_fn(state, token) -> (log_probs (num_actions,), new_state)`; see the module docstring."""

LengthPenalty = float | str
"""A GNMT exponent alpha >= 0 (0 disables normalisation), or "average"."""


class Hypothesis(NamedTuple):
    """One scored action/token sequence.

    Attributes:
      tokens: the chosen tokens, first to last (`eos_id` included when it ended the sequence).
      score: the sum of the step scores (log-probability of `tokens` for a local model).
      normalized_score: `score / lp(len(tokens))`, the ranking key (equals `score` when
        `length_penalty` is 0).
      finished: ended with `eos_id`, or reached a state with no continuation; False when cut
        off at `max_len`.
      state: the model state after the last token; for a hypothesis that ended with `eos_id`,
        the state before `eos_id` (it is never fed back).
    """

    tokens: tuple[int, ...]
    score: float
    normalized_score: float
    finished: bool
    state: Any


# --- Scores -----------------------------------------------------------------------------------


def length_penalty_factor(length: int, length_penalty: LengthPenalty = 0.0) -> float:
    """The divisor `lp(length)` of the log-probability (see the module docstring).

    Args:
      length: number of tokens, `eos_id` included.
      length_penalty: GNMT exponent alpha >= 0, or "average" (divide by the length; an empty
        hypothesis counts as length 1).

    Raises:
      ValueError: a negative alpha or an unknown string.
    """
    if isinstance(length_penalty, str):
        if length_penalty != "average":
            raise ValueError(
                f"length_penalty must be a number >= 0 or 'average'; got {length_penalty!r}"
            )
        return float(max(length, 1))
    alpha = float(length_penalty)
    if not alpha >= 0:
        raise ValueError(f"length_penalty must be a number >= 0 or 'average'; got {alpha}")
    return ((5.0 + length) / 6.0) ** alpha


def _check_log_probs(log_probs: Any) -> np.ndarray:
    log_probs = np.asarray(log_probs, dtype=np.float64)
    if log_probs.ndim != 1 or log_probs.size == 0:
        raise ValueError(
            f"step_fn must return log_probs of shape (num_actions,); got {log_probs.shape}"
        )
    if np.any(np.isnan(log_probs)) or np.any(log_probs == np.inf):
        raise ValueError(f"step_fn returned NaN or +inf scores: {log_probs}")
    return log_probs


def _check_arguments(beam_size: int, max_len: int, length_penalty: LengthPenalty) -> None:
    if not isinstance(beam_size, (int, np.integer)) or beam_size < 1:
        raise ValueError(f"beam_size must be an integer >= 1; got {beam_size!r}")
    if not isinstance(max_len, (int, np.integer)) or max_len < 0:
        raise ValueError(f"max_len must be an integer >= 0; got {max_len!r}")
    length_penalty_factor(1, length_penalty)


def _hypothesis(tokens, score, finished, state, length_penalty) -> Hypothesis:
    normalized = score / length_penalty_factor(len(tokens), length_penalty)
    return Hypothesis(tuple(tokens), float(score), float(normalized), finished, state)


def _rank_key(hypothesis: Hypothesis) -> tuple[float, tuple[int, ...]]:
    """Best first: higher normalised score, then the lexicographically smaller tokens."""
    return (-hypothesis.normalized_score, hypothesis.tokens)


# --- Searches ---------------------------------------------------------------------------------


class _Alive(NamedTuple):
    """An unfinished hypothesis: `state` has consumed every token but `last`."""

    tokens: tuple[int, ...]
    score: float
    state: Any
    last: Any


def beam_search(
    step_fn: StepFn,
    initial_state: Any,
    beam_size: int,
    max_len: int,
    *,
    eos_id: int | None = None,
    start_token: Any = None,
    length_penalty: LengthPenalty = 0.0,
    on_step: Callable[[int, list[Hypothesis]], None] | None = None,
) -> list[Hypothesis]:
    """The `beam_size` best hypotheses of at most `max_len` tokens, best first.

    Each step expands every unfinished hypothesis of the beam by all its finite-scored tokens
    (up to b·|A| candidates), adds the finished hypotheses unchanged, and keeps the top
    `beam_size` by normalised score. `beam_size=1` is greedy decoding (`greedy_search`); a beam
    of at least |A|**max_len never prunes and returns the `brute_force_search` optimum.

    Args:
      step_fn: `step_fn(state, token) -> (log_probs (num_actions,), new_state)`.
      initial_state: the state before the first token.
      beam_size: b, the number of hypotheses kept after each step.
      max_len: the most tokens a hypothesis may have.
      eos_id: the token that ends a hypothesis, or None (hypotheses end only when `step_fn`
        returns no finite score, or at `max_len`).
      start_token: the token passed with `initial_state` on the first call.
      length_penalty: GNMT alpha (0 = none) or "average"; see the module docstring.
      on_step: called as `on_step(step, beam)` after each pruning (step = 1, 2, ...), with the
        kept hypotheses best first (unfinished ones carry the state before their last token);
        for traces and figures.

    Returns:
      At most `beam_size` hypotheses, sorted best first.
    """
    _check_arguments(beam_size, max_len, length_penalty)
    beam: list[Hypothesis | _Alive] = [_Alive((), 0.0, initial_state, start_token)]

    def expand(hypothesis: _Alive, final: bool) -> list[Hypothesis | _Alive]:
        log_probs, new_state = step_fn(hypothesis.state, hypothesis.last)
        log_probs = _check_log_probs(log_probs)
        (allowed,) = np.nonzero(np.isfinite(log_probs))
        if allowed.size == 0 or final:
            # No continuation (finished), or cut off at max_len (unfinished).
            return [
                _hypothesis(
                    hypothesis.tokens,
                    hypothesis.score,
                    allowed.size == 0,
                    new_state,
                    length_penalty,
                )
            ]
        children: list[Hypothesis | _Alive] = []
        for token in allowed.tolist():
            tokens = (*hypothesis.tokens, token)
            score = hypothesis.score + float(log_probs[token])
            if token == eos_id:
                children.append(_hypothesis(tokens, score, True, new_state, length_penalty))
            else:
                children.append(_Alive(tokens, score, new_state, token))
        return children

    def key(candidate: Hypothesis | _Alive) -> tuple[float, tuple[int, ...]]:
        if isinstance(candidate, Hypothesis):
            return _rank_key(candidate)
        normalized = candidate.score / length_penalty_factor(len(candidate.tokens), length_penalty)
        return (-normalized, candidate.tokens)

    for step in range(1, max_len + 1):
        if all(isinstance(hypothesis, Hypothesis) for hypothesis in beam):
            break
        candidates: list[Hypothesis | _Alive] = []
        for hypothesis in beam:
            if isinstance(hypothesis, Hypothesis):
                candidates.append(hypothesis)  # Finished: carried over unchanged.
            else:
                candidates.extend(expand(hypothesis, final=False))
        # --- Pruning: the top b of the (at most) b·|A| candidates ---
        candidates.sort(key=key)
        beam = candidates[:beam_size]
        if on_step is not None:
            on_step(step, [_as_hypothesis(c, length_penalty) for c in beam])
    # Unfinished hypotheses left after max_len steps (or at once, for max_len = 0): one more
    # call consumes their last token and tells whether they happen to be complete.
    results = []
    for hypothesis in beam:
        if isinstance(hypothesis, Hypothesis):
            results.append(hypothesis)
        else:
            results.extend(expand(hypothesis, final=True))
    return sorted(results, key=_rank_key)


def _as_hypothesis(candidate: Hypothesis | _Alive, length_penalty: LengthPenalty) -> Hypothesis:
    if isinstance(candidate, Hypothesis):
        return candidate
    return _hypothesis(candidate.tokens, candidate.score, False, candidate.state, length_penalty)


def greedy_search(
    step_fn: StepFn,
    initial_state: Any,
    max_len: int,
    *,
    eos_id: int | None = None,
    start_token: Any = None,
    length_penalty: LengthPenalty = 0.0,
) -> list[Hypothesis]:
    """The greedy sequence: the highest-scoring token at every step (lowest id on ties).

    Same arguments and stopping rules as `beam_search` (without `beam_size`); written as its
    own loop so that it can serve as a reference for `beam_search(..., beam_size=1)`.

    Returns:
      A list with the single greedy hypothesis.
    """
    _check_arguments(1, max_len, length_penalty)
    tokens: list[int] = []
    score, state, token = 0.0, initial_state, start_token
    while True:
        log_probs, new_state = step_fn(state, token)
        log_probs = _check_log_probs(log_probs)
        if not np.any(np.isfinite(log_probs)):
            return [_hypothesis(tokens, score, True, new_state, length_penalty)]
        if len(tokens) == max_len:
            return [_hypothesis(tokens, score, False, new_state, length_penalty)]
        token = int(np.argmax(log_probs))
        tokens.append(token)
        score += float(log_probs[token])
        if token == eos_id:
            return [_hypothesis(tokens, score, True, new_state, length_penalty)]
        state = new_state


def brute_force_search(
    step_fn: StepFn,
    initial_state: Any,
    max_len: int,
    *,
    eos_id: int | None = None,
    start_token: Any = None,
    length_penalty: LengthPenalty = 0.0,
) -> list[Hypothesis]:
    """Every complete hypothesis of at most `max_len` tokens, best first (for tests).

    Complete means finished (`eos_id`, or no continuation) or exactly `max_len` tokens long:
    the set `beam_search` chooses from. There are up to |A|**max_len of them; keep it small.
    """
    _check_arguments(1, max_len, length_penalty)

    def visit(tokens, score, state, token) -> Iterator[Hypothesis]:
        log_probs, new_state = step_fn(state, token)
        log_probs = _check_log_probs(log_probs)
        (allowed,) = np.nonzero(np.isfinite(log_probs))
        if allowed.size == 0 or len(tokens) == max_len:
            yield _hypothesis(tokens, score, allowed.size == 0, new_state, length_penalty)
            return
        for action in allowed.tolist():
            child_score = score + float(log_probs[action])
            if action == eos_id:
                yield _hypothesis((*tokens, action), child_score, True, new_state, length_penalty)
            else:
                yield from visit((*tokens, action), child_score, new_state, action)

    return sorted(visit((), 0.0, initial_state, start_token), key=_rank_key)


# --- Helpers for figures and tests ------------------------------------------------------------


def score_sequence(
    step_fn: StepFn, initial_state: Any, tokens: tuple[int, ...], *, start_token: Any = None
) -> np.ndarray:
    """Cumulative scores along `tokens`: `(len(tokens) + 1,)`, starting with 0.0.

    Entry t is the score of the first t tokens; `-inf` once a token is impossible.
    """
    cumulative = [0.0]
    state, token = initial_state, start_token
    for next_token in tokens:
        log_probs, state = step_fn(state, token)
        log_probs = _check_log_probs(log_probs)
        cumulative.append(cumulative[-1] + float(log_probs[next_token]))
        token = next_token
    return np.array(cumulative)


def enumerate_prefixes(
    step_fn: StepFn,
    initial_state: Any,
    max_len: int,
    *,
    eos_id: int | None = None,
    start_token: Any = None,
) -> dict[tuple[int, ...], float]:
    """The whole search tree: the cumulative score of every possible prefix up to `max_len`.

    Returns:
      `{tokens: score}` for every prefix with a finite score, the empty prefix (score 0.0)
      included; prefixes ending in `eos_id` are not expanded further.
    """
    tree: dict[tuple[int, ...], float] = {}

    def visit(tokens, score, state, token) -> None:
        tree[tokens] = score
        if len(tokens) == max_len or (tokens and tokens[-1] == eos_id):
            return
        log_probs, new_state = step_fn(state, token)
        log_probs = _check_log_probs(log_probs)
        for action in np.flatnonzero(np.isfinite(log_probs)).tolist():
            visit((*tokens, action), score + float(log_probs[action]), new_state, action)

    visit((), 0.0, initial_state, start_token)
    return tree


def log_softmax(scores: np.ndarray) -> np.ndarray:
    """`scores - logsumexp(scores)` over the finite entries; `-inf` entries stay `-inf`.

    Args:
      scores: `(num_actions,)` unnormalised scores (logits), `-inf` for masked actions.
    """
    scores = np.asarray(scores, dtype=np.float64)
    finite = np.isfinite(scores)
    if not np.any(finite):
        return np.full_like(scores, -math.inf)
    top = np.max(scores[finite])
    total = top + math.log(float(np.sum(np.exp(scores[finite] - top))))
    return np.where(finite, scores - total, -math.inf)
