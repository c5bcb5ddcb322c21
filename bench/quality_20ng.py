"""Topic quality on 20 Newsgroups against the targets of issue #12, one table for every model.

Usage:
    python bench/quality_20ng.py CORPUS [--models M ...] [--seeds 42 43 44] [--workers N]
                                 [--cache DIR] [--json FILE]

CORPUS is the 12,000-post 20 Newsgroups `corpus.jsonl` (where to get it: README, "Benchmarks");
`datasets/20ng-mini/corpus.jsonl` (2,000 posts) gives a quick, smaller check. Each model's grid is
`bench/quality/<model>.json`, a plain tuner grid whose `dataset.path` is the string "CORPUS" and
whose `preprocessing` is the fixed protocol (vocabulary 5,000, min_df 5, max_df 0.7, words of 3+
letters, sklearn stop words; NPMI window 10 on the corpus's in-vocabulary tokens, as the papers
count over their preprocessed corpora (`npmi_reference` vocabulary), top 10 words). The bench
precomputes each grid into a temporary cache (the store), runs every trial through the worker's
`run_trial` in a process pool, takes the configuration with the best mean NPMI over the seeds and
prints: model, best configuration, NPMI mean ± sd, ARI, diversity, target and pass/fail, and
for the targets relative to plain LDA the gap in mean NPMI with its standard error.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

from _common import REPO, machine, scratch

from tuner.engine.sweep import check_inputs, precompute
from tuner.engine.worker import init_worker, run_trial
from tuner.grid import load_grid
from tuner.trial import TrialRecord, TrialSpec, TrialStatus

GRIDS = REPO / "bench" / "quality"


@dataclass(frozen=True)
class Target:
    text: str
    check: Callable[[dict[str, Result]], bool | None]  # None: the reference model did not run
    against_plain_lda: bool = False  # the verdict also prints the gap and its standard error


@dataclass(frozen=True)
class Result:
    model: str
    config: str
    npmi: list[float]
    ari: list[float]
    diversity: list[float]
    fit_seconds: float
    failed: int


def _mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def _npmi_at_least(threshold: float) -> Callable[[Result], bool]:
    return lambda r: _mean(r.npmi) >= threshold


def _relative_to_lda(model: str, slack: float) -> Callable[[dict[str, Result]], bool | None]:
    """Against plain LDA (every token counts 1), the model ProdLDA's and STM's papers compare
    with; the LDA grid's term-weighted variants are reported beside it, not compared with."""
    def check(results: dict[str, Result]) -> bool | None:
        lda = results.get(PLAIN_LDA)
        if lda is None:  # LDA did not run, or ran term-weighted only
            return None
        return _mean(results[model].npmi) >= _mean(lda.npmi) - slack
    return check


def gap_to_plain_lda(model: str, results: dict[str, Result]) -> tuple[float, float] | None:
    """The model's mean NPMI minus plain LDA's, and the standard error of that difference
    (Welch). A neural model's NPMI spreads by about 0.02 between seeds (ProdLDA: 0.065 to 0.123
    over six), and with three seeds a side the difference has few degrees of freedom: a gap of
    a few standard errors can still be the seeds drawn."""
    lda, own = results.get(PLAIN_LDA), results.get(model)
    if lda is None or own is None or len(lda.npmi) < 2 or len(own.npmi) < 2:
        return None
    error = math.sqrt(statistics.variance(own.npmi) / len(own.npmi)
                      + statistics.variance(lda.npmi) / len(lda.npmi))
    return _mean(own.npmi) - _mean(lda.npmi), error


def _own(model: str, test: Callable[[Result], bool]) -> Callable[[dict[str, Result]], bool]:
    return lambda results: test(results[model])


PLAIN_LDA = "LDA, term_weight one"
TARGETS: dict[str, Target] = {
    "LDA": Target("NPMI >= 0.13, ARI >= 0.20", _own(
        "LDA", lambda r: _mean(r.npmi) >= 0.13 and _mean(r.ari) >= 0.20)),
    "ProdLDA": Target("NPMI >= plain LDA's", _relative_to_lda("ProdLDA", 0.0), True),
    "CTM": Target("NPMI >= 0.11", _own("CTM", _npmi_at_least(0.11))),
    "ETM": Target("NPMI >= 0.10", _own("ETM", _npmi_at_least(0.10))),
    "BERTopic": Target("NPMI >= 0.17", _own("BERTopic", _npmi_at_least(0.17))),
    "HDP": Target("ARI >= 0.12", _own("HDP", lambda r: _mean(r.ari) >= 0.12)),
    "STM": Target("NPMI within 0.01 of plain LDA's", _relative_to_lda("STM", 0.01), True),
}


def grid_for(model_file: Path, corpus: Path, seeds: list[int], folder: Path) -> Path:
    """The model's bench grid with the corpus path and seeds filled in, written to `folder`."""
    grid = json.loads(model_file.read_text(encoding="utf-8"))
    if grid.get("dataset", {}).get("path") != "CORPUS":
        raise SystemExit(f"{model_file}: dataset.path must be the string \"CORPUS\"")
    grid["dataset"]["path"] = str(corpus.resolve())
    grid["seeds"] = seeds
    path = folder / model_file.name
    path.write_text(json.dumps(grid, indent=1), encoding="utf-8")
    return path


def run_grid(grid_path: Path, cache: Path, workers: int
             ) -> tuple[str, list[tuple[str, TrialRecord]]]:
    """Every trial of one grid: (model, [(configuration label, record)])."""
    grid = load_grid(grid_path)
    inputs = check_inputs(grid)
    prepared = precompute(grid, inputs, cache, progress=False)
    swept = list(inputs.plan[0].combo)
    # Labelled from each trial's own parameters: equivalent combinations are merged into one
    # trial (k-means ignores HDBSCAN's settings), so trials no longer line up with the plan.
    labels = [_label({name: t.params[name] for name in swept}) for t in prepared.trials]
    records = _run_trials(prepared.trials, workers)
    return inputs.plan[0].model, list(zip(labels, records, strict=True))


def _label(combo: dict[str, object]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(combo.items())) or "defaults"


def _run_trials(trials: list[TrialSpec], workers: int) -> list[TrialRecord]:
    results: dict[int, TrialRecord] = {}
    context = get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=init_worker,
                             initargs=(1,)) as pool:
        futures = {pool.submit(run_trial, spec): i for i, spec in enumerate(trials)}
        for future in as_completed(futures):
            record = future.result()
            results[futures[future]] = record
            _progress(record)
    return [results[i] for i in range(len(trials))]


def _progress(record: TrialRecord) -> None:
    if record.status is TrialStatus.COMPLETE:
        m = record.metrics
        print(f"  {record.spec.name}: npmi={m.get('npmi', float('nan')):.3f} "
              f"ari={m.get('ari', float('nan')):.3f} div={m.get('diversity', float('nan')):.3f} "
              f"({m.get('fit_seconds', 0):.0f} s)", flush=True)
    else:
        error = record.error.message if record.error else "?"
        print(f"  {record.spec.name}: {record.status.value}: {error}", flush=True)


def best_result(model: str, labelled: list[tuple[str, TrialRecord]]) -> Result:
    """The configuration with the best mean NPMI over its seeds."""
    by_config: dict[str, list[TrialRecord]] = {}
    for label, record in labelled:
        by_config.setdefault(label, []).append(record)
    results = [_summary(model, label, records) for label, records in by_config.items()]
    return max(results, key=lambda r: (-r.failed, _mean(r.npmi) if r.npmi else -1.0))


def _summary(model: str, label: str, records: list[TrialRecord]) -> Result:
    done = [r.metrics for r in records if r.status is TrialStatus.COMPLETE]
    return Result(model, label, [m["npmi"] for m in done], [m["ari"] for m in done if "ari" in m],
                  [m["diversity"] for m in done], _mean([m["fit_seconds"] for m in done]),
                  len(records) - len(done))


def table(results: dict[str, Result]) -> str:
    rows = ["| model | best config | NPMI mean ± sd | ARI | diversity | fit s | target | "
            "pass |", "|---|---|---|---|---|---|---|---|"]
    for model, r in results.items():
        if model == PLAIN_LDA and r.config == results["LDA"].config:
            continue  # the best LDA is unweighted: one row says it
        spread = statistics.stdev(r.npmi) if len(r.npmi) > 1 else 0.0
        target = TARGETS.get(model)
        verdict = target.check(results) if target else None
        mark = {True: "pass", False: "FAIL", None: "-"}[verdict]
        gap = gap_to_plain_lda(model, results) if target and target.against_plain_lda \
            else None
        if gap is not None:
            mark += f" (gap {gap[0]:+.3f}, standard error {gap[1]:.3f})"
        rows.append(f"| {model} | {r.config} | {_mean(r.npmi):.3f} ± {spread:.3f} | "
                    f"{_mean(r.ari):.3f} | {_mean(r.diversity):.3f} | {r.fit_seconds:.0f} | "
                    f"{target.text if target else '-'} | {mark}"
                    f"{f' ({r.failed} failed)' if r.failed else ''} |")
    return "\n".join(rows)


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path, help="20 Newsgroups corpus.jsonl")
    parser.add_argument("--models", nargs="+", default=None,
                        help="models to run (default: every bench/quality/*.json)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[42, 43, 44])
    parser.add_argument("--workers", type=int, default=1, help="trials at once (1 thread each)")
    parser.add_argument("--grids", type=Path, default=GRIDS, help="folder of <model>.json grids")
    parser.add_argument("--json", type=Path, default=None, help="also write every trial here")
    parser.add_argument("--cache", type=Path, default=None,
                        help="keep the caches (embeddings, bags of words, Word2Vec) in this folder "
                             "across runs (default: a temporary folder, removed at the end)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    if not args.corpus.is_file():
        raise SystemExit(f"{args.corpus}: no such corpus file")
    files = [args.grids / f"{m.lower()}.json" for m in args.models] if args.models \
        else sorted(args.grids.glob("*.json"))
    folder = scratch()
    print(f"machine: {machine()}; corpus: {args.corpus}; seeds {args.seeds}", flush=True)
    try:
        results, trials = run_all(files, args, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(trials, indent=1), encoding="utf-8")
    return 0


def run_all(files: list[Path], args: argparse.Namespace, folder: Path
            ) -> tuple[dict[str, Result], list[dict[str, object]]]:
    """Each grid in turn: the best configuration per model, and every trial as a plain dict."""
    results: dict[str, Result] = {}
    trials: list[dict[str, object]] = []
    for model_file in files:
        started = time.perf_counter()
        model, labelled = run_grid(grid_for(model_file, args.corpus, args.seeds, folder),
                                   args.cache or folder / "cache", args.workers)
        results[model] = best_result(model, labelled)
        plain = [(label, r) for label, r in labelled if r.spec.params.get("term_weight") == "one"]
        if model == "LDA" and plain:
            results[PLAIN_LDA] = best_result(PLAIN_LDA, plain)
        trials += [{"model": model, "config": label, "seed": r.spec.seed,
                    "status": r.status.value, "metrics": r.metrics} for label, r in labelled]
        print(f"{model}: {time.perf_counter() - started:.0f} s", flush=True)
    return results, trials


if __name__ == "__main__":
    sys.exit(main())
