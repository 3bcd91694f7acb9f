"""Generic beam search (spec ch06-07 §2.2.3, checklist item 22).

References: `greedy_search` and `brute_force_search` (separate loops), exhaustive enumeration
with `itertools.product` rescored token by token, hand-computed probabilities, and the GNMT
length-penalty formula (Wu et al. 2016). Scorers are random but deterministic functions of the
token history, so every search sees the same model.
"""

import itertools
import math

import numpy as np
import pytest

from fdl_tf2.models import beam_search


def _random_step_fn(num_actions, seed, *, mask_probability=0.0, dead_end_length=None):
    """A toy model whose state is the token history.

    `log_probs` are a log-softmax of random logits drawn from a generator seeded by the history;
    each action is masked (-inf) with `mask_probability`, keeping at least one; histories of
    `dead_end_length` tokens have no continuation.
    """

    def step(history, token):
        history = history if token is None else (*history, token)
        if dead_end_length is not None and len(history) >= dead_end_length:
            return np.full(num_actions, -np.inf), history
        rng = np.random.default_rng([seed, len(history), *history])
        logits = 2.0 * rng.normal(size=num_actions)
        masked = rng.random(num_actions) < mask_probability
        masked[rng.integers(num_actions)] = False
        return beam_search.log_softmax(np.where(masked, -np.inf, logits)), history

    return step


def _table_step_fn(table, num_actions):
    """`table[history] = probabilities of the next token`; missing histories are uniform."""

    def step(history, token):
        history = history if token is None else (*history, token)
        probabilities = table.get(history, np.full(num_actions, 1.0 / num_actions))
        with np.errstate(divide="ignore"):
            return np.log(np.asarray(probabilities, dtype=np.float64)), history

    return step


def _summary(hypotheses):
    return [(h.tokens, round(h.score, 10), h.finished) for h in hypotheses]


SETTINGS = [
    dict(),
    dict(eos_id=0),
    dict(eos_id=2, length_penalty=0.6),
    dict(eos_id=1, length_penalty="average"),
]


@pytest.mark.parametrize("settings", SETTINGS)
@pytest.mark.parametrize("seed", range(6))
def test_beam_size_one_equals_greedy(settings, seed):
    step = _random_step_fn(4, seed, mask_probability=0.3)
    beam = beam_search.beam_search(step, (), 1, 7, **settings)
    greedy = beam_search.greedy_search(step, (), 7, **settings)
    assert _summary(beam) == _summary(greedy)
    assert beam[0].state == greedy[0].state
    # Greedy takes the argmax at every step.
    log_probs, state = step((), None)
    assert greedy[0].tokens[0] == int(np.argmax(log_probs))


@pytest.mark.parametrize("settings", SETTINGS)
@pytest.mark.parametrize("seed", range(4))
def test_exhaustive_beam_equals_brute_force(settings, seed):
    num_actions, max_len = 3, 4
    step = _random_step_fn(num_actions, seed, mask_probability=0.2)
    exhaustive = beam_search.beam_search(step, (), num_actions**max_len, max_len, **settings)
    every = beam_search.brute_force_search(step, (), max_len, **settings)
    assert [h.tokens for h in exhaustive] == [h.tokens for h in every]
    np.testing.assert_allclose([h.score for h in exhaustive], [h.score for h in every])
    np.testing.assert_allclose(
        [h.normalized_score for h in exhaustive], [h.normalized_score for h in every]
    )
    assert [h.finished for h in exhaustive] == [h.finished for h in every]
    assert [h.state for h in exhaustive] == [h.state for h in every]
    # A smaller beam never beats the exhaustive optimum.
    small = beam_search.beam_search(step, (), 2, max_len, **settings)
    assert small[0].normalized_score <= every[0].normalized_score + 1e-12


def test_brute_force_scores_every_sequence_like_itertools():
    num_actions, max_len, eos_id = 3, 4, 0
    step = _random_step_fn(num_actions, 7)
    every = beam_search.brute_force_search(step, (), max_len, eos_id=eos_id)
    # Complete sequences: anything ending at its first eos, or max_len tokens without eos.
    expected = {}
    for length in range(1, max_len + 1):
        for tokens in itertools.product(range(num_actions), repeat=length):
            if eos_id in tokens[:-1] or (tokens[-1] != eos_id and length < max_len):
                continue
            expected[tokens] = beam_search.score_sequence(step, (), tokens)[-1]
    assert len(every) == len(expected) == sum(2**k for k in range(max_len)) + 2**max_len
    for hypothesis in every:
        assert math.isclose(hypothesis.score, expected[hypothesis.tokens], rel_tol=1e-12)
        assert hypothesis.finished == (hypothesis.tokens[-1] == eos_id)
    best = max(expected, key=expected.get)
    assert every[0].tokens == best


def test_beam_keeps_at_most_b_hypotheses_sorted_and_rescorable():
    step = _random_step_fn(5, 11, mask_probability=0.2)
    for beam_size in (1, 2, 3, 8):
        trace = []
        result = beam_search.beam_search(
            step, (), beam_size, 6, eos_id=4, on_step=lambda t, b, trace=trace: trace.append((t, b))
        )
        assert 1 <= len(result) <= beam_size
        assert [t for t, _ in trace] == list(range(1, len(trace) + 1))
        for _, beam in trace:
            assert len(beam) <= beam_size
            keys = [(-h.normalized_score, h.tokens) for h in beam]
            assert keys == sorted(keys)
        keys = [(-h.normalized_score, h.tokens) for h in result]
        assert keys == sorted(keys)
        for hypothesis in result:
            rescored = beam_search.score_sequence(step, (), hypothesis.tokens)[-1]
            assert math.isclose(hypothesis.score, rescored, rel_tol=1e-12)


def test_illegal_actions_are_never_chosen_even_when_the_beam_has_room():
    def step(history, token):
        history = history if token is None else (*history, token)
        return np.log([0.5, 0.5, 0.0]) if len(history) % 2 == 0 else np.log(
            [0.0, 0.3, 0.7]
        ), history

    with np.errstate(divide="ignore"):
        result = beam_search.beam_search(step, (), 50, 3)
        everything = beam_search.brute_force_search(step, (), 3)
        greedy = beam_search.greedy_search(step, (), 3)
    assert len(result) == len(everything) == 2 * 2 * 2  # Two legal tokens per step.
    for hypothesis in result + greedy:
        assert all(token != 2 for token in hypothesis.tokens[0::2])
        assert all(token != 0 for token in hypothesis.tokens[1::2])
        assert math.isfinite(hypothesis.score)


def test_length_normalization_changes_the_ranking():
    # P(eos) = 0.45 at once; P(a, eos) = 0.55 * 0.7 = 0.385: the short one is more probable,
    # but its mean log-probability per token is lower.
    eos, a = 0, 1
    step = _table_step_fn({(): [0.45, 0.55], (a,): [0.7, 0.3], (a, a): [1.0, 0.0]}, 2)
    plain = beam_search.beam_search(step, (), 4, 3, eos_id=eos)
    average = beam_search.beam_search(step, (), 4, 3, eos_id=eos, length_penalty="average")
    assert plain[0].tokens == (eos,) and math.isclose(plain[0].score, math.log(0.45))
    assert average[0].tokens == (a, eos)
    assert math.isclose(average[0].normalized_score, math.log(0.385) / 2)
    gnmt = beam_search.beam_search(step, (), 4, 3, eos_id=eos, length_penalty=2.0)
    assert gnmt[0].tokens == (a, eos)  # lp(1) = 1, lp(2) = (7/6)**2.
    assert math.isclose(gnmt[0].normalized_score, math.log(0.385) / (7 / 6) ** 2)
    brute = beam_search.brute_force_search(step, (), 3, eos_id=eos, length_penalty="average")
    assert brute[0].tokens == (a, eos)


def test_length_penalty_factor_is_the_gnmt_formula():
    assert beam_search.length_penalty_factor(1, 0.7) == pytest.approx(1.0)  # ((5 + 1) / 6)**a.
    assert beam_search.length_penalty_factor(7, 1.0) == pytest.approx(2.0)
    assert beam_search.length_penalty_factor(13, 0.5) == pytest.approx(math.sqrt(3.0))
    assert beam_search.length_penalty_factor(9, 0.0) == 1.0
    assert beam_search.length_penalty_factor(4, "average") == 4.0
    assert beam_search.length_penalty_factor(0, "average") == 1.0
    for bad in (-0.1, "gnmt", math.nan):
        with pytest.raises(ValueError, match="length_penalty"):
            beam_search.length_penalty_factor(3, bad)


def test_finished_hypotheses_stay_in_the_beam_with_their_score():
    eos = 0

    def step(history, token):
        history = history if token is None else (*history, token)
        probabilities = [0.6, 0.3, 0.1] if not history else [0.0, 0.5, 0.5]  # eos only first.
        with np.errstate(divide="ignore"):
            return np.log(probabilities), history

    trace = []
    result = beam_search.beam_search(
        step, (), 2, 4, eos_id=eos, on_step=lambda t, b: trace.append(b)
    )
    assert len(trace) == 4
    for beam in trace:
        assert beam[0].tokens == (eos,) and beam[0].finished
        assert math.isclose(beam[0].score, math.log(0.6))
    assert result[0].tokens == (eos,) and result[0].state == ()  # The state before eos.
    assert result[1].tokens == (1, 1, 1, 1) and not result[1].finished  # Cut at max_len.
    assert math.isclose(result[1].score, math.log(0.3 * 0.5**3))
    assert result[1].state == result[1].tokens  # Its last token consumed.


def test_a_state_without_continuation_finishes_its_hypothesis():
    step = _random_step_fn(3, 5, dead_end_length=2)
    for search in (
        lambda: beam_search.beam_search(step, (), 4, 6),
        lambda: beam_search.greedy_search(step, (), 6),
        lambda: beam_search.brute_force_search(step, (), 6),
    ):
        for hypothesis in search():
            assert hypothesis.finished and len(hypothesis.tokens) == 2
            assert hypothesis.state == hypothesis.tokens
    assert len(beam_search.brute_force_search(step, (), 6)) == 9


def test_ties_break_towards_the_lowest_token_ids():
    step = _table_step_fn({}, 3)  # Uniform everywhere.
    assert beam_search.greedy_search(step, (), 3)[0].tokens == (0, 0, 0)
    result = beam_search.beam_search(step, (), 4, 3)
    assert [h.tokens for h in result] == [(0, 0, 0), (0, 0, 1), (0, 0, 2), (0, 1, 0)]
    assert result == beam_search.beam_search(step, (), 4, 3)


def test_max_len_zero_and_argument_checks():
    step = _random_step_fn(3, 0)
    (empty,) = beam_search.beam_search(step, (), 3, 0)
    assert empty.tokens == () and empty.score == 0.0 and not empty.finished
    assert _summary(beam_search.greedy_search(step, (), 0)) == _summary([empty])
    with pytest.raises(ValueError, match="beam_size"):
        beam_search.beam_search(step, (), 0, 3)
    with pytest.raises(ValueError, match="max_len"):
        beam_search.beam_search(step, (), 2, -1)
    with pytest.raises(ValueError, match="NaN"):
        beam_search.beam_search(lambda s, t: (np.array([0.0, np.nan]), s), (), 2, 2)
    with pytest.raises(ValueError, match="num_actions"):
        beam_search.greedy_search(lambda s, t: (np.zeros((2, 2)), s), (), 2)


def test_enumerate_prefixes_is_the_whole_search_tree():
    step = _random_step_fn(3, 2, mask_probability=0.3)
    tree = beam_search.enumerate_prefixes(step, (), 3, eos_id=0)
    assert tree[()] == 0.0
    for tokens, score in tree.items():
        assert math.isclose(score, beam_search.score_sequence(step, (), tokens)[-1])
        if tokens:
            assert tokens[:-1] in tree and 0 not in tokens[:-1]
    leaves = {h.tokens for h in beam_search.brute_force_search(step, (), 3, eos_id=0)}
    assert leaves <= set(tree)


def test_log_softmax_normalises_the_finite_entries():
    scores = np.array([1.0, -np.inf, 3.0, 0.5])
    log_probs = beam_search.log_softmax(scores)
    assert np.isneginf(log_probs[1])
    finite = np.exp(scores[[0, 2, 3]])
    np.testing.assert_allclose(np.exp(log_probs[[0, 2, 3]]), finite / finite.sum())
    assert np.isneginf(beam_search.log_softmax(np.full(3, -np.inf))).all()
    np.testing.assert_allclose(np.exp(beam_search.log_softmax(np.array([1000.0, 1000.0]))), 0.5)


def test_a_recurrent_decoder_uses_the_same_interface():
    """The seq2seq use: state = hidden vector, token = last output, start_token = GO."""
    rng = np.random.default_rng(0)
    vocabulary, hidden, go, eos = 4, 5, 4, 0  # GO is an input-only id.
    embeddings = rng.normal(size=(vocabulary + 1, hidden))
    recurrent = rng.normal(size=(hidden, hidden)) / hidden
    output = rng.normal(size=(hidden, vocabulary)) * 2

    def decoder_step(state, token):
        new_state = np.tanh(state @ recurrent + embeddings[token])  # (hidden,)
        return beam_search.log_softmax(new_state @ output), new_state

    encoded = rng.normal(size=hidden)
    options = dict(eos_id=eos, start_token=go)
    greedy = beam_search.greedy_search(decoder_step, encoded, 5, **options)
    one = beam_search.beam_search(decoder_step, encoded, 1, 5, **options)
    assert _summary(one) == _summary(greedy)
    every = beam_search.brute_force_search(decoder_step, encoded, 5, **options)
    wide = beam_search.beam_search(decoder_step, encoded, vocabulary**5, 5, **options)
    assert _summary(wide) == _summary(every)
    three = beam_search.beam_search(decoder_step, encoded, 3, 5, **options)
    assert three[0].score <= every[0].score + 1e-12
