"""Where results live: the Tracker protocol and its MLflow implementation.

The parent process is the only writer; runs are addressed by explicit ids (no fluent API).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import logging
import os
import re
import socket
import tempfile
import time
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import SplitResult, urlsplit

from tuner.data.store import replace_text_atomically
from tuner.errors import TrackingError, TunerError, root_cause
from tuner.params import closest
from tuner.tracking.journal import ForeignEntry, Journal
from tuner.tracking.liveness import beating, silent_for, sweep_alive, sweep_tags
from tuner.tracking.records import (
    CURVE_PREFIX,
    DATA_PARAM,
    FinishedTrial,
    PastCurve,
    StoredRun,
    SweepRun,
    by_step,
    current_trials,
    finished_trial,
    is_pruned,
    one_run_a_trial,
    param_schema,
    richest_fits,
    shown_as,
    stored_run,
    stored_words,
    sweep_run,
)
from tuner.tracking.tags import (
    BATCH_ID_TAG,
    CLAIMED_TAG,
    CONFIG_KEY_TAG,
    CONTEXT_TAG,
    CORPUS_SHA256_TAG,
    COVARIATES_TAG,
    EMBEDDING_KEY_TAG,
    ERROR_TAG,
    ERROR_TYPE_TAG,
    FIT_KEY_TAG,
    HEARTBEAT_TAG,
    HOST_TAG,
    MODEL_TAG,
    PID_TAG,
    PRUNED_BY_TAG,
    REFUSED_TAG,
    RESCORED_FROM_TAG,
    REVISION_TAG,
    ROLE_TAG,
    STALE_TAG,
    STATUS_TAG,
    THREADS_TAG,
    TRIAL_KEY_TAG,
    WORKER_TAG,
)
from tuner.tracking.uri import local_store, redact_uri, store_identity
from tuner.trial import StoredFit, TrialRecord, TrialSpec, TrialStatus, data_name

log = logging.getLogger(__name__)
EXTRAS_FILE = "extras.json"  # what a model reports beyond its metrics
SWEEP_SETTINGS_FILE = "sweep_settings.json"  # on a sweep run: its grid's resolved sections
EMBEDDING_NAMED = "embedding_named"  # in that file: whether the grid named its embedding model
SWEEP_CONFIGS_FILE = "sweep_configs.json"  # on a sweep run: the config keys it asked for
WARNINGS_FILE = "warnings.json"  # on a sweep run: what validation and precompute warned of
GROUND_TRUTH_FILE = "ground_truth.json"  # on a sweep run: its labels, {label: [doc ids]}
DEFAULT_STORE = Path("mlruns")
SECRET_MARKERS = ("password", "secret", "token", "api_key", "apikey")


@dataclass(frozen=True)
class SweepHandle:
    experiment_id: str
    run_id: str
    batch_id: str
    doc_ids: tuple[str, ...] = ()


class Tracker(Protocol):
    """Where a sweep's results live. The parent process is the only writer."""

    def start_sweep(self, experiment: str, tags: Mapping[str, str], params: Mapping[str, Any],
                    doc_ids: Sequence[str] = ()) -> SweepHandle: ...

    def finished_keys(self, sweep: SweepHandle) -> set[str]: ...

    def finished_metrics(self, sweep: SweepHandle) -> dict[str, dict[str, float]]: ...

    def finished_fits(self, sweep: SweepHandle) -> dict[str, str]: ...

    def pruned_keys(self, sweep: SweepHandle, pruned_by: str) -> set[str]: ...

    def learning_curves(self, sweep: SweepHandle, keys: Collection[str], pruned_by: str,
                        context: str, metric: str) -> list[PastCurve]: ...

    def stored_fit(self, run_id: str, words_needed: int) -> StoredFit | None: ...

    def log_json(self, run_id: str, name: str, payload: Mapping[str, Any]) -> None: ...

    def fail_stale_runs(self, sweep: SweepHandle) -> int: ...

    def swept_elsewhere(self, experiment_id: str, mine: SweepHandle | None = None
                        ) -> str | None: ...

    def keep_alive(self, sweep: SweepHandle) -> AbstractContextManager[None]: ...

    def discard_sweep(self, sweep: SweepHandle) -> None: ...

    def start_trial(self, sweep: SweepHandle, spec: TrialSpec) -> str: ...

    def finish_trial(self, sweep: SweepHandle, run_id: str, record: TrialRecord) -> None: ...

    def drop_trial(self, run_id: str) -> None: ...

    def end_run(self, run_id: str, status: str) -> None: ...

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None: ...

    def end_sweep(self, sweep: SweepHandle, status: str, metrics: Mapping[str, float]) -> None: ...

    # read side: the records every reader (leaderboard, report, best, flow) uses
    def finished_trials(self, experiment: str) -> list[FinishedTrial]: ...

    def failed_trials(self, experiment: str) -> list[FinishedTrial]: ...

    def sweep_runs(self, experiment: str) -> list[SweepRun]: ...

    def topics(self, run_id: str) -> dict[str, list[str]]: ...

    def read_json(self, run_id: str, name: str) -> dict[str, Any] | None: ...

    def log_report(self, run_id: str, local_path: Path, artifact_path: str | None = None
                   ) -> None: ...


def default_tracking_uri(root: Path = DEFAULT_STORE) -> str:
    """SQLite store under `root`: MLflow 3 refuses a plain file store by default."""
    return f"sqlite:///{(root / 'mlflow.db').resolve()}"


def resolve_tracking_uri(explicit: str | None, store_root: Path = DEFAULT_STORE) -> str:
    return explicit or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri(store_root)


DATABASE_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")  # MLflow's SQLAlchemy store


def import_tracking_libraries(tracking_uri: str) -> None:
    """Import what `MlflowTracker(tracking_uri)` will need: MLflow's client and, for a database,
    its SQLAlchemy store (together about 1.9 CPU s of a command's start-up), so that `tuner run`
    imports them without the cyclic collector (tuner.startup) before it opens the store."""
    import mlflow.tracking  # noqa: F401

    if urlsplit(tracking_uri).scheme.split("+", 1)[0].lower() in DATABASE_SCHEMES:
        import mlflow.store.tracking.sqlalchemy_store  # noqa: F401


def open_client(tracking_uri: str, existing: bool = False) -> Any:
    """An MlflowClient; opening a new SQLite store creates its tables, so two commands that
    open one new store at once take turns (otherwise they race: "table assessments already
    exists", or alembic's "Online migration expected to match one row"). With
    `existing`, a SQLite store must be there already (a command that only reads).

    Raises:
        TrackingError: the store cannot be opened (an unknown scheme, a database driver that is
            not installed, a server that cannot be reached, no store where one must be).
    """
    try:
        return _client(tracking_uri, existing)
    except TrackingError:
        raise
    except Exception as err:
        driver = (f"; install the database driver {err.name} (PostgreSQL's psycopg2: pip "
                  "install 'tuner[service]')" if isinstance(err, ModuleNotFoundError) else "")
        reason = store_hint(tracking_uri) or f"{type(err).__name__}: {sentences(str(err))}"
        raise TrackingError(redact_uri(f"MLflow tracking store {tracking_uri} cannot be used: "
                                       f"{reason}{driver}")) from err


STORE_SCHEMES = (*DATABASE_SCHEMES, "http", "https", "databricks")


def store_hint(tracking_uri: str) -> str:
    """What to write instead, for the two slips MLflow's own message does not explain (it spoke
    of a "maintenance mode", or listed the model registry's schemes): a path (`mlruns/mlflow.db`,
    as the README names the default store) and a misspelt scheme. Empty for any other URI."""
    parts = urlsplit(tracking_uri)
    scheme = parts.scheme.split("+", 1)[0].lower()
    if scheme in ("", "file") or len(scheme) == 1:  # a path, or C:\\... on Windows
        path = parts.path if scheme == "file" else tracking_uri
        return (f"a path names MLflow's file store, which MLflow 3 refuses; for a SQLite store "
                f"write sqlite:///{path}")
    if scheme not in STORE_SCHEMES:
        return (f"'{parts.scheme}' is not a store's scheme; tuner's stores are sqlite:///PATH, "
                "postgresql://HOST/DATABASE or http(s)://SERVER")
    return ""


def sentences(text: str, most: int = 300) -> str:
    """`text`'s first line, or its whole sentences within `most` characters (a cut left "See
    htt"; SQLAlchemy's errors go on with the statement, several lines of SQL)."""
    text = text.strip().partition("\n")[0]
    if len(text) <= most:
        return text
    end = text.rfind(". ", 0, most)
    return text[:end + 1] if end > 0 else text[:most] + "..."


def _client(tracking_uri: str, existing: bool) -> Any:
    from filelock import FileLock
    from mlflow.tracking import MlflowClient

    if not tracking_uri.startswith("sqlite:///"):
        _check_reachable(tracking_uri)
        return MlflowClient(tracking_uri=tracking_uri)
    database = Path(tracking_uri.removeprefix("sqlite:///").split("?", 1)[0])
    if existing and not database.is_file():
        raise TrackingError(f"no MLflow store at {database}: check --tracking-uri (or "
                            "MLFLOW_TRACKING_URI), or run from the folder whose mlruns/ holds "
                            "the sweep")
    database.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(database) + ".lock"):
        if not database.exists():
            _create_store(database.resolve())  # a link to a store to be made: made where it leads
        return MlflowClient(tracking_uri=tracking_uri)


def _create_store(database: Path) -> None:
    """A new SQLite store: MLflow's tables made under a temporary name, with an engine of our
    own closed before the file is renamed into place (MLflow keeps its engines open for the
    process's life). Without it, a full disk during the migrations leaves a half-migrated store
    that every later run refuses ("table spans already exists"). Called under the
    store's file lock, so a temporary file left by a killed process is nobody's."""
    import sqlalchemy
    from mlflow.store.db.utils import _initialize_tables

    for stale in database.parent.glob(f".{database.name}.*.new*"):
        stale.unlink(missing_ok=True)
    temporary = database.with_name(f".{database.name}.{os.getpid()}.new")
    engine = sqlalchemy.create_engine(f"sqlite:///{temporary}",
                                      poolclass=sqlalchemy.pool.NullPool)
    try:
        try:
            _initialize_tables(engine)
        finally:
            engine.dispose()
        os.replace(temporary, database)
    finally:
        for leftover in (temporary, Path(f"{temporary}-journal")):
            leftover.unlink(missing_ok=True)


REACH_TIMEOUT_S = 10.0


def _proxied(parts: SplitResult) -> bool:
    """Whether MLflow's client (requests) reaches this address through a proxy (HTTP(S)_PROXY
    and NO_PROXY): then a direct connection proves nothing, and may be impossible."""
    from urllib.request import getproxies, proxy_bypass

    return parts.scheme in getproxies() and not proxy_bypass(parts.hostname or "")


def _check_reachable(tracking_uri: str) -> None:
    """A tracking server's address must accept a connection: MLflow's client retries an
    unreachable server for about 4 minutes, printing a warning per try, before it fails. Only
    the connection is checked, once; later requests keep MLflow's retries
    for a server that blips during a sweep."""
    parts = urlsplit(tracking_uri)
    if parts.scheme not in ("http", "https") or not parts.hostname or _proxied(parts):
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=REACH_TIMEOUT_S).close()
    except OSError as err:
        raise TrackingError(redact_uri(f"MLflow tracking store {tracking_uri} cannot be "
                                       f"reached: {err.strerror or type(err).__name__}; is it "
                                       "running, and is the address right?")) from err


class MlflowTracker:
    """Logs a sweep as a parent run and each trial as a child run, with explicit run ids."""

    def __init__(self, tracking_uri: str, journal_dir: Path | None = None,
                 existing: bool = False) -> None:
        self.tracking_uri = tracking_uri
        store = DEFAULT_STORE
        if tracking_uri.startswith("sqlite:///"):
            store = Path(tracking_uri.removeprefix("sqlite:///")).parent  # open_client makes it
        # Beside the cache when the caller says so (a volume under docker-compose), else beside
        # a SQLite store; never relative to the working directory of whoever runs the sweep.
        self.journal_dir = Path(journal_dir) if journal_dir else store.resolve() / "journal"
        self.client = open_client(tracking_uri, existing)
        self._artifact_folders: dict[str, Path] = {}  # open trial runs whose artifacts are local
        self._finished: list[Any] = []
        self._finished_for: str | None = None
        self.journalled = 0  # results the store refused since this tracker opened

    def _artifact_location(self, experiment: str) -> str | None:
        if not self.tracking_uri.startswith("sqlite:///"):
            return None  # a server decides where artifacts go
        return (self._artifacts_root() / artifact_folder_name(experiment)).resolve().as_uri()

    def _artifacts_root(self) -> Path:
        """A SQLite store's `artifacts/` folder, beside its database file."""
        database = self.tracking_uri.removeprefix("sqlite:///").split("?", 1)[0]
        return Path(database).parent.resolve() / "artifacts"

    def artifacts_elsewhere(self, experiment: str) -> bool:
        """Whether `experiment` is in this SQLite store and keeps its artifacts in a local folder
        outside the store's `artifacts/`: MLflow's own Default experiment keeps them under the
        folder its store was first opened in (a client of `tuner serve` can write there), an
        experiment made with MLflow's API wherever it was told."""
        if not self.tracking_uri.startswith("sqlite:///"):
            return False  # a server decides where artifacts go
        from urllib.parse import unquote, urlparse

        found = self.client.get_experiment_by_name(experiment)
        if found is None or not found.artifact_location:
            return False
        raw = str(found.artifact_location)
        scheme = urlparse(raw).scheme
        if scheme not in ("", "file"):
            return False  # an object store the operator chose
        # A path is read as MLflow writes under it, whole: parsed as a URL, "x#/../../out" loses
        # its climb out to the fragment and passes.
        path = unquote(raw.removeprefix("file://")) if scheme else raw
        if "#" in path or "?" in path:
            return True
        return not Path(path).resolve().is_relative_to(self._artifacts_root())

    def experiment_id(self, experiment: str, create: bool = True) -> str | None:
        try:
            found = self.client.get_experiment_by_name(experiment)
            if found is not None:
                return str(found.experiment_id)
            if not create:
                return None
            return str(self.client.create_experiment(
                experiment, artifact_location=self._artifact_location(experiment)))
        except Exception as err:
            message = (f"MLflow tracking store {self.tracking_uri} cannot be used: "
                       f"{type(err).__name__}: {sentences(str(err))}")
            raise TrackingError(redact_uri(message)) from err

    def start_sweep(self, experiment: str, tags: Mapping[str, str], params: Mapping[str, Any],
                    doc_ids: Sequence[str] = ()) -> SweepHandle:
        experiment_id = self.experiment_id(experiment)
        assert experiment_id is not None
        batch_id = uuid.uuid4().hex[:12]
        run = self.client.create_run(
            experiment_id, run_name=f"sweep-{time.strftime('%Y%m%d-%H%M%S')}-{batch_id[:4]}",
            tags={ROLE_TAG: "sweep", BATCH_ID_TAG: batch_id,
                  **sweep_tags(os.getpid(), beats=self._beats), **tags})
        try:
            self._log_params(run.info.run_id, params)
        except Exception:  # not left RUNNING until the next sweep's stale check
            with contextlib.suppress(Exception):
                self.client.set_terminated(run.info.run_id, "FAILED")
            raise
        return SweepHandle(experiment_id, run.info.run_id, batch_id, tuple(doc_ids))

    def finished_keys(self, sweep: SweepHandle) -> set[str]:
        return set(self.finished_metrics(sweep))

    def finished_metrics(self, sweep: SweepHandle) -> dict[str, dict[str, float]]:
        """Trial key -> metrics of every FINISHED trial run of the sweep's experiment that ran
        its full budget (not pruned)."""
        return {run.data.tags[TRIAL_KEY_TAG]: dict(run.data.metrics)
                for run in self._finished_runs(sweep)
                if TRIAL_KEY_TAG in run.data.tags and not is_pruned(run.data.tags)}

    def finished_fits(self, sweep: SweepHandle) -> dict[str, str]:
        """Fit key -> run id of a FINISHED, not pruned trial run of the sweep's experiment with
        that fit (a pruned fit is not re-scored: its training was cut short)."""
        return richest_fits((run.data.tags[FIT_KEY_TAG], run.data.params, str(run.info.run_id))
                            for run in self._finished_runs(sweep)
                            if run.data.tags.get(FIT_KEY_TAG) and not is_pruned(run.data.tags))

    def pruned_keys(self, sweep: SweepHandle, pruned_by: str) -> set[str]:
        """Trial keys of the sweep's experiment's runs that a pruner stopped, with the verdict
        `pruned_by` names (tuner.engine.pruning.pruning_identity)."""
        return {run.data.tags[TRIAL_KEY_TAG] for run in self._finished_runs(sweep)
                if TRIAL_KEY_TAG in run.data.tags and is_pruned(run.data.tags)
                and run.data.tags.get(PRUNED_BY_TAG) == pruned_by}

    def learning_curves(self, sweep: SweepHandle, keys: Collection[str], pruned_by: str,
                        context: str, metric: str) -> list[PastCurve]:
        """The `curve/<metric>` history of each trial among `keys` as a re-run skips it: its
        FINISHED run judged on `context` by its trainer's current revision that ran in full,
        else one pruned with the verdict `pruned_by`; oldest first. One read of the store per
        trial with such a curve."""
        name = f"{CURVE_PREFIX}{metric}"
        runs = [stored_run(run) for run in self._finished_runs(sweep)
                if run.data.tags.get(TRIAL_KEY_TAG) in keys and name in run.data.metrics
                and run.data.tags.get(CONTEXT_TAG) == context
                and (not is_pruned(run.data.tags) or run.data.tags.get(PRUNED_BY_TAG) == pruned_by)]
        return [PastCurve(trial, by_step((m.step, m.value) for m in sorted(
                    self.client.get_metric_history(trial.run_id, name),
                    key=lambda m: m.timestamp)))
                for trial in sorted(one_run_a_trial(current_trials(runs)),
                                    key=lambda t: t.start_time or 0)]

    def finished_trial_keys(self, experiment_id: str, pruned: bool) -> set[str]:
        """The trial keys of the experiment's FINISHED trial runs, pruned ones with `pruned`
        (done for a sweep that prunes: its pruner judged them), before any sweep run opens."""
        return {run.data.tags[TRIAL_KEY_TAG]
                for run in self.trial_runs(experiment_id, "attributes.status = 'FINISHED'")
                if TRIAL_KEY_TAG in run.data.tags and (pruned or not is_pruned(run.data.tags))}

    def finished_run_of(self, experiment_id: str, keys: Collection[str], context: str | None
                        ) -> str | None:
        """The id of a FINISHED trial run with one of the trial `keys` (the first that has
        one), judged on the data of `context`; None when there is none."""
        for key in keys:
            for run in self.trial_runs(experiment_id, "attributes.status = 'FINISHED' and "
                                       f"tags.`{TRIAL_KEY_TAG}` = '{key}'"):
                if run.data.tags.get(CONTEXT_TAG) == context:
                    return str(run.info.run_id)
        return None

    def _finished_runs(self, sweep: SweepHandle) -> list[Any]:
        """The FINISHED trial runs: one search of the store serves both views above (the
        runner asks for both before any trial); any write here forgets it."""
        if self._finished_for != sweep.run_id:
            self._finished = self.trial_runs(sweep.experiment_id,
                                              "attributes.status = 'FINISHED'")
            self._finished_for = sweep.run_id
        return self._finished

    def stored_fit(self, run_id: str, words_needed: int) -> StoredFit | None:
        """The topics and assignments a finished run logged, or None when they are missing or
        were cut shorter than `words_needed` words per topic (that fit must then run again)."""
        try:
            with tempfile.TemporaryDirectory(prefix="tuner-fit-") as folder:
                topics = json.loads(Path(self.client.download_artifacts(
                    run_id, "topics.json", folder)).read_text(encoding="utf-8"))
                table = Path(self.client.download_artifacts(run_id, "assignments.csv", folder))
                rows = list(csv.DictReader(io.StringIO(table.read_text(encoding="utf-8"))))
                extras = self._extras(run_id, folder)
            words = [topics[str(i)] for i in range(len(topics))]
            assignments = [int(row["topic"]) for row in rows]
            run = self.client.get_run(run_id)
            stored = stored_words(run.data.params)
        except Exception as err:  # a missing or damaged artifact: fit again, nothing lost
            log.info("run %s cannot be re-scored (%s); its trial runs again", run_id, err)
            return None
        if stored < words_needed:  # the run kept fewer ranked words than scoring now reads
            return None
        threads = run.data.tags.get(THREADS_TAG, "")
        return StoredFit(run_id, words, assignments, dict(run.data.metrics), extras,
                         int(threads) if threads.isdigit() else 0,
                         tuple(row.get("doc_id") or "" for row in rows))

    def _extras(self, run_id: str, folder: str) -> dict[str, Any]:
        """A run's extras.json ({} when it logged none: a model with nothing extra to say). A
        store that fails here fails the whole read, so the fit runs again rather than lose it."""
        if EXTRAS_FILE not in {a.path for a in self.client.list_artifacts(run_id)}:
            return {}
        path = Path(self.client.download_artifacts(run_id, EXTRAS_FILE, folder))
        loaded = json.loads(path.read_text(encoding="utf-8"))
        return loaded if isinstance(loaded, dict) else {}

    def trial_runs(self, experiment_id: str, condition: str = "",
                   order_by: list[str] | None = None) -> list[Any]:
        """Every trial run of an experiment matching `condition` (an MLflow filter clause)."""
        query = f"tags.`{ROLE_TAG}` = 'trial'" + (f" and {condition}" if condition else "")
        return self._search_all(experiment_id, query, order_by)

    def _search_all(self, experiment_id: str, query: str,
                    order_by: list[str] | None = None) -> list[Any]:
        """Every run matching `query`, page by page (a search stops at 1,000 a page)."""
        runs: list[Any] = []
        token = None
        while True:
            page = self.client.search_runs([experiment_id], filter_string=query,
                                           max_results=1000, order_by=order_by,
                                           page_token=token)
            runs.extend(page)
            token = page.token
            if not token:
                return runs

    def _owner_alive(self, run: Any, owners: dict[str, bool]) -> bool:
        """Whether the sweep that opened `run` still runs (tracking.liveness)."""
        sweep_id = run.data.tags.get("mlflow.parentRunId", run.info.run_id)
        if sweep_id not in owners:
            try:
                tags = self.client.get_run(sweep_id).data.tags
            except Exception:  # the sweep run is gone: nothing owns this run
                tags = {}
            owners[sweep_id] = sweep_alive(tags)
        return owners[sweep_id]

    def swept_elsewhere(self, experiment_id: str, mine: SweepHandle | None = None) -> str | None:
        """Another live sweep of the experiment (tracking.liveness), said for an error; None
        when there is none. This host's lock keeps its own sweeps apart; this finds another
        host's, or one of this host the lock cannot see (another spelling of a server's
        address). With `mine`, asked once its own run has claimed the experiment (CLAIMED_TAG):
        one that claimed it too, whenever it opened, or one of a tuner that does not claim
        that opened before it (start time, then run id). Of two sweeps two hosts open at once,
        the one that looks second sees the other's claim, whatever their clocks say: at most
        one goes on (both may stop, and ask again)."""
        running = self._search_all(experiment_id, f"attributes.status = 'RUNNING' and "
                                                  f"tags.`{ROLE_TAG}` = 'sweep'")
        own = next((r for r in running if mine is not None and r.info.run_id == mine.run_id),
                   None)
        for run in sorted(running, key=_opened):
            if mine is not None and run.info.run_id == mine.run_id:
                continue
            ahead = own is None or CLAIMED_TAG in run.data.tags or _opened(run) < _opened(own)
            if ahead and sweep_alive(run.data.tags):
                return _sweep_said(run)
        return None

    def discard_sweep(self, sweep: SweepHandle) -> None:
        """Remove a sweep run that ran nothing (refused: another sweep runs), so that it never
        stands as the experiment's latest sweep: its rankings would read its empty record of
        what it asked for, not the running sweep's. Tagged refused and ended KILLED first, for
        a store that refuses the delete (MLflow's EDIT permission cannot delete a run)."""
        self.set_tags(sweep.run_id, {REFUSED_TAG: "true"})
        self.client.set_terminated(sweep.run_id, "KILLED")
        self.client.delete_run(sweep.run_id)

    @property
    def _beats(self) -> bool:
        """Whether sweeps on this store beat (keep_alive): on a store other hosts can reach; a
        local SQLite file's other users are on this host, whose pids say whether they live."""
        return local_store(self.tracking_uri) is None

    def keep_alive(self, sweep: SweepHandle) -> AbstractContextManager[None]:
        """Beat the sweep run's heartbeat while it runs (see _beats)."""
        if not self._beats:
            return contextlib.nullcontext()
        return beating(lambda now: self.client.set_tag(sweep.run_id, HEARTBEAT_TAG, now))

    def finished_trials(self, experiment: str) -> list[FinishedTrial]:
        """Every FINISHED trial run of `experiment` made by its trainer's current revision.

        Raises:
            TunerError: no experiment of that name.
        """
        experiment_id = self._existing_experiment(experiment)
        runs = self.trial_runs(experiment_id, "attributes.status = 'FINISHED'")
        return one_run_a_trial(current_trials(stored_run(run) for run in runs))

    def failed_trials(self, experiment: str) -> list[FinishedTrial]:
        """Every FAILED trial run of `experiment` made by its trainer's current revision, with
        its error's type; not the runs a killed sweep left (tag `tuner.stale`), which did not
        fail themselves."""
        experiment_id = self._existing_experiment(experiment)
        runs = self.trial_runs(experiment_id, "attributes.status = 'FAILED'")
        return current_trials(stored_run(r) for r in runs if STALE_TAG not in r.data.tags)

    def sweep_runs(self, experiment: str) -> list[SweepRun]:
        """The sweep (parent) runs of `experiment`, newest first."""
        runs = self.client.search_runs([self._existing_experiment(experiment)],
                                       f"tags.`{ROLE_TAG}` = 'sweep'", max_results=1000,
                                       order_by=["attributes.start_time DESC"])
        return [sweep_run(run) for run in runs]

    def topics(self, run_id: str) -> dict[str, list[str]]:
        """A trial's topics.json artifact: topic index -> ranked words ({} when absent)."""
        return self.read_json(run_id, "topics.json") or {}

    def read_json(self, run_id: str, name: str) -> dict[str, Any] | None:
        """A run's JSON artifact `name`; None when the run has none (an older or failed run)."""
        with tempfile.TemporaryDirectory(prefix="tuner-artifact-") as folder:
            try:
                path = self.client.download_artifacts(run_id, name, folder)
                found = json.loads(Path(path).read_text(encoding="utf-8"))
            except Exception:  # absent or damaged: the readers say what that means to them
                return None
            return found if isinstance(found, dict) else None

    def log_report(self, run_id: str, local_path: Path, artifact_path: str | None = None
                   ) -> None:
        """Attach a file or a folder (a report) to a run, under `artifact_path`."""
        if Path(local_path).is_dir():
            self.client.log_artifacts(run_id, str(local_path), artifact_path=artifact_path)
        else:
            self.client.log_artifact(run_id, str(local_path), artifact_path=artifact_path)

    def _existing_experiment(self, experiment: str) -> str:
        experiment_id = self.experiment_id(experiment, create=False)
        if experiment_id is None:
            names = [e.name for e in self.client.search_experiments() if e.name != "Default"]
            raise TunerError(f"experiment '{experiment}': not found in {self.tracking_uri}; "
                             f"check the name and --tracking-uri{closest(experiment, names)}")
        return experiment_id

    def log_trial(self, sweep: SweepHandle, record: TrialRecord) -> str:
        """Open and finish a trial run in one go (a record that never had a running run)."""
        run_id = self.start_trial(sweep, record.spec)
        self.finish_trial(sweep, run_id, record)
        return run_id

    def start_trial(self, sweep: SweepHandle, spec: TrialSpec) -> str:
        """A RUNNING child run with the trial's full parameters, opened when it is submitted."""
        run = self.client.create_run(sweep.experiment_id, run_name=_run_name(spec, sweep),
                                     tags=trial_tags(sweep, spec))
        self._log_params(run.info.run_id, trial_params(spec))
        folder = local_folder(run.info.artifact_uri)
        if folder is not None:
            self._artifact_folders[run.info.run_id] = folder
        return str(run.info.run_id)

    def finish_trial(self, sweep: SweepHandle, run_id: str, record: TrialRecord) -> None:
        """Log a trial's outcome. If the store fails, journal it for the next run to replay."""
        try:
            self._write_outcome(sweep, run_id, record)
        except Exception as err:  # any store failure: keep the result, never drop it
            self._journal_or_say(sweep, run_id, record, err)
            self.journalled += 1
            log.warning("could not log trial %s to %s (%s); kept in %s for the next run",
                        record.spec.key, redact_uri(self.tracking_uri),
                        redact_uri(root_cause(err)), self.journal(sweep).path)

    def _journal_or_say(self, sweep: SweepHandle, run_id: str, record: TrialRecord,
                        err: Exception) -> None:
        """Journal a result the store refused. When the journal cannot take it either (a full
        disk holding both), say which trial's result is lost and its figures, and stop the
        sweep: otherwise the error escapes and the trial is named nowhere."""
        journal = self.journal(sweep)
        try:
            journal.append(run_id, record)
        except OSError as lost:
            figures = ", ".join(f"{k}={v:.4g}" for k, v in sorted(record.metrics.items())
                                if k in ("npmi", "diversity", "ari", "nmi", "f1"))
            log.error("trial %s (%s): its result is lost: the store refused it (%s) and the "
                      "journal %s could not take it (%s); its scores: %s; the next run trains "
                      "it again", record.spec.key, record.spec.name,
                      redact_uri(root_cause(err)),
                      journal.path, lost.strerror, figures or "none")
            raise TrackingError(f"neither the store nor the journal {journal.path} could take "
                                f"trial {record.spec.name}'s result ({lost.strerror}); free "
                                "space or fix the store, then run the sweep again") from lost

    def _write_outcome(self, sweep: SweepHandle, run_id: str, record: TrialRecord) -> None:
        self._finished_for = None  # the FINISHED runs change
        tags = {STATUS_TAG: record.status.value, WORKER_TAG: record.worker}
        if record.rescored_from is not None:
            tags[RESCORED_FROM_TAG] = record.rescored_from
        if record.threads:
            tags[THREADS_TAG] = str(record.threads)
        if record.pruned_by is not None:  # with the outcome: a journalled one replays it too
            tags[PRUNED_BY_TAG] = record.pruned_by
        if record.error is not None:
            tags |= {ERROR_TYPE_TAG: record.error.type,
                     ERROR_TAG: record.error.message[:4000]}
        self._log_metrics(run_id, record.metrics, tags, learning_curve(record))
        self._log_artifacts(run_id, record, sweep)
        self.client.set_terminated(run_id, run_status(record.status))

    def drop_trial(self, run_id: str) -> None:
        """Remove a run opened for an attempt that will be resubmitted: ended KILLED first, as
        MLflow's delete keeps a run's status, and a run deleted RUNNING stays RUNNING among the
        deleted runs for good."""
        self._finished_for = None  # the FINISHED runs change
        self._artifact_folders.pop(run_id, None)
        self.set_tags(run_id, {STATUS_TAG: "RESUBMITTED"})
        self.client.set_terminated(run_id, "KILLED")
        self.client.delete_run(run_id)

    def end_run(self, run_id: str, status: str) -> None:
        self._finished_for = None  # the FINISHED runs change
        self._artifact_folders.pop(run_id, None)
        self.set_tags(run_id, {STATUS_TAG: status})
        self.client.set_terminated(run_id, status)

    def fail_stale_runs(self, sweep: SweepHandle) -> int:
        """Runs left RUNNING by a sweep that died are marked FAILED with tag tuner.stale; their
        trials run again. Returns how many. The experiment lock says no other sweep of this
        store runs; a run whose sweep process is still alive on this host is left alone all the
        same (a sweep that holds a lock this one cannot see)."""
        replayed = self.replay_journal(sweep)
        if replayed:  # said, or a cron log shows nothing of it
            log.warning("logged %d result%s an earlier sweep kept in its journal when the store "
                        "refused them", replayed, "s" * (replayed != 1))
        running = self._search_all(sweep.experiment_id, "attributes.status = 'RUNNING'")
        owners: dict[str, bool] = {}
        stale = [r for r in running if r.info.run_id != sweep.run_id
                 and not self._owner_alive(r, owners)]
        for run in stale:
            self.set_tags(run.info.run_id, {STALE_TAG: "true", STATUS_TAG: "FAILED"})
            self.client.set_terminated(run.info.run_id, "FAILED")
        if stale:
            log.warning("marked %d run%s FAILED (tag tuner.stale) that a sweep which died left "
                        "RUNNING; their trials run again", len(stale), "s" * (len(stale) != 1))
        return len(stale)

    def journal(self, sweep: SweepHandle) -> Journal:
        """The journal of this store's experiment: experiment ids are per store (every SQLite
        store's first is "1"), so the store's identity is in the name too."""
        store = hashlib.sha256(store_identity(self.tracking_uri).encode()).hexdigest()[:16]
        return Journal(self.journal_dir / f"{sweep.experiment_id}-{store}.jsonl")

    def replay_journal(self, sweep: SweepHandle) -> int:
        """Log the results a previous run could not; returns how many were replayed. What still
        cannot be logged stays in the journal for the next run. A journal named by experiment id
        alone (before the store was in its name) may hold another store's results: of it, only
        entries whose run is in this store's experiment are replayed."""
        replayed = self.journal(sweep).replay(
            lambda run_id, record: self._replay(sweep, run_id, record, own=True))
        legacy = Journal(self.journal_dir / f"{sweep.experiment_id}.jsonl")
        return replayed + legacy.replay(
            lambda run_id, record: self._replay(sweep, run_id, record, own=False))

    def _replay(self, sweep: SweepHandle, run_id: str, record: TrialRecord, own: bool) -> None:
        """Log one journalled result into its run if that run still waits for it, else into a
        new run. A result whose trial has finished since (a later run refitted it) is dropped,
        so no trial key gets two FINISHED runs. Raises ForeignEntry for an entry of another
        store or experiment (`own`: the journal is this store's), which stays in the journal."""
        run = self._any_run(run_id)
        if (record.spec.experiment != self._experiment_name(sweep.experiment_id)
                or (run is None and not own)
                or (run is not None and run.info.experiment_id != sweep.experiment_id)):
            raise ForeignEntry(run_id)
        if self._finished_since(sweep, record):
            log.info("journalled trial %s finished in a later run; its entry is dropped",
                     record.spec.key)
            return
        if run is not None and _already_holds(run, record):
            return  # the store took the write though the client saw an error
        if run is None or run.info.lifecycle_stage == "deleted" or run.info.status != "RUNNING":
            run_id = self.start_trial(sweep, record.spec)  # gone, deleted or ended (stale)
        self._write_outcome(sweep, run_id, record)

    def _any_run(self, run_id: str) -> Any:
        """The run, None if there is none; a deleted one too, which still says which experiment
        it was in (MLflow refuses every write to it)."""
        from mlflow.exceptions import MlflowException

        try:
            return self.client.get_run(run_id)
        except MlflowException:
            return None

    def _experiment_name(self, experiment_id: str) -> str:
        return str(self.client.get_experiment(experiment_id).name)

    def _finished_since(self, sweep: SweepHandle, record: TrialRecord) -> bool:
        """Whether the record's trial has a FINISHED run that stands for it: one with its full
        budget, or any if the record itself was pruned."""
        runs = self.trial_runs(sweep.experiment_id, "attributes.status = 'FINISHED' and "
                               f"tags.`{TRIAL_KEY_TAG}` = '{record.spec.key}'")
        pruned = record.status is TrialStatus.PRUNED
        return any(pruned or not is_pruned(r.data.tags) for r in runs)

    def end_sweep(self, sweep: SweepHandle, status: str, metrics: Mapping[str, float]) -> None:
        self._log_metrics(sweep.run_id, metrics)
        self.client.set_terminated(sweep.run_id, status)

    def log_json(self, run_id: str, name: str, payload: Mapping[str, Any]) -> None:
        """A JSON artifact `name` on run `run_id`."""
        self.client.log_dict(run_id, dict(payload), name)

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        from mlflow.entities import RunTag

        if tags:
            self.client.log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def _log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        safe = [Param(k, v) for k, v in logged_params(params).items()]
        for start in range(0, len(safe), 100):
            self.client.log_batch(run_id, params=safe[start:start + 100])

    def _log_metrics(self, run_id: str, metrics: Mapping[str, float],
                     tags: Mapping[str, str] | None = None,
                     steps: Sequence[tuple[str, int, float]] = ()) -> None:
        """Metrics (and tags, and metric values at steps: a learning curve) in one batch: one
        round trip to the store, or more for a long curve (MLflow takes at most 1,000 entries,
        metrics and tags together, a batch)."""
        from mlflow.entities import Metric, RunTag

        stamp = int(time.time() * 1000)
        rows: list[Metric | RunTag] = [Metric(k, float(v), stamp, 0) for k, v in metrics.items()]
        rows += [RunTag(k, str(v)) for k, v in (tags or {}).items()]
        rows += [Metric(name, float(value), stamp, step) for name, step, value in steps]
        for start in range(0, len(rows), MLFLOW_BATCH):
            batch = rows[start:start + MLFLOW_BATCH]
            self.client.log_batch(run_id, metrics=[r for r in batch if isinstance(r, Metric)],
                                  tags=[r for r in batch if isinstance(r, RunTag)])

    def _log_artifacts(self, run_id: str, record: TrialRecord, sweep: SweepHandle) -> None:
        """A trial's files, written straight into the folder of a run this tracker opened when
        the artifact store is a local folder, else (another store, a journal replay) through
        MLflow's client. Straight, no temporary copy and no look-up of the run: the parent's CPU
        per trial 32 to 36 ms -> 27 ms (bench/overhead.py, 2026-12-01)."""
        files = _artifact_files(record, sweep.doc_ids)
        folder = self._artifact_folders.pop(run_id, None)
        if folder is not None:
            write_files(folder, files)
            return
        with tempfile.TemporaryDirectory(prefix="tuner-artifacts-") as staging:
            write_files(Path(staging), files)
            self.client.log_artifacts(run_id, staging)


MLFLOW_BATCH = 1000  # entries per log_batch call: MLflow refuses more


def local_folder(artifact_uri: str) -> Path | None:
    """The folder a `file:` URI or an absolute path names, read as MLflow's local repository
    reads it (percent-escapes decoded, in a plain path too); None for any other store."""
    parts = urlsplit(artifact_uri)
    local = parts.scheme == "file" and parts.netloc in ("", "localhost")
    if not local and not (parts.scheme == "" and Path(artifact_uri).is_absolute()):
        return None
    from mlflow.utils.file_utils import local_file_uri_to_path

    return Path(local_file_uri_to_path(artifact_uri))


STAGING_PREFIX = ".artifact.uploading."  # MLflow's: its listings leave such files out


def write_files(folder: Path, files: Iterable[tuple[str, str]]) -> None:
    """Each (name, text) to `folder`/name, whole or not at all, staged under a name MLflow's
    listings skip."""
    for name, content in files:
        replace_text_atomically(folder / name, content,
                                staging=f"{STAGING_PREFIX}{uuid.uuid4().hex}")


def _already_holds(run: Any, record: TrialRecord) -> bool:
    """Whether `run` is this record's outcome, written: without it, a FAILED result that the
    store took while the client saw an error is journalled and, on replay, logged into a second
    FAILED run. A run the stale-run check failed does not count."""
    return (run.info.status == run_status(record.status)
            and run.data.tags.get(TRIAL_KEY_TAG) == record.spec.key
            and run.data.tags.get(STATUS_TAG) == record.status.value
            and run.data.tags.get(STALE_TAG) != "true")


def run_status(status: TrialStatus) -> str:
    """The MLflow status of a trial run: a pruned trial ended as its pruner asked, FINISHED
    (tagged tuner.status=PRUNED)."""
    return "FAILED" if status is TrialStatus.FAILED else "FINISHED"


def learning_curve(record: TrialRecord) -> list[tuple[str, int, float]]:
    """The trial's checkpoints as (metric, step, value), under `curve/<objective>`, ending with
    the final value at the budget it used, so the MLflow UI draws the curve to its end."""
    plan = record.spec.checkpoints
    if plan is None or not record.curve:
        return []
    name = f"{CURVE_PREFIX}{plan.metric}"
    points = [(name, step, value) for step, value in record.curve]
    final, used = record.metrics.get(plan.metric), record.metrics.get("budget_used")
    if final is not None and used is not None and int(used) > record.curve[-1][0]:
        points.append((name, int(used), float(final)))
    return points


def artifact_folder_name(experiment: str) -> str:
    """A folder name for an experiment's artifacts that stays one folder below the artifact
    root, whatever the name holds ("..", separators, control characters), and fits a file name
    (255 bytes: 120 Chinese characters, 360 bytes, failed every sweep of their experiment)."""
    name = re.sub(r"[^\w.-]", "_", experiment).encode()[:120].decode(errors="ignore")
    return name if name.strip(".") else f"_{name}"


def trial_tags(sweep: SweepHandle, spec: TrialSpec) -> dict[str, str]:
    """The tags a trial run opens with (every tracker writes the same)."""
    tags = {"mlflow.parentRunId": sweep.run_id, ROLE_TAG: "trial",
            MODEL_TAG: spec.model, TRIAL_KEY_TAG: spec.key,
            FIT_KEY_TAG: spec.fit_key, CORPUS_SHA256_TAG: spec.data.corpus_sha256,
            EMBEDDING_KEY_TAG: spec.data.embedding_key or "none",
            BATCH_ID_TAG: sweep.batch_id, STATUS_TAG: "RUNNING"}
    if spec.config_key:
        tags[CONFIG_KEY_TAG] = spec.config_key
    if spec.data.context:
        tags[CONTEXT_TAG] = spec.data.context
    if spec.revision is not None:
        tags[REVISION_TAG] = str(spec.revision)
    # the covariates a fit reads: without them, two STM runs on other covariates have the same
    # parameters in MLflow's views
    covariates = spec.data.dataset.get("covariates")
    if "covariates" in spec.data.inputs and covariates:
        tags[COVARIATES_TAG] = ",".join(map(str, covariates))[:4000]
    return tags


def trial_params(spec: TrialSpec) -> dict[str, Any]:
    """The parameters a trial run logs: the model's, the seed, the metric settings and the data
    its scores were judged on (DATA_PARAM)."""
    data = {DATA_PARAM: data_name(spec.data.context)} if spec.data.context else {}
    return {"model": spec.model, "seed": spec.seed, **spec.params,
            **asdict(spec.metrics), **data}


def read_back(spec: TrialSpec) -> FinishedTrial:
    """The record a run of `spec` is read as (records.finished_trial): its parameters as the
    store keeps them (text: 0.1 as "0.1", None as "null"), typed back by its model's schema.
    What a sweep records of a trial before it runs is then what its run will show."""
    return finished_trial(StoredRun("", "", "RUNNING", {MODEL_TAG: spec.model},
                                    logged_params(trial_params(spec)), {}),
                          param_schema(spec.model))


def logged_params(params: Mapping[str, Any]) -> dict[str, str]:
    """Parameters as a run stores them: as text (see _param_text), none whose name marks a
    secret."""
    return {k: _param_text(v) for k, v in params.items() if not _is_secret(k)}


def _opened(run: Any) -> tuple[int, str]:
    return run.info.start_time or 0, run.info.run_id


def _sweep_said(run: Any) -> str:
    tags = run.data.tags
    opened = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime((run.info.start_time or 0) / 1000))
    silent = silent_for(tags)
    heard = f", last heard from {silent:.0f} s ago" if silent is not None else ""
    return (f"sweep run {run.info.run_id} on host {tags.get(HOST_TAG, '?')} (pid "
            f"{tags.get(PID_TAG, '?')}), opened {opened}{heard}")


def _run_name(spec: TrialSpec, sweep: SweepHandle) -> str:
    """The trial's model, its index in the sweep, K and seed, and its sweep's batch: indexes
    restart with every sweep, and two sweeps' "lda-0005-k16-s43" named different trials."""
    k = spec.params.get("num_topics")
    return (f"{spec.model.lower()}-{spec.index:04d}" + (f"-k{k}" if k else "") +
            f"-s{spec.seed}-{sweep.batch_id[:4]}")


PARAM_CHARS = 6000  # MLflow's longest parameter value; it cuts longer ones without a word


def _param_text(value: Any) -> str:
    """A parameter's value as MLflow stores it; past PARAM_CHARS, cut where it says so (650
    seeds make a sweep's `seeds` 7,000 characters); each trial run logs its own seed."""
    text = "null" if value is None else str(value)
    if len(text) <= PARAM_CHARS:
        return text
    tail = f"... ({len(text)} characters)"
    return text[:PARAM_CHARS - len(tail)] + tail


def _is_secret(name: str) -> bool:
    return any(marker in name.lower() for marker in SECRET_MARKERS)


def _artifact_files(record: TrialRecord, doc_ids: Sequence[str]) -> Iterable[tuple[str, str]]:
    yield "trial.json", json.dumps({"model": record.spec.model, "seed": record.spec.seed,
                                    "params": dict(record.spec.params), "key": record.spec.key,
                                    "status": record.status.value}, indent=2, default=str)
    if record.error is not None:
        error = record.error
        yield "error.txt", f"{error.type}: {error.message}\n\n{error.traceback}"
        return
    yield "topics.json", json.dumps({str(i): words for i, words in
                                     enumerate(record.topic_words)}, indent=1, ensure_ascii=False)
    yield "topic_npmi.json", json.dumps({str(i): v for i, v in enumerate(record.topic_npmi)},
                                        indent=1)
    if record.extras:
        yield EXTRAS_FILE, json.dumps(dict(record.extras), indent=1, default=str,
                                        ensure_ascii=False)
    yield "assignments.csv", _assignments_csv(record, doc_ids)


def _assignments_csv(record: TrialRecord, doc_ids: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["doc_index", "doc_id", "topic"])
    ids = doc_ids if len(doc_ids) == len(record.assignments) else [""] * len(record.assignments)
    writer.writerows((i, doc_id, topic) for i, (doc_id, topic)
                     in enumerate(zip(ids, record.assignments, strict=True)))
    return buffer.getvalue()


def configs_record(specs: Iterable[TrialSpec]) -> dict[str, Any]:
    """What a sweep logs of the trials it asks for (SWEEP_CONFIGS_FILE): their config keys, and
    how each one's row shows (shown_for), by which a row of earlier settings is known where
    none of the key's trials finished and none failed either (killed, pruned, never ran)."""
    first: dict[str, TrialSpec] = {}
    for spec in specs:  # a configuration's seeds show alike
        if spec.config_key:
            first.setdefault(spec.config_key, spec)
    return {"config_keys": sorted(first),
            "shown": {key: shown_for(spec) for key, spec in first.items()}}


def shown_for(spec: TrialSpec) -> str:
    """shown_as of the run `spec` logs, before it runs: of the record that run is read back as
    (read_back: its parameters through the store's text), so that 0.1, None or True compare
    as the run will give them, and no key's record can differ from its runs' rows."""
    return shown_as(read_back(spec))
