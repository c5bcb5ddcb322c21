"""The grid's own sections, declared with ParamSchema as models are: one message format
(`<file>: <section>.<field>: expects ...; got ...`) and every problem reported at once."""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tuner.data.cooccurrence import NPMI_REFERENCES
from tuner.data.corpus import FORMATS, SUPPORTED_SUFFIXES, DatasetSpec, text_field_setting
from tuner.data.embeddings import LONG_DOCUMENTS, MAX_REVISION, EmbeddingSpec, valid_revision
from tuner.data.language import CHINESE_SHARE
from tuner.data.vocab import STOP_LISTS, Preprocessing
from tuner.engine.pruning import PRUNER_TYPES, PrunerSpec
from tuner.engine.search import STRATEGIES, SearchSpec
from tuner.errors import GridError
from tuner.params import (
    Constraint,
    CrossCheck,
    Param,
    ParamSchema,
    above,
    above_up_to,
    anything,
    between,
    list_of,
    non_empty,
    one_of,
)
from tuner.trial import MetricSettings

MAX_VALUES = 10_000  # in one list of a grid: checking 200,000 values held the service 2.7 s
MAX_PROBLEMS = 100  # listed of a grid's problems (the rest counted): answers stay small
MAX_MODELS = 50  # names in a grid's `models` (twelve are built in)
MAX_SEED = 2**32 - 1  # numpy, UMAP and torch seeds are 32-bit: larger ones fail every trial
POOLINGS = ("mean", "cls", "last_token")
_PRE, _EMB, _MET = Preprocessing(), EmbeddingSpec(), MetricSettings()
_DATA: dict[str, Any] = {f.name: f.default for f in dataclasses.fields(DatasetSpec)}


MAX_EXTRA_STOPWORDS = 10_000


def _one_word() -> Constraint:
    return Constraint("a word without spaces, at most 50 characters",
                      lambda v: bool(v) and len(v) <= 50 and not any(c.isspace() for c in v),
                      whole=True)


def _file_path() -> Constraint:
    return Constraint("a file path", lambda v: bool(v.strip()), whole=True)


def _revision() -> Constraint:
    return Constraint(
        f"a branch, tag or commit of at most {MAX_REVISION} characters: letters, digits, '.', "
        "'_', '-', and '/' between parts; no '..'", valid_revision, whole=True)


# MLflow refuses names over 500 characters, and the artifact folder's name must fit a file
# name's 255 bytes; a control character in a name forged lines in the service's log.
MAX_EXPERIMENT = 200


def _experiment_name() -> Constraint:
    return Constraint(
        f"a name of 1 to {MAX_EXPERIMENT} characters with no control or invisible format "
        "characters", lambda v: bool(v.strip()) and len(v) <= MAX_EXPERIMENT
        and all(ch.isprintable() or unicodedata.category(ch) == "Zs" for ch in v), whole=True)


MAX_TEXT_FIELDS = 10


def _text_fields() -> Constraint:
    def check(value: Any) -> bool:
        names = value if isinstance(value, list) else [value]
        return 1 <= len(names) <= MAX_TEXT_FIELDS and len(set(map(str, names))) == len(names) \
            and all(isinstance(n, str) and n.strip() for n in names)

    return Constraint(f"a field name, or a list of 1 to {MAX_TEXT_FIELDS} distinct field names",
                      check, whole=True)


def _field_name(name: str, default: str | None, help_text: str, nullable: bool = False) -> Param:
    return Param(name, str, default, non_empty(), help_text, nullable=nullable)


DATASET = ParamSchema("dataset", [
    Param("path", str, None, Constraint("a file or folder path", lambda v: bool(v.strip()),
                                        whole=True),
          f"the corpus: {FORMATS}; relative to the grid file"),
    Param("text_field", object, _DATA["text_field"], _text_fields(), "field holding each "
          "document's text; a list of fields (a title and an abstract): their texts joined, "
          "in that order, a blank line between"),
    _field_name("id_field", _DATA["id_field"], "field holding each document's id; null: the "
                "record's number in the file (1, 2, ...)", nullable=True),
    _field_name("label_field", _DATA["label_field"], "field holding a ground-truth label; null "
                "for none", nullable=True),
    _field_name("timestamp_field", _DATA["timestamp_field"], "field holding ISO dates (DTM)",
                nullable=True),
    Param("language", str, _DATA["language"], one_of("en", "zh"), "how texts are tokenised "
          "(read in any case and region: ZH, zh-CN, zh_Hant); null (default): zh when over "
          f"{CHINESE_SHARE:.0%} of the letters are Chinese, else en",
          nullable=True),
    Param("covariates", list, [], list_of(_field_name("covariate", None, ""), max_len=100,
                                          distinct=True),
          "fields holding document covariates (STM)", nullable=True),
])
EMBEDDING = ParamSchema("embedding", [
    Param("model", str, _EMB.model, Constraint("a Hugging Face id or a folder",
                                               lambda v: bool(v.strip()), whole=True),
          "sentence-embedding model"),
    Param("pooling", str, _EMB.pooling, one_of(*POOLINGS), "token pooling"),
    Param("max_length", int, _EMB.max_length, between(8, 32768), "tokens per document"),
    Param("batch_size", int, _EMB.batch_size, between(1, 4096), "documents per batch"),
    Param("text_variant", str, _EMB.text_variant, one_of("raw"), "which text is embedded"),
    Param("revision", str, _EMB.revision, _revision(), "model revision: a branch, tag or "
          "commit (default: the local copy's)", nullable=True),
    Param("long_documents", str, _EMB.long_documents, one_of(*LONG_DOCUMENTS), "a document "
          "longer than max_length tokens: start embeds its first max_length tokens; chunks "
          "embeds each window of max_length tokens and averages them, weighted by their "
          "tokens (time grows with the text); auto: chunks where the starts hold less than "
          "half of the text on average, else start"),
])
METRICS = ParamSchema("metrics", [
    Param("npmi_window", int, _MET.npmi_window, between(2, 200), "NPMI sliding-window size"),
    Param("topn", int, _MET.topn, between(2, 50), "top words per topic for NPMI"),
    Param("diversity_topn", int, _MET.diversity_topn, between(1, 100),
          "top words per topic for topic diversity"),
    Param("npmi_reference", str, _MET.npmi_reference, one_of(*NPMI_REFERENCES),
          "what NPMI's windows slide over: preprocessed (every token the preprocessing keeps, the "
          "same for every vocab_size) or vocabulary (the trial's own vocabulary's tokens)"),
])
PREPROCESSING = ParamSchema("preprocessing", [
    Param("lowercase", bool, _PRE.lowercase, anything(), "lower-case before counting"),
    Param("stopwords", str, _PRE.stopwords, one_of(*STOP_LISTS), "stop-word list: auto (the "
          "dataset language's: english or chinese), english (scikit-learn's), mallet (Mallet's, "
          "as ETM uses, plus contraction fragments), chinese (stopwords-iso's, with "
          "scikit-learn's English list), none"),
    Param("min_token_len", int, _PRE.min_token_len, between(1, 10), "shortest token kept"),
    Param("min_df", int, _PRE.min_df, between(1, 1000), "fewest documents a word must be in"),
    Param("max_df", float, _PRE.max_df, above_up_to(0, 1), "largest share of documents a "
          "word may be in"),
    Param("strip_quotes", bool, _PRE.strip_quotes, anything(), "drop quoted reply lines "
          "(\"> ...\", \"In article ... writes:\") before tokenising"),
    Param("strip_headers", bool, _PRE.strip_headers, anything(), "drop mail/news header lines "
          "(From:, Subject:, Organization: ...) before tokenising"),
    Param("strip_markup", bool, _PRE.strip_markup, anything(), "read HTML entities (&amp; is "
          "&) and drop HTML tags, web addresses and e-mail addresses before tokenising"),
    Param("strip_mentions", bool, _PRE.strip_mentions, anything(), "drop social posts' "
          "@handles (@user) before tokenising"),
    Param("extra_stopwords", list, [], list_of(Param("word", str, None, _one_word(), ""),
                                               max_len=MAX_EXTRA_STOPWORDS),
          "words to drop besides the stop list (compared lower-cased when lowercase is on, "
          "marks around a word dropped: Mr. is mr)",
          nullable=True),
    Param("user_words", list, [], list_of(Param("word", str, None, _one_word(), ""),
                                          max_len=MAX_EXTRA_STOPWORDS),
          "words jieba keeps whole when it segments Chinese text, as its user dictionary "
          "does: terms its dictionary lacks (比特币, 区块链, 王者荣耀); English text ignores them",
          nullable=True),
])


def _rankable() -> tuple[str, ...]:
    from tuner.metrics import rankable_metrics

    return tuple(rankable_metrics())


PRUNER = ParamSchema("search.pruner", [
    Param("type", str, "asha", one_of(*PRUNER_TYPES), "asynchronous successive halving, "
          "Hyperband, or the median rule (Optuna's pruners); none: learning curves only"),
    Param("min_resource", int, None, between(1, 100000), "budget units (epochs, iterations) "
          "before a trial is first judged; null: each model's own default", nullable=True),
    Param("reduction_factor", int, 3, between(2, 10), "rungs at min_resource x factor^k; "
          "a trial goes on when in the top 1/factor there (asha, hyperband)"),
])


def search_schema() -> ParamSchema:
    """The `search` section (its metric choices come from the metric registry)."""
    metric = Param("metric", str, None, one_of(*_rankable()), "metric to optimise",
                   nullable=True)
    return ParamSchema("search", [
        Param("strategy", str, None, one_of(*STRATEGIES), "grid, random sampling or TPE"),
        Param("n_trials", int, None, between(1, 100000), "configurations to try (random, tpe)",
              nullable=True),
        Param("seed", int, 0, between(0, MAX_SEED), "seed of the sampler"),
        metric,
        Param("metrics", list, None, list_of(metric.replace(nullable=False), min_len=1,
                                             max_len=10, distinct=True),
              "metrics to optimise together (a Pareto search)", nullable=True),
        Param("pruner", dict, None, anything(), "stop bad trials early at checkpoints of "
              "their epochs or iterations (see search.pruner); null: every trial runs in full",
              nullable=True),
    ], [CrossCheck("n_trials for strategy random or tpe", ("strategy", "n_trials"),
                   lambda v: v["strategy"] == "grid" or v["n_trials"] is not None),
        CrossCheck("no n_trials for strategy grid (it runs every combination)",
                   ("strategy", "n_trials"),
                   lambda v: v["strategy"] != "grid" or v["n_trials"] is None),
        # both given, metric would be ignored
        CrossCheck("metric or metrics, not both (metrics: several objectives)",
                   ("metric", "metrics"),
                   lambda v: v["metric"] is None or v["metrics"] is None)])


def top_level_schema() -> ParamSchema:
    """Every top-level field of a grid; sections are objects checked by their own schema."""
    seed = Param("seed", int, None, between(0, MAX_SEED), "")

    def section(name: str, help_text: str) -> Param:
        return Param(name, dict, {}, anything(), help_text)

    return ParamSchema("grid", [
        Param("experiment", str, None, _experiment_name(), "MLflow experiment name"),
        Param("dataset", dict, None, anything(), "the corpus (see DATASET)"),
        Param("ground_truth", str, None, _file_path(), "clustering file; null: the label field",
              nullable=True),
        Param("model", str, None, non_empty(), "one model name", nullable=True),
        # checked in grid._models (names, count); described here for errors and docs
        Param("models", list, None,
              Constraint("a non-empty list of model names (one name: 'model')", lambda v: True,
                         whole=True), "model names", nullable=True),
        Param("search", dict, None, anything(), "how trials are chosen (see search_schema); "
              "null: the full grid", nullable=True),
        section("params", "model parameters: a value, a list, or a range"),
        section("embedding", "document embeddings (see EMBEDDING)"),
        Param("seeds", list, [42], list_of(seed, min_len=1, max_len=MAX_VALUES, distinct=True),
              "trial seeds"),
        section("metrics", "metric settings (see METRICS)"),
        section("preprocessing", "tokeniser and vocabulary (see PREPROCESSING)"),
        Param("timeout_s", float, None, above(0), "seconds before a trial is stopped",
              nullable=True),
        Param("leaderboard_metric", str, None, one_of(*_rankable()), "ranking metric",
              nullable=True),
        Param("executor", str, "process", one_of("process", "dask"), "where trials run"),
    ])


def grid_schemas() -> list[ParamSchema]:
    """Every section of a grid file, top level first: what `tuner params --grid` prints."""
    return [top_level_schema(), DATASET, EMBEDDING, METRICS, PREPROCESSING, search_schema(),
            PRUNER]


class ProblemList:
    """Collects problems so validation reports every one at once, in the grid's field order."""

    def __init__(self, path: Path, order: list[str]) -> None:
        self.path = path
        self.order = order
        self.items: dict[tuple[str, str], None] = {}  # an ordered set: a shared parameter
        # is checked once per model, and a grid may hold 150,000 bad values

    def add(self, where: str, message: str) -> None:
        self.items[(where, message)] = None

    def add_section(self, section: str, found: list[tuple[str, str]]) -> None:
        for field, message in found:
            self.add(f"{section}.{field}" if field else section, message)

    def raise_if_any(self) -> None:
        if self.items:
            ordered = sorted(self.items, key=self._rank)
            listed = [f"{self.path}: {where}: {message}" for where, message in
                      ordered[:MAX_PROBLEMS]]
            if len(ordered) > MAX_PROBLEMS:
                listed.append(f"{self.path}: and {len(ordered) - MAX_PROBLEMS} more problems")
            raise GridError(listed)

    def _rank(self, item: tuple[str, str]) -> int:
        head = re.split(r"[.\[]", item[0], maxsplit=1)[0]
        return self.order.index(head) if head in self.order else -1


def checked_section(schema: ParamSchema, value: Any, problems: ProblemList) -> dict[str, Any]:
    """The section's full settings (defaults filled in), or {} when it has problems; a value
    that is not an object was already reported by the top-level schema."""
    if not isinstance(value, dict):
        return {}
    found = schema.field_problems(value)
    problems.add_section(schema.model, found)
    return {} if found else schema.with_defaults(value)


def dataset_spec(value: Any, base: Path, problems: ProblemList) -> DatasetSpec | None:
    if isinstance(value, dict) and isinstance(value.get("language"), str):
        value = {**value, "language": language_code(value["language"])}
    settings = checked_section(DATASET, value, problems)
    if not settings:
        return None
    path = (base / settings.pop("path")).resolve()
    if is_dir(path):
        pass  # a folder of text files, one document each
    elif not is_file(path):
        problems.add("dataset.path", not_a_file(path))
    elif path.suffix.lower() not in SUPPORTED_SUFFIXES:
        problems.add("dataset.path", f"expects {FORMATS}; got '{path.suffix}'")
    settings["covariates"] = tuple(settings["covariates"] or ())  # null: none, as []
    settings["text_field"] = text_field_setting(settings["text_field"])
    _refuse_label_in_text(settings, problems)
    return DatasetSpec(path, **settings)


def _refuse_label_in_text(settings: dict[str, Any], problems: ProblemList) -> None:
    """The label field among the text fields puts the ground truth into the texts: ARI 0.25 ->
    0.43 and F1 0.50 -> 0.76 on 20 Newsgroups posts, a fit scoring itself on its own input."""
    label = settings.get("label_field")
    text = settings["text_field"]
    if label is not None and label in (text if isinstance(text, tuple) else (text,)):
        problems.add("dataset.text_field", f"'{label}' is also the label_field: the texts would "
                     "hold the labels ARI, NMI and F1 score against, so a fit would score its own "
                     "input; leave it out of text_field, or set \"label_field\": null")


def language_code(text: str) -> str:
    """"ZH", "zh-CN", "zh_Hant" and "en-GB" as the codes tuner knows (zh, en); others as given."""
    code = text.strip().lower().replace("_", "-")
    return next((known for known in ("zh", "en") if code == known or code.startswith(known + "-")),
                text)


def ground_truth_path(value: Any, base: Path, problems: ProblemList) -> Path | None:
    if not isinstance(value, str) or not value.strip():
        return None  # null, or already reported by the top-level schema
    path = (base / value).resolve()
    if not is_file(path):
        problems.add("ground_truth", not_a_file(path))
    return path


def not_a_file(path: Path) -> str:
    """Why a path a grid names as a file cannot be read: a folder, something that is not a
    regular file (else a FIFO is said "file not found"), or nothing there."""
    if is_dir(path):
        return f"is a folder, not a file: {path}"
    if _safely(path.exists):
        return f"not a regular file (a pipe, a socket or a device): {path}"
    return f"file not found: {path}"


def is_file(path: Path) -> bool:
    """Whether `path` is a file; False for a name the system refuses (too long, a NUL byte)."""
    return _safely(path.is_file)


def is_dir(path: Path) -> bool:
    """Whether `path` is a folder; False for a name the system refuses."""
    return _safely(path.is_dir)


def _safely(check: Callable[[], bool]) -> bool:
    try:
        return check()
    except (OSError, ValueError):
        return False


def search_spec(value: Any, problems: ProblemList) -> SearchSpec:
    settings = checked_section(search_schema(), value, problems)
    if not settings:
        asked = value.get("strategy", "grid") if isinstance(value, dict) else "grid"
        return SearchSpec(stand_in=asked != "grid")
    metrics = settings["metrics"] or ([settings["metric"]] if settings["metric"] else [])
    pruner = checked_section(PRUNER, settings["pruner"], problems) \
        if settings["pruner"] is not None else None
    return SearchSpec(settings["strategy"], settings["n_trials"] or 0, settings["seed"],
                      tuple(metrics), PrunerSpec(**pruner) if pruner else None)


def check_pruned_objective(search: SearchSpec, leaderboard_metric: Any,
                           problems: ProblemList) -> None:
    """A pruner judges checkpoints by the sweep's objective, which must be a metric scored from
    a model's output (not a recorded figure such as fit_seconds, unknown mid-training)."""
    from tuner.metrics import METRICS

    if not search.prunes:
        return
    objective = (search.metrics or (leaderboard_metric,))[0]
    if isinstance(objective, str) and objective not in METRICS:
        field = "search.metric" if search.metrics else "leaderboard_metric"
        problems.add(field, f"a pruner judges trials by this metric at checkpoints, so it must "
                     f"be one scored from the model ({', '.join(METRICS)}); got '{objective}'")


def embedding_spec(value: Any, base: Path, problems: ProblemList) -> EmbeddingSpec:
    """The embedding section; a model folder given as a relative path resolves against the
    grid's folder (`base`), as the grid's other paths do."""
    settings = checked_section(EMBEDDING, value, problems)
    model = settings.get("model")
    if isinstance(model, str) and (model.startswith(("./", "../"))
                                   or is_dir(base / model)):
        settings["model"] = str((base / model).resolve())
    return EmbeddingSpec(**settings)


def metric_settings(value: Any, problems: ProblemList) -> MetricSettings:
    return MetricSettings(**checked_section(METRICS, value, problems))


def preprocessing(value: Any, problems: ProblemList) -> Preprocessing:
    """The section, its stop list's name read whatever its case ("English"), as model names and
    dataset.language are."""
    if isinstance(value, dict) and isinstance(value.get("stopwords"), str):
        value = {**value, "stopwords": value["stopwords"].lower()}
    settings = checked_section(PREPROCESSING, value, problems)
    settings["extra_stopwords"] = tuple(settings.get("extra_stopwords") or ())  # null: none
    settings["user_words"] = tuple(settings.get("user_words") or ())
    return Preprocessing(**settings)


def top_level(raw: Mapping[str, Any], problems: ProblemList) -> dict[str, Any]:
    """The top-level fields with defaults filled in; a single seed becomes a list."""
    seeds = raw.get("seeds", [42])
    values = {**raw, "seeds": [seeds] if type(seeds) is int else seeds}
    schema = top_level_schema()
    for field, message in schema.field_problems(values):
        problems.add(field, message)
    return {p.name: values.get(p.name, p.default) for p in schema.params}
