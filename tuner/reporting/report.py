"""`tuner report`: an HTML page and PNG plots of one experiment's finished trials, also logged as
artifacts (under `report/`) of the experiment's latest sweep run."""

from __future__ import annotations

import html
import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuner.errors import TunerError
from tuner.metrics import higher_is_better

PARETO_METRICS = ("npmi", "diversity", "ari")
TABLE_METRICS = ("npmi", "diversity", "ari", "f1", "fit_seconds")
TOP_TRIALS = 3  # trials whose topics the report lists


@dataclass(frozen=True)
class TrialRow:
    run_id: str
    run_name: str
    model: str
    params: dict[str, str]
    metrics: dict[str, float]


@dataclass(frozen=True)
class WrittenReport:
    html: Path
    plots: list[Path]
    trials: int
    pareto: list[str]  # run names on the Pareto front
    parent_run_id: str
    language: str = "en"  # the language the topic words are drawn in
    font: str | None = None  # the font that draws them (None: matplotlib's default)


def pareto_front(rows: Sequence[TrialRow], metrics: Sequence[str]) -> list[TrialRow]:
    """Rows no other row dominates: at least as good on every metric and better on one."""
    def oriented(row: TrialRow) -> list[float]:
        return [row.metrics[m] if higher_is_better(m) else -row.metrics[m] for m in metrics]

    points = [oriented(r) for r in rows]
    return [row for row, p in zip(rows, points, strict=True)
            if not any(all(a >= b for a, b in zip(q, p, strict=True)) and q != p
                       for q in points)]


def swept_params(rows: Sequence[TrialRow]) -> list[str]:
    """Parameters whose value differs between trials (the seed included)."""
    names = sorted({k for r in rows for k in r.params})
    return [n for n in names if len({r.params.get(n) for r in rows}) > 1]


def write_report(tracking_uri: str, experiment: str, out: Path,
                 metric: str | None = None) -> WrittenReport:
    """Write report.html and the plots into `out`, and log them to the latest sweep run.

    Raises:
        TunerError: the experiment, its sweep run or its finished trials are missing.
    """
    from mlflow.tracking import MlflowClient

    from tuner.reporting.fonts import font_for
    from tuner.reporting.plots import (
        plot_leaderboard,
        plot_params,
        plot_pareto,
        plot_topic_words,
    )

    client = MlflowClient(tracking_uri=tracking_uri)
    experiment_id, parent_id, rows = _load(client, tracking_uri, experiment)
    metric = metric or ("ari" if all("ari" in r.metrics for r in rows) else "npmi")
    ranked = _ranked(rows, metric, experiment)
    objectives = [m for m in PARETO_METRICS if all(m in r.metrics for r in ranked)]
    front = pareto_front(ranked, objectives)
    out.mkdir(parents=True, exist_ok=True)
    plots = [plot_leaderboard(ranked, metric, out / "leaderboard.png"),
             plot_pareto(ranked, front, objectives, out / "pareto.png"),
             plot_params(ranked, swept_params(ranked), metric, out / "params.png")]
    topics = {r.run_id: _topics(client, r.run_id) for r in ranked[:TOP_TRIALS]}
    language = _words_language(client, parent_id, ranked[:TOP_TRIALS])
    font = font_for(language)
    shown = {r.run_name: topics[r.run_id] for r in ranked[:TOP_TRIALS] if topics[r.run_id]}
    if shown:
        plots.append(plot_topic_words(shown, out / "topics.png", font))
    page = out / "report.html"
    page.write_text(_html(experiment, metric, ranked, front, objectives, plots, topics,
                          _font_warning(language, font)), encoding="utf-8")
    client.log_artifacts(parent_id, str(out), artifact_path="report")
    return WrittenReport(page, plots, len(ranked), [r.run_name for r in front], parent_id,
                         language, font)


def _words_language(client: Any, parent_id: str, rows: Sequence[TrialRow]) -> str:
    """zh when the sweep's dataset or a shown trial's own `language` parameter (THETA) is zh."""
    languages = {client.get_run(parent_id).data.params.get("language", "en")}
    languages |= {r.params["language"] for r in rows if "language" in r.params}
    return "zh" if "zh" in languages else "en"


def _font_warning(language: str, font: str | None) -> str:
    if language != "zh" or font is not None:
        return ""
    return ("<p>No installed font draws Chinese, so topics.png shows boxes: install "
            "fonts-wqy-microhei or fonts-noto-cjk.</p>")


def _load(client: Any, tracking_uri: str, experiment: str) -> tuple[str, str, list[TrialRow]]:
    from tuner.reporting.leaderboard import current_runs
    from tuner.tracking.tracker import MlflowTracker

    tracker = MlflowTracker(tracking_uri)
    experiment_id = tracker.experiment_id(experiment, create=False)
    if experiment_id is None:
        raise TunerError(f"experiment '{experiment}': not found in {tracking_uri}; "
                         "check the name and --tracking-uri")
    parents = client.search_runs([experiment_id], "tags.`tuner.role` = 'sweep'",
                                 order_by=["attributes.start_time DESC"], max_results=1)
    if not parents:
        raise TunerError(f"experiment '{experiment}': has no sweep run (tag tuner.role=sweep); "
                         "was it written by `tuner run`?")
    runs = current_runs(tracker.trial_runs(experiment_id, "attributes.status = 'FINISHED'"))
    rows = [TrialRow(r.info.run_id, r.info.run_name, r.data.tags.get("tuner.model", "?"),
                     dict(r.data.params), dict(r.data.metrics)) for r in runs]
    return experiment_id, parents[0].info.run_id, rows


def _ranked(rows: list[TrialRow], metric: str, experiment: str) -> list[TrialRow]:
    having = [r for r in rows if metric in r.metrics]
    if not having:
        logged = sorted({m for r in rows for m in r.metrics})
        raise TunerError(f"experiment '{experiment}': no finished trial has metric '{metric}'; "
                         f"logged: {', '.join(logged) or 'none'}")
    sign = -1.0 if higher_is_better(metric) else 1.0
    return sorted(having, key=lambda r: sign * r.metrics[metric])


def _topics(client: Any, run_id: str) -> dict[str, list[str]]:
    """The trial's topics.json artifact: topic index -> ranked words ({} when absent)."""
    with tempfile.TemporaryDirectory(prefix="tuner-report-") as folder:
        try:
            path = client.download_artifacts(run_id, "topics.json", folder)
        except Exception:  # an older or failed run without topics: the report says so
            return {}
        return dict(json.loads(Path(path).read_text(encoding="utf-8")))


def _html(experiment: str, metric: str, ranked: list[TrialRow], front: list[TrialRow],
          objectives: list[str], plots: list[Path], topics: dict[str, dict[str, list[str]]],
          note: str = "") -> str:
    esc = html.escape
    on_front = {r.run_id for r in front}
    swept = swept_params(ranked)
    head = "".join(f"<th>{esc(c)}</th>" for c in
                   ["#", "run", "model", *swept, *TABLE_METRICS, "Pareto"])
    body = []
    for rank, row in enumerate(ranked, start=1):
        cells = [str(rank), row.run_name, row.model, *(row.params.get(p, "") for p in swept),
                 *(f"{row.metrics[m]:.4f}" if m in row.metrics else "-" for m in TABLE_METRICS),
                 "yes" if row.run_id in on_front else ""]
        body.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in cells) + "</tr>")
    images = "".join(f'<h2>{esc(p.stem)}</h2><img src="{esc(p.name)}" alt="{esc(p.stem)}">'
                     for p in plots)
    words = "".join(_topics_html(row, topics.get(row.run_id, {})) for row in ranked[:TOP_TRIALS]
                    if row.run_id in topics)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>tuner report: "
            f"{esc(experiment)}</title><style>{_CSS}</style></head><body>"
            f"<h1>Experiment {esc(experiment)}</h1><p>{len(ranked)} finished trials ranked by "
            f"<b>{esc(metric)}</b>; Pareto front over {esc(' x '.join(objectives))}: "
            f"{len(front)} trials.</p><table><tr>{head}</tr>{''.join(body)}</table>"
            f"{note}{images}<h2>Top words of the best trials</h2>{words}</body></html>")


def _topics_html(row: TrialRow, topics: dict[str, list[str]]) -> str:
    esc = html.escape
    if not topics:
        return f"<h3>{esc(row.run_name)}</h3><p>no topics.json artifact</p>"
    items = "".join(f"<li>{esc(' '.join(words[:10]))}</li>" for _, words in
                    sorted(topics.items(), key=lambda kv: int(kv[0])))
    return f"<h3>{esc(row.run_name)} ({esc(row.model)})</h3><ol start='0'>{items}</ol>"


_CSS = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}img{max-width:900px}")
