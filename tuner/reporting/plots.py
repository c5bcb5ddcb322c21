"""PNG plots of `tuner report` (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tuner.reporting.leaderboard import ConfigResult, collapsed, format_value

LEADERBOARD_ROWS = 20
TOPIC_WORDS_SHOWN = 10  # as the report's word lists: 8 here, 10 there, and nothing said so
LEGEND_MAX = 12  # more colour groups than this get no legend
TICKED = 8  # a numeric axis with at most this many values labels each of them
DODGE_POINTS = 6.0  # horizontal gap between colour groups at one x value
DODGE_SPREAD = 30.0  # at most this wide in all (many groups sit closer)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    # Every text drawn is data (topic words, model and configuration names), never TeX: with
    # mathtext on, a word "$\undefinedmacro{x}$" from a scored model's topics.json raises
    # ParseFatalException and no report is written.
    matplotlib.rcParams["text.parse_math"] = False
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    plt = _pyplot()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_leaderboard(configs: Sequence[ConfigResult], metric: str, path: Path) -> Path:
    """Horizontal bars of the best configurations by mean `metric`, best on top; the error bar
    is the sd over seeds (none for a single seed)."""
    plt = _pyplot()
    shown = list(reversed(configs[:LEADERBOARD_ROWS]))
    fig, ax = plt.subplots(figsize=(9, 0.35 * len(shown) + 1.4))
    ax.barh([c.name for c in shown], [c.metrics[metric] for c in shown],
            xerr=[c.sd.get(metric) or 0.0 for c in shown], color="tab:blue", ecolor="black",
            capsize=3)
    ax.set_xlabel(f"{metric} (mean over seeds, bar: ± sd)")
    ax.set_title(f"leaderboard by {metric}")
    return _save(fig, path)


def _ranks(ranked: Sequence[ConfigResult]) -> dict[int, int]:
    """id(configuration) -> its leaderboard rank."""
    return {id(c): rank for rank, c in enumerate(ranked, start=1)}


def pareto_key(configs: Sequence[ConfigResult], front: Sequence[ConfigResult]) -> str:
    """The front's lines under the plot, by leaderboard rank (`configs` is ranked): "#5: ProdLDA
    num_topics=20 (topics still changing)"."""
    ranks = _ranks(configs)
    return "\n".join(f"#{ranks[id(c)]}: {c.name}" + (f" ({c.notes})" if c.notes else "")
                     for c in sorted(front, key=lambda c: ranks[id(c)]))


def plot_pareto(configs: Sequence[ConfigResult], front: Sequence[ConfigResult],
                objectives: Sequence[str], path: Path) -> Path:
    """Configurations' means: first two objectives on the axes, the third as colour; the front
    is ringed in red and numbered by leaderboard rank (`configs` is ranked), the numbers keyed
    under the axes (names beside close points would overlap) to names and notes: numbered 1 to
    5 by the plot alone, they are not the leaderboard's ranks, and without notes two fits whose
    topics still change sit on the front unmarked."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 5 + 0.18 * len(front)))
    if len(objectives) < 2:
        ax.text(0.5, 0.5, f"Pareto front needs two metrics; logged: {', '.join(objectives)}",
                ha="center", va="center")
    else:
        x, y = objectives[0], objectives[1]
        colour = objectives[2] if len(objectives) > 2 else None
        fallen = [c for c in configs if collapsed(c)]  # left off the front (sound_front)
        sound = [c for c in configs if not collapsed(c)] or configs
        shading = ({"c": [c.metrics[colour] for c in sound], "cmap": "viridis"} if colour
                   else {"c": "tab:blue"})
        points = ax.scatter([c.metrics[x] for c in sound], [c.metrics[y] for c in sound],
                            s=40, label="configuration (mean over seeds)", **shading)
        if colour:
            fig.colorbar(points, ax=ax, label=colour)
        if fallen and len(fallen) < len(configs):
            ax.scatter([c.metrics[x] for c in fallen], [c.metrics[y] for c in fallen], s=40,
                       marker="x", c="tab:gray", label="collapsed (not on the front)")
        ax.scatter([c.metrics[x] for c in front], [c.metrics[y] for c in front], s=160,
                   facecolors="none", edgecolors="red", linewidths=2, label="non-dominated")
        ranks = _ranks(configs)
        for config in front:
            ax.annotate(f"#{ranks[id(config)]}", (config.metrics[x], config.metrics[y]),
                        fontsize=8, color="red", xytext=(7, 5), textcoords="offset points")
        ax.margins(0.12)
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        ax.legend(loc="best", fontsize=8)
        key = pareto_key(configs, front)
        ax.text(0.0, -0.14, key, transform=ax.transAxes, va="top", fontsize=8)
    ax.set_title("Pareto front over " + " x ".join(objectives) + " (#: leaderboard rank)")
    fig.tight_layout()
    fig.savefig(path, dpi=100, bbox_inches="tight")  # the key hangs below the axes
    plt.close(fig)
    return path


def plot_swept(model: str, configs: Sequence[ConfigResult], metric: str,
               log_params: frozenset[str], path: Path) -> Path:
    """One panel per swept parameter of `model`: `metric` of every trial (a point per seed)
    against the parameter, coloured by the next swept parameter (by the seed when only one was
    swept); lines join the means of each colour. Categorical values (strings, booleans, null)
    sit on a categorical axis; log-declared parameters get a log axis."""
    plt = _pyplot()
    swept = list(configs[0].swept)
    fig, axes = plt.subplots(1, len(swept), squeeze=False, figsize=(6.2 * len(swept), 4.2))
    for i, (ax, name) in enumerate(zip(axes[0], swept, strict=True)):
        other = swept[(i + 1) % len(swept)] if len(swept) > 1 else None
        _panel(ax, configs, name, other, metric, name in log_params)
    fig.suptitle(f"{model}: {metric} against each swept parameter\n"
                 "(points: trials; lines join each colour's means)", fontsize=10)
    return _save(fig, path)


def _panel(ax: Any, configs: Sequence[ConfigResult], name: str, other: str | None,
           metric: str, log: bool) -> None:
    trials = [(c, t) for c in configs for t in c.trials if metric in t.metrics]
    position, ticks, scale = _axis(ax, [c.swept[name] for c, _ in trials], log)
    groups: dict[str, list[tuple[float, float]]] = {}
    for config, trial in trials:
        colour_value = config.swept[other] if other else trial.seed
        groups.setdefault(format_value(colour_value), []).append(
            (position(config.swept[name]), trial.metrics[metric]))
    colours = _colours(len(groups))
    for i, ((value, points), colour) in enumerate(zip(_ordered(groups), colours, strict=True)):
        # side by side at one x value, so that colours sharing an x value stay visible
        shifted = _dodged(ax, i, len(groups))
        ax.scatter([p[0] for p in points], [p[1] for p in points], color=colour, alpha=0.75,
                   s=32, label=value, transform=shifted)
        means = _means_by_x(points)
        ax.plot(list(means), list(means.values()), color=colour, linewidth=1.2,
                transform=shifted)
        ax.update_datalim(points)  # shifted artists do not widen the data limits themselves
    ax.autoscale_view()
    if ticks:
        ax.set_xticks(list(ticks.values()), list(ticks), rotation=30 if len(ticks) > 4 else 0)
    ax.set_xlabel(name + scale)
    ax.set_ylabel(metric)
    if len(groups) <= LEGEND_MAX:
        ax.legend(title=other or "seed", fontsize=7, title_fontsize=8, loc="upper left",
                  bbox_to_anchor=(1.01, 1.0))  # beside the panel, never over a point


def _dodged(ax: Any, index: int, count: int) -> Any:
    from matplotlib.transforms import offset_copy

    step = min(DODGE_POINTS, DODGE_SPREAD / max(count, 1))
    return offset_copy(ax.transData, fig=ax.figure, x=(index - (count - 1) / 2) * step,
                       units="points")


def _axis(ax: Any, values: Sequence[Any], log: bool) -> tuple[Any, dict[str, float], str]:
    """Where each value sits on the x axis, the tick labels to show, and what the axis label
    adds about its scale. Numbers get a log axis as the schema declares (when positive); up to
    TICKED values, each labelled, also get one when they would crowd a linear axis and not a
    log one, and a slot each, in order, when they would crowd both (10, 20, 300, 350 print
    "1020" at a linear axis's start and "30050" at a log axis's end).
    More values (a random search's draws) keep matplotlib's own ticks."""
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    distinct = sorted(set(values)) if numbers else []
    if numbers and not distinct:  # no trial logged the metric
        return float, {}, ""
    positive = numbers and distinct[0] > 0
    ticked = len(distinct) <= TICKED
    crowded = numbers and ticked and _crowded(distinct)
    if numbers and (not crowded or (positive and (log or not _crowded(
            [math.log(v) for v in distinct])))):
        log = positive and (log or crowded)
        if log:
            from matplotlib.ticker import FuncFormatter

            ax.set_xscale("log")
            ax.minorticks_off()
            # matplotlib's own log labels are TeX ($10^{-4}$), which text.parse_math off (see
            # _pyplot) draws as written: plain numbers instead
            ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ticks = {format_value(v): float(v) for v in distinct} if ticked else {}
        return float, ticks, " (log scale)" if log else ""
    order = sorted(set(map(format_value, values)),
                   key=lambda text: (text == "null", _number_or_inf(text), text))
    slots = {text: float(i) for i, text in enumerate(order)}
    ax.set_xlim(-0.5, len(order) - 0.5)
    return (lambda v: slots[format_value(v)]), slots, " (in order, not to scale)" if numbers else ""


def _crowded(distinct: Sequence[float]) -> bool:
    """Whether two neighbouring values sit closer than 1/12 of the range, where a panel's tick
    labels of a few digits run together (300 and 350 of 10..350 on a log axis, 1/23 apart,
    printed "30050")."""
    span = distinct[-1] - distinct[0]
    gaps = [b - a for a, b in itertools.pairwise(distinct)]
    return len(distinct) > 2 and span > 0 and min(gaps) < span / 12


def _number_or_inf(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("inf")


def _ordered(groups: dict[str, list[tuple[float, float]]]
             ) -> list[tuple[str, list[tuple[float, float]]]]:
    return sorted(groups.items(), key=lambda kv: (kv[0] == "null", _number_or_inf(kv[0]), kv[0]))


def _means_by_x(points: Sequence[tuple[float, float]]) -> dict[float, float]:
    by_x: dict[float, list[float]] = {}
    for x, y in points:
        by_x.setdefault(x, []).append(y)
    return {x: sum(ys) / len(ys) for x, ys in sorted(by_x.items())}


def _colours(count: int) -> list[Any]:
    plt = _pyplot()
    if count <= 10:
        return [plt.get_cmap("tab10")(i) for i in range(count)]
    cmap = plt.get_cmap("viridis")
    return [cmap(i / max(count - 1, 1)) for i in range(count)]


def plot_importance(model: str, importance: Mapping[str, float], metric: str, method: str,
                    path: Path, noise: bool = False) -> Path:
    """Horizontal bars: each swept parameter's share of the main-effect variance of `metric`
    for `model`, found by `method` (tuner.reporting.importance); titled as noise when no
    effect stands out of the seeds' (`noise`: importance.within_seed_noise said so)."""
    plt = _pyplot()
    ordered = sorted(importance.items(), key=lambda kv: kv[1])
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(ordered) + 1.5))
    ax.barh([name for name, _ in ordered], [value for _, value in ordered], color="tab:green")
    for row, (_, value) in enumerate(ordered):
        ax.text(value, row, f" {value:.2f}", va="center", fontsize=8)
    ax.set_xlim(0, 1.1)
    ax.set_xlabel(f"share of the main-effect variance of mean {metric}; {method}")
    ax.set_title(f"{model}: which parameters matter for {metric}" + (
        "\nno effect stands out of the seeds' noise: these shares describe noise" if noise
        else ""), color="tab:red" if noise else "black")
    return _save(fig, path)


def plot_topic_words(runs: Mapping[str, Mapping[str, Sequence[str]]], path: Path,
                     font: str | None) -> Path:
    """One panel per run, one under another, titled by its key in `runs` (its configuration and
    run name): each topic's leading words, drawn in `font` (None: the default). Side by side,
    a line of 10 long words runs into the next panel, and the page's 1000-pixel width draws the
    words 5 pixels high."""
    plt = _pyplot()
    # a line per topic and an empty one below (a panel's last topic touched the next title)
    rows = [max(len(topics), 1) + 1 for topics in runs.values()] or [1]
    height = 0.25 * sum(rows) + 0.6 * len(rows)  # and a title per panel
    fig, axes = plt.subplots(len(rows), 1, squeeze=False, figsize=(10, height),
                             gridspec_kw={"height_ratios": rows})
    text_style = {"fontfamily": font} if font else {}
    for ax, (run, topics), count in zip(axes[:, 0], runs.items(), rows, strict=False):
        ax.axis("off")
        ax.set_title(run, fontsize=9, loc="left")
        ordered = sorted(topics.items(), key=lambda kv: int(kv[0]))
        for row, (topic, words) in enumerate(ordered):
            ax.text(0.0, 1.0 - (row + 0.5) / count,
                    f"{topic}: {' '.join(words[:TOPIC_WORDS_SHOWN])}", fontsize=8,
                    va="center", transform=ax.transAxes, **text_style)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


TRENDS_SHOWN = 8  # topics drawn per trend plot: those whose mean proportion moves most


def plot_topic_trends(title: str, shares: Mapping[str, Sequence[float]],
                      topics: Mapping[str, Sequence[str]], path: Path, font: str | None) -> Path:
    """Each topic's mean proportion θ in each time slice's documents (a dynamic model's
    trends), one line per topic for the TRENDS_SHOWN topics whose proportion moves most,
    labelled by their top words."""
    plt = _pyplot()
    labels = list(shares)
    k = min(len(v) for v in shares.values())
    moved = sorted(range(k), key=lambda t: -(max(shares[s][t] for s in labels)
                                             - min(shares[s][t] for s in labels)))
    fig, ax = plt.subplots(figsize=(10, 4.5))
    for topic, colour in zip(sorted(moved[:TRENDS_SHOWN]), _colours(TRENDS_SHOWN), strict=False):
        words = " ".join(list(topics.get(str(topic), []))[:3])
        ax.plot(range(len(labels)), [100 * shares[s][topic] for s in labels], marker="o",
                color=colour, label=f"{topic}: {words}")
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=30 if len(labels) > 6 or
                       max(map(len, labels)) > 10 else 0, ha="right", fontsize=8)
    ax.set_ylim(bottom=0)  # a zoomed axis drew a move of 0.5 points as a rise
    ax.set_ylabel("mean topic proportion θ in the slice (%)")
    shown = min(k, TRENDS_SHOWN)
    ax.set_title(f"{title}: the {shown} topics whose mean proportion moves most" if k > shown
                 else f"{title}: each topic's mean proportion over time", fontsize=9, loc="left")
    legend = ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    if font:
        for text in legend.get_texts():
            text.set_fontfamily(font)
    return _save(fig, path)
