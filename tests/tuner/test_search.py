"""Random and TPE search over a grid's space."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from tests.conftest import make_grid, sqlite_store
from tuner.engine.executors import make_executor
from tuner.engine.runner import run_sweep
from tuner.engine.sweep import check_inputs, precompute
from tuner.errors import GridError
from tuner.grid import load_grid
from tuner.reporting.leaderboard import asked_record
from tuner.tracking.records import shown_as
from tuner.tracking.tracker import MlflowTracker

SPACE = {"num_topics": [5, 8, 12], "vocab_size": 1000,
         "lda.max_iter": {"low": 10, "high": 40}, "lda.alpha": {"low": 0.01, "high": 1.0,
                                                                "log": True}}


def random_grid(tmp_path, corpus, seed=0, n_trials=6):
    return load_grid(make_grid(tmp_path, corpus, params=SPACE,
                               search={"strategy": "random", "n_trials": n_trials, "seed": seed}))


def test_random_search_samples_choices_and_ranges(tmp_path, small_corpus):
    grid = random_grid(tmp_path, small_corpus)
    combos = grid.sweeps[0].combinations
    assert len(combos) == 6 and grid.trial_count == 6
    assert all(c["num_topics"] in (5, 8, 12) for c in combos)
    assert all(isinstance(c["max_iter"], int) and 10 <= c["max_iter"] <= 40 for c in combos)
    assert all(0.01 <= c["alpha"] <= 1.0 for c in combos)
    assert len({c["alpha"] for c in combos}) == 6


def test_random_search_is_repeatable_for_a_seed(tmp_path, small_corpus):
    first = random_grid(tmp_path / "a", small_corpus, seed=3).sweeps[0].combinations
    again = random_grid(tmp_path / "b", small_corpus, seed=3).sweeps[0].combinations
    other = random_grid(tmp_path / "c", small_corpus, seed=4).sweeps[0].combinations
    assert first == again and first != other


def test_random_search_draws_distinct_configurations(tmp_path, small_corpus):
    """Drawn with replacement, 20 trials of a 2-value space were 2 configurations and a 12-point
    space gave 6 to 8 of 10 (audit of 2026-12-01). A spent space gives all it has, whatever the
    seed, and a larger n_trials keeps a smaller one's configurations."""
    from tuner.engine.search import sample_random

    space = {"LDA": {"num_topics": [5, 10, 15, 20], "eta": [0.01, 0.05, 0.1]}}
    for seed in range(30):
        drawn = sample_random(space, 10, seed)["LDA"]
        assert len({json.dumps(c, sort_keys=True) for c in drawn}) == len(drawn) == 10
        assert sample_random(space, 4, seed)["LDA"] == drawn[:4]
        assert len(sample_random(space, 20, seed)["LDA"]) == 12
    grid = load_grid(make_grid(tmp_path, small_corpus, params={"num_topics": [5, 6]},
                               search={"strategy": "random", "n_trials": 20}))
    assert grid.trial_count == 2


def test_random_search_keeps_the_configurations_it_drew_before(tmp_path):
    """A cron re-run after the upgrade must find the configurations it ran (with repeats, the
    old draws kept duplicates; every turn still draws, so the same numbers fall to the same
    models)."""
    import numpy as np

    from tuner.engine.search import _draw, draw_config, sample_random

    space = {"LDA": {"num_topics": [5, 10, 15], "eta": [0.01, 0.1]},
             "NVDM": {"num_topics": [5, 10], "dropout": [0.1, 0.2, 0.3]}}
    def old_draws(seed: int) -> dict[str, set[str]]:
        """The draws as they were: one a turn, repeats kept (merged later)."""
        rng, before = np.random.default_rng(seed), {"LDA": set(), "NVDM": set()}
        for turn in range(10):
            model = list(space)[turn % 2]
            combo = draw_config(model, space[model], lambda _, values: _draw(values, rng))
            before[model].add(json.dumps(combo, sort_keys=True))
        return before

    for seed in range(10):
        before = old_draws(seed)
        now = sample_random(space, 10, seed)
        for model, kept in before.items():
            assert kept <= {json.dumps(c, sort_keys=True) for c in now[model]}


@pytest.mark.parametrize(("params", "search", "message"), [
    ({"lda.max_iter": {"low": 10, "high": 40}}, None, r"params.lda.max_iter: a range needs "
                                                      r"search.strategy random or tpe"),
    ({"lda.max_iter": {"low": 40, "high": 10}}, {"strategy": "random", "n_trials": 2},
     r"expects low < high; got 40 and 10"),
    ({"lda.max_iter": {"low": 1, "high": 40}}, {"strategy": "random", "n_trials": 2},
     r"params.lda.max_iter.low: LDA expects an int in 10-10000; got 1"),
    # A string range crashed validate with a traceback, a null end too; a bool range drew
    # floats, every one but 0.0 true (audit of 2026-12-01).
    ({"lda.term_weight": {"low": "idf", "high": "pmi"}}, {"strategy": "random", "n_trials": 2},
     r"params.lda.term_weight: a range needs a number parameter; term_weight is str: list its "
     r"values to search them"),
    ({"lda.alpha": {"low": None, "high": 0.5}}, {"strategy": "random", "n_trials": 2},
     r"params.lda.alpha.low: expects a number; got null"),
    ({"lda.alpha": {"low": 0.01, "high": 0.5, "log": "false"}},
     {"strategy": "random", "n_trials": 2}, r"params.lda.alpha.log: expects true or false; got "
                                            r"'false'"),
    ({"num_topics": 5}, {"strategy": "annealing"}, r"search.strategy: expects one of "
                                                   r"grid/random/tpe"),
    ({"num_topics": 5}, {"strategy": "random", "n_trials": 0}, r"search.n_trials: expects an "
                                                              r"int in 1-100000"),
    ({"num_topics": 5}, {"strategy": "tpe", "n_trials": 3, "metric": "beauty"},
     r"search.metric: expects one of npmi"),
    ({"num_topics": 5}, {"strategy": "tpe", "n_trials": 3, "metrics": ["ari", "beauty"]},
     r"search.metrics\[1\]: expects one of npmi"),
    # both given, metric was ignored; a repeated or empty list was a Pareto search of one or
    # none (search audit of 2026-12-02)
    ({"num_topics": 5}, {"strategy": "tpe", "n_trials": 3, "metric": "ari", "metrics": ["npmi"]},
     r"search: requires metric or metrics, not both"),
    ({"num_topics": 5}, {"strategy": "tpe", "n_trials": 3, "metrics": ["ari", "ari"]},
     r"search.metrics: expects a non-empty list of at most 10 distinct values"),
    ({"num_topics": 5}, {"strategy": "tpe", "n_trials": 3, "metrics": []},
     r"search.metrics: expects a non-empty list"),
])
def test_bad_search_settings(tmp_path, small_corpus, params, search, message):
    overrides = {"params": params} | ({"search": search} if search else {})
    with pytest.raises(GridError, match=message):
        load_grid(make_grid(tmp_path, small_corpus, **overrides))


def test_a_broken_search_section_is_said_once_not_again_under_each_range(tmp_path,
                                                                        small_corpus):
    """A range read as if the strategy were grid: "a range needs search.strategy random or tpe"
    followed every mistake in the search section, a valid strategy's too (search audit)."""
    with pytest.raises(GridError) as refused:
        load_grid(make_grid(tmp_path, small_corpus, params={"lda.alpha": {"low": 0.01,
                                                                          "high": 1.0}},
                            search={"strategy": "TPE", "n_trials": 3}))
    assert "search.strategy: expects one of grid/random/tpe" in str(refused.value)
    assert "a range needs" not in str(refused.value)
    with pytest.raises(GridError) as refused:  # a grid strategy with n_trials: both said
        load_grid(make_grid(tmp_path, small_corpus, params={"lda.alpha": {"low": 0.01,
                                                                          "high": 1.0}},
                            search={"strategy": "grid", "n_trials": 3}))
    assert "no n_trials for strategy grid" in str(refused.value)
    assert "params.lda.alpha: a range needs search.strategy random or tpe" in str(refused.value)


def test_a_tpe_search_listing_more_caches_than_trials_is_refused(tmp_path, small_corpus):
    """Each vocab_size value is a bag of words built before the first trial: 200 values for one
    trial built 200 (attacker audit of 2026-12-02). Refused before the corpus is read."""
    from tuner.engine.sweep import check_inputs

    grid = load_grid(make_grid(tmp_path, small_corpus, models=["lda", "btm"], params={
        "lda.vocab_size": list(range(1000, 1200)), "num_topics": 5},
        search={"strategy": "tpe", "n_trials": 3}))
    with pytest.raises(GridError, match=r"search.n_trials: a TPE search builds a cache for each "
                       r"choice .* 200 here \(LDA: 200 vocab_size\), more than its 3 trials "
                       r"can use"):
        check_inputs(grid)
    huge = load_grid(make_grid(tmp_path, small_corpus, models=["theta"], params={
        "theta.vocab_size": list(range(1000, 11000)), "theta.language": ["en", "zh"] * 5000,
        "num_topics": 5}, search={"strategy": "tpe", "n_trials": 3}))
    with pytest.raises(GridError, match=r"20000 here \(THETA: 10000 vocab_size x 2 language"):
        check_inputs(huge)  # counted, not built (the product of the lists: 10^8 combinations)
    fits = load_grid(make_grid(tmp_path, small_corpus, models=["lda", "btm"], params={
        "lda.vocab_size": [1000, 2000], "num_topics": 5},
        search={"strategy": "tpe", "n_trials": 2}))
    assert len(check_inputs(fits).plan) == 3  # LDA's two bags and BTM's one


def test_a_range_of_a_bool_parameter_is_refused(tmp_path, small_corpus):
    """Drawn as floats, every draw but 0.0 was true: false was never tried (audit)."""
    with pytest.raises(GridError, match=r"params.bertopic.reduce_frequent_words: a range needs "
                                        r"a number parameter; reduce_frequent_words is bool"):
        load_grid(make_grid(tmp_path, small_corpus, models=["bertopic"], params={
            "bertopic.reduce_frequent_words": {"low": False, "high": True}},
            search={"strategy": "random", "n_trials": 2}))


def test_tpe_search_runs_asks_and_tells_and_resumes(tmp_path, small_corpus, session_cache):
    grid = load_grid(make_grid(tmp_path, small_corpus, experiment="tpe", params=SPACE,
                               search={"strategy": "tpe", "n_trials": 4, "seed": 1,
                                       "metrics": ["ari", "npmi"]}, seeds=[1, 2]))
    assert grid.trial_count == 8
    prepared = precompute(grid, check_inputs(grid), session_cache, progress=False)
    tracker = MlflowTracker(sqlite_store(tmp_path / "mlflow.db"))
    tracker.experiment_id(grid.experiment)
    first = run_sweep(prepared, tracker, lambda: make_executor("process", 2), 2)
    assert first.completed == 8
    summary = json.loads(Path(tracker.client.download_artifacts(
        first.sweep.run_id, "search.json", str(tmp_path))).read_text())["configurations"]
    assert len(summary) == 4 and all(c["seeds"] == 2 for c in summary)
    assert all({"ari_mean", "ari_std", "npmi_mean", "npmi_std"} <= set(c) for c in summary)
    runs = tracker.trial_runs(first.sweep.experiment_id, "attributes.status = 'FINISHED'")
    for config in summary:  # the sample sd, as the leaderboard's (np.std's was 1/sqrt(2) of it)
        mine = [r.data.metrics["ari"] for r in runs
                if int(r.data.params["num_topics"]) == config["params"]["num_topics"]
                and float(r.data.params["alpha"]) == pytest.approx(config["params"]["alpha"])]
        assert len(mine) == 2 and config["ari_std"] == pytest.approx(statistics.stdev(mine))
    # what a search asked for is known as it ends: how each configuration's row shows with it
    shown = asked_record(tracker, first.sweep.run_id).shown
    assert shown == {t.config_key: shown_as(t) for t in tracker.finished_trials("tpe")}
    assert shown is not None and len(shown) == 4

    prepared = precompute(grid, check_inputs(grid), session_cache, progress=False)
    again = run_sweep(prepared, tracker, lambda: make_executor("process", 2), 2)
    # The first run's suggestions are asked first again: a finished search trains nothing (asked
    # anew, TPE's later suggestions depended on the order results had arrived in, and a re-run
    # at 2 workers trained past the budget; audit of 2026-12-02)
    assert (again.completed, again.skipped) == (0, 8)
    wider = load_grid(make_grid(tmp_path, small_corpus, experiment="tpe", params=SPACE,
                                search={"strategy": "tpe", "n_trials": 5, "seed": 1,
                                        "metrics": ["ari", "npmi"]}, seeds=[1, 2]))
    prepared = precompute(wider, check_inputs(wider), session_cache, progress=False)
    more = run_sweep(prepared, tracker, lambda: make_executor("process", 2), 2)
    assert (more.completed, more.skipped) == (2, 8)  # one more configuration, at two seeds
    keys = [r.data.tags["tuner.trial_key"] for r in tracker.trial_runs(
        again.sweep.experiment_id, "attributes.status = 'FINISHED'")]
    assert len(keys) == len(set(keys)) == 10


def test_a_repeated_tpe_suggestion_runs_once_and_every_suggestion_is_told():
    from types import SimpleNamespace

    from optuna.trial import TrialState

    from tuner.engine.search import Range, SearchSpec, TpeSource

    made = []

    def make_trial(model, combo, seed):
        made.append((model, dict(combo), seed))
        return SimpleNamespace(key=f"{model}-{combo['num_topics']}-{seed}")

    # an earlier sweep's suggestions, replayed: one configuration three times in a space that
    # is not counted (a search of a counted one ends once it has suggested each)
    earlier = [[("LDA", {"num_topics": 5.0})] * 3]
    source = TpeSource({"LDA": {"num_topics": Range(5.0, 60.0)}},
                       SearchSpec("tpe", 3, 0, ("npmi",)), [1], make_trial, ["maximize"], earlier)
    first = source.next()
    assert source.next() is None and source.next() is None  # both repeats wait for the first
    assert source.exhausted()
    source.tell(first.key, {"npmi": 0.2})
    trials = source.study.get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3
    assert [t.value for t in trials] == [0.2] * 3
    assert len(made) == 3 and len(source.finished) == 3 and source.repeated == 2


def test_a_tpe_search_ends_once_it_has_suggested_every_configuration_of_its_space():
    """10,000 suggestions of a 2-value space held a core of tuner serve for minutes, every one
    past the second a repeat (attacker audit of 2026-12-04): the search ends, and the budget
    it leaves is counted."""
    from types import SimpleNamespace

    from tuner.engine.search import Range, SearchSpec, TpeSource

    def make_trial(model, combo, seed):
        return SimpleNamespace(key=f"{model}-{combo['num_topics']}-{seed}", combo=combo)

    source = TpeSource({"LDA": {"num_topics": [5, 6]}}, SearchSpec("tpe", 10_000, 0, ("npmi",)),
                       [1, 2], make_trial, ["maximize"])
    asked = []
    while not source.exhausted():
        if (spec := source.next()) is not None:
            asked.append(spec.combo["num_topics"])
            source.tell(spec.key, {"npmi": 0.1})
    assert sorted(set(asked)) == [5, 6] and len(asked) == 4
    assert source.asked < 10 and source.unasked_trials == (10_000 - source.asked) * 2
    endless = TpeSource({"LDA": {"num_topics": Range(5.0, 60.0)}},
                        SearchSpec("tpe", 3, 0, ("npmi",)), [1], make_trial, ["maximize"])
    assert endless.space_size == float("inf")


def test_a_suggestion_of_a_fit_that_reads_no_seed_is_one_trial_not_repeats():
    """STM's spectral start is keyed without its seed: its three seeds made one key, counted as
    two repeats of itself and summarised as 3 seeds with a sd of 0 (review of 2026-12-04)."""
    from types import SimpleNamespace

    from tuner.engine.search import SearchSpec, TpeSource

    def make_trial(model, combo, seed):
        return SimpleNamespace(key=f"{model}-{combo['num_topics']}")  # no seed in its key

    source = TpeSource({"STM": {"num_topics": [5]}}, SearchSpec("tpe", 1, 0, ("npmi",)),
                       [1, 2, 3], make_trial, ["maximize"])
    only = source.next()
    assert source.next() is None and source.exhausted() and source.repeated == 0
    source.tell(only.key, {"npmi": 0.2})
    [summary] = source.finished
    assert (summary["seeds"], summary["completed"], summary["npmi_std"]) == (1, 1, None)


def test_a_replayed_search_asks_its_earlier_suggestions_repeats_included_before_new_ones():
    """A search whose second suggestion repeated its first, replayed once per configuration,
    asked one new configuration on a re-run (review of 2026-12-02); suggestions the space no
    longer holds are not replayed, and across sweeps each counts as often as one sweep asked it."""
    from types import SimpleNamespace

    from tuner.engine.search import Range, SearchSpec, TpeSource

    def make_trial(model, combo, seed):
        return SimpleNamespace(key=f"{model}-{combo['num_topics']}-{seed}")

    earlier = [[("LDA", {"num_topics": 5}), ("LDA", {"num_topics": 5}), ("LDA", {"num_topics": 7}),
                ("LDA", {"num_topics": 7.0}), ("LDA", {"num_topics": 99}), ("HDP", {"x": 1})],
               [("LDA", {"num_topics": 7}), ("LDA", {"num_topics": 5})]]
    source = TpeSource({"LDA": {"num_topics": Range(5, 60, integer=True)}},
                       SearchSpec("tpe", 3, 0, ("npmi",)), [1], make_trial, ["maximize"],
                       earlier)
    assert source.replayed == 3
    asked = [source.next() for _ in range(3)]
    assert [t.key for t in asked if t is not None] == ["LDA-5-1", "LDA-7-1"]  # 5 twice: a repeat
    assert source.repeated == 1 and source.exhausted()


def test_random_search_does_not_draw_settings_without_effect(tmp_path, small_corpus):
    """Under k-means HDBSCAN's min_cluster_size does nothing: drawn, it would only make
    repeats of one k-means trial. It is drawn after clustering, and only for HDBSCAN."""
    grid = load_grid(make_grid(tmp_path, small_corpus, models=["bertopic"], params={
        "num_topics": 5, "vocab_size": 1000, "bertopic.min_cluster_size": {"low": 5, "high": 50},
        "bertopic.clustering": ["hdbscan", "kmeans"]},
        search={"strategy": "random", "n_trials": 12, "seed": 0}))
    combos = grid.sweeps[0].combinations
    assert {c["clustering"] for c in combos} == {"hdbscan", "kmeans"}
    assert all(("min_cluster_size" in c) == (c["clustering"] == "hdbscan") for c in combos)


def test_tpe_does_not_suggest_settings_without_effect():
    from types import SimpleNamespace

    from tuner.engine.search import SearchSpec, TpeSource

    made = []

    def make_trial(model, combo, seed):
        made.append(dict(combo))
        return SimpleNamespace(key=f"{len(made)}")

    space = {"BERTopic": {"min_cluster_size": [5, 10, 20], "clustering": ["hdbscan", "kmeans"],
                          "num_topics": [10]}}  # k-means needs it (its rule)
    source = TpeSource(space, SearchSpec("tpe", 12, 0, ("npmi",)), [1], make_trial,
                       ["maximize"])
    while (trial := source.next()) is not None:
        source.tell(trial.key, {"npmi": 0.1})
    assert {c["clustering"] for c in made} == {"hdbscan", "kmeans"}
    assert all(("min_cluster_size" in c) == (c["clustering"] == "hdbscan") for c in made)
    assert all("min_cluster_size" not in p for t in source.study.get_trials() for p in t.params
               if t.params.get("BERTopic.clustering") == "kmeans")


@pytest.mark.parametrize(("fields", "metric"), [
    ({"search": {"strategy": "tpe", "n_trials": 3, "metric": "npmi"}}, "npmi"),
    ({"search": {"strategy": "tpe", "n_trials": 3, "metrics": ["diversity", "npmi"]}},
     "diversity"),
    ({"search": {"strategy": "tpe", "n_trials": 3, "metric": "npmi"},
      "leaderboard_metric": "f1"}, "f1"),
    ({"search": {"strategy": "random", "n_trials": 3}}, "ari"),
])
def test_the_leaderboard_ranks_by_the_search_objective(tmp_path, small_corpus, fields, metric):
    """A TPE search for NPMI printed its leaderboard by ARI (audit of 2026-12-01)."""
    grid = load_grid(make_grid(tmp_path, small_corpus, params=SPACE, **fields))
    assert grid.ranking_metric(has_truth=True) == metric


def test_draws_that_break_a_models_rule_are_drawn_again(tmp_path, small_corpus):
    """HDP's initial_k <= max_topics: TPE ran suggestions that broke it, and whether a random
    search of ranges was valid hung on what its seed drew (audit of 2026-12-01)."""
    from types import SimpleNamespace

    from tuner.engine.search import Range, SearchSpec, TpeSource, sample_random

    space = {"HDP": {"initial_k": Range(100, 300, integer=True),
                     "max_topics": Range(50, 300, integer=True)}}
    for seed in range(3):
        drawn = sample_random(space, 8, seed)["HDP"]
        assert len(drawn) == 8 and all(c["initial_k"] <= c["max_topics"] for c in drawn)
    tpe = TpeSource(space, SearchSpec("tpe", 6, 0, ("ari",)), [1],
                    lambda model, combo, seed: SimpleNamespace(key=json.dumps(combo),
                                                               combo=combo), ["maximize"])
    ran = []
    while (spec := tpe.next()) is not None:
        ran.append(spec.combo)
        tpe.tell(spec.key, {"ari": spec.combo["max_topics"] / 300})
    assert len(ran) == 6 and all(c["initial_k"] <= c["max_topics"] for c in ran)
    scarce = {"hdp.initial_k": {"low": 100, "high": 300}, "hdp.max_topics": {"low": 50,
                                                                             "high": 120}}
    for seed in range(10):  # few draws keep the rule: validity no longer hangs on the seed
        grid = load_grid(make_grid(tmp_path, small_corpus, models=["hdp"], params=scarce,
                                   search={"strategy": "random", "n_trials": 5, "seed": seed}))
        assert grid.trial_count == 5
    never = {"hdp.initial_k": {"low": 100, "high": 300}, "hdp.max_topics": {"low": 50,
                                                                            "high": 99}}
    small = {"hdp.initial_k": {"low": 100, "high": 110},  # counted, not drawn
             "hdp.max_topics": {"low": 50, "high": 60}}
    for strategy, space in (("random", never), ("tpe", never), ("random", small)):
        with pytest.raises(GridError, match=r"params: no configuration drawn from HDP's values "
                                            r"and ranges keeps its rules \(HDP requires "
                                            r"initial_k <= max_topics; got initial_k=\d+, "
                                            r"max_topics=\d+\)"):
            load_grid(make_grid(tmp_path, small_corpus, models=["hdp"], params=space,
                                search={"strategy": strategy, "n_trials": 3}))


def test_tpe_counts_the_trials_of_repeated_suggestions():
    """8 suggestions of a 2-value space ran 2 configurations; the 6 repeats were in no count
    (audit of 2026-12-01)."""
    from types import SimpleNamespace

    from tuner.engine.search import SearchSpec, TpeSource

    tpe = TpeSource({"LDA": {"num_topics": [5, 6]}}, SearchSpec("tpe", 8, 0, ("ari",)), [1, 2],
                    lambda model, combo, seed: SimpleNamespace(
                        key=json.dumps([combo, seed]), combo=combo), ["maximize"])
    ran = 0
    while not tpe.exhausted():
        spec = tpe.next()
        if spec is not None:
            ran += 1
            tpe.tell(spec.key, {"ari": spec.combo["num_topics"] / 10})
    assert ran + tpe.repeated + tpe.unasked_trials == 16 and ran == 4


def test_a_shared_parameters_bad_range_is_said_once(tmp_path, small_corpus):
    """num_topics {"low": 20, "high": 10} for two models printed the same line twice (new-user
    audit of 2026-12-02)."""
    with pytest.raises(GridError) as raised:
        load_grid(make_grid(tmp_path, small_corpus, models=["lda", "prodlda"],
                            params={"num_topics": {"low": 20, "high": 10}},
                            search={"strategy": "random", "n_trials": 2}))
    assert str(raised.value).count("expects low < high") == 1


def test_tpe_counts_a_configuration_with_a_pruned_seed_below_the_finished_ones():
    """Told the mean of its finished seeds, a configuration whose other seed the pruner
    stopped looked better to TPE than to the ranking, which leaves it out."""
    from types import SimpleNamespace

    from optuna.trial import TrialState

    from tuner.engine.search import SearchSpec, TpeSource

    tpe = TpeSource({"LDA": {"num_topics": [5, 6]}}, SearchSpec("tpe", 6, 0, ("ari",)), [1, 2],
                    lambda model, combo, seed: SimpleNamespace(
                        key=json.dumps([combo, seed]), combo=combo, seed=seed), ["maximize"])
    while not tpe.exhausted():
        spec = tpe.next()
        if spec is None:
            continue
        stopped = spec.combo["num_topics"] == 5 and spec.seed == 2
        tpe.tell(spec.key, {"ari": 0.1, "budget_used": 3.0} if stopped else {"ari": 0.9},
                 pruned=stopped)
    states = {(t.params["LDA.num_topics"], t.state) for t in tpe.study.get_trials()}
    assert states == {(5, TrialState.PRUNED), (6, TrialState.COMPLETE)}  # repeats too
    # where it stopped: TPE orders pruned trials by it (review of 2026-12-03)
    assert {3: 0.1} in [t.intermediate_values for t in tpe.study.get_trials()]
    told = {c["params"]["num_topics"]: c for c in tpe.finished}
    assert told[5]["pruned"] == 1 and "ari_mean" not in told[5] and "ari_mean" in told[6]


def test_a_pruned_configuration_with_no_usable_step_is_still_told(caplog):
    """int(NaN) raised before Optuna was told, and the trial stayed RUNNING (review of
    2026-12-03)."""
    from types import SimpleNamespace

    from optuna.trial import TrialState

    from tuner.engine.search import SearchSpec, TpeSource

    tpe = TpeSource({"LDA": {"num_topics": [5]}}, SearchSpec("tpe", 1, 0, ("ari",)), [1],
                    lambda model, combo, seed: SimpleNamespace(key="k", combo=combo, seed=seed),
                    ["maximize"])
    spec = tpe.next()
    tpe.tell(spec.key, {"ari": 0.1, "budget_used": float("nan")}, pruned=True)
    assert [t.state for t in tpe.study.get_trials()] == [TrialState.PRUNED]
    assert "without where it stopped" in caplog.text


def test_a_tpe_search_stopped_midway_keeps_what_it_asked_and_a_rerun_adds_only_the_rest(
        tmp_path, small_corpus, session_cache):
    """A search stopped after 6 of its 10 trials wrote no search.json, so its re-run asked anew
    and trained 7 more, 13 fits for n_trials 10 (new-user audit of 2026-12-04)."""
    from tuner.errors import SweepInterrupted

    grid = load_grid(make_grid(tmp_path, small_corpus, experiment="tpe-stopped", params=SPACE,
                               search={"strategy": "tpe", "n_trials": 4, "seed": 3}))
    tracker = MlflowTracker(sqlite_store(tmp_path / "mlflow.db"))
    tracker.experiment_id(grid.experiment)
    records: list = []
    prepared = precompute(grid, check_inputs(grid), session_cache, progress=False)
    with pytest.raises(SweepInterrupted):
        run_sweep(prepared, tracker, lambda: make_executor("process", 1), 1,
                  on_record=records.append, should_stop=lambda: len(records) >= 2)
    [stopped] = tracker.sweep_runs("tpe-stopped")
    asked = tracker.read_json(stopped.run_id, "search.json")
    assert asked is not None and len(asked["configurations"]) == len(records) >= 2
    # and how each configuration it asked for shows, by which a row of earlier settings is
    # told from the search's own (configs_record); at its start a search knows none
    configs = tracker.read_json(stopped.run_id, "sweep_configs.json")
    assert configs is not None and len(configs["config_keys"]) >= len(records)
    assert set(configs["shown"]) == set(configs["config_keys"])
    assert stopped.tags["tuner.asked"] == str(len(configs["config_keys"]))
    prepared = precompute(grid, check_inputs(grid), session_cache, progress=False)
    again = run_sweep(prepared, tracker, lambda: make_executor("process", 1), 1)
    assert (again.completed, again.skipped) == (4 - len(records), len(records))


def test_a_tpe_search_of_a_small_finite_space_counts_its_configurations(tmp_path, small_corpus):
    """`validate` and a served sweep's total counted a 2-value space with n_trials 10,000 as
    10,000 trials a seed; the search ends once it has suggested both (attacker audit of
    2026-12-04). A space too large to count keeps the budget."""
    small = load_grid(make_grid(tmp_path, small_corpus, params={"num_topics": [5, 6]},
                                seeds=[1, 2], search={"strategy": "tpe", "n_trials": 10_000}))
    assert small.trial_count == 4
    endless = load_grid(make_grid(tmp_path, small_corpus,
                                  params={"num_topics": {"low": 5, "high": 60},
                                          "lda.alpha": {"low": 0.01, "high": 1.0}},
                                  seeds=[1], search={"strategy": "tpe", "n_trials": 30}))
    assert endless.trial_count == 30
