"""Search beyond the full grid: random sampling of the grid's space, and Optuna's TPE through
ask/tell in the parent process (workers stay independent)."""

from __future__ import annotations

import itertools
import json
import logging
import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from trainers import load_trainer
from tuner.engine.pruning import PrunerSpec

log = logging.getLogger(__name__)
Strategy = Literal["grid", "random", "tpe"]
STRATEGIES = ("grid", "random", "tpe")


@dataclass(frozen=True)
class Range:
    """A numeric range from a grid: {"low": 1e-4, "high": 1e-2, "log": true}."""

    low: float
    high: float
    log: bool = False
    integer: bool = False

    def sample(self, rng: np.random.Generator) -> float | int:
        if self.log:
            value = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        else:
            value = rng.uniform(self.low, self.high)
        return int(round(value)) if self.integer else float(value)

    def suggest(self, trial: Any, name: str) -> float | int:
        if self.integer:
            return int(trial.suggest_int(name, int(self.low), int(self.high), log=self.log))
        return float(trial.suggest_float(name, self.low, self.high, log=self.log))


Values = list[Any] | Range


@dataclass(frozen=True)
class SearchSpec:
    strategy: Strategy = "grid"
    n_trials: int = 0
    seed: int = 0
    metrics: tuple[str, ...] = ()  # TPE objectives; several -> a Pareto search
    pruner: PrunerSpec | None = None  # stops bad trials early (tuner.engine.pruning)
    # the grid's search section asked for another strategy and is broken: this grid default
    # only stands in while the rest of the grid is checked (no "a range needs random or tpe")
    stand_in: bool = False

    @property
    def prunes(self) -> bool:
        """Whether trials may be stopped early (a re-run then counts pruned trials as done)."""
        return self.pruner is not None and self.pruner.type != "none"


REFUSALS = 1000  # TPE suggestions in a row that break a model's rule before one is skipped
MISSES = 1000  # draws in a row with nothing new that end a space whose size is not counted
ENUMERATED = 5000  # a finite space up to this size is counted, so the search knows its end


def sample_random(space: Mapping[str, Mapping[str, Values]], n_trials: int, seed: int,
                  refused: dict[str, str] | None = None) -> dict[str, list[dict[str, Any]]]:
    """`n_trials` distinct configurations, models taken in turn, each parameter drawn from its
    choices or range with a seeded generator (drawn with replacement, 20 trials of a 2-value
    space would be 2 configurations). A draw that repeats one of its model's configurations,
    or breaks one of its rules (HDP's initial_k <= max_topics; else whether a grid of ranges is
    valid hangs on what its seed draws), is passed over and the turns go on: every
    turn draws, so the draws that were kept before are kept now, and a larger `n_trials` keeps
    a smaller one's. A space that runs out gives what it has: a finite one is counted (every
    configuration that keeps the rules, drawn sooner or later), another ends after MISSES draws
    in a row with nothing new. `refused` gets the first rule each model's draws broke."""
    rng = np.random.default_rng(seed)
    models = list(space)
    rules = {m: _Rules(m, refused) for m in models}
    sizes = {m: _counted_space(m, space[m], rules[m]) for m in models}
    combos: dict[str, list[dict[str, Any]]] = {m: [] for m in models}
    seen: dict[str, set[str]] = {m: set() for m in models}
    misses, turn = 0, 0
    counted = all(size < math.inf for size in sizes.values())  # the end is known: no MISSES
    while sum(map(len, combos.values())) < n_trials and (counted or misses < MISSES) \
            and not all(len(combos[m]) >= sizes[m] for m in models):
        model = models[turn % len(models)]
        turn += 1
        combo = draw_config(model, space[model], lambda _, values: _draw(values, rng))
        key = _config_key(combo)
        if not rules[model].kept(combo) or key in seen[model]:
            misses += 1
            continue
        misses = 0
        seen[model].add(key)
        combos[model].append(combo)
    return combos


class _Rules:
    """A model's cross-field rules, noting in `refused` the first one a configuration broke."""

    def __init__(self, model: str, refused: dict[str, str] | None) -> None:
        self.model, self.schema, self.refused = model, load_trainer(model).params, refused

    def kept(self, combo: Mapping[str, Any]) -> bool:
        broken = self.schema.cross_problems(self.schema.with_defaults(combo))
        if broken and self.refused is not None:
            self.refused.setdefault(self.model, broken[0])
        return not broken


def _config_key(combo: Mapping[str, Any]) -> str:
    return json.dumps(combo, sort_keys=True, default=str)


def space_size(space: Mapping[str, Mapping[str, Values]]) -> float:
    """How many distinct configurations the models' spaces hold that keep their rules (as a
    search draws them); infinity where a space is continuous or too large to count."""
    return sum(_counted_space(m, space[m], _Rules(m, None)) for m in space)


def _counted_space(model: str, space: Mapping[str, Values], rules: _Rules) -> float:
    """How many distinct configurations a finite space (lists, integer ranges) holds that keep
    the model's rules; infinity for a continuous or larger one."""
    choices: dict[str, list[Any]] = {}
    for name, values in space.items():
        if isinstance(values, Range):
            if not values.integer or values.high - values.low >= ENUMERATED:
                return math.inf
            values = list(range(int(values.low), int(values.high) + 1))
        choices[name] = values
    if math.prod(len(v) for v in choices.values()) > ENUMERATED:
        return math.inf
    combos = (draw_config(model, space, _picker(dict(zip(choices, picked, strict=True))))
              for picked in itertools.product(*choices.values()))
    return len({_config_key(combo) for combo in combos if rules.kept(combo)})


def _picker(full: Mapping[str, Any]) -> Callable[[str, Values], Any]:
    """A draw that takes each parameter's value from `full` (a configuration as drawn keeps it:
    without the parameters its earlier values make unused)."""
    return lambda name, _: full[name]


def draw_config(model: str, space: Mapping[str, Values],
                draw: Callable[[str, Values], Any]) -> dict[str, Any]:
    """One configuration, drawn parameter by parameter. A parameter that has no effect under
    the values drawn before it (HDBSCAN's settings under k-means) is not drawn, so a search
    does not spend a suggestion on a repeat; such parameters are drawn last."""
    schema = load_trainer(model).params
    conditional = {p.name: p.unused_when for p in schema.params if p.unused_when is not None}
    combo: dict[str, Any] = {}
    for name in sorted(space, key=lambda n: n in conditional):  # stable: the others keep order
        unused = conditional.get(name)
        if unused is not None and unused(schema.with_defaults(combo)):
            continue
        combo[name] = draw(name, space[name])
    return combo


def _holds(model: str, space: Mapping[str, Values], combo: Mapping[str, Any]) -> bool:
    """Whether `space` would draw `combo`: the parameters it draws and no other, each value
    among its choices or within its range."""
    def pick(name: str, values: Values) -> Any:
        if name not in combo or not _within(combo[name], values):
            raise KeyError(name)
        return combo[name]

    try:
        return draw_config(model, space, pick) == dict(combo)
    except KeyError:
        return False


def _within(value: Any, values: Values) -> bool:
    if not isinstance(values, Range):
        return any(value == v and type(value) is type(v) for v in values)
    if isinstance(value, bool) or not isinstance(value, int if values.integer else (int, float)):
        return False
    return values.low <= value <= values.high


def _draw(values: Values, rng: np.random.Generator) -> Any:
    if isinstance(values, Range):
        return values.sample(rng)
    return values[int(rng.integers(len(values)))]


@dataclass
class _Config:
    model: str
    combo: dict[str, Any]
    optuna_trial: Any
    pending: int
    results: list[Mapping[str, float]] = field(default_factory=list)
    pruned: int = 0  # seeds the sweep's pruner stopped
    stopped: list[Mapping[str, float]] = field(default_factory=list)  # their last metrics
    seeds: int = 0  # its trials: one per seed, or one for a fit that reads no seed


class TpeSource:
    """Asks Optuna for configurations, turns each into one trial per seed, and tells Optuna the
    mean of each objective over the seeds once they are all in."""

    def __init__(self, space: Mapping[str, Mapping[str, Values]], spec: SearchSpec,
                 seeds: list[int], make_trial: Callable[[str, dict[str, Any], int], Any],
                 directions: list[Literal["minimize", "maximize"]],
                 earlier: Sequence[Sequence[tuple[str, Mapping[str, Any]]]] = ()) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sampler = optuna.samplers.TPESampler(seed=spec.seed, n_startup_trials=min(
            10, max(2, spec.n_trials // 3)))
        self.study = optuna.create_study(directions=directions, sampler=sampler)
        self.space, self.spec, self.seeds, self.make_trial = space, spec, seeds, make_trial
        self.asked = 0
        self.queue: list[Any] = []
        self.configs: dict[str, _Config] = {}  # trial key -> its configuration
        # A suggestion that repeats an earlier one (same trial keys) waits for that one's
        # results instead of running again: trial key -> the repeats' configurations.
        self.repeats: dict[str, list[_Config]] = {}
        self.told: dict[str, tuple[Mapping[str, float] | None, bool]] = {}  # (result, pruned)
        self.finished: list[dict[str, Any]] = []
        self.repeated = 0  # trials of suggestions that repeated an earlier one: not run again
        self.unrunnable = 0  # suggestions skipped: REFUSALS in a row broke the model's rules
        # A finite space's size (lists, small integer ranges), so the search ends once it has
        # suggested every configuration: past that, TPE only repeats, and 10,000 suggestions
        # of a 2-value space hold a core of tuner serve for minutes with no progress.
        self.space_size = space_size(space)
        self.suggested: set[tuple[str, str]] = set()  # (model, configuration) asked so far
        self.replayed = self._replay(earlier)

    def _replay(self, earlier: Sequence[Sequence[tuple[str, Mapping[str, Any]]]]) -> int:
        """Have Optuna's first suggestions be the configurations earlier sweeps of this search
        asked for (`earlier`: each sweep's, model and drawn parameters, oldest sweep first;
        those the space still holds), so that a re-run meets its finished trials first and
        counts them toward `n_trials`. Asked anew, TPE suggests other configurations (the
        first run asked with results in flight, the re-run's history is whole), and a finished
        search of 6 suggestions at 2 workers trains 3 more on its first re-run. A configuration
        suggested twice in one sweep (a repeat) is replayed twice, as it counted twice toward
        that sweep's budget. Returns how many suggestions are replayed."""
        times: dict[tuple[str, str], int] = {}  # the most times one sweep suggested it
        replay: dict[tuple[str, str], tuple[str, Mapping[str, Any]]] = {}
        for suggestions in earlier:
            counts: dict[tuple[str, str], int] = {}
            for model, combo in suggestions:
                if model not in self.space or not _holds(model, self.space[model], combo):
                    continue
                key = (model, _config_key(combo))
                counts[key] = counts.get(key, 0) + 1
                replay.setdefault(key, (model, combo))
            for key, count in counts.items():
                times[key] = max(times.get(key, 0), count)
        for key, (model, combo) in replay.items():
            fixed = {f"{model}.{name}": value for name, value in combo.items()}
            for _ in range(times[key]):
                self.study.enqueue_trial({"model": model, **fixed} if len(self.space) > 1
                                         else fixed)
        return sum(times.values())

    def next(self, beside: Collection[str] = ()) -> Any | None:
        """Trials in the order Optuna asks for them, whatever runs `beside` them."""
        if not self.queue and self._may_ask():
            self._ask()
        return self.queue.pop(0) if self.queue else None

    def exhausted(self) -> bool:
        return not self._may_ask() and not self.queue

    def _may_ask(self) -> bool:
        return self.asked < self.spec.n_trials and len(self.suggested) < self.space_size

    @property
    def unasked_trials(self) -> int:
        """The trials of the budget left unasked once every configuration of a finite space
        was suggested (each suggestion stood for one per seed)."""
        return (self.spec.n_trials - self.asked) * len(self.seeds) if not self._may_ask() \
            else 0

    def _ask(self) -> None:
        self.asked += 1
        suggested = self._suggestion()
        if suggested is None:
            return
        trial, model, combo = suggested
        self.suggested.add((model, _config_key(combo)))
        specs: dict[str, Any] = {}
        for seed in self.seeds:  # a fit that reads no seed is one trial for every seed
            spec = self.make_trial(model, combo, seed)
            specs.setdefault(spec.key, spec)
        config = _Config(model, combo, trial, len(specs), seeds=len(specs))
        for spec in specs.values():
            if spec.key in self.told:  # a repeat of a finished trial: its result, now
                self.repeated += 1
                self._record(config, *self.told[spec.key])
                continue
            if spec.key in self.configs:
                self.repeated += 1
                self.repeats.setdefault(spec.key, []).append(config)
                continue
            self.configs[spec.key] = config
            self.queue.append(spec)

    def _suggestion(self) -> tuple[Any, str, dict[str, Any]] | None:
        """Optuna's next configuration that its model's rules allow (HDP's initial_k <=
        max_topics, THETA's kl_warmup <= epochs): ranges are drawn one by one, and suggestions
        that break a rule would otherwise run, where a random search refuses them. One
        that breaks a rule is told FAIL (TPE leaves failed trials out of its model: this is
        rejection sampling) and Optuna is asked again; after REFUSALS in a row the suggestion
        is skipped, unrun, and counted in `unrunnable`."""
        from optuna.trial import TrialState

        refused: dict[str, str] = {}
        for _ in range(REFUSALS):
            trial = self.study.ask()
            model, combo = self._drawn(trial)
            if _Rules(model, refused).kept(combo):
                return trial, model, combo
            self.study.tell(trial, state=TrialState.FAIL)
        self.unrunnable += 1
        log.warning("TPE's last %d suggestions all broke a model's rules (%s); one suggestion "
                    "is skipped", REFUSALS, "; ".join(refused.values()))
        return None

    @property
    def unrunnable_trials(self) -> int:
        """The trials of the skipped suggestions: each stood for one per seed."""
        return self.unrunnable * len(self.seeds)

    def _drawn(self, trial: Any) -> tuple[str, dict[str, Any]]:
        models = list(self.space)
        model = trial.suggest_categorical("model", models) if len(models) > 1 else models[0]
        return model, draw_config(model, self.space[model], lambda name, values: (
            values.suggest(trial, f"{model}.{name}") if isinstance(values, Range)
            else trial.suggest_categorical(f"{model}.{name}", values)))

    def tell(self, key: str, metrics: Mapping[str, float] | None,
             pruned: bool = False) -> None:
        """Record one seed's result (None: failed, or `pruned` by the sweep's pruner); tell
        Optuna once the configuration is done."""
        first = self.configs.get(key)
        if first is None:
            return
        self.told[key] = (metrics, pruned)
        for config in [first, *self.repeats.pop(key, [])]:
            self._record(config, metrics, pruned)

    def _record(self, config: _Config, metrics: Mapping[str, float] | None,
                pruned: bool) -> None:
        config.pending -= 1
        config.pruned += pruned
        if metrics is not None:
            (config.stopped if pruned else config.results).append(metrics)
        if config.pending == 0:
            self._tell(config)

    def _tell(self, config: _Config) -> None:
        """The mean over the seeds of each objective. A configuration the pruner stopped for
        any seed is told PRUNED, as the ranking leaves it out (records.still_pruned): TPE
        then counts it below every finished one, where the mean of its other seeds flattered
        it. One with no finished seed (all failed) is told FAIL: TPE ignores it."""
        from optuna.trial import TrialState

        usable = [r for r in config.results if all(m in r for m in self.spec.metrics)]
        summary = {"model": config.model, "params": config.combo, "seeds": config.seeds,
                   "completed": len(usable)}
        if config.pruned:
            summary["pruned"] = config.pruned
            self._report_where_it_stopped(config)
            self.study.tell(config.optuna_trial, state=TrialState.PRUNED)
        elif not usable:
            self.study.tell(config.optuna_trial, state=TrialState.FAIL)
        else:
            values = [float(np.mean([r[m] for r in usable])) for m in self.spec.metrics]
            self.study.tell(config.optuna_trial, values)
            for m in self.spec.metrics:
                series = [r[m] for r in usable]
                summary[f"{m}_mean"] = float(np.mean(series))
                # the sample sd, as the leaderboard and the report give it (np.std's population
                # sd is 1/sqrt(2) of theirs at two seeds); null for one seed, as theirs
                summary[f"{m}_std"] = float(np.std(series, ddof=1)) if len(series) > 1 else None
        self.finished.append(summary)

    def _report_where_it_stopped(self, config: _Config) -> None:
        """The objective at the latest step a pruned seed reached, as the configuration's
        intermediate value: TPE orders pruned trials by it (later steps, then better values), where
        without one all tied, and a sweep whose pruner stopped most configurations fills TPE's good
        group with arbitrary ones. Optuna takes intermediate values of single-objective studies
        only."""
        if len(self.spec.metrics) != 1:
            return
        metric = self.spec.metrics[0]
        reached = [m for m in config.stopped if metric in m and "budget_used" in m]
        if not reached:
            return
        last = max(reached, key=lambda m: m["budget_used"])
        try:
            config.optuna_trial.report(float(last[metric]), int(last["budget_used"]))
        except (ValueError, TypeError, OverflowError) as err:  # a step of NaN or inf: told
            log.warning("TPE is told a pruned configuration without where it stopped (%s)", err)
