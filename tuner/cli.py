"""Command line: tuner run | precompute | validate | params."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from tuner.errors import TunerError

EXIT_OK, EXIT_TRIAL_FAILED, EXIT_INVALID = 0, 1, 2
DEFAULT_CACHE = Path("embedding_cache")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `tuner` console script."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.handler(args))
    except TunerError as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return EXIT_INVALID


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tuner", description=__doc__)
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="precompute, then run every trial of a grid")
    _grid_arguments(run)
    run.add_argument("--max-workers", type=int, default=2, help="worker processes (default 2)")
    run.add_argument("--tracking-uri", help="MLflow tracking URI (default: SQLite under "
                     "mlruns/, or $MLFLOW_TRACKING_URI)")
    run.add_argument("--executor", default="process", choices=["process"])
    run.add_argument("--leaderboard", type=int, default=10, help="rows to print (default 10)")
    run.set_defaults(handler=_run)

    pre = commands.add_parser("precompute", help="build the caches a grid needs, run nothing")
    _grid_arguments(pre)
    pre.set_defaults(handler=_precompute)

    validate = commands.add_parser("validate", help="check a grid and its data; compute nothing")
    _grid_arguments(validate)
    validate.set_defaults(handler=_validate)

    params = commands.add_parser("params", help="print a model's parameters")
    params.add_argument("model", nargs="?", help="model name (all models when omitted)")
    params.set_defaults(handler=_params)
    return parser


def _grid_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("grid", type=Path, help="JSON grid file")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE,
                        help="embedding and bag-of-words cache (default embedding_cache/)")
    parser.add_argument("--max-trials", type=int, default=10000,
                        help="refuse grids expanding to more trials (default 10000)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def _checked(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from tuner.grid import load_grid
    from tuner.sweep import check_inputs

    if getattr(args, "max_workers", 1) < 1:
        raise TunerError(f"--max-workers expects an int >= 1; got {args.max_workers}")
    grid = load_grid(args.grid)
    return grid, check_inputs(grid, args.max_trials)


def _validate(args: argparse.Namespace) -> int:
    grid, inputs = _checked(args)
    print(f"{grid.path}: valid; {grid.trial_count} trials over {len(inputs.corpus)} documents "
          f"({', '.join(s.model for s in grid.sweeps)})")
    return EXIT_OK


def _precompute(args: argparse.Namespace) -> int:
    from tuner.sweep import precompute

    grid, inputs = _checked(args)
    prepared = precompute(grid, inputs, args.cache_dir, progress=not args.quiet)
    for name, event in prepared.cache_events.items():
        print(f"{name}: {event}")
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    from tuner.executors import make_executor
    from tuner.leaderboard import default_metric, format_leaderboard, leaderboard
    from tuner.runner import run_sweep
    from tuner.sweep import precompute
    from tuner.tracking import MlflowTracker, resolve_tracking_uri

    grid, inputs = _checked(args)
    tracker = MlflowTracker(resolve_tracking_uri(args.tracking_uri))
    tracker.experiment_id(grid.experiment)  # fail fast, and create the store before workers run
    prepared = precompute(grid, inputs, args.cache_dir, progress=not args.quiet)
    for name, event in prepared.cache_events.items():
        print(f"cache {name}: {event}")
    print(f"{len(prepared.trials)} trials, {args.max_workers} workers, "
          f"tracking {tracker.tracking_uri}")

    def report(record):  # type: ignore[no-untyped-def]
        if record.error is None:
            summary = " ".join(f"{k}={record.metrics[k]:.3f}" for k in
                               ("npmi", "diversity", "ari", "f1") if k in record.metrics)
        else:
            summary = f"{record.error.type}: {record.error.message.splitlines()[0][:160]}"
        print(f"  {record.status.value:<8} {record.spec.name[:70]:<70} {summary}", flush=True)

    result = run_sweep(prepared, tracker, lambda: make_executor(args.executor, args.max_workers),
                       args.max_workers, report)
    metric = grid.leaderboard_metric or default_metric(inputs.truth is not None)
    board = leaderboard(tracker, result.sweep.experiment_id, metric, args.leaderboard)
    if board:
        tracker.end_sweep(result.sweep, "FINISHED",
                          {f"best_{k}": v for k, v in board[0].metrics.items()})
        tracker.set_tags(result.sweep.run_id, {"tuner.best_run_id": board[0].run_id})
    print(f"\n{result.completed} completed, {result.failed} failed, {result.skipped} skipped "
          f"(already finished)")
    print(f"\nleaderboard by {metric} (experiment '{grid.experiment}'):")
    print(format_leaderboard(board, metric))
    return EXIT_TRIAL_FAILED if result.failed else EXIT_OK


def _params(args: argparse.Namespace) -> int:
    from trainers import canonical_name, load_trainer, registry

    names = list(registry()) if args.model is None else [canonical_name(args.model)]
    if None in names:
        raise TunerError(f"unknown model {args.model!r}; known: {', '.join(registry())}")
    print("\n\n".join(load_trainer(str(n)).params.to_markdown() for n in names))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
