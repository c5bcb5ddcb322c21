"""What a finished trial's own figures say is likely wrong with it (tuner.reporting.health)."""

from __future__ import annotations

from typing import Any

import pytest

from tuner.reporting.health import sweep_warnings, trial_concerns


@pytest.mark.parametrize("model, params, metrics, kinds", [
    # documents in 6 of 20 topics (GSM stopped early on headlines; audit of 2026-12-01)
    ("GSM", {"num_topics": 20}, {"topics_used": 6.0, "num_topics_found": 20.0}, ["collapsed"]),
    ("GSM", {"num_topics": 20}, {"topics_used": 10.0, "num_topics_found": 20.0}, []),
    # 11 of 20 topics hold a document, two of them 65% (GSM on headlines; audit of 2026-12-02)
    ("GSM", {"num_topics": 20}, {"topics_used": 11.0, "num_topics_found": 20.0,
                                 "effective_topics": 5.8}, ["collapsed"]),
    ("NVDM", {"num_topics": 10}, {"topics_used": 10.0, "num_topics_found": 10.0,
                                  "effective_topics": 5.3}, []),
    # HDBSCAN left 45% of 1,428 headlines without a topic (new-user audit of 2026-12-02)
    ("BERTopic", {"num_topics": 10}, {"topics_used": 10.0, "num_topics_found": 10.0,
                                      "outlier_share": 0.45}, ["outliers"]),
    ("BERTopic", {"num_topics": 10}, {"topics_used": 10.0, "num_topics_found": 10.0,
                                      "outlier_share": 0.2}, []),
    ("HDP", {}, {"topics_used": 1.0, "num_topics_found": 1.0}, ["collapsed"]),  # one topic
    # HDP's count stays near where its sampler started (defaults audit of 2026-12-05)
    ("HDP", {"initial_k": 20}, {"topics_used": 20.0, "num_topics_found": 20.0},
     ["count_from_start"]),
    ("HDP", {"initial_k": 50}, {"topics_used": 30.0, "num_topics_found": 30.0}, []),
    ("HDP", {"initial_k": 20}, {"topics_used": 15.0, "num_topics_found": 15.0}, []),
    # HDBSCAN found 2 of the 10 topics asked (new-user audit of 2026-12-02)
    ("BERTopic", {"num_topics": 10}, {"topics_used": 2.0, "num_topics_found": 2.0},
     ["collapsed"]),
    ("BERTopic", {"num_topics": None}, {"topics_used": 2.0, "num_topics_found": 2.0}, []),
    # HDBSCAN's 2 topics, 96% of 1,340 posts in one, nothing asked (new-user audit of
    # 2026-12-02); two topics at 85/15 are a fit
    ("BERTopic", {"num_topics": None}, {"topics_used": 2.0, "num_topics_found": 2.0,
                                        "effective_topics": 1.11}, ["collapsed"]),
    ("BERTopic", {"num_topics": None}, {"topics_used": 2.0, "num_topics_found": 2.0,
                                        "effective_topics": 1.53}, []),
    ("BERTopic", {"num_topics": 10}, {"topics_used": 5.0, "num_topics_found": 5.0}, []),
    ("STM", {"num_topics": 10}, {"em_converged": 0.0, "em_iterations": 100.0}, ["unconverged"]),
    ("STM", {"num_topics": 10}, {"em_converged": 1.0}, []),
    # lowest held-out loss at the last of 50 epochs, early stopping on (DTM; audit)
    ("DTM", {"patience": 10}, {"best_epoch": 49.0, "epochs_run": 50.0, "stopped_early": 0.0},
     ["still_improving"]),
    ("DTM", {"patience": 10}, {"best_epoch": 30.0, "epochs_run": 50.0, "stopped_early": 0.0}, []),
    # within the last 1% of 300 epochs: at its end, as the one at 300 (new-user audit)
    ("ETM", {"patience": 10}, {"best_epoch": 297.0, "epochs_run": 300.0, "stopped_early": 0.0},
     ["still_improving"]),
    ("ETM", {"patience": 10}, {"best_epoch": 296.0, "epochs_run": 300.0, "stopped_early": 0.0},
     []),
    ("DTM", {"patience": 10}, {"best_epoch": 30.0, "epochs_run": 41.0, "stopped_early": 1.0}, []),
    ("ProdLDA", {"patience": None}, {"best_epoch": 99.0, "epochs_run": 100.0}, []),  # unknown
    # half or more of the top words new over the last 10 epochs (ProdLDA at 30 epochs: 0.59)
    ("ProdLDA", {"patience": None}, {"best_epoch": 29.0, "epochs_run": 30.0,
                                     "top_word_turnover": 0.59, "top_word_turnover_epochs": 10.0},
     ["topics_changing"]),
    ("ProdLDA", {"patience": None}, {"best_epoch": 199.0, "epochs_run": 200.0,
                                     "top_word_turnover": 0.24, "top_word_turnover_epochs": 10.0},
     []),
    # early stopping ended it while its topics still moved: ProdLDA on 300 UN speeches kept
    # epoch 16 of 27 with 88% of its top words new, NPMI -0.257 (new-user audit of 2026-12-05)
    ("ProdLDA", {"patience": 10}, {"best_epoch": 40.0, "epochs_run": 51.0, "stopped_early": 1.0,
                                   "top_word_turnover": 0.7}, ["topics_changing"]),
    ("ProdLDA", {"patience": 10}, {"best_epoch": 40.0, "epochs_run": 51.0, "stopped_early": 1.0,
                                   "top_word_turnover": 0.3}, []),
    ("DTM", {"patience": 10}, {"best_epoch": 49.0, "epochs_run": 50.0, "stopped_early": 0.0,
                               "top_word_turnover": 0.8}, ["still_improving"]),  # one warning
    # DTM's default 100 epochs on 110 UN speeches: 46% of its top words its start's, held-out
    # loss lowest at its last epoch however long it trained (new-user audit of 2026-12-02)
    ("DTM", {}, {"best_epoch": 99.0, "epochs_run": 100.0, "top_words_from_start": 0.46,
                 "top_word_turnover": 0.05}, ["near_start"]),
    ("DTM", {}, {"best_epoch": 299.0, "epochs_run": 300.0, "top_words_from_start": 0.12}, []),
    ("ETM", {"patience": 10}, {"best_epoch": 19.0, "epochs_run": 20.0, "stopped_early": 0.0,
                               "top_words_from_start": 0.86}, ["near_start"]),  # one warning
    ("THETA", {"mode": "supervised"}, {}, ["saw_labels"]),
    ("THETA", {"mode": "zero_shot"}, {}, []),
    ("external:mallet", {}, {"topics_short_of_topn": 5.0, "diversity": 1.0}, ["few_words"]),
])
def test_each_concern_is_a_fact_of_the_trials_figures(model: str, params: dict[str, Any],
                                                      metrics: dict[str, float],
                                                      kinds: list[str]) -> None:
    assert [c.kind for c in trial_concerns(model, params, metrics)] == kinds


def test_a_sweeps_warnings_name_three_trials_and_count_the_rest() -> None:
    collapsed = {"topics_used": 2.0, "num_topics_found": 20.0, "stopped_early": 1.0,
                 "epochs_run": 44.0}
    flagged = [(f"GSM[dropout={d}]#seed=42", trial_concerns("GSM", {"num_topics": 20}, collapsed),
                collapsed) for d in (0.1, 0.2, 0.3, 0.4)]
    improving = {"best_epoch": 49.0, "epochs_run": 50.0}
    flagged.append(("DTM#seed=1", trial_concerns("DTM", {"patience": 10}, improving), improving))
    first, second = sweep_warnings(flagged)
    assert first.startswith("4 trials gave their documents to fewer than half their topics or "
                            "most of them to a few, "
                            "found one topic, or found fewer than half the topics asked for "
                            "(GSM[dropout=0.1]#seed=42: 2 of 20, stopped at epoch 44; ")
    assert "; and 1 more): a collapsed fit" in first and "\"patience\": null" in first
    assert second == ("1 trial still improved at its last epoch (held-out loss lowest there; "
                      "DTM#seed=1: best at its last epoch, 50): the epoch budget stopped it, "
                      "not early stopping, and its topics may not have formed yet: raise "
                      "epochs")
    assert sweep_warnings([]) == []


def test_a_fit_still_improving_with_settled_topics_is_not_told_its_topics_may_not_have_formed(
        ) -> None:
    """ETM on 300 UN speeches at 300 epochs: held-out loss lowest at its end, 2% to 3% of its
    top words new over the last epochs; "its topics may not have formed yet: raise epochs" sent
    the user to spend more epochs on settled topics (new-user audit of 2026-12-05)."""
    settled = [{"best_epoch": 297.0 + i, "epochs_run": 300.0, "stopped_early": 0.0,
                "top_word_turnover": t} for i, t in ((0, 0.017), (2, 0.033))]
    (warning,) = sweep_warnings([(f"ETM#seed={i}", trial_concerns("ETM", {"patience": 10}, m), m)
                                 for i, m in enumerate(settled)])
    assert warning == (
        "2 trials still improved at or near their last epoch (held-out loss lowest there; "
        "ETM#seed=0: best at epoch 298 of 300; ETM#seed=1: best at its last epoch, 300): the "
        "epoch budget stopped them, not early stopping, though their topics' top words had "
        "settled (at most 3% new over the epochs before the kept one): more epochs may still "
        "move their documents' topic proportions (ARI, NMI, F1) more than the topics' words "
        "(NPMI, diversity)")


def test_a_fit_early_stopping_ended_near_its_start_is_told_to_raise_patience() -> None:
    """"Raise epochs" changes nothing for a fit that its patience ended (review of
    2026-12-02)."""
    stopped = {"top_words_from_start": 0.5, "stopped_early": 1.0, "epochs_run": 21.0,
               "best_epoch": 10.0}
    ran = {"top_words_from_start": 0.46, "epochs_run": 100.0, "best_epoch": 99.0}
    (warning,) = sweep_warnings([
        ("ETM#seed=1", trial_concerns("ETM", {"patience": 10}, stopped), stopped),
        ("DTM#seed=1", trial_concerns("DTM", {}, ran), ran)])
    assert warning == (
        "2 trials ended with topics whose top words were still largely those of their initial "
        "weights (ETM#seed=1: 50% of its top words its initial weights', stopped at epoch "
        "21; DTM#seed=1: 46% of its top words its initial weights'): they barely "
        "trained, and their scores describe the random start more than the data: raise "
        "epochs, and for a fit that early stopping ended, raise patience or set it null")


def test_topics_still_changing_at_an_earlier_kept_epoch_are_told_of_patience() -> None:
    """ProdLDA on 250 UN speeches, 30 epochs, the held-out loss's kept epoch 21, 85% of its top
    words new: told to raise epochs, at 100 it stopped at 31 with the same epoch and scores
    (new-user audit of 2026-12-03). The last epoch kept: raising epochs is the advice."""
    kept = {"top_word_turnover": 0.85, "top_word_turnover_epochs": 7.0, "best_epoch": 20.0,
            "epochs_run": 30.0, "stopped_early": 0.0}
    (warning,) = sweep_warnings([
        ("ProdLDA#seed=42", trial_concerns("ProdLDA", {"patience": 10}, kept), kept)])
    assert "ProdLDA#seed=42: 85% of its top words new over the 7 epochs before its kept one, " \
        "kept epoch 21 of 30" in warning
    assert warning.endswith("raise epochs, and where early stopping ended a fit or the "
                            "held-out loss kept an earlier epoch than the last, set patience "
                            "null too: early stopping keeps the epoch of least held-out loss, "
                            "which came before the topics formed, however many are added")
    stopped = {"top_word_turnover": 0.88, "top_word_turnover_epochs": 10.0, "best_epoch": 15.0,
               "epochs_run": 27.0, "stopped_early": 1.0}
    (warning,) = sweep_warnings([
        ("ProdLDA#seed=43", trial_concerns("ProdLDA", {"patience": 10}, stopped), stopped)])
    assert warning.startswith("1 trial ended while its topics still changed (ProdLDA#seed=43: "
                              "88% of its top words new over the 10 epochs before its kept "
                              "one, kept epoch 16 of 27 (stopped early)): its scores depend "
                              "on when its training stopped")
    assert "set patience null too" in warning
    last = {"top_word_turnover": 0.59, "top_word_turnover_epochs": 10.0, "best_epoch": 29.0,
            "epochs_run": 30.0}
    (warning,) = sweep_warnings([
        ("ProdLDA#seed=1", trial_concerns("ProdLDA", {"patience": None}, last), last)])
    assert warning.endswith("not on a trained model: raise epochs") and "kept epoch" not in warning


def test_a_collapsed_bertopic_fit_is_told_what_moves_hdbscan() -> None:
    """"More iterations or epochs" does not apply to HDBSCAN (new-user audit of 2026-12-02)."""
    lumpy = {"topics_used": 2.0, "num_topics_found": 2.0, "effective_topics": 1.11}
    (warning,) = sweep_warnings([("BERTopic#seed=42",
                                  trial_concerns("BERTopic", {"num_topics": None}, lumpy),
                                  lumpy)])
    assert "(BERTopic#seed=42: as even as 1.1 topics of 2)" in warning
    assert warning.endswith("For BERTopic's HDBSCAN, lower min_cluster_size or min_samples, "
                            "or cluster with kmeans and a num_topics")
    # asked for two topics, a 90/10 corpus is fitted, not collapsed (review of 2026-12-02)
    spam = {"topics_used": 2.0, "num_topics_found": 2.0, "effective_topics": 1.38}
    assert trial_concerns("LDA", {"num_topics": 2}, spam) == []


def test_only_a_sweep_with_bertopic_outliers_is_told_bertopics_settings() -> None:
    """An LDA and BTM sweep of Chinese headlines tokenised as English (91% kept no word) was
    told to set BERTopic's reduce_outliers (new-user audit of 2026-12-03)."""
    metrics = {"topics_used": 5.0, "num_topics_found": 5.0, "outlier_share": 0.91}
    (lda,) = sweep_warnings([("LDA[num_topics=5]#seed=1",
                              trial_concerns("LDA", {"num_topics": 5}, metrics), metrics)])
    (bertopic,) = sweep_warnings([("BERTopic#seed=1",
                                   trial_concerns("BERTopic", {"num_topics": None}, metrics),
                                   metrics)])
    assert lda.startswith("1 trial left a third or more of the documents without a topic "
                          "(LDA[num_topics=5]#seed=1: 91% without a topic)")
    assert "reduce_outliers" not in lda and "reduce_outliers" in bertopic
    # k-means leaves no document out: HDBSCAN's settings change nothing for it
    (kmeans,) = sweep_warnings([("BERTopic#seed=1", trial_concerns(
        "BERTopic", {"num_topics": 5, "clustering": "kmeans"}, metrics), metrics)])
    assert "reduce_outliers" not in kmeans and "min_cluster_size" not in kmeans
    assert lda.endswith("an outlier in every model (the sweep warns when 5% or more keep none, "
                        "and says what would keep more words)")


def test_a_count_found_near_its_start_is_said_with_the_measurement() -> None:
    near = {"topics_used": 20.0, "num_topics_found": 20.0}
    (warning,) = sweep_warnings([("HDP#seed=42", trial_concerns("HDP", {"initial_k": 20}, near),
                                  near)])
    assert warning.startswith("1 trial found about as many topics as their sampler started from "
                              "(HDP#seed=42: 20 found from initial_k 20): HDP's Gibbs sampler")
    assert warning.endswith("sweep initial_k, and compare by the scores")


class _Artifacts:
    """What background_topics_said reads of a store: a run's topics and extras.json."""

    def __init__(self, runs: dict[str, tuple[dict, dict | None]]) -> None:
        self.runs = runs

    def topics(self, run_id: str) -> dict[str, list[str]]:
        return self.runs[run_id][0]

    def read_json(self, run_id: str, name: str) -> dict | None:
        return self.runs[run_id][1]


def test_background_topics_are_said_by_their_words_and_what_they_are() -> None:
    """Words neither common nor rare are a subject that runs through many documents (recorded
    as "", which read as "not judged": review of 2026-12-05); a fit without its extras is left
    out, and the background warning says a line follows only when one does."""
    from tuner.metrics.spread import BACKGROUND_IDS, BACKGROUND_WORDS
    from tuner.reporting.health import background_topics_said

    words = {"3": ["war", "peace", "nations"], "5": ["le", "la", "de"]}
    store = _Artifacts({
        "subject": (words, {BACKGROUND_IDS: [3],
                            BACKGROUND_WORDS: {"3": {"words": "", "ratio": 1.1}}}),
        "common": (words, {BACKGROUND_IDS: [5, 3], BACKGROUND_WORDS: {"5": {"words": "common"}}}),
        "older": (words, {BACKGROUND_IDS: [3]}),
        "none": (words, None)})
    (line,) = background_topics_said(store, [("A", "subject"), ("B", "none"), ("C", "common"),
                                             ("D", "older")])
    assert line == ("the widest background topic of each of 3 fits: A: topic 3, war peace "
                    "nations (a subject that runs through many documents); C: topic 5, le la de "
                    "(common words: stop words for preprocessing.extra_stopwords); D: topic 3, "
                    "war peace nations (not judged: scored before its words were)")
    wide = {"background_topics": 1.0, "num_topics_found": 10.0}
    flagged = [("A", trial_concerns("LDA", {}, wide), wide)]
    assert "The next warning lists" not in sweep_warnings(flagged)[0]
    said = sweep_warnings(flagged, [line])
    assert "The next warning lists the words of a few" in said[0] and said[1] == line
