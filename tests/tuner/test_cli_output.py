"""What `tuner run` and `tuner report` print when their output goes to a log (a pipe, as under
cron): trial progress as summary lines, and no library chatter unless -v."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, make_grid, sqlite_store

TRIALS = 3
SUMMARY = re.compile(r"^\[trials\] (\d+)/(\d+) done .*· elapsed \d+s · ETA (\d+s|\?)$")
TABLES_NOISE = "Creating initial MLflow database tables"
DOWNLOAD_NOISE = "Downloading artifacts"


def tuner(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`python -m tuner.cli ARGS` with stdout and stderr captured: not a terminal."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for name in ("MLFLOW_LOGGING_LEVEL", "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"):
        env.pop(name, None)
    done = subprocess.run([sys.executable, "-m", "tuner.cli", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory, small_corpus: Path) -> dict[str, object]:
    """A 3-trial LDA sweep into a new SQLite store, then its report, both piped."""
    folder = tmp_path_factory.mktemp("piped")
    grid = make_grid(folder, small_corpus, experiment="piped",
                     params={"num_topics": [5, 6, 7], "vocab_size": 1000, "lda.max_iter": 10})
    uri = sqlite_store(folder / "mlflow.db")
    run = tuner("run", str(grid), "--tracking-uri", uri, "--max-workers", "1",
                "--cache-dir", str(folder / "cache"), cwd=folder)
    report = tuner("report", "piped", "--tracking-uri", uri, "--out", str(folder / "report"),
                   cwd=folder)
    return {"run": run, "report": report, "uri": uri, "folder": folder}


def test_run_prints_a_summary_line_per_tenth_of_the_trials(sweep: dict) -> None:
    lines = [line for line in sweep["run"].stdout.splitlines() if line.startswith("[trials]")]
    assert [SUMMARY.match(line).groups()[:2] for line in lines] == [  # type: ignore[union-attr]
        (str(done), str(TRIALS)) for done in range(1, TRIALS + 1)]
    assert lines[-1].endswith("ETA 0s")


def test_run_prints_no_progress_bar_into_a_log(sweep: dict) -> None:
    assert "\r" not in sweep["run"].stdout + sweep["run"].stderr


def test_first_run_prints_no_database_setup_lines(sweep: dict) -> None:
    assert TABLES_NOISE not in sweep["run"].stderr + sweep["run"].stdout


def test_report_prints_no_download_bars(sweep: dict) -> None:
    assert DOWNLOAD_NOISE not in sweep["report"].stderr + sweep["report"].stdout
    assert "report: " in sweep["report"].stdout


def test_verbose_report_shows_library_output(sweep: dict) -> None:
    folder = sweep["folder"]
    verbose = tuner("-v", "report", "piped", "--tracking-uri", sweep["uri"], "--out",
                    str(folder / "report-v"), cwd=folder)
    assert DOWNLOAD_NOISE in verbose.stderr


def test_a_rescored_trial_says_so(sweep: dict, small_corpus: Path, tmp_path: Path) -> None:
    """New metric settings re-score the stored fits; the console read like fresh fits."""
    grid = make_grid(tmp_path, small_corpus, experiment="piped",
                     params={"num_topics": [5, 6, 7], "vocab_size": 1000, "lda.max_iter": 10},
                     metrics={"npmi_window": 5, "topn": 10, "diversity_topn": 25})
    run = tuner("run", str(grid), "--tracking-uri", str(sweep["uri"]), "--max-workers", "1",
                "--cache-dir", str(Path(sweep["folder"]) / "cache"), cwd=tmp_path)  # type: ignore[arg-type]
    trial_lines = [line for line in run.stdout.splitlines() if line.startswith("  COMPLETE")]
    assert len(trial_lines) == TRIALS
    assert all("(re-scored; fit of run " in line for line in trial_lines)
    assert f"{TRIALS} completed ({TRIALS} re-scored from their stored fits" in run.stdout


def test_tuners_own_warnings_read_as_its_printed_ones() -> None:
    """`tuner best` said "WARNING tuner.reporting.best: ..." among "warning: ..." lines
    (new-user audit of 2026-12-03); a library's warning keeps its logger's name, and a
    traceback is kept."""
    import logging

    from tuner.cli import PlainWarnings

    plain = PlainWarnings("%(levelname)s %(name)s: %(message)s")

    def record(name: str, level: int, exc_info: object = None) -> logging.LogRecord:
        return logging.LogRecord(name, level, __file__, 1, "the best %s is %s", ("ari", "x"),
                                 exc_info)  # type: ignore[arg-type]

    assert plain.format(record("tuner.reporting.best", logging.WARNING)) == \
        "warning: the best ari is x"
    assert plain.format(record("mlflow.store", logging.WARNING)) == \
        "WARNING mlflow.store: the best ari is x"
    try:
        raise ValueError("boom")
    except ValueError:
        failed = plain.format(record("tuner.flow", logging.ERROR, sys.exc_info()))
    assert failed.startswith("ERROR tuner.flow: the best ari is x") and "ValueError" in failed
