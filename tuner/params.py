"""Declarative parameter schemas: one declaration validates, fills defaults and renders docs."""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

ParamValue = Any


@dataclass(frozen=True)
class Constraint:
    """A self-describing check on one value: `describe` says what is allowed."""

    describe: str
    check: Callable[[Any], bool]
    bounds: tuple[float | None, float | None] = (None, None)
    choices: tuple[Any, ...] | None = None
    whole: bool = False  # `describe` is the whole allowed text ("a non-empty string")
    item: Param | None = None  # for lists: what each item must be (checked one by one)
    max_items: int | None = None  # for lists: the most items (checked before any item)

    def __call__(self, value: Any) -> bool:
        return self.check(value)


def between(low: float, high: float) -> Constraint:
    """Closed interval [low, high]."""
    return Constraint(f"{_fmt(low)}-{_fmt(high)}", lambda v: low <= v <= high, (low, high))


def above(low: float) -> Constraint:
    """Open interval (low, inf)."""
    return Constraint(f">{_fmt(low)}", lambda v: v > low, (low, None))


def one_of(*choices: Any) -> Constraint:
    """One of a fixed set of values."""
    text = "/".join(str(c) for c in choices)
    return Constraint(f"one of {text}", lambda v: v in choices, choices=tuple(choices))


def above_up_to(low: float, high: float) -> Constraint:
    """Half-open interval (low, high]."""
    return Constraint(f"({_fmt(low)}, {_fmt(high)}]", lambda v: low < v <= high, (low, high))


def anything() -> Constraint:
    """No constraint beyond the type."""
    return Constraint("any value", lambda v: True)


def non_empty() -> Constraint:
    """A string with at least one non-blank character."""
    return Constraint("a non-empty string", lambda v: bool(v.strip()), whole=True)


def list_of(item: Param, *, min_len: int = 0, max_len: int | None = None,
            distinct: bool = False) -> Constraint:
    """A JSON list whose items each satisfy `item`; optionally non-empty, at most `max_len`
    long and without repeats."""
    most = f"at most {max_len} " if max_len is not None else ""
    text = f"a {'non-empty ' if min_len else ''}list of {most}{'distinct ' if distinct else ''}" \
           f"values, each {item.allowed()}"

    def check(values: list[Any]) -> bool:
        keys = {repr(v) for v in values}  # repr: items need not be hashable
        return len(values) >= min_len and (not distinct or len(keys) == len(values))

    return Constraint(text, check, whole=True, item=item, max_items=max_len)


SHOWN_CHARS = 120  # of a value quoted in a problem: a 0.5 MB list made a 13.5 MB answer


def shown(value: Any) -> str:
    """`repr(value)`, cut to SHOWN_CHARS characters."""
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else f"{text[:SHOWN_CHARS]}... ({len(text)} characters)"


def _fmt(x: float) -> str:
    if isinstance(x, float) and (x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e5)):
        return f"{x:g}"
    return str(x)


# `object`: a value of more than one JSON type (a field name or a list of them), which the
# parameter's constraint says
_TYPE_NAMES = {int: "an int", float: "a float", str: "a string", bool: "a boolean",
               list: "a list", dict: "an object", object: "a value"}


@dataclass(frozen=True)
class Param:
    """One parameter of a model: name, type, default, constraint and one line of help."""

    name: str
    type: type
    default: ParamValue
    constraint: Constraint
    help: str
    nullable: bool = False
    default_text: str | None = None  # how the docs show a computed default, e.g. "1/K"
    # What null means, computed from the parameter set after unused values were reset and
    # earlier nulls resolved (LDA alpha: 1/K). Trials are keyed on the resolved value, so
    # `alpha: null` and `alpha: 0.1` at K=10 are one trial.
    resolve: Callable[[Mapping[str, Any]], ParamValue] | None = None
    # When the value has no effect (BERTopic's HDBSCAN settings under k-means): trials are keyed
    # on the default instead, so combinations that differ only here are one trial. It reads the
    # parameters as given, so it may only read parameters that are never reset themselves.
    unused_when: Callable[[Mapping[str, Any]], bool] | None = None
    log_scale: bool = False  # values spread over decades: plots and importance use a log axis

    def replace(self, **changes: Any) -> Param:
        """A copy with some fields changed (e.g. a model-specific default)."""
        return dataclasses.replace(self, **changes)

    def allowed(self) -> str:
        """What the parameter accepts, as error messages and docs say it."""
        constraint = self.constraint
        if constraint.choices is not None or constraint.whole:
            text = constraint.describe
        elif constraint.describe == "any value":
            text = _TYPE_NAMES[self.type]
        else:
            text = f"{_TYPE_NAMES[self.type]} in {constraint.describe}"
        return text + (" or null" if self.nullable else "")

    def problem(self, value: Any) -> str | None:
        """Return why `value` is not allowed, or None when it is (the first problem of a list)."""
        found = self.problems(value)
        return found[0][1] if found else None

    def problems(self, value: Any) -> list[tuple[str, str]]:
        """(where, why) for each problem: where is "" for the value, "[i]" for a list item.
        Numbers must be finite: NaN and infinity are refused wherever a number is accepted."""
        if value is None:
            return [] if self.nullable else [("", f"expects {self.allowed()}; got null")]
        if not _has_type(value, self.type):
            why = "not a finite number" if self.type in (int, float) and _non_finite(value) \
                else type(value).__name__
            return [("", f"expects {self.allowed()}; got {shown(value)} ({why})")]
        most = self.constraint.max_items
        if most is not None and len(value) > most:
            return [("", f"expects {self.allowed()}; got a list of {len(value)} values")]
        item = self.constraint.item
        if item is not None:
            items = [(f"[{i}]", p) for i, v in enumerate(value) if (p := item.problem(v))]
            if items:  # and what the list's other items break together (a repeat), at once
                fine = [v for v in value if not item.problem(v)]
                whole = [("", f"expects {self.allowed()}; got {shown(value)}")] \
                    if fine and not self.constraint(fine) else []
                return items + whole
        if not self.constraint(value):
            return [("", f"expects {self.allowed()}; got {shown(value)}{self._nearest(value)}")]
        return []

    def _nearest(self, value: Any) -> str:
        """"; did you mean ...?" for a misspelt choice ("nmpi" for npmi)."""
        choices = self.constraint.choices
        if choices is None or not isinstance(value, str):
            return ""
        return closest(value, (str(c) for c in choices))

    def coerce(self, value: Any) -> Any:
        """Turn an accepted JSON value into the declared type (int 1 for a float -> 1.0)."""
        if value is None or self.type in (list, dict, object):
            return value
        return self.type(value)

    def doc_default(self) -> str:
        if self.default_text is not None:
            return self.default_text
        if self.default is None:
            return "null" if self.nullable else "required"
        return str(self.default)


def closest(name: str, names: Iterable[str]) -> str:
    """"; did you mean 'x'?" for the names closest to a misspelt one ("seed"), if any is close;
    a name in another case first (difflib finds no "ID" for "id")."""
    known = sorted(set(names))
    lowered = {n.lower(): n for n in known}  # spelling compared in one case: "bertopc" is
    # BERTopic's
    close = [n for n in known if n.lower() == name.lower()] or \
        [lowered[c] for c in difflib.get_close_matches(name.lower(), lowered, n=3, cutoff=0.75)]
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def _doc_allowed(param: Param) -> str:
    return param.constraint.describe + (" or null" if param.nullable else "")


def _non_finite(value: Any) -> bool:
    """NaN or infinity, which JSON's NaN and Infinity read as, said as such: "got inf (float)"
    alone does not say why a number above 0 is refused."""
    return isinstance(value, float) and not math.isfinite(value)


def _has_type(value: Any, expected: type) -> bool:
    if isinstance(value, bool):
        return expected is bool
    if expected is float:
        return isinstance(value, (int, float)) and _finite_as_float(value)
    return isinstance(value, expected)


def _finite_as_float(value: int | float) -> bool:
    """Whether `value` is a finite float or an int a float holds: a JSON integer of 4,000
    digits raises OverflowError here, else a 500 from the service."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


@dataclass(frozen=True)
class CrossCheck:
    """A rule spanning several parameters, e.g. `kl_warmup <= epochs`."""

    describe: str
    fields: tuple[str, ...]
    check: Callable[[Mapping[str, Any]], bool]


FLOAT32_PRIOR = (1e-30, 1e30)  # what a float32 holds with room to spare


def float32_priors(*names: str) -> list[CrossCheck]:
    """Priors of a library that keeps them as float32 (tomotopy): a value below about 1.4e-45
    becomes 0 and one above 3.4e38 infinite, and the library aborts its worker (SIGABRT, "wrong
    alpha value") or gives NaN, where validation without these checks passes them."""
    low, high = FLOAT32_PRIOR
    return [CrossCheck(f"{low:g} <= {name} <= {high:g} (kept as float32)", (name,),
                       _holds_float32(name)) for name in names]


def _holds_float32(name: str) -> Callable[[Mapping[str, Any]], bool]:
    low, high = FLOAT32_PRIOR
    return lambda p: p[name] is None or low <= p[name] <= high


# What a trial run logs beside its model's parameters (tuner.tracking.records.NOT_MODEL_PARAMS):
# the model, the seed, the data its scores were judged on and the metric settings. No trainer's
# parameter may take one of these names: read back from its runs, it would be lost.
RUN_PARAMS = ("model", "seed", "data", "npmi_window", "topn", "diversity_topn", "npmi_reference")


@dataclass(frozen=True)
class ParamSchema:
    """The complete, explicit parameter list of one model."""

    model: str
    params: Sequence[Param]
    checks: Sequence[CrossCheck] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.model}: duplicate parameter names in {names}")

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def get(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    def value_problems(self, name: str, value: Any) -> list[str]:
        """Problems with one value for one parameter (unknown name included)."""
        param = self.get(name)
        if param is None:
            return [f"{self.model} has no parameter '{name}'; it has {', '.join(self.names)}"]
        problem = param.problem(value)
        return [] if problem is None else [f"{self.model} {problem}"]

    def with_defaults(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The full parameter set: declared defaults overridden by `values`, coerced to type."""
        full = {p.name: p.default for p in self.params}
        for name, value in values.items():
            param = self.get(name)
            if param is None:
                raise KeyError(f"{self.model} has no parameter '{name}'")
            full[name] = param.coerce(value)
        return full

    def resolved(self, full: Mapping[str, Any]) -> dict[str, Any]:
        """A full parameter set with every unused value set to its default and every null that
        has a meaning replaced by its value."""
        resolved = dict(full)
        for param in self.params:
            if param.unused_when is not None and param.unused_when(full):
                resolved[param.name] = param.default
        for param in self.params:
            if resolved.get(param.name, 0) is None and param.resolve is not None:
                resolved[param.name] = param.resolve(resolved)
        return resolved

    def field_problems(self, values: Mapping[str, Any]) -> list[tuple[str, str]]:
        """(field, why) for every unknown field, missing or invalid value and broken rule of one
        of the grid's own sections (`metrics`, `dataset`...), without an owner name; the field
        of a broken rule is ""."""
        found = [(name, f"unknown field{closest(name, self.names)}; allowed: "
                        f"{', '.join(self.names)}")
                 for name in values if self.get(name) is None]
        for param in self.params:
            if param.name not in values and param.default is None and not param.nullable:
                found.append((param.name, f"missing; expects {param.allowed()}"))
                continue  # a required field left out: "got null" reads as if it were given
            value = values.get(param.name, param.default)
            found += [(param.name + where, why) for where, why in param.problems(value)]
        if found:
            return found
        return [("", why.removeprefix(f"{self.model} "))
                for why in self._rule_problems(self.with_defaults(values)) if why]

    def _rule_problems(self, values: Mapping[str, Any]) -> list[str | None]:
        return [self.rule_problem(c, values) for c in self.checks]

    def rule_problem(self, check: CrossCheck, values: Mapping[str, Any]) -> str | None:
        """Why a full parameter set breaks one rule, or None when it keeps it."""
        if check.check(values):
            return None
        return f"{self.model} requires {check.describe}; got " + ", ".join(
            f"{f}={values.get(f)!r}" for f in check.fields)

    def cross_problems(self, values: Mapping[str, Any]) -> list[str]:
        """Problems with rules that span fields, on a full parameter set."""
        return [why for why in self._rule_problems(values) if why]

    def validate(self, values: Mapping[str, Any]) -> list[str]:
        """Every problem with a (partial) parameter set, after filling defaults."""
        problems = [p for n, v in values.items() for p in self.value_problems(n, v)]
        if problems:
            return problems
        return self.cross_problems(self.with_defaults(values))

    def to_markdown(self) -> str:
        """The parameter table of this model, as in the docs."""
        rows = [
            f"| {p.name} | {'any' if p.type is object else p.type.__name__} | "
            f"{p.doc_default()} | "
            f"{_doc_allowed(p)} | {p.help} |"
            for p in self.params
        ]
        rules = [f"- {c.describe}" for c in self.checks]
        head = [f"### {self.model}", "", "| name | type | default | allowed | meaning |"]
        table = head + ["|---|---|---|---|---|"] + rows
        return "\n".join(table + ([""] + rules if rules else []))

    def invalid_examples(self) -> Iterable[tuple[str, Any]]:
        """Values each parameter must reject: for the tests and the docs."""
        for p in self.params:
            yield p.name, "not-a-value" if p.type not in (str, object) else 12345
            low, high = p.constraint.bounds
            if high is not None:
                yield p.name, p.type(high) + (1 if p.type is int else high * 0.5 + 1)
            elif low is not None:
                yield p.name, p.type(low) - (1 if p.type is int else 0)


# Shared building blocks, exactly as in docs/parameters.md ("Common parameters").
NUM_TOPICS = Param("num_topics", int, 20, between(5, 100), "number of topics K")
VOCAB_SIZE = Param("vocab_size", int, 5000, between(1000, 20000), "vocabulary size")
EPOCHS = Param("epochs", int, 100, between(10, 500), "training epochs")
BATCH_SIZE = Param("batch_size", int, 64, between(8, 512), "mini-batch size")
LEARNING_RATE = Param("learning_rate", float, 0.002, between(1e-5, 0.1), "learning rate",
                      log_scale=True)
DROPOUT = Param("dropout", float, 0.2, between(0.0, 0.9), "encoder dropout")
HIDDEN_DIM = Param("hidden_dim", int, 512, between(128, 2048), "hidden units per encoder layer")
NUM_LAYERS = Param("num_layers", int, 2, between(1, 5), "encoder hidden layers")
PATIENCE = Param(
    "patience", int, 10, between(1, 50),
    "early-stopping patience on validation loss (epochs); null switches early stopping off",
    nullable=True,
)
