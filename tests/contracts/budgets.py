"""Tiny budgets for the trainer contract suite, and the data fixture each model fits on.

tiny_budget(model): the parameters a model fits with in tests/contracts/test_trainers.py
(defaults fill the rest): every parameter of DEFAULT the model's schema has, then the model's
OVERRIDES. A newly registered model gets the default budget without an entry here. Budgets may
go below a schema's minimum (e.g. 3 epochs): fit() trusts its input.

DATA_FOR: model -> the name of the pytest fixture giving its TrialData. Models not listed fit on
`small_data` (400 real 20NG posts, 1,000 words, MiniLM embeddings; tests/conftest.py). A model that
needs special data (DTM: timestamps) names a fixture from tests/contracts/conftest.py.
"""

from __future__ import annotations

from typing import Any

from trainers import load_trainer

DEFAULT: dict[str, Any] = {"num_topics": 5, "vocab_size": 1000, "epochs": 3, "hidden_dim": 64,
                           "num_layers": 1, "max_iter": 20, "n_iter": 20, "embedding_dim": 50}
OVERRIDES: dict[str, dict[str, Any]] = {
    "BERTopic": {"num_topics": None, "min_cluster_size": 10},
    "HDP": {"max_topics": 50, "alpha": 1.0, "max_iter": 100},
    "STM": {"max_iter": 10},
    # The neural models' budgets follow tests/trainers/test_neural_models.py and test_dtm.py.
    "NVDM": {"num_topics": 6},
    "GSM": {"num_topics": 6},
    "ETM": {"num_topics": 6},
    "CTM": {"num_topics": 6, "hidden_dim": 32},
    "THETA": {"num_topics": 6, "kl_warmup": 2},
    "DTM": {"hidden_dim": 128, "batch_size": 64},
}

DATA_FOR: dict[str, str] = {
    "DTM": "dated_data",
}


def tiny_budget(model: str) -> dict[str, Any]:
    """The parameters `model` fits with in the contract suite (defaults fill the rest)."""
    schema = load_trainer(model).params
    return {name: value for name, value in DEFAULT.items() if schema.get(name) is not None} \
        | OVERRIDES.get(model, {})
