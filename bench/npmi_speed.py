"""NPMI from cached co-occurrence counts vs gensim's CoherenceModel(c_npmi), same topics.

Usage: python bench/npmi_speed.py [CORPUS.jsonl] [K]   (default: bundled 20ng-mini, K=20)
"""

from __future__ import annotations

import time

from _common import CORPUS, command_line, machine, scratch

from trainers.lda import LDATrainer
from tuner.data.cooccurrence import count_cooccurrence
from tuner.data.corpus import DatasetSpec, load_corpus
from tuner.data.inputs import FitContext, TrialData
from tuner.data.vocab import BowCache, Preprocessing
from tuner.metrics import MetricReference
from tuner.metrics.coherence import npmi_coherence
from tuner.trial import MetricSettings


def main() -> None:
    args = command_line(__doc__, ("corpus", CORPUS, "a JSONL corpus"), ("k", 20, "topics"))
    path, k = args.corpus, args.k
    corpus = load_corpus(DatasetSpec(path))
    bow = BowCache(scratch()).get_or_compute(corpus, 5000, Preprocessing())
    params = LDATrainer.params.with_defaults({"num_topics": k, "max_iter": 100})
    output = LDATrainer().fit(TrialData(corpus, bow), params, FitContext(seed=1, top_n=10))
    texts = [bow.doc_tokens(d) for d in range(bow.n_docs)]

    started = time.perf_counter()
    counts = count_cooccurrence(bow, 10)
    count_seconds = time.perf_counter() - started
    reference = MetricReference(counts, {w: i for i, w in enumerate(bow.vocab)}, None,
                                MetricSettings())
    started = time.perf_counter()
    ours = npmi_coherence(output, reference)
    ours_seconds = time.perf_counter() - started

    from gensim.corpora import Dictionary
    from gensim.models import CoherenceModel

    started = time.perf_counter()
    theirs = CoherenceModel(topics=output.topic_words, texts=texts, dictionary=Dictionary(texts),
                            coherence="c_npmi", window_size=10, topn=10,
                            processes=1).get_coherence()
    gensim_seconds = time.perf_counter() - started
    print(f"machine: {machine()}; corpus: {path.parent.name} ({len(corpus)} docs), K={k}, "
          f"top 10, window 10")
    print(f"ours:   npmi={ours:.8f}  per trial {ours_seconds * 1000:.1f} ms "
          f"(+ {count_seconds:.2f} s once per corpus to count co-occurrences)")
    print(f"gensim: npmi={theirs:.8f}  {gensim_seconds:.2f} s")
    print(f"|difference| = {abs(ours - theirs):.2e}; speed-up per trial = "
          f"{gensim_seconds / ours_seconds:.0f}x; including counting = "
          f"{gensim_seconds / (ours_seconds + count_seconds):.1f}x")


if __name__ == "__main__":
    main()
