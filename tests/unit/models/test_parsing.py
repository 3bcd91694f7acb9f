"""Arc-standard parsing (spec ch06-07 §2.2.2-§2.2.3; checklist items 21-23; errata 20-21).

References: the book's action definitions (lines 3716-3727) and printed linearisation (lines
3693-3695), retyped here; exhaustive enumeration of every head assignment of short sentences;
an independent crossing-arcs test of projectivity; brute-force search over action sequences.
"""

import itertools
import math

import numpy as np
import pytest

from fdl_tf2.models import beam_search, parsing, parsing_demos
from fdl_tf2.models.parsing import LEFT_ARC, RIGHT_ARC, ROOT, SHIFT


def _config(stack, buffer, num_words, arcs=()):
    return parsing.Configuration(tuple(stack), tuple(buffer), tuple(arcs), num_words)


def _crossing_reference(heads) -> bool:
    """Projective iff no two arcs (the ROOT arc included) cross: a < c < b < d."""
    spans = [tuple(sorted((head, dependent))) for dependent, head in enumerate(heads, 1)]
    return not any(a < c < b < d for (a, b), (c, d) in itertools.permutations(spans, 2))


def _all_trees(num_words):
    """Every single-rooted tree over `num_words` words (all valid head assignments)."""
    for heads in itertools.product(range(num_words + 1), repeat=num_words):
        try:
            yield parsing.validate_heads(heads)
        except ValueError:
            continue


# --- Transitions ------------------------------------------------------------------------------


def test_left_arc_makes_the_right_item_the_parent_and_right_arc_the_left_item():
    system = parsing.ArcStandard()
    config = _config((ROOT, 1, 2), (3,), 3)
    left = system.apply(config, LEFT_ARC)
    assert left.stack == (ROOT, 2) and left.buffer == (3,)
    assert left.arcs == (parsing.Arc(head=2, dependent=1),)
    right = system.apply(config, RIGHT_ARC)
    assert right.stack == (ROOT, 1) and right.arcs == (parsing.Arc(head=1, dependent=2),)
    shifted = system.apply(config, SHIFT)
    assert shifted.stack == (ROOT, 1, 2, 3) and shifted.buffer == () and shifted.arcs == ()
    assert config.stack == (ROOT, 1, 2)  # Configurations are immutable.


def test_legality_rules_and_the_mask_agree():
    system = parsing.ArcStandard()
    cases = {
        # (stack, buffer): (SHIFT, LEFT-ARC, RIGHT-ARC)
        ((ROOT,), (1, 2)): (True, False, False),
        ((ROOT, 1), (2,)): (True, False, False),  # ROOT -> 1 would leave word 2 without a root.
        ((ROOT, 1), ()): (False, False, True),
        ((ROOT, 1, 2), ()): (False, True, True),
        ((1,), (2,)): (True, False, False),
        ((1, 2), ()): (False, True, True),
        ((), (1, 2)): (True, False, False),
    }
    for (stack, buffer), expected in cases.items():
        config = _config(stack, buffer, 2)
        assert tuple(system.legal_mask(config)) == expected, (stack, buffer)
        for action, legal in enumerate(expected):
            assert system.is_legal(config, action) == legal
            if not legal:
                with pytest.raises(ValueError, match="illegal"):
                    system.apply(config, action)


def test_labelled_mask_repeats_each_arc_rule_per_label():
    system = parsing.ArcStandard(labels=("a", "b", "c"))
    assert system.num_actions == 7
    mask = system.legal_mask(_config((ROOT, 1), (), 1))
    np.testing.assert_array_equal(mask, [False, False, False, False, True, True, True])
    for action in range(system.num_actions):
        assert system.is_legal(_config((ROOT, 1), (), 1), action) == mask[action]


def test_initial_states_and_the_books_terminal_condition():
    words = 4
    assert parsing.ArcStandard().initial(words).stack == (ROOT,)
    assert parsing.ArcStandard().initial(words).buffer == (1, 2, 3, 4)
    assert parsing.ArcStandard(initial_state="empty").initial(words).stack == ()
    book = parsing.ArcStandard(initial_state="book").initial(words)
    assert book.stack == (1, 2) and book.buffer == (3, 4)  # Line 3706: first two words.
    assert parsing.ArcStandard(initial_state="book").initial(1).stack == (1,)
    system = parsing.ArcStandard()
    assert system.is_terminal(_config((ROOT,), (), 2))
    assert system.is_terminal(_config((2,), (), 2))
    assert not system.is_terminal(_config((ROOT, 2), (), 2))
    assert not system.is_terminal(_config((ROOT,), (1,), 2))
    with pytest.raises(ValueError, match="initial_state"):
        parsing.ArcStandard(initial_state="two_words")
    with pytest.raises(ValueError, match="num_words"):
        system.initial(0)


def test_action_ids_names_and_labels_round_trip():
    labels = ("nsubj", "dobj", "det")
    system = parsing.ArcStandard(labels=labels)
    assert system.num_actions == 1 + 2 * len(labels)
    names = [system.action_name(a) for a in range(system.num_actions)]
    assert names == [
        "SHIFT",
        "LEFT-ARC(nsubj)",
        "LEFT-ARC(dobj)",
        "LEFT-ARC(det)",
        "RIGHT-ARC(nsubj)",
        "RIGHT-ARC(dobj)",
        "RIGHT-ARC(det)",
    ]
    for action in range(system.num_actions):
        assert system.action(*system.decode_action(action)) == action
    assert parsing.ArcStandard(labels=[str(k) for k in range(7)]).num_actions == 15  # Line 3774.
    assert [parsing.ArcStandard().action_name(a) for a in range(3)] == list(parsing.ACTION_NAMES)
    with pytest.raises(ValueError, match="Unknown label"):
        system.action(LEFT_ARC, "amod")
    with pytest.raises(ValueError, match="Unlabelled"):
        parsing.ArcStandard().action(LEFT_ARC, "nsubj")
    with pytest.raises(ValueError, match="action must be"):
        system.decode_action(7)


# --- Trees and projectivity -------------------------------------------------------------------


def test_validate_heads_rejects_what_is_not_a_single_rooted_tree():
    assert parsing.validate_heads([2, 0]) == (2, 0)
    for heads, message in [
        ([], "at least one"),
        ([0, 3], "in 0..2"),
        ([1, 0], "own head"),
        ([0, 0], "Exactly one"),
        ([2, 1], "Exactly one"),
        ([0, 3, 2], "cycle"),
    ]:
        with pytest.raises(ValueError, match=message):
            parsing.validate_heads(heads)


@pytest.mark.parametrize("num_words", [1, 2, 3, 4, 5])
def test_is_projective_matches_the_crossing_arcs_definition_on_every_tree(num_words):
    for heads in _all_trees(num_words):
        assert parsing.is_projective(heads) == _crossing_reference(heads), heads


def test_random_projective_trees_are_projective_and_reach_every_projective_tree():
    rng = np.random.default_rng(0)
    projective = {heads for heads in _all_trees(4) if _crossing_reference(heads)}
    drawn = {parsing.random_projective_tree(4, rng) for _ in range(4000)}
    assert drawn == projective
    for _ in range(200):
        heads = parsing.random_projective_tree(int(rng.integers(1, 20)), rng)
        assert _crossing_reference(heads)
    with pytest.raises(ValueError, match="num_words"):
        parsing.random_projective_tree(0, rng)


def test_dependency_tree_children_root_and_validation():
    tree = parsing_demos.EXAMPLE_TREE
    assert tree.root == 2 and tree.children(2) == [1, 4] and tree.children(ROOT) == [2]
    assert parsing.Arc(2, 1, "nsubj") in tree.arcs()
    with pytest.raises(ValueError, match="words but"):
        parsing.DependencyTree(("a", "b"), (0,))
    with pytest.raises(ValueError, match="labels but"):
        parsing.DependencyTree(("a",), (0,), ("root", "x"))


# --- Static oracle ----------------------------------------------------------------------------


def test_oracle_of_the_example_sentence_from_each_initial_state():
    tree = parsing_demos.EXAMPLE_TREE  # I <- took -> taxi -> a
    expected = {
        "root": [SHIFT, SHIFT, LEFT_ARC, SHIFT, SHIFT, LEFT_ARC, RIGHT_ARC, RIGHT_ARC],
        "empty": [SHIFT, SHIFT, LEFT_ARC, SHIFT, SHIFT, LEFT_ARC, RIGHT_ARC],
        "book": [LEFT_ARC, SHIFT, SHIFT, LEFT_ARC, RIGHT_ARC],
    }
    for state, actions in expected.items():
        system = parsing.ArcStandard(initial_state=state)
        assert system.oracle(tree.heads) == actions
        final = system.run(len(tree.words), actions)[-1]
        assert system.is_terminal(final) and final.tree(tree.words).heads == tree.heads


def test_labelled_oracle_rebuilds_the_labels():
    tree = parsing_demos.EXAMPLE_TREE
    system = parsing.ArcStandard(labels=("nsubj", "dobj", "det", "root"))
    actions = system.oracle(tree.heads, tree.labels)
    assert [system.action_name(a) for a in actions] == [
        "SHIFT",
        "SHIFT",
        "LEFT-ARC(nsubj)",
        "SHIFT",
        "SHIFT",
        "LEFT-ARC(det)",
        "RIGHT-ARC(dobj)",
        "RIGHT-ARC(root)",
    ]
    assert system.run(4, actions)[-1].tree(tree.words) == tree
    with pytest.raises(ValueError, match="labelled"):
        system.oracle(tree.heads)
    with pytest.raises(ValueError, match="labelled"):
        parsing.ArcStandard().oracle(tree.heads, tree.labels)
    with pytest.raises(ValueError, match="not among"):
        system.oracle(tree.heads, ("nsubj", "root", "amod", "dobj"))


@pytest.mark.parametrize("initial_state", parsing.INITIAL_STATES)
def test_oracle_rebuilds_random_projective_trees(initial_state):
    rng = np.random.default_rng(1)
    labels = ("a", "b", "c")
    plain = parsing.ArcStandard(initial_state=initial_state)
    labelled = parsing.ArcStandard(labels=labels, initial_state=initial_state)
    for _ in range(150):
        num_words = int(rng.integers(1, 16))
        heads = parsing.random_projective_tree(num_words, rng)
        actions = plain.oracle(heads)
        assert len(actions) == parsing.arc_standard_length(num_words, initial_state)
        configs = plain.run(num_words, actions)
        assert all(not plain.is_terminal(c) for c in configs[:-1])
        assert configs[-1].tree().heads == heads
        tree_labels = tuple(rng.choice(labels, size=num_words))
        final = labelled.run(num_words, labelled.oracle(heads, tree_labels))[-1]
        rebuilt = final.tree(root_label=tree_labels[heads.index(ROOT)])
        assert rebuilt.heads == heads and rebuilt.labels == tree_labels


@pytest.mark.parametrize("num_words", [3, 4, 5])
def test_oracle_raises_exactly_for_non_projective_trees(num_words):
    system = parsing.ArcStandard()
    non_projective = 0
    for heads in _all_trees(num_words):
        if _crossing_reference(heads):
            assert system.run(num_words, system.oracle(heads))[-1].tree().heads == heads
        else:
            non_projective += 1
            with pytest.raises(parsing.NonProjectiveError, match="non-projective"):
                system.oracle(heads)
    assert non_projective > 0


def test_can_reach_follows_the_gold_tree():
    system = parsing.ArcStandard()
    heads = parsing_demos.EXAMPLE_TREE.heads
    for config in system.run(4, system.oracle(heads)):
        assert system.can_reach(config, heads)
    wrong = system.apply(system.apply(system.apply(system.initial(4), SHIFT), SHIFT), RIGHT_ARC)
    assert not system.can_reach(wrong, heads)  # I -> took is not gold.
    mid_way = _config((ROOT, 2), (3, 4), 4, [parsing.Arc(2, 1)])
    assert system.can_reach(mid_way, heads)
    with pytest.raises(ValueError, match="heads for"):
        system.can_reach(mid_way, (0,))


def test_configuration_tree_trace_and_description():
    system = parsing.ArcStandard()
    words = parsing_demos.EXAMPLE_TREE.words
    actions = system.oracle(parsing_demos.EXAMPLE_TREE.heads)
    rows = parsing.trace(system, words, actions)
    assert len(rows) == len(actions) + 1 and rows[0]["action"] == ""
    assert rows[3]["action"] == "LEFT-ARC" and rows[3]["stack"] == ["ROOT", "took"]
    assert rows[3]["arcs"] == ["took -> I"] and rows[-1]["stack"] == ["ROOT"]
    assert rows[3]["configuration"] == "stack [ROOT, took] | buffer [a, taxi] | arcs {took -> I}"
    with pytest.raises(ValueError, match="Not a terminal"):
        system.initial(2).tree()


# --- Linearisation (lines 3693-3695) ----------------------------------------------------------

BOOK_PRINTED = "(R, r_a, A, r_b, [B, b_d, D, b_e, E], r_c, C)"  # Line 3695, retyped.


def test_linearization_of_the_books_example_equals_the_printed_tuple():
    linear = parsing.linearize(parsing_demos.BOOK_LINEARIZATION_TREE)
    assert linear == ("R", "r_a", "A", "r_b", ["B", "b_d", "D", "b_e", "E"], "r_c", "C")
    assert parsing.format_linearization(linear) == BOOK_PRINTED
    flat = parsing.DependencyTree(("R", "A", "B", "C"), (0, 1, 1, 1), ("root", "r_a", "r_b", "r_c"))
    assert parsing.format_linearization(parsing.linearize(flat)) == "(R, r_a, A, r_b, B, r_c, C)"
    unlabelled = parsing.DependencyTree(("R", "A", "B", "D", "E", "C"), (0, 1, 1, 3, 3, 1))
    assert parsing.linearize(unlabelled) == ("R", "A", ["B", "D", "E"], "C")


def test_linearization_encodes_every_arc_of_random_trees():
    rng = np.random.default_rng(2)

    def arcs_of(linear):
        head, rest = linear[0], linear[1:]
        found = set()
        for label, child in zip(rest[0::2], rest[1::2], strict=True):
            child_word = child if isinstance(child, str) else child[0]
            found.add((head, label, child_word))
            if not isinstance(child, str):
                found |= arcs_of(child)
        return found

    for _ in range(100):
        num_words = int(rng.integers(1, 12))
        heads = parsing.random_projective_tree(num_words, rng)
        words = tuple(f"w{i}" for i in range(1, num_words + 1))
        labels = tuple(f"l{int(x)}" for x in rng.integers(0, 3, num_words))
        tree = parsing.DependencyTree(words, heads, labels)
        linear = parsing.linearize(tree)
        assert isinstance(linear, tuple) and linear[0] == words[tree.root - 1]
        expected = {
            (words[h - 1], labels[d - 1], words[d - 1]) for d, h in enumerate(heads, 1) if h
        }
        assert arcs_of(linear) == expected


# --- Hypothesis counts (line 3774, errata 21) -------------------------------------------------

CATALAN = [1, 1, 2, 5, 14, 42, 132, 429, 1430, 4862]  # OEIS A000108, retyped.


def test_catalan_numbers():
    assert [parsing_demos.catalan(k) for k in range(10)] == CATALAN


@pytest.mark.parametrize("initial_state", parsing.INITIAL_STATES)
@pytest.mark.parametrize("num_labels", [1, 2])
def test_legal_sequence_count_matches_enumeration(initial_state, num_labels):
    labels = None if num_labels == 1 else tuple(f"l{k}" for k in range(num_labels))
    system = parsing.ArcStandard(labels=labels, initial_state=initial_state)
    for num_words in range(1, 6 if num_labels == 1 else 5):
        sequences = list(parsing_demos.enumerate_sequences(system, num_words))
        assert len(set(sequences)) == len(sequences)
        assert len(sequences) == parsing_demos.count_legal_sequences(
            num_words, num_labels, initial_state
        )
        length = parsing.arc_standard_length(num_words, initial_state)
        assert all(len(sequence) == length for sequence in sequences)


def test_hypothesis_counts_correct_the_books_number():
    counts = parsing_demos.hypothesis_counts(10, 15)
    assert counts["book_claim"] == 10**15  # "1 000 000 000 000 000" (line 3774).
    assert counts["actions_per_word_power"] == 15**10
    assert math.isclose(counts["actions_per_word_power"], 5.77e11, rel_tol=1e-3)
    assert counts["sequence_length"] == 20  # 2n actions from [ROOT].
    assert counts["all_action_sequences"] == 15**20
    assert math.isclose(counts["all_action_sequences"], 3.3e23, rel_tol=0.01)
    assert counts["legal_action_sequences"] == CATALAN[9] * 14**9 * 7
    assert (
        parsing_demos.hypothesis_counts(10, 15, "empty")["legal_action_sequences"] == 4862 * 14**9
    )
    book = parsing_demos.hypothesis_counts(10, 15, "book")
    assert book["sequence_length"] == 17 and book["all_action_sequences"] == 15**17
    assert parsing.arc_standard_length(10, "empty") == 19
    with pytest.raises(ValueError, match="odd"):
        parsing_demos.hypothesis_counts(10, 14)
    with pytest.raises(ValueError, match="num_labels"):
        parsing_demos.count_legal_sequences(3, 0)


# --- Decoding: Fig. 7.11 and the garden path ---------------------------------------------------


def test_step_fn_masks_illegal_actions_and_ends_at_terminal_configurations():
    system = parsing.ArcStandard()
    step = system.step_fn(lambda config: np.log([0.2, 0.3, 0.5]))
    log_probs, config = step(system.initial(2), None)
    assert config == system.initial(2)
    np.testing.assert_allclose(log_probs, [math.log(0.2), -np.inf, -np.inf])
    log_probs, config = step(config, SHIFT)
    assert config.stack == (ROOT, 1) and np.isneginf(log_probs[1:]).all()
    renormalized = system.step_fn(lambda config: np.log([0.2, 0.3, 0.5]), renormalize=True)
    log_probs, _ = renormalized(_config((ROOT, 1, 2), (), 2), None)
    np.testing.assert_allclose(np.exp(log_probs), [0.0, 0.375, 0.625])
    log_probs, _ = step(_config((ROOT,), (), 2), None)
    assert np.isneginf(log_probs).all()
    with pytest.raises(ValueError, match="score_fn must return"):
        system.step_fn(lambda config: np.zeros(4))(system.initial(2), None)


def test_fig_7_11_greedy_takes_shift_left_arc_and_beam_2_finds_left_arc_right_arc():
    system = parsing.ArcStandard()
    step = system.step_fn(parsing_demos.fig_7_11_score_fn(system))
    start = parsing_demos.fig_7_11_start()
    assert all(system.legal_mask(start)) and all(system.legal_mask(system.apply(start, SHIFT)))
    (greedy,) = beam_search.greedy_search(step, start, 2)
    assert greedy.tokens == (SHIFT, LEFT_ARC)
    assert math.isclose(math.exp(greedy.score), 0.5 * 0.4)
    beams = []
    result = beam_search.beam_search(step, start, 2, 2, on_step=lambda t, b: beams.append(b))
    assert [h.tokens for h in beams[0]] == [(SHIFT,), (LEFT_ARC,)]
    assert [h.tokens for h in result] == [(LEFT_ARC, RIGHT_ARC), (SHIFT, LEFT_ARC)]
    assert math.isclose(math.exp(result[0].score), 0.4 * 0.8)
    best = beam_search.brute_force_search(step, start, 2)[0]
    assert best.tokens == (LEFT_ARC, RIGHT_ARC)
    assert result[0].state == system.apply(system.apply(start, LEFT_ARC), RIGHT_ARC)
    assert beam_search.greedy_search(step, start, 2)[0].tokens != result[0].tokens


def test_garden_path_greedy_keeps_houses_a_noun_and_beam_2_recovers_the_verb():
    words = parsing_demos.GARDEN_PATH_WORDS
    readings = parsing_demos.GARDEN_PATH_READINGS
    assert len(words) == 10 and all(tree.words == words for tree in readings.values())
    assert all(parsing.is_projective(tree.heads) for tree in readings.values())
    system = parsing.ArcStandard()
    score_fn = parsing_demos.reading_mixture_score_fn(
        system, list(readings.values()), parsing_demos.garden_path_plausibility
    )
    (greedy,) = system.parse(len(words), score_fn, beam_size=1)
    beam = system.parse(len(words), score_fn, beam_size=2)
    assert greedy.finished and len(greedy.tokens) == 20
    assert greedy.state.tree(words).heads == readings["houses_noun"].heads
    assert beam[0].state.tree(words).heads == readings["houses_verb"].heads
    assert beam[0].score > greedy.score
    # They part at the third action: greedy shifts "houses"; the beam's best attaches
    # "The" to "complex" (a noun).
    assert greedy.tokens[:2] == beam[0].tokens[:2] == (SHIFT, SHIFT)
    assert greedy.tokens[2] == SHIFT and beam[0].tokens[2] == LEFT_ARC
    # The scorer is a distribution over the legal actions of every configuration it sees.
    for config in system.run(len(words), beam[0].tokens)[:-1]:
        probabilities = np.exp(score_fn(config))
        assert math.isclose(probabilities.sum(), 1.0)
        assert np.all(probabilities[~system.legal_mask(config)] == 0)


def test_parse_with_an_oracle_scorer_returns_the_gold_tree():
    rng = np.random.default_rng(3)
    system = parsing.ArcStandard()
    for _ in range(20):
        num_words = int(rng.integers(1, 9))
        heads = parsing.random_projective_tree(num_words, rng)

        def score_fn(config, heads=heads):
            scores = np.full(3, math.log(0.1))
            action = system.oracle_action(config, heads)
            if action is not None:  # None off the gold path, where no action is gold.
                scores[action] = math.log(0.8)
            return scores

        for beam_size in (1, 3):
            best = system.parse(num_words, score_fn, beam_size)[0]
            assert best.finished and best.state.tree().heads == heads
