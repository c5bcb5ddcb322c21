"""Faults the sweep must survive, each injected for real in real worker processes."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import Executor, Future

import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import REPO, make_grid, sqlite_store
from tests.plugins import FAILING_SEED, HOG_MB
from tuner.engine.executors import make_executor
from tuner.engine.runner import STEPS_FILE, Limits, run_sweep
from tuner.engine.scheduler import Scheduler
from tuner.engine.sweep import check_inputs, precompute
from tuner.errors import SweepInterrupted, SweepNotStartedError
from tuner.grid import load_grid
from tuner.tracking.memory import MemoryTracker
from tuner.tracking.tracker import MlflowTracker
from tuner.trial import TrialRecord, TrialStatus

PLUGIN = "Flaky=tests.plugins:FlakyTrainer,SlowStep=tests.plugins:SlowStepTrainer"


@pytest.fixture(autouse=True)
def plugin_trainer(monkeypatch):
    monkeypatch.setenv("TUNER_TRAINERS", PLUGIN)
    monkeypatch.setenv("PYTHONPATH", str(REPO))


def flaky_sweep(tmp_path, corpus, cache, crash, seeds=(1, FAILING_SEED, 2), limits=None,
                executor="process", workers=2):
    grid = load_grid(make_grid(tmp_path, corpus, experiment=f"faults-{crash}", models=["flaky"],
                               params={"num_topics": 5, "vocab_size": 1000, "crash": crash},
                               seeds=list(seeds)))
    prepared = precompute(grid, check_inputs(grid), cache, progress=False)
    tracker = MlflowTracker(sqlite_store(tmp_path / "mlflow.db"))
    tracker.experiment_id(grid.experiment)
    result = run_sweep(prepared, tracker, lambda: make_executor(executor, workers), workers,
                       limits=limits or Limits())
    runs = tracker.client.search_runs([result.sweep.experiment_id], max_results=100)
    return result, runs


def by_seed(result):
    return {r.spec.seed: r for r in result.records}


def test_raise_is_recorded_with_type_message_and_traceback(tmp_path, small_corpus,
                                                           session_cache):
    result, runs = flaky_sweep(tmp_path, small_corpus, session_cache, "raise")
    failed = by_seed(result)[FAILING_SEED]
    assert failed.error.type == "RuntimeError" and "Traceback" in failed.error.traceback
    assert result.completed == 2


def test_aborting_worker_is_retried_once_then_failed(tmp_path, small_corpus, session_cache,
                                                    caplog):
    with caplog.at_level("WARNING"):
        result, runs = flaky_sweep(tmp_path, small_corpus, session_cache, "abort")
    assert "a worker of the pool died; " in caplog.text  # said (ops audit of 2026-12-03)
    assert result.completed == 2
    failed = by_seed(result)[FAILING_SEED]
    assert failed.error.type == "WorkerDied"
    # how it died is named: a segfault, an abort and an exit read alike (audit of 2026-12-01)
    assert failed.error.message.startswith("worker died: the worker process exited (killed by "
                                           "SIGABRT) while running this trial")
    statuses = sorted(r.info.status for r in runs if r.data.tags.get("tuner.role") == "trial")
    assert statuses == ["FAILED", "FINISHED", "FINISHED"]  # the first attempt's run was dropped


def test_trial_past_its_timeout_is_stopped(tmp_path, small_corpus, session_cache):
    started = time.perf_counter()
    result, _ = flaky_sweep(tmp_path, small_corpus, session_cache, "hang",
                            limits=Limits(timeout_s=4))
    assert time.perf_counter() - started < 300
    failed = by_seed(result)[FAILING_SEED]
    assert failed.error.type == "TrialTimeout" and failed.error.message.startswith("timeout")
    assert result.completed == 2


def test_trial_past_its_timeout_is_stopped_on_a_local_dask_cluster(tmp_path, small_corpus,
                                                                    session_cache, caplog):
    """Dask reran the task of the worker the watchdog had stopped, unwatched (the trial's key
    was marked killed), and the sweep hung until killed from outside (audit of 2026-12-01).
    The local scheduler's own ERROR line on the stopped worker is not shown: the trial's
    failure says why (new-user audit of 2026-12-04)."""
    def hung(signum, frame):
        raise TimeoutError("the sweep hung")  # run_sweep stops its workers, then re-raises

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(240)
    try:
        with caplog.at_level("INFO", logger="distributed.scheduler"):
            result, _ = flaky_sweep(tmp_path, small_corpus, session_cache, "hang",
                                    limits=Limits(timeout_s=4), executor="dask")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert [r for r in caplog.records if r.name == "distributed.scheduler"]  # it logs here
    assert "workers died" not in caplog.text
    failed = by_seed(result)[FAILING_SEED]
    assert failed.error.type == "TrialTimeout" and failed.error.message.startswith("timeout")
    assert result.completed == 2


def test_a_trial_started_again_after_its_worker_was_stopped_is_watched_again(tmp_path):
    """A cluster that reruns a lost worker's tasks (an outside Dask scheduler) starts the trial
    anew: its new marker was never checked, the key being marked killed."""
    from tuner.engine.watchdog import Watchdog

    watchdog = Watchdog(Limits(timeout_s=4))
    killed: list[int] = []
    try:
        marker = watchdog.started_dir / "k1"
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("tuner.engine.watchdog._kill", killed.append)
            marker.write_text(f"{os.getpid()} {time.time() - 100}", encoding="ascii")
            watchdog.check(["k1"])
            watchdog.check(["k1"])  # the same start: stopped once
            marker.write_text(f"{os.getpid()} {time.time() - 50}", encoding="ascii")
            watchdog.check(["k1"])  # started again, and past the limit again
        assert killed == [os.getpid(), os.getpid()]
        assert watchdog.killed["k1"].type == "TrialTimeout"
    finally:
        watchdog.close()


@pytest.mark.parametrize("crash", ["hog", "spike"])
def test_trial_over_the_memory_limit_fails(tmp_path, small_corpus, session_cache, crash):
    """Held (hog), or for a moment (spike): its worker reads the trial's peak, so the limit no
    longer depends on when the watchdog sampled it."""
    result, _ = flaky_sweep(tmp_path, small_corpus, session_cache, crash,
                            limits=Limits(max_memory_mb=1000))
    failed = by_seed(result)[FAILING_SEED]
    assert failed.error.type == "OutOfMemory" and "out of memory" in failed.error.message
    assert result.completed == 2
    assert all(0 < r.metrics["peak_memory_mb"] < 1000
               for r in result.records if r.status is TrialStatus.COMPLETE)


def test_each_trial_logs_its_peak_memory(tmp_path, small_corpus, session_cache):
    result, runs = flaky_sweep(tmp_path, small_corpus, session_cache, "spike",
                               seeds=(FAILING_SEED, 1, 2), workers=1)
    peaks = {r.spec.seed: r.metrics["peak_memory_mb"] for r in result.records}
    # one worker, the spike first: the later trials' peaks start again from what it holds
    assert peaks[FAILING_SEED] > HOG_MB > max(peaks[1], peaks[2])
    assert all("peak_memory_mb" in run.data.metrics for run in runs
               if run.data.tags.get("tuner.role") == "trial")


def cli_sweep(tmp_path, corpus, cache, crash="hang"):
    grid = make_grid(tmp_path, corpus, experiment="signals", models=["flaky"],
                     params={"num_topics": 5, "vocab_size": 1000, "crash": crash},
                     seeds=[1, FAILING_SEED, 2, 3])
    # The store exists before the CLI starts: the test's polling client must not create its
    # tables while the CLI does (two SQLite migrations at once break one of them).
    uri = sqlite_store(tmp_path / "mlflow.db")
    command = [sys.executable, "-m", "tuner.cli", "run", str(grid), "--tracking-uri", uri,
               "--cache-dir", str(cache), "--max-workers", "2", "--quiet"]
    return command, uri


def wait_for_running_trial(uri, deadline=240.0):
    started = time.time()
    while time.time() - started < deadline:
        time.sleep(1)
        try:
            client = MlflowClient(tracking_uri=uri)
            experiment = client.get_experiment_by_name("signals")
            if experiment is None:
                continue
            runs = client.search_runs([experiment.experiment_id],
                                      "tags.`tuner.role` = 'trial'")
            if len([r for r in runs if r.info.status == "FINISHED"]) >= 2:
                return client, experiment.experiment_id
        except Exception:  # the store is busy
            continue
    raise AssertionError("the sweep never reached its hanging trial")


def test_sigterm_stops_workers_and_ends_runs_killed(tmp_path, small_corpus, session_cache):
    command, uri = cli_sweep(tmp_path, small_corpus, session_cache)
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    client, experiment_id = wait_for_running_trial(uri)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 143, err
    runs = client.search_runs([experiment_id])
    assert not [r for r in runs if r.info.status == "RUNNING"]
    parent = next(r for r in runs if r.data.tags.get("tuner.role") == "sweep")
    assert parent.info.status == "KILLED"
    assert any(r.info.status == "KILLED" for r in runs if r.data.tags.get("tuner.role") == "trial")


def test_sigkilled_sweep_resumes_without_duplicates(tmp_path, small_corpus, session_cache):
    command, uri = cli_sweep(tmp_path, small_corpus, session_cache)
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    client, experiment_id = wait_for_running_trial(uri)
    os.killpg(process.pid, signal.SIGKILL)  # the parent and its workers die at once
    process.wait(timeout=60)
    rerun = subprocess.run([*command, "--trial-timeout", "10"], cwd=REPO, capture_output=True,
                           text=True, timeout=600)
    assert rerun.returncode == 1, rerun.stderr  # the hanging trial now times out
    runs = client.search_runs([experiment_id], "tags.`tuner.role` = 'trial'")
    stale = [r for r in runs if r.data.tags.get("tuner.stale") == "true"]
    assert stale and all(r.info.status == "FAILED" for r in stale)
    finished = [r.data.tags["tuner.trial_key"] for r in runs if r.info.status == "FINISHED"]
    assert len(finished) == 3 and len(set(finished)) == 3
    assert "skipped" in rerun.stdout


def test_a_shared_step_past_the_time_limit_is_stopped_and_named(tmp_path, small_corpus,
                                                                session_cache, caplog):
    """Killing the step's worker breaks the pool; the break is put down to the step (a warning
    names it), the trial that ran beside it is retried and completes, the trial that needed the
    step meets the same limit computing it itself, and the step's fate is in
    shared_steps.json."""
    grid = load_grid(make_grid(tmp_path, small_corpus, experiment="faults-step",
                               models=["slowstep"], params={"num_topics": 5, "vocab_size": 1000,
                                                            "step": ["hang", "none"]}))
    prepared = precompute(grid, check_inputs(grid), session_cache, progress=False)
    tracker = MemoryTracker()
    with caplog.at_level(logging.WARNING, logger="tuner.engine.runner"):
        result = run_sweep(prepared, tracker, lambda: make_executor("process", 2), 2,
                           limits=Limits(timeout_s=4))
    outcome = {r.spec.params["step"]: r for r in result.records}
    assert outcome["none"].status is TrialStatus.COMPLETE
    assert outcome["hang"].error is not None and outcome["hang"].error.type == "TrialTimeout"
    assert "a shared step was stopped (timeout" in caplog.text
    [step] = tracker.runs[result.sweep.run_id].artifacts[STEPS_FILE]["steps"]
    assert step["step"] == "nap" and step["error"].startswith("timeout")



def test_a_marker_left_by_a_dead_worker_is_not_read_as_its_retrys(tmp_path):
    """Two trials hang: stopping the first breaks the pool and the second is retried. Its dead
    worker's marker (old start time) was read as the retry's, counted killed without anything
    dying, and the retry never watched again: the sweep hung until killed from outside (audit
    of 2026-12-01, 5 runs of 6 trials with --trial-timeout 10)."""
    from tuner.engine.watchdog import Watchdog

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    watchdog = Watchdog(Limits(timeout_s=4))
    try:
        marker = watchdog.started_dir / "k2"
        marker.write_text(f"{gone.pid} {time.time() - 100}", encoding="ascii")
        watchdog.check(["k2"])
        assert "k2" not in watchdog.killed  # nothing to stop: the retry's worker is not up yet
        watchdog.killed["k2"] = None  # type: ignore[assignment]
        watchdog.forget(["k2"])  # what the runner does with every trial in flight at a break
        assert "k2" not in watchdog.killed and not marker.exists()
        marker.write_text(f"{os.getpid()} {time.time() - 100}", encoding="ascii")
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("tuner.engine.watchdog._kill", lambda pid: None)
            watchdog.check(["k2"])  # the retry's own worker, past the limit, is stopped
        assert watchdog.killed["k2"].type == "TrialTimeout"
    finally:
        watchdog.close()


def test_workers_leave_when_the_sweep_process_is_killed(tmp_path, small_corpus, session_cache):
    """SIGKILL of `tuner run` alone (the OOM killer, `timeout -s KILL`) left its fork server
    and workers (about 260 MB each) waiting for ever (audit of 2026-12-01)."""
    command, uri = cli_sweep(tmp_path, small_corpus, session_cache)
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    wait_for_running_trial(uri)
    session = os.getsid(process.pid)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    deadline = time.time() + 60
    while time.time() < deadline and _processes_in(session):
        time.sleep(1)
    assert _processes_in(session) == []


def test_workers_in_a_long_native_fit_leave_with_the_killed_sweep(tmp_path, small_corpus,
                                                                  session_cache):
    """A tomotopy fit holds the interpreter's lock for its whole `train` call, so the workers'
    watch thread could not run: after a SIGKILL of `tuner run`, LDA workers at K=50 lived on
    15 s at 1,500 iterations and 39 s at 4,000 (concurrency audit of 2026-12-05). Forked by the
    fork server, they now die with it."""
    grid = make_grid(tmp_path, small_corpus, experiment="long-fit",
                     params={"num_topics": 50, "vocab_size": 1000, "lda.max_iter": 10000})
    uri = sqlite_store(tmp_path / "mlflow.db")
    process = subprocess.Popen(
        [sys.executable, "-m", "tuner.cli", "run", str(grid), "--tracking-uri", uri,
         "--cache-dir", str(session_cache), "--max-workers", "1", "--quiet"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 240
        running = False
        while not running and time.time() < deadline:
            time.sleep(1)
            try:
                client = MlflowClient(tracking_uri=uri)
                experiment = client.get_experiment_by_name("long-fit")
                running = experiment is not None and any(
                    r.info.status == "RUNNING" for r in client.search_runs(
                        [experiment.experiment_id], "tags.`tuner.role` = 'trial'"))
            except Exception:  # the store is busy
                continue
        assert running, "the trial never started"
        time.sleep(3)  # inside the fit's train call
        session = os.getsid(process.pid)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
        deadline = time.time() + 8  # the fork server's watch: 2 s a check
        while time.time() < deadline and _processes_in(session):
            time.sleep(0.5)
        assert _processes_in(session) == []
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def _processes_in(session: int) -> list[int]:
    """The live processes of a session (an exited one waiting to be reaped is not running)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                state = open(f"/proc/{entry}/stat", encoding="ascii").read().rsplit(")", 1)[1]
                if os.getsid(int(entry)) == session and state.split()[0] != "Z":
                    found.append(int(entry))
            except (OSError, IndexError):
                continue
    return found


def test_sigterm_while_the_sweep_precomputes_is_said_and_cleaned_up(tmp_path, small_corpus):
    """SIGTERM before the trial loop (embedding the corpus) ended `tuner run` with exit 143 and
    no word at all, as cron's `timeout` or `docker stop` sends it (audit of 2026-12-01)."""
    grid = make_grid(tmp_path, small_corpus, experiment="early", models=["bertopic"],
                     params={"num_topics": None, "vocab_size": 1000})
    store = tmp_path / "store"
    command = [sys.executable, "-m", "tuner.cli", "run", str(grid), "--tracking-uri",
               f"sqlite:///{store / 'mlflow.db'}", "--cache-dir", str(tmp_path / "cache"),
               "--max-workers", "1", "--quiet"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not list((tmp_path / "cache").glob("emb-*.lock")):  # embedding the corpus
        assert time.time() < deadline and process.poll() is None, "never reached the embedding"
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 143, err
    assert "interrupted by SIGTERM before any trial started" in err
    assert not list((tmp_path / "cache").glob("emb-*.npy"))  # no embedding half made


def test_sigterm_while_the_trials_are_ranked_ends_the_sweep_killed(tmp_path, small_corpus,
                                                                  session_cache):
    """After the trial loop the CLI's handler is back: a SIGTERM while ranking said "before any
    trial started" and left the sweep's run RUNNING (review of 2026-12-01)."""
    from tuner.cli import _terminate
    from tuner.errors import SweepInterrupted

    grid = load_grid(make_grid(tmp_path, small_corpus, experiment="late",
                               params={"num_topics": 5, "vocab_size": 1000, "lda.max_iter": 10}))
    prepared = precompute(grid, check_inputs(grid), session_cache, progress=False)
    tracker = MemoryTracker()

    def ranking(result):
        os.kill(os.getpid(), signal.SIGTERM)  # arrives while the trials are ranked
        time.sleep(5)
        raise AssertionError("SIGTERM was not heeded")

    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        with pytest.raises(SweepInterrupted) as stopped:
            run_sweep(prepared, tracker, lambda: make_executor("process", 1), 1,
                      summarize=ranking)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert stopped.value.exit_code == 143
    (sweep,) = [r for r in tracker.runs.values() if r.tags.get("tuner.role") == "sweep"]
    assert sweep.status == "KILLED"
    assert [r.status for r in tracker.runs.values() if r.tags.get("tuner.role") == "trial"] \
        == ["FINISHED"]


def test_a_failure_with_no_message_fails_its_trial_and_the_sweep_ends(tmp_path, small_corpus,
                                                                      session_cache):
    """A bare `assert` in a fit has an empty message: the command's progress line took its first
    line, raised IndexError and ended the sweep (exit 4) with results of that poll unlogged
    (review of 2026-12-02)."""
    command, uri = cli_sweep(tmp_path, small_corpus, session_cache, crash="assert")
    ran = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert ran.returncode == 1, ran.stderr  # a trial failed, the sweep did not
    assert "FAILED" in ran.stdout and "AssertionError" in ran.stdout
    client = MlflowClient(tracking_uri=uri)
    runs = client.search_runs([client.get_experiment_by_name("signals").experiment_id])
    trials = sorted(r.info.status for r in runs if r.data.tags.get("tuner.role") == "trial")
    assert trials == ["FAILED", "FINISHED", "FINISHED", "FINISHED"]
    sweep = next(r for r in runs if r.data.tags.get("tuner.role") == "sweep")
    assert sweep.info.status == "FINISHED"


def test_sys_exit_in_a_fit_fails_that_trial_only(tmp_path, small_corpus, session_cache):
    """sys.exit() in a library's fit ended the sweep with its code (3, read as "experiment
    locked"), and the trial, left KILLED, ended every later run the same way."""
    result, runs = flaky_sweep(tmp_path, small_corpus, session_cache, "exit")
    failed = by_seed(result)[FAILING_SEED]
    assert (failed.status, failed.error.type, failed.error.message) == (
        TrialStatus.FAILED, "SystemExit", "3")
    assert result.completed == 2
    statuses = sorted(r.info.status for r in runs if r.data.tags.get("tuner.role") == "trial")
    assert statuses == ["FAILED", "FINISHED", "FINISHED"]


def test_a_failing_progress_callback_loses_no_result(tmp_path, small_corpus, session_cache):
    """What reports each result (the command's progress, the service's status) can fail; the
    results are logged all the same and the sweep ends FINISHED."""
    grid = load_grid(make_grid(tmp_path, small_corpus, experiment="callback", models=["flaky"],
                               params={"num_topics": 5, "vocab_size": 1000},
                               seeds=[1, 2, 3]))
    prepared = precompute(grid, check_inputs(grid), session_cache, progress=False)
    tracker = MlflowTracker(sqlite_store(tmp_path / "mlflow.db"))
    tracker.experiment_id(grid.experiment)

    def report(record):
        raise IndexError("list index out of range")

    result = run_sweep(prepared, tracker, lambda: make_executor("process", 2), 2, report)
    assert result.completed == 3
    runs = tracker.client.search_runs([result.sweep.experiment_id])
    assert sorted(r.info.status for r in runs) == ["FINISHED"] * 4  # 3 trials and the sweep


class _SignalEscaped(BaseException):
    """A signal that reached the code around the sweep."""


class _NeverDone(Executor):
    """Trials that are still running when the user presses Ctrl-C."""

    def submit(self, fn, /, *args, **kwargs):
        return Future()

    def shutdown(self, wait=True, *, cancel_futures=False):
        pass


class _SlowStore(MemoryTracker):
    """Each run's end takes a store round trip; while the first is under way, the user presses
    Ctrl-C `again` more times."""

    def __init__(self, again: int) -> None:
        super().__init__()
        self.again = again

    def end_run(self, run_id, status):
        while self.again:  # the handler runs at once, inside the clean-up (no timer to race)
            self.again -= 1
            os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.1)
        super().end_run(run_id, status)


@pytest.mark.parametrize("signals", [2, 3])
def test_a_second_ctrl_c_waits_for_the_runs_to_end_and_a_third_leaves(tmp_path, small_corpus,
                                                                       session_cache, signals):
    """A second SIGINT while a stopped sweep ended its runs cut that short: the sweep and its
    trials stayed RUNNING, and the command said no trial had started (review of 2026-12-02).
    Now a second one is waited out; a third leaves at once and says the runs were left."""
    grid = load_grid(make_grid(tmp_path, small_corpus, experiment="ctrl-c", seeds=[1, 2, 3]))
    prepared = precompute(grid, check_inputs(grid), session_cache, progress=False)
    tracker = _SlowStore(again=signals - 1)
    polls = []

    def press_ctrl_c():  # the loop's third poll: the user presses it the first time
        polls.append(1)
        if len(polls) == 3:
            os.kill(os.getpid(), signal.SIGINT)
        return False

    def reached_the_caller(signum, frame):  # not pytest's KeyboardInterrupt, which ends the run
        raise _SignalEscaped()

    previous = signal.signal(signal.SIGINT, reached_the_caller)
    try:
        with pytest.raises(SweepInterrupted) as stopped:
            run_sweep(prepared, tracker, _NeverDone, 3, should_stop=press_ctrl_c)
    finally:
        signal.signal(signal.SIGINT, previous)
    statuses = [run.status for run in tracker.runs.values()]
    if signals == 2:
        assert stopped.value.runs_ended
        assert statuses == ["KILLED"] * 4  # the sweep and its three trials
    else:
        assert not stopped.value.runs_ended
        assert "RUNNING" in statuses


class _StoreGoneAtStart(MemoryTracker):
    def finished_metrics(self, sweep):
        raise RuntimeError("the store went away")


def test_a_sweep_whose_start_fails_is_not_left_running(tmp_path, small_corpus, session_cache):
    """An error between opening the sweep run and starting the trials (the stale-run check,
    reading finished trials, a pruner or search) left the sweep run RUNNING (review of
    2026-12-02)."""
    grid = load_grid(make_grid(tmp_path, small_corpus, experiment="start"))
    prepared = precompute(grid, check_inputs(grid), session_cache, progress=False)
    tracker = _StoreGoneAtStart()
    # said as before any trial, exit 2 (it was exit 4, "after trials had started"; review)
    with pytest.raises(SweepNotStartedError, match="the sweep failed before any trial started: "
                                                  "RuntimeError: .*went away"):
        run_sweep(prepared, tracker, _NeverDone, 1)
    assert [run.status for run in tracker.runs.values()] == ["KILLED"]


class _Instant(Executor):
    """Every trial completes as it is submitted."""

    def submit(self, fn, /, *args, **kwargs):
        future: Future = Future()
        future.set_result(TrialRecord(args[0], TrialStatus.COMPLETE, {"npmi": 0.1}))
        return future

    def shutdown(self, wait=True, *, cancel_futures=False):
        pass


def test_the_scheduler_learns_each_result_before_it_picks_the_next_trial(
        tmp_path, small_corpus, session_cache, monkeypatch):
    """A TPE search suggested each trial one result behind: the next trial was picked before
    the finished one was told (review of 2026-12-02)."""
    grid = load_grid(make_grid(tmp_path, small_corpus, experiment="order", seeds=[1, 2, 3]))
    prepared = precompute(grid, check_inputs(grid), session_cache, progress=False)
    events = []
    tell, next_task = Scheduler.tell, Scheduler.next_task

    def told(self, key, metrics, pruned=False):
        events.append("tell")
        return tell(self, key, metrics, pruned)

    def picked(self, *args, **kwargs):
        events.append("next")
        return next_task(self, *args, **kwargs)

    monkeypatch.setattr(Scheduler, "tell", told)
    monkeypatch.setattr(Scheduler, "next_task", picked)
    result = run_sweep(prepared, MemoryTracker(), _Instant, 1)
    assert result.completed == 3
    assert events[:6] == ["next", "tell"] * 3


def test_a_search_that_cannot_learn_a_result_loses_no_result(tmp_path, small_corpus,
                                                             session_cache, monkeypatch):
    """The scheduler is told a result before it is logged; when telling fails (a search's
    study), the result is logged all the same and the sweep ends FINISHED (review of
    2026-12-02: it was lost, and its run stayed RUNNING)."""
    grid = load_grid(make_grid(tmp_path, small_corpus, experiment="tell", seeds=[1, 2]))
    prepared = precompute(grid, check_inputs(grid), session_cache, progress=False)

    def cannot_learn(self, key, metrics, pruned=False):
        raise RuntimeError("the study's storage is gone")

    monkeypatch.setattr(Scheduler, "tell", cannot_learn)
    tracker = MemoryTracker()
    result = run_sweep(prepared, tracker, _Instant, 1)
    assert result.completed == 2
    assert [run.status for run in tracker.runs.values()] == ["FINISHED"] * 3
