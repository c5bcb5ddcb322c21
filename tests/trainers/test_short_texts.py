"""Neural topic models on headlines must keep their topics and documents apart.

On 1,000 headlines (about 10 words each) three failures were seen, and each fails a check here:
- ETM, DTM and THETA: Word2Vec vectors share one dominant direction, and every topic had the
  same word list (diversity 0.06).
- ProdLDA and CTM: the held-out loss first rises for about 20 epochs, and early stopping inside
  that bump kept first-epoch weights that put every document in one topic.
- GSM: the posterior collapsed (every document the same θ) until its encoder heads got batch
  norm.
"""

from __future__ import annotations

import numpy as np
import pytest

from trainers import load_trainer
from tuner.data.inputs import FitContext

BUDGET = {"num_topics": 10, "vocab_size": 1000, "epochs": 15, "hidden_dim": 128}
LONGER = {"epochs": 30, "patience": 10}  # past the held-out loss bump, with early stopping on
EXTRA = {"ETM": {"embedding_dim": 50, "num_layers": 1}, "DTM": {"embedding_dim": 50},
         "THETA": {"num_layers": 1, "kl_warmup": 3, "language": "en"},
         "ProdLDA": LONGER, "CTM": LONGER, "GSM": LONGER, "NVDM": LONGER}


@pytest.fixture(scope="module", params=sorted(EXTRA))
def headline_fit(request, huffpost_data, tmp_path_factory):
    trainer = load_trainer(request.param)
    params = trainer.params.with_defaults({**BUDGET, **EXTRA[request.param]})
    cache = str(tmp_path_factory.mktemp("short_texts"))
    return trainer().fit(huffpost_data, params, FitContext(seed=3, cache_dir=cache))


def test_topics_have_their_own_words(headline_fit):
    top10 = [words[:10] for words in headline_fit.topic_words]
    unique_share = len({word for words in top10 for word in words}) / (10 * len(top10))
    assert unique_share >= 0.5


def test_documents_spread_over_topics(headline_fit):
    assignments = headline_fit.assignments[headline_fit.assignments >= 0]
    largest_share = np.bincount(assignments).max() / len(assignments)
    assert largest_share <= 0.5
    assert len(np.unique(assignments)) >= 5
