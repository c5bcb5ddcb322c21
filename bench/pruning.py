"""Pruning against the full grid (issue #13): the same configurations run twice through `tuner run`,
once in full (pruner "none": every trial trains its whole budget and logs its learning curve) and
once under a pruner, each into its own MLflow store, with the caches warmed beforehand.

Usage:
    python bench/pruning.py [--model ProdLDA|ETM|LDA] [--corpus PATH] [--budget N]
                            [--pruner asha|hyperband|median] [--min-resource N]
                            [--reduction-factor 3] [--workers 2]

Prints, for one seed (42) and the model's 27 configurations (`GRIDS`):
- the rank correlation (Spearman) between each configuration's objective at min_resource and at
  the end of its budget, from the full run's learning curves: pruning can only be trusted when
  it is high;
- compute ratio: sum of the budget units trained (epochs or iterations) pruned / full;
- wall-time ratio pruned / full;
- the best objective the pruned run found (among trials that ran their full budget), the full
  grid's best, their gap, and the rank of the pruned run's best configuration in the full grid.

The objective is ARI against the corpus's labels (`label` field), as a sweep with a ground truth
optimises. Defaults: 20ng-mini (2,000 posts), ProdLDA, 100 epochs, ASHA with min_resource 10 and
reduction factor 3, 2 workers. LDA runs over `max_iter` (default budget 200).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import CORPUS, REPO, machine, scratch

NEURAL_SPACE = {"learning_rate": [0.0005, 0.002, 0.008], "hidden_dim": [128, 256, 512],
                "dropout": [0.0, 0.2, 0.5]}
GRIDS: dict[str, dict[str, list[Any]]] = {
    "ProdLDA": NEURAL_SPACE,
    "ETM": NEURAL_SPACE,
    "LDA": {"alpha": [0.01, 0.05, 0.25], "eta": [0.005, 0.02, 0.1], "optim_interval": [0, 10, 50]},
}
BUDGET_PARAM = {"ProdLDA": "epochs", "ETM": "epochs", "LDA": "max_iter"}
FIXED: dict[str, dict[str, Any]] = {
    "ProdLDA": {"patience": None}, "ETM": {"patience": None}, "LDA": {},
}
METRIC = "ari"


@dataclass(frozen=True)
class Trial:
    key: str
    config: str
    status: str
    final: float | None
    used: float
    curve: dict[int, float]


@dataclass(frozen=True)
class Sweep:
    wall_s: float
    trials: list[Trial]

    @property
    def units(self) -> float:
        return sum(t.used for t in self.trials)

    def complete(self) -> list[Trial]:
        return [t for t in self.trials if t.status == "COMPLETE" and t.final is not None]


def grid(args: argparse.Namespace, experiment: str, pruner: dict[str, Any],
         space: dict[str, list[Any]] | None = None) -> dict[str, Any]:
    params = {"num_topics": 20, "vocab_size": 5000, BUDGET_PARAM[args.model]: args.budget,
              **FIXED[args.model], **(GRIDS[args.model] if space is None else space)}
    return {"experiment": experiment,
            "dataset": {"path": str(args.corpus), "label_field": "label"},
            "model": args.model, "params": params, "seeds": [42],
            "search": {"strategy": "grid", "pruner": pruner}}


def run(folder: Path, name: str, spec: dict[str, Any], cache: Path, workers: int) -> Sweep:
    """`tuner run` of `spec` into a fresh store; its wall time and trials."""
    path = folder / f"{name}.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    store = f"sqlite:///{folder / f'{name}.db'}"
    started = time.perf_counter()
    done = subprocess.run([str(Path(sys.executable).parent / "tuner"), "run", str(path),
                           "--max-workers", str(workers), "--cache-dir", str(cache),
                           "--tracking-uri", store, "--quiet"],
                          capture_output=True, text=True, cwd=REPO)
    wall = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"tuner run failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return Sweep(wall, read_trials(store, spec["experiment"], BUDGET_PARAM[spec["model"]]))


def read_trials(store: str, experiment: str, budget_param: str) -> list[Trial]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(store)
    found = client.get_experiment_by_name(experiment)
    runs = client.search_runs([found.experiment_id], "tags.`tuner.role` = 'trial'",
                              max_results=1000)
    swept = sorted({name for names in GRIDS.values() for name in names})
    trials = []
    for r in runs:
        curve = {m.step: m.value
                 for m in client.get_metric_history(r.info.run_id, f"curve/{METRIC}")}
        config = ",".join(f"{p}={r.data.params[p]}" for p in swept if p in r.data.params)
        trials.append(Trial(r.data.tags["tuner.trial_key"], config, r.data.tags["tuner.status"],
                            r.data.metrics.get(METRIC), r.data.metrics.get("budget_used", 0.0),
                            curve))
    return trials


def spearman(first: list[float], second: list[float]) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(first, second).statistic)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", choices=sorted(GRIDS), default="ProdLDA")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--budget", type=int, default=None)
    parser.add_argument("--pruner", choices=("asha", "hyperband", "median"), default="asha")
    parser.add_argument("--min-resource", type=int, default=None)
    parser.add_argument("--reduction-factor", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    args.corpus = args.corpus.resolve()
    args.budget = args.budget or (200 if args.model == "LDA" else 100)
    low = args.min_resource or (20 if args.model == "LDA" else 10)
    folder, cache = scratch(), scratch() / "cache"
    print(f"machine: {machine()}; corpus {args.corpus}; {args.model}, budget "
          f"{args.budget} {BUDGET_PARAM[args.model]}, {args.workers} workers, seed 42, "
          f"objective {METRIC}")
    one = {name: values[:1] for name, values in GRIDS[args.model].items()}
    warm = grid(args, "warm-up", {"type": "none", "min_resource": low}, one)
    warm["params"][BUDGET_PARAM[args.model]] = 10
    run(folder, "warm-up", warm, cache, args.workers)  # bags of words, word vectors: cached
    full = run(folder, "full", grid(args, "full", {"type": "none", "min_resource": low}),
               cache, args.workers)
    pruner = {"type": args.pruner, "min_resource": low,
              "reduction_factor": args.reduction_factor}
    pruned = run(folder, "pruned", grid(args, "pruned", pruner), cache, args.workers)
    report(args, low, full, pruned)


def report(args: argparse.Namespace, low: int, full: Sweep, pruned: Sweep) -> None:
    finished = full.complete()
    with_curve = [t for t in finished if low in t.curve]
    rho = spearman([t.curve[low] for t in with_curve], [t.final or 0.0 for t in with_curve])
    ranking = sorted(finished, key=lambda t: -(t.final or 0.0))
    rank_of = {t.key: i + 1 for i, t in enumerate(ranking)}
    best_full = ranking[0]
    best_pruned = max(pruned.complete(), key=lambda t: t.final or 0.0)
    stopped: dict[int, int] = {}
    for t in pruned.trials:
        if t.status == "PRUNED":
            stopped[int(t.used)] = stopped.get(int(t.used), 0) + 1
    gap = (best_full.final or 0.0) - (best_pruned.final or 0.0)
    rank = rank_of.get(best_pruned.key)
    print(f"configurations: {len(full.trials)} (full), {len(pruned.trials)} (pruned run)")
    print(f"rank correlation (Spearman) of {METRIC} at {low} vs at {args.budget}: {rho:.3f} "
          f"over {len(with_curve)} configurations")
    print(f"full:   wall {full.wall_s:.1f} s, {full.units:.0f} units trained, best {METRIC} "
          f"{best_full.final:.4f} ({best_full.config})")
    print(f"pruned ({args.pruner}, min_resource {low}, reduction factor "
          f"{args.reduction_factor}): wall {pruned.wall_s:.1f} s, {pruned.units:.0f} units, "
          f"stopped after (units: trials) {dict(sorted(stopped.items()))}, best {METRIC} "
          f"{best_pruned.final:.4f} ({best_pruned.config})")
    print(f"compute ratio {pruned.units / full.units:.3f} (target <= 0.40); wall ratio "
          f"{pruned.wall_s / full.wall_s:.3f}; gap to the full grid's best {gap:+.4f} "
          f"(target <= 0.01) ; the pruned run's best is #{rank} of the full grid "
          f"(target: top 3)")


if __name__ == "__main__":
    main()
