from __future__ import annotations

import re

import pytest

from trainers import load_trainer
from tuner.params import (
    NUM_TOPICS,
    CrossCheck,
    Param,
    ParamSchema,
    above_up_to,
    between,
    list_of,
    non_empty,
    one_of,
)

SCHEMA = ParamSchema("Demo", [
    NUM_TOPICS,
    Param("epochs", int, 100, between(10, 500), "training epochs"),
    Param("kl_warmup", int, 50, between(0, 500), "warm-up epochs"),
    Param("mode", str, "a", one_of("a", "b"), "mode"),
    Param("alpha", float, None, between(0.0, 1.0), "prior", nullable=True),
], [CrossCheck("kl_warmup <= epochs", ("kl_warmup", "epochs"),
               lambda v: v["kl_warmup"] <= v["epochs"])])


def test_defaults_fill_every_parameter():
    assert SCHEMA.with_defaults({"epochs": 20, "kl_warmup": 5}) == {
        "num_topics": 20, "epochs": 20, "kl_warmup": 5, "mode": "a", "alpha": None}


def test_int_given_for_float_is_coerced():
    assert SCHEMA.with_defaults({"alpha": 1})["alpha"] == 1.0


@pytest.mark.parametrize(("name", "value", "message"), [
    ("num_topics", 200, r"Demo expects an int in 5-100; got 200"),
    ("num_topics", 5.5, r"expects an int in 5-100; got 5.5 \(float\)"),
    ("num_topics", True, r"got True \(bool\)"),
    ("mode", "c", r"expects one of a/b; got 'c'$"),
    ("mode", "A", r"expects one of a/b; got 'A'; did you mean 'a'\?$"),
    ("alpha", -0.1, r"expects a float in 0.0-1.0 or null; got -0.1"),
    ("num_topics", None, r"expects an int in 5-100; got null"),
    ("nope", 1, r"Demo has no parameter 'nope'; it has num_topics, epochs"),
])
def test_invalid_value_is_reported(name, value, message):
    problems = SCHEMA.validate({name: value})
    assert len(problems) == 1
    assert re.search(message, problems[0])


def test_cross_field_rule_is_checked_after_defaults():
    assert SCHEMA.validate({"epochs": 20}) == [
        "Demo requires kl_warmup <= epochs; got kl_warmup=50, epochs=20"]


def test_every_generated_invalid_example_is_rejected():
    examples = list(SCHEMA.invalid_examples())
    assert examples
    assert all(SCHEMA.validate({name: value}) for name, value in examples)


def test_markdown_lists_every_parameter():
    table = SCHEMA.to_markdown()
    for name in SCHEMA.names:
        assert f"| {name} |" in table
    assert "kl_warmup <= epochs" in table


SECTION = ParamSchema("section", [
    Param("name", str, None, non_empty(), "required name"),
    Param("share", float, 0.5, above_up_to(0, 1), "a share"),
    Param("ids", list, [], list_of(Param("id", int, None, between(0, 9), ""), distinct=True),
          "ids"),
], [CrossCheck("share < 1 when ids are given", ("share", "ids"),
               lambda v: not v["ids"] or v["share"] < 1)])


@pytest.mark.parametrize(("values", "found"), [
    ({"name": "a"}, []),
    ({}, [("name", "missing; expects a non-empty string")]),  # left out, not given as null
    ({"name": None}, [("name", "expects a non-empty string; got null")]),
    ({"name": " ", "x": 1}, [("x", "unknown field; allowed: name, share, ids"),
                             ("name", "expects a non-empty string; got ' '")]),
    ({"name": "a", "share": float("nan")}, [("share", "expects a float in (0, 1]; got nan "
                                                      "(not a finite number)")]),
    ({"name": "a", "share": 0}, [("share", "expects a float in (0, 1]; got 0")]),
    ({"name": "a", "ids": [1, 12, -1]}, [("ids[1]", "expects an int in 0-9; got 12"),
                                         ("ids[2]", "expects an int in 0-9; got -1")]),
    ({"name": "a", "ids": [1, 1]}, [("ids", "expects a list of distinct values, each an int in "
                                            "0-9; got [1, 1]")]),
    ({"name": "a", "ids": [1], "share": 1.0}, [("", "requires share < 1 when ids are given; "
                                                    "got share=1.0, ids=[1]")]),
])
def test_field_problems_report_every_field_of_a_section(values, found):
    assert SECTION.field_problems(values) == found


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_a_float_parameter_refuses_non_finite_values(value):
    assert SCHEMA.validate({"alpha": value}) == [
        f"Demo expects a float in 0.0-1.0 or null; got {value!r} (not a finite number)"]


@pytest.mark.parametrize(("model", "given", "unused", "keyed_as"), [
    ("THETA", {"mode": "zero_shot", "adaptation": "lora"}, "adaptation", "auto"),
    ("BERTopic", {"clustering": "kmeans", "num_topics": 8, "min_cluster_size": 50},
     "min_samples", 10),
])
def test_a_setting_the_model_does_not_use_is_keyed_as_its_default(model, given, unused,
                                                                  keyed_as):
    schema = load_trainer(model).params
    assert schema.resolved(schema.with_defaults(given))[unused] == keyed_as


def test_a_setting_the_model_uses_keeps_its_value():
    schema = load_trainer("THETA").params
    full = schema.with_defaults({"mode": "supervised", "adaptation": "lora"})
    assert schema.resolved(full)["adaptation"] == "lora"


def test_a_number_too_large_for_a_float_is_refused_by_name_not_crashed_on(tmp_path,
                                                                          small_corpus):
    """A 4,000-digit JSON integer for a float raised OverflowError (a 500 from the service), and
    a DTM `bins:` count of 5,000 digits ValueError (attacker audit of 2026-12-04)."""
    from tests.conftest import make_grid
    from tuner.errors import GridError
    from tuner.grid import load_grid

    huge = int("9" * 4000)
    for models, params, field in [(["lda"], {"num_topics": 5, "alpha": huge}, "params.alpha"),
                                  (["dtm"], {"num_topics": 5, "time_slices": "bins:" + "9" * 5000},
                                   "params.time_slices")]:
        if field == "params.time_slices":  # a newline after it, full-width digits: refused too
            for rule in ("bins:5\n", "bins:１０"):
                with pytest.raises(GridError):
                    load_grid(make_grid(tmp_path, small_corpus, models=models,
                                        params={"num_topics": 5, "time_slices": rule}))
        with pytest.raises(GridError) as info:
            load_grid(make_grid(tmp_path, small_corpus, models=models, params=params))
        [problem] = info.value.problems
        assert f": {field}: " in problem and "characters)" in problem and len(problem) < 400
