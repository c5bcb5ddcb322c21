"""PNG plots of `tuner report` (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tuner.reporting.report import TrialRow

LEADERBOARD_ROWS = 20
TOPIC_WORDS_SHOWN = 8


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_leaderboard(rows: Sequence[TrialRow], metric: str, path: Path) -> Path:
    """Horizontal bars of the best trials by `metric`, best on top."""
    plt = _pyplot()
    shown = list(rows[:LEADERBOARD_ROWS])
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(shown) + 1.2))
    ax.barh([r.run_name for r in reversed(shown)], [r.metrics[metric] for r in reversed(shown)],
            color="tab:blue")
    ax.set_xlabel(metric)
    ax.set_title(f"leaderboard by {metric}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_pareto(rows: Sequence[TrialRow], front: Sequence[TrialRow], objectives: Sequence[str],
                path: Path) -> Path:
    """First two objectives on the axes, the third as colour; the front is ringed in red."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 5))
    if len(objectives) < 2:
        ax.text(0.5, 0.5, f"Pareto front needs two metrics; logged: {', '.join(objectives)}",
                ha="center", va="center")
    else:
        x, y = objectives[0], objectives[1]
        colour = objectives[2] if len(objectives) > 2 else None
        points = ax.scatter([r.metrics[x] for r in rows], [r.metrics[y] for r in rows],
                            c=[r.metrics[colour] for r in rows] if colour else "tab:blue",
                            cmap="viridis", s=40, label="trial")
        if colour:
            fig.colorbar(points, ax=ax, label=colour)
        ax.scatter([r.metrics[x] for r in front], [r.metrics[y] for r in front], s=160,
                   facecolors="none", edgecolors="red", linewidths=2, label="non-dominated")
        for row in front:
            ax.annotate(row.run_name, (row.metrics[x], row.metrics[y]), fontsize=7,
                        xytext=(4, 4), textcoords="offset points")
        ax.margins(0.15)  # room for the run names beside the front
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        ax.legend(loc="best")
    ax.set_title("Pareto front over " + " x ".join(objectives))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_params(rows: Sequence[TrialRow], params: Sequence[str], metric: str,
                path: Path) -> Path:
    """One panel per swept parameter: `metric` against the parameter's values."""
    plt = _pyplot()
    count = max(1, len(params))
    columns = min(3, count)
    fig, axes = plt.subplots(math.ceil(count / columns), columns, squeeze=False,
                             figsize=(4.5 * columns, 3.5 * math.ceil(count / columns)))
    for ax in axes.flat[len(params):]:
        ax.set_visible(False)
    if not params:
        axes[0][0].set_visible(True)
        axes[0][0].text(0.5, 0.5, "no parameter varies between trials", ha="center")
    for ax, name in zip(axes.flat, params, strict=False):
        values = [r.params.get(name, "null") for r in rows]
        numeric = _numbers(values)
        if numeric is None:
            labels = sorted(set(values))
            ax.set_xticks(range(len(labels)), labels, rotation=30, fontsize=8)
            xs = [float(labels.index(v)) for v in values]
        else:
            xs = numeric
        ax.scatter(xs, [r.metrics[metric] for r in rows], s=30)
        ax.set_xlabel(name)
        ax.set_ylabel(metric)
    fig.suptitle(f"{metric} against each swept parameter")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _numbers(values: Sequence[str]) -> list[float] | None:
    try:
        return [float(v) for v in values]
    except ValueError:
        return None


def plot_topic_words(runs: Mapping[str, Mapping[str, Sequence[str]]], path: Path,
                     font: str | None) -> Path:
    """One panel per run: each topic's leading words, drawn in `font` (None: the default)."""
    plt = _pyplot()
    longest = max((len(topics) for topics in runs.values()), default=1)
    fig, axes = plt.subplots(1, max(len(runs), 1), squeeze=False,
                             figsize=(6 * max(len(runs), 1), 0.3 * longest + 1))
    text_style = {"fontfamily": font} if font else {}
    for ax, (run, topics) in zip(axes[0], runs.items(), strict=False):
        ax.axis("off")
        ax.set_title(run, fontsize=9)
        ordered = sorted(topics.items(), key=lambda kv: int(kv[0]))
        for row, (topic, words) in enumerate(ordered):
            ax.text(0.0, 1.0 - (row + 0.5) / max(longest, 1),
                    f"{topic}: {' '.join(words[:TOPIC_WORDS_SHOWN])}", fontsize=8,
                    va="center", transform=ax.transAxes, **text_style)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path
