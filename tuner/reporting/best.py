"""`tuner best`: the best configuration of an experiment as a grid JSON that re-runs exactly it.

Configurations are ranked by the mean of the metric over their seeds (as the leaderboard ranks
them); the grid carries every seed the configuration ran with. The dataset, ground truth,
embedding (for a model that reads one), preprocessing and time limit are those the sweep recorded
when it started (its `sweep_settings.json`). A sweep logged before tuner recorded them is
rebuilt from its grid file (the sweep run's tag `tuner.grid`) as it is now, with a warning, and
from the sweep run's params when that file is gone. The model, its full parameters, the seeds
and the metric settings come from the trials. Models scored with `tuner score` cannot be re-run
and are passed over.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuner.errors import TunerError
from tuner.grid_sections import MAX_EXPERIMENT
from tuner.metrics import METRICS
from tuner.reporting.health import counted
from tuner.reporting.leaderboard import (
    ALL_ROWS,
    ConfigResult,
    fixed_settings,
    format_mean_sd,
    latest_sweep,
    leaderboard,
    newest_context,
    on_data,
    other_code,
    reads_seed,
    recommended,
    resolved_null,
    same_fits,
    same_mean,
    sweep_warnings,
    unended_sweep,
    within_noise,
)
from tuner.tracking.records import SweepRun, ranked, ranking_metric
from tuner.tracking.tags import GRID_TAG, TRUTH_TAG

if TYPE_CHECKING:
    from tuner.params import Param
    from tuner.tracking.tracker import Tracker

log = logging.getLogger(__name__)


def _nothing_ranked(tracker: Tracker, experiment: str, sweeps: Sequence[SweepRun],
                    metric: str) -> str:
    """Why no configuration ranks by `metric`: none logged it (then the ones that can), or no
    trial finished at all (else it would suggest "ari" when nothing has been logged)."""
    from tuner.metrics import rankable_metrics

    finished = tracker.finished_trials(experiment)
    if not any(t.metrics for t in finished):
        return ("no trial has finished (its sweeps were interrupted or cancelled, or every "
                "trial failed): there is no configuration to choose")
    runnable = ranked(finished)
    current = on_data(runnable, newest_context(sweeps, runnable))
    if not current:  # else the message below offers the very metric asked for
        return (f"no trial has finished on the data of its latest sweep (every trial failed, or "
                f"the sweep was stopped); {counted(len(finished), 'finished trial')} "
                "judged on data that has changed since (the corpus, labels, preprocessing or "
                f"metric settings) {'is' if len(finished) == 1 else 'are'} not ranked: `tuner "
                "run` of the grid ranks the current data")
    logged = {m for t in current for m in t.metrics}
    rankable = [m for m in rankable_metrics() if m in logged]
    return (f"no finished trial has metric '{metric}'; rank by one that was logged: "
            f"{', '.join(rankable) or ', '.join(sorted(logged))}")


def best_grid(tracking_uri: str, experiment: str, metric: str | None = None,
              rename: str | None = None, say: Callable[[str], None] | None = None
              ) -> dict[str, Any]:
    """The grid JSON (as a dict) of the configuration with the best mean `metric` (default:
    what the experiment's latest sweep ranked by, else ari); `say` gets what the choice rests
    on (the labels, for a metric that compares with them).

    Raises:
        TunerError: unknown experiment, or no finished trial logged `metric`.
    """
    from trainers import canonical_name
    from tuner.tracking.tracker import EMBEDDING_NAMED, SWEEP_SETTINGS_FILE, MlflowTracker

    tracker = MlflowTracker(tracking_uri, existing=True)
    sweeps = tracker.sweep_runs(experiment)
    metric = metric or ranking_metric(sweeps) or "ari"
    board = leaderboard(tracker, experiment, metric, ALL_ROWS)
    if not board:
        why = _nothing_ranked(tracker, experiment, sweeps, metric)
        raise TunerError(f"experiment '{experiment}': {why}")
    runnable = [config for config in board if canonical_name(config.model) is not None]
    if canonical_name(board[0].model) is None:
        log.warning("the best %s is %s, scored with `tuner score`: it cannot be re-run, so the "
                    "best configuration tuner can run is given", metric, board[0].model)
    if not runnable:
        raise TunerError(f"experiment '{experiment}': every configuration with '{metric}' was "
                         "scored with `tuner score`; there is no model for a grid to re-run")
    best = _chosen(runnable, metric)
    if say is not None:  # what was chosen, and its run (report audit of 2026-12-05: neither)
        # its label names what the experiment varies; a model with one row varies nothing, and
        # "(its defaults)" was said of num_topics=8 clustering=kmeans (audit on headlines)
        described = " ".join(filter(None, [best.label, *fixed_settings([best])]))
        say(f"chosen: {best.model} {described or '(its defaults)'}, {metric} "
            f"{format_mean_sd(best, metric)} over {best.seeds_of(metric)} seeds (best run "
            f"{best.best_trial(metric).run_name})")
    if say is not None and metric in METRICS and METRICS[metric].needs == "ground_truth":
        # "best" read as "matches the continents" on UN speeches (new-user audit of 2026-12-05)
        say(f"best by {metric}: the fit that agrees most with the experiment's labels; if they "
            "are not topics (a region, a source, a year), rank by topic quality with --metric "
            "npmi")
    context = best.best_trial(metric).context
    if say is not None and (thin := _thin_npmi_said(tracker, sweeps, context, metric)):
        say(thin)
    for said in (unended_sweep(sweeps, context), other_code(sweeps, context), _thread_note(best),
                 _better_earlier(tracker, experiment, sweeps, context, best, metric)):
        if said:
            log.warning("%s", said)
    parent_id = best.best_trial(metric).parent_run_id
    parent = next((r for r in sweeps if r.run_id == parent_id), None)
    if parent is None:
        raise TunerError("the best trial has no sweep run (tag mlflow.parentRunId); was it "
                         "written by `tuner run`?")
    recorded = tracker.read_json(parent.run_id, SWEEP_SETTINGS_FILE)
    named = recorded.pop(EMBEDDING_NAMED, True) if recorded is not None else True
    grid = _as_embedded(dict(recorded) if recorded is not None else _base_grid(parent),
                        parent.params)
    grid |= _config_fields(best)
    grid["dataset"] = _read_fields(dict(grid.get("dataset") or {}), best.model)
    if not _reads_embeddings(best.model):  # else ETM's grid prints a MiniLM section it never reads
        grid.pop("embedding", None)
    elif not named and isinstance(grid.get("embedding"), dict):
        # the sweep's grid named no model: THETA embedded with its own default (Qwen3 of its
        # model_size), which a recorded model would override
        grid["embedding"] = {k: v for k, v in grid["embedding"].items() if k != "model"}
    else:
        _drop_unused_model_size(grid, best.model)
    suffix = f"-best-{metric}"  # the name stays within a grid's 200 characters
    grid["experiment"] = rename or f"{experiment[:MAX_EXPERIMENT - len(suffix)]}{suffix}"
    grid["leaderboard_metric"] = metric
    return grid


def _better_earlier(tracker: Tracker, experiment: str, sweeps: Sequence[SweepRun],
                    context: str | None, best: ConfigResult, metric: str) -> str | None:
    """An earlier sweep of the experiment, on other data or settings, whose best configuration
    scored better: a sweep run again with stop words added can pick a worse setup than the one
    before it, which only `tuner report`, showing both, would otherwise say."""
    from tuner.metrics import higher_is_better
    from tuner.reporting.earlier import earlier_sweeps, scored_alike

    latest = latest_sweep(sweeps, context)
    if metric not in best.metrics or latest is None:
        return None
    sign = 1 if higher_is_better(metric) else -1
    better = [e for e in earlier_sweeps(sweeps, ranked(tracker.finished_trials(experiment)),
                                        context, metric)
              if metric in e.best.metrics and e.run is not None
              and scored_alike(e.run, latest, metric)
              and sign * (e.best.metrics[metric] - best.metrics[metric]) > 0]
    if not better:
        return None
    top = max(better, key=lambda e: sign * e.best.metrics[metric])
    settings = "; ".join(top.preprocessing) or "the default preprocessing"
    return (f"an earlier sweep of '{experiment}' on other data or settings ({settings}) reached "
            f"{metric} {top.best.metrics[metric]:.4f} with {top.best.name}, above this pick's "
            f"{best.metrics[metric]:.4f} on the latest sweep's data: this grid re-runs the "
            "latest sweep's data and settings (`tuner report` sets the two side by side)")


def _thread_note(best: ConfigResult) -> str | None:
    """How to repeat the chosen fits exactly: a neural or STM fit moves with its thread count,
    which its key holds, so the grid re-run on another count fits it anew, to other figures."""
    from trainers import canonical_name, load_trainer

    name = canonical_name(best.model)
    counts = sorted({t.threads for t in best.trials if t.threads})
    if name is None or not load_trainer(name).thread_sensitive or len(counts) != 1:
        return None
    plural = "s" * (counts[0] != 1)
    return (f"{best.model}'s fits ran on {counts[0]} thread{plural} per worker, and a fit of "
            f"{best.model} moves with its thread count: run the grid with "
            f"--threads-per-worker {counts[0]} to repeat them exactly (on another count it "
            "fits them again)")


def _unjudged_lead(board: list[ConfigResult], best: ConfigResult, metric: str) -> str | None:
    """What `tuner best` says of a pick of one seed over a runner-up of one seed: no sd tells
    whether its lead is more than seed noise (THETA's ARI 0.0925 over BERTopic's 0.0924 would
    otherwise be picked in silence)."""
    others = [c for c in board[board.index(best) + 1:] if metric in c.metrics]
    if not others or metric not in best.metrics or best.seeds != 1 or others[0].seeds != 1 \
            or same_mean(others[0].metrics[metric], best.metrics[metric]):  # a tie: said as one
        return None
    runner_up = others[0]
    if not reads_seed(best.trials[0]) and not reads_seed(runner_up.trials[0]):
        return None  # both fits read no seed (STM's spectral start): more seeds repeat them
    return (f"{best.name} ({metric} {best.metrics[metric]:.4g}) and the next, {runner_up.name} "
            f"({runner_up.metrics[metric]:.4g}), ran one seed each: nothing tells whether a lead "
            "of this size is more than seed noise; run them with more seeds to know")


def _drop_unused_model_size(grid: dict[str, Any], model: str) -> None:
    """THETA's default model_size beside the embedding model the grid names: it picks no model
    there, and `tuner validate` would warn of the grid `tuner best` writes. Only the default
    goes: it is what the re-run resolves to, so the trial is the same; another value was the
    user's, warning included."""
    from trainers import load_trainer

    declared = load_trainer(model).params.get("model_size")
    params = grid.get("params") or {}
    if declared is not None and isinstance(grid.get("embedding"), dict) \
            and grid["embedding"].get("model") and params.get("model_size") == declared.default:
        del params["model_size"]


def _thin_npmi_said(tracker: Tracker, sweeps: Sequence[SweepRun], context: str | None,
                    metric: str) -> str | None:
    """For a choice by NPMI, the sweep's warning that its corpus was too thin to rank models
    by NPMI, if it gave one: the warning stayed in the run's output while `tuner best --metric
    npmi` named a model, whose lead a 10,000-headline reference took away (audit on headlines)."""
    sweep = latest_sweep(sweeps, context)
    if metric != "npmi" or sweep is None:
        return None
    from tuner.engine.advice import THIN_NPMI_SAID

    warned = sweep_warnings(tracker, sweep)
    thin = next((str(w) for w in warned.get("warnings", []) if THIN_NPMI_SAID in str(w)), None)
    if thin is None:
        return None
    said = thin[thin.index(THIN_NPMI_SAID):].split("; rank by")[0]
    labelled = sweep.tags.get(TRUTH_TAG, "none") != "none"
    return (f"best by npmi on thin counts: {said}; "
            + ("check the choice by ari or nmi, or score" if labelled else "score")
            + " its topics against a larger corpus of such texts with `tuner score`")


def _chosen(board: list[ConfigResult], metric: str) -> ConfigResult:
    """The recommended configuration (leaderboard.recommended), saying on stderr which better
    ranked ones it passed over, and why, and what its own fits' figures say."""
    best = recommended(board)
    if best is None:
        raise TunerError("every configuration on the board shows runs made with earlier "
                         "settings: the latest sweep asked for them as its grid is now, and none "
                         "of those trials finished (see their errors in `tuner report`, fix "
                         "them; or finish the sweep they were stopped in) and run the sweep "
                         "again")
    passed = board[:board.index(best)]
    stale = [c for c in passed if c.replaced]
    if stale:
        log.warning("passed over %s: %s, whose runs were made with earlier settings (the latest "
                    "sweep asked for them as its grid is now, and none of those trials finished)",
                    counted(len(stale), "better ranked configuration"),
                    "; ".join(f"{c.name} ({metric} {c.metrics[metric]:.3f})" for c in stale[:3]))
    lumpy = [c for c in passed if not c.replaced]
    if lumpy:
        log.warning("passed over %s: %s, whose fits collapsed (%s): their scores mean little",
                    counted(len(lumpy), "better ranked configuration"),
                    "; ".join(f"{c.name} ({metric} {c.metrics[metric]:.3f})" for c in lumpy[:3]),
                    "; ".join(x.detail for c in lumpy[:3] for x in c.concerns
                              if x.kind == "collapsed"))
    if not passed and best.notes:
        log.warning("%s's fits are marked: %s (see the report's notes)", best.name, best.notes)
    alike = [c for c in board if c is not best and not c.replaced and same_fits(c, best)]
    if alike:
        log.warning("%s gave the same fits as %s, seed for seed: what sets %s settings apart "
                    "changed nothing here", "; ".join(c.name for c in alike[:3]), best.name,
                    "its" if len(alike) == 1 else "their")
    tied = within_noise(board, best, metric)
    unjudged = _unjudged_lead(board, best, metric)
    if unjudged:
        log.warning("%s", unjudged)
    if tied:
        log.warning("%s (%s %s) is within seed noise of %s: %s; these seeds do not settle which "
                    "is best, more seeds would", best.name, metric, format_mean_sd(best, metric),
                    counted(len(tied), "other configuration"),
                    "; ".join(f"{c.name} ({format_mean_sd(c, metric)})" for c in tied[:3])
                    + (f"; and {len(tied) - 3} more" if len(tied) > 3 else ""))
    return best


def _base_grid(sweep: SweepRun) -> dict[str, Any]:
    """For a sweep that recorded no settings: its grid file as it is now, and its params."""
    grid_path, sweep_params = sweep.tags.get(GRID_TAG), sweep.params
    raw: dict[str, Any] = {}
    if grid_path and Path(grid_path).is_file():
        log.warning("sweep %s recorded no settings (it predates tuner recording them): the "
                    "dataset fields, embedding and preprocessing are read from %s as it is now",
                    sweep.run_id, grid_path)
        raw = json.loads(Path(grid_path).read_text(encoding="utf-8"))
    truth = sweep_params.get("ground_truth", "")
    dataset = dict(raw.get("dataset") or {})
    # the language the sweep tokenised in, whether its grid set it or it was detected
    dataset.setdefault("language", sweep_params.get("language", "en"))
    dataset["path"] = sweep_params["dataset"]  # the resolved, absolute path the sweep used
    if truth.startswith("label_field:"):
        dataset["label_field"] = truth.removeprefix("label_field:")
    grid = {k: v for k, v in raw.items()
            if k in ("embedding", "preprocessing", "timeout_s")}
    grid["dataset"] = dataset
    grid["ground_truth"] = None if truth.startswith("label_field:") or not truth else truth
    if "embedding" not in grid and "embedding_model" in sweep_params:
        grid["embedding"] = {"model": sweep_params["embedding_model"],
                             "pooling": sweep_params.get("pooling", "mean"),
                             "max_length": int(sweep_params.get("max_length", 256))}
    return grid


def _as_embedded(grid: dict[str, Any], sweep_params: Mapping[str, str]) -> dict[str, Any]:
    """The embedding's `long_documents` as the sweep embedded: what auto chose (logged on the
    sweep run beside its model), so that a later rule for auto cannot embed the re-run
    otherwise; a sweep that recorded none ran before the choice existed,
    when every document was embedded by its start."""
    embedding = grid.get("embedding")
    if not isinstance(embedding, dict):
        return grid
    if "long_documents" not in embedding:
        grid["embedding"] = {**embedding, "long_documents": "start"}
    elif embedding["long_documents"] == "auto":
        chosen = _chosen_long_documents(str(embedding.get("model")), sweep_params)
        grid["embedding"] = {**embedding, "long_documents": chosen or "auto"}
    return grid


def _chosen_long_documents(model: str, sweep_params: Mapping[str, str]) -> str | None:
    """What the sweep logged for `model`'s embedding (`long_documents`, `long_documents_1` ...
    beside `embedding_model`, `embedding_model_1` ...)."""
    from tuner.data.embeddings import MINILM_IDS

    names = set(MINILM_IDS) if model in MINILM_IDS else {model}
    for name, value in sweep_params.items():
        if name.startswith("embedding_model") and value in names:
            chosen = sweep_params.get(name.replace("embedding_model", "long_documents", 1))
            if chosen in ("start", "chunks"):
                return chosen
    return None


def _reads_embeddings(model: str) -> bool:
    from trainers import load_trainer

    return "embeddings" in load_trainer(model).requires


def _read_fields(dataset: dict[str, Any], model: str) -> dict[str, Any]:
    """The dataset section without the fields the best model does not read: covariates beside
    BERTopic, or a timestamp field beside STM, would make its re-run warn that no model reads
    them."""
    from trainers import fit_inputs

    reads = fit_inputs(model)
    if "covariates" not in reads:
        dataset.pop("covariates", None)
    if "timestamps" not in reads and dataset.get("timestamp_field"):
        dataset["timestamp_field"] = None
    return dataset


def _as_a_grid_may_ask(params: dict[str, Any], vocab: Param | None) -> None:
    """A trial's vocab_size says the words the preprocessing left, when the grid asked for
    more (sweep's _every_word_as_its_count): on a small corpus that can be below what a grid
    may ask for (788, where `tuner best` would print a grid `validate` refuses). The lowest size
    a grid may ask for leaves the same words, so the same trials."""
    size, low = params.get("vocab_size"), vocab.constraint.bounds[0] if vocab else None
    if isinstance(size, int) and low is not None and size < low:
        params["vocab_size"] = int(low)


def _config_fields(config: ConfigResult) -> dict[str, Any]:
    from trainers import load_trainer

    trainer = load_trainer(config.model)
    declared, own_seed = set(trainer.params.names), trainer.seed_param
    trial = config.trials[0]
    seeds = sorted({t.seed for t in config.trials if t.seed is not None})
    # a value that follows another (alpha 1/K, min_samples = min_cluster_size) as null, so
    # that a grid edited to try another K or cluster size does not keep the old one; null
    # resolves to it, so the grid re-runs the same trials
    params = {k: None if resolved_null(trial, k, v) else v for k, v in trial.params.items()
              if k in declared and k != own_seed}
    _as_a_grid_may_ask(params, trainer.params.get("vocab_size"))
    if own_seed is not None and any(t.params.get(own_seed) != t.seed for t in config.trials):
        # The grid set the model's own seed (a list of it is the configuration's seeds): all
        # its values. Else it followed each trial's seed: a value would fix every seed to one
        # (BERTopic's random_state 42 gives both seeds seed 42's UMAP).
        values = sorted({t.params[own_seed] for t in config.trials if own_seed in t.params})
        if values:  # runs that logged it (every run tuner logs does)
            params[own_seed] = values if len(values) > 1 else values[0]
    return {"models": [config.model], "params": params, "seeds": seeds,
            "metrics": dict(trial.metric_settings)}
