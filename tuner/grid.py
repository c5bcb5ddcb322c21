"""Load a JSON grid, validate every field at once, and expand it into trial settings."""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainers import canonical_name, load_trainer
from tuner.data.corpus import SUPPORTED_SUFFIXES, DatasetSpec
from tuner.data.embeddings import EmbeddingSpec
from tuner.data.vocab import STOP_LISTS, Preprocessing
from tuner.engine.search import STRATEGIES, Range, SearchSpec, Values, sample_random
from tuner.errors import GridError
from tuner.params import ParamSchema
from tuner.trial import MetricSettings

TOP_LEVEL = {"experiment", "dataset", "ground_truth", "model", "models", "params", "embedding",
             "seeds", "metrics", "preprocessing", "timeout_s", "leaderboard_metric", "executor",
             "search"}
DATASET_FIELDS = {"path", "text_field", "id_field", "label_field", "timestamp_field", "language",
                  "covariates"}
EMBEDDING_FIELDS = {"model", "pooling", "max_length", "batch_size", "text_variant", "revision"}
POOLINGS = ("mean", "cls", "last_token")
METRIC_RANGES = {"npmi_window": (2, 200), "topn": (2, 50), "diversity_topn": (1, 100)}
PREPROCESSING_FIELDS = {"lowercase": bool, "stopwords": str, "min_token_len": int,
                        "min_df": int, "max_df": float, "strip_quotes": bool,
                        "strip_headers": bool}


@dataclass(frozen=True)
class ModelSweep:
    """One model's parameter combinations: each a dict of the parameters the grid set."""

    model: str
    schema: ParamSchema
    combinations: list[dict[str, Any]]
    space: dict[str, Values] = field(default_factory=dict)  # what random/TPE search draws from


@dataclass(frozen=True)
class Grid:
    """A validated grid."""

    path: Path
    experiment: str
    dataset: DatasetSpec
    ground_truth: Path | None
    sweeps: list[ModelSweep]
    embedding: EmbeddingSpec
    seeds: list[int]
    metrics: MetricSettings
    preprocessing: Preprocessing
    timeout_s: float | None = None
    leaderboard_metric: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)
    executor: str = "process"
    search: SearchSpec = SearchSpec()

    @property
    def trial_count(self) -> int:
        if self.search.strategy == "tpe":
            return self.search.n_trials * len(self.seeds)
        return sum(len(s.combinations) for s in self.sweeps) * len(self.seeds)


class _Problems:
    """Collects problems so validation reports every one at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{self.path}: {where}: {message}")

    def raise_if_any(self) -> None:
        if self.items:
            raise GridError(self.items)


def load_grid(path: str | Path) -> Grid:
    """Read and validate a grid file. Raises GridError listing every problem found."""
    path = Path(path)
    raw = _read_json(path)
    problems = _Problems(path)
    for key in sorted(set(raw) - TOP_LEVEL):
        problems.add(key, f"unknown field; allowed: {', '.join(sorted(TOP_LEVEL))}")
    experiment = _experiment(raw, problems)
    dataset = _dataset(raw.get("dataset"), path.parent, problems)
    truth = _ground_truth(raw.get("ground_truth"), path.parent, dataset, problems)
    models = _models(raw, problems)
    search = _search(raw.get("search"), problems)
    sweeps = _sweeps(models, raw.get("params", {}), search, problems)
    embedding = _embedding(raw.get("embedding", {}), problems)
    seeds = _seeds(raw.get("seeds", [42]), problems)
    metrics = _metrics(raw.get("metrics", {}), problems)
    preprocessing = _preprocessing(raw.get("preprocessing", {}), problems)
    timeout = _timeout(raw.get("timeout_s"), problems)
    leaderboard = _leaderboard_metric(raw.get("leaderboard_metric"), problems)
    executor = raw.get("executor", "process")
    if executor not in ("process", "dask"):
        problems.add("executor", f"expects one of process/dask; got {executor!r}")
    problems.raise_if_any()
    assert dataset is not None
    return Grid(path, experiment, dataset, truth, sweeps, embedding, seeds, metrics,
                preprocessing, timeout, leaderboard, raw, executor, search)


def _leaderboard_metric(value: Any, problems: _Problems) -> str | None:
    from tuner.metrics import rankable_metrics

    known = rankable_metrics()
    if value is not None and value not in known:
        problems.add("leaderboard_metric", f"expects one of {', '.join(known)}; got {value!r}")
        return None
    return value  # type: ignore[no-any-return]


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise GridError([f"{path}: grid file not found"])
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise GridError([f"{path}: not valid UTF-8 ({err.reason})"]) from err
    except json.JSONDecodeError as err:
        raise GridError([f"{path}: not valid JSON: {err.msg} at line {err.lineno} "
                         f"column {err.colno}"]) from err
    if not isinstance(raw, dict):
        raise GridError([f"{path}: expects a JSON object at the top level; "
                         f"got {type(raw).__name__}"])
    return raw


def _experiment(raw: Mapping[str, Any], problems: _Problems) -> str:
    value = raw.get("experiment")
    if not isinstance(value, str) or not value.strip():
        problems.add("experiment", f"expects a non-empty string; got {value!r}")
        return ""
    return value.strip()


def _dataset(value: Any, base: Path, problems: _Problems) -> DatasetSpec | None:
    if not isinstance(value, dict):
        problems.add("dataset", f"expects an object with at least 'path'; got {value!r}")
        return None
    for key in sorted(set(value) - DATASET_FIELDS):
        problems.add(f"dataset.{key}",
                     f"unknown field; allowed: {', '.join(sorted(DATASET_FIELDS))}")
    raw_path = value.get("path")
    if not isinstance(raw_path, str) or not raw_path:
        problems.add("dataset.path", f"expects a file path; got {raw_path!r}")
        return None
    path = (base / raw_path).resolve()
    if not path.is_file():
        problems.add("dataset.path", f"file not found: {path}")
    elif path.suffix.lower() not in SUPPORTED_SUFFIXES:
        problems.add("dataset.path", f"expects .jsonl, .csv or .parquet; got '{path.suffix}'")
    fields = {k: value.get(k, d) for k, d in (("text_field", "text"), ("id_field", "id"),
                                               ("label_field", "label"),
                                               ("timestamp_field", None))}
    for key, field_name in fields.items():
        if field_name is not None and (not isinstance(field_name, str) or not field_name):
            problems.add(f"dataset.{key}", f"expects a field name or null; got {field_name!r}")
    language = value.get("language", "en")
    if language not in ("en", "zh"):
        problems.add("dataset.language", f"expects one of en/zh; got {language!r}")
    covariates = value.get("covariates", [])
    if not isinstance(covariates, list) or not all(isinstance(c, str) for c in covariates):
        problems.add("dataset.covariates", f"expects a list of field names; got {covariates!r}")
        covariates = []
    return DatasetSpec(path, str(fields["text_field"]), str(fields["id_field"]),
                       fields["label_field"], fields["timestamp_field"], language,
                       tuple(covariates))


def _ground_truth(value: Any, base: Path, dataset: DatasetSpec | None,
                  problems: _Problems) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        problems.add("ground_truth", f"expects null (use the label field) or a JSON file path; "
                     f"got {value!r}")
        return None
    path = (base / value).resolve()
    if not path.is_file():
        problems.add("ground_truth", f"file not found: {path}")
    return path


def _models(raw: Mapping[str, Any], problems: _Problems) -> list[str]:
    if "model" in raw and "models" in raw:
        problems.add("models", "give either 'model' or 'models', not both")
    value = raw.get("models", raw.get("model"))
    field_name = "models" if "models" in raw else "model"
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names:
        problems.add(field_name, f"expects a model name or a non-empty list; got {value!r}")
        return []
    models = []
    for i, name in enumerate(names):
        official = canonical_name(name) if isinstance(name, str) else None
        if official is None:
            from trainers import registry

            problems.add(f"{field_name}[{i}]", f"unknown model {name!r}; known: "
                         f"{', '.join(registry())}")
        elif official in models:
            problems.add(f"{field_name}[{i}]", f"model {official} is listed twice")
        else:
            models.append(official)
    return models


def _sweeps(models: list[str], params: Any, search: SearchSpec,
            problems: _Problems) -> list[ModelSweep]:
    if not isinstance(params, dict):
        problems.add("params", f"expects an object of parameter values; got {params!r}")
        return []
    schemas = {m: load_trainer(m).params for m in models}
    _check_param_names(params, schemas, problems)
    spaces: dict[str, dict[str, Values]] = {}
    for model, schema in schemas.items():
        checked = {name: _check_values(key, schema, name, vals, search, problems)
                   for name, (key, vals) in _model_values(model, schema, params).items()}
        if all(v is not None for v in checked.values()):
            spaces[model] = {name: v for name, v in checked.items() if v is not None}
    combos = _combinations(spaces, search)
    for model, model_combos in combos.items():
        for combo in model_combos:
            for problem in schemas[model].cross_problems(schemas[model].with_defaults(combo)):
                problems.add("params", problem)
    return [ModelSweep(m, schemas[m], combos.get(m, []), spaces[m]) for m in spaces]


def _combinations(spaces: dict[str, dict[str, Values]],
                  search: SearchSpec) -> dict[str, list[dict[str, Any]]]:
    if search.strategy == "random" and spaces:
        return sample_random(spaces, search.n_trials, search.seed)
    if search.strategy == "tpe":
        return {}
    return {model: [dict(zip(space, combo, strict=True))
                    for combo in itertools.product(*space.values())]  # type: ignore[arg-type]
            for model, space in spaces.items()}


def _search(value: Any, problems: _Problems) -> SearchSpec:
    if value is None:
        return SearchSpec()
    if not isinstance(value, dict) or value.get("strategy") not in STRATEGIES:
        problems.add("search.strategy", f"expects one of {'/'.join(STRATEGIES)}; "
                     f"got {value.get('strategy') if isinstance(value, dict) else value!r}")
        return SearchSpec()
    for key in sorted(set(value) - {"strategy", "n_trials", "seed", "metric", "metrics"}):
        problems.add(f"search.{key}", "unknown field; allowed: strategy, n_trials, seed, "
                     "metric, metrics")
    n_trials, seed = value.get("n_trials", 0), value.get("seed", 0)
    if value["strategy"] != "grid" and (not isinstance(n_trials, int) or isinstance(n_trials, bool)
                                        or not 1 <= n_trials <= 100000):
        problems.add("search.n_trials", f"expects an int in 1-100000; got {n_trials!r}")
    if not isinstance(seed, int) or isinstance(seed, bool):
        problems.add("search.seed", f"expects an int; got {seed!r}")
    metrics = value.get("metrics", [value["metric"]] if "metric" in value else [])
    from tuner.metrics import rankable_metrics

    for i, metric in enumerate(metrics):
        if metric not in rankable_metrics():
            problems.add(f"search.metrics[{i}]", f"expects one of "
                         f"{', '.join(rankable_metrics())}; got {metric!r}")
    return SearchSpec(value["strategy"], n_trials if isinstance(n_trials, int) else 0,
                      seed if isinstance(seed, int) else 0, tuple(metrics))


def _check_param_names(params: Mapping[str, Any], schemas: Mapping[str, ParamSchema],
                       problems: _Problems) -> None:
    for key in params:
        scope, _, name = key.rpartition(".")
        if scope:
            model = canonical_name(scope) or scope
            if model not in schemas:
                problems.add(f"params.{key}", f"model '{scope}' is not in this grid's models "
                             f"({', '.join(schemas)})")
            elif schemas[model].get(name) is None:
                problems.add(f"params.{key}", f"{model} has no parameter '{name}'; it has "
                             f"{', '.join(schemas[model].names)}")
        elif schemas and not any(s.get(name) for s in schemas.values()):
            problems.add(f"params.{key}", f"no model in this grid has a parameter '{name}'")


def _model_values(model: str, schema: ParamSchema,
                  params: Mapping[str, Any]) -> dict[str, tuple[str, Any]]:
    """name -> (grid key, values) for one model; a scoped key overrides an unscoped one."""
    values: dict[str, tuple[str, Any]] = {}
    for key, value in params.items():
        scope, _, name = key.rpartition(".")
        if schema.get(name) is None or (scope and canonical_name(scope) != model):
            continue
        if not scope and name in values:
            continue
        values[name] = (key, value if isinstance(value, (list, dict)) else [value])
    return values


def _check_values(key: str, schema: ParamSchema, name: str, values: Any, search: SearchSpec,
                  problems: _Problems) -> Values | None:
    """The validated choices (a list) or range of one parameter; None if it has problems."""
    if isinstance(values, dict):
        return _check_range(key, schema, name, values, search, problems)
    if not values:
        problems.add(f"params.{key}", "expects a value or a non-empty list of values; got []")
        return None
    found = False
    for i, value in enumerate(values):
        for problem in schema.value_problems(name, value):
            problems.add(f"params.{key}[{i}]" if len(values) > 1 else f"params.{key}", problem)
            found = True
    return None if found else list(values)


def _check_range(key: str, schema: ParamSchema, name: str, values: dict[str, Any],
                 search: SearchSpec, problems: _Problems) -> Range | None:
    """A {"low", "high", "log"} range: only for random/TPE search, both ends valid, low < high."""
    where = f"params.{key}"
    if search.strategy == "grid":
        problems.add(where, "a range needs search.strategy random or tpe; list the values to "
                     "sweep them as a grid")
        return None
    if set(values) - {"low", "high", "log"} or "low" not in values or "high" not in values:
        problems.add(where, f'expects {{"low": ..., "high": ..., "log": false}}; got {values!r}')
        return None
    found = [(f"{where}.{end}", p) for end in ("low", "high")
             for p in schema.value_problems(name, values[end])]
    if not found and not values["low"] < values["high"]:
        found.append((where, f"expects low < high; got {values['low']} and {values['high']}"))
    if not found and values.get("log") and values["low"] <= 0:
        found.append((where, f"a log range needs low > 0; got {values['low']}"))
    for field_path, problem in found:
        problems.add(field_path, problem)
    if found:
        return None
    param = schema.get(name)
    return Range(float(values["low"]), float(values["high"]), bool(values.get("log", False)),
                 param is not None and param.type is int)


def _embedding(value: Any, problems: _Problems) -> EmbeddingSpec:
    if not isinstance(value, dict):
        problems.add("embedding", f"expects an object; got {value!r}")
        return EmbeddingSpec()
    for key in sorted(set(value) - EMBEDDING_FIELDS):
        problems.add(f"embedding.{key}", f"unknown field; allowed: "
                     f"{', '.join(sorted(EMBEDDING_FIELDS))}")
    spec = EmbeddingSpec(**{k: v for k, v in value.items() if k in EMBEDDING_FIELDS})
    if not isinstance(spec.model, str) or not spec.model:
        problems.add("embedding.model",
                     f"expects a Hugging Face id or a folder; got {spec.model!r}")
    if spec.pooling not in POOLINGS:
        problems.add("embedding.pooling", f"expects one of {'/'.join(POOLINGS)}; "
                     f"got {spec.pooling!r}")
    for name, low, high in (("max_length", 8, 32768), ("batch_size", 1, 4096)):
        number = getattr(spec, name)
        if isinstance(number, bool) or not isinstance(number, int) or not low <= number <= high:
            problems.add(f"embedding.{name}", f"expects an int in {low}-{high}; got {number!r}")
    if spec.text_variant != "raw":
        problems.add("embedding.text_variant", f"expects raw; got {spec.text_variant!r}")
    return spec


def _seeds(value: Any, problems: _Problems) -> list[int]:
    seeds = [value] if isinstance(value, int) and not isinstance(value, bool) else value
    if (not isinstance(seeds, list) or not seeds
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)):
        problems.add("seeds", f"expects a non-empty list of non-negative ints; got {value!r}")
        return []
    if len(set(seeds)) != len(seeds):
        problems.add("seeds", f"expects distinct seeds; got {value!r}")
    return list(seeds)


def _metrics(value: Any, problems: _Problems) -> MetricSettings:
    if not isinstance(value, dict):
        problems.add("metrics", f"expects an object; got {value!r}")
        return MetricSettings()
    for key in sorted(set(value) - set(METRIC_RANGES)):
        problems.add(f"metrics.{key}", f"unknown field; allowed: {', '.join(METRIC_RANGES)}")
    for key, (low, high) in METRIC_RANGES.items():
        number = value.get(key, getattr(MetricSettings, key))
        if isinstance(number, bool) or not isinstance(number, int) or not low <= number <= high:
            problems.add(f"metrics.{key}", f"expects an int in {low}-{high}; got {number!r}")
            return MetricSettings()
    return MetricSettings(**{k: v for k, v in value.items() if k in METRIC_RANGES})


def _preprocessing(value: Any, problems: _Problems) -> Preprocessing:
    if not isinstance(value, dict):
        problems.add("preprocessing", f"expects an object; got {value!r}")
        return Preprocessing()
    ok = True
    for key, item in value.items():
        expected = PREPROCESSING_FIELDS.get(key)
        if expected is None:
            problems.add(f"preprocessing.{key}", f"unknown field; allowed: "
                         f"{', '.join(PREPROCESSING_FIELDS)}")
            ok = False
        elif not isinstance(item, expected) or (expected is int and isinstance(item, bool)):
            if not (expected is float and isinstance(item, int) and not isinstance(item, bool)):
                problems.add(f"preprocessing.{key}", f"expects {expected.__name__}; got {item!r}")
                ok = False
    if not ok:
        return Preprocessing()
    settings = Preprocessing(**value)
    if settings.stopwords not in STOP_LISTS:
        problems.add("preprocessing.stopwords", f"expects {'/'.join(STOP_LISTS)}; "
                     f"got {settings.stopwords!r}")
    if not 0 < settings.max_df <= 1:
        problems.add("preprocessing.max_df", f"expects a float in (0, 1]; got {settings.max_df}")
    if not 1 <= settings.min_df <= 1000:
        problems.add("preprocessing.min_df", f"expects an int in 1-1000; got {settings.min_df}")
    if not 1 <= settings.min_token_len <= 10:
        problems.add("preprocessing.min_token_len",
                     f"expects an int in 1-10; got {settings.min_token_len}")
    return settings


def _timeout(value: Any, problems: _Problems) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        problems.add("timeout_s", f"expects a number of seconds > 0; got {value!r}")
        return None
    return float(value)
