"""A tuner experiment's earlier sweeps on other data or settings, each by its best
configuration: set beside the latest sweep's rows by `tuner report`, and weighed by `tuner best`
(light: no plotting library)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

from tuner.reporting.leaderboard import ConfigResult, aggregate_seeds, on_data, rank_configs
from tuner.tracking.records import FinishedTrial, SweepRun, ranked
from tuner.tracking.tags import CONTEXT_TAG, CORPUS_SHA256_TAG

EARLIER_SHOWN = 5  # sweeps on other data or settings listed under the ranking
MAX_EMBEDDINGS_SAID = 8  # a sweep's embedding settings named on its page


@dataclass(frozen=True)
class EarlierSweep:
    """The newest sweep on other data or settings than the ranked ones, and its best
    configuration there."""

    start_time: int | None  # ms since the epoch, as MLflow keeps it
    documents: str
    preprocessing: Sequence[str]  # its settings that are not the defaults
    best: ConfigResult
    run: SweepRun | None = None  # the sweep's run, whose params and tags say how it scored
    labels: str = "-"  # what ARI, NMI and F1 scored against (labels_said)


def changed_preprocessing(params: Mapping[str, str]) -> list[str]:
    """A sweep run's preprocessing settings that are not the defaults, as "name value": else a
    page of a sweep run again with stop words added never says which."""
    from tuner.data.vocab import Preprocessing

    return [f"{name} {params[f'preprocessing.{name}']}"
            for name, default in Preprocessing().as_logged().items()
            if params.get(f"preprocessing.{name}", default) != default]


def labels_said(params: Mapping[str, str]) -> str:
    """What a sweep's ARI, NMI and F1 scored against, from its run's params: "label field
    'label', 5 classes" or a ground-truth file's name; "none" without labels, "-" when the run
    does not say. Rows of two sweeps scored against other labels read alike otherwise (report
    audit of 2026-12-05: 0.7040 beside 0.8865 on the same fits, 4 classes against 5)."""
    source = params.get("ground_truth")
    if not source:
        return "-"
    if source in ("label_field:None", "label_field:"):
        return "none"
    named = f"label field '{source.removeprefix('label_field:')}'" \
        if source.startswith("label_field:") else source.replace("\\", "/").rsplit("/", 1)[-1]
    classes = params.get("classes")
    return f"{named}, {classes} classes" if classes else named


def embeddings_said(params: Mapping[str, str]) -> list[str]:
    """The document embeddings a sweep's models read, from its run's params: the model (a
    folder by its name), its pooling, window and long-document handling. A page that showed
    BERTopic's rows without them read the same for MiniLM and Qwen3 (report audit)."""
    said = []
    for i in range(MAX_EMBEDDINGS_SAID):
        suffix = "" if i == 0 else f"_{i}"
        model = params.get(f"embedding_model{suffix}")
        if model is None:
            break
        shown = model.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] \
            if model.startswith(("/", ".", "~")) or "\\" in model else model
        said.append(f"{shown} (pooling {params.get(f'pooling{suffix}', '?')}, max_length "
                    f"{params.get(f'max_length{suffix}', '?')}, long_documents "
                    f"{params.get(f'long_documents{suffix}', '?')})")
    return said


def earlier_sweeps(sweeps: Sequence[SweepRun], everything: Sequence[FinishedTrial],
                   context: str | None, metric: str) -> list[EarlierSweep]:
    """The newest sweep on each other data or settings of the experiment, with its best
    configuration by `metric`, newest first (EARLIER_SHOWN): with the latest sweep's rows alone,
    a sweep run again with stop words added cannot be set beside the one before it."""
    rows: list[EarlierSweep] = []
    seen = {context, None}  # None: a sweep logged before contexts were, on no data known
    for sweep in sweeps:
        other = sweep.tags.get(CONTEXT_TAG)
        if other in seen or not sweep.ran_trials or len(rows) == EARLIER_SHOWN:
            continue
        seen.add(other)
        standing = aggregate_seeds(ranked(on_data(everything, other)))
        configs = rank_configs(standing, metric) or rank_configs(standing, "npmi")  # no labels
        if configs:
            rows.append(EarlierSweep(sweep.start_time, sweep.params.get("documents", ""),
                                     changed_preprocessing(sweep.params), configs[0], sweep,
                                     labels_said(sweep.params)))
    return rows


def scored_alike(earlier: SweepRun, latest: SweepRun, metric: str) -> bool:
    """Whether `metric` of the two sweeps' trials compares: the same metric settings, and for a
    metric against the labels the same ground truth partition (a sweep's own, since tuner
    tagged it). Otherwise `tuner best` says an earlier sweep "reached" a higher NPMI measured
    over another window, or an ARI against older labels."""
    from tuner.metrics import METRICS
    from tuner.tracking.tags import TRUTH_TAG
    from tuner.trial import MetricSettings

    settings = [f.name for f in fields(MetricSettings)]
    if any(earlier.params.get(name) != latest.params.get(name) for name in settings):
        return False
    needs = METRICS[metric].needs if metric in METRICS else "nothing"
    if needs == "ground_truth":
        truth = earlier.tags.get(TRUTH_TAG)
        return truth is not None and truth == latest.tags.get(TRUTH_TAG)
    if needs == "cooccurrence":  # NPMI counts each sweep's own preprocessed corpus
        preprocessing = {name for name in (*earlier.params, *latest.params)
                         if name.startswith("preprocessing.")}
        return earlier.tags.get(CORPUS_SHA256_TAG) == latest.tags.get(CORPUS_SHA256_TAG) \
            and all(earlier.params.get(n) == latest.params.get(n) for n in preprocessing)
    return True
