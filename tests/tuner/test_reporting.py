"""The tracker's read side and every reader of it, on a real LDA sweep in a SQLite MLflow store:
2 num_topics x 2 alpha (one of them null) x 2 seeds."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from tests.conftest import REPO, make_grid, run_sweep, sqlite_store
from tuner.errors import TunerError
from tuner.reporting.best import best_grid
from tuner.reporting.importance import (
    EXACT,
    FANOVA,
    importance_record,
    model_importances,
    needs_fanova,
    why_no_importance,
)
from tuner.reporting.leaderboard import aggregate_seeds, leaderboard
from tuner.reporting.report import IMPORTANCE_FILE, WrittenReport, write_report
from tuner.tracking.records import FinishedTrial
from tuner.tracking.tracker import MlflowTracker

EXPERIMENT = "report-lda"
PARAMS = {"num_topics": [5, 8], "alpha": [None, 0.5], "vocab_size": 1000, "lda.max_iter": 10}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, small_corpus: Path,
          session_cache: Path) -> str:
    folder = tmp_path_factory.mktemp("reporting")
    grid = make_grid(folder, small_corpus, experiment=EXPERIMENT, params=PARAMS, seeds=[1, 2])
    uri = sqlite_store(folder / "mlflow.db")
    run_sweep(grid, uri, session_cache, "--quiet")
    return uri


@pytest.fixture(scope="module")
def trials(store: str) -> list[FinishedTrial]:
    return MlflowTracker(store).finished_trials(EXPERIMENT)


@pytest.fixture(scope="module")
def written(store: str, tmp_path_factory: pytest.TempPathFactory) -> WrittenReport:
    return write_report(store, EXPERIMENT, tmp_path_factory.mktemp("out") / EXPERIMENT)


def test_finished_trials_type_parameters_back(trials: list[FinishedTrial]) -> None:
    assert len(trials) == 8
    assert {(t.params["num_topics"], t.params["alpha"], t.seed) for t in trials} == \
        {(k, a, s) for k in (5, 8) for a in (1 / k, 0.5) for s in (1, 2)}  # null means 1/K
    assert all(isinstance(t.params["max_iter"], int) for t in trials)


def test_finished_trials_carry_key_parent_and_settings(store: str,
                                                       trials: list[FinishedTrial]) -> None:
    sweeps = MlflowTracker(store).sweep_runs(EXPERIMENT)
    assert {t.parent_run_id for t in trials} == {sweeps[0].run_id}
    assert len({t.key for t in trials}) == 8
    assert all(t.metric_settings == {"npmi_window": 10, "topn": 10, "diversity_topn": 25,
                                      "npmi_reference": "preprocessed"}
               for t in trials)
    assert all(t.end_time >= t.start_time for t in trials)  # type: ignore[operator]


def test_the_sweep_logs_importance_in_the_reports_shape(store: str, tmp_path: Path) -> None:
    """Read before any test writes the report, which logs its own copy over this one."""
    tracker = MlflowTracker(store)
    sweep = tracker.sweep_runs(EXPERIMENT)[0]
    saved = json.loads(Path(tracker.client.download_artifacts(
        sweep.run_id, IMPORTANCE_FILE, str(tmp_path))).read_text(encoding="utf-8"))
    assert set(saved) == {"metric", "methods", "fanova_seed", "models", "within_seed_noise"}
    assert saved["methods"] == {"LDA": FANOVA} and set(saved["models"]["LDA"]) == {
        "num_topics", "alpha"}


def test_reading_an_unknown_experiment_names_it(store: str) -> None:
    with pytest.raises(TunerError, match="experiment 'nope': not found in sqlite:///"):
        MlflowTracker(store).finished_trials("nope")


def test_topics_reads_the_trial_artifact(store: str, trials: list[FinishedTrial]) -> None:
    topics = MlflowTracker(store).topics(trials[0].run_id)
    assert len(topics) == trials[0].params["num_topics"]
    assert all(len(words) >= 10 and all(isinstance(w, str) for w in words)
               for words in topics.values())


def test_leaderboard_ranks_four_configurations_by_mean(store: str) -> None:
    board = leaderboard(MlflowTracker(store), EXPERIMENT, "ari")
    assert [c.seeds for c in board] == [2, 2, 2, 2]
    means = [c.metrics["ari"] for c in board]
    assert means == sorted(means, reverse=True)


def test_importance_covers_both_swept_parameters(trials: list[FinishedTrial]) -> None:
    """alpha null is 1/K, so the 2 x 2 grid holds three alpha values: not a complete grid."""
    importance = model_importances(trials, "ari")
    assert set(importance) == {"LDA"} and importance["LDA"].method == FANOVA
    assert set(importance["LDA"].shares) == {"num_topics", "alpha"}
    assert sum(importance["LDA"].shares.values()) == pytest.approx(1.0)


def grid_trials(value: Callable[[int, str], float], ks: Sequence[int] = (5, 8),
                etas: Sequence[str] = ("auto", "symmetric", "none")) -> list[FinishedTrial]:
    """One LDA trial per (num_topics, eta) with ari = value(k, eta): a complete 2 x 3 grid."""
    return [FinishedTrial(f"r{k}{eta}", f"lda-{k}-{eta}", "LDA", {"num_topics": k, "eta": eta},
                          1, {"ari": value(k, eta)}, key=f"{k}{eta}")
            for k in ks for eta in etas]


SHIFT = {"auto": 0.0, "symmetric": 1.0, "none": 2.0}


def test_a_complete_grids_importance_is_its_exact_main_effect_shares() -> None:
    # ari = 3 x (K = 8) + shift(eta): K's means differ by 3 (variance 2.25), eta's by 0, 1, 2
    # (variance 2/3); an interaction term changes no main effect
    additive = grid_trials(lambda k, eta: 3.0 * (k == 8) + SHIFT[eta])
    both = grid_trials(lambda k, eta: 3.0 * (k == 8) + SHIFT[eta]
                       + (0.5 if (k == 8) == (eta == "none") else -0.5) * (eta != "symmetric"))
    expected = {"num_topics": 2.25 / (2.25 + 2 / 3), "eta": (2 / 3) / (2.25 + 2 / 3)}
    for trials in (additive, both):
        found = model_importances(trials, "ari")["LDA"]
        assert found.method == EXACT and found.shares == pytest.approx(expected)
    assert list(model_importances(additive, "ari")["LDA"].shares) == ["num_topics", "eta"]
    assert not needs_fanova([dataclasses.replace(t, metrics={}) for t in additive])


def test_an_incomplete_grid_falls_back_to_fanova() -> None:
    trials = grid_trials(lambda k, eta: 3.0 * (k == 8) + SHIFT[eta])[:-1]  # (8, none) failed
    found = model_importances(trials, "ari")["LDA"]
    assert found.method == FANOVA and set(found.shares) == {"num_topics", "eta"}
    assert sum(found.shares.values()) == pytest.approx(1.0)
    assert needs_fanova([dataclasses.replace(t, metrics={}) for t in trials])


def test_a_grid_without_main_effects_gets_a_reason_not_shares() -> None:
    xor = grid_trials(lambda k, eta: float((k == 8) != (eta == "auto")), etas=("auto", "none"))
    assert model_importances(xor, "ari") == {}
    assert why_no_importance(aggregate_seeds(xor), "ari") == \
        "no swept parameter has a main effect on mean ari (only interactions)"


def test_a_grids_importance_imports_no_scikit_learn() -> None:
    """fANOVA's scikit-learn import is about 1.5 s of CPU at the end of a multi-worker sweep."""
    code = ("import sys; from tests.tuner.test_reporting import grid_trials, SHIFT; "
            "from tuner.reporting.importance import model_importances; "
            "found = model_importances(grid_trials(lambda k, eta: k + SHIFT[eta]), 'ari'); "
            "print(sorted(found['LDA'].shares), "
            "sorted(m for m in ('sklearn', 'optuna.importance') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "['eta', 'num_topics'] []"


def test_importance_needs_two_swept_parameters(trials: list[FinishedTrial]) -> None:
    one_alpha = [t for t in trials if t.params["alpha"] is None]
    assert model_importances(one_alpha, "ari") == {}


def test_importance_skips_a_metric_that_never_varies(trials: list[FinishedTrial]) -> None:
    """There is no variance to share out; the report says why instead of failing."""
    flat = [dataclasses.replace(t, metrics={"ari": 0.5}) for t in trials]
    assert model_importances(flat, "ari") == {}
    assert why_no_importance(aggregate_seeds(flat), "ari") == \
        "every configuration has the same mean ari"


def test_report_draws_swept_parameters_and_importance_per_model(written: WrittenReport) -> None:
    assert {p.name for p in written.plots} >= {"leaderboard.png", "pareto.png",
                                                "params-LDA.png", "importance-LDA.png"}
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in written.plots)
    assert (written.trials, written.configs) == (8, 4)


def test_report_model_table_shows_only_swept_parameters(written: WrittenReport) -> None:
    page = written.html.read_text(encoding="utf-8")
    table = page.split("<h2>LDA</h2>")[1].split("</table>")[0].split("</p>", 1)[1]
    assert "<th>num_topics</th><th>alpha</th><th>seeds</th>" in table
    assert "vocab_size" not in table and "max_iter" not in table
    assert table.count("<tr>") == 1 + 4 and ">0.125<" in table  # alpha null at K=8 is 1/8
    assert "Preprocessing of the latest sweep" not in page  # the defaults go unsaid
    # what every row shares beyond the defaults is said once above the table, the defaults not
    # (eta 0.01): rows of 10 iterations read as of the default 100 (report audit)
    assert "<p>swept: num_topics, alpha; every row ran with, beyond its defaults: max_iter=10, " \
        "vocab_size=1000</p>" in page


def test_importance_is_logged_on_the_sweep_run(store: str, written: WrittenReport) -> None:
    tracker = MlflowTracker(store)
    logged = {f.path for f in tracker.client.list_artifacts(written.parent_run_id)}
    assert {IMPORTANCE_FILE, "report"} <= logged
    saved = json.loads((written.html.parent / IMPORTANCE_FILE).read_text(encoding="utf-8"))
    assert saved["models"] == written.importance and saved["metric"] == "ari"
    assert saved["methods"] == {"LDA": FANOVA}  # alpha null resolved per K: not a complete grid
    assert saved["experiment"] == EXPERIMENT


def test_a_report_logs_the_files_it_wrote_not_the_folders_others(store: str,
                                                                  tmp_path: Path) -> None:
    """A report written into a folder another experiment's report had used logged that one's
    plots to this sweep run too (audit of 2026-12-02)."""
    out = tmp_path / "shared"
    out.mkdir()
    (out / "params-HDP.png").write_bytes(b"another experiment's plot")
    report = write_report(store, EXPERIMENT, out)
    tracker = MlflowTracker(store)
    logged = {Path(f.path).name
              for f in tracker.client.list_artifacts(report.parent_run_id, "report")}
    assert "params-HDP.png" not in logged
    assert {"report.html", IMPORTANCE_FILE, *(p.name for p in report.plots)} <= logged


def test_best_grid_reruns_every_seed_of_the_best_configuration(store: str) -> None:
    grid = best_grid(store, EXPERIMENT, "ari")
    top = leaderboard(MlflowTracker(store), EXPERIMENT, "ari", 1)[0]
    assert grid["seeds"] == [1, 2]
    assert {k: grid["params"][k] for k in ("num_topics", "alpha")} == dict(top.swept)


def test_best_says_which_metrics_were_logged_or_that_nothing_finished(
        store: str, trials: list[FinishedTrial]) -> None:
    """With no finished trial at all (a cancelled sweep) it suggested "ari", the metric it had
    just said was missing (audit of 2026-12-01)."""
    from tuner.metrics import rankable_metrics

    unlogged = next(m for m in rankable_metrics() if m not in trials[0].metrics)
    with pytest.raises(TunerError, match=f"no finished trial has metric '{unlogged}'; rank by "
                                         "one that was logged: npmi, diversity"):
        best_grid(store, EXPERIMENT, unlogged)
    MlflowTracker(store).start_sweep("nothing-finished", {}, {})
    with pytest.raises(TunerError, match="'nothing-finished': no trial has finished .*there is "
                                         "no configuration to choose"):
        best_grid(store, "nothing-finished")


def test_best_says_when_the_latest_data_has_no_finished_trial(store: str, tmp_path: Path) -> None:
    """Every trial of a sweep on relabelled data failed: `tuner best` said "no finished trial
    has metric 'npmi'; rank by one that was logged: npmi, ..." (regression audit of
    2026-12-03)."""
    copy = tmp_path / "mlflow.db"
    shutil.copyfile(store.removeprefix("sqlite:///"), copy)
    tracker = MlflowTracker(sqlite_store(copy))
    sweep = tracker.start_sweep(EXPERIMENT, {"tuner.context": "relabelled"}, {})
    tracker.end_run(sweep.run_id, "FINISHED")  # ended, every trial failed
    with pytest.raises(TunerError, match="no trial has finished on the data of its latest sweep "
                                         r"\(every trial failed, or the sweep was stopped\); 8 "
                                         "finished trials judged on data that has changed since"):
        best_grid(sqlite_store(copy), EXPERIMENT, "npmi")


def test_best_grid_keeps_the_settings_the_sweep_ran_with(store: str, tmp_path: Path) -> None:
    """`tuner best` re-read the sweep's grid file as it was at the time of asking: an edited
    file (or another file of that name where it ran) gave its own preprocessing, dataset fields
    and time limit, and the printed grid did not re-run the best configuration (audit of
    2026-12-01)."""
    from tuner.grid import load_grid

    tracker = MlflowTracker(store)
    grid_file = Path(tracker.sweep_runs(EXPERIMENT)[0].tags["tuner.grid"])
    assert grid_file.is_absolute()
    original = grid_file.read_text(encoding="utf-8")
    edited = json.loads(original)
    edited["preprocessing"] = {"min_df": 50, "stopwords": "none"}
    edited["dataset"]["text_field"] = "body"
    edited["timeout_s"] = 1
    try:
        grid_file.write_text(json.dumps(edited), encoding="utf-8")
        grid = best_grid(store, EXPERIMENT, "ari")
    finally:
        grid_file.write_text(original, encoding="utf-8")
    ran = load_grid(grid_file)
    assert grid["preprocessing"]["min_df"] == 2 and grid["preprocessing"]["stopwords"] == "auto"
    assert grid["dataset"]["text_field"] == "text" and grid["timeout_s"] is None
    rebuilt = tmp_path / "best.json"
    rebuilt.write_text(json.dumps(grid), encoding="utf-8")
    assert grid["models"] == ["LDA"] and "embedding" not in grid  # LDA reads no embeddings
    settings, ran_settings = load_grid(rebuilt).settings(), ran.settings()
    assert {k: v for k, v in settings.items() if k != "embedding"} == \
        {k: v for k, v in ran_settings.items() if k != "embedding"}


def test_best_and_report_rank_by_what_the_sweep_ranked_by(tmp_path: Path, small_corpus: Path,
                                                          session_cache: Path) -> None:
    """A sweep ranked by NPMI (its leaderboard_metric, or a search's objective) was ranked by
    ARI in `tuner best` and `tuner report` (review of 2026-12-01)."""
    from tuner.engine.sweep import check_inputs
    from tuner.flow import SweepSettings, execute_sweep
    from tuner.grid import load_grid

    grid = load_grid(make_grid(tmp_path, small_corpus, experiment="by-npmi",
                               params={"num_topics": [5, 6], "vocab_size": 1000,
                                       "lda.max_iter": 10}, leaderboard_metric="npmi"))
    uri = sqlite_store(tmp_path / "mlflow.db")
    outcome = execute_sweep(grid, check_inputs(grid), SweepSettings(uri, session_cache, 1,
                                                                    progress=False))
    assert outcome.metric == "npmi"
    assert best_grid(uri, "by-npmi")["leaderboard_metric"] == "npmi"
    written = write_report(uri, "by-npmi", tmp_path / "report")
    assert "npmi mean ± sd" in written.html.read_text(encoding="utf-8")
    assert written.other_code is None  # this version made it (upgrade audit of 2026-12-03)


def test_a_row_names_what_the_grid_swept_when_its_siblings_did_not_finish(
        store: str, trials: list[FinishedTrial]) -> None:
    """With the K=8 trials failed or pruned, the K=5 rows named only alpha, and "LDA
    alpha=0.5" hid which K it was (audit of 2026-12-01). The sweep run records what its grid
    varied (tag tuner.swept)."""
    from tuner.reporting.leaderboard import declared_swept

    tracker = MlflowTracker(store)
    sweeps = tracker.sweep_runs(EXPERIMENT)
    declared = declared_swept(sweeps, sweeps[0].tags["tuner.context"])
    assert declared == {"LDA": ["num_topics", "alpha"]}
    survivors = [t for t in trials if t.params["num_topics"] == 5]
    assert all(set(c.swept) == {"alpha"} for c in aggregate_seeds(survivors))
    rows = aggregate_seeds(survivors, declared)
    assert all(set(c.swept) == {"alpha", "num_topics"} for c in rows)
    assert all(c.swept["num_topics"] == 5 for c in rows)


@pytest.mark.parametrize("values, scale, ticks", [
    ([10, 100, 1000, 5000], " (log scale)", ["10", "100", "1000", "5000"]),  # crowded linearly
    ([10, 20, 300, 350], " (in order, not to scale)", ["10", "20", "300", "350"]),  # both ways
    ([10, 20, 30], "", ["10", "20", "30"]),  # evenly spread: linear, as before
    ([-5, 0, 300, 350], " (in order, not to scale)", ["-5", "0", "300", "350"]),  # no log
    (["a", "b"], "", ["a", "b"]),
    (list(range(5, 101, 5)), "", []),  # 20 values: matplotlib's own ticks, as before
])
def test_a_swept_axis_keeps_its_tick_labels_apart(values: list, scale: str,
                                                  ticks: list[str]) -> None:
    """A report's params plot of BERTopic's min_cluster_size 10, 20, 300, 350 printed "1020" at
    a linear axis's start, and "30050" at a log axis's end (audit of 2026-12-01)."""
    from tuner.reporting.plots import _axis, _pyplot

    figure, ax = _pyplot().subplots()
    try:
        position, shown, said = _axis(ax, values, False)
        assert (said, ax.get_xscale() == "log", list(shown)) == (scale, "log" in scale, ticks)
        assert [position(v) for v in values] == sorted(position(v) for v in values)
    finally:
        _pyplot().close(figure)


def test_topic_words_and_names_are_drawn_as_text_never_as_tex(tmp_path: Path) -> None:
    """A scored model's topics.json holding "$\\undefinedmacro{x}$" stopped `tuner report` with
    matplotlib's ParseFatalException, and no report was written (audit of 2026-12-02)."""
    from tuner.reporting.plots import plot_topic_words

    word = "$\\undefinedmacro{x}$"
    path = plot_topic_words({f"external:{word}\nrun-1": {"0": [word, "$x^2$", "plain"]}},
                            tmp_path / "topics.png", None)
    assert path.stat().st_size > 0


def test_a_declared_log_axis_stays_log_for_a_random_searchs_draws() -> None:
    """30 sampled learning rates lost their declared log axis to 30 run-together labels (review
    of 2026-12-01)."""
    from tuner.reporting.plots import _axis, _pyplot

    draws = [10 ** (-4 + 3 * i / 29) for i in range(30)]
    figure, ax = _pyplot().subplots()
    try:
        _, shown, said = _axis(ax, draws, True)
        assert (ax.get_xscale(), shown, said) == ("log", {}, " (log scale)")
        ax.scatter(draws, draws)
        figure.canvas.draw()
        labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
        # plain numbers: with TeX off for data, matplotlib's $10^{-4}$ was drawn as written
        assert labels and all("$" not in text for text in labels), labels
    finally:
        _pyplot().close(figure)



def test_a_reports_failures_count_each_trial_once_and_only_while_it_fails(tmp_path: Path) -> None:
    """Every FAILED run was counted: a retried trial twice, and one that finished on a later
    sweep still; and a configuration that failed under older code (another config key) and
    finished after an upgrade was listed as finished on no seed (review of 2026-12-01)."""
    from trainers import trainer_revision
    from tuner import trial as t
    from tuner.reporting.report import write_report_with
    from tuner.tracking.memory import MemoryTracker

    data = t.DataRef("c.jsonl", "sha", "en", "bow", None, None, None, "label", context="ctx")

    def run(sweep: object, key: str, seed: int, config: str, k: int, ok: bool) -> None:
        spec = t.TrialSpec("LDA", {"num_topics": k}, seed, data, t.MetricSettings(), "e", key,
                           revision=trainer_revision("LDA"), fit_key=f"fit-{key}",
                           config_key=config)
        record = (t.TrialRecord(spec, t.TrialStatus.COMPLETE, {"npmi": 0.2, "ari": 0.1},
                                [["a", "b"]], [0.1], [0]) if ok else
                  t.TrialRecord(spec, t.TrialStatus.FAILED, error=t.TrialError("E", "boom", "")))
        tracker.finish_trial(sweep, tracker.start_trial(sweep, spec), record)  # type: ignore

    tracker = MemoryTracker()
    first = tracker.start_sweep("e", {"tuner.context": "ctx"}, {})
    for key, seed, config, k, ok in [("a1", 1, "K5", 5, True), ("b1", 1, "K10", 10, False),
                                     ("b2", 2, "K10", 10, False), ("c1", 1, "K20-old", 20, False),
                                     ("d1", 1, "K30", 30, False), ("d2", 2, "K30", 30, False)]:
        run(first, key, seed, config, k, ok)
    second = tracker.start_sweep("e", {"tuner.context": "ctx"}, {})
    for key, seed, config, k, ok in [("b1", 1, "K10", 10, False), ("b2", 2, "K10", 10, True),
                                     ("c1-new", 1, "K20-new", 20, True),
                                     ("d1", 1, "K30", 30, False)]:
        run(second, key, seed, config, k, ok)
    written = write_report_with(tracker, "e", tmp_path)
    page = written.html.read_text(encoding="utf-8")
    assert written.failed == 3  # b1 (failed twice: one trial), d1, d2; b2 and c1 finished since
    assert "1 configuration finished on no seed" in page and "num_topics=30" in page
    assert "num_topics=20</td><td>" not in page.split("finished on no seed")[1].split("</table>")[0]


@pytest.mark.parametrize("named", [True, False])
def test_best_grid_names_the_embedding_model_only_where_the_sweep_did(tmp_path: Path,
                                                                     named: bool) -> None:
    """A THETA sweep whose grid named no embedding model embedded with Qwen3 of its model_size;
    its best grid named the recorded default (MiniLM), which the re-run used instead (review of
    2026-12-02). Where the sweep named one, the default model_size is left out."""
    from trainers import trainer_revision
    from tuner import trial as t
    from tuner.tracking.tracker import EMBEDDING_NAMED, SWEEP_SETTINGS_FILE

    uri = sqlite_store(tmp_path / "m.db")
    tracker = MlflowTracker(uri)
    sweep = tracker.start_sweep("e", {"tuner.context": "ctx"}, {})
    embedding = {"model": "sentence-transformers/all-MiniLM-L6-v2", "pooling": "mean",
                 "max_length": 256, "long_documents": "start"}
    tracker.log_json(sweep.run_id, SWEEP_SETTINGS_FILE, {
        "dataset": {"path": str(tmp_path / "c.jsonl"), "text_field": "text"},
        "ground_truth": None, "embedding": embedding, "preprocessing": {}, "timeout_s": None,
        EMBEDDING_NAMED: named})
    data = t.DataRef("c.jsonl", "sha", "en", "bow", None, None, None, None, context="ctx")
    spec = t.TrialSpec("THETA", {"num_topics": 5, "model_size": "0.6B"}, 1, data,
                       t.MetricSettings(), "e", "k1", revision=trainer_revision("THETA"),
                       fit_key="f1", config_key="c1")
    record = t.TrialRecord(spec, t.TrialStatus.COMPLETE, {"npmi": 0.1}, [["a", "b"], ["c", "d"]],
                           [0.1, 0.2], [0, 1])
    tracker.finish_trial(sweep, tracker.start_trial(sweep, spec), record)
    grid = best_grid(uri, "e", "npmi")
    assert ("model" in grid["embedding"]) is named
    assert grid["embedding"]["max_length"] == 256 and EMBEDDING_NAMED not in grid
    # beside a named model the default model_size picks nothing, and validate warned of the
    # grid best wrote (new-user audit of 2026-12-03); without one it picks the Qwen3 model
    assert ("model_size" in grid["params"]) is not named


def test_report_ranking_shows_topics_found_and_the_pareto_key_leaderboard_ranks(
        written: WrittenReport, trials: list[FinishedTrial]) -> None:
    """The Pareto plot's own numbers 1 to 5 were not the leaderboard's ranks, its flagged rows
    were unmarked, and no table said how many topics a fit found (fresh-clone audit of
    2026-12-03)."""
    import html
    import re

    from tuner.reporting.leaderboard import noise_sentence, rank_configs
    from tuner.reporting.plots import pareto_key
    from tuner.reporting.report import pareto_front

    page = written.html.read_text(encoding="utf-8")
    ranking = page.split("<th>topics found/asked</th>")[1].split("</table>")[0]
    cells = re.findall(r"<td>([0-9.]+/[0-9]+)</td>", ranking)
    assert len(cells) == 4 and all(c.endswith(("/5", "/8")) for c in cells), cells
    board = rank_configs(aggregate_seeds(trials), "ari")
    sentence = noise_sentence(board, "ari")  # the printed board's, in the page too
    assert (html.escape(sentence) in page) if sentence else "within seed noise" not in page
    front = pareto_front(board, ["npmi", "diversity"])
    key = pareto_key(board, front).splitlines()
    assert [line.split(":")[0] for line in key] == \
        [f"#{board.index(c) + 1}" for c in sorted(front, key=board.index)]
    assert all(line.endswith(f"({c.notes})") for line, c in
               zip(key, sorted(front, key=board.index), strict=True) if c.notes)


def seeded_grid(value: Callable[[int, str], float], spread: float) -> list[FinishedTrial]:
    """A complete 2 x 3 LDA grid of two seeds each, at value(k, eta) -/+ spread."""
    return [FinishedTrial(f"r{k}{eta}{seed}", f"lda-{k}-{eta}-{seed}", "LDA",
                          {"num_topics": k, "eta": eta}, seed,
                          {"ari": value(k, eta) + (spread if seed == 2 else -spread)},
                          key=f"{k}{eta}{seed}")
            for k in (5, 8) for eta in ("auto", "symmetric", "none") for seed in (1, 2)]


def test_importance_says_when_no_effect_stands_out_of_the_seeds_noise() -> None:
    """The shares sum to 1 whatever the effects' size: the demo's num_topics got 0.79 for an
    effect of 0.0155 ARI, where one configuration's seeds differed by 0.084 (fresh-clone audit
    of 2026-12-03)."""
    small = seeded_grid(lambda k, eta: 0.27 + 0.015 * (k == 8) + 0.005 * (eta == "none"), 0.04)
    found = model_importances(small, "ari")["LDA"]
    assert found.shares["num_topics"] > 0.5  # as large a share as ever
    assert found.noise == (
        "no swept parameter's effect on mean ari stands out of the seeds' noise: the largest, "
        "num_topics's 0.0150 between its best and worst values, is under twice its standard "
        "error 0.0327 (the seeds' pooled sd is 0.0566), so these shares describe noise; more "
        "seeds would tell")
    clear = seeded_grid(lambda k, eta: 0.27 + 0.15 * (k == 8), 0.04)
    assert model_importances(clear, "ari")["LDA"].noise is None
    single = [t for t in small if t.seed == 1]  # one seed: its noise unknown
    assert model_importances(single, "ari")["LDA"].noise is None
    assert importance_record(model_importances(small, "ari"), "ari")["within_seed_noise"] == \
        {"LDA": found.noise}


def test_best_asks_for_a_vocabulary_size_a_grid_may_ask_for(tmp_path: Path, small_corpus: Path,
                                                            session_cache: Path) -> None:
    """On a small corpus a trial's vocab_size says the fewer words the preprocessing left, and
    `tuner best` printed it (788), which `validate` refused (attacker audit of 2026-12-04): the
    grid now asks for the lowest size a grid may, which leaves the same words."""
    from tests.conftest import read_jsonl, write_jsonl
    from tuner.engine.sweep import check_inputs, precompute
    from tuner.grid import load_grid

    corpus = write_jsonl(tmp_path / "c.jsonl", read_jsonl(small_corpus)[:60])
    grid = make_grid(tmp_path, corpus, experiment="few words", preprocessing={"min_df": 3},
                     params={"num_topics": 5, "vocab_size": 5000, "lda.max_iter": 10})
    uri = sqlite_store(tmp_path / "mlflow.db")
    run_sweep(grid, uri, session_cache, "--quiet")
    trial, = MlflowTracker(uri).finished_trials("few words")
    assert int(trial.params["vocab_size"]) < 1000  # the words 60 posts leave
    best = best_grid(uri, "few words", "npmi")
    assert best["params"]["vocab_size"] == 1000
    path = tmp_path / "best.json"
    path.write_text(json.dumps(best), encoding="utf-8")
    rebuilt = load_grid(path)  # valid
    prepared = precompute(rebuilt, check_inputs(rebuilt), session_cache, progress=False)
    assert [t.key for t in prepared.trials] == [trial.key]  # the same trial


def test_collapsed_configurations_are_left_off_the_pareto_front(tmp_path: Path) -> None:
    """BERTopic fits of 2 to 3 topics of 30 asked sat on the report's Pareto front by the NPMI
    of a few broad topics (new-user audit of 2026-12-04): the front is drawn over the sound
    configurations, and the collapsed ones are marked apart."""
    from tuner.reporting.leaderboard import rank_configs
    from tuner.reporting.plots import plot_pareto
    from tuner.reporting.report import pareto_front, sound_front

    def fit(k: int, npmi: float, found: float) -> FinishedTrial:
        return FinishedTrial(f"r{k}", f"bertopic-{k}", "BERTopic", {"num_topics": k}, 1,
                             {"npmi": npmi, "diversity": 0.9, "num_topics_found": found},
                             key=f"k{k}")

    board = rank_configs(aggregate_seeds([fit(30, 0.25, 2.0), fit(10, 0.05, 9.0)]), "npmi")
    assert [c.params["num_topics"] for c in pareto_front(board, ["npmi", "diversity"])] == [30]
    assert [c.params["num_topics"] for c in sound_front(board, ["npmi", "diversity"])] == [10]
    assert sound_front(board[:1], ["npmi", "diversity"]) == board[:1]  # every one collapsed
    assert plot_pareto(board, sound_front(board, ["npmi", "diversity"]), ["npmi", "diversity"],
                       tmp_path / "pareto.png").stat().st_size > 0


def test_report_names_the_document_embeddings_the_latest_sweep_read(tmp_path: Path) -> None:
    """BERTopic rows on MiniLM and on a Qwen3 folder read alike: the page named no embedding
    (report audit, 2026-12-05). A folder is named by its own name, not its whole path."""
    from tuner import trial as t

    uri = sqlite_store(tmp_path / "m.db")
    tracker = MlflowTracker(uri)
    sweep = tracker.start_sweep("e", {"tuner.context": "ctx"}, {
        "ground_truth": "label_field:None",
        "embedding_model": "sentence-transformers/all-MiniLM-L6-v2", "pooling": "mean",
        "max_length": 256, "long_documents": "start",
        "embedding_model_1": "/srv/models/Qwen3-Embedding-0.6B", "pooling_1": "last",
        "max_length_1": 512, "long_documents_1": "mean"})
    data = t.DataRef("c.jsonl", "sha", "en", "bow", None, None, None, None, context="ctx")
    spec = t.TrialSpec("LDA", {"num_topics": 5}, 1, data, t.MetricSettings(), "e", "k1",
                       fit_key="f1", config_key="c1")
    record = t.TrialRecord(spec, t.TrialStatus.COMPLETE, {"npmi": 0.1}, [["a", "b"], ["c", "d"]],
                           [0.1, 0.2], [0, 1])
    tracker.finish_trial(sweep, tracker.start_trial(sweep, spec), record)
    page = write_report(uri, "e", tmp_path / "out").html.read_text(encoding="utf-8")
    assert "<p>Document embeddings of the latest sweep: sentence-transformers/all-MiniLM-L6-v2 " \
        "(pooling mean, max_length 256, long_documents start); Qwen3-Embedding-0.6B (pooling " \
        "last, max_length 512, long_documents mean).</p>" in page
    assert "/srv/models" not in page


def test_best_names_a_lone_configuration_by_its_settings_not_as_the_defaults(
        tmp_path: Path) -> None:
    """A model with one row varies nothing, so its label is empty: `tuner best` called
    BERTopic num_topics=8 clustering=kmeans "(its defaults)" (new-user audit on headlines)."""
    from trainers import trainer_revision
    from tuner import trial as t
    from tuner.tracking.tracker import SWEEP_SETTINGS_FILE

    uri = sqlite_store(tmp_path / "m.db")
    tracker = MlflowTracker(uri)
    sweep = tracker.start_sweep("e", {"tuner.context": "ctx"}, {})
    tracker.log_json(sweep.run_id, SWEEP_SETTINGS_FILE, {
        "dataset": {"path": str(tmp_path / "c.jsonl"), "text_field": "text"},
        "ground_truth": None, "preprocessing": {}, "timeout_s": None})
    data = t.DataRef("c.jsonl", "sha", "en", "bow", None, None, None, None, context="ctx")
    spec = t.TrialSpec("LDA", {"num_topics": 8, "max_iter": 100, "eta": 0.05}, 1, data,
                       t.MetricSettings(), "e", "k1", revision=trainer_revision("LDA"),
                       fit_key="f1", config_key="c1")
    record = t.TrialRecord(spec, t.TrialStatus.COMPLETE, {"npmi": 0.1}, [["a", "b"], ["c", "d"]],
                           [0.1, 0.2], [0, 1])
    tracker.finish_trial(sweep, tracker.start_trial(sweep, spec), record)
    said: list[str] = []
    best_grid(uri, "e", "npmi", say=said.append)
    assert said[0].startswith("chosen: LDA eta=0.05 num_topics=8, npmi 0.1000"), said


def test_best_by_npmi_repeats_the_sweeps_warning_of_thin_counts(tmp_path: Path) -> None:
    """The sweep warned that NPMI on 4,000 headlines ranks models noisily; `tuner best --metric
    npmi` then named BERTopic alone, whose lead a 10,000-headline reference took away (audit on
    headlines)."""
    from trainers import trainer_revision
    from tuner import trial as t
    from tuner.engine.advice import THIN_NPMI_SAID
    from tuner.tracking.tags import TRUTH_TAG, WARNINGS_TAG
    from tuner.tracking.tracker import SWEEP_SETTINGS_FILE, WARNINGS_FILE

    uri = sqlite_store(tmp_path / "m.db")
    tracker = MlflowTracker(uri)
    sweep = tracker.start_sweep("e", {"tuner.context": "ctx", WARNINGS_TAG: "1",
                                      TRUTH_TAG: "ab12"}, {})
    warning = (f"g.json: preprocessing: {THIN_NPMI_SAID} 3,986 documents alone, 5.1 words each "
               "(20,300 in all): most pairs never share a window; rank by ari or nmi where ...")
    tracker.log_json(sweep.run_id, WARNINGS_FILE, {"warnings": [warning], "after_trials": []})
    tracker.log_json(sweep.run_id, SWEEP_SETTINGS_FILE, {
        "dataset": {"path": str(tmp_path / "c.jsonl"), "text_field": "text"},
        "ground_truth": None, "preprocessing": {}, "timeout_s": None})
    data = t.DataRef("c.jsonl", "sha", "en", "bow", None, None, None, None, context="ctx")
    spec = t.TrialSpec("LDA", {"num_topics": 8}, 1, data, t.MetricSettings(), "e", "k1",
                       revision=trainer_revision("LDA"), fit_key="f1", config_key="c1")
    record = t.TrialRecord(spec, t.TrialStatus.COMPLETE, {"npmi": 0.1, "diversity": 0.9},
                           [["a", "b"], ["c", "d"]], [0.1, 0.2], [0, 1])
    tracker.finish_trial(sweep, tracker.start_trial(sweep, spec), record)
    said: list[str] = []
    best_grid(uri, "e", "npmi", say=said.append)
    assert said[1] == (f"best by npmi on thin counts: {THIN_NPMI_SAID} 3,986 documents alone, 5.1 "
                       "words each (20,300 in all): most pairs never share a window; check the "
                       "choice by ari or nmi, or score its topics against a larger corpus of "
                       "such texts with `tuner score`"), said
    said.clear()
    best_grid(uri, "e", "diversity", say=said.append)
    assert not any("thin counts" in s for s in said)
    tracker.set_tags(sweep.run_id, {TRUTH_TAG: "none"})  # no labels: no ari to check it by
    said.clear()
    best_grid(uri, "e", "npmi", say=said.append)
    assert said[1].endswith("never share a window; score its topics against a larger corpus "
                            "of such texts with `tuner score`"), said
