"""Command line: tuner init | run | precompute | validate | params | serve | report | best | ui
| score.

Exit codes: 0 every trial completed or was skipped; 1 the sweep finished but a trial failed;
2 invalid input, found before any trial started; 3 another sweep holds the experiment's lock;
4 the sweep stopped on an error after trials had started (e.g. the tracking store went away);
130/143 interrupted by SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import math
import multiprocessing
import os
import shlex
import signal
import sys
import tempfile
import threading
import traceback
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from tuner.errors import (
    SweepAbortedError,
    SweepInterrupted,
    SweepLockedError,
    TunerError,
    shown,
)
from tuner.processes import exit_fast, signals_handled
from tuner.serve import MAX_BATCH_TOKENS, MAX_TRIAL_SECONDS, MIN_FREE_GB
from tuner.startup import pause_collection, quiet_resource_tracker, resume_collection
from tuner.tracking.uri import redact_uri

if TYPE_CHECKING:
    from tuner.engine.runner import SweepCounts
    from tuner.engine.sweep import PreparedSweep
    from tuner.flow import SweepSettings
    from tuner.progress import ProgressDisplay
    from tuner.serve.mlflow_ui import ExperimentPage
    from tuner.trial import TrialRecord, TrialSpec

EXIT_OK, EXIT_TRIAL_FAILED, EXIT_INVALID, EXIT_LOCKED, EXIT_ABORTED = 0, 1, 2, 3, 4
DEFAULT_CACHE = Path("embedding_cache")
LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"


class PlainWarnings(logging.Formatter):
    """tuner's own warnings and errors as its printed ones read ("warning: ..."); a library's,
    and any with a traceback, as logged (else "WARNING tuner.reporting.best: ..." stands among
    "warning:" lines)."""

    def format(self, record: logging.LogRecord) -> str:
        if record.name.split(".", 1)[0] in ("tuner", "trainers") \
                and record.levelno >= logging.WARNING \
                and not record.exc_info:
            return f"{record.levelname.lower()}: {record.getMessage()}"
        return super().format(record)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `tuner` console script."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    # MLflow prints two "View run" lines (and re-reads the run) per finished run over HTTP.
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format=LOG_FORMAT)
    if not args.verbose and args.handler is not _serve:  # a server's log keeps its loggers
        for handler in logging.getLogger().handlers:
            handler.setFormatter(PlainWarnings(LOG_FORMAT))
    if not args.verbose:
        _silence_library_noise()
    if args.handler is not _run:  # `run` resumes once it has imported MLflow (tuner.flow)
        resume_collection()
    # SIGTERM says so and cleans up as SIGINT does; the trial loop has its own while it runs
    terminating = args.handler in (_run, _precompute)
    with signals_handled(_terminate, (signal.SIGTERM,)) if terminating else nullcontext():
        try:
            return int(args.handler(args))
        except SweepInterrupted as stop:
            ended = "running trials marked KILLED" if stop.runs_ended else \
                "runs left RUNNING (the next sweep marks them FAILED)"
            # an outside cluster's workers are not this process's to stop: a trial they started
            # runs on
            workers = ("trials started on the Dask cluster run on until they end, unrecorded"
                       if getattr(args, "scheduler", None) else "workers stopped")
            print(f"interrupted by {stop}: {workers}, {ended}", file=sys.stderr)
            return stop.exit_code
        except KeyboardInterrupt as stop:
            terminated = isinstance(stop, Terminated)
            print(f"interrupted{' by SIGTERM' if terminated else ''} before any trial started",
                  file=sys.stderr)
            return 128 + (signal.SIGTERM if terminated else signal.SIGINT)
        except TunerError as err:
            if args.debug:  # the traceback, and still the documented exit code (not 1, the
                # code of a failed trial)
                traceback.print_exc()
            for line in redact_uri(str(err)).splitlines() or [""]:  # one "error:" per problem
                print(f"error: {shown(line)}", file=sys.stderr)
            return exit_code(err)
        finally:
            resume_collection()


class Terminated(KeyboardInterrupt):
    """SIGTERM outside the trial loop (start-up, precompute), as cron's `timeout` or `docker
    stop` sends it: raised as an interrupt, as its default ends the process with no word and no
    clean-up."""

    signum = signal.SIGTERM


def _terminate(signum: int, frame: object) -> None:
    raise Terminated()


def exit_code(err: TunerError) -> int:
    """3 for a held lock, 4 for a sweep stopped after trials started, else 2: every other
    TunerError reaching the CLI was raised before any trial started (flow.py wraps the rest)."""
    if isinstance(err, SweepLockedError):
        return EXIT_LOCKED
    if isinstance(err, SweepAbortedError):
        return EXIT_ABORTED
    return EXIT_INVALID


def positive_number(text: str) -> float:
    """argparse type of --trial-timeout and --max-memory: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expects a finite number > 0; got {text!r}")
    return value


def non_negative_number(text: str) -> float:
    """argparse type of --min-free-gb: a finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expects a finite number >= 0; got {text!r}")
    return value


def positive_int(text: str) -> int:
    """argparse type of --max-trials, --leaderboard and the like: an int >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expects an int >= 1; got {text!r}")
    return value


class _Parser(argparse.ArgumentParser):
    """Command-line mistakes as one line, as tuner's other errors: argparse prints its usage
    block (8 lines for `tuner run`) before "--max-trials 0", but not before "--max-workers 0"."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_INVALID, f"error: {self.prog}: {message} (`{self.prog} --help` lists "
                                "what it takes)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tuner", description=__doc__)
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="precompute, then run every trial of a grid")
    _grid_arguments(run)
    run.add_argument("--max-workers", type=int, default=2, help="worker processes (default 2)")
    run.add_argument("--tracking-uri", help="MLflow tracking URI (default: SQLite under "
                     "mlruns/, or $MLFLOW_TRACKING_URI)")
    run.add_argument("--executor", default=None, choices=["process", "dask"],
                     help="process pool (default) or Dask; also the grid's 'executor'")
    run.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                     help="Dask scheduler address (default: a local Dask cluster)")
    run.add_argument("--leaderboard", type=positive_int, default=10,
                     help="rows to print (default 10)")
    run.add_argument("--trial-timeout", type=positive_number, default=None, metavar="SECONDS",
                     help="stop a trial after this long and record it FAILED (default: the "
                     "grid's timeout_s, else none)")
    run.add_argument("--max-memory", type=positive_number, default=None, metavar="MB",
                     help="stop a trial whose worker uses more resident memory (Linux)")
    run.add_argument("--threads-per-worker", type=positive_int, default=None, metavar="N",
                     help="native threads (BLAS, torch, numba) each worker's fit may use "
                     "(default: the usable cores divided by --max-workers, at least 1)")
    run.set_defaults(handler=_run)

    pre = commands.add_parser("precompute", help="build the caches a grid needs, run nothing")
    _grid_arguments(pre)
    pre.set_defaults(handler=_precompute)

    validate = commands.add_parser("validate", help="check a grid and its data; compute nothing")
    _grid_arguments(validate)
    validate.set_defaults(handler=_validate)

    init = commands.add_parser("init", help="write a starter grid for a corpus: its fields, "
                               "language and models that suit it")
    init.add_argument("corpus", type=Path, help="a .jsonl, .csv, .tsv, .parquet or .txt file, "
                      "or a folder of text files")
    init.add_argument("--models", type=_names, default=None, metavar="M1,M2",
                      help="models to sweep (default: chosen for the corpus's language and "
                      "document length)")
    init.add_argument("--experiment", help="experiment name (default: the corpus's file name)")
    init.add_argument("--out", type=Path, metavar="GRID", help="write the grid here (an "
                      "existing file is kept; default: print it)")
    init.set_defaults(handler=_init)

    params = commands.add_parser("params", help="print a model's parameters")
    params.add_argument("model", nargs="?", help="model name (all models when omitted)")
    params.add_argument("--grid", action="store_true",
                        help="print the grid file's own sections instead")
    params.set_defaults(handler=_params)
    _score_command(commands)
    _service_commands(commands)
    _ui_command(commands)
    return parser


def _ui_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    ui = commands.add_parser("ui", help="the MLflow UI on the store `tuner run` uses")
    ui.add_argument("experiment", nargs="?",
                    help="experiment whose page to print (default: the latest updated)")
    ui.add_argument("--port", type=int, default=5000, help="port (default 5000)")
    ui.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    ui.add_argument("--tracking-uri", help="MLflow tracking URI (default as for run)")
    ui.set_defaults(handler=_ui)


def _service_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    serve = commands.add_parser("serve", help="HTTP API that starts sweeps and reports status")
    serve.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1); any "
                       "other needs $TUNER_API_TOKEN")
    serve.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    serve.add_argument("--grids-dir", type=Path, default=Path("grids"),
                       help="folder of grids a request may name (default grids/)")
    serve.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE,
                       help="embedding and bag-of-words cache (default embedding_cache/)")
    serve.add_argument("--max-workers", type=int, default=2, help="worker processes (default 2)")
    serve.add_argument("--max-trials", type=positive_int, default=10000,
                       help="refuse grids expanding to more trials (default 10000)")
    serve.add_argument("--threads-per-worker", type=positive_int, default=None, metavar="N",
                       help="native threads each worker's fit may use (default: the usable "
                       "cores divided by --max-workers, at least 1)")
    serve.add_argument("--tracking-uri", help="MLflow tracking URI (default as for run)")
    serve.add_argument("--data-root", type=Path, action="append", metavar="DIR",
                       help="folder an inline grid may read data from; repeatable (default: "
                       "the grids folder and datasets/)")
    serve.add_argument("--allowed-host", action="append", default=[], metavar="NAME[:PORT]",
                       help="a Host header to accept besides the bound address (and "
                       "localhost for loopback or 0.0.0.0); repeatable, e.g. tuner for compose")
    serve.add_argument("--max-batch-tokens", type=positive_int, default=MAX_BATCH_TOKENS,
                       metavar="N", help="refuse grids whose embedding batches hold more tokens "
                       f"(batch_size x max_length; default {MAX_BATCH_TOKENS}; fewer past 512 "
                       "tokens a window): the service embeds in its own process")
    serve.add_argument("--min-free-gb", type=non_negative_number, default=MIN_FREE_GB,
                       metavar="GB", help="start no sweep while the cache folder's disk has "
                       f"less free (default {MIN_FREE_GB:g}; 0: never refuse)")
    serve.add_argument("--max-trial-seconds", type=non_negative_number,
                       default=MAX_TRIAL_SECONDS, metavar="SECONDS",
                       help="the longest a trial or shared step may run, whatever its grid's "
                       f"timeout_s (default {MAX_TRIAL_SECONDS:g}, six hours; 0: the grids' "
                       "timeout_s alone)")
    serve.add_argument("--max-active-sweeps", type=int, default=1,
                       help="sweeps running at once; later ones queue (default 1)")
    serve.add_argument("--max-connections", type=int, default=256,
                       help="connections held while their requests arrive; past it the "
                       "oldest is dropped (default 256)")
    serve.add_argument("--request-timeout", type=float, default=10.0, metavar="SECONDS",
                       help="time a client has to send its whole request (default 10)")
    serve.set_defaults(handler=_serve)

    report = commands.add_parser("report", help="HTML report and plots of an experiment")
    report.add_argument("experiment", help="MLflow experiment name")
    report.add_argument("--tracking-uri", help="MLflow tracking URI (default as for run)")
    report.add_argument("--out", type=Path,
                        help="output folder (default reports/EXPERIMENT, with any character "
                        "but letters, digits, '.', '-' and '_' as '_')")
    report.add_argument("--metric", help="ranking metric (default: what the experiment's latest "
                        "sweep ranked by, else ari if logged, else npmi)")
    report.set_defaults(handler=_report)

    best = commands.add_parser("best", help="print the best trial as a grid that re-runs it")
    best.add_argument("experiment", help="MLflow experiment name")
    best.add_argument("--metric", help="ranking metric (default: what the experiment's latest "
                      "sweep ranked by, else ari)")
    best.add_argument("--tracking-uri", help="MLflow tracking URI (default as for run)")
    best.add_argument("--rename", help="experiment name in the printed grid "
                      "(default EXPERIMENT-best-METRIC, so `tuner run` does not skip it)")
    best.set_defaults(handler=_best)


def _score_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    score = commands.add_parser("score", help="score topics made elsewhere against a grid's "
                                "dataset, with the same metrics")
    score.add_argument("grid", type=Path, help="grid giving the dataset, preprocessing, metrics")
    score.add_argument("topics", type=Path, help="JSON: list of word lists, or topic id -> words")
    score.add_argument("--assignments", type=Path, metavar="CSV",
                       help="CSV with columns id,topic for every document (-1 = outlier)")
    score.add_argument("--name", default=None, help="model name on the leaderboard "
                       "(default: the topics file's stem); logged as external:NAME")
    score.add_argument("--vocab-size", type=int, default=None,
                       help="vocabulary size (default: the grid's models' vocab_size)")
    score.add_argument("--log", action="store_true", help="log the scores to MLflow as a run "
                       "of the grid's experiment")
    score.add_argument("--tracking-uri", help="MLflow tracking URI (default as for run)")
    score.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE,
                       help="embedding and bag-of-words cache (default embedding_cache/)")
    score.set_defaults(handler=_score)


def _score(args: argparse.Namespace) -> int:
    from tuner.reporting.health import SHORT_TOPICS
    from tuner.scoring import log_score, score_external
    from tuner.tracking.tracker import resolve_tracking_uri

    name = args.name or args.topics.stem
    result = score_external(args.grid, args.topics, args.assignments, args.cache_dir, name,
                            args.vocab_size)
    if result.unscored:
        skipped = sum(len(words) for words in result.unscored.values())
        examples = "; ".join(f"topic {topic}: {', '.join(words[:5])}"
                             + (f" and {len(words) - 5} more" if len(words) > 5 else "")
                             for topic, words in list(result.unscored.items())[:3])
        topics = len(result.unscored)
        print(f"warning: {skipped} top words of {topics} topic{'s' * (topics != 1)} are not in "
              f"the grid's vocabulary, so NPMI leaves them out ({examples})", file=sys.stderr)
    wanted = result.spec.metrics.diversity_topn
    short = [len(words) for words in result.output.topic_words if len(words) < wanted]
    if short:
        held = f"{min(short)} to {max(short)}" if min(short) < max(short) else str(min(short))
        print(f"warning: {len(short)} of {len(result.output.topic_words)} topics hold {held} "
              f"words, fewer than diversity_topn ({wanted}): diversity and inverted_rbo count "
              "the words given, so they do not compare with trials' scores on the same "
              "leaderboard", file=sys.stderr)
    if result.merged:
        shown = "; ".join(result.merged[:3]) + (f"; and {len(result.merged) - 3} more"
                                                 if len(result.merged) > 3 else "")
        print(f"warning: words of one topic that read as one word (a hashtag is its word; "
              f"case is lowered where the grid lowers it) are counted once: {shown}",
              file=sys.stderr)
    if result.npmi_left_out:
        left = result.npmi_left_out
        print(f"warning: {len(left)} of {len(result.output.topic_words)} topics have fewer than "
              f"2 top words in the grid's vocabulary, so NPMI (and TQ) is the mean over the "
              f"others: topic{'s' * (len(left) != 1)} {', '.join(left[:10])}"
              f"{f' and {len(left) - 10} more' if len(left) > 10 else ''}", file=sys.stderr)
    for metric, why in result.not_computed.items():
        print(f"warning: {metric} not computed: {why}", file=sys.stderr)
    for metric, value in result.metrics.items():
        if metric != SHORT_TOPICS:  # said above as a warning; logged for the leaderboard's note
            print(f"{metric}\t{value:.4f}")
    if args.log:
        run_id, new = log_score(result, resolve_tracking_uri(args.tracking_uri))
        print(f"{'logged as' if new else 'already logged, not again: see'} run {run_id} of "
              f"experiment '{result.spec.experiment}' (tuner.model={result.spec.model})")
    return EXIT_OK


def _grid_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("grid", type=Path, help="JSON grid file")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE,
                        help="embedding and bag-of-words cache (default embedding_cache/)")
    parser.add_argument("--max-trials", type=positive_int, default=10000,
                        help="refuse grids expanding to more trials (default 10000)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def _checked(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from tuner.engine.sweep import check_inputs
    from tuner.grid import load_grid

    if getattr(args, "max_workers", 1) < 1:
        raise TunerError(f"--max-workers expects an int >= 1; got {args.max_workers}")
    grid = load_grid(args.grid, args.max_trials)
    inputs = check_inputs(grid, args.max_trials)
    for advice in inputs.advice:
        print(f"warning: {shown(advice)}", file=sys.stderr)
    return grid, inputs


def _validate(args: argparse.Namespace) -> int:
    from tuner.data.vocab import check_some_word
    from tuner.engine.advice import fragments_said
    from tuner.engine.sweep import distinct_trial_count

    grid, inputs = _checked(args)
    check_some_word(inputs.corpus, grid.preprocessing)
    if inputs.corpus.language == "zh" and (cut := fragments_said(inputs.corpus.texts,
                                                                 grid.preprocessing)):
        print(f"warning: {shown(f'{grid.path}: preprocessing.user_words: {cut}')}",
              file=sys.stderr)
    count = distinct_trial_count(grid, inputs)
    merged_count = grid.trial_count - count
    merged = f" ({merged_count} equivalent trial{'s' * (merged_count != 1)} merged)" \
        if merged_count > 0 else ""
    print(f"{grid.path}: valid; {count} trial{'s' * (count != 1)}{merged} over "
          f"{len(inputs.corpus)} documents "
          f"({', '.join(s.model for s in grid.sweeps)})")
    return EXIT_OK


def _precompute(args: argparse.Namespace) -> int:
    from tuner.engine.sweep import precompute

    grid, inputs = _checked(args)
    prepared = precompute(grid, inputs, args.cache_dir, progress=not args.quiet)
    for name, event in prepared.cache_events.items():
        print(f"{name}: {event}")
    for advice in prepared.advice:
        print(f"warning: {shown(advice)}", file=sys.stderr)
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    from tuner.devices import worker_limit_problem
    from tuner.engine.executors import threads_per_worker
    from tuner.engine.sweep import distinct_trial_count
    from tuner.flow import SweepHooks, SweepSettings, execute_sweep
    from tuner.reporting.leaderboard import format_leaderboard
    from tuner.tracking.tracker import resolve_tracking_uri

    grid, inputs = _checked(args)
    executor = args.executor or grid.executor
    if args.scheduler and executor != "dask":  # else it runs on the local pool, unsaid
        raise TunerError(f"--scheduler {args.scheduler}: the {executor} executor has no "
                         "scheduler; add --executor dask")
    if not args.scheduler and (too_many := worker_limit_problem("--max-workers",
                                                                args.max_workers)):
        raise TunerError(too_many)  # an outside cluster has cores of its own
    # no more workers than trials: else a 1-trial grid at --max-workers 12 starts 12. Each
    # worker's threads are those of the workers asked for, whatever the grid's size: else the
    # grid `tuner best` writes runs its one trial on both cores, and a neural fit moves with its
    # thread count. Trials that merge count once (else "1 trial, 2 workers").
    workers = min(args.max_workers, max(1, distinct_trial_count(grid, inputs)))
    threads = threads_per_worker(args.max_workers, args.threads_per_worker)
    settings = SweepSettings(resolve_tracking_uri(args.tracking_uri), args.cache_dir,
                             workers, executor, not args.quiet,
                             args.leaderboard,
                             args.trial_timeout, args.max_memory, args.scheduler, threads)
    # said before the caches are read and the store opened: run from another folder, the
    # defaults (embedding_cache/, mlruns/) compute every embedding again and run every trial
    # again in a new store, which a user should learn before the embedding, not after it
    print(f"cache {Path(args.cache_dir).resolve()}, tracking "
          f"{redact_uri(settings.tracking_uri)}{_new_store_said(settings.tracking_uri)}",
          flush=True)
    view = _RunView(grid.trial_count, settings, bar=not args.quiet and sys.stdout.isatty())
    try:
        outcome = execute_sweep(grid, inputs, settings,
                                SweepHooks(view.prepared, view.finished, on_step=view.step))
    finally:
        view.close()
    print(f"\n{_counts_said(outcome.counts)}")
    if outcome.journalled:
        print(f"warning: the tracking store refused {outcome.journalled} trials' results: they "
              "are kept in the journal under the cache folder, and the next run of this "
              "experiment logs them (until then they are not on the leaderboard)",
              file=sys.stderr)
    print(f"\nleaderboard by {outcome.metric} (experiment '{grid.experiment}'):")
    print(format_leaderboard(outcome.board, outcome.metric))
    store = (f" --tracking-uri {shlex.quote(redact_uri(args.tracking_uri))}"
             if args.tracking_uri else "")
    experiment = shlex.quote(grid.experiment)
    if outcome.unshown:  # else rows past --leaderboard are cut unsaid (2 of 12 models' rows)
        print(f"... and {outcome.unshown} more configuration{'s' * (outcome.unshown != 1)} "
              f"(--leaderboard {len(outcome.board) + outcome.unshown} shows every one; "
              f"`tuner report {experiment}{store}` too)")
    if outcome.other_data:  # else a follow-up sweep's board hides the first one's models
        one = outcome.other_data == 1
        print(f"({outcome.other_data} earlier sweep{'' if one else 's'} of this experiment on "
              f"other data or settings (texts, labels, preprocessing, metric settings) "
              f"{'is' if one else 'are'} not ranked here: `tuner report {experiment}{store}` "
              "sets each one's best beside these rows, and running its grid again ranks it "
              "again, its trials skipped)")
    for warning in outcome.warnings:
        print(f"warning: {shown(warning)}", file=sys.stderr)
    if not args.quiet and outcome.board:  # on stderr: a script reads the board from stdout
        print(f"next: `tuner report {experiment}{store}` (each configuration's topics, with "
              f"plots), `tuner best {experiment}{store}` (a grid of the best), `tuner ui "
              f"{experiment}{store}` (MLflow's compare view)", file=sys.stderr)
    return EXIT_TRIAL_FAILED if outcome.counts.failed else EXIT_OK


def _new_store_said(tracking_uri: str) -> str:
    """` (a new store ...)` for a local store that is not there yet: a mistyped path, or a run
    from another folder (the default mlruns/), makes a new store and runs every trial again."""
    from tuner.tracking.uri import local_store

    store = local_store(tracking_uri)
    return (" (a new store: no trial has finished there yet, so every trial runs)"
            if store is not None and not store.exists() else "")


def _counts_said(counts: SweepCounts) -> str:
    """`12 completed (2 re-scored ...), 1 pruned (stopped early), 0 failed, 3 skipped ...`."""
    pruned = f", {counts.pruned} pruned (stopped early)" if counts.pruned else ""
    rescored = (f" ({counts.rescored} re-scored from their stored fits: new labels, metric "
                "settings or scoring code)" if counts.rescored else "")
    # a larger topn refits every trial where a smaller one re-scores: the count says why
    rescored += (f" ({counts.unrescorable} fitted again: their stored fits kept fewer words "
                 "per topic than the metrics now read, or lost an artifact, so they could not "
                 "be re-scored)" if counts.unrescorable else "")
    repeated = (f", {counts.repeated} repeated (TPE suggested a configuration again: its "
                "trials ran once)" if counts.repeated else "")
    repeated += (f", {counts.unasked} not asked (the search had suggested every configuration "
                 "its space holds)" if counts.unasked else "")
    return (f"{counts.completed} completed{rescored}{pruned}, {counts.failed} failed, "
            f"{counts.skipped} skipped (already finished){repeated}")


def _serve(args: argparse.Namespace) -> int:
    from tuner.serve.server import ServerSettings, serve
    from tuner.tracking.tracker import resolve_tracking_uri

    settings = ServerSettings(
        args.host, args.port, args.grids_dir, args.cache_dir,
        resolve_tracking_uri(args.tracking_uri), args.max_workers, args.max_trials,
        os.environ.get("TUNER_API_TOKEN") or None, data_roots=tuple(args.data_root or ()),
        allowed_hosts=tuple(args.allowed_host), max_active_sweeps=args.max_active_sweeps,
        max_connections=args.max_connections, request_timeout=args.request_timeout,
        threads_per_worker=args.threads_per_worker, max_batch_tokens=args.max_batch_tokens,
        min_free_gb=args.min_free_gb, max_trial_s=args.max_trial_seconds or None)
    from tuner.serve.errors import EscapedLog

    logging.getLogger("tuner.serve.jobs").setLevel(logging.INFO)  # each sweep's start and end
    for handler in logging.getLogger().handlers:
        handler.setFormatter(EscapedLog(LOG_FORMAT))
    stopped_by = serve(settings, lambda url: print(f"tuner API on {url}", flush=True))
    print(f"tuner API stopped ({stopped_by or 'listener ended'})", flush=True)
    return EXIT_OK


def _report(args: argparse.Namespace) -> int:
    from tuner.reporting.health import counted
    from tuner.reporting.report import default_folder, drawing_warning, write_report
    from tuner.tracking.tracker import resolve_tracking_uri

    out = args.out or default_folder(args.experiment)
    _check_report_folder(out)
    written = write_report(resolve_tracking_uri(args.tracking_uri), args.experiment, out,
                           args.metric)
    print(f"report: {written.html}")
    for said in (written.unended, written.other_code, drawing_warning(written)):
        if said:
            print(f"warning: {shown(said)}", file=sys.stderr)
    failed = f", {counted(written.failed, 'trial')} failed" if written.failed else ""
    print(f"{counted(written.trials, 'finished trial')} in "
          f"{counted(written.configs, 'configuration')}{failed}; "
          f"{len(written.pareto)} on the Pareto front; "
          f"logged to run {written.parent_run_id}")
    return EXIT_OK


def _check_report_folder(out: Path) -> None:
    """`--out` names the folder report.html and its plots go into: else a file there ends in a
    traceback, and `--out report.html` makes a folder of that name."""
    if os.path.lexists(out) and not out.is_dir():
        raise TunerError(f"--out: {out} is a file; name a folder (the report writes report.html "
                         "and its plots into it)")
    if not out.exists() and out.suffix.lower() in (".html", ".htm"):
        raise TunerError(f"--out: names the folder report.html and its plots go into, not the "
                         f"page itself; e.g. --out {out.with_suffix('')}")


def _ui(args: argparse.Namespace) -> int:
    from tuner.serve.mlflow_ui import experiment_page, start_mlflow_ui, stop_mlflow_ui
    from tuner.tracking.tracker import resolve_tracking_uri

    uri = resolve_tracking_uri(args.tracking_uri)
    base_url = f"http://{args.host}:{args.port}"
    page = experiment_page(uri, base_url, args.experiment)
    log = None if args.verbose else Path(tempfile.gettempdir()) / f"tuner-ui-{args.port}.log"
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)  # kill stops it as ^C
    try:
        server = start_mlflow_ui(uri, args.host, args.port, log)
        try:
            _print_ui_addresses(base_url, uri, log, page)
            return server.wait()
        finally:
            stop_mlflow_ui(server)
    except KeyboardInterrupt:
        return EXIT_OK
    finally:
        signal.signal(signal.SIGTERM, previous)


def _print_ui_addresses(base_url: str, uri: str, log: Path | None,
                        page: ExperimentPage | None) -> None:
    from tuner.serve.mlflow_ui import PARALLEL_COORDINATES_HOWTO

    print(f"MLflow UI on {base_url} (store {uri}); Ctrl-C stops it"
          f"{f'; server log {log}' if log else ''}")
    if page is None:
        print("no experiment yet: `tuner run GRID` logs one", flush=True)
        return
    print(f"experiment '{page.name}': {page.url}")
    print(PARALLEL_COORDINATES_HOWTO, flush=True)


def _best(args: argparse.Namespace) -> int:
    import json

    from tuner.reporting.best import best_grid
    from tuner.tracking.tracker import resolve_tracking_uri

    if args.rename is not None and not args.rename.strip():  # else ignored, unsaid
        raise TunerError("--rename: give the experiment name the printed grid should have")
    grid = best_grid(resolve_tracking_uri(args.tracking_uri), args.experiment, args.metric,
                     args.rename, say=lambda note: print(f"note: {note}", file=sys.stderr))
    print(json.dumps(grid, indent=2, ensure_ascii=False))
    return EXIT_OK


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def _init(args: argparse.Namespace) -> int:
    from tuner.starter import starter_grid

    models = _init_models(args.models)
    if args.experiment is not None:
        _check_experiment(args.experiment)
    if args.out is not None and os.path.lexists(args.out):  # a dangling link too
        raise TunerError(f"--out: {args.out} exists; it is kept: name another file")
    if args.out is not None and not args.out.parent.is_dir():
        raise TunerError(f"--out: no folder {args.out.parent} to write {args.out.name} in")
    grid, notes = starter_grid(args.corpus, None if args.out is None else args.out.parent,
                               models, args.experiment)
    notes = [*notes, *_unloadable_said(grid, args.out)]
    text = json.dumps(grid, indent=2, ensure_ascii=False) + "\n"
    for note in notes:
        print(f"note: {shown(note)}", file=sys.stderr)
    if args.out is None:
        print(text, end="")
        return EXIT_OK
    try:
        with args.out.open("x", encoding="utf-8") as handle:  # never over a file made meanwhile
            handle.write(text)
    except OSError as err:  # /proc, /sys, a full disk, a file made meanwhile: exit 2
        raise TunerError(f"--out: {args.out} cannot be written: "
                         f"{err.strerror or type(err).__name__}") from err
    print(f"wrote {args.out}; next: tuner validate {args.out}, then tuner run {args.out}",
          file=sys.stderr)
    return EXIT_OK


def _unloadable_said(grid: dict[str, Any], out: Path | None) -> list[str]:
    """A starter grid runs as it stands: offline, an embedding model it names that is not on
    this machine (THETA's Qwen3 by default) is said now, where `tuner validate` refused it
    (Chinese audit of 2026-12-05). Read as validate reads the grid, from a file beside `out`."""
    from tuner.data.embeddings import offline
    from tuner.engine.sweep import unloadable_embedding_models
    from tuner.grid import load_grid

    if not offline():
        return []
    folder = out.parent if out is not None else Path.cwd()
    try:
        with tempfile.NamedTemporaryFile("w", suffix=".json", dir=folder, encoding="utf-8",
                                         prefix=".tuner-init-") as handle:
            json.dump(grid, handle)
            handle.flush()
            problems = unloadable_embedding_models(load_grid(handle.name))
            named = str(out) if out is not None else "the grid"
            return [f"{named} does not run on this machine as it stands: "
                    + problem.removeprefix(f"{handle.name}: ") for problem in problems]
    except (OSError, TunerError):  # a folder that cannot be written: validate says it later
        return []


def _init_models(names: Sequence[str] | None) -> list[str]:
    """--models as given, each once (LDA and lda are one model); [] when not given."""
    from trainers import canonical_name, registry
    from tuner.params import closest

    if names is None:
        return []
    if not names:
        raise TunerError("--models: name at least one model")
    unknown = [m for m in names if canonical_name(m) is None]
    if unknown:
        raise TunerError(f"--models: unknown model {', '.join(map(repr, unknown))}"
                         f"{closest(unknown[0], registry())}; known: {', '.join(registry())}")
    first: dict[str, str] = {}
    for name in names:
        first.setdefault(str(canonical_name(name)), name)
    return list(first.values())


def _check_experiment(name: str) -> None:
    from tuner.grid_sections import top_level_schema

    why = top_level_schema().get("experiment").problem(name)  # type: ignore[union-attr]
    if why:
        raise TunerError(f"--experiment: {why}")


def _params(args: argparse.Namespace) -> int:
    from trainers import canonical_name, load_trainer, registry
    from tuner.params import closest

    if args.grid:
        from tuner.grid_sections import grid_schemas

        print("\n\n".join(schema.to_markdown() for schema in grid_schemas()))
        return EXIT_OK
    names = list(registry()) if args.model is None else [canonical_name(args.model)]
    if None in names:
        raise TunerError(f"unknown model {args.model!r}{closest(args.model, registry())}; "
                         f"known: {', '.join(registry())}")
    from tuner.grid import seed_bounded  # the ranges a grid is checked against (seeds < 2**32)

    print("\n\n".join(seed_bounded(load_trainer(str(n))).to_markdown() for n in names))
    return EXIT_OK


def _silence_library_noise() -> None:
    """MLflow's "Creating initial MLflow database tables" INFO lines, its "Downloading
    artifacts" bars (three per trial in `tuner report`) and transformers' "Loading weights" bar
    are shown only with -v. The environment reaches worker processes and libraries imported
    later."""
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "error")  # a local cluster's INFO lines
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # else each retry against a locked or lost database logs a traceback (60 lines a sweep);
    # the error that stops the sweep is said in one line
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)


class _RunView:
    """What `tuner run` prints while a sweep runs: the cache events, one line per trial and the
    sweep's progress (a bar on a terminal, summary lines in a log)."""

    def __init__(self, total: int, settings: SweepSettings, bar: bool) -> None:
        self.total, self.settings, self.bar = total, settings, bar
        self.display: ProgressDisplay | None = None
        self.swept: dict[str, list[str]] = {}  # model -> what the grid varies: a trial's name

    def prepared(self, sweep: PreparedSweep, done: frozenset[str]) -> None:
        from tuner.progress import ProgressDisplay, TrialProgress

        self.swept = sweep.grid.swept()
        for name, event in sweep.cache_events.items():
            print(f"cache {name}: {event}")
        for advice in sweep.advice:
            print(f"warning: {shown(advice)}", file=sys.stderr)
        total = len(sweep.trials) or self.total  # equivalent combinations merged; a search: 0
        workers = self.settings.max_workers
        print(f"{total} trial{'s' * (total != 1)}, {workers} worker{'s' * (workers != 1)}",
              flush=True)
        pending = collections.Counter(t.model for t in sweep.trials if t.key not in done)
        self.display = ProgressDisplay(TrialProgress(total, len(done), pending=pending),
                                       sys.stdout, self.bar)

    def finished(self, record: TrialRecord) -> None:
        if record.error is None:
            summary = " ".join(f"{k}={record.metrics[k]:.3f}" for k in
                               ("npmi", "diversity", "ari", "f1") if k in record.metrics)
        else:
            first_line = (record.error.message.splitlines() or [""])[0]  # `assert x`: no message
            summary = f"{record.error.type}: {first_line[:160]}"
        if record.rescored_from is not None:
            summary += f" (re-scored; fit of run {record.rescored_from[:8]})"
        summary += _stopped_at(record)
        line = f"  {record.status.value:<8} {self.label(record.spec):<70} {summary}"
        if self.display is None:
            print(line, flush=True)
        else:
            from tuner.progress import trial_seconds

            self.display.trial_finished(record.status, line, record.spec.model,
                                        trial_seconds(record))

    def step(self, line: str, seconds: float | None = None) -> None:
        """A shared step's start or end, between the trials' lines; at its end, its worker
        seconds count as work done toward the ETA."""
        if self.display is None:
            print(f"  {line}", flush=True)
        else:
            self.display.say(f"  {line}", seconds)

    def label(self, spec: TrialSpec) -> str:
        """A trial's model, the parameters the grid varies and its seed: every parameter, in
        name order, cut to 70 characters, can end before the swept ones (four FAILED BERTopic
        lines read alike)."""
        names = self.swept.get(spec.model)
        if names is None:
            return spec.name[:100]
        shown = ",".join(f"{name}={spec.params.get(name)}" for name in names)
        return f"{spec.model}{f'[{shown}]' if shown else ''}#seed={spec.seed}"[:160]

    def close(self) -> None:
        if self.display is not None:
            self.display.close()


def _stopped_at(record: TrialRecord) -> str:
    """` (stopped at epochs 10 of 30)` for a trial the pruner stopped."""
    from trainers import load_trainer
    from tuner.trial import TrialStatus

    used = record.metrics.get("budget_used")
    if record.status is not TrialStatus.PRUNED or used is None:
        return ""
    param = load_trainer(record.spec.model).budget_param
    if param is None:
        return ""
    planned = record.spec.params.get(param)
    return f" (stopped at {param} {int(used)}{'' if planned is None else f' of {planned}'})"


def console_main() -> None:
    """The `tuner` console script: `main`, then the exit handlers, then exit without tearing the
    interpreter down. Unloading torch, MLflow and the rest takes 1 to 2 s (measured on 2 CPU
    cores) that every cron or n8n call of `tuner run` would otherwise pay; everything a command
    writes is committed before `main` returns. With a child process or a non-daemon thread still
    alive, the normal exit runs and waits for it. The start-up runs without the cyclic garbage
    collector (see tuner.startup)."""
    pause_collection()
    quiet_resource_tracker()
    try:
        code = main()
    except BrokenPipeError:  # the reader left (`tuner params | head`): nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = EXIT_OK
    if multiprocessing.active_children() or any(
            t.is_alive() and not t.daemon for t in threading.enumerate()
            if t is not threading.main_thread()):
        sys.exit(code)
    exit_fast(code)  # logging, multiprocessing's finalizers (semaphores), executors


if __name__ == "__main__":
    console_main()
