"""Tracking URIs with credentials never shown whole: in errors, in `GET /sweeps/{id}`, on the
command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.service.conftest import free_port, tiny_grid, tuner_cli
from tests.service.serving import start_server, wait_done
from tuner.tracking.uri import redact_uri

PASSWORD = "s3cretPW"
_FAIL_FAST = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"}


@pytest.mark.parametrize("text, shown", [
    ("postgresql+psycopg2://mlflow:s3cret@db:5432/mlflow",
     "postgresql+psycopg2://mlflow:***@db:5432/mlflow"),
    ("http://user:p@ss@host:5000/x", "http://user:***@host:5000/x"),
    ("stores a://u:p@h and b://v:q@k/", "stores a://u:***@h and b://v:***@k/"),
    ("http://mlflow:5000/runs@x", "http://mlflow:5000/runs@x"),
    # userinfo alone is often a token (audit of 2026-12-01: shown in a failed sweep's error)
    ("http://TOKENSECRET@host:5000", "http://***@host:5000"),
    ("postgresql://mlflow@db/mlflow", "postgresql://***@db/mlflow"),
    ("postgresql://db/mlflow?user=u&password=pw&sslmode=require",
     "postgresql://db/mlflow?user=u&password=***&sslmode=require"),
    ("https://host/api?token=abc#top", "https://host/api?token=***#top"),
    # SQLAlchemy reads "pa/ss" as the password; other secret parameters (audit of 2026-12-01)
    ("postgresql://u:pa/ss@db/x", "postgresql://u:***@db/x"),
    ("postgresql://db/x?sslpassword=a&client_secret=b&sslmode=require",
     "postgresql://db/x?sslpassword=***&client_secret=***&sslmode=require"),
    ("https://s3/b?X-Amz-Credential=c&X-Amz-Signature=d&auth=e&sig=f",
     "https://s3/b?X-Amz-Credential=***&X-Amz-Signature=***&auth=***&sig=***"),
    ("postgresql://u:123/abc@db/x", "postgresql://u:***@db/x"),  # not a port
    ("mysql://u:99/x+y=@db:3306/m", "mysql://u:***@db:3306/m"),
    # SQLAlchemy reads "My Secret PW" as the password (attacker audit of 2026-12-03)
    ("store postgresql://mlflow:My Secret PW@127.0.0.1:1/mlflow cannot be used",
     "store postgresql://mlflow:***@127.0.0.1:1/mlflow cannot be used"),
    # but a URI without a password is not read up to a later mail address (review)
    ("cannot reach postgresql://dbhost:5432/mlflow; ask ops@example.com",
     "cannot reach postgresql://dbhost:5432/mlflow; ask ops@example.com"),
    ("tried postgresql://mlflow:5432/db and mysql://h:3306/x then mail admin@corp.org",
     "tried postgresql://mlflow:5432/db and mysql://h:3306/x then mail admin@corp.org"),
    # an http URI's userinfo ends before its path or query: the host stays shown
    ("http://a:b@h/x?q=me@y.com", "http://a:***@h/x?q=me@y.com"),
    ("http://host:5000?email=a@b.com", "http://host:5000?email=a@b.com"),
])
def test_redact_uri_hides_credentials(text: str, shown: str) -> None:
    assert redact_uri(text) == shown


def test_a_failed_sweep_shows_tuners_words_never_a_librarys() -> None:
    """A model loader's error quoted a value of the config.json it read (audit of 2026-12-01);
    tuner's own errors, which quote no file, are shown as they are."""
    from tuner.errors import SweepAbortedError, TrackingError
    from tuner.serve.errors import public_failure
    from tuner.serve.paths import DataRoots

    roots = DataRoots.of([Path("/srv/data")])
    leaked = ValueError("Field 'hidden_size' expected int, got str (value: 'zqxSECRET')")
    aborted = SweepAbortedError("experiment 'x': the sweep stopped after trials had started: "
                                "ValueError: (value: 'zqxSECRET')")
    aborted.__cause__ = leaked
    for err in (leaked, aborted):
        shown = public_failure(err, roots)
        assert "zqxSECRET" not in shown and "only in the server log (ref " in shown
    store = TrackingError(f"MLflow tracking store http://tuner:{PASSWORD}@db: unreachable")
    store.__cause__ = ConnectionError("refused")
    assert public_failure(store, roots) == \
        "TrackingError: MLflow tracking store http://tuner:***@db: unreachable"
    local = TrackingError("MLflow tracking store sqlite:////srv/private/mlflow.db cannot be "
                          "used: the name exceeds 500 characters")
    assert public_failure(local, roots, "sqlite:////srv/private/mlflow.db") == \
        "TrackingError: MLflow tracking store sqlite:///.../mlflow.db cannot be used: the name " \
        "exceeds 500 characters"


def test_the_sqlite_stores_folder_is_not_shown(tmp_path: Path) -> None:
    from tuner.errors import SweepLockedError, TrackingError
    from tuner.serve.errors import public_failure
    from tuner.serve.paths import DataRoots

    store = f"sqlite:///{tmp_path}/private/mlflow.db"
    roots = DataRoots.of([tmp_path / "data"])
    for err in (SweepLockedError(f"experiment 'x': another sweep on {store} holds "
                                 f"{tmp_path}/private/.locks/x-1.lock"),
                TrackingError(f"cannot write: Permission denied: '{tmp_path}/private'")):
        shown = public_failure(err, roots, store)
        assert str(tmp_path) not in shown, shown


def test_a_logged_error_is_one_line(caplog: pytest.LogCaptureFixture) -> None:
    """An experiment name with a newline forged a WARNING line in the server's log."""
    from tuner.serve.errors import log_reference

    with caplog.at_level("WARNING", logger="tuner.serve.errors"):
        ref = log_reference(ValueError("name\nWARNING tuner.serve.errors: ref 0: forged\r"))
    assert caplog.messages == [f"ref {ref}: ValueError: name\\nWARNING tuner.serve.errors: "
                               "ref 0: forged\\r"]


def test_the_servers_log_escapes_what_a_client_wrote_traceback_and_all() -> None:
    """A 500's line quoted the request's path as sent: a query of terminal escapes set the
    operator's terminal title and cleared it (attacker audit of 2026-12-04)."""
    import logging
    import sys

    from tuner.cli import LOG_FORMAT
    from tuner.serve.errors import EscapedLog

    path = "/sweeps?\x1b]0;PWNED\x07\x1b[2J\nINFO tuner.serve: forged"
    try:  # a message line that starts as a frame's does, or as a module's name (review)
        err = ValueError(f"bad value \x1b[31m{path}\n  File x\ntuner.serve.jobs: sweep done")
        err.add_note("a note\nINFO tuner.serve.jobs: forged")  # notes are split into lines
        raise err
    except ValueError:
        record = logging.LogRecord("tuner.serve.server", logging.ERROR, __file__, 1,
                                   "%s %s failed", ("POST", path), sys.exc_info())
    line = EscapedLog(LOG_FORMAT).format(record)
    assert "\x1b" not in line and "\x07" not in line
    head, *traceback = line.split("\n")
    assert head == ("ERROR tuner.serve.server: POST /sweeps?\\x1b]0;PWNED\\x07\\x1b[2J\\n"
                    "INFO tuner.serve: forged failed")
    assert traceback[0] == "Traceback (most recent call last):"
    assert traceback[-1].startswith("ValueError: bad value \\x1b[31m/sweeps?")
    assert traceback[-1].endswith("forged\\n  File x\\ntuner.serve.jobs: sweep done\\n"
                                  "a note\\nINFO tuner.serve.jobs: forged")
    assert traceback[1].startswith("  File ") and len(traceback) == 4  # the frame's two lines
    assert record.msg == "%s %s failed" and record.args == ("POST", path)  # others see it so


def _unreachable_store() -> str:
    return f"http://tuner:{PASSWORD}@127.0.0.1:{free_port()}"


def test_sweep_status_does_not_show_the_store_password(tmp_path: Path, small_corpus: Path,
                                                       session_cache: Path) -> None:
    """Issue #10 item 12: `GET /sweeps/{id}` showed user:password@ of the tracking URI."""
    (tmp_path / "grids").mkdir()
    (tmp_path / "datasets").mkdir()
    shutil.copy(small_corpus, tmp_path / "datasets" / "corpus.jsonl")
    (tmp_path / "grids" / "tiny.json").write_text(json.dumps(tiny_grid(
        "redacted", Path("../datasets/corpus.jsonl"), [1])))
    env = {**_FAIL_FAST, "TUNER_LOCK_DIR": str(tmp_path / "locks")}
    served = start_server(tmp_path, session_cache, env=env, store=_unreachable_store())
    try:
        status, job = served.call("POST", "/sweeps", {"grid": "tiny.json"})
        assert status == 202, job
        done = wait_done(served, job["id"], timeout=120)
        listed = served.call("GET", "/sweeps")[1]
    finally:
        served.stop()
    assert done["status"] == "failed"
    assert "TrackingError: MLflow tracking store http://tuner:***@127.0.0.1:" in done["error"]
    assert PASSWORD not in json.dumps([done, listed])
    assert PASSWORD not in served.log_text()


def test_cli_error_does_not_show_the_store_password(tmp_path: Path, small_corpus: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in _FAIL_FAST.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TUNER_LOCK_DIR", str(tmp_path / "locks"))
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps(tiny_grid("redacted-cli", small_corpus, [1])))
    done = tuner_cli("run", str(grid), "--tracking-uri", _unreachable_store(), "--cache-dir",
                     str(tmp_path / "cache"), "--quiet", cwd=tmp_path, timeout=300)
    assert done.returncode != 0
    assert "tuner:***@127.0.0.1" in done.stdout + done.stderr
    assert PASSWORD not in done.stdout + done.stderr


def test_a_store_error_that_kept_the_sweep_from_opening_is_only_in_the_server_log() -> None:
    """It quotes the store's library (root_cause), whose text tuner does not control (review
    of 2026-12-03)."""
    import sqlite3

    from tuner.errors import SweepNotStartedError, root_cause
    from tuner.serve.errors import public_failure
    from tuner.serve.paths import DataRoots

    try:
        try:
            raise sqlite3.OperationalError("attempt to write a readonly database")
        except sqlite3.OperationalError as inner:
            raise SweepNotStartedError(f"no trial started: {root_cause(inner)}") from inner
    except SweepNotStartedError as err:
        shown = public_failure(err, DataRoots.of(()))
    assert "readonly" not in shown and "only in the server log" in shown
    try:
        try:
            raise KeyError("hidden")
        except KeyError:
            raise ValueError("outer") from None  # noqa: B904 - a context it means to hide
    except ValueError as hiding:
        assert root_cause(hiding) == "ValueError: outer"


def test_a_named_grids_files_outside_the_roots_show_only_their_names(tmp_path: Path) -> None:
    """A named grid may read data outside the data roots; its validation errors and a failed
    sweep's reason named the operator's folders in full (attacker audit of 2026-12-03)."""
    from tuner.errors import CacheError, GridError, GroundTruthError
    from tuner.serve.errors import public_failure, validation_error
    from tuner.serve.paths import DataRoots

    roots = DataRoots.of([tmp_path / "data"])
    private = tmp_path / "private corpora" / "news.jsonl"  # a folder name with a space
    grid = tmp_path / "grids" / "news.json"
    bad = GridError([f"{grid}: dataset.path: {private} is not a file",
                     f"{grid}: ground_truth: {tmp_path}/data/labels.json is not a file; see "
                     "https://example.org/docs/grid"])
    lines = validation_error(bad, grid, "news.json", roots, {}).problems
    assert lines == ["news.json: dataset.path: .../news.jsonl is not a file",
                     "news.json: ground_truth: data/labels.json is not a file; see "
                     "https://example.org/docs/grid"]
    quoted = GroundTruthError(f"{private.parent}/truth.json: line 3 holds 'secret'")
    answer = validation_error(quoted, grid, "news.json", roots,
                              {"ground_truth": private.parent / "truth.json"})
    assert "private" not in str(answer.problems) and ".../truth.json" in answer.problems[0]
    failed = public_failure(CacheError("/var/cache/tuner/bow: the cache folder cannot be "
                                       "written"), roots)
    assert failed == "CacheError: .../bow: the cache folder cannot be written"
    # whether a folder exists is not told by how its path is shown (attacker audit of
    # 2026-12-04: /srv/a/b was cut, /nothing/a/b was not)
    assert roots.public("got '/tmp/a/b' and '/no-such-folder-here/a/b'") == \
        "got '.../b' and '.../b'"
    # a folder's name with an apostrophe, two spaces or a tab is cut whole (second round)
    assert roots.public("/srv/a/it's data/x.jsonl; /srv/a  b/c/y.jsonl; /srv/t\tx/z.jsonl") \
        == ".../x.jsonl; .../y.jsonl; .../z.jsonl"
    # nor are capitals a placeholder's mark (review of 2026-12-04)
    assert roots.public("/home/alice/secret/CORPUS; /srv/data/NEWS-2024.jsonl; "
                        "/models/deep/NAME") == ".../CORPUS; .../NEWS-2024.jsonl; .../NAME"
    # an API path or a command's placeholder is not a folder of the server's (review)
    assert roots.public("GET /sweeps/ID; tuner --local-dir /models/NAME; see "
                        "file:///var/mlruns/0/a.json") == \
        "GET /sweeps/ID; tuner --local-dir /models/NAME; see file://.../a.json"
