"""Seeds aggregated: mean ± sd per configuration, ranked by the mean (plain FinishedTrials)."""

from __future__ import annotations

import dataclasses
import statistics

import pytest

from tuner.reporting.leaderboard import (
    aggregate_seeds,
    asked_unfinished,
    format_leaderboard,
    rank_configs,
    recommended,
    replaced_said,
    swept_by_model,
    within_noise,
)
from tuner.tracking.records import FinishedTrial, SweepRun


def trial(run: str, model: str, seed: int, metrics: dict[str, float],
          **params: object) -> FinishedTrial:
    return FinishedTrial(run, run, model, {"vocab_size": 1000, **params}, seed, metrics)


TRIALS = [  # k=5: steady; k=8: one lucky seed, a lower mean; BERTopic: one seed
    trial("a1", "LDA", 1, {"ari": 0.30, "fit_seconds": 2.0}, num_topics=5),
    trial("a2", "LDA", 2, {"ari": 0.32, "fit_seconds": 4.0}, num_topics=5),
    trial("b1", "LDA", 1, {"ari": 0.40, "fit_seconds": 1.0}, num_topics=8),
    trial("b2", "LDA", 2, {"ari": 0.10, "fit_seconds": 1.0}, num_topics=8),
    trial("c1", "BERTopic", 1, {"ari": 0.20, "fit_seconds": 9.0}, num_topics=None,
          random_state=42),
]


def test_seeds_of_one_configuration_form_one_entry() -> None:
    configs = aggregate_seeds(TRIALS)
    assert [(c.model, dict(c.params), c.seeds) for c in configs] == [
        ("LDA", {"vocab_size": 1000, "num_topics": 5}, 2),
        ("LDA", {"vocab_size": 1000, "num_topics": 8}, 2),
        ("BERTopic", {"vocab_size": 1000, "num_topics": None}, 1)]


def test_entry_holds_mean_and_sample_sd_of_each_metric() -> None:
    steady = aggregate_seeds(TRIALS)[0]
    assert steady.metrics["ari"] == pytest.approx(0.31)
    assert steady.sd["ari"] == pytest.approx(statistics.stdev([0.30, 0.32]))
    assert steady.metrics["fit_seconds"] == pytest.approx(3.0)


def test_single_seed_has_no_sd() -> None:
    assert aggregate_seeds(TRIALS)[2].sd == {"ari": None, "fit_seconds": None}


def test_ranking_uses_the_mean_not_the_luckiest_seed() -> None:
    ranked = rank_configs(aggregate_seeds(TRIALS), "ari")
    assert [c.name for c in ranked] == ["LDA num_topics=5", "LDA num_topics=8", "BERTopic"]
    assert ranked[1].best_trial("ari").run_id == "b1"


def test_lower_is_better_metrics_rank_lowest_mean_first() -> None:
    ranked = rank_configs(aggregate_seeds(TRIALS), "fit_seconds")
    assert [c.metrics["fit_seconds"] for c in ranked] == [1.0, 3.0, 9.0]


@pytest.mark.parametrize(("trials", "expected"), [
    (TRIALS, {"LDA": ["num_topics"], "BERTopic": []}),
    ([trial("x", "BERTopic", 1, {}, random_state=1), trial("y", "BERTopic", 2, {}, random_state=2)],
     {"BERTopic": []}),
])
def test_swept_parameters_leave_out_seeds(trials: list[FinishedTrial],
                                          expected: dict[str, list[str]]) -> None:
    assert swept_by_model(trials) == expected


def test_a_board_whose_fits_read_shared_work_says_fit_seconds_leaves_it_out() -> None:
    """BERTopic's fit_seconds of 0.4 s (its 17-s UMAP step left out) read as the cheapest
    model (new-user audit of 2026-12-03)."""
    plain = format_leaderboard(rank_configs(aggregate_seeds(TRIALS), "ari"), "ari")
    assert "shared" not in plain
    shared = [trial("u1", "BERTopic", 1, {"ari": 0.2, "fit_seconds": 0.4, "shared_seconds": 17.0,
                                          "total_seconds": 17.4}, num_topics=None), *TRIALS[:2]]
    board = rank_configs(aggregate_seeds(shared), "ari")
    text = format_leaderboard(board, "ari")
    assert text.splitlines()[-1].startswith("(fit_seconds leaves out the shared work a fit read")
    # the report says it too, and its BERTopic table shows the shared seconds (report audit of
    # 2026-12-05: 0.31 s against LDA's 3.26 s, unexplained)
    from tuner.reporting.page import ReportData, _model_section, _ranking_table

    data = ReportData("e", "ari", board, [], [], {}, {})
    assert "<p>fit_seconds leaves out the shared work a fit read" in _ranking_table(data)
    bertopic = [c for c in board if c.model == "BERTopic"]
    assert "shared_seconds mean ± sd" in _model_section("BERTopic", bertopic, data, set())
    lda = [c for c in board if c.model == "LDA"]
    assert "shared_seconds" not in _model_section("LDA", lda, data, set())


def test_text_leaderboard_shows_mean_sd_and_seed_count() -> None:
    text = format_leaderboard(rank_configs(aggregate_seeds(TRIALS), "ari"), "ari")
    lines = text.splitlines()
    assert "seeds" in lines[0] and "ari mean ± sd" in lines[0]
    assert lines[0].endswith("best run")
    assert lines[0].index("±") == lines[2].index("±") == lines[4].index("±")  # one column
    assert "  f1  fit_seconds" in lines[0]  # headers two spaces apart, not "f1 fit_seconds"
    for name in ("npmi", "diversity", "f1", "fit_seconds"):  # each ends where its values end
        end = lines[0].index(name) + len(name)
        assert lines[2][end - 1] != " " and lines[2][end] == " ", (name, lines[0], lines[2])
    assert lines[2].split()[:7] == ["1", "LDA", "num_topics=5", "2", "0.3100", "±", "0.0141"]
    assert lines[3].split()[-1] == "b1"  # the best seed's run of the second configuration
    assert lines[4].split()[:6] == ["3", "BERTopic", "1", "0.2000", "±", "-"]


def test_a_configuration_short_of_seeds_says_so() -> None:
    """A configuration whose seed failed ranked first on its surviving seed alone, and the only
    hint was a 1 in the seeds column (audit of 2026-12-01)."""
    lost = [t for t in TRIALS if t.run_id != "a2"]  # k=5's seed 2 failed
    text = format_leaderboard(rank_configs(aggregate_seeds(lost), "ari"), "ari")
    rows = {line.split()[2]: line.split()[3] for line in text.splitlines()[2:]
            if line.split()[1] == "LDA"}
    assert rows == {"num_topics=5": "1/2", "num_topics=8": "2"}
    [bertopic] = [line for line in text.splitlines() if "BERTopic" in line]
    assert bertopic.split()[2] == "1"


def test_seeds_asked_are_those_of_the_sweeps_that_ran_the_configuration() -> None:
    """A BERTopic configuration of an earlier one-seed sweep read `1/2` beside a later two-seed
    sweep's configurations of the same model, though it lost no seed (new-user audit of
    2026-12-03). A seed lost in a two-seed sweep still reads `1/2`."""
    from dataclasses import replace

    from tuner.reporting.leaderboard import seeds_asked
    from tuner.tracking.records import SweepRun

    def of(trial: FinishedTrial, sweep: str) -> FinishedTrial:
        return replace(trial, parent_run_id=sweep)

    trials = [of(trial("o1", "BERTopic", 1, {"ari": 0.3}, num_topics=15), "old"),
              *(of(trial(f"n{k}{s}", "BERTopic", s, {"ari": 0.2}, num_topics=k), "new")
                for k in (10, 20) for s in (1, 2) if (k, s) != (20, 2))]
    sweeps = [SweepRun("old", "sweep", {"seeds": "1"}, {}),
              SweepRun("new", "sweep", {"seeds": "1,2"}, {})]
    board = rank_configs(aggregate_seeds(trials, sweep_seeds=seeds_asked(sweeps)), "ari")
    assert {c.params["num_topics"]: c.seeds_of("ari") for c in board} == \
        {15: "1", 10: "2", 20: "1/2"}
    by_model = rank_configs(aggregate_seeds(trials), "ari")  # no sweep says: the model's most
    assert {c.params["num_topics"]: c.seeds_of("ari") for c in by_model}[15] == "1/2"
    # seed 1 skipped as finished under the one-seed sweep, seed 2 failed in the two-seed one,
    # which asked for it: short (review of 2026-12-03)
    resumed = [replace(trials[0], config_key="k15")]
    board = rank_configs(aggregate_seeds(resumed, asked={"k15"}, sweep_seeds=seeds_asked(sweeps),
                                         asked_seeds=2), "ari")
    assert board[0].seeds_of("ari") == "1/2"
    cut = SweepRun("cut", "sweep", {"seeds": "1,2,3... (7000 characters)"}, {})
    assert seeds_asked([cut]) == {}  # a param cut for its length says no count


def test_settings_without_effect_are_neither_swept_nor_shown() -> None:
    """clustering [hdbscan, kmeans] x min_cluster_size [5, 10] with a fixed leaf selection:
    k-means ran with HDBSCAN's defaults, so cluster_selection_method is not swept, and the
    k-means row does not show a min_cluster_size the grid never gave it."""
    def bertopic(run: str, clustering: str, size: int, method: str) -> FinishedTrial:
        return trial(run, "BERTopic", 1, {"ari": 0.1}, clustering=clustering,
                     min_cluster_size=size, cluster_selection_method=method)

    trials = [bertopic("h5", "hdbscan", 5, "leaf"), bertopic("h10", "hdbscan", 10, "leaf"),
              bertopic("k", "kmeans", 10, "eom")]
    assert swept_by_model(trials) == {"BERTopic": ["clustering", "min_cluster_size"]}
    assert [c.name for c in aggregate_seeds(trials)] == [
        "BERTopic clustering=hdbscan min_cluster_size=5",
        "BERTopic clustering=hdbscan min_cluster_size=10", "BERTopic clustering=kmeans"]


@pytest.mark.parametrize(("newest_status", "newest_finished", "current"), [
    ("KILLED", False, "old"),  # interrupted before any trial on its data finished
    ("RUNNING", False, "old"),  # still running (tuner best read during a sweep)
    ("KILLED", True, "new"),  # interrupted after some trials on its data finished
    ("FAILED", False, "old"),  # its process died (marked stale by the next sweep)
    ("FINISHED", False, "new"),  # ended: the data has changed even if every trial failed
])
def test_the_current_data_is_the_newest_sweeps_unless_it_stopped_before_any_result(
        newest_status: str, newest_finished: bool, current: str) -> None:
    """An interrupted sweep with new metric settings hid every earlier result from tuner best,
    tuner report and the leaderboard (audit of 2026-12-01)."""
    from dataclasses import replace

    from tuner.reporting.leaderboard import newest_context
    from tuner.tracking.records import SweepRun

    sweeps = [SweepRun("s2", "s2", {}, {"tuner.context": "new"}, 2, newest_status),
              SweepRun("s1", "s1", {}, {"tuner.context": "old"}, 1, "FINISHED")]
    trials = [replace(t, context="old") for t in TRIALS]
    if newest_finished:
        trials.append(replace(TRIALS[0], run_id="n1", context="new"))
    assert newest_context(sweeps, trials) == current
    assert newest_context([], trials) is None


def test_a_logged_score_does_not_move_the_rankings_to_its_grids_data() -> None:
    """`tuner score --log` on the grid of an older sweep made that sweep's data the current
    one: tuner best and tuner report ranked the older results (new-user audit of 2026-12-03).
    An experiment of logged scores alone is ranked on their data."""
    from dataclasses import replace

    from tuner.reporting.leaderboard import newest_context
    from tuner.tracking.records import SweepRun

    scored = SweepRun("s3", "s3", {}, {"tuner.context": "old", "tuner.source": "tuner score"},
                      3, "FINISHED")
    sweeps = [scored, SweepRun("s2", "s2", {}, {"tuner.context": "new"}, 2, "FINISHED"),
              SweepRun("s1", "s1", {}, {"tuner.context": "old"}, 1, "FINISHED")]
    trials = [replace(t, context="old") for t in TRIALS]
    assert newest_context(sweeps, trials) == "new"
    assert newest_context([scored], trials) == "old"
    # a tuner run stopped before any result says nothing; the score's data still stands (review)
    killed = SweepRun("s4", "s4", {}, {"tuner.context": "new"}, 4, "KILLED")
    assert newest_context([killed, scored], trials) == "old"


@pytest.mark.parametrize(("own_seeds", "shown"), [
    (None, None),  # followed each trial's seed: left to the seeds
    ([1, 2], [1, 2]),  # the grid's list of it: those values
])
def test_best_rebuilds_a_models_own_seed_as_the_sweep_set_it(own_seeds: list[int] | None,
                                                             shown: list[int] | None) -> None:
    """`tuner best` printed BERTopic's random_state 42 beside seeds [42, 43], so both seeds
    fitted seed 42's UMAP; and a grid's random_state [1, 2] showed as `random_state=null`
    (audit of 2026-12-01)."""
    from tuner.reporting.best import _config_fields

    seeds = [42, 43] if own_seeds is None else [42, 42]
    states = seeds if own_seeds is None else own_seeds
    pairs = enumerate(zip(seeds, states, strict=True))
    runs = [trial(f"r{i}", "BERTopic", seed, {"ari": 0.2 + i / 100}, min_cluster_size=5,
                  random_state=state) for i, (seed, state) in pairs]
    (config,) = aggregate_seeds(runs, {"BERTopic": ["min_cluster_size", "random_state"]})
    assert config.label == "min_cluster_size=5" and config.seeds == 2
    fields = _config_fields(config)
    assert fields["params"].get("random_state") == shown
    assert fields["seeds"] == sorted(set(seeds))


def test_a_report_belongs_to_the_newest_run_sweep_not_a_logged_score() -> None:
    """After `tuner score --log`, the report was logged to the score's stand-in sweep run and
    read its language (none: Chinese words drawn in a Latin font) (audit of 2026-12-01)."""
    from tuner.reporting.report import _report_sweep
    from tuner.tracking.records import SweepRun

    score = SweepRun("s3", "s3", {}, {"tuner.context": "c", "tuner.source": "tuner score"}, 3)
    interrupted = SweepRun("s2", "s2", {}, {"tuner.context": "new"}, 2, "KILLED")
    ran = SweepRun("s1", "s1", {"language": "zh"}, {"tuner.context": "c"}, 1)
    assert _report_sweep([score, interrupted, ran], "c") is ran
    assert _report_sweep([score], "c") is score  # nothing else to log it to
    other = SweepRun("s0", "s0", {}, {"tuner.context": "old"}, 0)
    assert _report_sweep([score, other], "c") is score  # on the data, rather than other data


def test_the_report_shows_each_models_best_topics_beside_the_three_best() -> None:
    """The report listed the topics of the three best configurations only: a model ranked
    below them had its table and plots but no word shown (audit of 2026-12-01)."""
    from tuner.reporting.page import shown_configs

    lda = [trial(f"l{k}", "LDA", 1, {"ari": 0.5 - k / 100}, num_topics=k) for k in (5, 6, 7, 8)]
    others = [trial("b1", "BERTopic", 1, {"ari": 0.1}), trial("p1", "ProdLDA", 1, {"ari": 0.2}),
              trial("p2", "ProdLDA", 1, {"ari": 0.05}, num_topics=9)]
    ranked = rank_configs(aggregate_seeds([*lda, *others]), "ari")
    shown = [(c.model, c.trials[0].run_id) for c in shown_configs(ranked)]
    assert shown == [("LDA", "l5"), ("LDA", "l6"), ("LDA", "l7"), ("ProdLDA", "p1"),
                     ("BERTopic", "b1")]


def test_the_configurations_asked_for_are_the_newest_sweeps_even_unfinished() -> None:
    """Logged only as a sweep ended, a killed or running newer sweep's configurations were
    passed over for an older sweep's (review of 2026-12-01); a `tuner score --log` run and a
    sweep from before tuner logged them ask for nothing."""
    from tuner.reporting.leaderboard import latest_asked
    from tuner.tracking.memory import MemoryTracker
    from tuner.tracking.tags import ASKED_TAG
    from tuner.tracking.tracker import SWEEP_CONFIGS_FILE

    tracker = MemoryTracker()

    def sweep(keys: list[str] | None, **tags: str) -> None:
        logged = {} if keys is None else {ASKED_TAG: str(len(keys))}
        handle = tracker.start_sweep("e", {"tuner.context": "ctx", **logged, **tags}, {})
        if keys is not None:
            tracker.log_json(handle.run_id, SWEEP_CONFIGS_FILE, {"config_keys": keys})

    sweep(None)
    assert latest_asked(tracker, tracker.sweep_runs("e"), "ctx").keys == frozenset()
    sweep(["old"])
    sweep(["new"])  # still RUNNING, as a killed sweep's run is left
    sweep([], **{"tuner.source": "tuner score"})
    assert latest_asked(tracker, tracker.sweep_runs("e"), "ctx").keys == {"new"}
    assert latest_asked(tracker, tracker.sweep_runs("e"), "other").keys == frozenset()


def test_a_row_that_stands_for_runs_made_otherwise_is_said_under_the_board() -> None:
    """A sweep with long_documents "start" after one with "chunks" replaced the chunks rows
    with its own under the same names, unsaid (new-user audit of 2026-12-03)."""
    from dataclasses import replace

    def made(run: str, config: str, ari: float, started: int) -> FinishedTrial:
        return replace(trial(run, "CTM", 1, {"ari": ari}, num_topics=6), config_key=config,
                       start_time=started)

    board = rank_configs(aggregate_seeds([made("chunks", "c", 0.172, 1), made("start", "s",
                                                                            0.070, 2)],
                                         asked={"s"}), "ari")
    assert [(c.trials[0].run_id, c.superseded) for c in board] == [("start", 1)]
    assert format_leaderboard(board, "ari").splitlines()[-1].startswith(
        "(1 row (#1) also had 1 run made with settings no column shows (an embedding "
        "setting")


def test_a_row_of_earlier_settings_whose_asked_trials_failed_is_marked_and_not_recommended(
        ) -> None:
    """BERTopic at max_length 256, then the grid at 64, whose trial failed: the board, the
    sweep's best_* and `tuner best` gave the 256-token run as the grid's, unsaid (trust audit).
    A configuration of the earlier grid that the latest sweep did not ask again stays as it was.
    """
    from dataclasses import replace

    def made(run: str, config: str, ari: float, status: str = "FINISHED", k: int = 6
             ) -> FinishedTrial:
        return replace(trial(run, "BERTopic", 42, {"ari": ari} if status == "FINISHED" else {},
                             num_topics=k), config_key=config, status=status, start_time=1)

    finished = [made("at-256", "256", 0.217), made("k9", "k9", 0.300, k=9),
                made("k7", "k7", 0.100, k=7)]
    failed = [made("at-64", "64", 0.0, status="FAILED")]
    unfinished = asked_unfinished({"64", "k7"}, finished, failed)
    board = rank_configs(aggregate_seeds(finished, asked={"64", "k7"}, unfinished=unfinished),
                         "ari")
    assert [(c.trials[0].run_id, c.replaced) for c in board] == [
        ("k9", False), ("at-256", True), ("k7", False)]
    assert board[1].notes == "earlier settings"
    assert recommended(board[1:]) is board[2]  # passed over, though it ranks higher
    assert recommended(board[1:2]) is None
    [said] = replaced_said(board)
    assert said.startswith("1 configuration on the board (BERTopic num_topics=6) shows runs "
                           "made with earlier settings")
    assert aggregate_seeds(finished, asked={"64", "k7"})[0].replaced is False  # nothing failed


def test_tuner_best_passes_over_rows_of_earlier_settings_and_says_so(caplog) -> None:
    from dataclasses import replace

    from tuner.errors import TunerError
    from tuner.reporting.best import _chosen

    def made(run: str, config: str, ari: float, status: str = "FINISHED", k: int = 6
             ) -> FinishedTrial:
        return replace(trial(run, "BERTopic", 42, {"ari": ari} if status == "FINISHED" else {},
                             num_topics=k), config_key=config, status=status, start_time=1)

    finished = [made("at-256", "256", 0.217), made("k7", "k7", 0.100, k=7)]
    unfinished = asked_unfinished({"64", "k7"}, finished, [made("at-64", "64", 0, "FAILED")])
    board = rank_configs(aggregate_seeds(finished, asked={"64", "k7"}, unfinished=unfinished),
                         "ari")
    with caplog.at_level("WARNING"):
        assert _chosen(board, "ari") is board[1]
    assert "passed over 1 better ranked configuration: BERTopic num_topics=6 (ari 0.217), " \
        "whose runs were made with earlier settings" in caplog.text
    with pytest.raises(TunerError, match="every configuration on the board shows runs made "
                                         "with earlier settings"):
        _chosen(board[:1], "ari")


def test_a_seed_that_could_not_compute_the_ranking_metric_is_not_counted_for_it() -> None:
    """NPMI is left out for a fit with a topic of fewer than two vocabulary words: the row's
    mean is then the other seed's, and it said 2 seeds (review of 2026-12-02)."""
    configs = aggregate_seeds([
        trial("d1", "HDP", 1, {"npmi": 0.05, "ari": 0.2}, num_topics=5),
        trial("d2", "HDP", 2, {"ari": 0.1}, num_topics=5)])  # degenerate: no npmi
    [config] = configs
    assert config.metrics["npmi"] == 0.05 and config.seeds == 2
    assert (config.seeds_of("npmi"), config.seeds_of("ari")) == ("1/2", "2")
    row = format_leaderboard(rank_configs(configs, "npmi"), "npmi").splitlines()[2]
    assert " 1/2 " in row


def test_a_row_notes_what_its_seeds_own_figures_say_is_wrong() -> None:
    """A BERTopic fit that found 2 of the 10 topics asked (543 of 600 documents in one) ranked
    first by NPMI, unmarked (new-user audit of 2026-12-02)."""
    trials = [
        trial("g1", "BERTopic", 1, {"npmi": 0.15, "num_topics_found": 2.0, "topics_used": 2.0},
              num_topics=10),
        trial("l1", "LDA", 1, {"npmi": 0.10, "num_topics_found": 10.0, "topics_used": 10.0},
              num_topics=10),
    ]
    text = format_leaderboard(rank_configs(aggregate_seeds(trials), "npmi"), "npmi")
    lines = text.splitlines()
    assert lines[0].endswith("  note") and lines[0].index("note") == lines[2].index("collapsed")
    assert lines[2].split()[1] == "BERTopic" and lines[3].split()[-1] == "l1"  # no note
    assert "note" not in format_leaderboard(rank_configs(aggregate_seeds(trials[1:]), "npmi"),
                                            "npmi")


def test_the_recommended_configuration_is_the_best_that_did_not_collapse() -> None:
    """A BERTopic fit that found 4 topics of 20 asked ranked first by ARI and was `tuner
    best`'s grid and the sweep's best run (new-user audit of 2026-12-03)."""
    collapsed = trial("x", "BERTopic", 1, {"ari": 0.08, "num_topics_found": 4.0},
                      num_topics=20)
    sound = trial("y", "BERTopic", 1, {"ari": 0.05, "num_topics_found": 20.0}, num_topics=20,
                  min_cluster_size=10)
    board = rank_configs(aggregate_seeds([collapsed, sound]), "ari")
    assert board[0].notes == "collapsed"
    assert recommended(board) is board[1]
    assert recommended(board[:1]) is board[0]  # nothing sound: the best, marked
    assert recommended([]) is None


def test_tuner_best_says_which_collapsed_configuration_it_passed_over(caplog) -> None:
    from tuner.reporting.best import _chosen

    collapsed = trial("x", "BERTopic", 1, {"ari": 0.08, "num_topics_found": 4.0},
                      num_topics=20, min_cluster_size=30)
    sound = trial("y", "BERTopic", 1, {"ari": 0.05, "num_topics_found": 20.0}, num_topics=20,
                  min_cluster_size=10)
    board = rank_configs(aggregate_seeds([collapsed, sound]), "ari")
    with caplog.at_level("WARNING"):
        assert _chosen(board, "ari") is board[1]
    assert "passed over 1 better ranked configuration: BERTopic min_cluster_size=30 " \
           "(ari 0.080), whose fits collapsed (4 topics found of 20 asked)" in caplog.text


def test_tuner_best_says_when_one_seed_each_cannot_judge_its_lead(caplog) -> None:
    """THETA's ARI 0.0925 over BERTopic's 0.0924, one seed each, was picked in silence
    (new-user audit of 2026-12-03)."""
    from tuner.reporting.best import _chosen

    one_each = [trial("t", "THETA", 1, {"ari": 0.0925}), trial("b", "BERTopic", 1, {"ari": 0.0924})]
    board = rank_configs(aggregate_seeds(one_each), "ari")
    with caplog.at_level("WARNING"):
        assert _chosen(board, "ari") is board[0]
    assert "THETA (ari 0.0925) and the next, BERTopic (0.0924), ran one seed each: nothing " \
           "tells whether a lead of this size is more than seed noise" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        _chosen(rank_configs(aggregate_seeds(TRIALS), "ari"), "ari")  # sds to judge by
    assert "ran one seed each" not in caplog.text
    caplog.clear()
    spectral = [trial(f"s{k}", "STM", 1, {"ari": 0.3 + k / 100}, num_topics=k, init="spectral")
                for k in (5, 6)]  # fits that read no seed: more seeds repeat them (trust audit)
    with caplog.at_level("WARNING"):
        _chosen(rank_configs(aggregate_seeds(spectral), "ari"), "ari")
    assert "ran one seed each" not in caplog.text


def test_tuner_best_says_a_tie_of_one_seed_each_once_even_apart_by_rounding(caplog) -> None:
    """Means 1e-17 apart are the leaderboard's tie; `tuner best` said both the tie and the
    one-seed lead (read-through of 2026-12-03)."""
    from tuner.reporting.best import _chosen

    one_each = [trial("t", "THETA", 1, {"ari": 0.1 + 0.2}), trial("b", "BERTopic", 1, {"ari": 0.3})]
    board = rank_configs(aggregate_seeds(one_each), "ari")
    with caplog.at_level("WARNING"):
        _chosen(board, "ari")
    assert "within seed noise of 1 other configuration" in caplog.text
    assert "ran one seed each" not in caplog.text


def test_a_best_grid_leaves_values_that_follow_other_parameters_null() -> None:
    """alpha 1/K and min_samples = min_cluster_size were written as numbers: a grid edited to
    another K kept the old alpha (user audit of 2026-12-03)."""
    from tuner.reporting.best import _config_fields

    lda = aggregate_seeds([trial("a", "LDA", 1, {"ari": 0.3}, num_topics=10, alpha=0.1),
                           trial("b", "LDA", 1, {"ari": 0.2}, num_topics=10, alpha=0.5)])
    assert [_config_fields(c)["params"]["alpha"] for c in lda] == [None, 0.5]
    [bertopic] = aggregate_seeds([trial("c", "BERTopic", 1, {"ari": 0.3}, min_cluster_size=30,
                                        min_samples=30, random_state=1)])
    assert _config_fields(bertopic)["params"]["min_samples"] is None


def test_a_report_or_best_grid_of_a_sweep_that_did_not_end_says_so() -> None:
    """A report of a sweep aborted after 1 of 6 trials read as complete (ops audit of
    2026-12-03)."""
    from tuner.reporting.leaderboard import unended_sweep
    from tuner.reporting.page import ReportData, _warnings_html
    from tuner.tracking.records import SweepRun

    tags = {"tuner.ranking_metric": "ari", "tuner.context": "c1"}
    stopped = SweepRun("r2", "sweep", {}, tags, status="KILLED")
    ended = SweepRun("r1", "sweep", {}, tags, status="FINISHED")
    scored = SweepRun("r3", "score", {}, {"tuner.context": "c1"}, status="FINISHED")
    elsewhere = SweepRun("r4", "sweep", {}, {**tags, "tuner.context": "c2"}, status="FAILED")
    note = unended_sweep([scored, stopped, ended], "c1")  # a `tuner score` sweep is passed by
    assert note is not None and note.startswith("the experiment's latest sweep (run r2) was "
                                                "stopped before it ended")
    assert unended_sweep([ended, stopped], "c1") is None and unended_sweep([], None) is None
    assert unended_sweep([elsewhere, ended], "c1") is None  # another data's sweep (review)
    page = _warnings_html(ReportData("e", "ari", [], [], [], {}, {}, unended=note))
    assert "Not every trial ran:" in page and "(run r2)" in page


def test_rows_within_seed_noise_of_the_first_are_named() -> None:
    """The demo's first two rows were 0.2742 ± 0.0593 and 0.2728 ± 0.0015, and nothing said the
    first's lead was noise (fresh-clone audit of 2026-12-03). k=8 (0.25 ± 0.21) is within k=5's
    noise (0.31 ± 0.014); BERTopic's one seed (0.20), judged by k=5's sd, is not."""
    board = rank_configs(aggregate_seeds(TRIALS), "ari")
    assert [c.name for c in within_noise(board, board[0], "ari")] == ["LDA num_topics=8"]
    assert format_leaderboard(board, "ari").splitlines()[-1] == (
        "(#2 is within seed noise of #1: the mean ari differs from #1's by less than the larger "
        "sd over seeds, so these seeds do not settle which is better; more seeds would)")
    steady = [trial("d1", "LDA", 1, {"ari": 0.10}, num_topics=9),
              trial("d2", "LDA", 2, {"ari": 0.11}, num_topics=9), *TRIALS[:2]]
    settled = rank_configs(aggregate_seeds(steady), "ari")
    assert within_noise(settled, settled[0], "ari") == []
    assert "seed noise" not in format_leaderboard(settled, "ari")


def test_a_row_within_noise_by_its_own_spread_below_settled_rows_is_said_so() -> None:
    """"#6 is within seed noise of #1" (0.058 ± 0.091 against 0.135 ± 0.007), with #2 to #5
    between them unnamed, read as #6 tying #1 (report audit of 2026-12-05)."""
    rows = [trial(f"a{s}", "BERTopic", s, {"npmi": v}, num_topics=10)
            for s, v in ((1, 0.130), (2, 0.140))]
    rows += [trial(f"m{s}", "LDA", s, {"npmi": v}, num_topics=5) for s, v in ((1, 0.095),
                                                                             (2, 0.096))]
    rows += [trial(f"w{s}", "ProdLDA", s, {"npmi": v}, num_topics=10)
             for s, v in ((1, -0.006), (2, 0.122))]
    board = rank_configs(aggregate_seeds(rows), "npmi")
    assert [c.model for c in board] == ["BERTopic", "LDA", "ProdLDA"]
    assert format_leaderboard(board, "npmi").splitlines()[-1] == (
        "(#3 is within seed noise of #1: the mean npmi differs from #1's by less than the larger "
        "sd over seeds, so these seeds do not settle which is better; more seeds would; #3 "
        "(0.0580 ± 0.0905) is so by its own seeds' spread: the rows ranked between are settled "
        "below #1, while its seeds range too widely to place it)")


def test_a_one_seed_row_is_judged_by_the_other_rows_sd() -> None:
    """One-seed rows 0.017 behind a first row of sd 0.077 were left unnamed while a two-seed row
    behind them was named (new-user audit of 2026-12-03)."""
    first = [trial("k1", "LDA", 1, {"npmi": -0.10}, num_topics=10),
             trial("k2", "LDA", 2, {"npmi": -0.25}, num_topics=10)]  # -0.175 ± 0.106
    close = trial("c1", "CTM", 1, {"npmi": -0.19}, num_topics=10)
    far = trial("f1", "NVDM", 1, {"npmi": -0.40}, num_topics=10)
    board = rank_configs(aggregate_seeds([*first, close, far]), "npmi")
    assert [c.model for c in within_noise(board, board[0], "npmi")] == ["CTM"]
    lead = trial("l1", "GSM", 1, {"npmi": -0.17}, num_topics=10)  # a one-seed first row
    board = rank_configs(aggregate_seeds([lead, *first, far]), "npmi")
    assert board[0].model == "GSM"
    assert [c.model for c in within_noise(board, board[0], "npmi")] == ["LDA"]
    alone = rank_configs(aggregate_seeds([lead, close]), "npmi")
    assert within_noise(alone, alone[0], "npmi") == []  # neither has an sd: nothing to say
    tied = rank_configs(aggregate_seeds([lead, trial("t1", "ETM", 1, {"npmi": -0.17},
                                                     num_topics=10)]), "npmi")
    assert [c.model for c in within_noise(tied, tied[0], "npmi")] == ["ETM"]  # equal: a tie


def test_topics_found_are_shown_beside_those_asked() -> None:
    """HDP's 31 topics sat beside LDA's 10, and a BERTopic row of 20 asked had found 12, unsaid
    (fresh-clone audit of 2026-12-03)."""
    trials = [trial("h1", "HDP", 1, {"ari": 0.3, "num_topics_found": 31.0, "fit_seconds": 2.25}),
              trial("b1", "BERTopic", 1, {"ari": 0.2, "num_topics_found": 12.0}, num_topics=20),
              trial("b2", "BERTopic", 2, {"ari": 0.2, "num_topics_found": 13.0}, num_topics=20)]
    lines = format_leaderboard(rank_configs(aggregate_seeds(trials), "ari"), "ari").splitlines()
    assert "seeds  topics" in lines[0]
    assert lines[2].split()[:4] == ["1", "HDP", "1", "31"] and lines[2].split()[-2] == "2.2"
    assert lines[3].split()[:4] == ["2", "BERTopic", "2", "12.5/20"]
    assert lines[-1] == "(topics: found by the fits, mean over seeds, of the num_topics asked)"
    wide = [trial("w1", "LDA", 1, {"ari": 0.1, "num_topics_found": 97.0}, num_topics=100),
            trial("w2", "LDA", 2, {"ari": 0.1, "num_topics_found": 98.0}, num_topics=100),
            trial("h2", "BERTopic", 1, {"ari": 0.05, "num_topics_found": 1234.0},
                  num_topics=None), *trials[:1]]
    lines = format_leaderboard(rank_configs(aggregate_seeds(wide), "ari"), "ari").splitlines()
    assert " 97.5/100 " in lines[3] and " 1234 " in lines[4]  # not 1.23e+03
    assert lines[0].index("±") == lines[2].index("±") == lines[3].index("±") == \
        lines[4].index("±")  # a wider value widens the column (review of 2026-12-03)


def test_the_board_says_hdps_count_leaves_out_its_topics_under_the_threshold() -> None:
    """"20 topics" of an HDP fit hid the 150 smaller ones it kept alive (report audit)."""
    trials = [trial("h1", "HDP", 1, {"ari": 0.3, "num_topics_found": 20.0,
                                     "topics_below_threshold": 150.0}),
              trial("h2", "HDP", 2, {"ari": 0.3, "num_topics_found": 21.0,
                                     "topics_below_threshold": 141.0}),
              trial("l1", "LDA", 1, {"ari": 0.4, "num_topics_found": 10.0}, num_topics=10)]
    lines = format_leaderboard(rank_configs(aggregate_seeds(trials), "ari"), "ari").splitlines()
    assert lines[-1] == ("(HDP's topics count those holding its topic_threshold share of the "
                         "tokens; the smaller ones alive are dropped before scoring: up to 146 "
                         "a fit, mean over seeds, in #2; topics_below_threshold in MLflow)")
    none_dropped = [trial("h3", "HDP", 1, {"ari": 0.3, "num_topics_found": 20.0,
                                           "topics_below_threshold": 0.0})]
    assert "topic_threshold" not in format_leaderboard(
        rank_configs(aggregate_seeds(none_dropped), "ari"), "ari")
    assert "topics" not in format_leaderboard(rank_configs(aggregate_seeds(TRIALS), "ari"),
                                              "ari").splitlines()[0]


def test_equal_means_of_no_spread_are_a_tie() -> None:
    """gt_coverage 1.0 on every row (sd 0): tuner best broke the tie in silence (fresh-clone
    audit of 2026-12-03)."""
    trials = [trial(f"{k}{s}", "LDA", s, {"gt_coverage": 1.0, "npmi": k / 100}, num_topics=k)
              for k in (5, 8) for s in (1, 2)]  # other fits: their npmi differs
    board = rank_configs(aggregate_seeds(trials), "gt_coverage")
    assert [c.name for c in within_noise(board, board[0], "gt_coverage")] == [board[1].name]


def test_a_sweep_made_by_another_version_of_tuner_is_said():
    """An upgraded `tuner best` on an old store picked an old HDP score and left BERTopic out
    (its trainer fixed since) unsaid (upgrade audit of 2026-12-03)."""
    import json

    from tuner.reporting.leaderboard import other_code
    from tuner.tracking.records import code_identity
    from tuner.tracking.tags import CODE_TAG, RANKING_TAG

    def sweep(code: dict | None) -> SweepRun:
        tags = {"tuner.context": "c", RANKING_TAG: "ari"}
        if code is not None:
            tags[CODE_TAG] = json.dumps(code)
        return SweepRun("s1", "s1", {}, tags)

    current = code_identity(["HDP", "BERTopic"], "en")
    assert other_code([sweep(current)], "c") is None
    assert other_code([], "c") is None
    older = {**current, "revisions": {**current["revisions"], "BERTopic": 0},
             "tokeniser": "something else"}
    said = other_code([sweep(older)], "c")
    assert said is not None and "was made by another version of tuner (BERTopic's trainer " \
        f"revision 0, now {current['revisions']['BERTopic']}; the tokeniser)" in said
    assert "runs of a trainer fixed since are left out of the rankings" in said
    unrecorded = other_code([sweep(None)], "c")
    assert unrecorded is not None and "was made by an earlier tuner, which did not record " \
        "its code" in unrecorded
    assert other_code([sweep(None)], "another context") is None  # not the data ranked


def test_tuner_best_says_the_thread_count_that_repeats_a_neural_fit() -> None:
    """A neural fit moves with its thread count, which its key holds: the grid `tuner best`
    writes, run on another count, fits it anew (determinism audit of 2026-12-03)."""
    from dataclasses import replace

    from tuner.reporting.best import _thread_note

    def config(model: str, *threads: int):
        runs = [replace(trial(f"r{n}", model, n, {"ari": 0.2}, num_topics=5), threads=count)
                for n, count in enumerate(threads)]
        (made,) = aggregate_seeds(runs, {model: ["num_topics"]})
        return made

    assert _thread_note(config("ProdLDA", 2, 2)) == (
        "ProdLDA's fits ran on 2 threads per worker, and a fit of ProdLDA moves with its thread "
        "count: run the grid with --threads-per-worker 2 to repeat them exactly (on another "
        "count it fits them again)")
    assert _thread_note(config("LDA", 2, 2)) is None  # sampled on one thread whatever the count
    assert _thread_note(config("ProdLDA", 0, 0)) is None  # runs from before the tag


def test_a_fit_that_reads_no_seed_is_a_whole_row_of_one_trial() -> None:
    """STM's spectral start runs once whatever the grid's seeds: its row is not short of seeds
    (`1/2`), and says why it has no ±."""
    from tuner.reporting.leaderboard import same_fits_sentence

    trials = [trial("s", "STM", 1, {"ari": 0.28}, num_topics=5, init="spectral")]
    trials += [trial(f"r{seed}", "STM", seed, {"ari": 0.2 + seed / 100}, num_topics=5,
                     init="random") for seed in (1, 2)]
    entries = rank_configs(aggregate_seeds(trials, sweep_seeds={"": 2}, asked_seeds=2), "ari")
    assert [(e.params["init"], e.seeds_of("ari")) for e in entries] == [
        ("spectral", "1"), ("random", "2")]
    assert same_fits_sentence(entries) == (
        "#1 is one fit for every seed: STM reads no seed with these settings, so it has no ± "
        "to measure seed noise by")


def test_a_fit_that_reads_no_seed_needs_no_word_on_a_board_of_one_seed() -> None:
    """With one seed per row no row has a ±, so the seedless row's "no ±" clause said nothing a
    user could use (noted 2026-12-04)."""
    from tuner.reporting.leaderboard import same_fits_sentence

    trials = [trial("s", "STM", 1, {"ari": 0.28}, num_topics=5, init="spectral"),
              trial("r", "STM", 1, {"ari": 0.21}, num_topics=5, init="random")]
    entries = rank_configs(aggregate_seeds(trials, sweep_seeds={"": 1}, asked_seeds=1), "ari")
    assert [e.seeds_of("ari") for e in entries] == ["1", "1"]
    assert same_fits_sentence(entries) is None


def test_seeds_of_a_fit_that_reads_no_seed_run_before_it_was_keyed_so_are_not_more_seeds():
    """Runs of STM's spectral start made per seed before its fit was keyed without one joined
    the newer run's row as 4 seeds of sd 0 (review of 2026-12-04): the newest stands, the rest
    are counted as superseded."""
    from dataclasses import replace

    old = [replace(trial(f"s{seed}", "STM", seed, {"ari": 0.28}, num_topics=5, init="spectral"),
                   start_time=seed) for seed in (1, 2, 3)]
    new = replace(trial("s-new", "STM", 1, {"ari": 0.28}, num_topics=5, init="spectral"),
                  start_time=10)
    (row,) = aggregate_seeds([*old, new])
    assert [t.run_id for t in row.trials] == ["s-new"]
    assert (row.seeds_of("ari"), row.superseded) == ("1", 3)


def test_rows_of_the_same_fits_and_seeds_of_one_fit_are_said() -> None:
    """BERTopic at num_topics 20 and 40, HDBSCAN finding 16.5 topics, gave one fit twice, read
    as two rows within seed noise; STM's spectral start gave one fit for both seeds, read as
    ± 0.0000 (new-user audit of 2026-12-04). Times differ between alike fits: not compared."""
    from tuner.reporting.leaderboard import same_fits_sentence

    fit = {42: {"ari": 0.31, "npmi": 0.05, "num_topics_found": 16.0},
           43: {"ari": 0.29, "npmi": 0.06, "num_topics_found": 17.0}}
    trials = [trial(f"b{k}-{seed}", "BERTopic", seed, {**fit[seed], "fit_seconds": k + seed},
                    num_topics=k) for k in (20, 40) for seed in (42, 43)]
    trials += [trial(f"s{seed}", "STM", seed, {"ari": 0.28, "npmi": 0.04, "fit_seconds": seed},
                     num_topics=5) for seed in (42, 43)]
    trials += [trial(f"l{seed}", "LDA", seed, {**fit[seed], "ari": 0.1 + seed / 1000},
                     num_topics=20) for seed in (42, 43)]
    entries = rank_configs(aggregate_seeds(trials), "ari")
    assert [e.model for e in entries] == ["BERTopic", "BERTopic", "STM", "LDA"]
    assert same_fits_sentence(entries) == (
        "#2 gave the same fits as #1, seed for seed: what sets its settings apart changed "
        "nothing here; #3's 2 seeds gave one fit (STM did not use the seed here), so its ± 0 is "
        "no measure of seed noise")
    assert format_leaderboard(entries, "ari").splitlines()[-2].startswith("(#2 gave the same")
    # the same fits are not "within seed noise" of each other, as `tuner best` said of them
    assert within_noise(entries, entries[0], "ari") == []
    assert same_fits_sentence(entries[2:3] + entries[3:]) is not None
    assert same_fits_sentence([entries[0], entries[3]]) is None


def test_a_rows_note_from_a_seed_whose_topics_are_not_shown_is_said_over_the_topics() -> None:
    """LDA K=5 was noted "background topic" for its seed 43, while the report listed seed 42's
    topics and marked none (report audit of 2026-12-05)."""
    from tuner.reporting.page import ReportData, _topics_html

    seeds = [trial("s42", "LDA", 42, {"ari": 0.8, "background_topics": 0.0,
                                      "num_topics_found": 5.0}, num_topics=5),
             trial("s43", "LDA", 43, {"ari": 0.7, "background_topics": 1.0,
                                      "num_topics_found": 5.0}, num_topics=5)]
    (config,) = rank_configs(aggregate_seeds(seeds), "ari")
    assert config.notes == "background topic"
    data = ReportData("e", "ari", [config], [], [], {}, {"s42": {"0": ["a", "b"]}})
    page = _topics_html(config, data, set(), "en")
    assert "The row's notes from its other seeds, whose topics are not shown: background " \
        "topic: seed 43." in page
    alone = rank_configs(aggregate_seeds(seeds[:1]), "ari")[0]
    assert "other seeds" not in _topics_html(alone, data, set(), "en")


def test_a_models_settings_beyond_its_defaults_are_those_every_row_shares() -> None:
    """Rows name only what varies; the page says the rest once (report audit). LDA's alpha as
    null resolves it (1/K) is its default, not a setting."""
    from tuner.reporting.leaderboard import fixed_settings

    trials = [trial(f"r{k}{s}", "LDA", s, {"ari": 0.1}, num_topics=k, max_iter=10,
                    alpha=1 / 5, eta=0.01, optim_interval=0, term_weight="one")
              for k in (5,) for s in (1, 2)]
    trials += [trial("r8", "LDA", 1, {"ari": 0.2}, num_topics=5, max_iter=10, alpha=0.5,
                     eta=0.01, optim_interval=0, term_weight="one")]
    configs = rank_configs(aggregate_seeds(trials), "ari")
    shared = ["max_iter=10", "num_topics=5", "vocab_size=1000"]
    assert fixed_settings(configs) == shared
    null_alpha = rank_configs(aggregate_seeds(trials[:2]), "ari")
    assert fixed_settings(null_alpha) == shared  # alpha 1/5 is what null gives at K=5
    set_alpha = rank_configs(aggregate_seeds(trials[2:]), "ari")
    assert fixed_settings(set_alpha) == ["alpha=0.5", *shared]


def test_rows_that_average_seeds_the_latest_sweep_did_not_ask_for_say_so() -> None:
    """Seeds [42, 43] then [42, 44]: the rows averaged 42, 43 and 44 (ARI 0.0999 ± 0.0116)
    where a fresh run of the grid gives 0.1062 ± 0.0053, unsaid (content audit of 2026-12-05)."""
    from tuner.reporting.leaderboard import latest_seed_list, with_earlier_seeds
    from tuner.tracking.records import SweepRun

    trials = [trial(f"k{s}", "LDA", s, {"ari": 0.1 + s / 1000}, num_topics=10)
              for s in (42, 43, 44)] + [trial("f42", "LDA", 42, {"ari": 0.05}, num_topics=5)]
    older = SweepRun("s1", "s1", {"seeds": "42,43"}, {"tuner.context": "c"}, 1)
    newer = SweepRun("s2", "s2", {"seeds": "42,44"}, {"tuner.context": "c"}, 2)
    latest = latest_seed_list([newer, older], "c")
    assert latest == frozenset({42, 44})
    board = with_earlier_seeds(rank_configs(aggregate_seeds(trials), "ari"), latest)
    assert [c.earlier_seeds for c in board] == [(43,), ()]
    assert format_leaderboard(board, "ari").splitlines()[-1] == (
        "(1 row (#1) also average a seed the latest sweep did not ask for (43), finished by "
        "earlier sweeps on the same data: every finished seed of a configuration counts, so its "
        "mean is not the one a run of the latest grid alone would give)")
    # STM's spectral start reads no seed: one fit for every seed (review of 2026-12-05); a row
    # the latest sweep did not ask for is an earlier sweep's, whatever its seeds
    stm = FinishedTrial("m43", "m43", "STM", {"num_topics": 10, "init": "spectral"}, 43,
                        {"ari": 0.3}, config_key="stm")
    lda = [dataclasses.replace(t, config_key="lda10") for t in trials]
    board = with_earlier_seeds(rank_configs(aggregate_seeds([*lda, stm]), "ari"), latest,
                               {"lda10", "stm"})
    assert {(c.model, c.params["num_topics"]): c.earlier_seeds for c in board} == \
        {("LDA", 10): (43,), ("LDA", 5): (), ("STM", 10): ()}
    unasked = with_earlier_seeds(rank_configs(aggregate_seeds(lda), "ari"), latest, {"other"})
    assert all(not c.earlier_seeds for c in unasked)
    cut = SweepRun("s3", "s3", {"seeds": "1,2,... (7000 characters)"}, {"tuner.context": "c"}, 3)
    assert latest_seed_list([cut], "c") is None
    assert with_earlier_seeds(board, None) == board
