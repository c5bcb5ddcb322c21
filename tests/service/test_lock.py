"""One sweep per experiment: overlapping `tuner run`s (e.g. from cron) exit with code 3."""

from __future__ import annotations

import json
from pathlib import Path

from tests.service.conftest import tiny_grid, tuner_cli
from tuner.flow import experiment_lock, is_locked, lock_path


def test_run_exits_3_while_another_sweep_holds_the_experiment(tmp_path: Path,
                                                              small_corpus: Path) -> None:
    """The lock belongs to the (store, experiment): a sweep with another cache folder on the
    same store is refused too (it would mark the first sweep's live runs FAILED)."""
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps(tiny_grid("cron-exp", small_corpus, [1])), encoding="utf-8")
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with experiment_lock(tmp_path / "cache-a", "cron-exp", store):
        done = tuner_cli("run", str(grid), "--cache-dir", str(tmp_path / "cache-b"),
                         "--tracking-uri", store, "--quiet", cwd=tmp_path)
    assert done.returncode == 3, done.stderr
    assert f"experiment 'cron-exp': another sweep holds {tmp_path}/.locks/cron-exp.lock" \
        in done.stderr
    assert not (tmp_path / "mlflow.db").exists()  # nothing was started


def test_server_stores_get_a_lock_each(tmp_path: Path) -> None:
    one = lock_path(tmp_path, "exp", "http://tracking-a:5000")
    assert one != lock_path(tmp_path, "exp", "http://tracking-b:5000")
    assert one.parent == tmp_path / ".locks"
    with experiment_lock(tmp_path, "exp", "http://tracking-a:5000"):
        assert is_locked(tmp_path / "elsewhere", "exp", f"sqlite:///{tmp_path}/x.db") is False
        assert is_locked(tmp_path, "exp", "http://tracking-a:5000")


def test_lock_is_free_again_after_the_sweep(tmp_path: Path) -> None:
    with experiment_lock(tmp_path, "exp"):
        assert is_locked(tmp_path, "exp")
    assert not is_locked(tmp_path, "exp")


def test_lock_of_another_experiment_does_not_block(tmp_path: Path) -> None:
    with experiment_lock(tmp_path, "exp-a"):
        assert not is_locked(tmp_path, "exp-b")


def test_lock_file_name_stays_inside_the_lock_folder(tmp_path: Path) -> None:
    assert lock_path(tmp_path, "../../etc/x y").parent == tmp_path / ".locks"
