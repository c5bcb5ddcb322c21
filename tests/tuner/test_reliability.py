"""Shared caches under concurrency, a failing disk, an unreachable store, the result journal."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import REPO, make_grid, sqlite_store
from tuner.engine.sweep import check_inputs, precompute
from tuner.engine.worker import run_trial
from tuner.grid import load_grid
from tuner.tracking.tracker import MlflowTracker
from tuner.trial import TrialError, TrialRecord, TrialStatus

COMPUTE_ONCE = textwrap.dedent("""
    import sys, time
    import numpy as np
    from pathlib import Path
    from tuner.data.embeddings import EmbeddingCache, EmbeddingKey
    root, log = Path(sys.argv[1]), Path(sys.argv[2])
    key = EmbeddingKey("m", "r", "mean", 128, "raw", "corpus")
    def compute():
        with log.open("a") as handle:
            handle.write("computed\\n")
        time.sleep(3)
        return np.ones((50, 8), dtype=np.float32)
    print(float(EmbeddingCache(root).get_or_compute(key, compute)[0].sum()))
""")


def test_two_processes_compute_a_shared_embedding_once(tmp_path):
    log = tmp_path / "log.txt"
    command = [sys.executable, "-c", COMPUTE_ONCE, str(tmp_path / "cache"), str(log)]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=REPO)
    second = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=REPO)
    outputs = [first.communicate(timeout=120)[0], second.communicate(timeout=120)[0]]
    assert log.read_text().splitlines() == ["computed"]
    assert [float(o) for o in outputs] == [400.0, 400.0]


DISK_FULL = textwrap.dedent("""
    import resource, signal, sys
    import numpy as np
    from pathlib import Path
    from tuner.data.embeddings import EmbeddingCache, EmbeddingKey
    from tuner.errors import CacheError
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))
    key = EmbeddingKey("m", "r", "mean", 128, "raw", "corpus")
    try:
        EmbeddingCache(Path(sys.argv[1])).get_or_compute(
            key, lambda: np.ones((1000, 384), dtype=np.float32))
    except CacheError as err:
        print("CacheError:", err)
""")


def test_a_full_disk_gives_a_clear_error_and_no_partial_file(tmp_path):
    cache = tmp_path / "cache"
    done = subprocess.run([sys.executable, "-c", DISK_FULL, str(cache)], capture_output=True,
                          text=True, cwd=REPO, timeout=120)
    assert "CacheError:" in done.stdout and "cannot write cache file" in done.stdout, done.stderr
    assert "is the disk full?" in done.stdout
    assert not [p for p in cache.iterdir() if p.suffix in (".npy", ".tmp", ".json")]


STORE_FULL = textwrap.dedent("""
    import resource, signal, sys
    from tuner.errors import TrackingError
    from tuner.tracking.tracker import open_client
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))  # a new store is larger
    try:
        open_client(sys.argv[1])
    except TrackingError as err:
        print("TrackingError:", err)
""")


def test_a_store_whose_creation_failed_is_made_whole_by_the_next_run(tmp_path):
    """A full disk while MLflow made a new store's tables left it half-migrated, and every later
    run refused it ("table spans already exists") until the file was deleted by hand (audit of
    2026-12-01). The tables are made under a temporary name and renamed into place."""
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    done = subprocess.run([sys.executable, "-c", STORE_FULL, uri], capture_output=True,
                          text=True, cwd=REPO, timeout=300,
                          env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"})
    assert done.stdout.startswith(f"TrackingError: MLflow tracking store {uri} cannot be used"), \
        done.stdout + done.stderr
    assert len(done.stdout.strip().splitlines()) == 1  # not the SQL statement, line by line
    assert [p.name for p in (tmp_path / "store").iterdir()] == ["mlflow.db.lock"]
    tracker = MlflowTracker(uri)  # the next run, with room again
    assert tracker.experiment_id("after") is not None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_store_fails_before_any_computation(tmp_path, small_corpus):
    """At once: MLflow's client retried a server that refused connections for about 4 minutes,
    a warning per try (audit of 2026-12-01)."""
    grid = make_grid(tmp_path, small_corpus)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    done = subprocess.run([sys.executable, "-m", "tuner.cli", "run", str(grid), "--tracking-uri",
                           f"http://tuner:s3cret@127.0.0.1:{port}", "--cache-dir",
                           str(tmp_path / "cache")], capture_output=True, text=True, cwd=REPO,
                          env=env, timeout=300)
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if not line.startswith("warning: ")]
    assert errors == [f"error: MLflow tracking store http://tuner:***@127.0.0.1:{port} cannot be "
                      "reached: Connection refused; is it running, and is the address right?"]
    assert not (tmp_path / "cache" / "bow").exists()  # nothing was computed


def test_journalled_result_is_logged_by_the_next_run(tmp_path, small_corpus, session_cache):
    grid = load_grid(make_grid(tmp_path, small_corpus, experiment="journal"))
    trial = precompute(grid, check_inputs(grid), session_cache, progress=False).trials[0]
    record = run_trial(trial)  # a real result, computed in this process
    assert record.status is TrialStatus.COMPLETE
    tracker = MlflowTracker(sqlite_store(tmp_path / "mlflow.db"))
    sweep = tracker.start_sweep("journal", {}, {})
    tracker.journal(sweep).append("no-such-run", record)  # as if the store had been down
    entry = json.loads(tracker.journal(sweep).path.read_text())
    assert entry["record"]["metrics"]["npmi"] == pytest.approx(record.metrics["npmi"])

    next_sweep = tracker.start_sweep("journal", {}, {})
    tracker.fail_stale_runs(next_sweep)  # replays the journal first
    assert trial.key in tracker.finished_keys(next_sweep)
    assert not tracker.journal(sweep).path.exists()
    runs = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}").search_runs(
        [sweep.experiment_id], "attributes.status = 'FINISHED'")
    logged = next(r for r in runs if r.data.tags.get("tuner.trial_key") == trial.key)
    assert np.isclose(logged.data.metrics["npmi"], record.metrics["npmi"])


def test_a_worker_without_the_parents_marker_folder_still_runs_its_trial(tmp_path, small_corpus,
                                                                        session_cache):
    """A Dask worker on another machine has no such folder: writing the marker raised outside
    run_trial's guard, and every remote trial failed as "worker died" (review of 2026-12-01)."""
    grid = load_grid(make_grid(tmp_path, small_corpus, experiment="remote"))
    trial = precompute(grid, check_inputs(grid), session_cache, progress=False).trials[0]
    record = run_trial(trial, str(tmp_path / "on-the-parents-machine"))
    assert record.status is TrialStatus.COMPLETE, record.error


def test_a_journalled_result_the_store_took_is_not_logged_twice(tmp_path, small_corpus,
                                                                 session_cache):
    """The store can take a write while the client sees an error (a lost answer): the FAILED
    result was journalled and, on replay, logged into a second FAILED run (review of
    2026-12-02)."""
    grid = load_grid(make_grid(tmp_path, small_corpus, experiment="journal-twice"))
    trial = precompute(grid, check_inputs(grid), session_cache, progress=False).trials[0]
    record = TrialRecord(trial, TrialStatus.FAILED,
                         error=TrialError("RuntimeError", "deliberate", "Traceback ..."))
    tracker = MlflowTracker(sqlite_store(tmp_path / "mlflow.db"))
    sweep = tracker.start_sweep("journal-twice", {}, {})
    run_id = tracker.start_trial(sweep, trial)
    tracker.finish_trial(sweep, run_id, record)  # the store took it ...
    tracker.journal(sweep).append(run_id, record)  # ... and the client journalled it anyway

    next_sweep = tracker.start_sweep("journal-twice", {}, {})
    tracker.fail_stale_runs(next_sweep)  # replays the journal first
    assert not tracker.journal(sweep).path.exists()
    runs = tracker.trial_runs(sweep.experiment_id)
    assert [(r.info.run_id, r.info.status) for r in runs] == [(run_id, "FAILED")]
