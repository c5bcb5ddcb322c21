"""Build a worker's TrialData for a list of real records, through the real grid and caches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import make_grid, write_jsonl


def trial_data_for(records: list[dict[str, Any]], folder: Path, vocab_size: int = 1000,
                   model: str = "lda", **dataset: Any) -> Any:
    """TrialData of `records` written to `folder`, as `model`'s trial loads it (a model that
    reads embeddings gets MiniLM's); `dataset` overrides the grid's dataset fields (e.g.
    language="zh", covariates=["group"], timestamp_field="timestamp")."""
    from tuner.engine.sweep import check_inputs, precompute
    from tuner.engine.worker import load_trial_data
    from tuner.grid import load_grid

    corpus = write_jsonl(folder / "corpus.jsonl", records)
    spec = {"path": str(corpus), "text_field": "text", "id_field": "id", "label_field": "label",
            "language": "en", **dataset}
    grid = load_grid(make_grid(folder, corpus, dataset=spec, models=[model],
                               params={"num_topics": 5, "vocab_size": vocab_size}))
    prepared = precompute(grid, check_inputs(grid), folder / "cache", progress=False)
    return load_trial_data(prepared.trials[0].data)
