"""The same topics' NPMI against vocabularies of several sizes, with each `npmi_reference`.

One LDA fit (K=20, vocab_size 2,000, 200 iterations, seed 42) is scored against bags of words of
2,000, 5,000 and all the words the preprocessing keeps: windows over each vocabulary's own tokens
("vocabulary") and over every kept token ("preprocessed", the default).

Usage: python bench/npmi_reference.py [CORPUS.jsonl]   (default: bundled 20ng-mini)
"""

from __future__ import annotations

from _common import CORPUS, command_line, machine

from trainers.lda import LDATrainer
from tuner.data.cooccurrence import NPMI_REFERENCES, count_cooccurrence
from tuner.data.corpus import DatasetSpec, load_corpus
from tuner.data.inputs import FitContext, TrialData
from tuner.data.vocab import Preprocessing, count_tokens
from tuner.metrics import MetricReference
from tuner.metrics.coherence import npmi_coherence
from tuner.trial import MetricSettings

SIZES = (2000, 5000, 1_000_000)


def main() -> None:
    args = command_line(__doc__, ("corpus", CORPUS, "a JSONL corpus"))
    corpus = load_corpus(DatasetSpec(args.corpus))
    settings = Preprocessing()
    counts = count_tokens(corpus, settings)
    bows = {size: counts.bag_of_words(counts.vocabulary(size, settings), f"v{size}")
            for size in SIZES}
    params = LDATrainer.params.with_defaults({"num_topics": 20, "vocab_size": 2000,
                                              "max_iter": 200})
    output = LDATrainer().fit(TrialData(corpus, bows[2000]), params,
                              FitContext(seed=42, top_n=10))
    print(machine())
    print(f"{corpus.source}: {len(corpus)} documents; words the preprocessing keeps: "
          f"{len(bows[SIZES[-1]].vocab)}")
    for reference in NPMI_REFERENCES:
        scores = []
        for bow in bows.values():
            stream = counts.kept_stream(bow.vocab, bow.key, settings) \
                if reference == "preprocessed" else bow
            metric = MetricReference(count_cooccurrence(stream, 10),
                                     {w: i for i, w in enumerate(bow.vocab)}, None,
                                     MetricSettings(npmi_reference=reference))
            scores.append(f"{len(bow.vocab)} words {npmi_coherence(output, metric):.4f}")
        print(f"npmi_reference {reference}: " + " | ".join(scores))


if __name__ == "__main__":
    main()
