"""Data fixtures for models that need more than the shared `small_data` (see budgets.DATA_FOR)."""

from __future__ import annotations

from collections import defaultdict

import pytest

from tests.conftest import REPO, read_jsonl
from tests.trial_data import trial_data_for

HUFFPOST_MINI = REPO / "datasets" / "huffpost-mini" / "corpus.jsonl"
DATED_PER_YEAR = 80  # 5 years x 80 = 400 documents, the trainer-test ceiling


@pytest.fixture(scope="session")
def dated_data(tmp_path_factory: pytest.TempPathFactory):
    """TrialData of 400 real dated HuffPost headlines (80 per year, file order), with timestamps."""
    by_year: dict[str, list[dict]] = defaultdict(list)
    for record in read_jsonl(HUFFPOST_MINI):
        by_year[record["timestamp"][:4]].append(record)
    keep = [r for year in sorted(by_year) for r in by_year[year][:DATED_PER_YEAR]]
    return trial_data_for(keep, tmp_path_factory.mktemp("dated"), timestamp_field="timestamp")
