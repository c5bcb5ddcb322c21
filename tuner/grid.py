"""Load a JSON grid, validate every field at once, and expand it into trial settings.

The grid's own sections are declared in tuner/grid_sections.py; this module checks the model
names and their parameters, and counts the trials before it builds a single combination."""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
import math
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainers import canonical_name, load_trainer, registry
from tuner import grid_sections as sections
from tuner.data.corpus import DatasetSpec
from tuner.data.embeddings import EmbeddingSpec
from tuner.data.vocab import Preprocessing
from tuner.engine.search import Range, SearchSpec, Values, sample_random, space_size
from tuner.errors import GridError
from tuner.params import ParamSchema, between, closest, shown
from tuner.trial import MetricSettings

if TYPE_CHECKING:
    from trainers.base import Trainer


@dataclass(frozen=True)
class ModelSweep:
    """One model's parameter space. Its combinations (each a dict of the parameters the grid
    set) are built only when asked for, so a grid can be counted and refused first."""

    model: str
    schema: ParamSchema
    space: dict[str, Values] = field(default_factory=dict)  # what random/TPE search draws from
    sampled: tuple[dict[str, Any], ...] | None = None  # random: the draws; TPE: (); grid: None

    @property
    def size(self) -> int:
        """The number of combinations, from the list lengths alone."""
        if self.sampled is not None:
            return len(self.sampled)
        return math.prod([len(v) for v in self.space.values() if isinstance(v, list)])

    @property
    def combinations(self) -> list[dict[str, Any]]:
        if self.sampled is not None:
            return [dict(c) for c in self.sampled]
        return list(_product(self.space))

    def values_of(self, param: str) -> list[Any]:
        """The values the sweep's trials may give `param`: a random search's draws, a list (a
        TPE search's choices), a range's ends, else the schema's default."""
        if self.sampled:
            return [combo[param] for combo in self.sampled if param in combo]
        values = self.space.get(param)
        if isinstance(values, Range):
            return [values.low, values.high]
        if values is not None:
            return list(values)
        found = self.schema.get(param)
        return [found.default] if found is not None else []


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

    @functools.cached_property
    def trial_count(self) -> int:
        """Trials the grid expands to, counted without building any combination; a TPE search:
        its budget, or the configurations of a smaller finite space, where it ends (else a
        2-value space with n_trials 10,000 counts as 10,000 trials in `validate` and a served
        sweep's total)."""
        if self.search.strategy == "tpe":
            configurations = space_size({s.model: s.space for s in self.sweeps})
            return int(min(self.search.n_trials, configurations)) * len(self.seeds)
        return sum(s.size for s in self.sweeps) * len(self.seeds)

    def swept(self) -> dict[str, list[str]]:
        """Model -> the parameters its part of the grid varies (a list of several values, or a
        range): what a leaderboard row names, even where the trials that finished all hold one
        value (the others failed, or were pruned)."""
        return {s.model: [name for name, values in s.space.items()
                          if not isinstance(values, list) or len(values) > 1]
                for s in self.sweeps}

    def ranking_metric(self, has_truth: bool) -> str:
        """What the leaderboard ranks by: `leaderboard_metric`, else the search's (first)
        objective, so that a TPE search for NPMI is not ranked by ARI, else ARI with a ground
        truth and NPMI without."""
        from tuner.metrics import default_metric

        return self.leaderboard_metric or next(iter(self.search.metrics), None) or \
            default_metric(has_truth)

    @property
    def names_embedding_model(self) -> bool:
        """Whether the grid file names the embedding model (else a model with its own default,
        THETA's Qwen3 of `model_size`, uses that, and the others MiniLM)."""
        embedding = self.raw.get("embedding")
        return isinstance(embedding, dict) and "model" in embedding

    def settings(self) -> dict[str, Any]:
        """The grid's data, embedding and preprocessing sections as they were resolved (the
        dataset's absolute path, every default filled in), as grid JSON: what a sweep records,
        so that `tuner best` rebuilds the grid from what the sweep used, not from its file as it
        is now (edited, or another file of that name where the command runs)."""
        def plain(value: Any) -> Any:
            return list(value) if isinstance(value, tuple) else value

        dataset = {k: plain(v) for k, v in dataclasses.asdict(self.dataset).items()}
        embedding = dataclasses.asdict(self.embedding)
        if sections.is_dir(Path(self.embedding.model)):  # a folder found from where it ran
            embedding["model"] = str(Path(self.embedding.model).resolve())
        return {"dataset": {**dataset, "path": str(self.dataset.path)},
                "ground_truth": None if self.ground_truth is None else str(self.ground_truth),
                "embedding": embedding,
                "preprocessing": {k: plain(v) for k, v in
                                  dataclasses.asdict(self.preprocessing).items()},
                "timeout_s": self.timeout_s}


def load_grid(path: str | Path, max_trials: int | None = None) -> Grid:
    """Read and validate a grid file. Raises GridError listing every problem found, or at once
    when the grid expands to more than `max_trials` trials: counted from the list lengths before
    any combination is drawn or checked, so a small file cannot cost hours of validation."""
    path = Path(path)
    raw = _read_json(path)
    problems = sections.ProblemList(path, sections.top_level_schema().names)
    top = sections.top_level(raw, problems)
    dataset = sections.dataset_spec(top["dataset"], path.parent, problems)
    truth = sections.ground_truth_path(top["ground_truth"], path.parent, problems)
    models = _models(raw, problems)
    search = sections.search_spec(top["search"], problems)
    sections.check_pruned_objective(search, top["leaderboard_metric"], problems)
    seeds = len(top["seeds"]) if isinstance(top["seeds"], list) and top["seeds"] else 1
    sweeps = _sweeps(models, top["params"], search, problems,
                     None if max_trials is None else Limit(path, max_trials, seeds))
    embedding = sections.embedding_spec(top["embedding"], path.parent, problems)
    metrics = sections.metric_settings(top["metrics"], problems)
    preprocessing = sections.preprocessing(top["preprocessing"], problems)
    problems.raise_if_any()
    assert dataset is not None
    timeout = None if top["timeout_s"] is None else float(top["timeout_s"])
    return Grid(path, top["experiment"].strip(), dataset, truth, sweeps, embedding,
                list(top["seeds"]), metrics, preprocessing, timeout, top["leaderboard_metric"],
                raw, top["executor"], search)


def _read_json(path: Path) -> dict[str, Any]:
    if not sections.is_file(path):
        raise GridError([f"{path}: is a folder, not a grid file" if sections.is_dir(path)
                         else f"{path}: grid file not found"])
    try:
        # utf-8-sig: a byte order mark (Windows editors) is read as corpora read it
        raw, repeated = parse_json(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as err:
        raise GridError([f"{path}: not valid UTF-8 ({err.reason})"]) from err
    except json.JSONDecodeError as err:
        raise GridError([f"{path}: not valid JSON: {err.msg} at line {err.lineno} "
                         f"column {err.colno}"]) from err
    except RecursionError as err:
        raise GridError([f"{path}: not a usable grid: JSON nested too deeply"]) from err
    except ValueError as err:  # an integer past Python's 4,300-digit limit
        raise GridError([f"{path}: not a usable grid: a number has too many digits"]) from err
    if not isinstance(raw, dict):
        raise GridError([f"{path}: expects a JSON object at the top level; "
                         f"got {type(raw).__name__}"])
    problems = sections.ProblemList(path, [])
    for key in repeated:
        problems.add(f"key {shown(key)}", "given twice in one object; JSON keeps only the "
                     "last, so say which value you mean")
    try:
        lone_surrogates = list(_not_text(raw))
    except RecursionError as err:
        raise GridError([f"{path}: not a usable grid: JSON nested too deeply"]) from err
    for where in lone_surrogates:
        problems.add(where, "holds a lone surrogate (JSON's \\ud800 to \\udfff alone), which is "
                     "not text; write the character itself, or its surrogate pair")
    problems.raise_if_any()
    return raw


def _not_text(value: Any, where: str = "") -> Iterator[str]:
    """The fields (a.b[2]) whose text, or whose name, has no UTF-8 form: otherwise a lone
    surrogate in an extra stop word passes validation and fails the sweep when the bag of words
    is written."""
    if isinstance(value, str) and not is_text(value):
        yield where or "the grid"
    elif isinstance(value, dict):
        for key, item in value.items():
            if is_text(key):
                yield from _not_text(item, f"{where}.{key}" if where else key)
            else:
                yield f"{where + '.' if where else ''}{ascii(key)} (a field's name)"
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _not_text(item, f"{where}[{i}]")


def is_text(text: str) -> bool:
    """Whether `text` has a UTF-8 form: a lone surrogate (JSON's "\\udfff") has none."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_json(text: str) -> tuple[Any, list[str]]:
    """JSON text's value and the keys its objects repeat, in order, each once: json.loads
    silently keeps the last of two equal keys (`"num_topics": 10, ..., "num_topics": 20` ran
    K=20). Raises what json.loads raises."""
    repeated: dict[str, None] = {}

    def pairs_to_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for key, value in pairs:
            if key in found:
                repeated[key] = None
            found[key] = value
        return found

    return json.loads(text, object_pairs_hook=pairs_to_object), list(repeated)


def _models(raw: Mapping[str, Any], problems: sections.ProblemList) -> list[str]:
    if "model" in raw and "models" in raw:
        problems.add("models", "give either 'model' or 'models', not both")
    value = raw.get("models", raw.get("model"))
    field_name = "models" if "models" in raw else "model"
    if "models" in raw and not isinstance(value, list) and value is not None:
        return []  # a wrong type, "lda,prodlda" too, was reported by the top-level schema
    names = [value] if isinstance(value, str) else value
    if "model" not in raw and "models" not in raw:
        problems.add("models", "missing; give 'model' (one name) or 'models' (a list of names)")
    elif value is None or names == []:
        wanted = "a non-empty list of model names" if field_name == "models" else "a model name"
        problems.add(field_name, f"expects {wanted}; got {shown(value)}")
    if not isinstance(names, list):
        return []  # a wrong type was reported by the top-level schema
    if len(names) > sections.MAX_MODELS:
        problems.add(field_name, f"expects at most {sections.MAX_MODELS} model names; got "
                     f"{len(names)}")
        return []
    models = []
    for i, name in enumerate(names):
        official = canonical_name(name) if isinstance(name, str) else None
        if official is None:
            from trainers import registry

            hint = closest(name, registry()) if isinstance(name, str) else ""
            problems.add(f"{field_name}[{i}]", f"unknown model {shown(name)}{hint}; known: "
                         f"{', '.join(registry())}")
        elif official in models:
            problems.add(f"{field_name}[{i}]", f"model {official} is listed twice")
        else:
            models.append(official)
    return models


@dataclass(frozen=True)
class Limit:
    """The most trials a caller accepts (`--max-trials`), and the grid's seed count."""

    path: Path
    max_trials: int
    seeds: int

    def check(self, spaces: Mapping[str, Mapping[str, Values]], search: SearchSpec) -> None:
        """Refuse a grid that expands to more trials, before anything is built from it."""
        if search.strategy == "grid":
            combinations = sum(math.prod(len(v) for v in space.values() if isinstance(v, list))
                               for space in spaces.values())
        else:
            combinations = search.n_trials
        refuse_over(self.max_trials, self.path, combinations * self.seeds)


def refuse_over(max_trials: int | None, path: Path, trials: int) -> None:
    """Raise the one message for a grid that expands to more trials than `--max-trials`."""
    if max_trials is not None and trials > max_trials:
        raise GridError([f"{path}: the grid expands to {trials} trials, more than "
                         f"--max-trials {max_trials}; narrow the grid or raise --max-trials"])


def _sweeps(models: list[str], params: Any, search: SearchSpec,
            problems: sections.ProblemList, limit: Limit | None = None) -> list[ModelSweep]:
    if not isinstance(params, dict):
        return []  # reported by the top-level schema
    schemas = {m: seed_bounded(load_trainer(m)) for m in models}
    _check_param_names(params, schemas, problems)
    _check_left_out_values(params, schemas, search, problems)
    spaces: dict[str, dict[str, Values]] = {}
    for model, schema in schemas.items():
        checked = {name: _check_values(key, schema, name, vals, search, problems)
                   for name, (key, vals) in _model_values(model, schema, params).items()}
        if all(v is not None for v in checked.values()):
            spaces[model] = {name: v for name, v in checked.items() if v is not None}
        else:  # the rules on its valid values said too, every problem at once: otherwise an
            # alpha of 1e-40 is said only once the grid's other problems are fixed
            valid = {name: v for name, v in checked.items() if v is not None}
            unread = {name for name, v in checked.items() if v is None}
            for problem in _rule_problems(ModelSweep(model, schema, valid, None), unread):
                problems.add("params", problem)
    if limit is not None:
        limit.check(spaces, search)
    refused: dict[str, str] = {}
    sampled = _sampled(spaces, search, refused)
    sweeps = [ModelSweep(m, schemas[m], spaces[m], sampled.get(m)) for m in spaces]
    for sweep in sweeps:
        for problem in _rule_problems(sweep):
            problems.add("params", problem)
        rule = _unsatisfied_rule(sweep, search, refused)
        if rule is not None:
            problems.add("params", f"no configuration drawn from {sweep.model}'s values and "
                         f"ranges keeps its rules ({rule}); change the ranges")
    return sweeps


def _unsatisfied_rule(sweep: ModelSweep, search: SearchSpec, refused: dict[str, str]
                      ) -> str | None:
    """A rule that no configuration drawn from a random or TPE sweep's space keeps (its draws
    are the evidence; TPE's suggestions come from the same space)."""
    if search.strategy == "tpe":
        if sample_random({sweep.model: sweep.space}, 1, search.seed, refused)[sweep.model]:
            return None
    elif search.strategy != "random" or sweep.sampled:
        return None
    return refused.get(sweep.model)


def seed_bounded(trainer: type[Trainer]) -> ParamSchema:
    """The trainer's schema, with its seed parameter (if unbounded) held to the 32-bit range
    that numpy, torch and UMAP accept, so a larger seed is refused before any trial."""
    schema, seed = trainer.params, trainer.seed_param
    param = schema.get(seed) if seed else None
    if param is None or param.constraint.bounds != (None, None):
        return schema
    bounded = param.replace(constraint=between(0, sections.MAX_SEED))
    return dataclasses.replace(schema, params=[bounded if p.name == seed else p
                                               for p in schema.params])


def _sampled(spaces: dict[str, dict[str, Values]], search: SearchSpec,
             refused: dict[str, str]) -> dict[str, tuple[dict[str, Any], ...]]:
    """Random search: the drawn combinations (`refused`: a rule each model's draws broke); TPE:
    none up front; grid: built on demand."""
    if search.strategy == "random" and spaces:
        drawn = sample_random(spaces, search.n_trials, search.seed, refused)
        return {model: tuple(combos) for model, combos in drawn.items()}
    if search.strategy == "tpe":
        return {model: () for model in spaces}
    return {}


def _rule_problems(sweep: ModelSweep, unread: Collection[str] = ()) -> list[str]:
    """Cross-field rules, each checked on every combination of the listed values of the fields
    it reads (never on the full product, which may be astronomically large); once per problem.
    A rule that reads a range is left to the searches, which draw again what breaks it, and one
    that reads a field in `unread` (its values refused) waits for them to be fixed."""
    schema = sweep.schema
    found = []
    for check in schema.checks:
        if unread and set(check.fields) & set(unread):
            continue
        read = {name: _distinct(values) for name, values in sweep.space.items()
                if name in check.fields}
        if any(isinstance(values, Range) for values in read.values()):
            continue
        found += [p for combo in _product(read)
                  if (p := schema.rule_problem(check, schema.with_defaults(combo)))]
    return list(dict.fromkeys(found))


def _distinct(values: Values) -> Values:
    """A value list without repeats (a rule judges each value once), else the range as it is."""
    if not isinstance(values, list):
        return values
    return list({json.dumps(v, sort_keys=True): v for v in values}.values())


def _product(space: Mapping[str, Values]) -> Iterator[dict[str, Any]]:
    """Every combination of a space of value lists, first parameter slowest."""
    for combo in itertools.product(*space.values()):  # type: ignore[arg-type]
        yield dict(zip(space, combo, strict=True))


def _check_param_names(params: Mapping[str, Any], schemas: Mapping[str, ParamSchema],
                       problems: sections.ProblemList) -> None:
    for key in params:
        scope, _, name = key.rpartition(".")
        if scope:
            model = canonical_name(scope)
            if model is None:
                problems.add(f"params.{key}", f"no model '{scope}' (this grid's models: "
                             f"{', '.join(schemas)}){closest(scope, registry())}")
                continue
            # a model left out of `models` keeps its settings for when it is back, checked all
            # the same (removing prodlda from `models` must not refuse the grid over
            # prodlda.epochs); validate says they are not used
            schema = schemas[model] if model in schemas else load_trainer(model).params
            if schema.get(name) is None:  # prodlda.learning_rte: said what it meant
                problems.add(f"params.{key}", f"{model} has no parameter '{name}'"
                             f"{_other_section(name) or closest(name, schema.names)}"
                             f" ({model} has {', '.join(schema.names)})")
        elif schemas and not any(s.get(name) for s in schemas.values()):
            problems.add(f"params.{key}", f"no model in this grid has a parameter '{name}'"
                         f"{_other_section(name) or _did_you_mean(name, schemas.values())}"
                         f"{_models_with(name)}")


def _check_left_out_values(params: Mapping[str, Any], schemas: Mapping[str, ParamSchema],
                           search: SearchSpec, problems: sections.ProblemList) -> None:
    """The values of settings of models that `models` leaves out, checked as if they ran: a
    value the model would refuse would otherwise stay unsaid until the model is back."""
    for model in sorted({model for model, _ in left_out_settings(params, schemas)}):
        schema = seed_bounded(load_trainer(model))
        for name, (key, values) in _model_values(model, schema, params).items():
            if "." in key:  # its own settings; the shared ones are checked for the grid's models
                _check_values(key, schema, name, values, search, problems)


def left_out_settings(params: Mapping[str, Any], models: Collection[str]
                      ) -> list[tuple[str, str]]:
    """(model, grid key) of each setting scoped to a known model that `models` leaves out."""
    return [(model, key) for key in params if "." in key
            and (model := canonical_name(key.rpartition(".")[0])) is not None
            and model not in models]


def _other_section(name: str) -> str:
    """Where a setting of another section belongs: `params.max_df` is preprocessing.max_df (a
    new user's mistake)."""
    for section, schema in (("preprocessing", sections.PREPROCESSING),
                            ("embedding", sections.EMBEDDING), ("metrics", sections.METRICS)):
        if schema.get(name) is not None:
            return f"; it is a setting of the grid's {section} section: {section}.{name}"
    if name in ("seed", "seeds", "random_seed"):  # params.seed: a user's mistake too
        return "; a trial's seed comes from the grid's top-level \"seeds\" list"
    return ""


def _models_with(name: str) -> str:
    """"; ProdLDA, ETM ... have a parameter 'epochs'" for a parameter only built-in models
    outside the grid have: "no model in this grid has a parameter 'epochs'" alone says no more.
    Built-ins only: validation imports no plug-in the grid does not name."""
    having = _builtin_params().get(name, [])
    if not having:
        return ""
    return f"; {', '.join(having)} {'has' if len(having) == 1 else 'have'} a parameter '{name}'"


@functools.cache
def _builtin_params() -> dict[str, list[str]]:
    """Parameter name -> the built-in models that have it, read once."""
    from trainers import BUILTIN

    having: dict[str, list[str]] = {}
    for model in BUILTIN:
        for param in load_trainer(model).params.names:
            having.setdefault(param, []).append(model)
    return having


def _did_you_mean(name: str, schemas: Iterable[ParamSchema]) -> str:
    """The grid's parameter names closest to a misspelt one ("num_topcs"), if any is close."""
    return closest(name, (n for schema in schemas for n in schema.names))


def param_field(grid: Grid, sweep: ModelSweep, name: str, value: Any) -> str:
    """Where the grid sets a model's parameter to `value`, as its problems name it:
    "params.dtm.time_slices[1]", "params.num_topics", or "params.<name>" for a default."""
    raw = grid.raw.get("params")
    found = _model_values(sweep.model, sweep.schema, raw if isinstance(raw, dict) else {})
    if name not in found:
        return f"params.{name}"
    key, values = found[name]
    if isinstance(values, list) and value in values:
        return f"params.{key}[{values.index(value)}]"
    return f"params.{key}"


def _model_values(model: str, schema: ParamSchema,
                  params: Mapping[str, Any]) -> dict[str, tuple[str, Any]]:
    """name -> (grid key, value as given: one, a list or a range) for one model; a scoped key
    overrides an unscoped one."""
    values: dict[str, tuple[str, Any]] = {}
    for key, value in params.items():
        scope, _, name = key.rpartition(".")
        if schema.get(name) is None or (scope and canonical_name(scope) != model):
            continue
        if not scope and name in values:
            continue
        values[name] = (key, value)
    return values


def _check_values(key: str, schema: ParamSchema, name: str, values: Any, search: SearchSpec,
                  problems: sections.ProblemList) -> Values | None:
    """The validated choices (a list) or range of one parameter; None if it has problems."""
    if isinstance(values, dict):
        return _check_range(key, schema, name, values, search, problems)
    listed = isinstance(values, list)  # its items are named by index, even the one of [x]
    if not listed:
        values = [values]
    if not values:
        problems.add(f"params.{key}", "expects a value or a non-empty list of values; got []")
        return None
    if len(values) > sections.MAX_VALUES:
        problems.add(f"params.{key}", f"expects at most {sections.MAX_VALUES} values; got "
                     f"{len(values)}")
        return None
    found = False
    for i, value in enumerate(values):
        for problem in schema.value_problems(name, value):
            problems.add(f"params.{key}[{i}]" if listed else f"params.{key}", problem)
            found = True
    return None if found else list(values)


def _check_range(key: str, schema: ParamSchema, name: str, values: dict[str, Any],
                 search: SearchSpec, problems: sections.ProblemList) -> Range | None:
    """A {"low", "high", "log"} range: only for random/TPE search, both ends valid, low < high."""
    where = f"params.{key}"
    if search.strategy == "grid":
        if not search.stand_in:  # else the section asked for another strategy, and is broken
            problems.add(where, "a range needs search.strategy random or tpe; list the values "
                         "to sweep them as a grid")
        return None
    if set(values) - {"low", "high", "log"} or "low" not in values or "high" not in values:
        problems.add(where, f'expects {{"low": ..., "high": ..., "log": false}}; got {values!r}')
        return None
    param = schema.get(name)
    if param is not None and param.type not in (int, float):
        # Drawn as a float: a bool range would be true for every draw but 0.0, a string one
        # would crash
        problems.add(where, f"a range needs a number parameter; {name} is "
                     f"{param.type.__name__}: list its values to search them")
        return None
    if not isinstance(values.get("log", False), bool):
        problems.add(f"{where}.log", f"expects true or false; got {shown(values['log'])}")
        return None
    found = [(f"{where}.{end}", p) for end in ("low", "high")
             for p in schema.value_problems(name, values[end])]
    found += [(f"{where}.{end}", "expects a number; got "
               + ("null" if values[end] is None else shown(values[end])))
              for end in ("low", "high") if not found and not _number(values[end])]
    if not found and not values["low"] < values["high"]:
        found.append((where, f"expects low < high; got {values['low']} and {values['high']}"))
    if not found and values.get("log") and values["low"] <= 0:
        found.append((where, f"a log range needs low > 0; got {values['low']}"))
    for field_path, problem in found:
        problems.add(field_path, problem)
    if found:
        return None
    return Range(float(values["low"]), float(values["high"]), bool(values.get("log", False)),
                 param is not None and param.type is int)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
