from __future__ import annotations

import re

import pytest

from tuner.params import NUM_TOPICS, CrossCheck, Param, ParamSchema, between, one_of

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
    ("mode", "c", r"expects one of a/b; got 'c'"),
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
