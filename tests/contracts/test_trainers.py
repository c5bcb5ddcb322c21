"""One contract for every registered trainer: valid output, honest topic count, standard errors
for bad parameters, and a fixed seed that repeats.

The models are read from the registry when the tests are collected, so a newly registered model
joins automatically, with the default tiny budget of tests/contracts/budgets.py unless it has an
override there. Fits go through tuner.fitting.fit_trial, as in a worker.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import numpy as np
import pytest

from tests.contracts.budgets import DATA_FOR, OVERRIDES, tiny_budget
from trainers import load_trainer, registry
from tuner.data.inputs import FitContext
from tuner.errors import GridError
from tuner.fitting import fit_trial
from tuner.grid import load_grid
from tuner.output import TopicModelOutput

MODELS = sorted(registry())
SEED = 11
TOP_N = 10


def _invalid_cases() -> list[Any]:
    return [pytest.param(model, name, value, id=f"{model}-{name}-{value!r}")
            for model in MODELS for name, value in load_trainer(model).params.invalid_examples()]


@pytest.fixture(scope="module")
def fits(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> dict[str, Any]:
    """model -> (its data, two outputs fitted with the same seed); filled on first use."""
    cache = str(tmp_path_factory.mktemp("contract_cache"))
    done: dict[str, Any] = {}

    def get(model: str) -> tuple[Any, list[TopicModelOutput]]:
        if model not in done:
            data = request.getfixturevalue(DATA_FOR.get(model, "small_data"))
            trainer = load_trainer(model)
            params = trainer.params.with_defaults(tiny_budget(model))
            ctx = FitContext(seed=SEED, top_n=TOP_N, cache_dir=cache)
            done[model] = (data, [fit_trial(trainer(), data, params, ctx) for _ in range(2)])
        return done[model]

    return {"get": get, "cache": cache}


def test_budget_overrides_and_data_name_registered_models() -> None:
    assert set(OVERRIDES) | set(DATA_FOR) <= set(MODELS)


@pytest.mark.parametrize("model", MODELS)
def test_output_passes_checks(model: str, fits: dict[str, Any]) -> None:
    data, (output, _) = fits["get"](model)
    assert isinstance(output, TopicModelOutput)
    rebuilt = TopicModelOutput(**{f.name: getattr(output, f.name)
                                  for f in dataclasses.fields(output)})  # re-runs the checks
    assert rebuilt.n_docs == output.n_docs == data.bow.n_docs
    assert all(1 <= len(words) <= TOP_N for words in output.topic_words)
    json.dumps(output.extras, default=float)  # the tracker must be able to write the extras


@pytest.mark.parametrize("model", MODELS)
def test_topic_count_respects_schema(model: str, fits: dict[str, Any]) -> None:
    _, (output, _) = fits["get"](model)
    params = load_trainer(model).params.with_defaults(tiny_budget(model))
    if params.get("num_topics") is not None:
        assert output.num_topics == params["num_topics"]
    elif "max_topics" in params:
        assert 1 <= output.num_topics <= params["max_topics"]
    else:  # an automatic topic count (BERTopic without num_topics)
        assert output.num_topics >= 1
    assert output.extras.get("num_topics_found", output.num_topics) == output.num_topics


@pytest.mark.parametrize("model", MODELS)
def test_same_seed_same_result(model: str, fits: dict[str, Any]) -> None:
    _, (first, second) = fits["get"](model)
    np.testing.assert_array_equal(first.assignments, second.assignments)
    assert first.topic_words == second.topic_words


@pytest.mark.parametrize(("model", "name", "value"), _invalid_cases())
def test_schema_rejects_invalid_value(model: str, name: str, value: Any) -> None:
    schema = load_trainer(model).params
    problems = schema.validate({name: value})
    allowed = schema.get(name).allowed()  # type: ignore[union-attr]
    assert problems, f"{model} accepted {name}={value!r}"
    assert problems[0].startswith(f"{model} expects ")
    assert allowed in problems[0] and repr(value) in problems[0]


@pytest.mark.parametrize("model", MODELS)
def test_grid_error_names_file_field_and_range(model: str, small_corpus, tmp_path) -> None:
    from tests.conftest import make_grid

    schema = load_trainer(model).params
    name, value = next((n, v) for n, v in schema.invalid_examples()
                       if not isinstance(v, str) and schema.get(n).type is not str)
    grid = make_grid(tmp_path, small_corpus, models=[model], params={name: value})
    allowed = re.escape(schema.get(name).constraint.describe)  # type: ignore[union-attr]
    pattern = rf"{re.escape(str(grid))}: params\.{name}: {model} expects .*{allowed}.*got"
    with pytest.raises(GridError, match=pattern):
        load_grid(grid)


BUDGETED = [m for m in MODELS if load_trainer(m).budget_param is not None]


@pytest.mark.parametrize("model", BUDGETED)
def test_a_budgeted_trainer_reports_each_unit_and_stops_where_its_checkpoint_says(
        model: str, request: pytest.FixtureRequest, fits: dict[str, Any]) -> None:
    data = request.getfixturevalue(DATA_FOR.get(model, "small_data"))
    trainer = load_trainer(model)
    params = trainer.params.with_defaults(tiny_budget(model))
    assert trainer.budget_param in params
    steps: list[int] = []
    judged: list[TopicModelOutput] = []

    def checkpoint(step: int, current: Any, final: bool = False) -> bool:
        steps.append(step)
        if step == 2:
            judged.append(current())
            return True
        return False

    # the module's cache: its Word2Vec vectors are the other tests' (a hit is the same answer)
    ctx = FitContext(seed=SEED, top_n=TOP_N, cache_dir=fits["cache"], checkpoint=checkpoint)
    output = fit_trial(trainer(), data, params, ctx)
    assert steps == [1, 2]  # one report per unit of the budget, none after the stop
    assert output.topic_words == judged[0].topic_words  # it returns the model that was judged
    assert list(output.assignments) == list(judged[0].assignments)


@pytest.mark.parametrize("model", BUDGETED)
def test_reading_a_model_at_every_unit_leaves_its_fit_unchanged(model: str,
                                                                 fits: dict[str, Any]) -> None:
    """A pruner's checkpoints read the model (`current()`) but never change it or its random
    streams: the pruning plan is rightly not part of a trial's key."""
    data, (unwatched, _) = fits["get"](model)
    trainer = load_trainer(model)
    params = trainer.params.with_defaults(tiny_budget(model))

    def read_every_unit(step: int, current: Any, final: bool = False) -> bool:
        current()
        return False

    ctx = FitContext(seed=SEED, top_n=TOP_N, cache_dir=fits["cache"],
                     checkpoint=read_every_unit)
    watched = fit_trial(trainer(), data, params, ctx)
    assert watched.topic_words == unwatched.topic_words
    np.testing.assert_allclose(watched.doc_topic, unwatched.doc_topic, rtol=1e-9, atol=1e-12)


def test_models_without_a_budget_are_the_ones_never_pruned() -> None:
    assert set(MODELS) - set(BUDGETED) == {"BERTopic"}


def test_what_runs_log_beside_a_model_s_parameters_is_the_run_params() -> None:
    """load_trainer refuses a parameter named as these; the readers drop the same names."""
    from tuner.params import RUN_PARAMS
    from tuner.tracking.records import DATA_PARAM, METRIC_SETTINGS

    assert set(RUN_PARAMS) == {"model", "seed", DATA_PARAM, *METRIC_SETTINGS}


def test_a_plug_in_parameter_named_as_a_run_param_is_refused(monkeypatch) -> None:
    """A plug-in trainer's `seed` or `data` would be dropped when its runs are read back."""
    monkeypatch.setenv("TUNER_TRAINERS", "Seedy=tests.plugins:SeedyTrainer")
    with pytest.raises(TypeError, match=r"Seedy \(tests.plugins:SeedyTrainer\): parameter "
                                        r"names \['seed'\] are taken"):
        load_trainer("seedy")
