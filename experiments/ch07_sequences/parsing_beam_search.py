"""
Title: Arc-standard parsing, its static oracle, and beam search vs greedy decoding
Book: Chapter 7, "Dependency Parsing and SyntaxNet", "Beam Search ..." (lines 3674-3785)
Description: Oracle actions and linearisation; Fig. 7.11 and garden-path toys; hypothesis counts.
Expected result: Fig. 7.11 greedy p 0.20 < beam-2 p 0.32; 15**20 ~ 3.3e23 hypotheses, not 10**15.

The book describes these sections without code (spec ch06-07 §2.2.2-§2.2.3, checklist items
21-23, errata 20-21). Everything runs in pure Python / NumPy from `fdl_tf2.models.parsing` and
`fdl_tf2.models.beam_search`; nothing is trained, so the three presets differ only in how many
random trees and sentence lengths are checked.

- Figs. 7.5, 7.7 and 7.9: the static oracle's actions for a short sentence in which "I" and
  "taxi" depend on "took" (the book's full sentence is not in the text, so "I took a taxi"),
  from the standard initial state [ROOT] and from the book's "first two words on the stack";
  the configurations step by step; the linearisations, including the book's own
  (R, r_a, A, r_b, [B, b_d, D, b_e, E], r_c, C). The oracle also rebuilds random projective
  trees exactly and rejects a non-projective one.
- Fig. 7.11: toy action probabilities (the figure's numbers are not in the text) where greedy
  decoding takes SHIFT then LEFT-ARC (0.5 x 0.4 = 0.20) but the most probable sequence is
  LEFT-ARC then RIGHT-ARC (0.4 x 0.8 = 0.32), which a beam of 2 finds.
- The garden-path sentence "The complex houses married and single soldiers and their
  families" (line 3752), with a hand-made scorer (a toy, not a trained parser) that mixes the
  static oracles of its two readings: "houses" as a noun is the more plausible reading until
  "married and single" has been read. Greedy commits to it when the readings part; a beam of 2
  keeps "complex" as a noun alive and returns the reading in which the complex houses soldiers.
- Line 3774's hypothesis count (errata 21): 10 words and 15 actions give 10**15 in the book;
  literally 15**10 ~ 5.8e11, but a 10-word parse takes 2n = 20 actions, so 15**20 ~ 3.3e23
  sequences, of which ~ 7.0e14 are legal arc-standard parses (Catalan(n - 1) * 14**(n - 1) * 7
  from [ROOT]); the closed form is checked against enumeration for short sentences.
"""

import dataclasses
import math

import numpy as np

from fdl_tf2 import config as config_lib
from fdl_tf2.models import beam_search, parsing, parsing_demos
from fdl_tf2.training import runs
from fdl_tf2.viz import search_trees

EXPERIMENT_ID = "ch07.parsing_beam_search"

FIGURES = (
    "fig7_9_arc_standard",
    "fig7_11_beam_search",
    "garden_path_scores",
)  # Written to figures/ by every run (checked by the smoke tests).


@dataclasses.dataclass(frozen=True)
class Config(config_lib.RunConfig):
    """Defaults are the "book" preset."""

    initial_state: str = "root"  # Of the oracle demo: "root", "empty" or "book" (errata 20).
    beam_size: int = 2  # Fig. 7.11's beam (line 3769).
    garden_path_beam_size: int = 2  # The beam that recovers the garden-path reading.
    smoothing: float = 0.05  # Garden-path toy: the vote every legal action gets.
    random_trees: int = 500  # Random projective trees the oracle must rebuild, per state.
    max_random_words: int = 15  # Their lengths are drawn from 1..max_random_words.
    count_max_words: int = 7  # Enumerate the legal parses of 1..count_max_words words.
    hypothesis_words: int = 10  # Line 3774: "an average length of 10".
    hypothesis_actions: int = 15  # Line 3774: 1 SHIFT + 7 LEFT-ARC + 7 RIGHT-ARC labels.


CONFIGS = {
    "smoke": dict(random_trees=20, count_max_words=4),  # Seconds; used by the tests.
    "book": dict(),
    "cpu": dict(),  # The book preset already runs in seconds on 2 cores.
}


def _oracle_demo(config: Config, say) -> tuple[dict, list[list[str]]]:
    """Figs. 7.5, 7.7, 7.9: oracle actions, configurations, linearisations."""
    tree = parsing_demos.EXAMPLE_TREE
    system = parsing.ArcStandard(initial_state=config.initial_state)
    actions = system.oracle(tree.heads)
    rows = parsing.trace(system, tree.words, actions)
    say(f"Fig. 7.9 ({config.initial_state!r} initial state): {' '.join(tree.words)}")
    for row in rows:
        say(f"  {row['step']:2d} {row['action']:>9}  {row['configuration']}")
    rebuilt = system.run(len(tree.words), actions)[-1].tree(tree.words)
    book_system = parsing.ArcStandard(initial_state="book")
    book_actions = book_system.oracle(tree.heads)
    book_names = parsing.action_names(book_system, book_actions)
    say(f"From the book's initial state: {' '.join(book_names)}")
    labelled = parsing.ArcStandard(
        labels=sorted(set(tree.labels)), initial_state=config.initial_state
    )
    labelled_names = parsing.action_names(labelled, labelled.oracle(tree.heads, tree.labels))
    say(f"With arc labels ({labelled.num_actions} actions): {' '.join(labelled_names)}")
    linear = parsing.format_linearization(parsing.linearize(tree))
    book_linear = parsing.format_linearization(
        parsing.linearize(parsing_demos.BOOK_LINEARIZATION_TREE)
    )
    say(f"Fig. 7.7 linearisation: {linear}; the book's example: {book_linear}")
    table = []
    for row in rows:
        new_arc = row["arcs"][-1] if row["action"].startswith(("LEFT", "RIGHT")) else ""
        table.append(
            [
                str(row["step"]),
                row["action"],
                " ".join(row["stack"]),
                " ".join(row["buffer"]),
                new_arc,
            ]
        )
    metrics = {
        "example_actions": parsing.action_names(system, actions),
        "example_num_actions": len(actions),
        "example_book_state_actions": book_names,
        "example_labelled_actions": labelled_names,
        "example_rebuilt": float(rebuilt.heads == tree.heads),
        "example_linearization": linear,
        "book_linearization": book_linear,
    }
    return metrics, table


def _oracle_round_trips(config: Config) -> dict:
    """The oracle rebuilds random projective trees in every initial state, in exactly
    `arc_standard_length` actions (2n, 2n - 1 or 2n - 3)."""
    rng = np.random.default_rng(config.seed)
    rebuilt = lengths_ok = 0
    total = 0
    for state in parsing.INITIAL_STATES:
        system = parsing.ArcStandard(initial_state=state)
        for _ in range(config.random_trees):
            num_words = int(rng.integers(1, config.max_random_words + 1))
            heads = parsing.random_projective_tree(num_words, rng)
            actions = system.oracle(heads)
            final = system.run(num_words, actions)[-1]
            rebuilt += final.tree().heads == heads
            lengths_ok += len(actions) == system.sequence_length(num_words)
            total += 1
    try:
        parsing.ArcStandard().oracle((3, parsing.ROOT, 2, 1))  # 1 -> 4 spans the root word 2.
        rejected = 0.0
    except parsing.NonProjectiveError:
        rejected = 1.0
    return {
        "oracle_random_trees": total,
        "oracle_rebuilt_fraction": rebuilt / total,
        "oracle_length_fraction": lengths_ok / total,
        "non_projective_rejected": rejected,
    }


def _fig_7_11(config: Config, run_log, say) -> dict:
    """Greedy vs beam on the Fig. 7.11 toy."""
    system = parsing.ArcStandard()
    step_fn = system.step_fn(parsing_demos.fig_7_11_score_fn(system))
    start = parsing_demos.fig_7_11_start()
    greedy = beam_search.greedy_search(step_fn, start, 2)[0]
    beams = []
    beam = beam_search.beam_search(
        step_fn, start, config.beam_size, 2, on_step=lambda _, kept: beams.append(kept)
    )
    exhaustive = beam_search.brute_force_search(step_fn, start, 2)[0]
    for step, kept in enumerate(beams, start=1):
        listed = ", ".join(
            f"{' '.join(parsing.action_names(system, h.tokens))} ({math.exp(h.score):.2f})"
            for h in kept
        )
        say(f"Fig. 7.11 beam {config.beam_size}, step {step}: {listed}")
    best = beam[0]
    say(
        f"Greedy: {' '.join(parsing.action_names(system, greedy.tokens))} "
        f"(p = {math.exp(greedy.score):.2f}); beam {config.beam_size}: "
        f"{' '.join(parsing.action_names(system, best.tokens))} (p = {math.exp(best.score):.2f})"
    )
    search_trees.plot_search_tree(
        beam_search.enumerate_prefixes(step_fn, start, 2),
        parsing.ACTION_NAMES,
        run_log.figure_path(FIGURES[1]),
        beams=[[h.tokens for h in kept] for kept in beams],
        greedy=greedy.tokens,
        best=best.tokens,
        title=f"Fig. 7.11 (toy probabilities): beam search with b = {config.beam_size}; "
        "p = probability of the actions so far",
    )
    return {
        "fig7_11_greedy_actions": parsing.action_names(system, greedy.tokens),
        "fig7_11_greedy_probability": math.exp(greedy.score),
        "fig7_11_beam_actions": parsing.action_names(system, best.tokens),
        "fig7_11_beam_probability": math.exp(best.score),
        "fig7_11_best_probability": math.exp(exhaustive.score),
    }


def _reading(tree: parsing.DependencyTree) -> str:
    for name, reading in parsing_demos.GARDEN_PATH_READINGS.items():
        if reading.heads == tree.heads:
            return name
    return "other"


def _garden_path(config: Config, run_log, say) -> dict:
    """Greedy vs beam on the garden-path sentence, with the two-reading toy scorer."""
    words = parsing_demos.GARDEN_PATH_WORDS
    system = parsing.ArcStandard()
    score_fn = parsing_demos.reading_mixture_score_fn(
        system,
        list(parsing_demos.GARDEN_PATH_READINGS.values()),
        parsing_demos.garden_path_plausibility,
        smoothing=config.smoothing,
    )
    greedy = system.parse(len(words), score_fn, beam_size=1)[0]
    beam = system.parse(len(words), score_fn, beam_size=config.garden_path_beam_size)[0]
    step_fn = system.step_fn(score_fn)
    paths = {}
    for name, hypothesis in (("greedy", greedy), (f"beam {config.garden_path_beam_size}", beam)):
        cumulative = beam_search.score_sequence(
            step_fn, system.initial(len(words)), hypothesis.tokens
        )
        paths[f"{name}: {_reading(hypothesis.state.tree(words))}"] = cumulative
        split = "greedy" if name == "greedy" else "beam"
        for step, value in enumerate(cumulative):
            run_log.scalars(step, split, cumulative_log_probability=float(value))
    parted = next(
        (t for t, (a, b) in enumerate(zip(greedy.tokens, beam.tokens, strict=True)) if a != b),
        len(greedy.tokens),
    )
    configs = system.run(len(words), greedy.tokens)
    reveal = next(
        t for t, c in enumerate(configs) if c.words_read >= parsing_demos.GARDEN_PATH_REVEAL
    )
    search_trees.plot_score_paths(
        paths,
        run_log.figure_path(FIGURES[2]),
        events={"readings part": parted + 1, '"single" read (greedy)': reveal},
        title='"The complex houses married and single soldiers and their families" (toy scorer)',
    )
    greedy_tree, beam_tree = greedy.state.tree(words), beam.state.tree(words)
    say(
        f"Garden path: greedy -> {_reading(greedy_tree)} (log p {greedy.score:.3f}); beam "
        f"{config.garden_path_beam_size} -> {_reading(beam_tree)} (log p {beam.score:.3f}); "
        f"they part at action {parted + 1}: greedy {system.action_name(greedy.tokens[parted])}, "
        f"beam {system.action_name(beam.tokens[parted])}"
    )
    return {
        "garden_path_greedy_reading": _reading(greedy_tree),
        "garden_path_greedy_log_probability": greedy.score,
        "garden_path_beam_reading": _reading(beam_tree),
        "garden_path_beam_log_probability": beam.score,
        "garden_path_parting_action": parted + 1,
        "garden_path_beam_linearization": parsing.format_linearization(
            parsing.linearize(
                parsing_demos.GARDEN_PATH_READINGS.get(_reading(beam_tree), beam_tree)
            )
        ),
    }


def _hypothesis_counts(config: Config, say) -> dict:
    """Line 3774 and errata 21, plus closed form vs enumeration for short sentences."""
    counts = parsing_demos.hypothesis_counts(config.hypothesis_words, config.hypothesis_actions)
    book_state = parsing_demos.hypothesis_counts(
        config.hypothesis_words, config.hypothesis_actions, initial_state="book"
    )
    say(
        f"Line 3774: the book says {counts['book_claim']:.1e} hypotheses; "
        f"{config.hypothesis_actions}**{config.hypothesis_words} = "
        f"{counts['actions_per_word_power']:.3e}; a parse takes {counts['sequence_length']} "
        f"actions: {config.hypothesis_actions}**{counts['sequence_length']} = "
        f"{counts['all_action_sequences']:.3e}, of which {counts['legal_action_sequences']:.3e} "
        f"are legal ({book_state['legal_action_sequences']:.3e} from the book's initial state)"
    )
    enumerated_ok = 0
    for state in parsing.INITIAL_STATES:
        system = parsing.ArcStandard(initial_state=state)
        for num_words in range(1, config.count_max_words + 1):
            enumerated = sum(1 for _ in parsing_demos.enumerate_sequences(system, num_words))
            enumerated_ok += enumerated == parsing_demos.count_legal_sequences(num_words, 1, state)
    checked = len(parsing.INITIAL_STATES) * config.count_max_words
    say(f"Legal-sequence formula = enumeration for {enumerated_ok}/{checked} (state, length) pairs")
    return {
        "hypotheses_book_claim": float(counts["book_claim"]),
        "hypotheses_actions_power_words": float(counts["actions_per_word_power"]),
        "hypotheses_sequence_length": counts["sequence_length"],
        "hypotheses_all_sequences": float(counts["all_action_sequences"]),
        "hypotheses_legal_sequences": float(counts["legal_action_sequences"]),
        "hypotheses_legal_sequences_book_state": float(book_state["legal_action_sequences"]),
        "legal_count_formula_matches_enumeration": enumerated_ok / checked,
    }


def main(config: Config) -> dict:
    """Draws Figs. 7.9 and 7.11 and the garden-path comparison; returns the metrics."""
    context = runs.start_run(config, EXPERIMENT_ID)
    run_log = context.run_log
    say = run_log.print

    # --- Figs. 7.5, 7.7 and 7.9: oracle, configurations, linearisation ---
    metrics, table = _oracle_demo(config, say)
    search_trees.plot_transition_table(
        ["step", "action", "stack", "buffer", "new arc"],
        table,
        run_log.figure_path(FIGURES[0]),
        title=f"Fig. 7.9: static-oracle actions for '{' '.join(parsing_demos.EXAMPLE_TREE.words)}'",
    )
    metrics.update(_oracle_round_trips(config))
    say(
        "Oracle rebuilt {oracle_rebuilt_fraction:.0%} of {oracle_random_trees} random "
        "projective trees; non-projective rejected: {non_projective_rejected:.0f}".format(**metrics)
    )

    # --- Fig. 7.11 and the garden path: greedy vs beam ---
    metrics.update(_fig_7_11(config, run_log, say))
    metrics.update(_garden_path(config, run_log, say))

    # --- Line 3774: how many hypotheses ---
    metrics.update(_hypothesis_counts(config, say))

    run_log.scalars(0, "test", **{k: v for k, v in metrics.items() if isinstance(v, float)})
    say(f"Figures: {', '.join(FIGURES)}")
    return runs.finish_run(context, config, metrics)


if __name__ == "__main__":
    import sys

    print(main(config_lib.from_argv(Config, CONFIGS, sys.argv[1:])))
