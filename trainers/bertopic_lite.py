"""bertopic as tuner's workers import it: without transformers and sentence-transformers.

bertopic imports both at import time, but only for optional parts tuner never calls (the
text-generation and zero-shot representations, the multimodal backend): fits get tuner's cached
embeddings and use no representation model. Its lightweight install, which lacks them, replaces
those parts with placeholders, and so does this import. Measured on 2 cores, with torch already
loaded: the import took 5.1 s in full and 2.4 s without them, in each worker of each sweep.
Import bertopic's names from here, so that this module imports bertopic first.
"""

from __future__ import annotations

from trainers.base import import_without

UNUSED_EXTRAS = ("transformers", "sentence_transformers")

bertopic = import_without("bertopic", "bertopic", "BERTopic", UNUSED_EXTRAS)

from bertopic.dimensionality import BaseDimensionalityReduction  # noqa: E402 - after bertopic
from bertopic.vectorizers import ClassTfidfTransformer  # noqa: E402

__all__ = ["BaseDimensionalityReduction", "ClassTfidfTransformer", "bertopic"]
