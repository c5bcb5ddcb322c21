"""bench/scale.py builds its 100,000-paragraph corpus from the corpora beside the repository,
which a clone alone lacks: it says what it needs and how to pass a corpus, where it gave
FileNotFoundError's traceback (README figures audit of 2026-12-03)."""

from __future__ import annotations

import json

import pytest

from tests.bench.conftest import bench_script


def test_a_missing_source_corpus_is_named_with_the_way_round_it(tmp_path):
    with bench_script("scale") as scale:
        (tmp_path / scale.SOURCES[0]).mkdir()
        (tmp_path / scale.SOURCES[0] / "corpus.jsonl").write_text(
            json.dumps({"id": "1", "text": "a b c", "label": "x"}) + "\n", encoding="utf-8")
        with pytest.raises(SystemExit, match=r"which lacks bbc-news, huffpost-news-2018-2022: "
                                             r"pass --corpus PATH"):
            scale.paragraphs(tmp_path)
