"""bench/quality/*.json: every grid is a valid tuner grid once the bench fills in the corpus,
and all follow issue #12's fixed protocol, so the benchmark table compares models, not
preprocessing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bench.conftest import bench_script
from tuner.grid import load_grid

REPO = Path(__file__).resolve().parents[2]
GRIDS = sorted((REPO / "bench" / "quality").glob("*.json"))
MINI = REPO / "datasets" / "20ng-mini" / "corpus.jsonl"


@pytest.fixture(scope="module")
def bench():
    with bench_script("quality_20ng") as module:
        yield module


@pytest.mark.parametrize("path", GRIDS, ids=[p.stem for p in GRIDS])
def test_grid_follows_the_protocol(path, bench, tmp_path):
    grid = load_grid(bench.grid_for(path, MINI, [42, 43, 44], tmp_path))
    prep = grid.preprocessing
    assert (prep.lowercase, prep.stopwords, prep.min_token_len, prep.min_df, prep.max_df) == \
        (True, "english", 3, 5, 0.7)
    assert (grid.metrics.npmi_window, grid.metrics.topn) == (10, 10)
    assert grid.seeds == [42, 43, 44]
    assert grid.dataset.path == MINI.resolve()
    for sweep in grid.sweeps:
        assert sweep.model.lower() == path.stem
        assert {c.get("num_topics", 20) for c in sweep.combinations} == {20}
        assert {c.get("vocab_size", 5000) for c in sweep.combinations} == {5000}


def test_the_20ng_mini_grid_of_the_readme_follows_the_protocol_on_the_bundled_corpus():
    """bench/quality-20ng-mini.json, the README's 20ng-mini rows (LDA, HDP, STM, BERTopic),
    is a plain grid on the bundled 2,000 posts with the protocol's settings."""
    grid = load_grid(REPO / "bench" / "quality-20ng-mini.json")
    prep = grid.preprocessing
    assert (prep.lowercase, prep.stopwords, prep.min_token_len, prep.min_df, prep.max_df) == \
        (True, "english", 3, 5, 0.7)
    assert (grid.metrics.npmi_window, grid.metrics.topn, grid.metrics.npmi_reference) == \
        (10, 10, "vocabulary")
    assert grid.dataset.path == MINI.resolve() and grid.seeds == [42, 43, 44]
    assert sorted(s.model for s in grid.sweeps) == ["BERTopic", "HDP", "LDA", "STM"]


def test_the_lda_iterations_grid_of_the_readme_runs_on_the_bundled_corpus():
    """bench/lda-iterations.json, the README's LDA row (max_iter 100, 500 and 1,000)."""
    grid = load_grid(REPO / "bench" / "lda-iterations.json")
    assert grid.dataset.path == MINI.resolve() and grid.seeds == [42]
    assert [c["max_iter"] for c in grid.sweeps[0].combinations] == [100, 500, 1000]


def test_grid_without_the_corpus_placeholder_is_refused(bench, tmp_path):
    raw = json.loads(GRIDS[0].read_text(encoding="utf-8"))
    raw["dataset"]["path"] = "datasets/20ng-mini/corpus.jsonl"
    wrong = tmp_path / "wrong" / GRIDS[0].name
    wrong.parent.mkdir()
    wrong.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(SystemExit, match=r"wrong/.*\.json: dataset.path must be the string "
                                         r"\"CORPUS\""):
        bench.grid_for(wrong, MINI, [1], tmp_path)


def test_merged_trials_keep_their_own_labels_and_plain_lda_is_the_reference(bench, tmp_path):
    """alpha null is 1/K: the four combinations below are two trials. Each result is labelled
    with its own parameters, and ProdLDA's and STM's reference is the best unweighted LDA."""
    raw = json.loads((REPO / "bench" / "quality" / "lda.json").read_text(encoding="utf-8"))
    raw["params"] = {"num_topics": 20, "vocab_size": 5000, "max_iter": 10,
                     "alpha": [None, 0.05], "term_weight": ["one", "idf"]}
    grids = tmp_path / "grids"
    grids.mkdir()
    (grids / "lda.json").write_text(json.dumps(raw), encoding="utf-8")
    args = bench._arguments([str(MINI), "--seeds", "42", "--grids", str(grids),
                             "--cache", str(tmp_path / "cache")])
    results, trials = bench.run_all([grids / "lda.json"], args, tmp_path)
    label = "alpha=0.05, max_iter=10, num_topics=20, term_weight={}, vocab_size=5000"
    assert sorted(t["config"] for t in trials) == [label.format("idf"), label.format("one")]
    assert results[bench.PLAIN_LDA].config == label.format("one")


def test_relative_verdicts_print_the_gap_and_its_standard_error(bench):
    """ProdLDA 0.10 ± 0.02 against LDA 0.12 ± 0.01 over three seeds: the gap is -0.020 and its
    Welch standard error sqrt(0.0004/3 + 0.0001/3) = 0.0129."""
    def result(model, npmi):
        return bench.Result(model, "defaults", npmi, [0.2] * 3, [0.9] * 3, 1.0, 0)

    lda = result("LDA", [0.11, 0.12, 0.13])
    results = {"LDA": lda, bench.PLAIN_LDA: lda, "ProdLDA": result("ProdLDA", [0.08, 0.10, 0.12])}
    gap, error = bench.gap_to_plain_lda("ProdLDA", results)
    assert gap == pytest.approx(-0.02)
    assert error == pytest.approx(((0.0004 + 0.0001) / 3) ** 0.5)
    row = next(line for line in bench.table(results).splitlines() if line.startswith("| ProdLDA"))
    assert row.endswith("FAIL (gap -0.020, standard error 0.013) |")
    lda_row = next(line for line in bench.table(results).splitlines() if line.startswith("| LDA"))
    assert "gap" not in lda_row
    assert bench.gap_to_plain_lda("ProdLDA", {"ProdLDA": results["ProdLDA"]}) is None
