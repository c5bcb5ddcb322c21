"""Which trial starts next, and what becomes of the trials in flight at a pool break: plain data
in, decisions out."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import replace
from typing import Any

from tuner.engine.runner import SweepResult, _Loop
from tuner.engine.scheduler import ListSource, Scheduler
from tuner.engine.triage import InFlight, triage_break
from tuner.engine.watchdog import Limits, Watchdog
from tuner.tracking.memory import MemoryTracker
from tuner.trial import DataRef, MetricSettings, TrialError, TrialRecord, TrialSpec, TrialStatus

DATA = DataRef("corpus.jsonl", "sha", "en", "bow/v1000", None, None, None, "label")


def spec(key: str, epochs: int = 1) -> TrialSpec:
    return TrialSpec("LDA", {"max_iter": epochs}, 1, DATA, MetricSettings(), "exp", key,
                     fit_key=f"fit-{key}")


def flying(key: str, record: TrialRecord | None = None) -> InFlight:
    return InFlight(spec(key), f"run-{key}", record)


KILLED = TrialError("TrialTimeout", "timeout: still running after 5 s", "")


def test_a_trial_that_finished_before_the_break_keeps_its_result():
    done = TrialRecord(spec("a"), TrialStatus.COMPLETE, {"npmi": 0.1})
    triage = triage_break([flying("a", done), flying("b")], {}, set())
    assert [(t.spec.key, r) for t, r in triage.records] == [("a", done)]
    assert [t.spec.key for t in triage.retries] == ["b"]


def test_a_trial_the_parent_fails_says_the_threads_its_key_holds():
    """A neural or STM fit's key holds its thread count on a CPU; a killed trial's run was
    logged without `tuner.threads` (the parent builds its record, not the worker)."""
    neural = replace(spec("a"), code={"threads": "2", "device": "cpu"})
    triage = triage_break([InFlight(neural, "run-a"), flying("b")],
                          {"a": KILLED, "b": KILLED}, set())
    assert sorted((t.spec.key, r.threads) for t, r in triage.records) == [("a", 2), ("b", 0)]


def test_a_killed_trial_fails_with_our_reason_and_the_others_are_not_suspected():
    triage = triage_break([flying("a"), flying("b")], {"a": KILLED}, set())
    assert [(t.spec.key, r.status, r.error) for t, r in triage.records] == \
        [("a", TrialStatus.FAILED, KILLED)]
    assert [t.spec.key for t in triage.retries] == ["b"]
    assert triage.suspects == set()


def test_an_unexplained_death_makes_every_trial_in_flight_a_suspect():
    triage = triage_break([flying("a"), flying("b")], {}, set())
    assert triage.records == []
    assert {t.spec.key for t in triage.retries} == {"a", "b"} == triage.suspects


def test_a_suspect_that_dies_alone_is_failed_as_the_cause():
    triage = triage_break([flying("a")], {}, {"a"})
    assert [(t.spec.key, r.error.type) for t, r in triage.records] == [("a", "WorkerDied")]
    assert triage.retries == []


def test_a_first_death_alone_is_retried_once():
    triage = triage_break([flying("a")], {}, set())
    assert [t.spec.key for t in triage.retries] == ["a"] and triage.suspects == {"a"}


def test_the_scheduler_runs_a_suspect_alone():
    scheduler = Scheduler(ListSource([spec("a"), spec("b")]), done={})
    scheduler.requeue([spec("s")], suspects=["s"])
    assert scheduler.next_task(["a"]) is None  # the suspect is next: wait for the pool to empty
    task = scheduler.next_task([])
    assert task is not None and task.spec.key == "s"
    assert scheduler.next_task(["s"]) is None  # nothing joins a suspect in flight


def test_the_scheduler_skips_finished_trials_and_rescoring_needs_a_stored_fit():
    stored = {}

    def load(run_id: str, words: int):  # the tracker's stored_fit, read back
        stored[run_id] = words
        return None

    scheduler = Scheduler(ListSource([spec("a", 9), spec("b", 5), spec("c", 1)]),
                          done={"b": {"npmi": 0.2}}, fitted={"fit-c": "run-c"}, load_fit=load)
    first, second = scheduler.next_task([]), scheduler.next_task([])
    assert first is not None and second is not None
    assert (first.spec.key, second.spec.key) == ("a", "c")  # longest first, "b" is done
    assert scheduler.skipped == 1
    assert stored == {"run-c": MetricSettings().words_needed} and second.stored is None
    assert scheduler.next_task([]) is None and not scheduler.has_work()


def of_model(model: str, key: str, budget: int, **params: int) -> TrialSpec:
    budget_param = "epochs" if model == "ProdLDA" else "max_iter"
    return TrialSpec(model, {budget_param: budget, "num_topics": 20, **params}, 1, DATA,
                     MetricSettings(), "exp", key)


def keys(source: ListSource, *running: list[str]) -> list[str]:
    """The keys `source` hands out, asked with each set of running models in turn."""
    picked = [source.next(beside) for beside in running]
    assert all(picked)
    return [trial.key for trial in picked if trial is not None]


def test_a_trial_starts_beside_other_models_unless_theirs_are_much_shorter():
    # expected costs: LDA 200 iterations 7000, ProdLDA 8 epochs 6818, 2 epochs 1705
    source = ListSource([of_model("ProdLDA", "p8", 8), of_model("ProdLDA", "p2", 2),
                         of_model("LDA", "l1", 200), of_model("LDA", "l2", 200)])
    assert keys(source, [], ["LDA"], ["ProdLDA"], ["LDA"]) == ["l1", "p8", "l2", "p2"]
    source = ListSource([of_model("ProdLDA", "p2", 2), of_model("LDA", "l1", 200),
                         of_model("LDA", "l2", 200)])
    assert keys(source, [], ["LDA"]) == ["l1", "l2"]  # p2 is under half of l2's cost


def test_a_trial_at_exactly_the_mixing_share_starts_beside_the_longer_model():
    source = ListSource([of_model("LDA", "l1", 20, num_topics=98),  # 20 x (15 + 98) = 2260
                         of_model("ProdLDA", "p2", 2, vocab_size=2000)])  # 2 x 565 = 1130
    assert keys(source, ["LDA"], []) == ["p2", "l1"]


def test_with_every_model_running_the_longest_trial_goes_first():
    source = ListSource([of_model("ProdLDA", "p6", 6), of_model("LDA", "l1", 200)])
    assert keys(source, ["LDA", "ProdLDA"], []) == ["l1", "p6"]


def test_the_scheduler_tells_the_source_which_models_are_running():
    scheduler = Scheduler(ListSource([of_model("LDA", "l1", 200), of_model("LDA", "l2", 200),
                                      of_model("ProdLDA", "p8", 8)]), done={})
    first = scheduler.next_task([])
    second = scheduler.next_task(["l1"], beside=["LDA"])
    assert first is not None and second is not None
    assert (first.spec.key, second.spec.key) == ("l1", "p8")


def test_a_shared_step_runs_once_while_its_trials_wait_and_others_go_ahead():
    from tuner.data.inputs import SharedStep

    umap = SharedStep("umap", {"n_neighbors": 15})
    needs = {"a": [umap], "b": [umap], "c": []}
    scheduler = Scheduler(ListSource([spec("a", 9), spec("b", 8), spec("c", 1)]), done={},
                          steps_of=lambda s: needs[s.key])
    first = scheduler.next_task([])
    assert first is not None and first.step == umap and first.spec.key == "a"
    second = scheduler.next_task([])  # "b" waits for the step in flight; "c" needs nothing
    assert second is not None and second.spec.key == "c" and second.step is None
    assert scheduler.next_task(["c"]) is None and scheduler.has_work()
    scheduler.step_finished(first.step_id)
    released = [scheduler.next_task([]), scheduler.next_task([])]
    assert [(t.spec.key, t.step) for t in released if t] == [("a", None), ("b", None)]
    assert scheduler.steps_run == 1 and not scheduler.has_work()


def test_a_break_with_a_known_cause_elsewhere_makes_no_suspect():
    """A shared step killed for its limits broke the pool: the trials beside it are retried
    as they were, not suspected."""
    triage = triage_break([flying("a"), flying("b")], {}, set(), explained=True)
    assert {t.spec.key for t in triage.retries} == {"a", "b"} and triage.suspects == set()


class HeldPool(Executor):
    """A pool that starts nothing: it records what it was given and leaves each future pending."""

    def __init__(self) -> None:
        self.given: list[TrialSpec] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.given.append(args[0])
        return Future()


def test_the_runner_fills_its_workers_with_trials_of_different_models():
    tracker = MemoryTracker()
    sweep = tracker.start_sweep("exp", {}, {})
    scheduler = Scheduler(ListSource([of_model("LDA", "l1", 200), of_model("LDA", "l2", 200),
                                      of_model("ProdLDA", "p8", 8)]), done={})
    watchdog = Watchdog(Limits())
    try:
        loop = _Loop(tracker, sweep, SweepResult(sweep), None, scheduler, watchdog, 2)
        pool = HeldPool()
        assert loop._fill(pool)
    finally:
        watchdog.close()
    assert [spec.key for spec in pool.given] == ["l1", "p8"]
    assert loop.running_models() == {"LDA", "ProdLDA"}


def test_a_trial_whose_peak_memory_passed_the_limit_fails_however_briefly():
    """The watchdog samples memory; a trial that ended between two samples passed any limit."""
    watchdog = Watchdog(Limits(max_memory_mb=1000))
    try:
        over = TrialRecord(spec("a"), TrialStatus.COMPLETE, {"npmi": 0.1, "peak_memory_mb": 1500},
                           worker="host:7", threads=2)
        under = TrialRecord(spec("b"), TrialStatus.COMPLETE, {"npmi": 0.1, "peak_memory_mb": 900})
        held = watchdog.held_to_limits(over)
        assert (held.status, held.error.type) == (TrialStatus.FAILED, "OutOfMemory")
        assert "peaked at 1500 MB" in held.error.message
        assert "more than --max-memory 1000 MB" in held.error.message
        assert (held.worker, held.threads) == ("host:7", 2)  # the failed run's tags say them
        assert watchdog.held_to_limits(under) is under
        rescored = TrialRecord(spec("c"), TrialStatus.COMPLETE, {"peak_memory_mb": 1500},
                               rescored_from="run-a")  # its fit was made under another sweep
        assert watchdog.held_to_limits(rescored) is rescored
    finally:
        watchdog.close()
    unlimited = Watchdog(Limits())
    try:
        assert unlimited.held_to_limits(over) is over
    finally:
        unlimited.close()
