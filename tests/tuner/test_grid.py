from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest

from tests.conftest import REPO, make_grid
from trainers import BUILTIN, canonical_name
from tuner import grid_sections as sections
from tuner.data.corpus import DatasetSpec
from tuner.data.embeddings import EmbeddingSpec
from tuner.data.vocab import Preprocessing
from tuner.errors import GridError
from tuner.grid import load_grid
from tuner.trial import MetricSettings


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
    ({"models": ["lda", "nosuch"]}, r"models\[1\]: unknown model 'nosuch'; known: BERTopic, "
                                    r"BTM, CTM"),
    ({"models": ["bertopik"]}, r"models\[0\]: unknown model 'bertopik'; did you mean "
                               r"'BERTopic'\?; known: "),  # new-user audit of 2026-12-04
    ({"params": {"num_topics": [5, 200]}}, r"params.num_topics\[1\]: LDA expects an int in "
                                           r"5-100; got 200"),
    ({"params": {"lda.epochs": 10}}, r"params.lda.epochs: LDA has no parameter 'epochs'"),
    ({"params": {"bertopc.min_cluster_size": 10}},
     r"params.bertopc.min_cluster_size: no model 'bertopc' \(this grid's models: LDA\); did you "
     r"mean 'BERTopic'\?"),
    # a model left out of the grid: its settings are checked all the same
    ({"params": {"bertopic.min_clustr_size": 10}}, r"params.bertopic.min_clustr_size: BERTopic "
                                                   r"has no parameter 'min_clustr_size'; did you"),
    ({"params": {"prodlda.epochs": "abc"}}, r"params.prodlda.epochs: ProdLDA expects an int"),
    ({"params": {"bertopic.min_cluster_size": [10, -5]}}, r"params.bertopic.min_cluster_size"
                                                          r"\[1\]: BERTopic expects an int"),
    ({"params": {"num_topics": []}}, r"params.num_topics: expects a value or a non-empty list"),
    ({"params": {"num_topics": "ten"}}, r"expects an int in 5-100; got 'ten' \(str\)"),
    ({"seeds": []}, r"seeds: expects a non-empty list of at most 10000 distinct values, each "
                    r"an int in 0-4294967295; got \[\]"),
    ({"metrics": {"topn": 1}}, r"metrics.topn: expects an int in 2-50; got 1"),
    ({"embedding": {"pooling": "max"}}, r"embedding.pooling: expects one of mean/cls/last_token"),
    ({"experiment": ""}, r"experiment: expects a name of 1 to 200 characters with no control "
                         r"or invisible format characters; got ''"),
    ({"colour": "blue"}, r"colour: unknown field; allowed:"),
    ({"seed": [42]}, r"seed: unknown field; did you mean 'seeds'\?; allowed:"),
    # the user audit of 2026-12-03: a model's misspelt parameter, and a seed among params
    ({"params": {"lda.max_iters": 10}}, r"params.lda.max_iters: LDA has no parameter "
                                        r"'max_iters'; did you mean 'max_iter'\? \(LDA has "),
    ({"params": {"seed": [1, 2]}}, r"params.seed: no model in this grid has a parameter 'seed'; "
                                   r"a trial's seed comes from the grid's top-level \"seeds\""),
    ({"dataset": {"path": "missing.jsonl"}}, r"dataset.path: file not found: .*missing.jsonl"),
    ({"dataset": {"path": "x.txt"}}, r"dataset.path: file not found"),
    ({"dataset": {"path": "c.jsonl", "text_field": ["title", "title"]}},
     r"dataset.text_field: expects a field name, or a list of 1 to 10 distinct field names; "
     r"got \['title', 'title'\]"),
    ({"dataset": {"path": "c.jsonl", "text_field": []}}, r"dataset.text_field: expects a field"),
    ({"dataset": {"path": "c.jsonl", "text_field": 3}}, r"dataset.text_field: expects a field"),
    # the labels inside the texts: ARI 0.25 -> 0.43 (attacker audit of 2026-12-04)
    ({"dataset": {"path": "c.jsonl", "text_field": ["text", "label"]}},
     r"dataset.text_field: 'label' is also the label_field: the texts would hold the labels "
     r"ARI, NMI and F1 score against"),
    ({"dataset": {"path": "c.jsonl", "text_field": "topic", "label_field": "topic"}},
     r"dataset.text_field: 'topic' is also the label_field"),
    ({"ground_truth": "nope.json"}, r"ground_truth: file not found"),
    ({"dataset": {"path": "c.jsonl", "language": "fr"}}, r"dataset.language: expects one of "
                                                           r"en/zh or null; got 'fr'"),
    ({"preprocessing": {"max_df": 2.0}}, r"preprocessing.max_df: expects a float in \(0, 1\]"),
    ({"timeout_s": -1}, r"timeout_s: expects a float in >0 or null; got -1"),
    # the docs audit of 2026-12-03: why infinity was refused, and who has a parameter
    ({"timeout_s": float("inf")}, r"timeout_s: expects a float in >0 or null; got inf \(not a "
                                  r"finite number\)"),
    ({"params": {"epochs": 5}}, r"params.epochs: no model in this grid has a parameter "
                                r"'epochs'; CTM, DTM, ETM, GSM, NVDM, ProdLDA, THETA have a "
                                r"parameter 'epochs'"),
    ({"experiment": float("nan")}, r"experiment: expects a name .*; got nan \(float\)"),
    # a rule on valid values is said beside another value's problem (regression audit)
    ({"params": {"num_topics": 500, "lda.alpha": 1e-40}}, r"(?s)num_topics.*LDA requires "
                                                           r"1e-30 <= alpha"),
    # a list of one is named by index as longer lists are (docs audit of 2026-12-03)
    ({"params": {"num_topics": ["ten"]}}, r"params.num_topics\[0\]: LDA expects an int"),
])
def test_invalid_grid_names_file_field_and_allowed(tmp_path, small_corpus, overrides, message):
    path = grid_with(tmp_path, small_corpus, **overrides)
    with pytest.raises(GridError, match=message) as info:
        load_grid(path)
    assert all(problem.startswith(str(path)) for problem in info.value.problems)


def test_settings_of_a_model_left_out_of_the_grid_are_kept_and_said_unused(tmp_path,
                                                                          small_corpus):
    """Removing prodlda from `models` refused the grid over prodlda.epochs (new-user audit of
    2026-12-03): the settings are checked, not used, and validate says so."""
    from tuner.engine.advice import advisories
    from tuner.engine.sweep import check_inputs

    path = grid_with(tmp_path, small_corpus, params={"num_topics": 5, "prodlda.epochs": 20,
                                                     "bertopic.min_cluster_size": [10, 20]})
    grid = load_grid(path)
    assert [s.model for s in grid.sweeps] == ["LDA"] and grid.trial_count == 1
    assert f"{path}: params.prodlda.epochs, params.bertopic.min_cluster_size: their models are " \
        "not in this grid's models, so no trial uses them" in advisories(grid, check_inputs(grid))


def test_every_problem_of_a_list_is_said_at_once(tmp_path, small_corpus):
    """[42, 42, -1] named only the -1; the repeat was said once it was fixed (new-user audit of
    2026-12-02)."""
    path = grid_with(tmp_path, small_corpus, seeds=[42, 42, -1])
    with pytest.raises(GridError) as info:
        load_grid(path)
    assert [p.removeprefix(f"{path}: ") for p in info.value.problems] == [
        "seeds[2]: expects an int in 0-4294967295; got -1",
        "seeds: expects a non-empty list of at most 10000 distinct values, each an int in "
        "0-4294967295; got [42, 42, -1]"]


def test_a_covariate_listed_twice_is_refused(tmp_path, small_corpus):
    """It was dropped without a word (new-user audit of 2026-12-02)."""
    raw = json.loads(grid_with(tmp_path, small_corpus).read_text())
    raw["dataset"]["covariates"] = ["label", "label"]
    path = tmp_path / "twice.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(GridError, match=r"dataset.covariates: expects a list of at most 100 "
                                        r"distinct values"):
        load_grid(path)


@pytest.mark.parametrize(("written", "code"), [
    ("ZH", "zh"), ("zh-CN", "zh"), ("zh_Hant", "zh"), ("En", "en"), ("en-GB", "en")])
def test_a_language_is_read_whatever_its_case_and_region(tmp_path, small_corpus, written, code):
    """"ZH" and "zh-cn" were refused while model names are read whatever their case (audit of
    2026-12-01)."""
    dataset = {"path": str(small_corpus), "language": written}
    path = grid_with(tmp_path, small_corpus, dataset=dataset)
    assert load_grid(path).dataset.language == code


def test_every_problem_is_reported_at_once(tmp_path, small_corpus):
    path = grid_with(tmp_path, small_corpus, models=["nosuch"], seeds="x",
                     metrics={"topn": 0}, params={"num_topics": 5})
    with pytest.raises(GridError) as info:
        load_grid(path)
    fields = [p.split(": ")[1] for p in info.value.problems]
    assert fields == ["models[0]", "seeds", "metrics.topn"]


@pytest.mark.parametrize("revision", [
    "/dev/zero", "/proc/self/fd/1", "../../../etc/passwd", "refs/../../x", ".git", "a//b",
    "main/", "a\\b", "v1 0", "x" * 129])
def test_a_revision_that_is_not_a_ref_name_is_refused(tmp_path, small_corpus, revision):
    """huggingface_hub reads a revision that is not a commit hash as a file path below the
    model's refs folder, or anywhere when absolute: /dev/zero filled the service's memory and a
    pipe hung it (audit of 2026-12-01)."""
    path = grid_with(tmp_path, small_corpus, embedding={"revision": revision})
    with pytest.raises(GridError, match=r"embedding.revision: expects a branch, tag or commit"):
        load_grid(path)


@pytest.mark.parametrize("revision", ["main", "v1.0", "refs/pr/12", "release_2-b", "a" * 40])
def test_branch_tag_and_commit_revisions_are_accepted(tmp_path, small_corpus, revision):
    grid = load_grid(grid_with(tmp_path, small_corpus, embedding={"revision": revision}))
    assert grid.embedding.revision == revision


@pytest.mark.parametrize("name", ["a\nWARNING forged line", "tab\there", "x" * 201, "\x00",
                                  "zero\u200bwidth"])
def test_an_experiment_name_with_control_characters_or_too_long_is_refused(
        tmp_path, small_corpus, name):
    """A newline forged lines in the service's log; a long name failed only after its trials
    had run, and then every later sweep of the experiment (audit of 2026-12-01)."""
    with pytest.raises(GridError, match=r"experiment: expects a name of 1 to 200 characters"):
        load_grid(grid_with(tmp_path, small_corpus, experiment=name))


@pytest.mark.parametrize("name", ["主题\u3000模型", "news\u00a0topics", "x" * 200])
def test_names_with_any_kind_of_space_are_accepted(tmp_path, small_corpus, name):
    assert load_grid(grid_with(tmp_path, small_corpus, experiment=name)).experiment == name


def test_a_long_chinese_experiment_name_gets_an_artifact_folder_a_file_system_accepts():
    from tuner.tracking.tracker import artifact_folder_name

    folder = artifact_folder_name("中" * 200)
    assert folder == "中" * 40 and len(folder.encode()) <= 120


def test_a_huge_list_is_refused_by_its_length_and_the_answer_stays_small(tmp_path, small_corpus):
    """A 0.5 MB grid of 170,000 values took 2.7 CPU s to check and gave a 13.5 MB answer, one
    problem per value with the list quoted (audit of 2026-12-01)."""
    path = grid_with(tmp_path, small_corpus, params={"num_topics": [1] * 200_000,
                                                     "lda.max_iter": [1] * 5000})
    with pytest.raises(GridError) as info:
        load_grid(path)
    problems = info.value.problems
    assert problems[0] == f"{path}: params.num_topics: expects at most 10000 values; got 200000"
    assert problems[1] == f"{path}: params.lda.max_iter[0]: LDA expects an int in 10-10000; got 1"
    assert len(problems) == 101 and problems[-1] == f"{path}: and 4901 more problems"
    assert sum(len(p) for p in problems) < 30_000


def test_seeds_are_at_most_ten_thousand(tmp_path, small_corpus):
    path = grid_with(tmp_path, small_corpus, seeds=list(range(20_000)))
    with pytest.raises(GridError) as info:
        load_grid(path)
    assert info.value.problems == [
        f"{path}: seeds: expects a non-empty list of at most 10000 distinct values, each an int "
        "in 0-4294967295; got a list of 20000 values"]


def test_a_long_value_is_quoted_cut_short(tmp_path, small_corpus):
    path = grid_with(tmp_path, small_corpus, metrics={"topn": "x" * 5000})
    with pytest.raises(GridError, match=r"got 'xxx+\.\.\. \(5002 characters\) \(str\)"):
        load_grid(path)


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


@pytest.mark.parametrize(("overrides", "message"), [
    ({"timeout_s": math.nan}, r"timeout_s: expects a float in >0 or null; got nan"),
    ({"timeout_s": math.inf}, r"timeout_s: expects a float in >0 or null; got inf"),
    ({"models": ["prodlda"], "params": {"learning_rate": math.inf}},
     r"params.learning_rate: ProdLDA expects a float in 1e-05-0.1; got inf"),
    ({"preprocessing": {"max_df": math.nan}}, r"preprocessing.max_df: expects a float in "
                                              r"\(0, 1\]; got nan"),
])
def test_nan_and_infinity_are_refused_wherever_a_number_is_accepted(tmp_path, small_corpus,
                                                                    overrides, message):
    path = grid_with(tmp_path, small_corpus, **overrides)
    assert "NaN" in path.read_text() or "Infinity" in path.read_text()  # what JSON loads as such
    with pytest.raises(GridError, match=message):
        load_grid(path)


@pytest.mark.parametrize(("seeds", "message"), [
    ([1, 2**32], r"seeds\[1\]: expects an int in 0-4294967295; got 4294967296"),
    (-1, r"seeds\[0\]: expects an int in 0-4294967295; got -1"),
    ([3, 3], r"seeds: expects a non-empty list of at most 10000 distinct values, each an int in "
             r"0-4294967295; got \[3, 3\]"),
])
def test_seeds_are_distinct_32_bit_ints(tmp_path, small_corpus, seeds, message):
    with pytest.raises(GridError, match=message):
        load_grid(grid_with(tmp_path, small_corpus, seeds=seeds))


def test_largest_32_bit_seed_is_accepted(tmp_path, small_corpus):
    assert load_grid(grid_with(tmp_path, small_corpus, seeds=2**32 - 1)).seeds == [2**32 - 1]


def test_a_model_seed_parameter_is_32_bit(tmp_path, small_corpus):
    path = grid_with(tmp_path, small_corpus, models=["bertopic"],
                     params={"bertopic.random_state": [7, 2**32]})
    with pytest.raises(GridError, match=r"params.bertopic.random_state\[1\]: BERTopic expects an "
                                        r"int in 0-4294967295; got 4294967296"):
        load_grid(path)


def test_search_seed_is_32_bit(tmp_path, small_corpus):
    path = grid_with(tmp_path, small_corpus, search={"strategy": "random", "n_trials": 2,
                                                     "seed": 2**40})
    with pytest.raises(GridError, match=r"search.seed: expects an int in 0-4294967295"):
        load_grid(path)


def test_every_problem_of_one_section_is_reported(tmp_path, small_corpus):
    path = grid_with(tmp_path, small_corpus, metrics={"topn": 1, "npmi_window": 1, "x": 2},
                     embedding={"pooling": "max", "batch_size": 0})
    with pytest.raises(GridError) as info:
        load_grid(path)
    fields = [p.split(": ")[1] for p in info.value.problems]
    assert fields == ["embedding.pooling", "embedding.batch_size", "metrics.x",
                      "metrics.npmi_window", "metrics.topn"]


def test_a_section_of_the_wrong_type_is_named(tmp_path, small_corpus):
    path = grid_with(tmp_path, small_corpus, metrics=[10], params="lots")
    with pytest.raises(GridError) as info:
        load_grid(path)
    assert info.value.problems == [f"{path}: params: expects an object; got 'lots' (str)",
                                   f"{path}: metrics: expects an object; got [10] (list)"]


@pytest.mark.parametrize(("schema", "record"), [
    (sections.DATASET, DatasetSpec), (sections.EMBEDDING, EmbeddingSpec),
    (sections.METRICS, MetricSettings), (sections.PREPROCESSING, Preprocessing),
])
def test_each_section_declares_every_setting_with_the_record_defaults(schema, record):
    fields = {f.name: f.default for f in dataclasses.fields(record)}
    assert schema.names == list(fields)
    defaults = {p.name: p.default for p in schema.params if p.name != "path"}
    assert defaults == {k: list(v) if isinstance(v, tuple) else v for k, v in fields.items()
                        if k != "path"}


ASTRONOMICAL = {"num_topics": list(range(5, 101)), "max_iter": list(range(10, 500)),
                "vocab_size": list(range(1000, 20001, 2)), "alpha": [0.1 * i for i in
                                                                   range(1, 3000)]}


def test_an_astronomical_grid_is_counted_without_expanding_it(tmp_path, small_corpus):
    grid = load_grid(grid_with(tmp_path, small_corpus, params=ASTRONOMICAL, seeds=[1, 2]))
    expected = 96 * 490 * 9501 * 2999 * 2
    assert expected > 10**12
    assert grid.trial_count == expected


def test_an_astronomical_grid_is_refused_naming_its_count(tmp_path, small_corpus):
    from tuner.engine.sweep import check_inputs

    grid = load_grid(grid_with(tmp_path, small_corpus, params=ASTRONOMICAL, seeds=[1, 2]))
    with pytest.raises(GridError, match=rf"expands to {grid.trial_count} trials, more than "
                                        r"--max-trials 10000"):
        check_inputs(grid, 10000)


@pytest.mark.parametrize("params, search", [
    # a rule over two fields: checking 3,000 x 3,000 value pairs held a server thread 20 s
    ({"hdp.initial_k": [1] * 3000, "hdp.max_topics": [300] * 3000}, None),
    ({"hdp.initial_k": list(range(1, 301)), "hdp.max_topics": list(range(50, 301))}, None),
    # drawing 100,000 random configurations took a second before the count was checked
    ({"hdp.initial_k": [2, 5, 10]}, {"strategy": "random", "n_trials": 100_000}),
])
def test_a_grid_over_max_trials_is_refused_before_its_values_are_combined(
        tmp_path, small_corpus, params, search):
    """The count comes from the list lengths; no rule is checked and nothing is drawn first,
    so a small request cannot buy minutes of validation (audit of 2026-12-01)."""
    extra = {"search": search} if search else {}
    path = grid_with(tmp_path, small_corpus, models=["hdp"], params=params, **extra)
    with pytest.raises(GridError) as info:
        load_grid(path, max_trials=10000)
    (problem,) = info.value.problems  # the count alone: no rule was judged, nothing drawn
    assert "more than --max-trials 10000" in problem


def test_repeated_values_are_judged_once_by_a_rule(tmp_path, small_corpus):
    path = grid_with(tmp_path, small_corpus, models=["theta"],
                     params={"theta.epochs": [20] * 50, "theta.kl_warmup": [25] * 50})
    with pytest.raises(GridError) as info:
        load_grid(path)
    assert info.value.problems == [f"{path}: params: THETA requires kl_warmup <= epochs; got "
                                   "kl_warmup=25, epochs=20"]


def test_a_grid_nested_past_the_parsers_depth_is_a_grid_error(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(GridError, match="nested too deeply"):
        load_grid(path)


def test_a_number_past_pythons_digit_limit_is_a_grid_error(tmp_path):
    path = tmp_path / "huge.json"
    path.write_text('{"seeds": [' + "9" * 5000 + "]}", encoding="utf-8")
    with pytest.raises(GridError, match="a number has too many digits"):
        load_grid(path)


def test_a_file_name_the_system_refuses_is_a_problem_not_a_crash(tmp_path, small_corpus):
    """A path component over 255 bytes made `is_file` raise OSError (a 500 over HTTP)."""
    long_name = "x" * 300 + ".jsonl"
    path = grid_with(tmp_path, small_corpus, ground_truth=long_name)
    raw = json.loads(path.read_text(encoding="utf-8"))
    raw["dataset"]["path"] = long_name
    path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(GridError) as info:
        load_grid(path)
    assert {p.split(": ")[1] for p in info.value.problems} == {"dataset.path", "ground_truth"}
    with pytest.raises(GridError, match="grid file not found"):
        load_grid(tmp_path / long_name)


def test_a_relative_model_folder_resolves_against_the_grid_folder(tmp_path, small_corpus):
    (tmp_path / "models" / "mine").mkdir(parents=True)
    path = grid_with(tmp_path, small_corpus, embedding={"model": "./models/mine"})
    assert load_grid(path).embedding.model == str((tmp_path / "models" / "mine").resolve())
    path = grid_with(tmp_path, small_corpus, embedding={"model": "models/mine"})
    assert load_grid(path).embedding.model == str((tmp_path / "models" / "mine").resolve())
    path = grid_with(tmp_path, small_corpus, embedding={"model": "org/some-model"})
    assert load_grid(path).embedding.model == "org/some-model"  # an id: as it is


def test_a_rule_is_checked_on_the_values_of_its_own_fields(tmp_path, small_corpus):
    params = {"theta.epochs": [20, 30], "theta.kl_warmup": [10, 25],
              "theta.hidden_dim": list(range(128, 2049)), "theta.dropout": [0.1, 0.2, 0.3]}
    path = grid_with(tmp_path, small_corpus, models=["theta"], params=params)
    with pytest.raises(GridError) as info:
        load_grid(path)
    assert info.value.problems == [f"{path}: params: THETA requires kl_warmup <= epochs; got "
                                   "kl_warmup=25, epochs=20"]


SHIPPED = sorted((REPO / "grids").glob("*.json"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_every_shipped_grid_is_valid(path):
    assert load_grid(path).trial_count >= 1


@pytest.mark.parametrize("model", sorted(BUILTIN))
def test_every_registered_model_has_a_shipped_grid(model):
    named = {canonical_name(m) for p in SHIPPED for m in _grid_models(p)}
    assert model in named, f"add grids/{model.lower()}.json"


def _grid_models(path: Path) -> list[str]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    value = raw.get("models", raw.get("model"))
    return [value] if isinstance(value, str) else list(value)


def test_a_key_given_twice_is_refused(tmp_path, small_corpus):
    """JSON keeps the last of two equal keys: `"num_topics": 10, ..., "num_topics": 20` ran
    K=20 without a word (audit of 2026-12-01)."""
    path = grid_with(tmp_path, small_corpus)
    text = path.read_text(encoding="utf-8").replace('"num_topics": 5,',
                                                    '"num_topics": 10, "num_topics": 20,')
    path.write_text(text, encoding="utf-8")
    with pytest.raises(GridError) as info:
        load_grid(path)
    assert info.value.problems == [f"{path}: key 'num_topics': given twice in one object; JSON "
                                   "keeps only the last, so say which value you mean"]


def test_text_with_no_utf_8_form_is_refused_naming_its_field(tmp_path, small_corpus):
    """A lone surrogate in an extra stop word passed validation, and the sweep failed when the
    bag of words was written (attacker audit of 2026-12-03)."""
    path = grid_with(tmp_path, small_corpus, preprocessing={"extra_stopwords": ["ok", "\udfff"]})
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('"ok"', '"\\ud83d\\ude00"'), encoding="utf-8")  # a pair: text
    data = json.loads(path.read_text(encoding="utf-8"))
    data["\udc80"] = 1
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(GridError) as info:
        load_grid(path)
    assert info.value.problems == [
        f"{path}: preprocessing.extra_stopwords[1]: holds a lone surrogate (JSON's \\ud800 to "
        "\\udfff alone), which is not text; write the character itself, or its surrogate pair",
        f"{path}: '\\udc80' (a field's name): holds a lone surrogate (JSON's \\ud800 to "
        "\\udfff alone), which is not text; write the character itself, or its surrogate pair"]


def test_a_grid_with_a_byte_order_mark_loads(tmp_path, small_corpus):
    path = grid_with(tmp_path, small_corpus)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert load_grid(path).experiment == "test"


def test_n_trials_under_the_grid_strategy_is_refused(tmp_path, small_corpus):
    """It was silently ignored: every combination ran (audit of 2026-12-01)."""
    path = grid_with(tmp_path, small_corpus, search={"strategy": "grid", "n_trials": 5})
    with pytest.raises(GridError, match=r"search: .*no n_trials for strategy grid"):
        load_grid(path)


def test_settings_record_a_model_folder_found_from_the_working_folder(tmp_path, small_corpus,
                                                                      monkeypatch):
    """A folder the grid names relative to where `tuner run` ran was recorded as written, and
    `tuner best` run elsewhere would find another folder or a Hub id (review of 2026-12-01)."""
    (tmp_path / "work" / "models" / "mine").mkdir(parents=True)
    grid_folder = tmp_path / "grids"
    path = grid_with(grid_folder, small_corpus, embedding={"model": "models/mine"})
    monkeypatch.chdir(tmp_path / "work")
    settings = load_grid(path).settings()
    assert settings["embedding"]["model"] == str(tmp_path / "work" / "models" / "mine")


@pytest.mark.parametrize("name, section", [("max_df", "preprocessing"),
                                           ("max_length", "embedding"), ("topn", "metrics")])
def test_another_sections_setting_under_params_names_its_section(tmp_path, small_corpus, name,
                                                                 section):
    """`params.max_df` was "no model has a parameter 'max_df'", without a word of where it
    belongs (new-user audit of 2026-12-02)."""
    path = make_grid(tmp_path, small_corpus, params={"num_topics": 5, name: 3})
    with pytest.raises(GridError) as refused:
        load_grid(path)
    assert f"params.{name}: no model in this grid has a parameter '{name}'; it is a setting of " \
        f"the grid's {section} section: {section}.{name}" in str(refused.value)


def test_a_stop_lists_name_is_read_whatever_its_case(tmp_path, small_corpus):
    """"English" was refused where model names and dataset.language take any case."""
    path = make_grid(tmp_path, small_corpus, params={"num_topics": 5},
                     preprocessing={"stopwords": "English"})
    assert load_grid(path).preprocessing == Preprocessing(stopwords="english")


@pytest.mark.parametrize(("models", "problem"), [
    ("lda,prodlda", "models: expects a non-empty list of model names (one name: 'model') or "
                    "null; got 'lda,prodlda' (str)"),
    (None, "models: missing; give 'model' (one name) or 'models' (a list of names)"),
])
def test_models_given_wrongly_or_not_at_all_is_one_clear_problem(tmp_path, small_corpus, models,
                                                                 problem):
    """A string gave a second, bogus "unknown model 'lda,prodlda'"; no model at all read
    "model: expects a model name ...; got None" (docs audit of 2026-12-03)."""
    path = grid_with(tmp_path, small_corpus)
    raw = json.loads(path.read_text())
    raw.pop("model", None)
    raw.pop("models", None)
    if models is not None:
        raw["models"] = models
    path.write_text(json.dumps(raw))
    with pytest.raises(GridError) as info:
        load_grid(path)
    assert [p.removeprefix(f"{path}: ") for p in info.value.problems] == [problem]


def test_a_dataset_path_that_is_no_regular_file_is_said_so(tmp_path, small_corpus):
    """A FIFO named as the corpus was said "file not found" (attacker audit of 2026-12-04)."""
    import os

    fifo = tmp_path / "corpus.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(GridError) as refused:
        load_grid(make_grid(tmp_path, fifo))
    assert f"dataset.path: not a regular file (a pipe, a socket or a device): {fifo}" \
        in str(refused.value)
