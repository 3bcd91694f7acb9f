"""Transition-parsing and search figures: Fig. 7.9's action sequence and Fig. 7.11's beam.

Book: chapter 7, "Dependency Parsing and SyntaxNet" (seed lines 3731-3736, Fig. 7.9: the
configurations and actions that build a parse) and "Beam Search and Global Normalization"
(lines 3757-3769, Fig. 7.11: a beam of size 2 over SHIFT / LEFT-ARC / RIGHT-ARC, where greedy
takes SHIFT then LEFT-ARC and the best sequence is LEFT-ARC then RIGHT-ARC); spec ch06-07
§2.2.2-§2.2.3. The book's figures are not in the text; these redraw what it describes.

Each `*_figure` function returns a `matplotlib.figure.Figure` (inspectable in tests); each
`plot_*` function writes it as one PNG and returns the path. In `search_tree_figure` every
edge is a `Line2D` whose gid is `"edge:" + ",".join(tokens)` of the child prefix, and every
node a `Text` whose gid is `"node:" + ...`, so tests can find them.
"""

import math
import os
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from matplotlib import ticker
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from fdl_tf2.viz.figure import save_figure

GREEDY_COLOUR = "#e67e22"
BEST_COLOUR = "#2980b9"
BEAM_FILL = "#d6eaf8"
PRUNED_COLOUR = "#95a5a6"


def _gid(kind: str, tokens: tuple[int, ...]) -> str:
    return f"{kind}:" + ",".join(str(token) for token in tokens)


def _layout(prefixes: Collection[tuple[int, ...]]) -> dict[tuple[int, ...], tuple[float, float]]:
    """`prefix -> (x, y)`: leaves evenly spaced in lexicographic order, parents centred over
    their children, depth downwards."""
    children: dict[tuple[int, ...], list[tuple[int, ...]]] = {p: [] for p in prefixes}
    for prefix in prefixes:
        if prefix and prefix[:-1] in children:
            children[prefix[:-1]].append(prefix)
    positions: dict[tuple[int, ...], tuple[float, float]] = {}
    next_leaf = 0

    def place(prefix: tuple[int, ...]) -> float:
        nonlocal next_leaf
        kids = sorted(children[prefix])
        if kids:
            x = sum(place(kid) for kid in kids) / len(kids)
        else:
            x, next_leaf = float(next_leaf), next_leaf + 1
        positions[prefix] = (x, -float(len(prefix)))
        return x

    place(())
    return positions


def search_tree_figure(
    scores: Mapping[tuple[int, ...], float],
    action_names: Sequence[str],
    *,
    beams: Sequence[Collection[tuple[int, ...]]] = (),
    greedy: tuple[int, ...] = (),
    best: tuple[int, ...] = (),
    title: str = "",
) -> Figure:
    """Fig. 7.11: the search tree with cumulative probabilities, the beam, greedy vs best path.

    Args:
      scores: `{prefix: cumulative log-probability}` for every node to draw, the empty prefix
        (the start) included, e.g. from `beam_search.enumerate_prefixes`.
      action_names: the name of each action id.
      beams: the prefixes kept after step 1, 2, ... (`beam_search(on_step=...)`); kept nodes
        are shaded, the others drawn as pruned.
      greedy: the greedy sequence (orange path).
      best: the sequence the beam returns (blue path).
      title: the figure title.

    Returns:
      The figure.
    """
    if () not in scores:
        raise ValueError("scores must include the empty prefix (the start node)")
    positions = _layout(scores)
    kept = {prefix for beam in beams for prefix in beam}
    parents = {prefix[:-1] for prefix in positions if prefix}
    leaves = len(positions) - len(parents)
    depth = max(len(prefix) for prefix in scores)
    figure = Figure(figsize=(max(6.0, 1.25 * leaves), 1.8 + 1.6 * depth))
    axes = figure.subplots()
    for prefix, (x, y) in positions.items():
        if not prefix:
            continue
        parent_x, parent_y = positions[prefix[:-1]]
        on_greedy = greedy[: len(prefix)] == prefix
        on_best = best[: len(prefix)] == prefix
        colour = BEST_COLOUR if on_best else GREEDY_COLOUR if on_greedy else PRUNED_COLOUR
        width = 3.5 if (on_best or on_greedy) else 1.0
        style = "--" if on_greedy and not on_best else "-"
        axes.add_line(
            Line2D(
                [parent_x, x],
                [parent_y, y],
                color=colour,
                linewidth=width,
                linestyle=style,
                zorder=1,
                gid=_gid("edge", prefix),
            )
        )
        if on_greedy and on_best:  # A shared prefix: both colours side by side.
            axes.add_line(
                Line2D([parent_x, x], [parent_y, y], color=GREEDY_COLOUR, linewidth=1.2, zorder=2)
            )
    for prefix, (x, y) in positions.items():
        if prefix:
            probability = math.exp(scores[prefix])
            text = f"{action_names[prefix[-1]]}\np = {probability:.2f}"
        else:
            text = "start"
        in_beam = not prefix or prefix in kept
        axes.text(
            x,
            y,
            text,
            ha="center",
            va="center",
            fontsize=9,
            zorder=3,
            gid=_gid("node", prefix),
            color="black" if in_beam else "#7f8c8d",
            bbox=dict(
                boxstyle="round,pad=0.35",
                facecolor=BEAM_FILL if in_beam else "white",
                edgecolor="#34495e" if in_beam else PRUNED_COLOUR,
            ),
        )
    for step in range(1, depth + 1):
        axes.text(-0.9, -step, f"step {step}", ha="right", va="center", fontsize=9)
    axes.set_xlim(-1.8, leaves - 0.2)
    axes.set_ylim(-depth - 0.6, 0.6)
    axes.axis("off")
    handles = [
        Line2D([], [], color=GREEDY_COLOUR, linewidth=3.5, linestyle="--", label="greedy"),
        Line2D([], [], color=BEST_COLOUR, linewidth=3.5, label="beam search (best)"),
        Line2D(
            [],
            [],
            marker="s",
            color="white",
            markerfacecolor=BEAM_FILL,
            markeredgecolor="#34495e",
            markersize=12,
            label="kept in the beam",
        ),
        Line2D(
            [],
            [],
            marker="s",
            color="white",
            markerfacecolor="white",
            markeredgecolor=PRUNED_COLOUR,
            markersize=12,
            label="pruned",
        ),
    ]
    axes.legend(handles=handles, loc="lower left", fontsize=8, ncol=4, bbox_to_anchor=(0, -0.12))
    if title:
        axes.set_title(title, fontsize=10)
    return figure


def plot_search_tree(
    scores: Mapping[tuple[int, ...], float],
    action_names: Sequence[str],
    output: str | os.PathLike,
    **options,
) -> Path:
    """Writes `search_tree_figure(scores, action_names, **options)` as a PNG."""
    return save_figure(search_tree_figure(scores, action_names, **options), output)


def score_paths_figure(
    paths: Mapping[str, Sequence[float]],
    *,
    events: Mapping[str, float] | None = None,
    title: str = "",
    ylabel: str = "cumulative log-probability",
) -> Figure:
    """Cumulative scores of several decodings against the step (e.g. greedy vs beam).

    Args:
      paths: `{label: (steps + 1,) cumulative scores}`, entry 0 being the start (0.0).
      events: `{label: step}` drawn as dotted vertical lines (where readings part, etc.).
      title: the axes title.
      ylabel: the y-axis label.
    """
    figure = Figure(figsize=(8, 4.2))
    axes = figure.subplots()
    for label, values in paths.items():
        axes.plot(range(len(values)), values, marker="o", markersize=3, label=label)
    for label, step in (events or {}).items():
        axes.axvline(step, color="#7f8c8d", linestyle=":", linewidth=1)
        axes.annotate(
            f" {label}",
            (step, 0.02),
            xycoords=("data", "axes fraction"),
            rotation=90,
            ha="right",
            va="bottom",
            fontsize=8,
            color="#555555",
        )
    axes.set(xlabel="action (step)", ylabel=ylabel, title=title)
    axes.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    return figure


def plot_score_paths(
    paths: Mapping[str, Sequence[float]], output: str | os.PathLike, **options
) -> Path:
    """Writes `score_paths_figure(paths, **options)` as a PNG."""
    return save_figure(score_paths_figure(paths, **options), output)


def transition_table_figure(
    columns: Sequence[str], rows: Sequence[Sequence[str]], *, title: str = ""
) -> Figure:
    """Fig. 7.9 as a table: one row per configuration (step, action, stack, buffer, arc).

    Args:
      columns: the header.
      rows: the cells, one sequence of strings per row, each as long as `columns`.
      title: the figure title.
    """
    if any(len(row) != len(columns) for row in rows):
        raise ValueError(f"Every row needs {len(columns)} cells")
    characters = [
        max(len(str(cell)) for cell in [name, *(row[i] for row in rows)]) + 2
        for i, name in enumerate(columns)
    ]
    width = max(0.085 * sum(characters), 0.075 * len(title)) + 0.3  # Inches.
    figure = Figure(figsize=(width, 0.6 + 0.24 * (len(rows) + 1)))
    axes = figure.add_axes((0.02, 0.02, 0.96, 0.96 - 0.4 / figure.get_figheight()))
    axes.axis("off")
    table = axes.table(
        cellText=[list(row) for row in rows],
        colLabels=list(columns),
        colWidths=[count / sum(characters) for count in characters],
        bbox=(0, 0, 1, 1),
        cellLoc="left",
        colLoc="left",
    )
    table.auto_set_font_size(False)
    table.set_fontsize(9)
    for (row, _), cell in table.get_celld().items():
        if row == 0:
            cell.set_facecolor(BEAM_FILL)
            cell.set_text_props(weight="bold")
    if title:
        axes.set_title(title, fontsize=10)
    return figure


def plot_transition_table(
    columns: Sequence[str], rows: Sequence[Sequence[str]], output: str | os.PathLike, **options
) -> Path:
    """Writes `transition_table_figure(columns, rows, **options)` as a PNG."""
    figure = transition_table_figure(columns, rows, **options)
    return save_figure(figure, output, dpi=120, tight_layout=False)
