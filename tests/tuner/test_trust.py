"""Results you can trust: keys cover everything that changes a result, a new truth re-scores
stored fits, and no finished result is lost (issue #10, items 1-5, 11, 13, 16-18)."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from sklearn.metrics import adjusted_rand_score

from tests.conftest import REPO, make_grid, read_jsonl, sqlite_store, write_jsonl
from trainers import fit_inputs
from tuner.data.cooccurrence import CooccurrenceCache
from tuner.data.store import write_atomic
from tuner.data.vocab import BowCache
from tuner.engine.executors import kill_workers, make_executor, threads_per_worker
from tuner.engine.runner import run_sweep
from tuner.engine.sweep import BagsOfWords, TrialFactory, check_inputs, precompute
from tuner.engine.watchdog import Limits, Watchdog
from tuner.engine.worker import fit_view, load_trial_data, rescore_trial
from tuner.errors import CacheError, MetricError, TunerError
from tuner.flow import SweepSettings, execute_sweep
from tuner.grid import load_grid
from tuner.metrics import higher_is_better
from tuner.processes import process_started
from tuner.reporting.leaderboard import leaderboard
from tuner.reporting.report import write_report
from tuner.tracking.journal import Journal
from tuner.tracking.memory import MemoryTracker
from tuner.tracking.tracker import MlflowTracker
from tuner.trial import TrialRecord, TrialSpec, TrialStatus


def _relabelled(records: list[dict], shift: int) -> list[dict]:
    """The same documents with every label moved to another one (texts and ids unchanged)."""
    names = sorted({r["label"] for r in records})
    moved = {name: names[(i + shift) % len(names)] for i, name in enumerate(names)}
    return [{**r, "label": moved[r["label"]] if i % 3 else names[0]}
            for i, r in enumerate(records)]


def _sweep(grid: Path, store: str, cache: Path):
    loaded = load_grid(grid)
    settings = SweepSettings(store, cache, max_workers=1, progress=False)
    return execute_sweep(loaded, check_inputs(loaded), settings)


def test_relabelled_data_rescores_every_trial_without_refitting(tmp_path, small_corpus):
    corpus = write_jsonl(tmp_path / "data" / "corpus.jsonl", read_jsonl(small_corpus))
    grid = make_grid(tmp_path, corpus, experiment="relabel",
                     params={"num_topics": [5, 6], "vocab_size": 1000, "lda.max_iter": 10})
    store, cache = sqlite_store(tmp_path / "mlflow.db"), tmp_path / "cache"
    first = _sweep(grid, store, cache)
    assert (first.counts.completed, first.counts.rescored) == (2, 0)

    records = _relabelled(read_jsonl(corpus), shift=7)
    write_jsonl(corpus, records)
    second = _sweep(grid, store, cache)
    assert (second.counts.completed, second.counts.skipped, second.counts.rescored) == (2, 0, 2)

    client = MlflowClient(store)
    runs = client.search_runs([second.experiment_id], "tags.`tuner.role` = 'trial'")
    rescored = [r for r in runs if "tuner.rescored_from" in r.data.tags]
    assert len(rescored) == 2
    names = sorted({r["label"] for r in records})
    truth = [names.index(r["label"]) for r in records]
    for run in rescored:
        source = client.get_run(run.data.tags["tuner.rescored_from"])
        assignments = _assignments(client, run.info.run_id, tmp_path)
        assert run.data.metrics["ari"] == pytest.approx(adjusted_rand_score(truth, assignments))
        assert run.data.metrics["ari"] != pytest.approx(source.data.metrics["ari"])
        assert run.data.metrics["fit_seconds"] == source.data.metrics["fit_seconds"]
        # of the fit's θ, which a stored fit does not keep: carried, not left uncomputed
        assert run.data.metrics["background_topics"] == \
            source.data.metrics["background_topics"]
        assert run.data.tags["tuner.fit_key"] == source.data.tags["tuner.fit_key"]
        # the fit's thread count, not keyed, was missing from re-scored runs (audit 2026-12-02)
        assert run.data.tags["tuner.threads"] == source.data.tags["tuner.threads"]

    third = _sweep(grid, store, cache)
    assert (third.counts.completed, third.counts.skipped) == (0, 2)
    _assert_ranked_on_the_new_labels(second, store, {r.info.run_id: r for r in rescored})


def _assert_ranked_on_the_new_labels(outcome, store: str, current: dict) -> None:
    """The sweep's board, its best run and a later `leaderboard` read rank the runs scored on
    the new labels alone: one seed per configuration, never averaged with the old labels'."""
    from tuner.reporting.leaderboard import leaderboard

    client = MlflowClient(store)
    sweep = client.get_run(outcome.parent_run_id)
    assert sweep.data.tags["tuner.best_run_id"] in current
    for board in (outcome.board, leaderboard(MlflowTracker(store), "relabel", "ari")):
        assert len(board) == 2
        for config in board:
            (trial,) = config.trials
            assert trial.run_id in current
            assert config.metrics["ari"] == current[trial.run_id].data.metrics["ari"]


def test_a_changed_stop_list_is_a_new_configuration_not_another_seed(tmp_path, small_corpus):
    """Same data and parameters, other preprocessing: the re-run's rows stand alone and the
    earlier bag of words' runs, history now, are neither averaged in nor ranked."""
    grid = make_grid(tmp_path, small_corpus, experiment="stoplist",
                     params={"num_topics": 5, "vocab_size": 1000, "lda.max_iter": 10})
    store, cache = sqlite_store(tmp_path / "mlflow.db"), tmp_path / "cache"
    _sweep(grid, store, cache)
    raw = json.loads(grid.read_text(encoding="utf-8"))
    grid.write_text(json.dumps({**raw, "preprocessing": {"stopwords": "mallet"}}),
                    encoding="utf-8")
    second = _sweep(grid, store, cache)
    assert second.counts.completed == 1
    (config,) = second.board
    assert config.seeds == 1 and config.trials[0].parent_run_id == second.parent_run_id


def test_a_trial_skipped_as_finished_stays_ranked(tmp_path, ng_records):
    """The data context holds only what every trial key holds: new timestamps refit DTM but
    leave LDA's key (and its run's rank) alone, and `auto` names the list it resolves to."""
    records = _dated(ng_records[:80], 2000)
    corpus = write_jsonl(tmp_path / "corpus.jsonl", records)
    grid = make_grid(tmp_path, corpus, experiment="skipped", dataset={**DATED, "path": str(corpus)},
                     params={"num_topics": 5, "vocab_size": 1000, "lda.max_iter": 10})
    store, cache = sqlite_store(tmp_path / "mlflow.db"), tmp_path / "cache"
    first = _sweep(grid, store, cache)
    write_jsonl(corpus, [{**r, "timestamp": "1999-06-01"} for r in records])
    raw = json.loads(grid.read_text(encoding="utf-8"))
    grid.write_text(json.dumps({**raw, "preprocessing": {"stopwords": "english"}}),
                    encoding="utf-8")
    second = _sweep(grid, store, cache)
    assert (second.counts.completed, second.counts.skipped) == (0, 1)
    assert [c.trials[0].run_id for c in second.board] == \
        [c.trials[0].run_id for c in first.board]


def test_a_sweep_run_again_ranks_what_it_asked_for_not_a_newer_lookalike(tmp_path,
                                                                          ng_records):
    """Two runs that show the same model and parameters but differ in a setting no parameter
    shows: an embedding's max_length 256, then 64, then 256 again, every trial skipped as
    finished, ranked the newer 64-token run, logged its id as the sweep's best and `tuner best`
    rebuilt its grid (trust audit of 2026-12-01). Here STM's covariate values play the
    setting: the sweep run again ranks its own configuration, and so do later readers."""
    records = _dated(ng_records[:60], 2000)
    corpus = write_jsonl(tmp_path / "corpus.jsonl", records)
    grid = make_grid(tmp_path, corpus, experiment="asked", models=["stm"],
                     dataset={**DATED, "path": str(corpus)},
                     params={"num_topics": 5, "vocab_size": 1000, "stm.max_iter": 10})
    store, cache = sqlite_store(tmp_path / "mlflow.db"), tmp_path / "cache"
    first = _sweep(grid, store, cache)
    write_jsonl(corpus, [{**r, "group": "x" if i % 4 else r["group"]}
                         for i, r in enumerate(records)])
    second = _sweep(grid, store, cache)
    assert second.counts.completed == 1
    write_jsonl(corpus, records)
    third = _sweep(grid, store, cache)
    assert (third.counts.completed, third.counts.skipped) == (0, 1)
    own = first.board[0].trials[0].run_id
    assert [c.trials[0].run_id for c in third.board] == [own]
    assert third.board[0].superseded == 1  # the other covariates' run, said under the board
    tracker = MlflowTracker(store)
    assert [c.trials[0].run_id for c in leaderboard(tracker, "asked", "npmi")] == [own]
    sweep = MlflowClient(store).get_run(third.parent_run_id)
    assert sweep.data.tags["tuner.best_run_id"] == own
    page = write_report(store, "asked", tmp_path / "report").html.read_text(encoding="utf-8")
    assert "1 row (#1) also had 1 run made with settings no column shows" in page  # as the board


def test_a_worker_refuses_side_inputs_edited_after_the_sweep_started(tmp_path, ng_records):
    """STM's fit reads the covariates: a worker that loaded the file after they changed must
    not fit on the new values under the key of the old ones, even when its first trial (LDA)
    read none of them and the data is then remembered for the next."""
    from tuner.engine import worker

    records = _dated(ng_records[:60], 2000)
    corpus = write_jsonl(tmp_path / "corpus.jsonl", records)
    grid = load_grid(make_grid(tmp_path, corpus, models=["lda", "stm"],
                               dataset={**DATED, "path": str(corpus)},
                               params={"num_topics": 5, "vocab_size": 1000}))
    prepared = precompute(grid, check_inputs(grid), tmp_path / "cache", progress=False)
    lda, stm = sorted(prepared.trials, key=lambda t: t.model)
    write_jsonl(corpus, [{**r, "group": "x" if i % 5 else r["group"]}
                         for i, r in enumerate(records)])
    worker._STATE.data.clear()
    load_trial_data(lda.data)  # LDA reads no covariate: its trial may go on
    with pytest.raises(CacheError, match="covariates changed since the sweep started"):
        load_trial_data(stm.data)


def test_a_warm_worker_reads_covariates_edited_between_sweeps(tmp_path, ng_records):
    """A served sweep after the file's covariates were edited failed every STM trial ("changed
    since the sweep started; re-run it", again on each re-run) until the service restarted: its
    warm workers kept the data read for the sweep before (attacker audit of 2026-12-02)."""
    from tuner.engine import worker

    records = _dated(ng_records[:60], 2000)
    corpus = write_jsonl(tmp_path / "corpus.jsonl", records)
    grid = load_grid(make_grid(tmp_path, corpus, models=["stm"],
                               dataset={**DATED, "path": str(corpus)},
                               params={"num_topics": 5, "vocab_size": 1000}))
    before = precompute(grid, check_inputs(grid), tmp_path / "cache", progress=False).trials[0]
    worker._STATE.data.clear()
    first = load_trial_data(before.data)
    edited = [{**r, "group": "x" if i % 5 else r["group"]} for i, r in enumerate(records)]
    write_jsonl(corpus, edited)
    after = precompute(grid, check_inputs(grid), tmp_path / "cache", progress=False).trials[0]
    assert after.data.inputs["covariates"] != before.data.inputs["covariates"]
    again = load_trial_data(after.data)
    assert again.corpus.covariates["group"] == [r["group"] for r in edited]
    assert first.corpus.covariates["group"] == [r["group"] for r in records]


def test_a_stopped_sweep_stops_between_embedding_batches(tmp_path, small_corpus):
    """tuner serve's cancel (and SIGTERM) set the sweep's stop event, which was read only once
    the embeddings were done: a sweep cancelled while it embedded ran 80 s more (attacker audit
    of 2026-12-02). The sweep now asks between batches (flow passes `_raise_if_stopped`), and
    no half matrix is cached."""
    from tuner.errors import SweepInterrupted

    grid = load_grid(make_grid(tmp_path, small_corpus, models=["bertopic"],
                               params={"num_topics": 5, "vocab_size": 1000}))
    asked: list[int] = []

    def cancelled_after_two_batches() -> None:
        asked.append(1)
        if len(asked) > 2:
            raise SweepInterrupted(15)

    with pytest.raises(SweepInterrupted):
        precompute(grid, check_inputs(grid), tmp_path / "cache", progress=False,
                   between_batches=cancelled_after_two_batches)
    assert len(asked) == 3
    assert [p.name for p in (tmp_path / "cache").glob("emb-*") if p.suffix != ".lock"] == []


def test_a_stopped_sweep_stops_while_it_tokenises(tmp_path, ng_records):
    """The stop was read between embedding batches only: tokenising and co-occurrence counting
    of a large corpus ran to their end. It is read every 1,000 documents tokenised and before
    each co-occurrence chunk, and no half bag of words is cached."""
    from tests.conftest import write_jsonl
    from tuner.errors import SweepInterrupted

    records = [{**r, "id": f"{r['id']}-{copy}"} for copy in range(2) for r in ng_records][:2500]
    corpus = write_jsonl(tmp_path / "large.jsonl", records)
    grid = load_grid(make_grid(tmp_path, corpus, params={"num_topics": 5, "vocab_size": 1000}))
    asked: list[int] = []

    def cancelled_at_the_second_thousand() -> None:
        asked.append(1)
        if len(asked) == 2:
            raise SweepInterrupted(15)

    with pytest.raises(SweepInterrupted):
        precompute(grid, check_inputs(grid), tmp_path / "cache", progress=False,
                   between_batches=cancelled_at_the_second_thousand)
    assert not list((tmp_path / "cache").rglob("meta.json"))  # no bag of words was saved
    asked.clear()
    prepared = precompute(grid, check_inputs(grid), tmp_path / "cache", progress=False,
                          between_batches=lambda: asked.append(1))
    assert len(asked) >= 4  # documents 0, 1,000 and 2,000, then each co-occurrence chunk
    assert prepared.cache_events["bow[vocab_size=1000]"].startswith("computed")


def _assignments(client: MlflowClient, run_id: str, folder: Path) -> list[int]:
    path = client.download_artifacts(run_id, "assignments.csv", str(folder))
    rows = Path(path).read_text(encoding="utf-8").splitlines()[1:]
    return [int(row.rsplit(",", 1)[1]) for row in rows]


def _spec(folder: Path, corpus: Path, model: str, **overrides) -> TrialSpec:
    grid = load_grid(make_grid(folder, corpus, models=[model],
                               params={"num_topics": 5, "vocab_size": 1000}, **overrides))
    inputs = check_inputs(grid)
    bags = BagsOfWords({(1000, "en"): folder / "bow"})
    factory = TrialFactory(grid, inputs, folder, bags, {})
    return factory.make(inputs.plan[0].model, inputs.plan[0].combo, 1)


def _dated(records: list[dict], year: int) -> list[dict]:
    return [{**r, "timestamp": f"{year + i % 3}-01-01", "group": str(i % 2 + year)}
            for i, r in enumerate(records)]


DATED = {"path": "", "text_field": "text", "id_field": "id", "label_field": "label",
         "timestamp_field": "timestamp", "covariates": ["group"], "language": "en"}


@pytest.mark.parametrize(("model", "change", "fit_changes"), [
    ("lda", "labels", False), ("lda", "timestamps", False),
    ("dtm", "timestamps", True), ("stm", "covariates", True), ("stm", "labels", False)])
def test_keys_follow_the_values_a_result_depends_on(tmp_path, ng_records, model, change,
                                                    fit_changes):
    """The trial key changes whenever the values change; the fit key only when the model's fit
    reads them (DTM timestamps, STM covariates), so a new truth re-scores rather than refits."""
    records = _dated(ng_records[:60], 2000)
    before = write_jsonl(tmp_path / "a" / "corpus.jsonl", records)
    if change == "labels":
        records = _relabelled(records, shift=3)
    elif change == "timestamps":
        records = [{**r, "timestamp": "1999-06-01" if i < 20 else r["timestamp"]}
                   for i, r in enumerate(records)]
    else:
        records = [{**r, "group": "x" if i % 5 else r["group"]} for i, r in enumerate(records)]
    after = write_jsonl(tmp_path / "b" / "corpus.jsonl", records)
    one = _spec(tmp_path / "a", before, model, dataset={**DATED, "path": str(before)})
    two = _spec(tmp_path / "b", after, model, dataset={**DATED, "path": str(after)})
    assert (one.fit_key != two.fit_key) is fit_changes
    assert (one.key != two.key) is (fit_changes or change == "labels")


def test_the_order_of_stms_covariates_is_in_its_fit_key(tmp_path, ng_records):
    """The order of dataset.covariates orders STM's design columns (its bound moved in the last
    digits), but the digest sorted the fields: one order's fit was served for the other (audit
    of 2026-12-02)."""
    records = [{**r, "year": 2000 + i % 3} for i, r in enumerate(_dated(ng_records[:60], 2000))]
    corpus = write_jsonl(tmp_path / "corpus.jsonl", records)
    keys = [_spec(tmp_path / order, corpus, "stm",
                  dataset={**DATED, "path": str(corpus), "covariates": fields}).fit_key
            for order, fields in (("ab", ["group", "year"]), ("ba", ["year", "group"]))]
    assert keys[0] != keys[1]


def test_a_trial_run_that_reads_covariates_is_tagged_with_them(tmp_path, ng_records):
    """Two STM sweeps on other covariates had the same parameters in MLflow's views (new-user
    audit of 2026-12-02); a model that does not read them is not tagged."""
    from tuner.tracking.tracker import SweepHandle, trial_tags

    records = [{**r, "year": 2000 + i % 3} for i, r in enumerate(_dated(ng_records[:60], 2000))]
    corpus = write_jsonl(tmp_path / "corpus.jsonl", records)
    dataset = {**DATED, "path": str(corpus), "covariates": ["year", "group"]}
    sweep = SweepHandle("1", "run", "batch")
    stm = trial_tags(sweep, _spec(tmp_path / "stm", corpus, "stm", dataset=dataset))
    lda = trial_tags(sweep, _spec(tmp_path / "lda", corpus, "lda", dataset=dataset))
    assert (stm["tuner.covariates"], "tuner.covariates" in lda) == ("year,group", False)


def test_an_edited_ground_truth_file_changes_the_key_but_not_the_fit(tmp_path, ng_records):
    corpus = write_jsonl(tmp_path / "corpus.jsonl", ng_records[:40])
    truth = tmp_path / "truth.json"
    truth.write_text(json.dumps({"a": [r["id"] for r in ng_records[:20]],
                                 "b": [r["id"] for r in ng_records[20:40]]}), encoding="utf-8")
    one = _spec(tmp_path / "one", corpus, "lda", ground_truth=str(truth))
    truth.write_text(json.dumps({"a": [r["id"] for r in ng_records[:10]],
                                 "b": [r["id"] for r in ng_records[10:40]]}), encoding="utf-8")
    two = _spec(tmp_path / "two", corpus, "lda", ground_truth=str(truth))
    assert one.key != two.key and one.fit_key == two.fit_key


def test_the_same_clusters_listed_otherwise_are_the_same_truth(tmp_path, ng_records):
    """Clusters in another order in the truth file, or labels renamed so that they sort
    otherwise, changed every score key and the sweep's context: a re-run scored every fit
    again and the board dropped the earlier trials (trust audit of 2026-12-03)."""
    corpus = write_jsonl(tmp_path / "corpus.jsonl", ng_records[:40])
    clusters = {"a": [r["id"] for r in ng_records[:15]], "b": [r["id"] for r in ng_records[15:40]]}
    keys = []
    for name, mapping in (("ab", clusters), ("ba", dict(reversed(clusters.items()))),
                          ("renamed", {"z": clusters["a"], "y": clusters["b"]})):
        truth = tmp_path / f"{name}.json"
        truth.write_text(json.dumps(mapping), encoding="utf-8")
        keys.append(_spec(tmp_path / name, corpus, "lda", ground_truth=str(truth)).key)
    assert len(set(keys)) == 1


def test_metric_settings_change_the_key_but_not_the_fit(tmp_path, ng_records):
    corpus = write_jsonl(tmp_path / "corpus.jsonl", ng_records[::50][:40])  # labels of 2+
    one = _spec(tmp_path / "one", corpus, "lda")
    two = _spec(tmp_path / "two", corpus, "lda",
                metrics={"npmi_window": 20, "topn": 10, "diversity_topn": 25})
    assert one.key != two.key and one.fit_key == two.fit_key


def test_a_trainer_sees_only_the_side_inputs_its_fit_key_covers(small_data, prepared_small):
    lda = next(t for t in prepared_small.trials if t.model == "LDA")
    assert small_data.labels is not None
    assert fit_view(small_data, lda.data).labels is None
    assert "labels" in fit_inputs("THETA") and "covariates" in fit_inputs("STM")
    assert fit_inputs("LDA") == frozenset()
    # labels as the partition the key holds: renamed ones are the same codes (review)
    reading = dataclasses.replace(lda.data, inputs={"labels": "digest"})
    renamed = dataclasses.replace(small_data, labels=small_data.labels.max() - small_data.labels)
    seen = fit_view(small_data, reading)
    assert seen.corpus.labels is None and seen.labels is not None
    assert list(fit_view(renamed, reading).labels) == list(seen.labels)


def test_the_registry_alone_says_which_way_a_metric_is_better(tmp_path):
    from tuner.reporting.leaderboard import leaderboard

    assert higher_is_better("ari") and not higher_is_better("fit_seconds")
    with pytest.raises(MetricError, match="unknown metric 'speed'; known: npmi"):
        higher_is_better("speed")
    with pytest.raises(MetricError, match=r"unknown metric 'nmpi'; known: .*; did you mean "
                                          r"'nmi' or 'npmi'\?$"):  # fresh-clone audit of 2026-12-03
        higher_is_better("nmpi")
    tracker = MlflowTracker(sqlite_store(tmp_path / "mlflow.db"))
    experiment_id = tracker.experiment_id("speed")
    with pytest.raises(TunerError, match=r"experiment 'Speed': not found in .*; check the name "
                                         r"and --tracking-uri; did you mean 'speed'\?$"):
        tracker.finished_trials("Speed")
    for k, name, seconds in [(5, "slow", 9.0), (6, "fast", 1.0), (7, "middle", 4.0)]:
        run = tracker.client.create_run(experiment_id, run_name=name,
                                        tags={"tuner.role": "trial", "tuner.model": "LDA"})
        tracker.client.log_param(run.info.run_id, "num_topics", str(k))
        tracker.client.log_metric(run.info.run_id, "fit_seconds", seconds)
        tracker.client.set_terminated(run.info.run_id, "FINISHED")
    ranked = leaderboard(tracker, "speed", "fit_seconds")
    assert [e.best_trial("fit_seconds").run_name for e in ranked] == ["fast", "middle", "slow"]


def _records(prepared, count: int) -> list[TrialRecord]:
    return [TrialRecord(spec, TrialStatus.COMPLETE, {"npmi": 0.1 * i}, [["w"]], [0.1], [0])
            for i, spec in enumerate(prepared.trials[:count])]


def test_journal_replay_keeps_what_the_store_refuses_and_sets_torn_lines_aside(
        tmp_path, prepared_small):
    journal = Journal(tmp_path / "journal" / "1.jsonl")
    first, second = _records(prepared_small, 2)
    journal.append("run-1", first)
    with journal.path.open("a", encoding="utf-8") as handle:
        handle.write('{"run_id": "run-x", "record": {"spec": \n')  # a torn write
    journal.append("run-2", second)
    logged = []

    def write(run_id: str, record: TrialRecord) -> None:
        if run_id == "run-2":
            raise ConnectionError("store down")
        logged.append(run_id)

    assert journal.replay(write) == 1
    assert logged == ["run-1"]
    kept = [json.loads(line)["run_id"] for line in journal.path.read_text().splitlines()]
    assert kept == ["run-2"]
    assert '"run-x"' in journal.torn_path.read_text()
    assert journal.replay(lambda run_id, record: logged.append(run_id)) == 1
    assert logged == ["run-1", "run-2"] and not journal.path.exists()


def test_a_journal_line_with_a_bad_byte_or_a_changed_value_is_set_aside(tmp_path,
                                                                         prepared_small):
    """One undecodable byte stopped every replay, and the experiment with it; a digit changed
    in a result (ARI 0.276 to 0.976) was replayed as the result (audit of 2026-12-01)."""
    journal = Journal(tmp_path / "journal" / "1.jsonl")
    first, second = _records(prepared_small, 2)
    third = dataclasses.replace(second, metrics={"npmi": 0.2})
    journal.append("run-1", first)
    with journal.path.open("ab") as handle:
        handle.write(b'{"run_id": "run-x\xff"}\n')
    journal.append("run-2", second)
    journal.append("run-3", third)
    lines = journal.path.read_text(encoding="utf-8", errors="replace").splitlines()
    changed = lines[-1].replace('"npmi": 0.2', '"npmi": 0.9')
    assert changed != lines[-1]
    journal.path.write_bytes(journal.path.read_bytes().replace(
        lines[-1].encode(), changed.encode()))
    logged: list[str] = []
    assert journal.replay(lambda run_id, record: logged.append(run_id)) == 2
    assert logged == ["run-1", "run-2"] and not journal.path.exists()
    torn = journal.torn_path.read_bytes()
    assert b"run-x\xff" in torn and b'"npmi": 0.9' in torn


def _lda_sweep(folder: Path, corpus: Path, experiment: str):
    grid = load_grid(make_grid(folder, corpus, experiment=experiment,
                               params={"num_topics": [5, 6, 7], "vocab_size": 1000,
                                       "lda.max_iter": 10}))
    return precompute(grid, check_inputs(grid), folder / "cache", progress=False)


class FlakyTracker(MemoryTracker):
    """An in-memory store whose `failing`-th `start_trial` fails, after holding the caller for
    `stall_s` seconds, as a store outage (or a SQLite store locked by another process) does."""

    def __init__(self, failing: int = 2, stall_s: float = 0.0) -> None:
        super().__init__()
        self.starts, self.failing, self.stall_s = 0, failing, stall_s

    def start_trial(self, sweep, spec):  # type: ignore[no-untyped-def]
        self.starts += 1
        if self.starts == self.failing:
            time.sleep(self.stall_s)
            raise ConnectionError("tracking store unreachable")
        return super().start_trial(sweep, spec)


class ReadOnlyTracker(MemoryTracker):
    """A store that refuses the sweep's run as MLflow's SQLAlchemy store does a read-only
    SQLite file: its error wraps sqlite3's."""

    def start_sweep(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        import sqlite3

        from mlflow.exceptions import MlflowException

        try:
            raise sqlite3.OperationalError("attempt to write a readonly database")
        except sqlite3.OperationalError as err:
            raise MlflowException("(raised as a result of Query-invoked autoflush; consider "
                                  "using a session.no_autoflush block)") from err


def test_a_store_that_cannot_open_the_sweep_says_why_and_that_no_trial_started(
        tmp_path, small_corpus):
    """Exit 4, "after trials had started", with SQLAlchemy's first line, for a read-only store
    (ops audit of 2026-12-03)."""
    from tuner.cli import exit_code
    from tuner.errors import SweepNotStartedError

    prepared = _lda_sweep(tmp_path, small_corpus, "read-only")
    with pytest.raises(SweepNotStartedError) as refused:
        run_sweep(prepared, ReadOnlyTracker(), lambda: make_executor("process", 1), 1)
    assert "so no trial started: OperationalError: attempt to write a readonly database" in \
        str(refused.value)
    assert exit_code(refused.value) == 2


def test_a_store_error_on_submit_loses_no_finished_trial(tmp_path, small_corpus):
    prepared = _lda_sweep(tmp_path, small_corpus, "flaky")
    tracker = FlakyTracker()
    tempfile.tempdir = str(tmp_path)  # the sweep's in-flight folder lands here
    try:
        with pytest.raises(ConnectionError):
            run_sweep(prepared, tracker, lambda: make_executor("process", 1), 1)
    finally:
        tempfile.tempdir = None
    finished = [r for r in tracker.trial_runs("flaky") if r.status == "FINISHED"]
    assert len(finished) == 1 and "npmi" in finished[0].metrics
    assert not list(tmp_path.glob("tuner-inflight-*"))


def test_a_trial_that_finishes_while_the_store_holds_the_parent_is_kept(tmp_path,
                                                                       small_corpus):
    """The second trial finished while the parent waited on the store; it ended KILLED with
    its result dropped (audit of 2026-12-01)."""
    prepared = _lda_sweep(tmp_path, small_corpus, "stalled")
    tracker = FlakyTracker(failing=3, stall_s=8)
    with pytest.raises(ConnectionError):
        run_sweep(prepared, tracker, lambda: make_executor("process", 2), 2)
    statuses = sorted(r.status for r in tracker.trial_runs("stalled"))
    assert statuses == ["FINISHED", "FINISHED"]


def test_sweep_ends_its_parent_run_once_and_removes_its_in_flight_folder(tmp_path,
                                                                        small_corpus):
    prepared = _lda_sweep(tmp_path, small_corpus, "once")
    tracker = MemoryTracker()  # raises if a sweep run is ended twice
    tempfile.tempdir = str(tmp_path)
    try:
        result = run_sweep(prepared, tracker, lambda: make_executor("process", 1), 1)
    finally:
        tempfile.tempdir = None
    assert result.completed == 3
    assert tracker.runs[result.sweep.run_id].status == "FINISHED"
    assert not list(tmp_path.glob("tuner-inflight-*"))


def _pid(_: int) -> int:
    return os.getpid()


def _environment(name: str) -> str | None:
    return os.environ.get(name)


class _WritesAtTeardown:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __del__(self) -> None:
        self.path.write_text("torn down")


def _say_goodbye_at_exit(folder: str) -> int:
    import atexit

    atexit.register((Path(folder) / "handler").write_text, "bye")
    sys.modules["_teardown_witness"] = _WritesAtTeardown(Path(folder) / "teardown")  # type: ignore[assignment]
    return os.getpid()


def test_pool_workers_skip_teardown_but_run_later_exit_handlers(tmp_path):
    """Workers leave with os._exit after the exit handlers that libraries registered after the
    worker started (torch's, numba's): those still run, the interpreter is not torn down (no
    module is unloaded), and the exit code stays 0."""
    executor = make_executor("process", 1)
    assert executor.submit(_say_goodbye_at_exit, str(tmp_path)).result(timeout=120) > 0
    processes = list(executor._processes.values())  # type: ignore[attr-defined]
    executor.shutdown(wait=True)
    assert (tmp_path / "handler").read_text() == "bye"
    assert not (tmp_path / "teardown").exists()
    assert [p.exitcode for p in processes] == [0]


def test_killing_a_pool_spares_another_pool_of_the_same_process():
    context = multiprocessing.get_context("spawn")
    first = ProcessPoolExecutor(1, mp_context=context)
    second = ProcessPoolExecutor(1, mp_context=context)
    try:
        first.submit(_pid, 0).result(timeout=120)
        survivor = second.submit(_pid, 0).result(timeout=120)
        kill_workers(first)
        assert second.submit(_pid, 1).result(timeout=120) == survivor
    finally:
        first.shutdown(wait=False, cancel_futures=True)
        second.shutdown(wait=True)


def test_thread_limits_leave_the_parent_environment_alone(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    executor = make_executor("process", 2)
    try:
        threads = executor.submit(_environment, "OMP_NUM_THREADS").result(timeout=120)
        assert threads == str(threads_per_worker(2))
    finally:
        executor.shutdown()
    assert "OMP_NUM_THREADS" not in os.environ


def test_threads_per_worker_overrides_the_cores_shared_out():
    """`--threads-per-worker`: the worker gets the threads it is told, not the cores shared out."""
    executor = make_executor("process", 1, threads=3)
    try:
        assert executor.submit(_environment, "OMP_NUM_THREADS").result(timeout=120) == "3"
    finally:
        executor.shutdown()


def test_a_truncated_cooccurrence_file_is_recomputed(small_data, tmp_path):
    cache = CooccurrenceCache(BowCache(tmp_path))
    counts = cache.get_or_compute(small_data.bow, 10)
    path = tmp_path / "bow" / small_data.bow.key / "cooc-gensim-w10.npz"
    path.write_bytes(path.read_bytes()[:200])
    again = cache.get_or_compute(small_data.bow, 10)
    assert again.n_windows == counts.n_windows
    assert (again.pairs != counts.pairs).nnz == 0


def test_cache_files_honour_the_umask(tmp_path):
    previous = os.umask(0o002)
    try:
        write_atomic(tmp_path / "shared.bin", lambda temp: temp.write_bytes(b"x"))
    finally:
        os.umask(previous)
    assert (tmp_path / "shared.bin").stat().st_mode & 0o777 == 0o664


def test_watchdog_removes_its_folder():
    watchdog = Watchdog(Limits())
    assert watchdog.started_dir.is_dir()
    watchdog.close()
    assert not watchdog.started_dir.exists()


def test_a_killed_sweeps_marker_folder_is_removed_by_the_next_sweep():
    """A sweep killed with SIGKILL never closes its watchdog; its folder stayed for ever."""
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    orphan = Path(tempfile.mkdtemp(prefix=f"tuner-inflight-{gone.stdout.strip()}-"))
    (orphan / "a-trial-key").write_text("1 2", encoding="ascii")
    living = Path(tempfile.mkdtemp(prefix=f"tuner-inflight-{os.getppid()}-"))
    watchdog = Watchdog(Limits())
    try:
        assert not orphan.exists()
        assert living.is_dir()  # its sweep may still run
        assert watchdog.started_dir.name.startswith(f"tuner-inflight-{os.getpid()}-")
    finally:
        watchdog.close()
        living.rmdir()


def test_runs_of_a_sweep_still_alive_on_this_host_are_not_marked_stale(tmp_path, caplog):
    """A sweep this lock cannot see (another store path spelling, another cache) may still run:
    its runs stay RUNNING while its process lives, and become stale once it is gone."""
    tracker = MlflowTracker(sqlite_store(tmp_path / "mlflow.db"))
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        other = tracker.start_sweep("shared", {}, {})
        tracker.set_tags(other.run_id, {"tuner.pid": str(alive.pid),
                                        "tuner.host": socket.gethostname(),
                                        "tuner.started": str(process_started(alive.pid))})
        trial = tracker.client.create_run(other.experiment_id, tags={
            "mlflow.parentRunId": other.run_id, "tuner.role": "trial"})
        mine = tracker.start_sweep("shared", {}, {})
        assert tracker.fail_stale_runs(mine) == 0
    finally:
        alive.kill()
        alive.wait()
    with caplog.at_level("WARNING"):
        assert tracker.fail_stale_runs(mine) == 2  # the dead sweep's run and its trial
    assert tracker.client.get_run(trial.info.run_id).info.status == "FAILED"
    assert "marked 2 runs FAILED (tag tuner.stale)" in caplog.text  # said (ops audit)


@pytest.mark.skipif(process_started(os.getpid()) is None,
                    reason="a process's start is read from Linux's /proc; elsewhere the pid alone")
def test_a_dead_sweeps_pid_held_by_another_process_does_not_keep_its_runs(tmp_path):
    """A killed sweep's pid given to another process (after a reboot, or once pids wrap) kept
    its runs RUNNING for good: the pid alone said it was alive (audit of 2026-12-01)."""
    tracker = MlflowTracker(sqlite_store(tmp_path / "mlflow.db"))
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead = tracker.start_sweep("reused", {}, {})  # noted as started by this process
        tracker.set_tags(dead.run_id, {"tuner.pid": str(stranger.pid)})  # its pid, reused
        mine = tracker.start_sweep("reused", {}, {})
        assert tracker.fail_stale_runs(mine) == 1
        assert tracker.client.get_run(dead.run_id).data.tags["tuner.stale"] == "true"
    finally:
        stranger.kill()
        stranger.wait()


def test_the_journal_lives_beside_the_cache_not_the_working_directory(tmp_path, monkeypatch):
    from tuner.flow import journal_dir

    monkeypatch.chdir(tmp_path)
    assert journal_dir(Path("cache")) == tmp_path / "cache" / "journal"
    tracker = MlflowTracker(sqlite_store(tmp_path / "store" / "mlflow.db"))
    assert tracker.journal_dir == tmp_path / "store" / "journal"


def test_stored_fits_shorter_than_the_scoring_needs_are_refitted(prepared_small):
    tracker = MemoryTracker()
    spec = prepared_small.trials[0]
    sweep = tracker.start_sweep("short", {}, {})
    run_id = tracker.start_trial(sweep, spec)
    tracker.finish_trial(sweep, run_id, TrialRecord(spec, TrialStatus.COMPLETE, {}, [["w"]],
                                                    [0.0], [0]))
    assert tracker.stored_fit(run_id, spec.metrics.words_needed) is not None
    longer = dataclasses.replace(spec.metrics, diversity_topn=spec.metrics.diversity_topn + 5)
    assert tracker.stored_fit(run_id, longer.words_needed) is None


def test_a_rescored_run_carries_its_fits_extras(tmp_path, prepared_small):
    """What a model reports beside its metrics (extras.json) belongs to the fit, so the run that
    re-scores the fit under a new truth logs it too."""
    tracker = MlflowTracker(sqlite_store(tmp_path / "mlflow.db"))
    spec = prepared_small.trials[0]
    sweep = tracker.start_sweep("extras", {}, {}, prepared_small.inputs.corpus.ids)
    run_id = tracker.start_trial(sweep, spec)
    n_docs = len(prepared_small.inputs.corpus.ids)
    vocab, top = load_trial_data(spec.data).bow.vocab, spec.metrics.words_needed
    topics = [vocab[:top], vocab[top:2 * top]]
    extras = {"word2vec_cache": "hit", "topic_sizes": [n_docs - 1, 1]}
    tracker.finish_trial(sweep, run_id, TrialRecord(
        spec, TrialStatus.COMPLETE, {"fit_seconds": 1.5}, topics, [0.0, 0.0],
        [0] * (n_docs - 1) + [1], extras=extras))
    stored = tracker.stored_fit(run_id, spec.metrics.words_needed)
    assert stored is not None and stored.extras == extras
    record = rescore_trial(spec, stored)
    assert record.status is TrialStatus.COMPLETE and record.extras == extras


def test_a_fit_rescored_at_fewer_words_keeps_as_many_as_a_new_fit_would(prepared_small):
    """A fit stored with more ranked words than the new metric settings read is re-scored at
    the new count: its topics and DTM's per-slice topics are cut to it, as a fit's are."""
    from tuner.trial import StoredFit

    spec = prepared_small.trials[0]
    vocab, top = load_trial_data(spec.data).bow.vocab, spec.metrics.words_needed
    n_docs = len(prepared_small.inputs.corpus.ids)
    longer = [vocab[:top + 5], vocab[top + 5:2 * top + 10]]
    stored = StoredFit("run", longer, [0, 1] * (n_docs // 2) + [0] * (n_docs % 2), {},
                       {"slice_top_words": {"1999": longer, "2000": longer,
                                            "odd": [None, {"a": 1}]}, "num_slices": 2})
    record = rescore_trial(spec, stored)
    assert record.status is TrialStatus.COMPLETE, record.error
    assert [len(words) for words in record.topic_words] == [top, top]
    slices = record.extras["slice_top_words"]
    assert {label: [len(w) for w in slices[label]] for label in ("1999", "2000")} == \
        {"1999": [top, top], "2000": [top, top]}
    assert slices["odd"] == [None, {"a": 1}]  # another shape is carried, never a failure
    assert record.extras["num_slices"] == 2


def test_a_warm_worker_loads_the_fields_each_sweep_names(tmp_path, ng_records):
    """tuner serve keeps its workers across sweeps: one that loaded a file for a sweep without
    covariates served the same file to a later STM sweep with none (review of 2026-12-01)."""
    from tuner.engine import worker

    corpus = write_jsonl(tmp_path / "corpus.jsonl", _dated(ng_records[:60], 2000))
    plain = {**DATED, "path": str(corpus), "timestamp_field": None, "covariates": []}
    specs = []
    for name, models, dataset in (("a", ["lda"], plain),
                                  ("b", ["stm"], {**DATED, "path": str(corpus)})):
        grid = load_grid(make_grid(tmp_path / name, corpus, models=models, dataset=dataset,
                                   params={"num_topics": 5, "vocab_size": 1000}))
        specs += precompute(grid, check_inputs(grid), tmp_path / "cache", progress=False).trials
    worker._STATE.data.clear()
    assert load_trial_data(specs[0].data).corpus.covariates == {}
    assert set(load_trial_data(specs[1].data).corpus.covariates) == {"group"}


def test_a_single_topic_fit_is_scored_without_the_metric_it_has_no_value_for(prepared_small):
    """A fit that collapsed to one topic gets every score but inverted_rbo, which needs two
    topics, and says so in its extras; its MetricError used to fail the trial (audit of
    2026-12-01), which dropped the worst configurations from the rankings instead of ranking
    them low."""
    from tuner.trial import StoredFit

    spec = prepared_small.trials[0]
    vocab, top = load_trial_data(spec.data).bow.vocab, spec.metrics.words_needed
    n_docs = len(prepared_small.inputs.corpus.ids)
    stored = StoredFit("run", [vocab[:top]], [0] * n_docs, {}, {"topic_sizes": [n_docs]})
    record = rescore_trial(spec, stored)
    assert record.status is TrialStatus.COMPLETE, record.error
    assert "inverted_rbo" not in record.metrics and "npmi" in record.metrics
    assert record.extras == {"topic_sizes": [n_docs], "metrics_not_computed": {
        "inverted_rbo": "inverted_rbo: needs at least 2 topics; got 1"}}


def test_a_cache_folder_that_cannot_be_written_is_named_not_a_traceback(tmp_path, small_corpus):
    """A read-only cache folder gave a PermissionError traceback and exit 1 (audit of
    2026-12-01): tuner writes lock files there even on a warm cache."""
    cache = tmp_path / "cache"
    cache.mkdir()
    grid = make_grid(tmp_path, small_corpus, models=["lda"],
                     params={"num_topics": 5, "vocab_size": 1000, "lda.max_iter": 10})
    read_only(cache, True)
    try:
        done = subprocess.run([sys.executable, "-m", "tuner.cli", "run", str(grid),
                               "--cache-dir", str(cache), "--tracking-uri",
                               f"sqlite:///{tmp_path / 'mlflow.db'}", "--quiet"],
                              cwd=REPO, capture_output=True, text=True, timeout=300)
    finally:
        read_only(cache, False)
    assert done.returncode == 2, done.stderr
    assert f"error: {cache}/bow: the cache folder cannot be written" in done.stderr
    assert "Traceback" not in done.stderr


def read_only(folder: Path, on: bool) -> None:
    """Make `folder` unwritable for this process: root ignores file modes, so as root the
    immutable attribute (ext4, xfs, btrfs)."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i" if on else "-i", str(folder)], check=True)
    else:
        folder.chmod(0o555 if on else 0o755)


@contextmanager
def read_only_mount(folder: Path) -> Iterator[str]:
    """`folder` on a read-only file system (EROFS, as a `:ro` volume) where this machine lets
    the tests mount, else unwritable as read_only makes it; yields which."""
    mounted = os.geteuid() == 0 and subprocess.run(
        ["mount", "--bind", str(folder), str(folder)], capture_output=True).returncode == 0
    if mounted and subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)],
                                  capture_output=True).returncode != 0:
        subprocess.run(["umount", str(folder)], check=True)
        mounted = False
    if not mounted:
        read_only(folder, True)
    try:
        yield "mount" if mounted else "attribute"
    finally:
        if mounted:
            subprocess.run(["umount", str(folder)], check=True)
        else:
            read_only(folder, False)


@pytest.mark.parametrize("folder", ["cache", "store"])
def test_a_read_only_file_system_is_named_not_a_traceback(tmp_path, small_corpus, folder):
    """A read-only mount raises EROFS, a plain OSError past the PermissionError guard: the
    cache gave a traceback and exit 1, a store folder exit 3, "another sweep runs", and so never
    ran again (audit of 2026-12-01)."""
    cache, store = tmp_path / "cache", tmp_path / "store"
    cache.mkdir()
    store.mkdir()
    grid = make_grid(tmp_path, small_corpus, models=["lda"],
                     params={"num_topics": 5, "vocab_size": 1000, "lda.max_iter": 10})
    command = [sys.executable, "-m", "tuner.cli", "run", str(grid), "--cache-dir", str(cache),
               "--tracking-uri", f"sqlite:///{store / 'mlflow.db'}", "--quiet"]
    if folder == "store":  # a store that exists, in a folder that cannot be written
        MlflowTracker(f"sqlite:///{store / 'mlflow.db'}").experiment_id("test")
    with read_only_mount(cache if folder == "cache" else store):
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    expected = f"error: {cache}/bow: the cache folder cannot be written" if folder == "cache" \
        else f"{store}/.locks: the lock of experiment 'test' cannot be written there"
    assert expected in done.stderr


OPEN_AT_ONCE = """
import sys, time
from tuner.tracking.tracker import MlflowTracker
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
MlflowTracker(sys.argv[1]).experiment_id("experiment-" + sys.argv[3])
"""


def test_commands_that_open_one_new_store_at_once_take_turns(tmp_path):
    """Two sweeps (other experiments) starting together on a new SQLite store both created its
    tables: one died in MLflow's migration (audit of 2026-12-01; 8 of 9 processes failed in
    three rounds of three before the lock)."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    start = time.time() + 8  # after every interpreter has imported MLflow
    processes = [subprocess.Popen([sys.executable, "-c", OPEN_AT_ONCE, uri, str(start), str(i)],
                                  cwd=REPO, stderr=subprocess.PIPE, text=True)
                 for i in range(3)]
    errors = [process.communicate(timeout=120)[1] for process in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], errors
    names = {e.name for e in MlflowClient(tracking_uri=uri).search_experiments()}
    assert {"experiment-0", "experiment-1", "experiment-2"} <= names


def test_a_signal_while_the_sweep_run_opens_ends_it_killed(tmp_path, small_corpus):
    """SIGTERM as the sweep started (after "4 trials, 2 workers") left its run RUNNING in 2 of
    3 tries: it came inside start_sweep, after the run was made and before its handle was
    returned (trust audit of 2026-12-04). Held there, it arrives where the run is ended."""
    import signal

    from tuner.cli import Terminated, _terminate
    from tuner.tracking.tracker import MlflowTracker

    class SignalledAsItOpens(MlflowTracker):
        def start_sweep(self, *args, **kwargs):
            handle = super().start_sweep(*args, **kwargs)
            os.kill(os.getpid(), signal.SIGTERM)  # at once, unless held
            time.sleep(0.2)
            self.opened = handle
            return handle

    prepared = _lda_sweep(tmp_path, small_corpus, "signalled")
    store = sqlite_store(tmp_path / "mlflow.db")
    tracker = SignalledAsItOpens(store)
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        with pytest.raises(Terminated):
            run_sweep(prepared, tracker, lambda: make_executor("process", 1), 1)
    finally:
        signal.signal(signal.SIGTERM, previous)
    run = MlflowClient(store).get_run(tracker.opened.run_id)
    assert run.info.status == "KILLED"


def test_fits_too_short_to_re_score_are_said_to_be_fitted_again(tmp_path, small_corpus,
                                                                 capsys):
    """A larger diversity_topn than the stored fits kept refitted every trial with no word of
    why, where a smaller one re-scored them (trust audit of 2026-12-04)."""
    from tuner.cli import main

    store = sqlite_store(tmp_path / "mlflow.db")
    params = {"num_topics": [5, 6], "vocab_size": 1000, "lda.max_iter": 10}
    for topn, said in ((25, "2 completed, 0 failed"),
                       (30, "2 completed (2 fitted again: their stored fits kept fewer words "
                            "per topic than the metrics now read")):
        grid = make_grid(tmp_path / str(topn), small_corpus, experiment="short", params=params,
                         metrics={"npmi_window": 10, "topn": 10, "diversity_topn": topn})
        assert main(["run", str(grid), "--tracking-uri", store, "--cache-dir",
                     str(tmp_path / "cache"), "--max-workers", "1", "--quiet"]) == 0
        assert said in capsys.readouterr().out


def test_a_second_signal_while_the_sweep_run_opens_leaves_at_once(tmp_path, small_corpus):
    """Held signals gave no way out of a store that hangs as the run opens: the second one
    leaves at once, and the handlers are back (review of 2026-12-04)."""
    import signal

    from tuner.tracking.tracker import MlflowTracker

    class Hanging(MlflowTracker):
        def start_sweep(self, *args, **kwargs):
            super().start_sweep(*args, **kwargs)
            for _ in range(2):
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.2)
            raise AssertionError("the second SIGINT did not interrupt the hanging store")

    prepared = _lda_sweep(tmp_path, small_corpus, "hanging")
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(prepared, Hanging(sqlite_store(tmp_path / "mlflow.db")),
                  lambda: make_executor("process", 1), 1)
    assert signal.getsignal(signal.SIGINT) is before


def test_a_trial_two_sweeps_both_finished_counts_as_one_seed(tmp_path):
    """Two machines' sweeps of one experiment against one tracking server each ran the same
    trials (their experiment locks are per machine), and each trial's two FINISHED runs counted
    as two seeds of its configuration (concurrency audit of 2026-12-05)."""
    from trainers import trainer_revision
    from tuner import trial as t
    from tuner.reporting.leaderboard import leaderboard

    tracker = MlflowTracker(sqlite_store(tmp_path / "mlflow.db"))
    data = t.DataRef("c.jsonl", "sha", "en", "bow", None, None, None, "label", context="ctx")
    spec = t.TrialSpec("LDA", {"num_topics": 5}, 42, data, t.MetricSettings(), "twice", "key-42",
                       revision=trainer_revision("LDA"), fit_key="fit-42", config_key="k5")
    for ari in (0.30, 0.30):  # the same trial finished by each sweep
        sweep = tracker.start_sweep("twice", {"tuner.context": "ctx"}, {})
        record = t.TrialRecord(spec, t.TrialStatus.COMPLETE, {"ari": ari, "npmi": 0.1},
                               [["a", "b"]], [0.1], [0])
        tracker.finish_trial(sweep, tracker.start_trial(sweep, spec), record)
    [row] = leaderboard(tracker, "twice", "ari")
    assert row.seeds == 1 and row.seeds_of("ari") == "1"
