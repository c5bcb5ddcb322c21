"""Data: corpora, ground truth, bag-of-words/vocabulary caches and embedding caches."""
