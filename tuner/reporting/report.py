"""`tuner report`: an HTML page and PNG plots of one experiment's finished trials, seeds
aggregated per configuration, also logged as artifacts (under `report/`) of the experiment's
latest sweep run, with `param_importance.json` beside them."""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, TypeVar

from tuner.data.language import HAN_CHARACTER
from tuner.errors import TunerError
from tuner.metrics import higher_is_better
from tuner.reporting.earlier import (
    changed_preprocessing,
    earlier_sweeps,
    embeddings_said,
    labels_said,
)
from tuner.reporting.findings import topic_shares
from tuner.reporting.fonts import font_for
from tuner.reporting.importance import (
    IMPORTANCE_FILE,
    importance_record,
    log_scaled,
    model_importances,
)
from tuner.reporting.leaderboard import (
    ConfigResult,
    aggregate_seeds,
    asked_unfinished,
    collapsed,
    declared_swept,
    latest_asked,
    latest_seed_list,
    latest_seeds,
    newest_context,
    on_data,
    other_code,
    rank_configs,
    seeds_asked,
    shown_as,
    sweep_warnings,
    unended_sweep,
    with_earlier_seeds,
)
from tuner.reporting.page import (
    NO_TOPIC,
    ReportData,
    by_model,
    plot_name,
    render_page,
    shown_configs,
)
from tuner.reporting.plots import (
    plot_importance,
    plot_leaderboard,
    plot_pareto,
    plot_swept,
    plot_topic_trends,
    plot_topic_words,
)
from tuner.tracking.records import FinishedTrial, SweepRun, ranked, ranking_metric, still_pruned
from tuner.tracking.tags import CONTEXT_TAG, RANKING_TAG
from tuner.tracking.tracker import (
    EXTRAS_FILE,
    GROUND_TRUTH_FILE,
    MlflowTracker,
    Tracker,
    artifact_folder_name,
)

PARETO_METRICS = ("npmi", "diversity", "ari")


class HasMetrics(Protocol):
    @property
    def metrics(self) -> Mapping[str, float]: ...


Scored = TypeVar("Scored", bound=HasMetrics)


@dataclass(frozen=True)
class WrittenReport:
    html: Path
    plots: list[Path]
    trials: int  # the ranked configurations' finished trials, as the page counts them
    configs: int  # configurations they form once seeds are aggregated
    pareto: list[str]  # names of the configurations on the Pareto front
    parent_run_id: str
    importance: Mapping[str, Mapping[str, float]]  # model -> swept parameter -> importance
    language: str = "en"  # the language the topic words are drawn in
    font: str | None = None  # the font that draws them (None: matplotlib's default)
    failed: int = 0  # trials that failed on the report's data
    unended: str | None = None  # the latest sweep did not end (leaderboard.unended_sweep)
    other_code: str | None = None  # another tuner made it (leaderboard.other_code)
    boxed: tuple[str, ...] = ()  # characters of the words drawn as boxes: no font had them


def pareto_front(rows: Sequence[Scored], metrics: Sequence[str]) -> list[Scored]:
    """Rows no other row dominates: at least as good on every metric and better on one."""
    def oriented(row: Scored) -> list[float]:
        return [row.metrics[m] if higher_is_better(m) else -row.metrics[m] for m in metrics]

    points = [oriented(r) for r in rows]
    return [row for row, p in zip(rows, points, strict=True)
            if not any(all(a >= b for a, b in zip(q, p, strict=True)) and q != p
                       for q in points)]


def sound_front(configs: Sequence[ConfigResult], metrics: Sequence[str]) -> list[ConfigResult]:
    """The Pareto front of the configurations none of whose seeds collapsed (all of them when
    every one did): otherwise BERTopic fits of 2 to 3 topics of 30 asked sit on the front by the
    NPMI of a few broad topics. Rows of earlier settings (`replaced`) are never on it."""
    current = [c for c in configs if not c.replaced]
    sound = [c for c in current if not collapsed(c)]
    return pareto_front(sound or current, metrics)


def default_folder(experiment: str) -> Path:
    """Where `tuner report EXPERIMENT` writes without --out: one folder below reports/, however
    the name was spelt, or an experiment named over `tuner serve`'s API as "../../x" or "/tmp/x"
    writes its report there. A name the folder cannot spell as it is gets a digest of the exact
    name, or "team a" and "team_a" write one folder, each report over the other's."""
    name = artifact_folder_name(experiment)
    if name != experiment:
        name += "-" + hashlib.sha256(experiment.encode()).hexdigest()[:8]
    return Path("reports") / name


def write_report(tracking_uri: str, experiment: str, out: Path,
                 metric: str | None = None) -> WrittenReport:
    """Write report.html, the plots and param_importance.json into `out`, and log them to the
    latest sweep run.

    Raises:
        TunerError: the experiment, its sweep run or its finished trials are missing.
    """
    return write_report_with(MlflowTracker(tracking_uri, existing=True), experiment, out, metric)


def write_report_with(tracker: Tracker, experiment: str, out: Path,
                      metric: str | None = None) -> WrittenReport:
    """`write_report` through any tracker."""
    sweeps = tracker.sweep_runs(experiment)
    if not sweeps:
        raise TunerError(f"experiment '{experiment}': has no sweep run (tag tuner.role=sweep); "
                         "was it written by `tuner run`?")
    everything = tracker.finished_trials(experiment)
    context = newest_context(sweeps, ranked(everything))
    trials = on_data(everything, context)
    sweep = _report_sweep(sweeps, context)
    declared = declared_swept(sweeps, context)
    asked = latest_asked(tracker, sweeps, context)
    failed = on_data(tracker.failed_trials(experiment), context)
    data = _report_data(tracker, experiment, trials, metric or ranking_metric(sweeps),
                        declared, len(everything) - len(trials), asked.keys, seeds_asked(sweeps),
                        latest_seeds(sweeps, context), _labels(tracker, sweep),
                        asked_unfinished(asked.keys, ranked(trials), failed, asked.shown),
                        latest_seed_list(sweeps, context))
    data = _with_failures(data, trials, failed, declared)
    warned = sweep_warnings(tracker, sweep)
    unended, other = unended_sweep(sweeps, context), other_code(sweeps, context)
    data = replace(data, warnings=[str(w) for w in warned.get("warnings", [])],
                   after=[str(w) for w in warned.get("after_trials", [])], unended=unended,
                   other_code=other, preprocessing=changed_preprocessing(sweep.params),
                   labels=labels_said(sweep.params), embeddings=embeddings_said(sweep.params),
                   earlier=earlier_sweeps(sweeps, everything, context, data.metric))
    out.mkdir(parents=True, exist_ok=True)
    plots = _plots(data, out)
    language = _words_language(sweep, [c.best_trial(data.metric) for c in data.top],
                               data.topics.values())
    font = font_for(language)
    with warnings.catch_warnings(record=True) as caught:
        # matplotlib warns once per character its font lacks: 374 lines on a Chinese sweep's
        # report where no font draws Chinese; said once instead
        warnings.filterwarnings("always", "Glyph", UserWarning)
        plots += _topic_plot(data, out, font) + _trend_plots(data, out, font)
    boxed = _drawn_as_boxes(caught)
    importance_file = _write_importance(data, out / IMPORTANCE_FILE)
    page = out / "report.html"
    page.write_text(render_page(data, plots, _font_warning(language, font), language),
                    encoding="utf-8")
    # a report by another metric than the sweep's goes beside its own, not over it: `--metric
    # npmi` replaced an ARI sweep's report.html and param_importance.json (report audit of
    # 2026-12-05)
    own = data.metric == sweep.tags.get(RANKING_TAG, data.metric)
    folder = "report" if own else f"report-by-{data.metric}"
    for written in (page, *plots, importance_file):  # not the folder, which may hold files
        # an earlier report of another experiment or sweep wrote there
        tracker.log_report(sweep.run_id, written, folder)
    if own:
        tracker.log_report(sweep.run_id, importance_file)
    return WrittenReport(page, plots, sum(c.seeds for c in data.ranked), len(data.ranked),
                         [c.name for c in data.front], sweep.run_id,
                         {model: f.shares for model, f in data.importance.items()}, language,
                         font, data.failed, unended, other, boxed)


def _report_sweep(sweeps: Sequence[SweepRun], context: str | None) -> SweepRun:
    """The sweep a report belongs to (and reads its language from): the newest on the ranked
    data that `tuner run` made, else the newest on that data, else the newest `tuner run` made;
    a `tuner score --log` run stands for one scored model only, and records no language
    (a report that took its language from one draws Chinese words in a Latin font)."""
    on_data = [s for s in sweeps if s.tags.get(CONTEXT_TAG) == context]
    ran = [s for s in sweeps if s.ran_trials]
    return next((s for s in on_data if s in ran), None) or next(iter(on_data), None) \
        or next(iter(ran), sweeps[0])


def _with_failures(data: ReportData, finished: list[FinishedTrial],
                   failed: list[FinishedTrial], declared: Mapping[str, Sequence[str]]
                   ) -> ReportData:
    """The report's data with the trials that failed on its data and have not finished since
    (each configuration and seed once, by its latest failed run: a retried trial's attempts are
    one trial), and the configurations none of whose seeds finished, pruned ones included.
    Configurations are matched as the leaderboard shows them, so one that failed under older
    code and finished after an upgrade is neither."""
    latest: dict[tuple[str, int | None], FinishedTrial] = {}
    for trial in sorted(failed, key=lambda t: t.start_time or 0):
        latest[shown_as(trial), trial.seed] = trial
    done = {(shown_as(t), t.seed) for t in finished}
    failing = [t for seeded, t in latest.items() if seeded not in done]
    shown = {shown_as(t) for t in finished}
    unfinished = [t for t in failing if shown_as(t) not in shown]
    rows = [c for c in aggregate_seeds([*finished, *unfinished], declared)
            if all(t.status == "FAILED" for t in c.trials)] if unfinished else []
    return replace(data, failed=len(failing), unfinished=rows)


def _report_data(tracker: Tracker, experiment: str, trials: list[FinishedTrial],
                 metric: str | None, declared: Mapping[str, Sequence[str]],
                 on_older_data: int = 0, asked: Collection[str] = frozenset(),
                 sweep_seeds: Mapping[str, int] | None = None,
                 asked_seeds: int = 0, labels: Mapping[str, str] | None = None,
                 unfinished: Collection[str] = frozenset(),
                 latest: frozenset[int] | None = None) -> ReportData:
    # once over every ranked run, so each configuration counts the runs made otherwise that it
    # stands for (the board's superseded note; the report left it out)
    standing = aggregate_seeds(ranked(trials), declared, asked, sweep_seeds, asked_seeds,
                               unfinished)
    full = [t for config in standing for t in config.trials]
    metric = metric or ("ari" if full and all("ari" in t.metrics for t in full) else "npmi")
    configs = with_earlier_seeds(rank_configs(standing, metric), latest, asked)
    if not configs:
        logged = sorted({m for t in full for m in t.metrics})
        older = (f"; {on_older_data} finished trials were judged on data that has changed "
                 "since (texts, labels, preprocessing or metric settings) and are not ranked"
                 if on_older_data else "")
        if not full:  # "logged: none" would leave a user to guess
            raise TunerError(f"experiment '{experiment}': no trial has finished on the data of "
                             "its latest sweep (every trial failed, or the sweep was stopped): "
                             "each trial run's tuner.error tag in MLflow (`tuner ui`) says why"
                             f"{older}")
        raise TunerError(f"experiment '{experiment}': no finished trial has metric '{metric}'; "
                         f"logged: {', '.join(logged)}{older}")
    objectives = [m for m in PARETO_METRICS if all(m in c.metrics for c in configs)]
    best = [c.best_trial(metric) for c in shown_configs(configs)]
    return ReportData(experiment, metric, configs, sound_front(configs, objectives), objectives,
                      model_importances(full, metric),
                      {t.run_id: tracker.topics(t.run_id) for t in best}, pruned_by_rung(trials),
                      **_findings(tracker, [t.run_id for t in best], labels or {}))


def _labels(tracker: Tracker, sweep: SweepRun) -> dict[str, str]:
    """Document id -> label, from the ground truth the report's sweep logged ({} when it
    logged none: no labels, or a sweep of a tuner before 2026-12-04)."""
    mapping = tracker.read_json(sweep.run_id, GROUND_TRUTH_FILE) or {}
    return {str(doc_id): str(label) for label, doc_ids in mapping.items()
            if isinstance(doc_ids, list) for doc_id in doc_ids}


def _findings(tracker: Tracker, run_ids: Sequence[str], labels: Mapping[str, str]
              ) -> dict[str, Any]:
    """ReportData's `extras`, `sizes` and `topic_labels` of the shown trials: each one's
    extras.json, how many documents it assigned to each topic (-1: to none) and which labels
    they carry, read together from its stored fit (its extras.json alone where
    assignments.csv is missing)."""
    extras: dict[str, Mapping[str, Any]] = {}
    sizes: dict[str, Mapping[int, int]] = {}
    topic_labels: dict[str, Mapping[int, Mapping[str, int]]] = {}
    for run_id in run_ids:
        fit = tracker.stored_fit(run_id, 0)
        extras[run_id] = dict(fit.extras) if fit else tracker.read_json(run_id, EXTRAS_FILE) or {}
        sizes[run_id] = dict(Counter(fit.assignments)) if fit else {}
        topic_labels[run_id] = labels_by_topic(fit.doc_ids, fit.assignments, labels) \
            if fit else {}
    return {"extras": extras, "sizes": sizes, "topic_labels": topic_labels}


def labels_by_topic(doc_ids: Sequence[str], assignments: Sequence[int],
                    labels: Mapping[str, str]) -> dict[int, dict[str, int]]:
    """Topic -> label -> how many of the topic's documents carry it; documents in no topic
    (BERTopic's outliers) under -1, so a label whose documents all went there is still a label
    of the corpus. Documents are matched by id, not position, as a trial skipped on a re-run
    was logged by an earlier sweep; those without a label, and a fit logged without ids, count
    nowhere."""
    if not doc_ids:
        return {}
    counts: dict[int, Counter[str]] = {}
    for doc_id, topic in zip(doc_ids, assignments, strict=True):
        label = labels.get(doc_id)
        if label is not None:
            counts.setdefault(max(topic, NO_TOPIC), Counter())[label] += 1
    return {topic: dict(found) for topic, found in counts.items()}


def pruned_by_rung(trials: list[FinishedTrial]) -> dict[str, dict[int, int]]:
    """Model -> budget units a pruned trial trained -> how many trials stopped there; each
    trial once, and none that a later run trained in full (they are ranked, or a sweep run again
    without its pruner counts them as "not ranked")."""
    counts: dict[str, dict[int, int]] = {}
    for trial in still_pruned(trials):
        if trial.budget_used is not None:
            rungs = counts.setdefault(trial.model, {})
            rungs[int(trial.budget_used)] = rungs.get(int(trial.budget_used), 0) + 1
    return counts


def _plots(data: ReportData, out: Path) -> list[Path]:
    plots = [plot_leaderboard(data.ranked, data.metric, out / "leaderboard.png"),
             plot_pareto(data.ranked, data.front, data.objectives, out / "pareto.png")]
    for model, configs in by_model(data.ranked).items():
        if configs[0].swept:
            plots.append(plot_swept(model, configs, data.metric, log_scaled(model),
                                    out / plot_name("params", model)))
        if model in data.importance:
            found = data.importance[model]
            plots.append(plot_importance(model, found.shares, data.metric, found.method,
                                         out / plot_name("importance", model),
                                         noise=found.noise is not None))
    return plots


def _topic_plot(data: ReportData, out: Path, font: str | None) -> list[Path]:
    shown = {}
    for config in data.top:
        trial = config.best_trial(data.metric)
        if data.topics.get(trial.run_id):  # a bare run name said neither model nor settings
            shown[f"{config.name}\n{trial.run_name}"] = data.topics[trial.run_id]
    return [plot_topic_words(shown, out / "topics.png", font)] if shown else []


def _trend_plots(data: ReportData, out: Path, font: str | None) -> list[Path]:
    """A trend plot per shown trial that logged its topics' shares over two or more time
    slices (DTM), named by its run (the page embeds it under that trial's words)."""
    plots = []
    for config in data.top:
        trial = config.best_trial(data.metric)
        shares = topic_shares(data.extras.get(trial.run_id, {}))
        if len(shares) >= 2:
            plots.append(plot_topic_trends(config.name, shares, data.topics.get(trial.run_id, {}),
                                           out / plot_name("trends", trial.run_id), font))
    return plots


def _write_importance(data: ReportData, path: Path) -> Path:
    record = {"experiment": data.experiment, **importance_record(data.importance, data.metric)}
    path.write_text(json.dumps(record, indent=1), encoding="utf-8")
    return path


def _words_language(sweep: SweepRun, trials: Sequence[FinishedTrial],
                    topics: Iterable[Mapping[str, list[str]]] = ()) -> str:
    """zh when the sweep's dataset or a shown trial's own `language` parameter (THETA) is zh,
    or a shown topic word holds a Han character: otherwise an `en` sweep of a partly Chinese
    corpus draws its Chinese words as boxes."""
    languages = {sweep.params.get("language", "en")}
    languages |= {str(t.params["language"]) for t in trials if "language" in t.params}
    words = (word for found in topics for topic in found.values() for word in topic)
    return "zh" if "zh" in languages or any(map(HAN_CHARACTER.search, words)) else "en"


MISSING_GLYPH = re.compile(r"Glyph (\d+) .*missing from")
BOXES_SHOWN = 10


def _drawn_as_boxes(caught: list[warnings.WarningMessage]) -> tuple[str, ...]:
    """The characters matplotlib warned it had no glyph for; any other warning is shown."""
    boxed = set()
    for warning in caught:
        found = MISSING_GLYPH.search(str(warning.message))
        if found:
            boxed.add(chr(int(found.group(1))))
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                   warning.lineno)
    return tuple(sorted(boxed))


NO_CHINESE_FONT = ("no installed font draws Chinese, so topics.png shows its words as boxes: "
                   "install fonts-wqy-microhei or fonts-noto-cjk")


def drawing_warning(written: WrittenReport) -> str | None:
    """What `tuner report` says of a Chinese report drawn without a Chinese font, or of words
    with characters no font drew (None: every character was drawn)."""
    if written.language == "zh" and written.font is None:
        return NO_CHINESE_FONT
    if not written.boxed:
        return None
    shown = " ".join(written.boxed[:BOXES_SHOWN]) + (" ..." if len(written.boxed) > BOXES_SHOWN
                                                     else "")
    return (f"the report's plots draw {len(written.boxed)} character"
            f"{'s' * (len(written.boxed) != 1)} of the topic words as boxes, which no installed "
            f"font has: {shown}")


def _font_warning(language: str, font: str | None) -> str:
    if language != "zh" or font is not None:
        return ""
    return f"<p>{NO_CHINESE_FONT[0].upper()}{NO_CHINESE_FONT[1:]}.</p>"
