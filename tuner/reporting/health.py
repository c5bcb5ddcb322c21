"""What a finished trial's own figures say is likely wrong with it: a collapsed fit, a fit stopped
before it converged or while it was still improving, a fit that saw the labels it is scored
against. Said at the end of `tuner run` (and logged to the sweep run, whose stderr a cron job's
log buries), marked on the leaderboard's and the report's rows.

Each concern is a fact of the trial's metrics and parameters, never a guess from its rank: a
collapsed BERTopic fit (2 topics of the 10 asked, 543 of 600 documents in one) ranks first by
NPMI and diversity, and unmarked it reads as the best fit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from trainers import label_training, remedy
from tuner.metrics.spread import (
    BACKGROUND_IDS,
    BACKGROUND_RATIO,
    BACKGROUND_SPREAD,
    BACKGROUND_WORDS,
)

SHOWN_EXAMPLES = 3  # trials named in a warning; the rest are counted


@dataclass(frozen=True)
class Concern:
    kind: str  # a key of NOTES
    detail: str  # this trial's figures, e.g. "6 of 20"
    remedy: str = ""  # what its model can change for it (Trainer.remedy)


# kind -> the leaderboard's short note, and what the report says it means
NOTES = {"collapsed": "collapsed", "unconverged": "EM unconverged",
         "outliers": "many outliers", "still_improving": "still improving",
         "topics_changing": "topics still changing", "near_start": "barely trained",
         "saw_labels": "trained on the labels", "few_words": "fewer words",
         "background": "background topic", "count_from_start": "topics as started"}
MEANINGS = {
    "collapsed": "its documents went to fewer than half its topics, or most of them to a few "
                 "(its topics as even as under a third as many equal ones), or it found one "
                 "topic or fewer than half the topics asked for: its diversity, coherence and "
                 "agreement with the labels mean little",
    "outliers": "a third or more of its documents have no topic (outliers): its coherence and "
                "diversity describe the rest; ARI and NMI count the outliers as one more "
                "cluster, and F1 as unmatched; BERTopic's reduce_outliers gives each a topic "
                "(c-tf-idf: ARI 0.684 -> 0.888 on BBC News, NPMI 0.096 -> 0.085)",
    "unconverged": "STM stopped at max_iter before EM converged: raise max_iter",
    "still_improving": "its held-out loss was lowest at its last epoch: the epoch budget "
                       "stopped it, not early stopping; raise epochs",
    "topics_changing": "its training ended (its epochs ran out, or early stopping ended it) "
                       "while its topics still changed (on average half or more of a topic's "
                       "top 10 words were new over the 10 epochs before its kept one): its "
                       "scores depend on when training stopped; raise epochs, and set patience "
                       "null if early stopping ended it or the held-out loss kept an earlier "
                       "epoch than its last (early stopping can keep that epoch however many "
                       "are added)",
    "near_start": "on average two in five or more of its topics' top 10 words were still "
                  "those of its initial weights when its training ended: its topics are largely "
                  "the random start's; raise epochs (and patience, if early stopping ended it)",
    "saw_labels": "it trained on the labels that ARI, NMI and F1 compare it with (THETA's mode "
                  "supervised): those scores flatter it beside unsupervised models",
    "few_words": "a model scored with `tuner score` listed fewer words for some topics than "
                 "diversity_topn: its diversity and inverted_rbo count the words given, so they "
                 "do not compare with the trials' scores",
    "count_from_start": "it found within a fifth of the topics its sampler started from "
                        "(HDP's initial_k): its Gibbs sampler keeps about the topics it starts "
                        "with (1,000 BBC articles: initial_k 5, 20 and 50 found 5, 20 and 30), "
                        "so the count says little about the data; sweep initial_k",
    "background": f"one or more of its topics is above its even share of a document in "
                  f"{BACKGROUND_SPREAD:.0%} of the documents or more, and in {BACKGROUND_RATIO:g} "
                  "times as many as its median topic: a background "
                  "topic, most often of words common to every subject (like, just, know on 20 "
                  "Newsgroups; 表示, 记者, 今年 on Chinese news), else a catch-all of rare words "
                  "or a subject that runs through many documents; the report marks it under "
                  "the fit's topics and says which, and preprocessing.extra_stopwords can drop "
                  "common words"}


def trial_concerns(model: str, params: Mapping[str, Any], metrics: Mapping[str, float]
                   ) -> list[Concern]:
    """The concerns of one trial that ran its full budget (not a pruned one)."""
    # one budget warning a trial, the plainest first
    near_start = _near_start(metrics)
    improving = None if near_start else _still_improving(params, metrics)
    changing = None if near_start or improving else _topics_changing(metrics)
    return [replace(c, remedy=remedy(model, c.kind, params))
            for c in (_collapsed(params, metrics), _outliers(metrics),
                      _unconverged(metrics), near_start, improving,
                      changing, _saw_labels(model, params), _few_words(metrics),
                      _background(metrics), _count_from_start(params, metrics))
            if c is not None]


# Effective topics (exp of the topic sizes' entropy) below this share of the topics found:
# documents in a few of them. In 62 fits measured 2026-12-02 (headlines, Chinese news; ten
# models) a GSM fit gave 65% of 1,428 headlines to 2 of its 20 topics (5.8, 0.29 of its topics)
# and ranked first by ARI; every other fit was at 0.53 or more (NVDM), most at 0.7 to 1.0.
CONCENTRATED = 1 / 3
# Below this many effective topics a fit is one topic in effect, however few it found: BERTopic's
# HDBSCAN with num_topics null found 2 topics on 1,340 social posts and put 96% of them in one
# (1.11 effective topics), which the rule above leaves unmarked: it asks for 4 topics found.
# Two topics at 85/15 are 1.53; at 90/10, 1.38.
IN_EFFECT_ONE = 1.5


def _collapsed(params: Mapping[str, Any], metrics: Mapping[str, float]) -> Concern | None:
    """Documents given to fewer than half of its (4 or more) topics, one topic found (HDP down
    to one scores diversity 1.0 and ranks first), fewer than half the topics
    asked for (HDBSCAN's clusters, which `num_topics` only merges), or documents concentrated
    in a few topics though more hold one (`effective_topics` under a third of the topics, or
    under 1.5 however few a model that chose their number found)."""
    used, found = metrics.get("topics_used"), metrics.get("num_topics_found")
    asked, effective = params.get("num_topics"), metrics.get("effective_topics")
    if found is None:
        return None
    if found == 1 or (used is not None and found >= 4 and used < found / 2):
        return Concern("collapsed", f"{used:.0f} of {found:.0f}" if used is not None
                       else "1 topic")
    if effective is not None and found >= 4 and effective < found * CONCENTRATED:
        return Concern("collapsed", f"as even as {effective:.1f} topics of {found:.0f}")
    if isinstance(asked, int) and not isinstance(asked, bool) and asked >= 4 and \
            found < asked / 2:
        return Concern("collapsed", f"{found:.0f} topics found of {asked} asked")
    if asked is None and effective is not None and 0 < effective < IN_EFFECT_ONE:
        # the model chose how many (HDBSCAN, HDP): a 90/10 corpus asked for K=2 is a fit
        return Concern("collapsed", f"as even as {effective:.1f} topics of {found:.0f}")
    return None


OUTLIERS_NOTED = 1 / 3


def _outliers(metrics: Mapping[str, float]) -> Concern | None:
    """A third or more of the documents without a topic: BERTopic's HDBSCAN left 45% of 1,428
    headlines and 31% of 1,500 Chinese headlines as outliers (`reduce_outliers` none, its
    default), which without this concern only the report's top-words section says."""
    share = metrics.get("outlier_share")
    if share is None or share < OUTLIERS_NOTED:
        return None
    return Concern("outliers", f"{share:.0%} without a topic")


def _unconverged(metrics: Mapping[str, float]) -> Concern | None:
    """STM stopped at max_iter before em_tol (without this concern, its `em_converged` 0 is in
    MLflow alone)."""
    if metrics.get("em_converged") != 0:
        return None
    return Concern("unconverged", f"{metrics.get('em_iterations', 0):.0f} iterations")


# The held-out loss lowest within the last 1% of the epochs (the last one under 200) counts as
# at the end: ETM at 300 epochs kept epochs 298, 299 and 300 over three fits, and only the one
# at 300 was said (new-user audit of 2026-12-05)
LAST_EPOCHS_PER = 100


def _still_improving(params: Mapping[str, Any], metrics: Mapping[str, float]) -> Concern | None:
    """Early stopping on, yet the held-out loss was lowest at the last epoch: the budget ended the
    fit, not the stopping rule (DTM at its shipped 50 epochs: random words, NPMI -0.24, ranked
    first by ARI; at 300 epochs coherent topics). Without early stopping
    every fit keeps its last epoch, and this cannot be told."""
    best, run = metrics.get("best_epoch"), metrics.get("epochs_run")
    if params.get("patience") is None or best is None or run is None or \
            metrics.get("stopped_early"):
        return None
    if best < run - max(1, int(run) // LAST_EPOCHS_PER):
        return None
    at = "its last epoch" if best == run - 1 else f"epoch {best + 1:.0f}"
    return Concern("still_improving", f"best at {at}, {run:.0f}" if best == run - 1
                   else f"best at {at} of {run:.0f}")


TURNOVER_CONCERN = 0.5


def _topics_changing(metrics: Mapping[str, float]) -> Concern | None:
    """A neural fit whose kept epoch's topics still moved: on average half or more of a topic's
    top 10 words new over the 10 epochs before it (`top_word_turnover`, trainers.neural). It
    tells what the held-out loss cannot: without early stopping every fit keeps its last epoch,
    and ProdLDA's loss fell 0.56% over the last 3 of 10 epochs on 20ng-mini while 66% of its
    top words were new over the last 5. ProdLDA on 20ng-mini and huffpost-mini (K=20,
    2026-12-02): turnover 0.59 and 0.65 at 30 epochs, NPMI -0.154 and -0.439; 0.21 to 0.41
    from epoch 60 to 200, NPMI levelled at -0.05 and -0.21. Early stopping does not tell it
    either: ProdLDA on 300 UN speeches (K=6 and 12, 2026-12-05) stopped at epochs 27 and 28,
    keeping 16 and 17 with turnover 0.88 and 0.77, NPMI -0.257 (-0.059 at 300 epochs without
    it), and the row had no note."""
    turnover = metrics.get("top_word_turnover")
    if turnover is None or turnover < TURNOVER_CONCERN:
        return None
    return Concern("topics_changing", f"{turnover:.0%} of its top words new over the "
                   f"{metrics.get('top_word_turnover_epochs', 0):.0f} epochs before its kept one")


# Of a topic's top 10 words at the kept epoch, the share (mean over topics) still among its
# initial weights' top 10 from which a fit counts as barely trained. DTM has no early stopping and
# its held-out loss was lowest at its last epoch at 20, 100 and 300 epochs on 110 UN speeches, so
# neither the loss nor the turnover (0.08 at 20 epochs: its topics moved slowly) told its 100
# default epochs from 300: 86%, 46%, 12% from the start, NPMI -0.334, -0.230, -0.029. On 1,500
# HuffPost headlines: 47% at 20 epochs (-0.332), 30% at 50 (-0.241), 7% at 300 (-0.158); ETM
# 35% at 20 (-0.298); ProdLDA and NVDM 0 to 2% from epoch 20 on (measured 2026-12-02).
NEAR_START = 0.4


def _near_start(metrics: Mapping[str, float]) -> Concern | None:
    share = metrics.get("top_words_from_start")
    if share is None or share < NEAR_START:
        return None
    return Concern("near_start", f"{share:.0%} of its top words its initial weights'")


def _saw_labels(model: str, params: Mapping[str, Any]) -> Concern | None:
    """A fit that trains on the labels ARI, NMI and F1 compare it with (THETA's supervised mode
    on BBC News: ARI 0.94 against LDA's 0.84, with the worst NPMI)."""
    setting = label_training(model, params)
    return None if setting is None else Concern("saw_labels", setting)


START_SHARE = 0.2  # a count found within this share of the count started from is the start's


def _count_from_start(params: Mapping[str, Any], metrics: Mapping[str, float]
                      ) -> Concern | None:
    """A model that infers its number of topics from a starting count (HDP's initial_k) and
    ended near it: on 1,000 BBC articles initial_k 5, 20 and 50 found 5, 20 and 30 topics (ARI
    0.81 at 5 against 0.39 at 20, the default), on 150 UN speeches 20 (defaults audit of
    2026-12-05)."""
    start, found = params.get("initial_k"), metrics.get("num_topics_found")
    if not isinstance(start, int) or found is None or abs(found - start) > START_SHARE * start:
        return None
    return Concern("count_from_start", f"{found:.0f} found from initial_k {start}")


SHORT_TOPICS = "topics_short_of_topn"  # a logged score's topics with fewer words than asked


def _few_words(metrics: Mapping[str, float]) -> Concern | None:
    """A `tuner score --log` row whose topics list fewer words than diversity_topn: the command
    warns, but unmarked the leaderboard puts it on the Pareto front, at diversity 1.0."""
    short = int(metrics.get(SHORT_TOPICS, 0))
    return Concern("few_words", f"{short} topics") if short > 0 else None


def _background(metrics: Mapping[str, float]) -> Concern | None:
    """Topics of words common to every subject, spread over most documents (tuner.metrics.
    spread): LDA's 表示 记者 今年 需要 topics on Chinese news, which nothing else says."""
    count, found = metrics.get("background_topics", 0), metrics.get("num_topics_found")
    if not count:
        return None
    return Concern("background", f"{count:.0f} of {found:.0f} topics" if found
                   else f"{count:.0f} topics")


def notes(concerns: Sequence[Concern]) -> str:
    """The leaderboard's note for a row: each kind once, in NOTES' order."""
    kinds = {c.kind for c in concerns}
    return ", ".join(note for kind, note in NOTES.items() if kind in kinds)


def sweep_warnings(flagged: Sequence[tuple[str, Sequence[Concern], Mapping[str, float]]],
                   background_words: Sequence[str] = ()) -> list[str]:
    """One warning per kind of concern, naming up to SHOWN_EXAMPLES trials: `flagged` holds each
    trial's label (model, swept values, seed), its concerns and its metrics.
    `background_words` (background_topics_said) follow the background warning."""
    warnings = []
    for kind, write in _WRITERS.items():
        found = [(label, c, metrics) for label, concerns, metrics in flagged
                 for c in concerns if c.kind == kind]
        if found and kind == "background":
            warnings += [_background_warning(found, listed=bool(background_words)),
                         *background_words]
        elif found:
            warnings.append(write(found))
    return warnings


def _examples(found: Sequence[tuple[str, Concern, Mapping[str, float]]],
              detail: Any = None) -> str:
    shown = "; ".join(f"{label}: {detail(c, m) if detail else c.detail}"
                      for label, c, m in found[:SHOWN_EXAMPLES])
    more = len(found) - SHOWN_EXAMPLES
    return shown + (f"; and {more} more" if more > 0 else "")


def counted(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' * (n != 1)}"


def _with_stop(concern: Concern, metrics: Mapping[str, float]) -> str:
    """A concern's detail, and the epoch early stopping ended the fit at, if it did."""
    stopped = metrics.get("stopped_early")
    return concern.detail + (f", stopped at epoch {metrics['epochs_run']:.0f}"
                             if stopped and "epochs_run" in metrics else "")


def _collapse_warning(found: Sequence[tuple[str, Concern, Mapping[str, float]]]) -> str:
    stopped = any(m.get("stopped_early") for _, _, m in found)
    advice = (" A neural model stopped early on its held-out loss may not have formed its "
              "topics yet: try \"patience\": null (and more epochs)" if stopped else
              " Fewer topics, or more iterations or epochs, may fit this data better")
    advice += "".join(f". {text}" for text in _remedies(found))
    return (f"{counted(len(found), 'trial')} gave their documents to fewer than half their "
            "topics or most of them to a few, found one topic, or found fewer than half the "
            "topics asked for "
            f"({_examples(found, _with_stop)}): a collapsed fit, whose diversity, coherence and "
            f"agreement with the labels mean little.{advice}")


def _outliers_warning(found: Sequence[tuple[str, Concern, Mapping[str, float]]]) -> str:
    """A model's own remedy is named only when one of its trials is among them: an LDA and BTM
    sweep is not told to set BERTopic's reduce_outliers."""
    remedies = "".join(f" {text}." for text in _remedies(found))
    return (f"{counted(len(found), 'trial')} left a third or more of the documents without a "
            f"topic ({_examples(found)}): their npmi and diversity describe the other "
            "documents; ARI and NMI count the outliers as one more cluster, and F1 as "
            f"unmatched.{remedies} A document with no word left after preprocessing is an "
            "outlier in every model (the sweep warns when 5% or more keep none, and says what "
            "would keep more words)")


def _unconverged_warning(found: Sequence[tuple[str, Concern, Mapping[str, float]]]) -> str:
    return (f"{counted(len(found), 'trial')} stopped at max_iter before EM converged "
            f"({_examples(found)}): raise max_iter (stm's max.em.its is 500)")


# Top-word turnover under which a fit's topics count as settled: ETM on 300 UN speeches at 300
# epochs, held-out loss still falling at its end, 1.7% to 3.3% (new-user audit of 2026-12-05);
# ProdLDA's levelled fits stayed at 21% to 41% (_topics_changing)
SETTLED_TURNOVER = 0.1


def _improving_warning(found: Sequence[tuple[str, Concern, Mapping[str, float]]]) -> str:
    one = len(found) == 1
    its = "its" if one else "their"
    near = any(m.get("best_epoch") != m.get("epochs_run", 0) - 1 for _, _, m in found)
    said = (f"{counted(len(found), 'trial')} still improved at {'or near ' * near}{its} last "
            f"epoch (held-out loss lowest there; {_examples(found)}): the epoch budget stopped "
            f"{'it' if one else 'them'}, not early stopping")
    turnovers = [m.get("top_word_turnover") for _, _, m in found]
    if all(t is not None and t < SETTLED_TURNOVER for t in turnovers):
        return (f"{said}, though {its} topics' top words had settled (at most "
                f"{max(t for t in turnovers if t is not None):.0%} new over the epochs before "
                f"the kept one): more epochs may still move {its} documents' topic proportions "
                "(ARI, NMI, F1) more than the topics' words (NPMI, diversity)")
    return f"{said}, and {its} topics may not have formed yet: raise epochs"


def _changing_warning(found: Sequence[tuple[str, Concern, Mapping[str, float]]]) -> str:
    stopped = any(m.get("stopped_early") for _, _, m in found)
    its = "its" if len(found) == 1 else "their"
    ended = "ended" if stopped else "ran out of epochs"
    budget = f"when {its} training stopped" if stopped else "the epoch budget"
    return (f"{counted(len(found), 'trial')} {ended} while {its} topics still changed "
            f"({_examples(found, _with_kept)}): {its} scores depend on {budget}, not on "
            f"a trained model: raise epochs{_kept_earlier_advice(found)}")


def _kept_before_last(metrics: Mapping[str, float]) -> bool:
    best, run = metrics.get("best_epoch"), metrics.get("epochs_run")
    return best is not None and run is not None and best < run - 1


def _with_kept(concern: Concern, metrics: Mapping[str, float]) -> str:
    """A concern's detail, and the epoch the held-out loss kept when it was not the last (the
    epoch early stopping ended it at, if it did)."""
    stopped = " (stopped early)" if metrics.get("stopped_early") else ""
    return concern.detail + (f", kept epoch {metrics['best_epoch'] + 1:.0f} of "
                             f"{metrics['epochs_run']:.0f}{stopped}"
                             if _kept_before_last(metrics) else "")


def _kept_earlier_advice(found: Sequence[tuple[str, Concern, Mapping[str, float]]]) -> str:
    """Early stopping keeps the epoch of least held-out loss, which more epochs need not move:
    ProdLDA on 250 UN speeches, 30 epochs, kept 21 with 85% of its top words new; told only to
    raise epochs, at 100 it stopped at 31 with the same epoch and scores."""
    if not any(_kept_before_last(m) or m.get("stopped_early") for _, _, m in found):
        return ""
    return (", and where early stopping ended a fit or the held-out loss kept an earlier epoch "
            "than the last, set patience null too: early stopping keeps the epoch of least "
            "held-out loss, which came before the topics formed, however many are added")


def _near_start_warning(found: Sequence[tuple[str, Concern, Mapping[str, float]]]) -> str:
    stopped = any(m.get("stopped_early") for _, _, m in found)
    advice = ("raise epochs, and for a fit that early stopping ended, raise patience or set it "
              "null" if stopped else "raise epochs")
    return (f"{counted(len(found), 'trial')} ended with topics whose top words were still largely "
            f"those of their initial weights ({_examples(found, _with_stop)}): they barely "
            f"trained, and their scores describe the random start more than the data: {advice}")


def _remedies(found: Sequence[tuple[str, Concern, Mapping[str, float]]]) -> list[str]:
    """The models' own remedies for the concerns found, each once, in the order found."""
    return list(dict.fromkeys(c.remedy for _, c, _ in found if c.remedy))


def _labels_warning(found: Sequence[tuple[str, Concern, Mapping[str, float]]]) -> str:
    return (f"{counted(len(found), 'trial')} trained on the labels that "
            f"ARI, NMI and F1 compare them with ({_examples(found)}): those scores flatter them "
            "beside unsupervised models; compare by npmi and diversity, or score them against "
            "labels the fit did not see")


def _background_warning(found: Sequence[tuple[str, Concern, Mapping[str, float]]],
                        listed: bool = False) -> str:
    lists = "The next warning lists the words of a few; " if listed else ""
    return (f"{counted(len(found), 'trial')} spread one or more topics over far more documents "
            f"than their other topics ({_examples(found)}): background topics. {lists}"
            "`tuner report` marks them under the topics of "
            "each fit it shows and says whether their words are common to "
            "every subject (stop words: preprocessing.extra_stopwords drops them, and the next "
            "sweep fits every trial again), rare (a catch-all of the documents no other topic "
            "took) or neither (a subject that runs through many documents)")


def _count_warning(found: Sequence[tuple[str, Concern, Mapping[str, float]]]) -> str:
    return (f"{counted(len(found), 'trial')} found about as many topics as their sampler "
            f"started from ({_examples(found)}): HDP's Gibbs sampler keeps about the topics it "
            "starts with (on 1,000 BBC articles initial_k 5, 20 and 50 found 5, 20 and 30), so "
            "the count says little about the data: sweep initial_k, and compare by the scores")


_WRITERS = {"collapsed": _collapse_warning, "outliers": _outliers_warning,
            "unconverged": _unconverged_warning,
            "near_start": _near_start_warning,
            "still_improving": _improving_warning, "topics_changing": _changing_warning,
            "saw_labels": _labels_warning, "background": _background_warning,
            "count_from_start": _count_warning}


class _RunArtifacts(Protocol):
    def topics(self, run_id: str) -> dict[str, list[str]]: ...

    def read_json(self, run_id: str, name: str) -> dict[str, Any] | None: ...


BACKGROUND_SHOWN = 3  # fits whose widest background topic the sweep's warnings list
BACKGROUND_READ = 10  # fits read for them (one scored before its words were has none)
BACKGROUND_WORDS_SHOWN = 8
_WORDS_ARE = {"common": "common words: stop words for preprocessing.extra_stopwords",
              "rare": "rare words: a catch-all of the documents no other topic took"}


def background_topics_said(store: _RunArtifacts, flagged: Sequence[tuple[str, str]]
                           ) -> list[str]:
    """The words of the widest background topic of the first fits `flagged` ((label, run id)),
    and what they are: the background warning sent users to the report, which shows one run
    of each configuration, so the fits it named were often not there (new-user audit of
    2026-12-05: LDA at K=12 and CTM's seed 42 named, neither shown)."""
    said: list[str] = []
    for label, run_id in flagged[:BACKGROUND_READ]:
        if len(said) == BACKGROUND_SHOWN:
            break
        extras = store.read_json(run_id, "extras.json") or {}
        ids = extras.get(BACKGROUND_IDS)
        widest = ids[0] if isinstance(ids, list) and ids else None
        words = store.topics(run_id).get(str(widest)) if widest is not None else None
        if not words:
            continue
        judged = extras.get(BACKGROUND_WORDS)
        found = judged.get(str(widest)) if isinstance(judged, dict) else None
        # "words" is "" for words neither common nor rare
        kind = found.get("words") if isinstance(found, dict) else None
        what = "not judged: scored before its words were" if kind is None else \
            _WORDS_ARE.get(str(kind), "a subject that runs through many documents")
        said.append(f"{label}: topic {widest}, {' '.join(words[:BACKGROUND_WORDS_SHOWN])} "
                    f"({what})")
    return [f"the widest background topic of {'each of ' * (len(said) > 1)}"
            f"{counted(len(said), 'fit')}: {'; '.join(said)}"] if said else []
