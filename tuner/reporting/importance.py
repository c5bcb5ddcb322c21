"""Which hyperparameters matter, per model, over the finished configurations (seeds averaged) of
an experiment: each swept parameter's share of the variance its main effect explains.

On a complete grid (every combination of the swept values finished once) the shares are exact:
the classical main-effect sums of squares, each level weighted equally, no model fitted. Otherwise
(a random or TPE search, failed or merged configurations, sweeps of different grids in one
experiment) Optuna's fANOVA estimates them from a random forest fitted to the configurations.
The exact path needs only numpy: fANOVA needs scikit-learn, whose import (`optuna.importance`:
1.5 s by `python -X importtime` on a 2-core machine) the parent of a multi-worker sweep paid at
its end, when its workers had kept both cores busy."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from tuner.metrics import higher_is_better
from tuner.reporting.leaderboard import ConfigResult, aggregate_seeds
from tuner.tracking.records import FinishedTrial

MIN_SWEPT = 2  # importance of a single swept parameter is 1.0 by construction
MIN_CONFIGS = 4
EVALUATOR_SEED = 0
EXACT, FANOVA = "exact, complete grid", "fANOVA"

IMPORTANCE_FILE = "param_importance.json"  # on the sweep run, and beside the report


def log_scaled(model: str) -> frozenset[str]:
    """The parameters `model`'s schema declares log-scaled (none for an unknown model)."""
    from trainers import canonical_name, load_trainer

    if canonical_name(model) is None:
        return frozenset()
    return frozenset(p.name for p in load_trainer(model).params.params if p.log_scale)


@dataclass(frozen=True)
class ModelImportance:
    method: str  # EXACT or FANOVA
    shares: dict[str, float]  # swept parameter -> its share, largest first, summing to 1
    noise: str | None = None  # said when no parameter's effect stands out of the seeds' noise


def model_importances(trials: Sequence[FinishedTrial], metric: str) -> dict[str, ModelImportance]:
    """Model -> how much each swept parameter matters for `metric`: its share of the main-effect
    variance, for each model with at least MIN_SWEPT swept parameters and MIN_CONFIGS
    configurations that logged `metric`. Each configuration counts once, with its mean over the
    seeds."""
    return {model: _model_importance(model, configs, metric)
            for model, configs in _scored_configs(trials, metric).items()}


def importance_record(found: Mapping[str, ModelImportance], metric: str) -> dict[str, Any]:
    """The content of IMPORTANCE_FILE, one shape whether `tuner run` or `tuner report` writes
    it: each model's method and shares."""
    return {"metric": metric, "methods": {model: f.method for model, f in found.items()},
            "fanova_seed": EVALUATOR_SEED,
            "models": {model: f.shares for model, f in found.items()},
            "within_seed_noise": {model: f.noise for model, f in found.items() if f.noise}}


def needs_fanova(trials: Sequence[FinishedTrial]) -> bool:
    """Whether some model's configurations among `trials` (their metrics aside) would get
    fANOVA's estimate rather than exact shares: enough of them, but not a complete grid."""
    return any(len(configs[0].swept) >= MIN_SWEPT and len(configs) >= MIN_CONFIGS
               and importance_method(configs) == FANOVA
               for configs in _configs_by_model(trials).values())


def _scored_configs(trials: Sequence[FinishedTrial],
                    metric: str) -> dict[str, list[ConfigResult]]:
    """Model -> its configurations that logged `metric`, for the models that get importance."""
    return {model: configs for model, configs in _configs_by_model(trials, metric).items()
            if why_no_importance(configs, metric) is None}


def _configs_by_model(trials: Sequence[FinishedTrial],
                      metric: str | None = None) -> dict[str, list[ConfigResult]]:
    """Model -> its configurations (those that logged `metric`, when one is named)."""
    by_model: dict[str, list[ConfigResult]] = {}
    for config in aggregate_seeds(trials):
        if metric is None or metric in config.metrics:
            by_model.setdefault(config.model, []).append(config)
    return by_model


def why_no_importance(configs: Sequence[ConfigResult], metric: str) -> str | None:
    """Why one model's configurations (those that logged `metric`) get no importance, or None
    when they do."""
    if len(configs[0].swept) < MIN_SWEPT:
        return f"fewer than {MIN_SWEPT} parameters were swept"
    if len(configs) < MIN_CONFIGS:
        return f"fewer than {MIN_CONFIGS} configurations logged {metric}"
    if len({c.metrics[metric] for c in configs}) == 1:
        return f"every configuration has the same mean {metric}"
    if importance_method(configs) == EXACT and main_effect_shares(configs, metric) is None:
        return f"no swept parameter has a main effect on mean {metric} (only interactions)"
    return None


def importance_method(configs: Sequence[ConfigResult]) -> str:
    """EXACT when `configs` hold every combination of their swept values exactly once, else
    FANOVA."""
    swept = list(configs[0].swept)
    cells = {tuple(_level(c.swept[p]) for p in swept) for c in configs}
    size = math.prod(len({_level(c.swept[p]) for c in configs}) for p in swept)
    return EXACT if len(cells) == len(configs) == size else FANOVA


def _model_importance(model: str, configs: list[ConfigResult], metric: str) -> ModelImportance:
    if importance_method(configs) == FANOVA:
        return ModelImportance(FANOVA, _fanova_importance(model, configs, metric))
    noise = within_seed_noise(configs, metric)
    shares = main_effect_shares(configs, metric)
    assert shares is not None  # why_no_importance left out grids without main effects
    return ModelImportance(EXACT, shares, noise)


def within_seed_noise(configs: Sequence[ConfigResult], metric: str) -> str | None:
    """Why the shares describe noise, when they do: no swept parameter's effect (its best value's
    mean `metric` over its configurations and seeds less its worst value's) reaches twice its
    standard error from the seeds' pooled sd. The shares sum to 1 whatever the effects' size: the
    demo's BERTopic gave num_topics 0.79 for an effect of 0.0155 ARI, where one configuration's two
    seeds differed by 0.084. None when some effect stands out, or the seeds' sd is unknown (one seed
    each). For complete grids only: a random or TPE search's values are mostly one configuration
    each, whose extremes differ by chance beyond two means' standard error."""
    variances = [sd ** 2 for c in configs if (sd := c.sd.get(metric)) is not None]
    if not variances:
        return None
    pooled = math.sqrt(sum(variances) / len(variances))
    largest: tuple[float, str, float] = (-1.0, "", 0.0)
    for name in configs[0].swept:
        effect, error = _effect(configs, name, metric, pooled)
        if effect >= 2 * error:
            return None
        largest = max(largest, (effect, name, error))
    effect, name, error = largest
    return (f"no swept parameter's effect on mean {metric} stands out of the seeds' noise: the "
            f"largest, {name}'s {effect:.4f} between its best and worst values, is under twice "
            f"its standard error {error:.4f} (the seeds' pooled sd is {pooled:.4f}), so these "
            "shares describe noise; more seeds would tell")


def _effect(configs: Sequence[ConfigResult], name: str, metric: str,
            pooled_sd: float) -> tuple[float, float]:
    """Parameter `name`'s effect (its values' highest mean `metric` less their lowest, each
    over the configurations and seeds at that value) and the standard error of that difference
    from the seeds' pooled sd."""
    runs: dict[str, list[float]] = {}
    for config in configs:
        seeds = config.counts.get(metric, config.seeds)
        runs.setdefault(_level(config.swept[name]), []).extend([config.metrics[metric]] * seeds)
    means = {level: sum(values) / len(values) for level, values in runs.items()}
    high, low = max(means, key=means.__getitem__), min(means, key=means.__getitem__)
    error = pooled_sd * math.sqrt(1 / len(runs[high]) + 1 / len(runs[low]))
    return means[high] - means[low], error


def main_effect_shares(configs: Sequence[ConfigResult], metric: str) -> dict[str, float] | None:
    """Each swept parameter's share of the summed main-effect variance of a complete grid:
    the variance over its levels of the metric's mean at that level. None when no parameter has
    a main effect (the metric varies only through interactions)."""
    values = np.array([c.metrics[metric] for c in configs], dtype=float)
    effects: dict[str, float] = {}
    for name in configs[0].swept:
        levels = [_level(c.swept[name]) for c in configs]
        means = {level: values[[lv == level for lv in levels]].mean() for level in set(levels)}
        effects[name] = float(np.var(list(means.values())))
    total = sum(effects.values())
    if total <= 1e-12 * float(np.var(values)):
        return None
    return dict(sorted(((n, v / total) for n, v in effects.items()), key=lambda kv: -kv[1]))


def _level(value: Any) -> str:
    """A swept value as a hashable key (lists and dicts too)."""
    return json.dumps(value, sort_keys=True, default=str)


def _fanova_importance(model: str, configs: list[ConfigResult],
                       metric: str) -> dict[str, float]:
    import optuna
    from optuna.importance import FanovaImportanceEvaluator, get_param_importances

    swept = list(configs[0].swept)
    logs = log_scaled(model)
    distributions = {p: distribution([c.swept[p] for c in configs], p in logs) for p in swept}
    with _quiet_optuna():
        study = optuna.create_study(
            direction="maximize" if higher_is_better(metric) else "minimize")
    study.add_trials([optuna.trial.create_trial(
        params={p: _as_choice(c.swept[p], distributions[p]) for p in swept},
        distributions=distributions, value=c.metrics[metric]) for c in configs])
    found = get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=EVALUATOR_SEED))
    return {name: float(value) for name, value in found.items()}


def distribution(values: Sequence[Any], log: bool) -> Any:
    """Optuna's distribution of a swept parameter's values: categorical for strings, None and
    booleans, int or float ranges for numbers (log-scaled when declared and all positive)."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    if not all(_is_number(v) for v in values):
        return CategoricalDistribution(list(dict.fromkeys(values)))
    low, high = min(values), max(values)
    log = log and low > 0
    if all(isinstance(v, int) for v in values):
        return IntDistribution(int(low), int(high), log=log)
    return FloatDistribution(float(low), float(high), log=log)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _as_choice(value: Any, dist: Any) -> Any:
    from optuna.distributions import FloatDistribution

    return float(value) if isinstance(dist, FloatDistribution) else value


@contextmanager
def _quiet_optuna() -> Iterator[None]:
    """Optuna announces every new study at INFO; a report builds several."""
    logger = logging.getLogger("optuna")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)
