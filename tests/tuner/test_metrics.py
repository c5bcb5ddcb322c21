"""Metrics against gensim (NPMI) and against labellings checked by hand (ARI, F1)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from trainers.lda import LDATrainer
from tuner.data.cooccurrence import count_cooccurrence
from tuner.data.inputs import FitContext
from tuner.errors import MetricError
from tuner.metrics import MetricReference, evaluate
from tuner.metrics.clustering import (
    adjusted_rand,
    assignment_f1,
    assignment_f1_micro,
    normalized_mutual_info,
)
from tuner.metrics.coherence import npmi_coherence, npmi_per_topic, topic_quality
from tuner.metrics.diversity import (
    inverted_rbo,
    rank_biased_overlap,
    strict_diversity,
    topic_diversity,
)
from tuner.output import TopicModelOutput
from tuner.trial import MetricSettings


def reference_for(bow, truth=None, window=10, topn=10):
    return MetricReference(count_cooccurrence(bow, window),
                           {w: i for i, w in enumerate(bow.vocab)}, truth,
                           MetricSettings(npmi_window=window, topn=topn, diversity_topn=25,
                                          npmi_reference="vocabulary"))


@pytest.fixture(scope="module")
def lda_output(small_data):
    params = LDATrainer.params.with_defaults({"num_topics": 8, "vocab_size": 1000,
                                              "max_iter": 30})
    return LDATrainer().fit(small_data, params, FitContext(seed=7, top_n=25))


@pytest.mark.parametrize("window", [10, 20])
def test_npmi_equals_gensim_c_npmi(small_data, lda_output, window):
    from gensim.corpora import Dictionary
    from gensim.models import CoherenceModel

    texts = [small_data.bow.doc_tokens(d) for d in range(small_data.bow.n_docs)]
    topics = [words[:10] for words in lda_output.topic_words]
    gensim_model = CoherenceModel(topics=topics, texts=texts, dictionary=Dictionary(texts),
                                  coherence="c_npmi", window_size=window, topn=10, processes=1)
    ours = reference_for(small_data.bow, window=window)
    assert npmi_coherence(lda_output, ours) == pytest.approx(gensim_model.get_coherence(),
                                                             abs=1e-6)
    np.testing.assert_allclose(npmi_per_topic(lda_output, ours),
                               gensim_model.get_coherence_per_topic(), atol=1e-6)


@pytest.fixture(scope="module")
def token_counts(prepared_small):
    from tuner.data.vocab import count_tokens

    return count_tokens(prepared_small.inputs.corpus, prepared_small.grid.preprocessing)


def test_npmi_over_kept_tokens_equals_gensim_on_the_preprocessed_texts(
        prepared_small, small_data, lda_output, token_counts):
    """The "preprocessed" reference: gensim's c_npmi with every token the preprocessing keeps
    as its texts (words outside the vocabulary hold their places in the windows)."""
    from gensim.corpora import Dictionary
    from gensim.models import CoherenceModel

    settings, counts = prepared_small.grid.preprocessing, token_counts
    kept = set(counts.vocabulary(len(counts.words), settings))
    texts = [[counts.words[i] for i in counts.flat[start:end] if counts.words[i] in kept]
             for start, end in zip(counts.offsets[:-1], counts.offsets[1:], strict=True)]
    assert len(kept) > len(small_data.bow.vocab)  # the windows hold words the topics cannot
    topics = [words[:10] for words in lda_output.topic_words]
    gensim_model = CoherenceModel(topics=topics, texts=texts, dictionary=Dictionary(texts),
                                  coherence="c_npmi", window_size=10, topn=10, processes=1)
    stream = counts.kept_stream(small_data.bow.vocab, small_data.bow.key, settings)
    ours = MetricReference(count_cooccurrence(stream, 10),
                           {w: i for i, w in enumerate(small_data.bow.vocab)}, None,
                           MetricSettings())
    np.testing.assert_allclose(npmi_per_topic(lda_output, ours),
                               gensim_model.get_coherence_per_topic(), atol=1e-6)


def test_npmi_of_the_same_topics_does_not_depend_on_the_vocabulary_size(
        prepared_small, small_data, lda_output, token_counts):
    """Audit finding: against each trial's own vocabulary, the same topics scored higher the
    smaller the vocabulary, so trials of several vocab_size values were ranked apart."""
    settings = prepared_small.grid.preprocessing
    scores = {}
    for reference in ("preprocessed", "vocabulary"):
        for size in (1000, 3000):
            vocab = token_counts.vocabulary(size, settings)
            bow = token_counts.bag_of_words(vocab, f"v{size}")
            stream = token_counts.kept_stream(vocab, bow.key, settings) \
                if reference == "preprocessed" else bow
            metric = MetricReference(count_cooccurrence(stream, 10),
                                     {w: i for i, w in enumerate(vocab)}, None,
                                     MetricSettings(npmi_reference=reference))
            scores[reference, size] = npmi_coherence(lda_output, metric)
    assert scores["preprocessed", 1000] == pytest.approx(scores["preprocessed", 3000], abs=1e-12)
    assert scores["vocabulary", 1000] > scores["vocabulary", 3000] + 0.005


def test_npmi_of_real_topics_beats_random_word_sets(small_data, lda_output):
    rng = np.random.default_rng(0)
    vocab = small_data.bow.vocab
    random_words = [list(rng.choice(vocab, 10, replace=False)) for _ in range(8)]
    random_output = TopicModelOutput(random_words, None, np.zeros(small_data.bow.n_docs,
                                                                   dtype=np.int64))
    ref = reference_for(small_data.bow)
    assert npmi_coherence(lda_output, ref) > npmi_coherence(random_output, ref) + 0.05


def output_with(assignments, words=None):
    words = words or [["a", "b"]] * (max(assignments) + 1)
    return TopicModelOutput(words, None, np.array(assignments, dtype=np.int64))


def clustering_reference(truth):
    return MetricReference(None, {}, np.array(truth, dtype=np.int64),  # type: ignore[arg-type]
                           MetricSettings())


def test_perfect_clustering_up_to_renaming():
    ref = clustering_reference([0, 0, 1, 1, 2, 2])
    out = output_with([2, 2, 0, 0, 1, 1])
    assert adjusted_rand(out, ref) == pytest.approx(1.0)
    assert assignment_f1(out, ref) == pytest.approx(1.0)


def test_f1_by_hand():
    # truth A={0,1,2,3}, B={4,5}; topics 0={0,1,2}, 1={3,4,5}.
    # Hungarian: A-0 (overlap 3), B-1 (overlap 2).
    # A: P=3/3, R=3/4 -> F1=6/7; B: P=2/3, R=2/2 -> F1=0.8; macro=(6/7+0.8)/2; micro=5/6.
    ref = clustering_reference([0, 0, 0, 0, 1, 1])
    out = output_with([0, 0, 0, 1, 1, 1])
    assert assignment_f1(out, ref) == pytest.approx((6 / 7 + 0.8) / 2)
    assert assignment_f1_micro(out, ref) == pytest.approx(5 / 6)


def test_f1_is_the_partitions_own_whatever_the_labels_are_called():
    """Matchings tied on total overlap were chosen by the table's order, which the labels' names
    set: one partition's F1 took 5 values under 32 renumberings of its classes (trust audit of
    2026-12-01). Renamed classes and topics, outliers included, now give one F1."""
    rng = np.random.default_rng(7)
    truth = rng.integers(0, 6, 60)
    predicted = np.where(rng.random(60) < 0.1, -1, (truth + rng.integers(0, 3, 60)) % 7)
    values = set()
    for _ in range(40):
        classes, topics = rng.permutation(6) + 10, rng.permutation(7)
        renamed = np.where(predicted < 0, -1, topics[np.maximum(predicted, 0)])
        values.add(assignment_f1(output_with(renamed.tolist()),
                                 clustering_reference(classes[truth].tolist())))
    assert len(values) == 1
    # Classes 0 and 1 tie for topic 1 (one document each): the labels' order picked which one
    # it matched, F1 0.452 or 0.508 (class 1 matched: recall 1/1 against 1/2).
    out = output_with([1, 0, 0, 1, 0, 0])
    scores = {assignment_f1(out, clustering_reference([names[c] for c in [1, 2, 2, 0, 0, 2]]))
              for names in itertools.permutations(range(3))}
    assert len(scores) == 1 and scores.pop() == pytest.approx((2 / 3 + 0 + 6 / 7) / 3)


def test_outliers_lower_recall_and_uncovered_documents_are_not_scored():
    ref = clustering_reference([0, 0, 1, 1, -1])
    out = output_with([0, -1, 1, 1, 0])
    # A: topic 0 matched, overlap 1, topic size 1 (doc 4 is not scored), recall 1/2 -> F1 2/3.
    assert assignment_f1(out, ref) == pytest.approx((2 / 3 + 1.0) / 2)


def test_ari_by_hand():
    ref = clustering_reference([0, 0, 1, 1])
    out = output_with([0, 1, 0, 1])
    assert adjusted_rand(out, ref) == pytest.approx(-0.5)


CLUSTERINGS = [  # (truth, predicted): edge cases first, then random ones with outliers
    ([0, 0, 1, 1], [0, 0, 1, 1]), ([0, 0, 0, 0], [0, 0, 0, 0]), ([0, 0, 0, 0], [0, 1, 2, 3]),
    ([0, 1, 2, 3], [0, 1, 2, 3]), ([0, 1, 2, 3], [0, 0, 0, 0]), ([0, 0, 1, 1], [-1, -1, -1, 0]),
    ([3, 3, 7, 7, 7], [5, 5, 5, 5, 5]),
] + [(list(np.random.default_rng(seed).integers(0, 20, 3000)),
      list(np.random.default_rng(seed + 100).integers(-1, k, 3000)))
     for seed, k in enumerate([1, 2, 5, 20, 60])] + [
    (list(np.repeat(np.arange(20), 150)),  # a good clustering: most documents kept together
     list(np.where(np.random.default_rng(7).random(3000) < 0.8, np.repeat(np.arange(20), 150),
                   np.random.default_rng(8).integers(-1, 25, 3000))))]


@pytest.mark.parametrize(("truth", "predicted"), CLUSTERINGS)
def test_ari_and_nmi_equal_scikit_learns(truth, predicted):
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    ref, out = clustering_reference(truth), output_with(predicted)
    assert adjusted_rand(out, ref) == pytest.approx(adjusted_rand_score(truth, predicted),
                                                    abs=1e-12)
    assert normalized_mutual_info(out, ref) == pytest.approx(
        normalized_mutual_info_score(truth, predicted), abs=1e-12)


def test_diversity_counts_unique_words_among_top_words():
    out = output_with([0, 1], words=[["a", "b", "c"], ["a", "d", "e"]])
    assert topic_diversity(out, clustering_reference([0, 1])) == pytest.approx(5 / 6)


def test_missing_truth_raises_instead_of_reporting_zero():
    out = output_with([0, 1])
    ref = MetricReference(None, {}, None, MetricSettings())  # type: ignore[arg-type]
    with pytest.raises(MetricError, match="no ground truth"):
        adjusted_rand(out, ref)


def test_evaluate_reports_every_metric(small_data, lda_output):
    evaluation = evaluate(lda_output, reference_for(small_data.bow, truth=small_data.labels))
    metrics = evaluation.metrics
    assert evaluation.not_computed == {}
    assert {"npmi", "diversity", "ari", "f1", "f1_micro", "nmi", "gt_coverage",
            "outlier_share", "tq", "inverted_rbo", "strict_diversity"} <= set(metrics)
    assert metrics["gt_coverage"] == 1.0
    # LDA on real 20NG recovers some of the newsgroups: K=8 on these 400 posts gave ARI 0.029
    # to 0.074 over five seeds at max_df 0.7 and 30 or 200 iterations (0.043 to 0.060 at 0.5);
    # a random partition gives about 0
    assert metrics["ari"] > 0.02


def test_a_metric_undefined_for_the_output_is_left_out_and_the_others_kept(small_data,
                                                                         lda_output):
    """Audit finding: one topic (a collapsed HDP or BERTopic) has no pairs for inverted_rbo,
    whose MetricError failed the whole trial and dropped it from the rankings."""
    one_topic = TopicModelOutput(lda_output.topic_words[:1], None,
                                 np.zeros(len(lda_output.assignments), dtype=np.int64))
    evaluation = evaluate(one_topic, reference_for(small_data.bow, truth=small_data.labels))
    assert evaluation.not_computed == {"inverted_rbo": "inverted_rbo: needs at least 2 topics; "
                                                       "got 1"}
    assert "inverted_rbo" not in evaluation.metrics
    assert evaluation.metrics["ari"] == 0.0 and evaluation.metrics["diversity"] == 1.0
    assert evaluation.metrics["topics_used"] == 1.0


def test_topics_used_counts_topics_that_some_document_has_as_its_top_topic():
    from tuner.metrics.clustering import topics_used

    out = output_with([0, 0, 3, -1, 3, 5], words=[["a", "b"]] * 6)
    assert topics_used(out, clustering_reference([0] * 6)) == 3.0


def test_effective_topics_is_the_exp_of_the_topic_sizes_entropy():
    from tuner.metrics.clustering import effective_topics

    even = output_with([0, 0, 1, 1, 2, 2, 3, 3, -1], words=[["a", "b"]] * 9)
    assert effective_topics(even, clustering_reference([0] * 9)) == pytest.approx(4.0)
    reference = clustering_reference([0] * 8)
    skewed = output_with([0, 0, 0, 0, 0, 0, 1, 2], words=[["a", "b"]] * 8)
    shares = np.array([6, 1, 1]) / 8
    assert effective_topics(skewed, reference) == pytest.approx(np.exp(-(shares * np.log(shares))
                                                                       .sum()))
    assert 1.0 < effective_topics(skewed, reference) < 3.0
    assert effective_topics(output_with([-1] * 8, words=[["a"]] * 8), reference) == 0.0


def test_strict_diversity_counts_only_words_of_one_topic():
    # "a" is in both topics: TD counts it once as unique (5/6), strict TD counts it against both
    out = output_with([0, 1], words=[["a", "b", "c"], ["a", "d", "e"]])
    assert strict_diversity(out, clustering_reference([0, 1])) == pytest.approx(4 / 6)


@pytest.mark.parametrize(("first", "second", "expected"), [
    (list("abcdefghij"), list("abcdefghij"), 1.0),  # identical: RBO 1
    (list("abcde"), list("vwxyz"), 0.0),  # disjoint: RBO 0
    # A_1 = 0, A_2 = 1: (1 - p) / p * (p^2 * 1) + p^2 * 1 = 0.09 + 0.81
    (["x", "y"], ["y", "x"], 0.9),
    # A_1 = 1, A_2 = 1/2, A_3 = 1/3: 0.1/0.9 * (0.9 + 0.405 + 0.243) + 0.729 / 3
    (["x", "y", "z"], ["x", "v", "w"], 0.1 / 0.9 * 1.548 + 0.243),
])
def test_rank_biased_overlap_by_hand(first, second, expected):
    assert rank_biased_overlap(first, second, 0.9) == pytest.approx(expected)


_TAIL = [0.9 ** d * (d - 4) / d for d in range(5, 11)]  # X_s (d - s) / (s d) with X_s = s = 4


@pytest.mark.parametrize(("first", "second", "expected"), [
    # ten words against their own first four (a topic `tuner score` takes as given): past the
    # short list, A_d = 2 * 4 / (4 + d) and X_n = 4 * A_10; OCTIS gives 1 - 0.015815 (cut to the
    # shorter length, as before, it was 1.0)
    (list("abcdefghij"), list("abcd"),
     0.1 / 0.9 * (sum(0.9 ** d for d in range(1, 5))
                  + sum(0.9 ** d * 8 / (4 + d) for d in range(5, 11)) + sum(_TAIL))
     + 0.9 ** 10 * ((4 * 8 / 14 - 4) / 10 + 1)),
    # a word repeated in a topic is one word of its set: A = 1, 2/3, 2/5 (counted twice before)
    (["a", "a", "b"], ["a", "c", "d"],
     0.1 / 0.9 * (0.9 + 0.81 * 2 / 3 + 0.729 * 0.4) + 0.729 * 0.4),
])
def test_rank_biased_overlap_of_uneven_or_repeating_lists_is_octis(first, second, expected):
    """Audit of 2026-12-01: OCTIS's InvertedRBO, which the README names, extrapolates lists of
    different lengths (Webber et al. eq. 32) and compares word sets."""
    assert rank_biased_overlap(first, second, 0.9) == pytest.approx(expected)
    assert rank_biased_overlap(second, first, 0.9) == pytest.approx(expected)


def test_rank_biased_overlap_equals_octis_on_uneven_lists():
    """The value OCTIS's rbo module (commit 8f9a0ac) gives ten words against their first four."""
    assert rank_biased_overlap(list("abcdefghij"), list("abcd"), 0.9) == \
        pytest.approx(1 - 0.015814526528391548)


def test_inverted_rbo_is_one_minus_the_mean_over_topic_pairs():
    topics = [["x", "y"], ["y", "x"], ["p", "q"]]  # pair RBOs 0.9, 0, 0
    out = output_with([0, 1, 2], words=topics)
    ref = MetricReference(None, {}, None, MetricSettings(topn=2))  # type: ignore[arg-type]
    assert inverted_rbo(out, ref) == pytest.approx(1 - 0.9 / 3)


def test_inverted_rbo_needs_two_topics():
    out = output_with([0], words=[["a", "b"]])
    with pytest.raises(MetricError, match="inverted_rbo: needs at least 2 topics; got 1"):
        inverted_rbo(out, clustering_reference([0]))


def test_topic_quality_is_npmi_times_diversity(small_data, lda_output):
    ref = reference_for(small_data.bow)
    assert topic_quality(lda_output, ref) == pytest.approx(
        npmi_coherence(lda_output, ref) * topic_diversity(lda_output, ref))
