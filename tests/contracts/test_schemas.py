"""Every registered built-in schema matches docs/parameters.md, the project's spec: drift fails.

The reference is parsed, not copied: the common table (with its `*` neural-only marker and the
per-model defaults in its "meaning" column), each model's extra parameters "name (type, default,
range: help)", "X default N" overrides, and the notes "replaces X" and "(uses) no X, Y or Z".
Names, types, defaults, ranges / choices and the absence of parameters a model does not use are
compared. The only parameters a schema may add are listed in EXTENSIONS, each with its reason.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.conftest import REPO
from trainers import BUILTIN, load_trainer, registry
from tuner.params import Param, ParamSchema, between

REFERENCE = REPO / "docs" / "parameters.md"
EXTENSIONS: dict[tuple[str, str], str] = {
    ("DTM", "time_slices"): "how timestamps become slices (year, month, ...): parameters.md says "
                            "DTM takes slices from a timestamp column but names no setting",
    ("THETA", "adaptation"): "LoRA fine-tuning or the CPU adapter for the unsupervised and "
                             "supervised modes: the THETA issue asks for LoRA where a GPU is "
                             "present and allows an adapter on a CPU; this lets a user choose",
}
EXTENSIONS.update({
    ("LDA", "eta"): "topic-word prior; issue #12 asks for it (tomotopy's default 0.01)",
    ("LDA", "optim_interval"): "hyperparameter optimisation on/off (issue #12)",
    ("LDA", "term_weight"): "tomotopy's term weighting, one/idf/pmi (issue #12: boilerplate "
                            "words)",
    ("HDP", "eta"): "topic-word prior (issue #12); 0.1 keeps far fewer tiny topics alive",
    ("HDP", "gamma"): "corpus-level concentration, fixed at 1 before (issue #12)",
    ("HDP", "initial_k"): "topics the sampler starts from, 2 before (issue #12)",
    ("HDP", "max_iter"): "Gibbs iterations, fixed at 200 before (issue #12: enough iterations)",
    ("HDP", "optim_interval"): "alpha/gamma re-estimation on/off (issue #12)",
    ("HDP", "topic_threshold"): "only topics holding this share of tokens are scored (issue #12)",
    ("STM", "em_tol"): "EM's convergence tolerance (stm's emtol; issue #12)",
    ("STM", "init"): "spectral (stm's default) or random start (issue #12)",
    ("BERTopic", "clustering"): "hdbscan or kmeans with num_topics as k (issue #12)",
    ("BERTopic", "reduce_outliers"): "BERTopic's outlier reduction strategies (issue #12)",
    ("BERTopic", "min_dist"): "UMAP min_dist, fixed at 0 before (issue #12)",
    ("BERTopic", "metric"): "UMAP metric, fixed at cosine before (issue #12)",
    ("BERTopic", "cluster_selection_method"): "HDBSCAN eom or leaf (issue #12)",
    ("BERTopic", "cluster_selection_epsilon"): "HDBSCAN cluster merging distance (issue #12)",
    ("BERTopic", "reduce_frequent_words"): "c-TF-IDF's square root of word frequencies (BERTopic "
                                           "docs); 0.148 -> 0.227 NPMI on 12k-post 20NG",
    ("BERTopic", "bm25_weighting"): "c-TF-IDF's BM25 inverse frequency (BERTopic docs)",
})
# Ranges wider than the reference's (never narrower): the schema's range must contain it.
WIDENED: dict[tuple[str, str], str] = {
    ("BERTopic", "min_cluster_size"): "the reference's 100 is the best NPMI on 12k-post 20NG",
    ("BERTopic", "min_samples"): "follows min_cluster_size, which it defaults to",
    ("BERTopic", "num_topics"): "BERTopic and k-means accept any k; large corpora use > 100",
    ("ProdLDA", "hidden_dim"): "the ProdLDA reference code's encoder has 100 units",
    ("NVDM", "hidden_dim"): "the same encoder as ProdLDA's (Srivastava & Sutton run both at 100)",
    ("GSM", "hidden_dim"): "the same encoder as ProdLDA's",
    ("LDA", "max_iter"): "Gibbs samplers run 1,000-2,000 sweeps on 10,000+ documents",
    ("BTM", "n_iter"): "a Gibbs sampler's budget as LDA's: `tuner init` writes 500, the "
                       "reference's top, so no sweep could check whether more help (audit on "
                       "headlines)",
}
NULLABLE_BY_NOTE = {"patience": "the common table says early stopping can be switched off"}
DASH = "–"


@dataclass
class Spec:
    """One parameter as parameters.md states it."""

    name: str
    type: str
    default: str
    range: str  # "5–100", ">0", "a/b/c", "0–epochs" or "" (no constraint)
    overrides: dict[str, str] = field(default_factory=dict)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _table(text: str, header: str) -> list[list[str]]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append(_cells(line))
    return rows


def _common(text: str) -> tuple[dict[str, Spec], set[str], dict[str, dict[str, tuple[str, str]]]]:
    """Common specs, names marked neural-only, and per-model (default, range) overrides."""
    specs, neural_only = {}, set()
    overrides: dict[str, dict[str, tuple[str, str]]] = {}
    for name, type_, default, range_, meaning in _table(text, "| name |"):
        if name.endswith("*"):
            name = name.rstrip(" *")
            neural_only.add(name)
        specs[name] = Spec(name, type_, default, range_)
        for part in re.findall(r"\(([^()]*default[^()]*)\)", meaning):
            for clause in part.split(";"):
                found = re.match(r"\s*([\w, ]+?) default (\S+?)(?:, range (\S+))?$", clause)
                assert found, f"cannot read {clause!r} in the {name} row"
                for model in found.group(1).split(", "):
                    overrides.setdefault(model, {})[name] = (found.group(2),
                                                            found.group(3) or range_)
        for model in re.findall(r"optional for (\w+) \(null", meaning):
            overrides.setdefault(model, {})[name] = ("null", range_)
    return specs, neural_only, overrides


def _extras(cell: str) -> list[Spec]:
    specs = []
    for name, inside in re.findall(r"(\w+) \(((?:[^()]|\([^()]*\))*)\)", cell):
        head = inside.split(":", 1)[0]
        parts = [p.strip() for p in head.split(",")]
        specs.append(Spec(name, parts[0], parts[1], parts[2] if len(parts) > 2 else ""))
    return specs


def _reference() -> dict[str, dict[str, Spec]]:
    text = REFERENCE.read_text(encoding="utf-8")
    common, neural_only, common_overrides = _common(text)
    neural = re.search(r"neural models only \(([^)]*)\)", text)
    assert neural, "the `*` line naming the neural models is missing"
    neural_models = set(neural.group(1).split(", "))
    expected: dict[str, dict[str, Spec]] = {}
    for models, extra, notes in _table(text, "| model |"):
        row = f"{extra} {notes}"
        for model in models.split(", "):
            params = {n: Spec(s.name, s.type, s.default, s.range) for n, s in common.items()
                      if model in neural_models or n not in neural_only}
            for name, (default, range_) in common_overrides.get(model, {}).items():
                params[name] = Spec(name, common[name].type, default, range_)
            for name, default in re.findall(r"(\w+) default (\w+)", row):
                params[name].default = default
            params.update({s.name: s for s in _extras(extra)})
            gone = re.findall(r"replaces (\w+)", row)
            for listed in re.findall(r"\bno ([\w ,]+?)(?:;|$|\.)", notes):
                gone += [w.strip().replace(" ", "_") for w in re.split(r",| or ", listed)]
            expected[model] = {n: s for n, s in params.items() if n not in gone}
    return expected


EXPECTED = _reference()
# Registered models the reference specifies; a model added beyond it (a 13th) has no spec here.
BUILT_IN_PRESENT = sorted(set(BUILTIN) & set(registry()) & set(EXPECTED))


def _default_matches(spec: Spec, param: Param) -> bool:
    if spec.default == "null" or spec.default.startswith("null =") or "/" in spec.default \
            and param.type is not str:
        return param.default is None and param.nullable
    if param.type is str:
        return param.default == spec.default
    return param.default is not None and math.isclose(float(param.default), float(spec.default))


def _range_problem(spec: Spec, param: Param, schema: ParamSchema) -> str | None:
    constraint = param.constraint
    if not spec.range:
        return None if constraint.bounds == (None, None) and constraint.choices is None \
            else f"reference has no range; schema says {constraint.describe}"
    if spec.range.startswith(">"):
        wanted: tuple[Any, Any] = (float(spec.range[1:]), None)
        return None if constraint.bounds == wanted else f"expects {spec.range}"
    if "/" in spec.range:
        return None if constraint.choices == tuple(spec.range.split("/")) \
            else f"expects choices {spec.range}; schema says {constraint.describe}"
    low, high = spec.range.split(DASH)
    if (schema.model, param.name) in WIDENED:
        schema_low, schema_high = constraint.bounds
        contains = (schema_low is not None and schema_high is not None
                    and schema_low <= float(low) and schema_high >= float(high))
        return None if contains else f"expects a range containing {spec.range}"
    if not re.fullmatch(r"[\d.e+-]+", high):  # a bound that names another parameter
        linked = any(param.name in c.fields and high in c.fields for c in schema.checks)
        return None if constraint.bounds[0] == float(low) and linked \
            else f"expects {low} to {high} (a cross-field check)"
    return None if constraint.bounds == (float(low), float(high)) \
        else f"expects {spec.range}; schema says {constraint.describe}"


def test_every_model_of_the_reference_is_registered() -> None:
    assert EXPECTED, f"no model parsed from {REFERENCE}"
    assert set(EXPECTED) <= set(BUILTIN), f"missing: {sorted(set(EXPECTED) - set(BUILTIN))}"


@pytest.mark.parametrize("model", BUILT_IN_PRESENT)
def test_parameter_names_match(model: str) -> None:
    schema = load_trainer(model).params
    extensions = {name for (m, name) in EXTENSIONS if m == model}
    assert set(schema.names) - extensions == set(EXPECTED[model])


def _drift(model: str, schema: ParamSchema) -> list[str]:
    """Every difference between `schema` and the reference's parameters of `model`."""
    extensions = {name for (m, name) in EXTENSIONS if m == model}
    problems = [f"{name}: not in the reference" for name in schema.names
                if name not in EXPECTED[model] and name not in extensions]
    for name, spec in EXPECTED[model].items():
        param = schema.get(name)
        if param is None:
            problems.append(f"{name}: missing from the schema")
            continue
        if param.type.__name__ != spec.type:
            problems.append(f"{name}: type {param.type.__name__}, reference {spec.type}")
        if not _default_matches(spec, param):
            problems.append(f"{name}: default {param.default!r}, reference {spec.default}")
        if param.nullable and param.default is not None and name not in NULLABLE_BY_NOTE:
            problems.append(f"{name}: nullable, but the reference gives no null")
        problem = _range_problem(spec, param, schema)
        if problem:
            problems.append(f"{name}: {problem}")
    return problems


@pytest.mark.parametrize("model", BUILT_IN_PRESENT)
def test_types_defaults_and_ranges_match(model: str) -> None:
    problems = _drift(model, load_trainer(model).params)
    assert not problems, f"{model} drifts from {REFERENCE.name}: " + "; ".join(problems)


@pytest.mark.parametrize(("name", "change", "found"), [
    ("max_iter", {"default": 50}, "max_iter: default 50"),
    ("num_topics", {"constraint": between(5, 200)}, "num_topics: expects 5–100"),
    ("alpha", {"type": int}, "alpha: type int"),
])
def test_drift_is_detected(name: str, change: dict[str, Any], found: str) -> None:
    schema = load_trainer("LDA").params
    drifted = ParamSchema("LDA", [p.replace(**change) if p.name == name else p
                                  for p in schema.params])
    assert any(found in problem for problem in _drift("LDA", drifted))


def test_narrowed_widened_range_is_detected() -> None:
    schema = load_trainer("BERTopic").params
    drifted = ParamSchema("BERTopic", [
        p.replace(constraint=between(5, 50)) if p.name == "min_cluster_size" else p
        for p in schema.params])
    assert "min_cluster_size: expects a range containing 2–100" in _drift("BERTopic", drifted)


def test_extra_parameter_is_detected() -> None:
    schema = load_trainer("LDA").params
    drifted = ParamSchema("LDA", [*schema.params, Param("epochs", int, 100, between(10, 500), "")])
    assert "epochs: not in the reference" in _drift("LDA", drifted)


def test_extensions_are_still_used() -> None:
    stale = [f"{m}.{n}" for (m, n) in [*EXTENSIONS, *WIDENED]
             if m in registry() and n not in load_trainer(m).params.names]
    assert not stale, f"EXTENSIONS lists parameters no schema has: {stale}"


def test_extensions_are_marked_in_the_reference() -> None:
    section = REFERENCE.read_text(encoding="utf-8").split("## Extensions", 1)[-1]
    unmarked = [f"{m}.{n}" for (m, n) in EXTENSIONS if not re.search(rf"\| {m} \| {n} \(", section)]
    assert not unmarked, f"{REFERENCE.name} does not list these extensions: {unmarked}"
