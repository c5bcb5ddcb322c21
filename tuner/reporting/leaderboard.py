"""The configurations of an experiment ranked by one metric, seeds aggregated: mean ± sd per
configuration (model + parameters other than the seed), ranked by the mean."""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from trainers import canonical_name, load_trainer
from tuner.metrics import METRICS, higher_is_better
from tuner.reporting.health import Concern, counted, notes, trial_concerns
from tuner.tracking.records import (
    SEED_PARAMS,
    FinishedTrial,
    SweepRun,
    code_changes,
    config_params,
    param_schema,
    ranked,
    shown_as,
)
from tuner.tracking.tags import (
    ASKED_TAG,
    CODE_TAG,
    CONTEXT_TAG,
    RANKING_TAG,
    SWEPT_TAG,
    WARNINGS_TAG,
)
from tuner.tracking.tracker import SWEEP_CONFIGS_FILE, WARNINGS_FILE, Tracker

SHOWN_METRICS = ("npmi", "diversity", "ari", "f1", "fit_seconds")

NAME_WIDTH = 72  # longer configuration names are cut


@dataclass(frozen=True)
class ConfigResult:
    """One configuration over its seeds: the mean and sample sd of each metric.

    `swept` holds the parameters that differ between the model's configurations in the
    experiment (the ones worth showing); `sd` is None for a metric only one seed logged.
    """

    model: str
    params: Mapping[str, Any]
    swept: Mapping[str, Any]
    trials: tuple[FinishedTrial, ...]
    metrics: Mapping[str, float]
    sd: Mapping[str, float | None]
    unused: frozenset[str] = frozenset()  # swept, but without effect here (keyed as default)
    seeds_asked: int = 0  # what its sweeps' grids asked for (else its model's most; 0: unknown)
    counts: Mapping[str, int] = field(default_factory=dict)  # the seeds that logged each metric
    superseded: int = 0  # runs shown alike under another config key, not ranked (see below)
    # The latest sweep asked for it under another config key (a setting no parameter shows,
    # other code) and none of those trials finished (failed, killed, pruned or never ran):
    # these scores are of the earlier settings.
    replaced: bool = False
    # seeds of its trials that the latest sweep on this data did not ask for (with_earlier_seeds)
    earlier_seeds: tuple[int, ...] = ()

    @property
    def seeds(self) -> int:
        return len(self.trials)

    def seeds_of(self, metric: str) -> str:
        """The seeds behind `metric`'s mean: `2`, or `1/2` for a configuration with fewer seeds
        than its sweeps asked for (a seed failed or was pruned), or where a seed could not compute
        `metric` (NPMI with a topic of fewer than two vocabulary words, inverted_rbo of one
        topic: a degenerate fit whose seed the mean leaves out, where the row would otherwise
        say 2 seeds)."""
        logged = self.counts.get(metric, self.seeds)
        whole = max(self.seeds, self.seeds_asked)
        return f"{logged}/{whole}" if logged < whole else str(logged)

    @property
    def concerns(self) -> list[Concern]:
        """What its seeds' own figures say is likely wrong with them (tuner.reporting.health)."""
        return [c for t in self.trials for c in trial_concerns(t.model, t.params, t.metrics)]

    def trial_label(self, trial: FinishedTrial) -> str:
        """`GSM[num_topics=20,dropout=0.2]#seed=42`, as `tuner run` names a trial."""
        shown = self.label.replace(" ", ",")
        return f"{self.model}{f'[{shown}]' if shown else ''}#seed={trial.seed}"

    @property
    def notes(self) -> str:
        """The row's note: "collapsed", "still improving", ... ("" for none)."""
        said = notes(self.concerns)
        return f"{said}, {REPLACED_NOTE}" if said and self.replaced else \
            REPLACED_NOTE if self.replaced else said

    @property
    def label(self) -> str:
        """`num_topics=10 min_cluster_size=20`: the swept values that apply to this
        configuration ("" when nothing was swept)."""
        return " ".join(f"{k}={format_value(v)}" for k, v in self.swept.items()
                        if k not in self.unused)

    @property
    def name(self) -> str:
        """`BERTopic num_topics=10 min_cluster_size=20`, or the model alone."""
        return f"{self.model} {self.label}" if self.label else self.model

    def best_trial(self, metric: str) -> FinishedTrial:
        """The seed's trial that scored best on `metric` (the first one when none logged it)."""
        having = [t for t in self.trials if metric in t.metrics]
        if not having:
            return self.trials[0]
        sign = 1.0 if higher_is_better(metric) else -1.0
        return max(having, key=lambda t: sign * t.metrics[metric])


REPLACED_NOTE = "earlier settings"


def format_value(value: Any) -> str:
    """A parameter value as grids write it: None as null, floats short."""
    if value is None:
        return "null"
    return f"{value:g}" if isinstance(value, float) else str(value)


def swept_by_model(trials: Iterable[FinishedTrial]) -> dict[str, list[str]]:
    """Model -> its parameters whose value differs between its trials (seeds left out, and a
    parameter that only ever held its resolved null, e.g. LDA alpha = 1/K, which follows K)."""
    values: dict[str, dict[str, set[str]]] = {}
    chosen: dict[str, set[str]] = {}  # model -> parameters some trial set to a value of its own
    for trial in trials:
        seen = values.setdefault(trial.model, {})
        own = chosen.setdefault(trial.model, set())
        unused = unused_params(trial)
        for name, value in config_params(trial).items():
            if name in unused:
                continue
            seen.setdefault(name, set()).add(repr(value))
            if not resolved_null(trial, name, value):
                own.add(name)
    return {model: [name for name, found in seen.items()
                    if len(found) > 1 and name in chosen[model]]
            for model, seen in values.items()}


def unused_params(trial: FinishedTrial) -> frozenset[str]:
    """The trial's parameters that had no effect (BERTopic's HDBSCAN settings under k-means):
    it ran with their defaults, whatever the grid said."""
    if canonical_name(trial.model) is None:
        return frozenset()
    return frozenset(p.name for p in load_trainer(trial.model).params.params
                     if p.unused_when is not None and p.unused_when(trial.params))


def resolved_null(trial: FinishedTrial, name: str, value: Any) -> bool:
    """Whether `value` is what null resolves to for this trial (LDA's alpha 1/K, BERTopic's
    min_samples = min_cluster_size): a value that follows other parameters."""
    if canonical_name(trial.model) is None:
        return False
    param = load_trainer(trial.model).params.get(name)
    if param is None or param.resolve is None:
        return False
    try:
        return bool(param.resolve(trial.params) == value)
    except (KeyError, TypeError, ZeroDivisionError):
        return False


_ABSENT = object()


def fixed_settings(configs: Sequence[ConfigResult]) -> list[str]:
    """The parameters every row of a model ran with alike, as "name=value", where not its
    default (`configs`: of one model): the rows name only what varies, and epochs 300 or
    reduce_outliers read as the defaults. These are the runs' values: a vocab_size the corpus
    capped (2,654 words of the default 5,000) is among them."""
    schema = param_schema(configs[0].model)
    first = configs[0]
    shared = {name: value for name, value in first.params.items()
              if name not in first.swept and name in schema
              and all(c.params.get(name, _ABSENT) == value for c in configs)}
    return [f"{name}={format_value(value)}" for name, value in sorted(shared.items())
            if value != schema[name].default  # typed by the schema: 10 is 10.0
            and not (schema[name].default is None and resolved_null(first.trials[0], name, value))]


def aggregate_seeds(trials: Sequence[FinishedTrial],
                    declared: Mapping[str, Sequence[str]] | None = None,
                    asked: Collection[str] = frozenset(),
                    sweep_seeds: Mapping[str, int] | None = None,
                    asked_seeds: int = 0, unfinished: Collection[str] = frozenset()
                    ) -> list[ConfigResult]:
    """Group trials by configuration and aggregate each metric over the seeds; groups keep the
    order of their first trial. A row names the parameters that vary between the trials, and
    those the sweeps' grids varied (`declared`, see declared_swept), so that a row whose
    siblings failed or were pruned still says which configuration it is.

    A configuration's seeds share its config key (the trial key without the seed), so runs made
    with other code, data or truth are never averaged in as more seeds. Where two groups show
    the same model, parameters and metric settings, one stands: the one whose config key the
    latest sweep asked for (`asked`, see latest_asked), else the one with the newest run. The
    other was made before something its key holds changed (code, libraries), or with a setting
    no parameter shows (the embedding's `max_length`): a sweep of 256 tokens run again after
    one of 64, every trial skipped as finished, would otherwise be ranked with the 64-token run.

    A configuration's seeds asked for are the most its trials' sweeps asked for (`sweep_seeds`:
    sweep run id -> its grid's seeds, see seeds_asked), and for one the latest sweep asked for
    (`asked`), that sweep's (`asked_seeds`); where no sweep says, the most seeds any
    configuration of its model has. By the model alone, a BERTopic configuration of an earlier
    one-seed sweep would read `1/2` beside a later two-seed sweep's.

    `unfinished`: how configurations the latest sweep asked for and of which no trial finished
    are shown (see asked_unfinished). A group shown alike that the latest sweep did not ask for
    is marked `replaced`: its scores are of the settings before, not of the grid as it is."""
    kept, superseded = _standing_groups(trials, asked)
    kept = [_one_seedless_fit(group, superseded) for group in kept]
    swept = _swept_names(kept, declared or {})
    configs = [_config(group, swept[group[0].model]) for group in kept]
    most: dict[str, int] = {}
    for config in configs:
        most[config.model] = max(most.get(config.model, 0), config.seeds)
    return [replace(config, seeds_asked=(_asked_of(config, sweep_seeds or {}, asked, asked_seeds)
                                         or most[config.model])
                    if reads_seed(config.trials[0]) else 1,
                    superseded=superseded.get(shown_as(config.trials[0]), 0),
                    replaced=shown_as(config.trials[0]) in unfinished
                    and config.trials[0].config_key not in asked)
            for config in configs]


def _standing_groups(trials: Sequence[FinishedTrial], asked: Collection[str]
                     ) -> tuple[list[list[FinishedTrial]], dict[str, int]]:
    """The trials grouped by config key, in the order of their first trial, less the groups
    shown alike with another that stands (asked for by the latest sweep, else newer); and, by
    how a row shows, how many runs the groups left out held."""
    groups: dict[tuple[str, str], list[FinishedTrial]] = {}
    for trial in trials:
        groups.setdefault((shown_as(trial), trial.config_key or ""), []).append(trial)

    def standing(key: tuple[str, str]) -> tuple[bool, int]:
        return key[1] in asked, _latest_start(groups[key])

    newest: dict[str, tuple[str, str]] = {}
    for key in groups:
        other = newest.get(key[0])
        if other is None or standing(key) > standing(other):
            newest[key[0]] = key
    superseded: dict[str, int] = {}
    for key, group in groups.items():
        if newest[key[0]] != key:
            superseded[key[0]] = superseded.get(key[0], 0) + len(group)
    return [group for key, group in groups.items() if newest[key[0]] == key], superseded


def _one_seedless_fit(group: list[FinishedTrial], superseded: dict[str, int]
                      ) -> list[FinishedTrial]:
    """A fit that reads no seed is one fit whatever the seed: runs of its seeds from before it
    was keyed without one are that fit again, not more seeds (counted in `superseded`)."""
    if len(group) < 2 or reads_seed(group[0]):
        return group
    latest = max(group, key=lambda t: t.start_time or 0)
    superseded[shown_as(latest)] = superseded.get(shown_as(latest), 0) + len(group) - 1
    return [latest]


def _swept_names(groups: Sequence[Sequence[FinishedTrial]],
                 declared: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Model -> the parameters a row names: those that vary between its trials, and those the
    sweeps' grids varied (a grid's list of a model's own seed parameter is its seeds)."""
    swept = swept_by_model([t for group in groups for t in group])
    for model, names in declared.items():
        if model in swept:
            swept[model] += [n for n in names if n not in swept[model] and n not in SEED_PARAMS]
    return swept


def asked_unfinished(asked: Collection[str], finished: Iterable[FinishedTrial],
                     failed: Iterable[FinishedTrial],
                     shown: Mapping[str, str] | None = None) -> frozenset[str]:
    """How the configurations the latest sweep asked for (`asked`) and of which no trial
    finished show on a board (shown_as): from the sweep's record of how each shows (`shown`,
    see Asked), which holds every one, those whose trials were killed, pruned or never ran too
    (they leave no failed trial). A sweep logged before tuner recorded it (`shown` None) has
    only its `failed` trials to say, which are read for it alone."""
    done = {t.config_key for t in finished}
    if shown is not None:
        return frozenset(shown[k] for k in asked if k not in done and k in shown)
    return frozenset(shown_as(t) for t in failed
                     if t.config_key in asked and t.config_key not in done)


def replaced_said(configs: Sequence[ConfigResult]) -> list[str]:
    """The sweep's warning of rows whose scores are of earlier settings (ConfigResult.replaced)."""
    replaced = [c.name for c in configs if c.replaced]
    if not replaced:
        return []
    return [f"{len(replaced)} configuration{'s' * (len(replaced) != 1)} on the board "
            f"({'; '.join(replaced[:3])}{'; ...' if len(replaced) > 3 else ''}) "
            f"{'show' if len(replaced) != 1 else 'shows'} runs made with earlier settings "
            "(a setting no parameter shows, such as the embedding's max_length, or other code): "
            "this sweep asked for them as the grid is now, and none of those trials finished "
            "(they failed: see their errors; or were stopped, pruned or never ran); they are "
            f"marked '{REPLACED_NOTE}' and never recommended"]


def reads_seed(trial: FinishedTrial) -> bool:
    """Whether the trial's fit read its seed: one that read none (STM's spectral start) is the
    one trial of its configuration whatever the grid's seeds (Trainer.uses_seed), not `1/3`."""
    if canonical_name(trial.model) is None:
        return True
    try:
        return bool(load_trainer(trial.model).uses_seed(trial.params))
    except (KeyError, TypeError):  # a run logged before the parameter existed
        return True


def _asked_of(config: ConfigResult, sweep_seeds: Mapping[str, int], asked: Collection[str],
              asked_seeds: int) -> int:
    latest = asked_seeds if config.trials[0].config_key in asked else 0
    return max([latest, *(sweep_seeds.get(t.parent_run_id or "", 0) for t in config.trials)])


def seeds_asked(sweeps: Sequence[SweepRun]) -> dict[str, int]:
    """Sweep run id -> how many seeds its grid asked for (its `seeds` param), where it says: a
    param cut for its length ("... (7000 characters)") says not."""
    return {s.run_id: len(s.params["seeds"].split(",")) for s in sweeps
            if s.params.get("seeds") and not s.params["seeds"].endswith(" characters)")}


def latest_seeds(sweeps: Sequence[SweepRun], context: str | None) -> int:
    """How many seeds the latest sweep on the data of `context` asked for (0: unknown): the
    configurations it asked for are short of seeds against it, though a seed was skipped as
    finished under an older sweep of fewer seeds."""
    sweep = latest_sweep(sweeps, context)
    return seeds_asked([sweep]).get(sweep.run_id, 0) if sweep is not None else 0


def latest_seed_list(sweeps: Sequence[SweepRun], context: str | None) -> frozenset[int] | None:
    """The seeds the latest sweep on the data of `context` asked for; None where it does not
    say (a `seeds` param cut for its length)."""
    sweep = latest_sweep(sweeps, context)
    if sweep is None or sweep.run_id not in seeds_asked([sweep]):
        return None
    try:
        return frozenset(int(seed) for seed in sweep.params["seeds"].split(","))
    except ValueError:
        return None


def with_earlier_seeds(configs: list[ConfigResult], latest: frozenset[int] | None,
                       asked: Collection[str] = frozenset()) -> list[ConfigResult]:
    """Each configuration the latest sweep asked for (`asked`: config keys; none known, every
    one) with the seeds of its trials that `latest` (that sweep's seeds) does not hold: a row
    pools every finished seed of its configuration on this data, so after seeds [42, 43] became
    [42, 44] it averaged three where a fresh run averages two (content audit of 2026-12-05),
    which the board then says. A fit that reads no seed (STM's spectral start) is one fit for
    every seed, and a row the latest sweep did not ask for is an earlier sweep's."""
    if latest is None:
        return configs
    return [replace(c, earlier_seeds=tuple(sorted(
        {t.seed for t in c.trials if t.seed is not None and t.seed not in latest
         and reads_seed(t)}))) if _asked_for(c, asked) else c for c in configs]


def _asked_for(config: ConfigResult, asked: Collection[str]) -> bool:
    return not asked or any(t.config_key in asked for t in config.trials)


def declared_swept(sweeps: Sequence[SweepRun], context: str | None) -> dict[str, list[str]]:
    """Model -> the parameters the grids of `sweeps` on the data of `context` (all of them for
    None) varied, from their sweep runs' tag."""
    found: dict[str, list[str]] = {}
    for sweep in sweeps:
        if context is not None and sweep.tags.get(CONTEXT_TAG) != context:
            continue
        try:
            declared = json.loads(sweep.tags.get(SWEPT_TAG, "{}"))
        except json.JSONDecodeError:
            continue
        for model, names in declared.items():
            found.setdefault(model, [])
            found[model] += [n for n in names if n not in found[model]]
    return found


def standing_trials(trials: Sequence[FinishedTrial],
                    asked: Collection[str] = frozenset()) -> list[FinishedTrial]:
    """The trials of the configurations aggregate_seeds keeps (none superseded)."""
    return [t for config in aggregate_seeds(trials, asked=asked) for t in config.trials]


@dataclass(frozen=True)
class Asked:
    """What a sweep asked for (its SWEEP_CONFIGS_FILE): the config keys, and how each one's
    row shows (shown_for; None: a sweep logged before tuner recorded it)."""

    keys: frozenset[str] = frozenset()
    shown: Mapping[str, str] | None = None


def latest_asked(tracker: Tracker, sweeps: Sequence[SweepRun], context: str | None) -> Asked:
    """What the latest sweep on the data of `context` asked for, skipped trials included (its
    SWEEP_CONFIGS_FILE, logged as it starts and again as it ends); nothing for a sweep logged
    before tuner kept it, whose rankings let the newest run stand. A `tuner score --log` run
    asks for nothing and is passed over."""
    sweep = latest_sweep(sweeps, context)
    if sweep is None or ASKED_TAG not in sweep.tags:
        return Asked()
    return asked_record(tracker, sweep.run_id)


def latest_sweep(sweeps: Sequence[SweepRun], context: str | None) -> SweepRun | None:
    """The newest sweep that ran trials on the data of `context` (any, for None)."""
    return next((s for s in sweeps if s.ran_trials
                 and (context is None or s.tags.get(CONTEXT_TAG) == context)), None)


def asked_by(tracker: Tracker, sweep_run_id: str) -> frozenset[str]:
    """The config keys sweep run `sweep_run_id` asked for (see latest_asked); none if it has
    not said."""
    return asked_record(tracker, sweep_run_id).keys


def asked_record(tracker: Tracker, sweep_run_id: str) -> Asked:
    """What sweep run `sweep_run_id` asked for (see latest_asked); nothing if it has not said."""
    found = tracker.read_json(sweep_run_id, SWEEP_CONFIGS_FILE) or {}
    shown = found.get("shown")
    return Asked(frozenset(str(key) for key in found.get("config_keys", ())),
                 {str(k): str(v) for k, v in shown.items()} if isinstance(shown, dict) else None)


def _latest_start(group: Sequence[FinishedTrial]) -> int:
    return max(t.start_time or 0 for t in group)


def newest_context(sweeps: Sequence[SweepRun], trials: Iterable[FinishedTrial]) -> str | None:
    """The data the experiment's latest sweep judged its trials on (None: a sweep logged before
    tuner recorded it). A sweep that stopped before any trial on its data finished (interrupted:
    KILLED; its process died: FAILED, marked stale), or is still running, is passed over, or a
    new setting tried and stopped hides every earlier result from the rankings. A sweep that
    ended, even with every trial failed, still says the data has changed. A `tuner score --log`
    run is passed over while a `tuner run` sweep is there, or scoring a model's files on the
    older grid moves every ranking back to that grid's data."""
    judged = {t.context for t in trials}
    ran = [s for s in sweeps if s.ran_trials]
    for sweep in [*ran, *(s for s in sweeps if not s.ran_trials)]:
        context = sweep.tags.get(CONTEXT_TAG)
        if sweep.status == "FINISHED" or context in judged:
            return context
    return [*ran, *sweeps][0].tags.get(CONTEXT_TAG) if sweeps else None


UNENDED = {"RUNNING": "is still running",
           "KILLED": "was stopped before it ended (interrupted or cancelled)",
           "FAILED": "did not end (its process died, or an error stopped it)"}


def unended_sweep(sweeps: Sequence[SweepRun], context: str | None) -> str | None:
    """What a report or a best grid must say when the latest `tuner run` sweep on the data
    they rank (`context`) did not end: unsaid, they read as complete even where 5 of its 6
    trials never ran."""
    sweep = _latest_run(sweeps, context)
    if sweep is None or sweep.status not in UNENDED:
        return None
    return (f"the experiment's latest sweep (run {sweep.run_id}) "
            f"{UNENDED[sweep.status]}: the rankings hold the trials that finished, and "
            "`tuner run` of its grid runs the rest")


def _latest_run(sweeps: Sequence[SweepRun], context: str | None) -> SweepRun | None:
    """The latest sweep `tuner run` (or the service) made on the data of `context` (any, for
    None), ended or not: a `tuner score` sweep is no `tuner run`."""
    return next((s for s in sweeps if RANKING_TAG in s.tags
                 and (context is None or s.tags.get(CONTEXT_TAG) == context)), None)


def other_code(sweeps: Sequence[SweepRun], context: str | None) -> str | None:
    """What a report or a best grid must say when the latest `tuner run` sweep on the data they
    rank (`context`) was made by another version of tuner (tracking.records.code_identity):
    its scores may not be this version's, and runs of a trainer fixed since have left the
    rankings."""
    sweep = _latest_run(sweeps, context)
    if sweep is None:
        return None
    redo = "`tuner run` of its grid re-runs the trials whose results changed and skips the rest"
    if CODE_TAG not in sweep.tags:
        return (f"the experiment's latest sweep (run {sweep.run_id}) was made by an earlier "
                "tuner, which did not record its code: if tuner has been upgraded since, its "
                f"scores may not be this version's and runs of a trainer fixed since are left "
                f"out of the rankings; {redo}")
    try:
        changes = code_changes(json.loads(sweep.tags[CODE_TAG]))
    except (ValueError, TypeError, AttributeError, KeyError):  # a tag cut or edited by hand
        return None
    if not changes:
        return None
    return (f"the experiment's latest sweep (run {sweep.run_id}) was made by another version of "
            f"tuner ({'; '.join(changes)}): its scores may not be this version's, and runs of a "
            f"trainer fixed since are left out of the rankings; {redo}")


def on_data(trials: Iterable[FinishedTrial], context: str | None) -> list[FinishedTrial]:
    """The trials judged on the data of `context` (corpus, truth, preprocessing, metric
    settings); every trial when `context` is None."""
    return [t for t in trials if context is None or t.context == context]


def trials_on_current_data(tracker: Tracker, experiment: str,
                   context: str | None = None) -> list[FinishedTrial]:
    """The experiment's trials a ranking reads: finished with their full budget, on the data of
    `context` (default: the latest sweep's). Runs scored on data that has changed since, such
    as labels before a relabelling, stay in the store as history but are not ranked."""
    trials = ranked(tracker.finished_trials(experiment))
    return on_data(trials, context or newest_context(tracker.sweep_runs(experiment), trials))


def _config(group: list[FinishedTrial], swept: list[str]) -> ConfigResult:
    params = config_params(group[0])
    names = sorted({m for t in group for m in t.metrics})
    values = {m: [t.metrics[m] for t in group if m in t.metrics] for m in names}
    return ConfigResult(
        group[0].model, params, {p: params.get(p) for p in swept}, tuple(group),
        {m: statistics.fmean(v) for m, v in values.items()},
        {m: statistics.stdev(v) if len(v) > 1 else None for m, v in values.items()},
        unused_params(group[0]) & set(swept), counts={m: len(v) for m, v in values.items()})


def rank_configs(configs: Sequence[ConfigResult], metric: str) -> list[ConfigResult]:
    """Configurations that logged `metric`, best mean first (lowest first where lower is
    better)."""
    sign = -1.0 if higher_is_better(metric) else 1.0
    return sorted((c for c in configs if metric in c.metrics),
                  key=lambda c: sign * c.metrics[metric])


ALL_ROWS = 1_000_000  # a leaderboard's every configuration


def within_noise(board: Sequence[ConfigResult], chosen: ConfigResult,
                 metric: str) -> list[ConfigResult]:
    """The other configurations whose mean `metric` differs from `chosen`'s by less than the
    larger of the two sds over seeds, or not at all: which of them is better is not settled by
    these seeds.
    The demo's first two BERTopic rows, 0.2742 ± 0.0593 (seeds 0.316 and 0.232) and 0.2728 ±
    0.0015, are such a pair, and the first is `tuner best`'s pick: that needs saying. A
    configuration of one seed has no sd of its own and is judged by the other's: left out,
    one-seed rows 0.017 behind a first row of sd 0.077 read as settled, while a two-seed row
    behind them is named. Two configurations of one seed each: their noise is unknown, and only
    equal means are named. A configuration whose fits are `chosen`'s, seed for seed, is not
    noise but the same fits (same_fits); one of earlier settings (`replaced`) is not judged."""
    if metric not in chosen.metrics:
        return []
    spread = chosen.sd.get(metric)
    return [c for c in board if c is not chosen and metric in c.metrics and not c.replaced
            and not same_fits(c, chosen)
            and ((apart := _apart(c.metrics[metric], chosen.metrics[metric])) == 0.0
                 or ((noise := _larger(spread, c.sd.get(metric))) is not None
                     and apart < noise))]


def _larger(a: float | None, b: float | None) -> float | None:
    known = [x for x in (a, b) if x is not None]
    return max(known) if known else None


def same_mean(a: float, b: float) -> bool:
    """Two means equal but for float rounding (gt_coverage 1.0 on every row, whose sds are 0:
    else a tie `tuner best` breaks in silence)."""
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15)


def _apart(a: float, b: float) -> float:
    """How far two means are, 0.0 for equal ones."""
    return 0.0 if same_mean(a, b) else abs(a - b)


def recommended(board: Sequence[ConfigResult]) -> ConfigResult | None:
    """The configuration to recommend: the best ranked none of whose seeds collapsed (its
    scores mean little), else the best; never one whose scores are of earlier settings
    (`replaced`), and None when that leaves none. A collapsed BERTopic fit (4 topics found of 20
    asked, the lowest F1) can rank first by ARI, and would otherwise be `tuner best`'s grid and
    the sweep's `tuner.best_run_id`, with nothing said."""
    current = [c for c in board if not c.replaced]
    return next((c for c in current if not collapsed(c)), current[0] if current else None)


def collapsed(config: ConfigResult) -> bool:
    """Whether a seed of `config` collapsed (tuner.reporting.health): its scores mean little."""
    return any(x.kind == "collapsed" for x in config.concerns)


def leaderboard(tracker: Tracker, experiment: str, metric: str, limit: int = 10,
                context: str | None = None) -> list[ConfigResult]:
    """The best `limit` configurations of an experiment by the mean of `metric` over seeds, on
    the data of `context` (default: the latest sweep's; see trials_on_current_data)."""
    sweeps = tracker.sweep_runs(experiment)
    finished = ranked(tracker.finished_trials(experiment))
    context = context or newest_context(sweeps, finished)
    trials = on_data(finished, context)
    asked = latest_asked(tracker, sweeps, context)
    failed = on_data(tracker.failed_trials(experiment), context) \
        if asked.keys and asked.shown is None else []
    unfinished = asked_unfinished(asked.keys, trials, failed, asked.shown) \
        if asked.keys else frozenset()
    configs = rank_configs(aggregate_seeds(trials, declared_swept(sweeps, context), asked.keys,
                                           seeds_asked(sweeps), latest_seeds(sweeps, context),
                                           unfinished), metric)
    return with_earlier_seeds(configs, latest_seed_list(sweeps, context), asked.keys)[:limit]


def format_mean_sd(config: ConfigResult, metric: str, digits: int = 4) -> str:
    """`0.1234 ± 0.0056`; `0.1234 ± -` for one seed; `-` when not logged."""
    if metric not in config.metrics:
        return "-"
    sd = config.sd.get(metric)
    return f"{config.metrics[metric]:.{digits}f} ± " + ("-" if sd is None else f"{sd:.{digits}f}")


def format_leaderboard(entries: Sequence[ConfigResult], metric: str) -> str:
    """A plain-text table: one row per configuration, the ranking metric as mean ± sd over the
    seeds, the other metrics as means, and the run of the best seed (to open in MLflow)."""
    if not entries:  # a header over no row reads as a table that failed to print
        return f"(no finished trial has {metric} yet: nothing to rank)"
    others = {m: max(12, len(m) + 2) for m in SHOWN_METRICS if m != metric}  # 2 spaces apart
    width = min(NAME_WIDTH, max([len("configuration"), *(len(e.name) for e in entries)]))
    mean = max(10, len(metric) + 6)  # "<metric> mean" over the means, its ± over theirs
    topics = max((len(topics_found(e)) + 1 for e in entries if "num_topics_found" in e.metrics),
                 default=0)  # its column's width, 0 for none: at least "topics" and a space
    topics = max(topics, 7) if topics else 0
    header = (f"{'#':>2}  {'configuration':<{width}} {'seeds':>5}"
              + (f"{'topics':>{topics}}" if topics else "") + f" {metric + ' mean':>{mean}} ± "
              f"{'sd':<7}" + "".join(f"{c:>{w}}" for c, w in others.items()) + "  best run")
    rows = [f"{rank:>2}  {_shortened(entry.name):<{width}} {entry.seeds_of(metric):>5}"
            + (f"{topics_found(entry):>{topics}}" if topics else "")
            + f" {_mean_sd_column(entry, metric, mean)}"
            + "".join(f"{format_metric(c, entry.metrics[c]):>{w}}" if c in entry.metrics
                      else f"{'-':>{w}}" for c, w in others.items())
            + f"  {entry.best_trial(metric).run_name}"
            for rank, entry in enumerate(entries, start=1)]
    if any(entry.notes for entry in entries):  # after the run name, which has one width
        run_width = max(len("best run"), *(len(e.best_trial(metric).run_name) for e in entries))
        header = f"{header:<{len(header) + run_width - len('best run')}}  note"
        rows = [f"{row:<{len(row) - len(entry.best_trial(metric).run_name) + run_width}}  "
                f"{entry.notes}".rstrip() for row, entry in zip(rows, entries, strict=True)]
    return "\n".join([header, "-" * max(len(line) for line in [header, *rows]), *rows,
                      *_as_note(noise_sentence(entries, metric)),
                      *_as_note(same_fits_sentence(entries)),
                      *_topics_note(entries, bool(topics)),
                      *_as_note(shared_work_sentence(entries)),
                      *_as_note(superseded_sentence(entries)),
                      *_as_note(earlier_seeds_sentence(entries))])


def topics_found(entry: ConfigResult) -> str:
    """`12/20`: the topics its fits found (mean over seeds) of the num_topics asked; the found
    alone for a model that asks none (HDP, BERTopic's num_topics null). Without it, HDP's 31
    topics sit beside LDA's 10 unsaid, and a BERTopic row of 20 asked hides that it found 12."""
    found = entry.metrics.get("num_topics_found")
    if found is None:
        return "-"
    asked = entry.params.get("num_topics")
    return f"{round(found, 1):g}" + (f"/{asked}" if isinstance(asked, int) else "")


def format_metric(metric: str, value: float) -> str:
    """Seconds to a tenth, scores to 4 decimals."""
    return f"{value:.1f}" if metric.endswith("_seconds") else f"{value:.4f}"


def noise_sentence(entries: Sequence[ConfigResult], metric: str) -> str | None:
    """What the board and the report say of the rows within seed noise of the first (None:
    none is); the first of the current settings, where a row of earlier settings leads."""
    current = [e for e in entries if not e.replaced]
    tied = within_noise(entries, current[0], metric) if current else []
    if not tied:
        return None
    first = f"#{entries.index(current[0]) + 1}"
    ranks = [f"#{entries.index(c) + 1}" for c in tied]
    shown = ranks[0] if len(ranks) == 1 else ", ".join(ranks[:-1]) + " and " + ranks[-1]
    return (f"{shown} {'is' if len(ranks) == 1 else 'are'} within seed noise of {first}: the "
            f"mean {metric} differs from {first}'s by less than the larger sd over seeds, so "
            f"these seeds do not settle which is better; more seeds would"
            f"{_wide_rows_said(entries, current[0], tied, metric)}")


def _wide_rows_said(entries: Sequence[ConfigResult], first: ConfigResult,
                    tied: Sequence[ConfigResult], metric: str) -> str:
    """Of the rows within noise, those that are by their own seeds' spread, below rows that are
    settled: "#6 is within seed noise of #1" at 0.058 ± 0.091 against 0.135, with #2 to #5
    between them and not named, read as #6 tying #1 (report audit of 2026-12-05)."""
    wide = []
    for row in tied:
        rank = entries.index(row)
        settled_above = [e for e in entries[entries.index(first) + 1:rank]
                         if e not in tied and not e.replaced]
        sd = row.sd.get(metric)
        if settled_above and sd is not None and sd > (first.sd.get(metric) or 0.0):
            wide.append(f"#{rank + 1} ({format_metric(metric, row.metrics[metric])} ± "
                        f"{format_metric(metric, sd)})")
    if not wide:
        return ""
    one = len(wide) == 1
    leader = f"#{entries.index(first) + 1}"
    return (f"; {', '.join(wide)} {'is' if one else 'are'} so by {'its' if one else 'their'} "
            f"own seeds' spread: the rows ranked between are settled below {leader}, while "
            f"{'its' if one else 'their'} seeds range too widely to place "
            f"{'it' if one else 'them'}")


def _fit_figures(trial: FinishedTrial) -> tuple[tuple[str, float], ...]:
    """A fit's scores and topic counts, which two fits alike share (not its times)."""
    return tuple(sorted((name, round(value, 9)) for name, value in trial.metrics.items()
                        if name in METRICS or name in FIT_COUNTS))


FIT_COUNTS = ("num_topics_found", "topics_used", "effective_topics", "outlier_share")


def _same_fits(entry: ConfigResult) -> tuple[tuple[int | None, tuple[Any, ...]], ...] | None:
    figures = [(t.seed, _fit_figures(t)) for t in entry.trials]
    return tuple(sorted(figures, key=lambda f: f[0] or 0)) if figures else None


def same_fits(one: ConfigResult, other: ConfigResult) -> bool:
    """Whether two configurations of a model gave the same fits, seed for seed (what sets their
    settings apart changed nothing)."""
    fits = _same_fits(one)
    return one.model == other.model and fits is not None and bool(fits[0][1]) \
        and all("num_topics_found" in t.metrics for t in (*one.trials, *other.trials)) \
        and fits == _same_fits(other)


def same_fits_sentence(entries: Sequence[ConfigResult]) -> str | None:
    """What the board and the report say of rows whose fits match another's seed for seed, and
    of rows whose seeds all gave one fit (None: no row does). BERTopic at num_topics 20 and 40
    with HDBSCAN finding 16.5 topics gives one fit twice, which would rank #1 and #2 as "within
    seed noise", and STM's spectral start (which uses no seed) would read "± 0.0000" as a
    stable model."""
    said = []
    first: dict[Any, int] = {}
    # On a board of one seed per row no row has a ±, so a seedless fit has nothing to explain.
    several_seeds = any(max(e.seeds, e.seeds_asked) > 1 for e in entries)
    for rank, entry in enumerate(entries, start=1):
        fits = _same_fits(entry)
        if fits is None or not fits[0][1]:
            continue
        if (entry.model, fits) in first:
            said.append(f"#{rank} gave the same fits as #{first[entry.model, fits]}, seed for "
                        "seed: what sets its settings apart changed nothing here")
        else:
            first[entry.model, fits] = rank
        seedless = not reads_seed(entry.trials[0])
        if seedless and several_seeds:
            said.append(f"#{rank} is one fit for every seed: {entry.model} reads no seed with "
                        "these settings, so it has no ± to measure seed noise by")
        elif not seedless and len(fits) > 1 and len({figures for _, figures in fits}) == 1:
            said.append(f"#{rank}'s {len(fits)} seeds gave one fit ({entry.model} did not use "
                        "the seed here), so its ± 0 is no measure of seed noise")
    return "; ".join(said) if said else None


def _as_note(sentence: str | None) -> list[str]:
    """A sentence as a note under the board, in brackets; none for None."""
    return [f"({sentence})"] if sentence else []


def _topics_note(entries: Sequence[ConfigResult], shown: bool) -> list[str]:
    if not shown:
        return []
    return ["(topics: found by the fits, mean over seeds, of the num_topics asked)",
            *_dropped_topics_note(entries)]


def _dropped_topics_note(entries: Sequence[ConfigResult]) -> list[str]:
    """What a count of HDP's topics leaves out: the topics alive under its topic_threshold,
    dropped before scoring (report audit: "20 topics" hid them)."""
    dropped = [(rank, e.metrics["topics_below_threshold"]) for rank, e in
               enumerate(entries, start=1) if e.metrics.get("topics_below_threshold", 0) > 0]
    if not dropped:
        return []
    rank, most = max(dropped, key=lambda rd: rd[1])
    models = " and ".join(sorted({entries[r - 1].model for r, _ in dropped}))
    return [f"({models}'s topics count those holding its topic_threshold share of the tokens; "
            f"the smaller ones alive are dropped before scoring: up to {most:.3g} a fit, mean "
            f"over seeds, in #{rank}; topics_below_threshold in MLflow)"]


ROWS_NAMED = 5  # rows a note under the board names; the rest counted


def rows_named(ranks: Sequence[int]) -> str:
    """"#1, #4 and 2 more": the rows a note speaks of, the first ROWS_NAMED by rank."""
    more = len(ranks) - ROWS_NAMED
    return ", ".join(f"#{rank}" for rank in ranks[:ROWS_NAMED]) + (
        f" and {more} more" if more > 0 else "")


def sweep_warnings(tracker: Tracker, sweep: SweepRun) -> Mapping[str, Any]:
    """What a sweep run logged of its warnings (WARNINGS_FILE: `warnings`, `after_trials`);
    nothing when its tag says it gave none, or the file is gone."""
    if sweep.tags.get(WARNINGS_TAG, "0") == "0":
        return {}
    return tracker.read_json(sweep.run_id, WARNINGS_FILE) or {}


def superseded_sentence(entries: Sequence[ConfigResult]) -> str | None:
    """What the board and the report say of rows that stand for runs made otherwise (None: no
    row does): a sweep with the embedding's long_documents "start" after one with "chunks"
    replaces the chunks rows (ARI 0.172 and 0.138) with its own (0.070 and 0.013) under the same
    names, which no column shows."""
    ranks = [rank for rank, e in enumerate(entries, start=1) if e.superseded]
    if not ranks:
        return None
    runs = sum(e.superseded for e in entries)
    # named: "1 row" sent a user looking through the board (new-user audit of 2026-12-05)
    return (f"{counted(len(ranks), 'row')} ({rows_named(ranks)}) also had "
            f"{counted(runs, 'run')} made with settings no column shows (an embedding setting "
            "such as max_length or long_documents, the covariates or dates a model reads, the "
            "threads a neural or STM fit ran on, the code or its libraries), or, for a fit that "
            "reads no seed, with its other seeds: not ranked here; the runs the latest sweep "
            "asked for stand, else the newest")


SEEDS_NAMED = 5  # seeds the earlier-seeds note names


def earlier_seeds_sentence(entries: Sequence[ConfigResult]) -> str | None:
    """What the board and the report say of rows that average seeds the latest sweep did not
    ask for (None: no row does)."""
    ranks = [rank for rank, e in enumerate(entries, start=1) if e.earlier_seeds]
    if not ranks:
        return None
    seeds = sorted({s for e in entries for s in e.earlier_seeds})
    shown = ", ".join(map(str, seeds[:SEEDS_NAMED])) + (" ..." if len(seeds) > SEEDS_NAMED else "")
    return (f"{counted(len(ranks), 'row')} ({rows_named(ranks)}) also average "
            f"{'a seed' if len(seeds) == 1 else 'seeds'} the latest sweep did not ask for "
            f"({shown}), finished by earlier sweeps on the same data: every finished seed of a "
            "configuration counts, so its mean is not the one a run of the latest grid alone "
            "would give")


def shared_work_sentence(entries: Sequence[ConfigResult]) -> str | None:
    """What the board and the report say under rows whose fits read shared work: BERTopic's
    fit_seconds of 0.4 s leaves its 17-s UMAP step out, and unexplained reads as the cheapest
    model (the report said nothing of it before 2026-12-05: 0.31 s against LDA's 3.26 s)."""
    if not any(entry.metrics.get("shared_seconds", 0.0) > 0 for entry in entries):
        return None
    return ("fit_seconds leaves out the shared work a fit read, a UMAP reduction or Word2Vec "
            "vectors: shared_seconds holds it, and total_seconds the two together, as `tuner "
            "best --metric total_seconds` ranks; neither counts the document embeddings "
            "computed once for the corpus before the trials")


def _mean_sd_column(entry: ConfigResult, metric: str, width: int) -> str:
    """The mean right-aligned in `width`, then ± and the sd: the ± in the same place on every
    row and in the header (a centred title would sit off the column)."""
    sd = entry.sd.get(metric)
    return (f"{entry.metrics[metric]:>{width}.4f} ± "
            + (f"{sd:<7.4f}" if sd is not None else "-      "))


def _shortened(text: str) -> str:
    return text if len(text) <= NAME_WIDTH else text[:NAME_WIDTH - 1] + "…"
