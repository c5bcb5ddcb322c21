"""Document lengths in tokens: when a corpus counts as one of long documents, for `tuner init`'s
choice of models and for the models whose cost grows with length (BTM's word pairs)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

LONG_TOKENS = 100  # a document of more is long: BTM makes about 14 word pairs of each word
LONG_SHARE = 0.5  # of the words in long documents, or more: no short-text model for them


def share_in_long(counts: Sequence[int] | NDArray[np.int64]) -> float:
    """The share of the words that are in documents of over LONG_TOKENS. A median says too
    little: 800 headlines beside 58 UN speeches joined into long documents have a median of 30
    tokens, yet BTM's first two trials on them have not ended after 3.5 minutes where LDA's
    take 30 s."""
    counted = np.asarray(counts, dtype=np.int64)
    total = int(counted.sum())
    return float(counted[counted > LONG_TOKENS].sum()) / total if total else 0.0
