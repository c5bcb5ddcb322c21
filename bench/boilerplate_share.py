"""Share of boilerplate words among LDA's top-10 words, per preprocessing variant.

Boilerplate = Mallet's English stop list (the "mallet" option's list) plus mail/news words that
say nothing about a topic: the sklearn list keeps "don", "just", "like", "know", "think" and
quoting leaves "writes", "article", "edu", "com" in the text. The fixed protocol (sklearn stop
words, quotes kept) is compared with the "mallet" list and with quotes and headers stripped.

Usage: python bench/boilerplate_share.py [CORPUS.jsonl] [K] [ITERATIONS]
(default: bundled 20ng-mini, K=20, 500 Gibbs iterations, seed 42)
"""

from __future__ import annotations

from _common import CORPUS, command_line, machine, scratch

from trainers.lda import LDATrainer
from tuner.data.corpus import DatasetSpec, load_corpus
from tuner.data.inputs import FitContext, TrialData
from tuner.data.vocab import BowCache, Preprocessing, _stopwords

MAIL_WORDS = frozenset("edu com org net gov mil writes wrote article articles posting posted "
                       "nntp host reply lines subject organization university apr cs uk ca "
                       "people".split())  # "people": named by issue #12 with "don", "just" ...
PROTOCOL = {"min_token_len": 3, "min_df": 5, "max_df": 0.7}
VARIANTS = {
    "protocol (sklearn list)": Preprocessing(**PROTOCOL),
    "mallet list": Preprocessing(stopwords="mallet", **PROTOCOL),
    "mallet + strip quotes/headers": Preprocessing(stopwords="mallet", strip_quotes=True,
                                                   strip_headers=True, **PROTOCOL),
}


def main() -> None:
    args = command_line(__doc__, ("corpus", CORPUS, "a JSONL corpus"),
                        ("k", 20, "topics"), ("iterations", 500, "LDA iterations"))
    path, k, iterations = args.corpus, args.k, args.iterations
    corpus = load_corpus(DatasetSpec(path))
    boilerplate = _stopwords("mallet") | MAIL_WORDS
    cache = scratch()
    print(f"{path.name}: {len(corpus)} documents, LDA K={k}, {iterations} iterations, seed 42; "
          f"{machine()}")
    for name, settings in VARIANTS.items():
        bow = BowCache(cache).get_or_compute(corpus, 5000, settings)
        params = LDATrainer.params.with_defaults({"num_topics": k, "max_iter": iterations})
        output = LDATrainer().fit(TrialData(corpus, bow), params, FitContext(seed=42, top_n=10))
        words = [w for topic in output.topic_words for w in topic[:10]]
        share = sum(w in boilerplate for w in words) / len(words)
        common = sorted({w for w in words if w in boilerplate})[:12]
        print(f"{name:<32} boilerplate share of top-10 words {share:6.1%}  e.g. {common}")


if __name__ == "__main__":
    main()
