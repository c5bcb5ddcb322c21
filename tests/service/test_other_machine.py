"""One sweep per (tracking store, experiment) across machines: a sweep on another host is seen by
its heartbeat tag (tracking.liveness), since this host's lock and pids cannot see it. Before,
a second machine sweeping the experiment marked the first's live runs FAILED (stale) and ran
every trial again beside it. Another host is a sweep run tagged with another host name, as
another machine's tuner writes it."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from tests.service.conftest import MlflowServer, tiny_grid, tuner_cli
from tuner.processes import process_started
from tuner.tracking import liveness
from tuner.tracking.tags import (
    BEATS_TAG,
    CLAIMED_TAG,
    HEARTBEAT_TAG,
    HOST_TAG,
    PID_TAG,
    STALE_TAG,
    STARTED_TAG,
    STATUS_TAG,
)
from tuner.tracking.tracker import MlflowTracker, SweepHandle


def _store(folder: Path) -> str:
    return f"sqlite:///{folder / 'mlflow.db'}"


def _from_another_machine(tracker: MlflowTracker, experiment: str, heard_s_ago: float | None
                          ) -> tuple[str, str]:
    """A sweep run and one RUNNING trial run as another host's tuner leaves them; its last
    heartbeat `heard_s_ago` seconds ago (None: a tuner that did not beat)."""
    sweep = tracker.start_sweep(experiment, {}, {})
    tags = {HOST_TAG: "another-machine", PID_TAG: "4242"}
    if heard_s_ago is not None:
        tags |= {HEARTBEAT_TAG: str(int(time.time() - heard_s_ago)), BEATS_TAG: "30"}
    tracker.set_tags(sweep.run_id, tags)
    if heard_s_ago is None:
        tracker.client.delete_tag(sweep.run_id, HEARTBEAT_TAG)
    trial = tracker.client.create_run(sweep.experiment_id, tags={
        "mlflow.parentRunId": sweep.run_id, "tuner.role": "trial"})
    return sweep.run_id, trial.info.run_id


def _grid(folder: Path, experiment: str, corpus: Path) -> Path:
    grid = folder / "grid.json"
    grid.write_text(json.dumps(tiny_grid(experiment, corpus, [1])), encoding="utf-8")
    return grid


def test_a_sweep_another_machine_runs_refuses_this_one(tmp_path: Path,
                                                       small_corpus: Path) -> None:
    store = _store(tmp_path)
    tracker = MlflowTracker(store)
    theirs, their_trial = _from_another_machine(tracker, "two-hosts", heard_s_ago=20)
    done = tuner_cli("run", str(_grid(tmp_path, "two-hosts", small_corpus)), "--cache-dir",
                     str(tmp_path / "cache"), "--tracking-uri", store, "--quiet", cwd=tmp_path)
    assert done.returncode == 3, done.stderr
    assert "experiment 'two-hosts' is being swept by another machine" in done.stderr
    assert f"sweep run {theirs} on host another-machine (pid 4242)" in done.stderr
    assert "last heard from 2" in done.stderr  # about 20 s
    experiment_id = tracker.experiment_id("two-hosts")
    runs = tracker.client.search_runs([experiment_id])
    assert len(runs) == 2  # theirs and their trial: nothing of this sweep
    assert tracker.client.get_run(their_trial).info.status == "RUNNING"  # not marked stale


def test_a_machine_not_heard_from_died_and_its_runs_are_stale(tmp_path: Path,
                                                               small_corpus: Path) -> None:
    store = _store(tmp_path)
    tracker = MlflowTracker(store)
    silent = liveness.SILENT_AFTER_S + 60
    theirs, their_trial = _from_another_machine(tracker, "died-there", heard_s_ago=silent)
    done = tuner_cli("run", str(_grid(tmp_path, "died-there", small_corpus)), "--cache-dir",
                     str(tmp_path / "cache"), "--tracking-uri", store, "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for run_id in (theirs, their_trial):
        run = tracker.client.get_run(run_id)
        assert run.info.status == "FAILED"
        assert run.data.tags[STALE_TAG] == "true"


def test_a_machine_that_never_beat_is_taken_as_dead(tmp_path: Path) -> None:
    """A sweep of another host by a tuner that wrote no heartbeat cannot be told alive."""
    tracker = MlflowTracker(_store(tmp_path))
    _from_another_machine(tracker, "old-tuner", heard_s_ago=None)
    mine = tracker.start_sweep("old-tuner", {}, {})
    assert tracker.swept_elsewhere(mine.experiment_id, mine=mine) is None
    assert tracker.fail_stale_runs(mine) == 2


def test_of_two_sweeps_opened_at_once_the_earlier_goes_on(tmp_path: Path) -> None:
    """Two machines that open their sweep runs at once each see the other's: both must agree
    which goes on, whichever asks first, so the order is the store's (start time, run id)."""
    tracker = MlflowTracker(_store(tmp_path))
    first, _ = _from_another_machine(tracker, "at-once", heard_s_ago=0)
    time.sleep(0.01)
    mine = tracker.start_sweep("at-once", {}, {})
    time.sleep(0.01)
    later, _ = _from_another_machine(tracker, "at-once", heard_s_ago=0)
    said = tracker.swept_elsewhere(mine.experiment_id, mine=mine)
    assert said is not None and first in said
    tracker.client.set_terminated(first, "FINISHED")
    assert tracker.swept_elsewhere(mine.experiment_id, mine=mine) is None  # `later` yields
    assert later in (tracker.swept_elsewhere(mine.experiment_id) or "")  # before opening
    # a machine whose clock runs behind stamps its run before one that claimed and runs
    tracker.set_tags(later, {CLAIMED_TAG: "true"})
    said = tracker.swept_elsewhere(mine.experiment_id, mine=mine)
    assert said is not None and later in said
    # two that claimed at once each see the other: both stop, neither runs beside the other
    tracker.set_tags(mine.run_id, {CLAIMED_TAG: "true"})
    theirs = SweepHandle(mine.experiment_id, later, "")
    assert later in (tracker.swept_elsewhere(mine.experiment_id, mine=mine) or "")
    tracker.set_tags(mine.run_id, {HOST_TAG: "a-third-machine", BEATS_TAG: "30"})
    assert mine.run_id in (tracker.swept_elsewhere(mine.experiment_id, mine=theirs) or "")


def test_two_machines_at_once_through_the_command_the_refused_one_exits_3_and_leaves_no_run(
        tmp_path: Path, small_corpus: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Refused once its own run was open, a sweep exited 4, "stopped after trials had
    started", and `tuner serve` ended it failed; its KILLED run then stood as the experiment's
    latest sweep, whose empty record of what it asked for hid the running sweep's (review of
    2026-12-05)."""
    from tuner.cli import main

    store = _store(tmp_path)
    opened = MlflowTracker.start_sweep
    theirs: list[str] = []

    def another_machine_first(self: MlflowTracker, *args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(MlflowTracker, "start_sweep", opened)  # once: theirs opens too
        theirs.append(_from_another_machine(MlflowTracker(self.tracking_uri), args[0], 0)[0])
        time.sleep(0.01)
        return opened(self, *args, **kwargs)

    monkeypatch.setattr(MlflowTracker, "start_sweep", another_machine_first)
    code = main(["run", str(_grid(tmp_path, "at-once-cli", small_corpus)), "--cache-dir",
                 str(tmp_path / "cache"), "--tracking-uri", store, "--quiet"])
    err = capsys.readouterr().err
    assert code == 3, err
    assert "is being swept by another machine" in err
    tracker = MlflowTracker(store)
    runs = tracker.client.search_runs([tracker.experiment_id("at-once-cli")],
                                      "tags.`tuner.role` = 'sweep'")
    assert [r.info.run_id for r in runs] == theirs  # the refused run is gone


@pytest.mark.skipif(process_started(os.getppid()) is None,
                    reason="a process's start is read from Linux's /proc")
def test_a_beating_sweep_of_this_host_not_heard_from_is_not_alive() -> None:
    """A long-lived `tuner serve` whose sweep run could not be ended lives on: by its pid alone
    its run stood alive, and every `tuner run` of the experiment exited 3 (review of
    2026-12-05)."""
    tags = {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getppid()),
            STARTED_TAG: str(process_started(os.getppid())), BEATS_TAG: "30",
            HEARTBEAT_TAG: str(int(time.time()))}
    assert liveness.sweep_alive(tags)
    tags[HEARTBEAT_TAG] = str(int(time.time() - liveness.SILENT_AFTER_S - 60))
    assert not liveness.sweep_alive(tags)
    del tags[BEATS_TAG]  # a local store's sweep does not beat: its process says
    assert liveness.sweep_alive(tags)


def test_a_sweep_on_a_server_store_beats_its_heartbeat(mlflow_server: MlflowServer,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(liveness, "HEARTBEAT_S", 0.2)
    tracker = MlflowTracker(mlflow_server.url)
    sweep = tracker.start_sweep("beating", {}, {})
    tracker.set_tags(sweep.run_id, {HEARTBEAT_TAG: "0"})
    with tracker.keep_alive(sweep):
        deadline = time.time() + 20
        while tracker.client.get_run(sweep.run_id).data.tags[HEARTBEAT_TAG] == "0":
            assert time.time() < deadline, "no heartbeat written"
            time.sleep(0.1)
    beat = float(tracker.client.get_run(sweep.run_id).data.tags[HEARTBEAT_TAG])
    assert abs(beat - time.time()) < 30
    time.sleep(0.6)  # stopped with the block: no beat overwrites this
    tracker.set_tags(sweep.run_id, {STATUS_TAG: "checked", HEARTBEAT_TAG: "1"})
    time.sleep(0.6)
    assert tracker.client.get_run(sweep.run_id).data.tags[HEARTBEAT_TAG] == "1"


def test_a_local_store_does_not_beat(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A SQLite file's other users are on this host, where pids tell; its writers would only
    contend for its one write lock."""
    monkeypatch.setattr(liveness, "HEARTBEAT_S", 0.05)
    tracker = MlflowTracker(_store(tmp_path))
    sweep = tracker.start_sweep("local", {}, {})
    tracker.set_tags(sweep.run_id, {HEARTBEAT_TAG: "0"})
    with tracker.keep_alive(sweep):
        time.sleep(0.5)
    assert tracker.client.get_run(sweep.run_id).data.tags[HEARTBEAT_TAG] == "0"


def test_a_sweep_another_machine_opened_first_meanwhile_stops_this_one(
        tmp_path: Path, prepared_small) -> None:
    """Another machine's sweep that opens between this sweep's first check and its own run is
    found once its run is open: this one ends KILLED before any trial."""
    from tuner.engine.executors import make_executor
    from tuner.engine.runner import run_sweep
    from tuner.errors import SweepLockedError

    class OpenedMeanwhile(MlflowTracker):
        def start_sweep(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            self.theirs, _ = _from_another_machine(MlflowTracker(self.tracking_uri),
                                                   args[0], heard_s_ago=0)
            time.sleep(0.01)
            self.mine = super().start_sweep(*args, **kwargs)
            return self.mine

    tracker = OpenedMeanwhile(_store(tmp_path))
    with pytest.raises(SweepLockedError, match="being swept by another machine"):
        run_sweep(prepared_small, tracker, lambda: make_executor("process", 1), 1)
    mine = tracker.client.get_run(tracker.mine.run_id)
    assert mine.info.status == "KILLED"
    trials = tracker.client.search_runs([tracker.mine.experiment_id],
                                        "tags.`tuner.role` = 'trial'")
    assert [t.info.run_id for t in trials] != [] and all(
        t.data.tags.get("mlflow.parentRunId") == tracker.theirs for t in trials)


def test_a_refused_sweep_whose_run_the_store_will_not_delete_is_tagged_refused(
        tmp_path: Path, prepared_small: Any, caplog: pytest.LogCaptureFixture) -> None:
    """MLflow's EDIT permission cannot delete a run: the refused run stays, KILLED, and must
    not stand as the experiment's latest sweep (review of 2026-12-05)."""
    from tuner.engine.executors import make_executor
    from tuner.engine.runner import run_sweep
    from tuner.errors import SweptElsewhereError

    class MayNotDelete(MlflowTracker):
        def swept_elsewhere(self, experiment_id: str, mine: SweepHandle | None = None
                            ) -> str | None:
            return "a sweep on another machine"

        def discard_sweep(self, sweep: SweepHandle) -> None:
            self.refused = sweep
            self.set_tags(sweep.run_id, {"tuner.refused": "true"})
            raise PermissionError("PERMISSION_DENIED: cannot delete")

    tracker = MayNotDelete(_store(tmp_path))
    with pytest.raises(SweptElsewhereError), caplog.at_level("WARNING"):
        run_sweep(prepared_small, tracker, lambda: make_executor("process", 1), 1)
    assert f"could not remove refused sweep run {tracker.refused.run_id}" in caplog.text
    [sweep] = tracker.sweep_runs(prepared_small.grid.experiment)
    assert not sweep.ran_trials  # passed over as the latest sweep
    assert sweep.status == "KILLED"
