"""Tiny budgets for the trainer contract suite, and the data fixture each model fits on.

TINY: model -> the parameters it fits with in tests/contracts/test_trainers.py (defaults fill the
rest). Every registered model needs an entry: the suite fails for a model without one rather than
skipping it. Budgets may go below a schema's minimum (e.g. 3 epochs): fit() trusts its input.

DATA_FOR: model -> the name of the pytest fixture giving its TrialData. Models not listed fit on
`small_data` (400 real 20NG posts, 1,000 words, MiniLM embeddings; tests/conftest.py). A model that
needs special data (DTM: timestamps) names a fixture from tests/contracts/conftest.py.
"""

from __future__ import annotations

from typing import Any

TINY: dict[str, dict[str, Any]] = {
    "LDA": {"num_topics": 5, "vocab_size": 1000, "max_iter": 20},
    "BERTopic": {"num_topics": None, "vocab_size": 1000, "min_cluster_size": 10},
    "ProdLDA": {"num_topics": 5, "vocab_size": 1000, "epochs": 3, "hidden_dim": 64,
                "num_layers": 1},
    "HDP": {"max_topics": 50, "vocab_size": 1000, "alpha": 1.0, "max_iter": 100},
    "STM": {"num_topics": 5, "vocab_size": 1000, "max_iter": 10},
    "BTM": {"num_topics": 5, "vocab_size": 1000, "n_iter": 20},
    # The neural models' budgets follow tests/trainers/test_neural_models.py and test_dtm.py.
    "NVDM": {"num_topics": 6, "vocab_size": 1000, "epochs": 3, "hidden_dim": 64, "num_layers": 1},
    "GSM": {"num_topics": 6, "vocab_size": 1000, "epochs": 3, "hidden_dim": 64, "num_layers": 1},
    "ETM": {"num_topics": 6, "vocab_size": 1000, "epochs": 3, "hidden_dim": 64, "num_layers": 1,
            "embedding_dim": 50},
    "CTM": {"num_topics": 6, "vocab_size": 1000, "epochs": 3, "hidden_dim": 32, "num_layers": 1},
    "THETA": {"num_topics": 6, "vocab_size": 1000, "epochs": 3, "hidden_dim": 64,
              "num_layers": 1, "kl_warmup": 2},
    "DTM": {"num_topics": 5, "vocab_size": 1000, "epochs": 3, "hidden_dim": 128,
            "embedding_dim": 50, "batch_size": 64},
}

DATA_FOR: dict[str, str] = {
    "DTM": "dated_data",
}
