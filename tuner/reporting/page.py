"""The HTML page of `tuner report`: one ranking of configurations, then one section per model
with a table of only its swept parameters, its plots and its parameter importance."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tuner.metrics.spread import BACKGROUND_IDS, BACKGROUND_WORDS
from tuner.reporting.earlier import EarlierSweep
from tuner.reporting.findings import findings_html
from tuner.reporting.health import MEANINGS, NOTES, counted, trial_concerns
from tuner.reporting.importance import ModelImportance, why_no_importance
from tuner.reporting.leaderboard import (
    ConfigResult,
    collapsed,
    earlier_seeds_sentence,
    fixed_settings,
    format_mean_sd,
    format_value,
    noise_sentence,
    same_fits_sentence,
    shared_work_sentence,
    superseded_sentence,
    topics_found,
)
from tuner.reporting.plots import TOPIC_WORDS_SHOWN
from tuner.reporting.recurring import recurring_for, recurring_html, recurring_note
from tuner.tracking.records import FinishedTrial
from tuner.trial import MetricSettings

TABLE_METRICS = ("npmi", "diversity", "ari", "f1", "fit_seconds")
TOP_CONFIGS = 3  # configurations whose best trial's topics the page lists
UNLED_SHOWN = 12  # labels named under a topic list as leading no topic
NO_TOPIC = -1  # topic_labels' key for the documents in no topic (BERTopic's outliers)
CSS = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:0.5em 0}"
       "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}img{max-width:1000px}")


@dataclass(frozen=True)
class ReportData:
    """Everything the page shows, read through the tracker and computed once."""

    experiment: str
    metric: str
    ranked: list[ConfigResult]  # best mean first
    front: list[ConfigResult]
    objectives: list[str]
    importance: Mapping[str, ModelImportance]  # model -> its method and parameters' shares
    topics: Mapping[str, Mapping[str, list[str]]]  # run id -> topic -> words, of the top ones
    pruned: Mapping[str, Mapping[int, int]] = field(default_factory=dict)  # model -> units -> n
    failed: int = 0  # trials that failed on this data and have not finished since
    unfinished: list[ConfigResult] = field(default_factory=list)  # configurations none finished
    warnings: Sequence[str] = ()  # what validation and precompute warned of, before the sweep
    after: Sequence[str] = ()  # what the ranked trials' own figures said at its end (health)
    unended: str | None = None  # the latest sweep did not end (leaderboard.unended_sweep)
    other_code: str | None = None  # another tuner made it (leaderboard.other_code)
    extras: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # run id -> extras.json
    sizes: Mapping[str, Mapping[int, int]] = field(default_factory=dict)  # run id -> topic -> docs
    # run id -> topic -> label -> its documents with that label (report.labels_by_topic)
    topic_labels: Mapping[str, Mapping[int, Mapping[str, int]]] = field(default_factory=dict)
    preprocessing: Sequence[str] = ()  # the sweep's settings that are not the defaults
    labels: str = "-"  # what its ARI, NMI and F1 scored against (earlier.labels_said)
    earlier: Sequence[EarlierSweep] = ()  # sweeps on other data or settings, newest first
    embeddings: Sequence[str] = ()  # the latest sweep's document embeddings (embeddings_said)

    @property
    def top(self) -> list[ConfigResult]:
        """The configurations whose topics the page shows: the TOP_CONFIGS best, then each other
        model's best (else a model ranked below them has its table and plots but no word
        shown)."""
        return shown_configs(self.ranked)


def shown_configs(ranked: Sequence[ConfigResult]) -> list[ConfigResult]:
    """The TOP_CONFIGS best configurations, then the best of each model not among them."""
    shown = list(ranked[:TOP_CONFIGS])
    models = {c.model for c in shown}
    return shown + [configs[0] for model, configs in by_model(ranked).items()
                    if model not in models]


def by_model(configs: Sequence[ConfigResult]) -> dict[str, list[ConfigResult]]:
    """Configurations grouped by model, models in the order of their best configuration."""
    groups: dict[str, list[ConfigResult]] = {}
    for config in configs:
        groups.setdefault(config.model, []).append(config)
    return groups


def plot_name(kind: str, model: str) -> str:
    """`params-ProdLDA.png`: a file name safe for any registered model name."""
    return f"{kind}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', model)}.png"


def _fallen_note(data: ReportData) -> str:
    """Collapsed configurations are left off the front (report.sound_front), and said."""
    fallen = sum(collapsed(c) for c in data.ranked)
    return f" ({counted(fallen, 'collapsed configuration')} left off it)" \
        if fallen and fallen < len(data.ranked) else ""


def render_page(data: ReportData, plots: Sequence[Path], note: str = "",
                language: str = "en") -> str:
    """The report's page; `language`: the one its topic words are in."""
    esc = html.escape
    names = {p.name for p in plots}
    trials = sum(c.seeds for c in data.ranked)
    summary = (f"<p>{counted(trials, 'finished trial')} in "
               f"{counted(len(data.ranked), 'configuration')}, ranked by "
               f"the mean <b>{esc(data.metric)}</b> over their seeds (± sample sd; - for one "
               f"seed). Pareto front over {esc(' x '.join(data.objectives))} (means): "
               f"{counted(len(data.front), 'configuration')}{_fallen_note(data)}.</p>")
    summary += (_preprocessing_html(data) + _failures_html(data) + _warnings_html(data)
                + reading(data))
    overview = "".join(_image(n) for n in ("leaderboard.png", "pareto.png") if n in names)
    models = "".join(_model_section(model, configs, data, names)
                     for model, configs in by_model(data.ranked).items())
    words = "".join(_topics_html(c, data, names, language) for c in data.top)
    shared = recurring_note(language) if any(
        recurring_for(data.topics.get(c.best_trial(data.metric).run_id, {}), c.model)
        for c in data.top) else ""
    topics_image = _image("topics.png") if "topics.png" in names else ""
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>tuner report: "
            f"{esc(data.experiment)}</title><style>{CSS}</style></head><body>"
            f"<h1>Experiment {esc(data.experiment)}</h1>{summary}{_pruning(data)}"
            f"{_ranking_table(data)}{_earlier_html(data)}"
            f"{overview}{models}{note}<h2>Top words of the best configurations, and of each "
            f"model's best</h2>{shared}{topics_image}{words}</body></html>")


# What the numbers can and cannot say: a new user reads NPMI below 0 on headlines as failure,
# and ARI against the continents of UN speeches as topic quality.
def reading(data: ReportData) -> str:
    """How to read the page's numbers, with the word counts its trials were scored on: the
    lists show TOPIC_WORDS_SHOWN words, diversity counts 25 by default (report audit)."""
    settings, default = _scored_on(data), MetricSettings()
    topn = settings.get("topn", default.topn)
    diversity_topn = settings.get("diversity_topn", default.diversity_topn)
    return (
        "<details><summary>How to read these numbers</summary><ul>"
        f"<li><b>npmi</b> (−1 to 1): how often each topic's top {topn} words occur together "
        "in this corpus, in sliding windows, against chance. It depends on the corpus: on "
        "short texts such as headlines most topics of every model score below 0. Compare "
        "models and settings on one corpus, never figures across corpora.</li>"
        "<li><b>diversity</b> (0 to 1): the share of distinct words among all topics' top "
        f"{diversity_topn} words (the lists below show {TOPIC_WORDS_SHOWN}); 1 means no word "
        "repeats. A fit with few or collapsed topics can score 1.</li>"
        "<li><b>ari</b>, <b>nmi</b>, <b>f1</b>: agreement of each document's topic with the "
        "labels. They measure the labels' partition, which is only as topical as the labels "
        "are (a region or a year is not a topic), and a model trained on the labels scores "
        "itself. f1 matches topics to classes one to one and averages over the classes "
        "(macro): with fewer topics than classes the unmatched classes count 0, so it cannot "
        "exceed topics / classes, while nmi is not bounded so; ari and nmi can rank such fits "
        "apart.</li>"
        "<li><b>± sd</b> is over the seeds: with one seed there is none, and a Pareto front of "
        "one-seed means is as noisy as they are.</li></ul></details>")


def _scored_on(data: ReportData) -> Mapping[str, int | str]:
    """The metric settings the ranked trials were scored with (one context: all alike)."""
    return next((t.metric_settings for c in data.ranked for t in c.trials
                 if t.metric_settings), {})


def _preprocessing_html(data: ReportData) -> str:
    labels = (f"<p>ARI, NMI and F1 score the latest sweep's fits against "
              f"{html.escape(data.labels)}.</p>") if data.labels not in ("-", "none") else ""
    if data.embeddings:
        labels += (f"<p>Document embeddings of the latest sweep: "
                   f"{html.escape('; '.join(data.embeddings))}.</p>")
    if not data.preprocessing:
        return labels
    return (f"{labels}<p>Preprocessing of the latest sweep beyond the defaults: "
            f"{html.escape('; '.join(data.preprocessing))}. NPMI is counted on the words it "
            "leaves, so it compares across sweeps with the same preprocessing only.</p>")


def _earlier_html(data: ReportData) -> str:
    """The experiment's earlier sweeps on other data or settings, each by its best
    configuration: not ranked beside the latest one's rows, but set beside them here."""
    if not data.earlier:
        return ""
    metric = data.metric
    shown = [metric] + (["npmi"] if metric != "npmi" else [])
    rows = [[_when(e.start_time), e.documents, "; ".join(e.preprocessing) or "the defaults",
             e.labels, e.best.name, *(format_mean_sd(e.best, m) for m in shown)]
            for e in data.earlier]
    return (f"<h3>Earlier sweeps on other data or settings</h3><p>Not ranked above: their texts, "
            "labels, preprocessing or metric settings differ from the latest sweep's. Their "
            f"best configuration by {html.escape(metric)}; NPMI is counted on each sweep's own "
            "words, so it compares only where the preprocessing is the same, and ARI where the "
            "labels are.</p>"
            + _table(["sweep started (UTC)", "documents", "preprocessing beyond the defaults",
                      "labels", "best configuration", *shown], rows))


def _when(start_time: int | None) -> str:
    if start_time is None:
        return "-"
    return datetime.fromtimestamp(start_time / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")


def _warnings_html(data: ReportData) -> str:
    """The latest sweep's warnings (an English embedding model on Chinese text, documents left
    with no word): said on stderr alone, they leave a reader of the report to rank such a sweep
    unwarned."""
    shown = ""
    if data.unended:  # first: the page reads as complete otherwise
        shown += f"<p class='warnings'><b>Not every trial ran:</b> {html.escape(data.unended)}</p>"
    if data.other_code:
        shown += (f"<p class='warnings'><b>Made by another version of tuner:</b> "
                  f"{html.escape(data.other_code)}</p>")
    if data.warnings:
        items = "".join(f"<li>{html.escape(w)}</li>" for w in data.warnings)
        shown += (f"<p>The latest sweep was warned of {counted(len(data.warnings), 'thing')} "
                  f"before it ran:</p><ul class='warnings'>{items}</ul>")
    if data.after:  # as `tuner run` ended with them; the rows' notes say which
        items = "".join(f"<li>{html.escape(w)}</li>" for w in data.after)
        # of every ranked trial on its data, earlier sweeps' too: "its trials" would name models
        # the latest sweep has not run
        shown += (f"<p>At its end, the ranked trials' own figures (its and earlier sweeps' on "
                  f"the same data) said:</p>"
                  f"<ul class='warnings'>{items}</ul>")
    return shown


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    esc = html.escape
    cells = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>"
                    for row in rows)
    return ("<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr>"
            + cells + "</table>")


def _pruning(data: ReportData) -> str:
    """How many trials the pruner stopped, at each rung (budget units trained), per model."""
    if not data.pruned:
        return ""
    rows = [[model, str(units), str(count)] for model, rungs in data.pruned.items()
            for units, count in sorted(rungs.items())]
    total = sum(count for rungs in data.pruned.values() for count in rungs.values())
    were, they = ("was", "it is") if total == 1 else ("were", "they are")
    return (f"<p>{counted(total, 'trial')} {were} stopped early by the pruner and not trained "
            f"in full since; {they} not ranked, nor are the other seeds of their "
            "configurations.</p>"
            + _table(["model", "stopped after (epochs or iterations)", "trials"], rows))


def _ranking_table(data: ReportData) -> str:
    on_front = {id(c) for c in data.front}
    rows = [[str(rank), c.model, c.label or "-", c.seeds_of(data.metric), topics_found(c),
             format_mean_sd(c, data.metric),
             "yes" if id(c) in on_front else "", c.notes]
            for rank, c in enumerate(data.ranked, start=1)]
    return _notes_legend(data.ranked) + _table(
        ["#", "model", "configuration", "seeds", "topics found/asked",
         f"{data.metric} mean ± sd", "Pareto", "note"], rows) \
        + _paragraph(noise_sentence(data.ranked, data.metric)) \
        + _paragraph(same_fits_sentence(data.ranked)) \
        + _paragraph(superseded_sentence(data.ranked)) \
        + _paragraph(earlier_seeds_sentence(data.ranked)) \
        + _paragraph(shared_work_sentence(data.ranked))


def _paragraph(sentence: str | None) -> str:
    """A sentence the printed board says in parentheses under it, as a paragraph."""
    if not sentence:
        return ""
    named = "_" in sentence.split(" ", 1)[0]  # a metric's name (fit_seconds) keeps its case
    return f"<p>{html.escape(sentence if named else sentence[0].upper() + sentence[1:])}.</p>"


def _notes_legend(ranked: Sequence[ConfigResult]) -> str:
    """What the notes of the rows below mean, for those present (a seed of the row has it)."""
    present = {c.kind for config in ranked for c in config.concerns}
    if not present:
        return ""
    items = "".join(f"<li><b>{html.escape(note)}</b>: {html.escape(MEANINGS[kind])}</li>"
                    for kind, note in NOTES.items() if kind in present)
    return f"<p>Notes on the rows below, from each trial's own figures:</p><ul>{items}</ul>"


def _swept_cell(config: ConfigResult, name: str) -> str:
    """The value, or "-" where the setting had no effect (HDBSCAN's under k-means)."""
    return "-" if name in config.unused else format_value(config.swept[name])


def _model_section(model: str, configs: list[ConfigResult], data: ReportData,
                   names: set[str]) -> str:
    swept = list(configs[0].swept)
    metrics = [m for m in TABLE_METRICS if any(m in c.metrics for c in configs)]
    if any(c.metrics.get("shared_seconds", 0.0) > 0 for c in configs):  # UMAP's, Word2Vec's
        metrics.append("shared_seconds")
    rows = [[str(rank), *(_swept_cell(c, p) for p in swept), c.seeds_of(data.metric),
             *(format_mean_sd(c, m) for m in metrics)]
            for rank, c in enumerate(configs, start=1)]
    table = _table(["#", *swept, "seeds", *(f"{m} mean ± sd" for m in metrics)], rows)
    images = "".join(_image(plot_name(kind, model)) for kind in ("params", "importance")
                     if plot_name(kind, model) in names)
    fixed = fixed_settings(configs)
    fixed_said = f"; every row ran with, beyond its defaults: {', '.join(fixed)}" if fixed \
        else ""
    return (f"<h2>{html.escape(model)}</h2><p>swept: {html.escape(', '.join(swept) or 'nothing')}"
            f"{html.escape(fixed_said)}</p>{table}{images}{_importance_note(model, configs, data)}")


def _importance_note(model: str, configs: list[ConfigResult], data: ReportData) -> str:
    why = why_no_importance(configs, data.metric)
    if why is None:
        found = data.importance.get(model)
        noise = found.noise if found is not None else None
        return f"<p>Parameter importance of {html.escape(model)}: {html.escape(noise)}.</p>" \
            if noise else ""
    return f"<p>No parameter importance for {html.escape(model)}: {html.escape(why)}.</p>"


def _failures_html(data: ReportData) -> str:
    """How many trials failed on this data, and the configurations none of whose seeds
    finished, with their errors: they are on no ranking or plot, and a report that left them
    out would read as if they had never been tried."""
    if not data.failed:
        return ""
    text = f"<p>{counted(data.failed, 'trial')} failed on this data (tag tuner.error in MLflow)"
    if not data.unfinished:
        return text + "; every configuration finished on some seed.</p>"
    rows = [[c.model, c.name, str(c.seeds),
             ", ".join(sorted({t.error_type or "?" for t in c.trials}))]
            for c in data.unfinished]
    return (text + f"; {counted(len(data.unfinished), 'configuration')} finished on no seed "
            f"(ranked nowhere):</p>"
            + _table(["model", "configuration", "failed trials", "errors"], rows))


def _image(name: str) -> str:
    esc = html.escape
    return f'<img src="{esc(name)}" alt="{esc(name.removesuffix(".png"))}">'


def _topics_html(config: ConfigResult, data: ReportData, names: set[str], language: str
                 ) -> str:
    """A configuration's best fit's topics; their words marked as in `language`, so that a
    browser draws Chinese in Chinese glyph forms, not Japanese ones, on a page in English."""
    esc = html.escape
    trial = config.best_trial(data.metric)
    topics = data.topics.get(trial.run_id, {})
    title = f"<h3>{esc(trial.run_name)} ({esc(config.name)})</h3>"
    if not topics:
        return f"{title}<p>no topics.json artifact</p>"
    sizes = data.sizes.get(trial.run_id, {})
    labels = data.topic_labels.get(trial.run_id, {})
    extras = data.extras.get(trial.run_id, {})
    background = _background_ids(extras)
    items = "".join(f"<li><span lang='{esc(language)}'>"
                    f"{esc(' '.join(words[:TOPIC_WORDS_SHOWN]))}</span>"
                    f"{_size(sizes, int(k), labels.get(int(k), {}))}"
                    f"{background_mark(k, extras) if int(k) in background else ''}</li>"
                    for k, words in sorted(topics.items(), key=lambda kv: int(kv[0])))
    trends = plot_name("trends", trial.run_id)
    return (f"{title}{_notes_of_other_seeds(config, trial)}<ol start='0'>{items}</ol>"
            f"{_unassigned(sizes, config.model)}"
            f"{_unled(labels)}"
            f"{recurring_html(topics, config.model)}"
            f"{_image(trends) if trends in names else ''}"
            f"{findings_html(topics, data.extras.get(trial.run_id, {}))}")


def _notes_of_other_seeds(config: ConfigResult, shown: FinishedTrial) -> str:
    """The row's notes that its other seeds gave and the fit shown here did not: a "background
    topic" note from seed 43 over seed 42's topics, none marked, read as the report
    contradicting the board (report audit of 2026-12-05)."""
    own = {c.kind for c in trial_concerns(shown.model, shown.params, shown.metrics)}
    others: dict[str, list[str]] = {}
    for trial in config.trials:
        if trial is not shown:
            for concern in trial_concerns(trial.model, trial.params, trial.metrics):
                if concern.kind not in own:
                    others.setdefault(concern.kind, []).append(str(trial.seed))
    if not others:
        return ""
    said = "; ".join(f"{NOTES[kind]}: seed {', '.join(dict.fromkeys(seeds))}"
                     for kind, seeds in others.items() if kind in NOTES)
    return (f"<p><i>The row's notes from its other seeds, whose topics are not shown: "
            f"{html.escape(said)}.</i></p>") if said else ""


WIDE = "above its even share in far more documents than the fit's other topics"


def background_mark(topic: str, extras: Mapping[str, Any]) -> str:
    """What a background topic is, by its words (tuner.metrics.spread.background_words): common
    ones are stop words to drop, rare ones make a catch-all, and neither a subject that runs
    through many documents. A fit scored before its words were judged is marked as wide alone."""
    found = extras.get(BACKGROUND_WORDS)
    words = found.get(topic) if isinstance(found, dict) else None
    if not isinstance(words, dict):
        return f" <i>(background topic: {WIDE})</i>"
    share, ratio = float(words.get("share", 0.0)), float(words.get("ratio", 1.0))
    held = (f"each in {share:.1%} of the documents (median), {ratio:.1f} times the fit's "
            "median topic's")
    if words.get("words") == "common":
        return (f" <i>(background topic: {WIDE}; its words are common, {held}: stop words for "
                "preprocessing.extra_stopwords)</i>")
    if words.get("words") == "rare":
        return (f" <i>(catch-all topic: {WIDE}, of rare words, {held}: the documents no other "
                "topic took)</i>")
    return (f" <i>(wide topic: {WIDE}, of words as common as theirs, {held}: a subject that "
            "runs through many documents)</i>")


def _background_ids(extras: Mapping[str, Any]) -> set[int]:
    """The fit's background topics (tuner.metrics.spread), as its extras.json lists them."""
    found = extras.get(BACKGROUND_IDS)
    return {k for k in found if isinstance(k, int)} if isinstance(found, list) else set()


def _size(sizes: Mapping[int, int], topic: int, labels: Mapping[str, int]) -> str:
    """" (38 documents, 2%; 71% rec.sport.hockey)": the documents whose main topic it is, and the
    label most of them carry with its share of those labelled, and how many are, when not all
    are (a ground-truth file that covers few documents: one labelled document of 38 read
    "100%"); empty without sizes."""
    if not sizes:
        return ""
    count = sizes.get(topic, 0)
    label = ""
    if labels:
        name, most = leading_label(labels)
        labelled = sum(labels.values())
        label = f"; {_share_html(most / labelled)} {html.escape(name)}"
        if labelled < count:
            label += f" of {labelled:,} labelled"
    return (f" <i>({counted(count, 'document')}, {_share_html(count / sum(sizes.values()))}"
            f"{label})</i>")


def leading_label(labels: Mapping[str, int]) -> tuple[str, int]:
    """The label most of a topic's documents carry, and how many; a tie goes to the name
    that sorts first, so a report reads the same every time."""
    return min(labels.items(), key=lambda item: (-item[1], item[0]))


def _unled(topic_labels: Mapping[int, Mapping[str, int]]) -> str:
    """The labels that lead no topic (carried by more of its documents than any other label, a
    plurality): the fit merged each into another's topic or spread it over several, which ARI
    and F1 count against it without naming."""
    if not topic_labels:
        return ""
    present = {name for labels in topic_labels.values() for name in labels}
    led = {leading_label(labels)[0] for topic, labels in topic_labels.items()
           if labels and topic != NO_TOPIC}
    unled = sorted(present - led)
    if not unled:
        return ""
    shown = ", ".join(html.escape(name) for name in unled[:UNLED_SHOWN])
    more = f" and {len(unled) - UNLED_SHOWN} more" if len(unled) > UNLED_SHOWN else ""
    verb = "leads" if len(unled) == 1 else "lead"
    return (f"<p>{counted(len(unled), 'label')} of {len(present)} {verb} no topic (in no topic "
            f"do more documents carry them than any other label; merged into others' topics, "
            f"spread over several or left in none): {shown}{more}.</p>")


def _share_html(share: float) -> str:
    """A share as a whole percent; under 1% but above none, "<1%" (6 of 1,340 read "0%")."""
    return "&lt;1%" if share > 0 and round(100 * share) == 0 else f"{100 * share:.0f}%"


def _unassigned(sizes: Mapping[int, int], model: str) -> str:
    """The documents in no topic: documents with no word in the vocabulary, and a clustering
    model's outliers (a model with a remedy for them: BERTopic), said only of such a model."""
    from trainers import canonical_name, load_trainer

    none = sizes.get(-1, 0)
    if not none:
        return ""
    name = canonical_name(model)
    clusters = name is not None and bool(load_trainer(name).remedy("outliers", {}))
    why = "its outliers, or documents with no word in the vocabulary" if clusters else \
        "documents with no word in the vocabulary"
    return (f"<p>{counted(none, 'document')} ({_share_html(none / sum(sizes.values()))}) in no "
            f"topic: {why}.</p>")
