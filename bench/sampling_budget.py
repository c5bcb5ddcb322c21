"""What the Gibbs samplers' iteration budget does to their topics: LDA at `max_iter` 100 (the
default, the parameter reference's), 500 and 1,000, and for short texts BTM at `n_iter` 100
(its default) and 500 (its most), K = the corpus's number of labels, seeds 42 and 43.

A random sample of `--sample` documents (seed 7; every document when 0) of a labelled JSONL
corpus, with `--first-line` the first line of each text alone (a headline). Each trial is fitted
and scored by tuner's own `run_trial`, one at a time. It prints, per model and budget, the mean
ARI, NPMI and diversity over the seeds and the mean fit seconds. `tuner validate` and `tuner
init` quote these figures (engine/advice.py, starter.py).

Usage: python bench/sampling_budget.py CORPUS.jsonl [--language en|zh] [--sample 3000]
       [--first-line] [--btm]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
from pathlib import Path

from _common import machine, scratch

from tuner.engine.sweep import check_inputs, precompute
from tuner.engine.worker import init_worker, run_trial
from tuner.grid import load_grid
from tuner.trial import TrialStatus

SEEDS = [42, 43]
LDA_BUDGETS = [100, 500, 1000]
BTM_BUDGETS = [100, 500]


def sample(corpus: Path, size: int, first_line: bool, folder: Path) -> tuple[Path, int]:
    """The sampled corpus written to `folder` (id, text, label) and its number of labels."""
    rows = [json.loads(line) for line in corpus.open(encoding="utf-8") if line.strip()]
    rows = [r for r in rows if r.get("label") not in (None, "")]
    if 0 < size < len(rows):
        rows = random.Random(7).sample(rows, size)
    path = folder / "corpus.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for r in rows:
            text = str(r["text"]).strip().split("\n")[0] if first_line else r["text"]
            out.write(json.dumps({"id": r["id"], "text": text, "label": r["label"]},
                                 ensure_ascii=False) + "\n")
    return path, len({r["label"] for r in rows})


def grid(corpus: Path, language: str, k: int, btm: bool, folder: Path) -> Path:
    params: dict[str, object] = {"num_topics": k, "lda.max_iter": LDA_BUDGETS}
    if btm:
        params["btm.n_iter"] = BTM_BUDGETS
    path = folder / "grid.json"
    path.write_text(json.dumps({
        "experiment": "sampling-budget", "dataset": {"path": str(corpus), "language": language},
        "models": ["LDA", "BTM"] if btm else ["LDA"], "params": params, "seeds": SEEDS}),
        encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--language", default="en", choices=["en", "zh"])
    parser.add_argument("--sample", type=int, default=3000, help="documents (0: all)")
    parser.add_argument("--first-line", action="store_true", help="each text's first line")
    parser.add_argument("--btm", action="store_true", help="BTM too (short texts)")
    args = parser.parse_args()
    folder = scratch()
    corpus, k = sample(args.corpus, args.sample, args.first_line, folder)
    loaded = load_grid(grid(corpus, args.language, k, args.btm, folder))
    trials = precompute(loaded, check_inputs(loaded), folder / "cache", progress=False).trials
    init_worker(1)
    results: dict[tuple[str, int], list[dict[str, float]]] = {}
    for spec in trials:
        record = run_trial(spec)
        if record.status is not TrialStatus.COMPLETE:
            raise SystemExit(f"{spec.name}: {record.status.value}: {record.error}")
        budget = int(spec.params.get("max_iter") or spec.params.get("n_iter") or 0)
        results.setdefault((spec.model, budget), []).append(record.metrics)
    documents = sum(1 for _ in corpus.open(encoding="utf-8"))
    print(f"{args.corpus} ({machine()}): {documents} documents"
          f"{', first lines' if args.first_line else ''}, K={k}, seeds {SEEDS}")
    print(f"{'model':<6} {'budget':>6} {'ARI':>7} {'NPMI':>7} {'diversity':>9} {'fit s':>6}")
    for (model, budget), metrics in sorted(results.items()):
        def mean(name: str, of: list[dict[str, float]] = metrics) -> float:
            return statistics.fmean(m[name] for m in of)
        print(f"{model:<6} {budget:>6} {mean('ari'):>7.3f} {mean('npmi'):>7.3f} "
              f"{mean('diversity'):>9.3f} {mean('fit_seconds'):>6.1f}")


if __name__ == "__main__":
    main()
