from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import make_grid
from tuner.errors import GridError
from tuner.grid import load_grid


def grid_with(tmp_path: Path, corpus: Path, **overrides: object) -> Path:
    return make_grid(tmp_path, corpus, **overrides)


def test_lists_are_swept_and_scalars_fixed(tmp_path, small_corpus):
    grid = load_grid(grid_with(tmp_path, small_corpus, models=["lda", "prodlda"],
                               params={"num_topics": [5, 10], "prodlda.epochs": [10, 20, 30],
                                       "lda.max_iter": 10},
                               seeds=[1, 2]))
    counts = {s.model: len(s.combinations) for s in grid.sweeps}
    assert counts == {"LDA": 2, "ProdLDA": 6}
    assert grid.trial_count == 16
    lda = next(s for s in grid.sweeps if s.model == "LDA")
    assert all(c["max_iter"] == 10 for c in lda.combinations)


def test_scoped_parameter_overrides_unscoped(tmp_path, small_corpus):
    grid = load_grid(grid_with(tmp_path, small_corpus, models=["lda", "prodlda"],
                               params={"num_topics": 10, "lda.num_topics": [7]}))
    topics = {s.model: s.combinations[0]["num_topics"] for s in grid.sweeps}
    assert topics == {"LDA": 7, "ProdLDA": 10}


def test_unscoped_parameter_applies_only_to_models_that_have_it(tmp_path, small_corpus):
    grid = load_grid(grid_with(tmp_path, small_corpus, models=["lda", "prodlda"],
                               params={"epochs": 10}))
    lda = next(s for s in grid.sweeps if s.model == "LDA")
    assert "epochs" not in lda.combinations[0]


def test_single_model_key_and_relative_dataset_path(tmp_path, small_corpus):
    corpus = tmp_path / "data" / "c.jsonl"
    corpus.parent.mkdir()
    corpus.write_bytes(small_corpus.read_bytes())
    grids = tmp_path / "grids"
    path = make_grid(grids, corpus, model="LDA")
    raw = json.loads(path.read_text())
    raw.pop("models")
    raw["dataset"]["path"] = "../data/c.jsonl"
    path.write_text(json.dumps(raw))
    grid = load_grid(path)
    assert grid.dataset.path == corpus.resolve()
    assert [s.model for s in grid.sweeps] == ["LDA"]


@pytest.mark.parametrize(("overrides", "message"), [
    ({"models": ["lda", "nosuch"]}, r"models\[1\]: unknown model 'nosuch'; known: LDA"),
    ({"params": {"num_topics": [5, 200]}}, r"params.num_topics\[1\]: LDA expects an int in "
                                           r"5-100; got 200"),
    ({"params": {"lda.epochs": 10}}, r"params.lda.epochs: LDA has no parameter 'epochs'"),
    ({"params": {"bertopic.min_cluster_size": 10}}, r"model 'bertopic' is not in this grid"),
    ({"params": {"num_topics": []}}, r"params.num_topics: expects a value or a non-empty list"),
    ({"params": {"num_topics": "ten"}}, r"expects an int in 5-100; got 'ten' \(str\)"),
    ({"seeds": []}, r"seeds: expects a non-empty list of non-negative ints"),
    ({"metrics": {"topn": 1}}, r"metrics.topn: expects an int in 2-50; got 1"),
    ({"embedding": {"pooling": "max"}}, r"embedding.pooling: expects one of mean/cls/last_token"),
    ({"experiment": ""}, r"experiment: expects a non-empty string"),
    ({"colour": "blue"}, r"colour: unknown field; allowed:"),
    ({"dataset": {"path": "missing.jsonl"}}, r"dataset.path: file not found: .*missing.jsonl"),
    ({"dataset": {"path": "x.txt"}}, r"dataset.path: file not found"),
    ({"ground_truth": "nope.json"}, r"ground_truth: file not found"),
    ({"dataset": {"path": "c.jsonl", "language": "fr"}}, r"dataset.language: expects one of "
                                                           r"en/zh; got 'fr'"),
    ({"preprocessing": {"max_df": 2.0}}, r"preprocessing.max_df: expects a float in \(0, 1\]"),
    ({"timeout_s": -1}, r"timeout_s: expects a number of seconds > 0"),
])
def test_invalid_grid_names_file_field_and_allowed(tmp_path, small_corpus, overrides, message):
    path = grid_with(tmp_path, small_corpus, **overrides)
    with pytest.raises(GridError, match=message) as info:
        load_grid(path)
    assert all(problem.startswith(str(path)) for problem in info.value.problems)


def test_every_problem_is_reported_at_once(tmp_path, small_corpus):
    path = grid_with(tmp_path, small_corpus, models=["nosuch"], seeds="x",
                     metrics={"topn": 0}, params={"num_topics": 5})
    with pytest.raises(GridError) as info:
        load_grid(path)
    fields = [p.split(": ")[1] for p in info.value.problems]
    assert fields == ["models[0]", "seeds", "metrics.topn"]


def test_cross_field_rule_names_the_rule_and_values(tmp_path, small_corpus):
    path = grid_with(tmp_path, small_corpus, models=["theta"],
                     params={"theta.epochs": [20, 60], "theta.kl_warmup": 50})
    with pytest.raises(GridError) as info:
        load_grid(path)
    assert info.value.problems == [f"{path}: params: THETA requires kl_warmup <= epochs; got "
                                   "kl_warmup=50, epochs=20"]


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", ""])
def test_unparseable_grid(tmp_path, content):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(GridError, match=str(path)):
        load_grid(path)


def test_non_utf8_grid(tmp_path):
    path = tmp_path / "latin1.json"
    path.write_bytes('{"experiment": "caf\xe9"}'.encode("latin-1"))
    with pytest.raises(GridError, match="not valid UTF-8"):
        load_grid(path)
