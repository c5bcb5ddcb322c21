"""One sweep per (tracking store, experiment): overlapping `tuner run`s (e.g. from cron) exit
with code 3, whatever cache folder each uses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.service.conftest import tiny_grid, tuner_cli
from tuner.flow import experiment_lock, is_locked, lock_path


def _store(folder: Path) -> str:
    return f"sqlite:///{folder / 'mlflow.db'}"


def test_run_exits_3_while_another_sweep_holds_the_experiment(tmp_path: Path,
                                                              small_corpus: Path) -> None:
    """The lock belongs to the (store, experiment): a sweep with another cache folder on the
    same store is refused too (it would mark the first sweep's live runs FAILED)."""
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps(tiny_grid("cron-exp", small_corpus, [1])), encoding="utf-8")
    store = _store(tmp_path)
    with experiment_lock(store, "cron-exp") as held:
        done = tuner_cli("run", str(grid), "--cache-dir", str(tmp_path / "cache"),
                         "--tracking-uri", store, "--quiet", cwd=tmp_path)
    assert done.returncode == 3, done.stderr
    assert f"experiment 'cron-exp': another sweep on {store} holds {held}" in done.stderr
    assert not (tmp_path / "mlflow.db").exists()  # nothing was started


def test_a_sweep_with_another_cache_folder_on_the_same_store_is_refused(
        tmp_path: Path, small_corpus: Path) -> None:
    """Issue #10 item 13: the lock was per cache folder, so this second sweep ran and marked
    the first one's live runs FAILED."""
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps(tiny_grid("shared-store", small_corpus, [1])), encoding="utf-8")
    store = _store(tmp_path / "store")
    with experiment_lock(store, "shared-store"):
        done = tuner_cli("run", str(grid), "--cache-dir", str(tmp_path / "second-cache"),
                         "--tracking-uri", store, "--quiet", cwd=tmp_path)
    assert done.returncode == 3, done.stderr
    assert "another sweep on" in done.stderr


def test_lock_is_free_again_after_the_sweep(tmp_path: Path) -> None:
    with experiment_lock(_store(tmp_path), "exp"):
        assert is_locked(_store(tmp_path), "exp")
    assert not is_locked(_store(tmp_path), "exp")


def test_asking_whether_an_experiment_is_locked_creates_no_lock_file(tmp_path: Path) -> None:
    """A request the service refuses (409, 503) must leave no file per experiment name."""
    assert not is_locked(_store(tmp_path), "never-run")
    assert not lock_path(_store(tmp_path), "never-run").exists()


def test_lock_of_another_experiment_does_not_block(tmp_path: Path) -> None:
    with experiment_lock(_store(tmp_path), "exp-a"):
        assert not is_locked(_store(tmp_path), "exp-b")


def test_lock_of_another_store_does_not_block(tmp_path: Path) -> None:
    with experiment_lock(_store(tmp_path / "a"), "exp"):
        assert not is_locked(_store(tmp_path / "b"), "exp")


@pytest.mark.parametrize("first, second", [
    ("postgresql+psycopg2://u:one@DB:5432/mlflow", "postgresql://u:two@db:5432/mlflow/"),
    ("http://mlflow:5000", "HTTP://mlflow:5000/"),
    # the loopback addresses, and a scheme's default port (concurrency audit of 2026-12-05)
    ("http://127.0.0.1:5055", "http://localhost:5055"),
    ("http://[::1]:5055/", "http://u:p@LOCALHOST:5055"),
    ("https://mlflow.example.org:443/", "https://mlflow.example.org"),
])
def test_a_server_store_has_one_lock_however_it_is_spelled(first: str, second: str,
                                                           tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNER_LOCK_DIR", str(tmp_path))
    assert lock_path(first, "exp") == lock_path(second, "exp")
    assert lock_path(first, "exp").parent == tmp_path


def test_server_stores_on_other_hosts_or_ports_have_locks_of_their_own(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNER_LOCK_DIR", str(tmp_path))
    assert lock_path("http://127.0.0.1:5055", "exp") != lock_path("http://127.0.0.1:5056", "exp")
    assert lock_path("http://localhost:5000", "exp") != lock_path("http://mlflow:5000", "exp")
    assert lock_path("http://mlflow:80", "exp") == lock_path("http://mlflow", "exp")


def test_lock_file_name_stays_inside_the_lock_folder(tmp_path: Path) -> None:
    assert lock_path(_store(tmp_path), "../../etc/x y").parent == tmp_path / ".locks"


def test_experiments_whose_safe_names_collide_get_two_locks(tmp_path: Path) -> None:
    assert lock_path(_store(tmp_path), "a/b") != lock_path(_store(tmp_path), "a_b")


def test_one_store_reached_by_two_paths_has_one_lock(tmp_path: Path) -> None:
    """The lock was named by the store's resolved path: the same store through a bind mount (or
    a container's volume) had a second lock, and two sweeps of one experiment ran at once
    (audit of 2026-12-01). The lock lives in the store's folder and is named by its file: here a
    bind mount where this machine lets the tests mount, and in any case a folder renamed under a
    held lock, and the store spelt with a query string."""
    import os
    import subprocess

    first, second = tmp_path / "store", tmp_path / "alias"
    first.mkdir()
    second.mkdir()
    mounted = os.geteuid() == 0 and subprocess.run(
        ["mount", "--bind", str(first), str(second)], capture_output=True).returncode == 0
    try:
        with experiment_lock(_store(first), "exp"):
            assert is_locked(_store(second), "exp") == mounted
            assert is_locked(f"{_store(first)}?timeout=30", "exp")
            first.rename(tmp_path / "moved")
            assert is_locked(_store(tmp_path / "moved"), "exp")
            (tmp_path / "moved").rename(first)
    finally:
        if mounted:
            subprocess.run(["umount", str(second)], check=True)
    assert not is_locked(_store(first), "exp")
