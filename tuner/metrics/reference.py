"""What metrics compare a model's output against."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tuner.data.cooccurrence import Cooccurrence
from tuner.trial import MetricSettings


@dataclass(frozen=True)
class MetricReference:
    """Co-occurrence counts of the trial's preprocessed corpus, the vocabulary and the truth."""

    cooccurrence: Cooccurrence
    vocab_index: dict[str, int]
    truth: NDArray[np.int64] | None  # one cluster per document, -1 = not covered
    settings: MetricSettings
