"""What the tracker reads back: one FinishedTrial per finished trial run, one SweepRun per sweep.

Every reader (leaderboard, report, plots, best, flow) uses these records, never raw MLflow runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tuner.params import RUN_PARAMS, Param
from tuner.tracking.tags import (
    CONFIG_KEY_TAG,
    CONTEXT_TAG,
    ERROR_TYPE_TAG,
    MODEL_TAG,
    RANKING_TAG,
    REFUSED_TAG,
    REVISION_TAG,
    SOURCE_TAG,
    STATUS_TAG,
    THREADS_TAG,
    TRIAL_KEY_TAG,
)

METRIC_SETTINGS = ("npmi_window", "topn", "diversity_topn", "npmi_reference")
CURVE_PREFIX = "curve/"  # a trial's learning curve: the metric "curve/<objective>" at each step
# A trial's and its sweep's short name for the data its scores were judged on (data_name), so
# MLflow's run tables and parallel-coordinates view tell apart runs of the same parameters on
# other labels, texts or preprocessing, whose scores do not compare.
DATA_PARAM = "data"
NOT_MODEL_PARAMS = RUN_PARAMS  # model, seed, DATA_PARAM and METRIC_SETTINGS


@dataclass(frozen=True)
class FinishedTrial:
    """A finished trial run of a current trainer revision, its parameters typed back (or, from
    `failed_trials`, a FAILED one: `status` says which, `error_type` why).

    `params` holds the model's parameters only (numbers as numbers, "null" as None); the seed and
    the metric settings have their own fields. Times are MLflow's, in ms since the epoch.
    """

    run_id: str
    run_name: str
    model: str
    params: Mapping[str, Any]
    seed: int | None
    metrics: Mapping[str, float]
    key: str | None = None
    revision: int | None = None
    status: str = "FINISHED"
    start_time: int | None = None
    end_time: int | None = None
    parent_run_id: str | None = None
    metric_settings: Mapping[str, int | str] = field(default_factory=dict)
    pruned: bool = False  # stopped by the sweep's pruner: counted, never ranked
    config_key: str | None = None  # shared by the seeds of one configuration (tuner.trial)
    context: str | None = None  # the data it was judged on (tuner.trial.data_context)
    error_type: str | None = None  # of a FAILED run: the error that stopped it
    threads: int = 0  # native threads the fit ran on (tag tuner.threads; 0: unknown)

    @property
    def budget_used(self) -> float | None:
        return self.metrics.get("budget_used")


@dataclass(frozen=True)
class PastCurve:
    """A finished trial's learning curve (its objective at each checkpoint), which a re-run's
    pruner replays, so that the trials the re-run trains compete with those it skips."""

    trial: FinishedTrial
    curve: tuple[tuple[int, float], ...]  # (step, value) by step


def one_run_a_trial(trials: Iterable[FinishedTrial]) -> list[FinishedTrial]:
    """One run per trial key, in the order of their first runs: the newest of its runs that ran
    in full, else its newest pruned one (a trial pruned, then trained in full by a sweep without
    a pruner, has both). Two sweeps of one experiment that the store let run at once (from two
    machines against one tracking server) each finish the same trial, whose two runs would
    otherwise count as two seeds of one configuration. Runs without a key (logged by other
    code) are all kept."""
    trials = list(trials)
    chosen: dict[str, FinishedTrial] = {}
    for trial in sorted(trials, key=lambda t: (not t.pruned, t.start_time or 0)):
        if trial.key is not None:
            chosen[trial.key] = trial  # later wins: full runs sort after pruned ones
    return [t for t in trials if t.key is None or chosen[t.key] is t]


def by_step(points: Iterable[tuple[int, float]]) -> tuple[tuple[int, float], ...]:
    """A metric's history as (step, value) by step, the last value logged at a step kept."""
    return tuple(sorted(dict(points).items()))


@dataclass(frozen=True)
class SweepRun:
    """A sweep's parent run: its params (dataset, language, ...) and tags (`tuner.grid`, ...)."""

    run_id: str
    run_name: str
    params: Mapping[str, str]
    tags: Mapping[str, str]
    start_time: int | None = None
    status: str = "FINISHED"  # MLflow's: RUNNING, FINISHED, FAILED or KILLED (interrupted)

    @property
    def ran_trials(self) -> bool:
        """Made by `tuner run` (or the service), not by `tuner score --log`, whose run stands
        for one model scored elsewhere and asks for no configuration, and not refused because
        another sweep ran (a run the store would not delete, tracker.discard_sweep)."""
        return self.tags.get(SOURCE_TAG) != SCORED and REFUSED_TAG not in self.tags


SCORED = "tuner score"  # a `tuner score --log` sweep run's tag


def code_identity(models: Iterable[str], language: str) -> dict[str, Any]:
    """What of tuner's own code a sweep's results depend on, besides the libraries its keys
    hold: the key format, the scoring code's revisions, the tokeniser of the corpus's language
    and each model's trainer revision. Logged on the sweep run, so that a ranking read after an
    upgrade can say its latest sweep was made by another version: otherwise an upgraded `tuner
    best` on an old store picks an old HDP score, and leaves out BERTopic, fixed since,
    unsaid."""
    from trainers import canonical_name, trainer_revision
    from tuner.data.store import key_digest
    from tuner.data.vocab import tokeniser_identity
    from tuner.trial import KEY_FORMAT, SCORING_REVISION, TRUTH_SCORING_REVISION

    return {"key_format": KEY_FORMAT, "scoring": [SCORING_REVISION, TRUTH_SCORING_REVISION],
            "language": language, "tokeniser": key_digest(tokeniser_identity(language)),
            "revisions": {m: trainer_revision(m) for m in sorted(models) if canonical_name(m)}}


def code_changes(recorded: Mapping[str, Any]) -> list[str]:
    """How this tuner's code differs from the `code_identity` a sweep recorded, in words."""
    then = recorded.get("revisions") or {}
    now = code_identity(then, str(recorded.get("language", "en")))
    changes = [f"{model}'s trainer revision {then[model]}, now {revision}"
               for model, revision in now["revisions"].items() if then[model] != revision]
    for part, said in (("key_format", "the trial key's format"), ("scoring", "the scoring code"),
                       ("tokeniser", "the tokeniser")):
        if recorded.get(part) != now[part]:
            changes.append(said)
    return changes


def ranking_metric(sweeps: Sequence[SweepRun]) -> str | None:
    """What the latest sweep of `tuner run` ranked by (newest first; a `tuner score` sweep has
    none): `tuner report` and `tuner best` rank by it unless told otherwise."""
    return next((s.tags[RANKING_TAG] for s in sweeps if RANKING_TAG in s.tags), None)


def parse_param(param: Param, text: str) -> Any:
    """An MLflow param string back to the schema's type ("null" -> None)."""
    if text == "null":
        return None
    if param.type is bool:
        return text == "True"
    return param.type(float(text)) if param.type is int and "." in text else param.type(text)


def guess_value(text: str) -> Any:
    """An MLflow param string of a parameter no schema declares: None, bool, int, float or str."""
    if text in ("null", "None"):
        return None
    if text in ("True", "False"):
        return text == "True"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def typed_params(schema: Mapping[str, Param], logged: Mapping[str, str]) -> dict[str, Any]:
    """The model parameters of a run, typed by `schema` where it declares them."""
    return {name: parse_param(schema[name], text) if name in schema else guess_value(text)
            for name, text in logged.items() if name not in NOT_MODEL_PARAMS}


@dataclass(frozen=True)
class StoredRun:
    """What any store keeps of one trial run, as MLflow keeps it (params as text): what the
    in-memory tracker and the MLflow tracker both hand to `current_trials`."""

    run_id: str
    run_name: str
    status: str
    tags: Mapping[str, str]
    params: Mapping[str, str]
    metrics: Mapping[str, float]
    start_time: int | None = None
    end_time: int | None = None


def stored_run(run: Any) -> StoredRun:
    """The fields of an `mlflow.entities.Run`."""
    return StoredRun(run.info.run_id, run.info.run_name or run.info.run_id, run.info.status,
                     dict(run.data.tags), dict(run.data.params), dict(run.data.metrics),
                     run.info.start_time, run.info.end_time)


def finished_trial(run: StoredRun, schema: Mapping[str, Param]) -> FinishedTrial:
    """The record of one trial run, its parameters typed by the model's `schema`."""
    tags, logged = run.tags, run.params
    revision = tags.get(REVISION_TAG)
    seed = logged.get("seed")
    return FinishedTrial(
        run_id=run.run_id, run_name=run.run_name, model=tags.get(MODEL_TAG, "?"),
        params=typed_params(schema, logged),
        seed=int(seed) if seed not in (None, "null") else None,
        metrics={k: v for k, v in run.metrics.items() if not k.startswith(CURVE_PREFIX)},
        key=tags.get(TRIAL_KEY_TAG), revision=int(revision) if revision else None,
        status=run.status, start_time=run.start_time, end_time=run.end_time,
        parent_run_id=tags.get("mlflow.parentRunId"),
        metric_settings=_metric_settings(logged),
        pruned=is_pruned(tags), config_key=tags.get(CONFIG_KEY_TAG),
        context=tags.get(CONTEXT_TAG), error_type=tags.get(ERROR_TYPE_TAG),
        threads=int(threads) if (threads := tags.get(THREADS_TAG, "")).isdigit() else 0)


def _metric_settings(logged: Mapping[str, str]) -> dict[str, int | str]:
    """The metric settings a run logged; a run from before `npmi_reference` existed was scored
    on its vocabulary's windows, so `tuner best` re-runs it that way."""
    settings: dict[str, int | str] = {k: int(logged[k]) if logged[k].isdigit() else logged[k]
                                      for k in METRIC_SETTINGS if k in logged}
    if settings and "npmi_reference" not in settings:
        settings["npmi_reference"] = "vocabulary"
    return settings


def richest_fits(runs: Iterable[tuple[str, Mapping[str, Any], str]]) -> dict[str, str]:
    """Fit key -> the run, of those given as (fit key, params, run id), that stored the most
    ranked words per topic: the one most scorings can re-read (else a fit stored with 5 words
    is fitted again for 10, beside a run of the same fit that kept 30)."""
    best: dict[str, tuple[int, str]] = {}
    for fit_key, params, run_id in runs:
        words = stored_words(params)
        if fit_key not in best or words > best[fit_key][0]:
            best[fit_key] = (words, run_id)
    return {key: run_id for key, (_, run_id) in best.items()}


def stored_words(params: Mapping[str, Any]) -> int:
    """How many ranked words per topic a trial run stored: its topn or diversity_topn."""
    try:
        return max(int(params.get("topn", 0)), int(params.get("diversity_topn", 0)))
    except (TypeError, ValueError):
        return 0


def sweep_run(run: Any) -> SweepRun:
    """The record of one MLflow sweep (parent) run."""
    return SweepRun(run.info.run_id, run.info.run_name or run.info.run_id, dict(run.data.params),
                    dict(run.data.tags), run.info.start_time, run.info.status)


@dataclass(frozen=True)
class _TrainerFacts:
    schema: Mapping[str, Param]
    revision: int | None  # the trainer's latest; None: every logged run is current


def current_trials(runs: Iterable[StoredRun]) -> list[FinishedTrial]:
    """Records of the runs not superseded: a run made before its trainer's latest
    result-changing fix (tag `tuner.revision` older than the trainer's `revision`, or absent)
    stays in the store but leaves the rankings, which the re-run with the fixed trainer takes
    over. A model no registry knows (a plug-in not loaded) keeps all its runs."""
    facts: dict[str, _TrainerFacts] = {}
    trials = []
    for run in runs:
        model = run.tags.get(MODEL_TAG, "")
        if model not in facts:
            facts[model] = _trainer_facts(model)
        trial = finished_trial(run, facts[model].schema)
        wanted = facts[model].revision
        if wanted is None or (trial.revision is not None and trial.revision >= wanted):
            trials.append(trial)
    return trials


def _trainer_facts(model: str) -> _TrainerFacts:
    from trainers import canonical_name, trainer_revision

    if not model or canonical_name(model) is None:
        return _TrainerFacts({}, None)
    return _TrainerFacts(param_schema(model), trainer_revision(model))


def param_schema(model: str) -> dict[str, Param]:
    """Parameter name -> its declaration in `model`'s trainer, by which a run's parameters are
    typed back; none for a model no registry knows (a plug-in not loaded)."""
    from trainers import canonical_name, load_trainer

    if not model or canonical_name(model) is None:
        return {}
    return {p.name: p for p in load_trainer(model).params.params}


def is_pruned(tags: Mapping[str, str]) -> bool:
    """Whether a trial run's tags say the sweep's pruner stopped it."""
    return tags.get(STATUS_TAG) == "PRUNED"


def still_pruned(trials: Iterable[FinishedTrial]) -> list[FinishedTrial]:
    """The pruned trials that no later run trained in full, each trial key once."""
    trials = list(trials)
    trained = {t.key for t in trials if not t.pruned}
    seen: set[str | None] = set()
    found = []
    for trial in trials:
        if trial.pruned and trial.key not in trained and (trial.key is None
                                                          or trial.key not in seen):
            seen.add(trial.key)
            found.append(trial)
    return found


def ranked(trials: Iterable[FinishedTrial]) -> list[FinishedTrial]:
    """The trials that ran their full budget: the only ones a leaderboard ranks (a pruned trial's
    metrics are those of a model trained less), and none of a configuration a seed of which was
    pruned and not trained in full since: its mean over the other seeds flatters it (LDA at K=5,
    0.806 over the seed that finished against 0.637 over both)."""
    trials = list(trials)
    cut = {t.config_key for t in still_pruned(trials) if t.config_key is not None}
    return [t for t in trials if not t.pruned and (t.config_key is None or t.config_key not in cut)]


SEED_PARAMS = ("seed", "random_state")  # vary between seeds of one configuration


def config_params(trial: FinishedTrial) -> dict[str, Any]:
    """A trial's parameters without those that vary between seeds."""
    return {k: v for k, v in trial.params.items() if k not in SEED_PARAMS}


def shown_as(trial: FinishedTrial) -> str:
    """What a leaderboard row shows of a configuration: model, parameters, metric settings
    (the same for runs of it made under other code or with other side inputs)."""
    return (trial.model + repr(sorted(config_params(trial).items(), key=lambda kv: kv[0]))
            + repr(sorted(trial.metric_settings.items())))
