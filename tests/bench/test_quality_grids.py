"""bench/quality/*.json: every grid is a valid tuner grid once the bench fills in the corpus,
and all follow issue #12's fixed protocol, so the benchmark table compares models, not
preprocessing."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tuner.grid import load_grid

REPO = Path(__file__).resolve().parents[2]
GRIDS = sorted((REPO / "bench" / "quality").glob("*.json"))
MINI = REPO / "datasets" / "20ng-mini" / "corpus.jsonl"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import quality_20ng

        yield quality_20ng
    finally:
        sys.path.remove(str(REPO / "bench"))


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


def test_grid_without_the_corpus_placeholder_is_refused(bench, tmp_path):
    raw = json.loads(GRIDS[0].read_text(encoding="utf-8"))
    raw["dataset"]["path"] = "datasets/20ng-mini/corpus.jsonl"
    wrong = tmp_path / "wrong" / GRIDS[0].name
    wrong.parent.mkdir()
    wrong.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(SystemExit, match=r"wrong/.*\.json: dataset.path must be the string "
                                         r"\"CORPUS\""):
        bench.grid_for(wrong, MINI, [1], tmp_path)
