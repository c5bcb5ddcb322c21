"""The report shows what DTM and STM are chosen for: each topic's words over time, and the
covariates' effects on topic prevalence. One real sweep of both on dated headlines with a
numeric and a categorical covariate, in a SQLite MLflow store."""

from __future__ import annotations

import dataclasses
import html
import json
from pathlib import Path

import pytest

from tests.conftest import REPO, make_grid, read_jsonl, run_sweep, sqlite_store, write_jsonl
from tuner.reporting.findings import findings_html, shown_slices, topic_shares
from tuner.reporting.health import counted
from tuner.reporting.report import write_report
from tuner.tracking.tracker import EXTRAS_FILE, MlflowTracker

HUFFPOST_MINI = REPO / "datasets" / "huffpost-mini" / "corpus.jsonl"
EXPERIMENT = "findings"


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory, session_cache: Path
          ) -> tuple[str, str, list[Path]]:
    folder = tmp_path_factory.mktemp("findings")
    records = [r | {"year": int(r["timestamp"][:4])} for r in read_jsonl(HUFFPOST_MINI)]
    corpus = write_jsonl(folder / "corpus.jsonl", records)
    dataset = {"path": str(corpus), "text_field": "text", "id_field": "id",
               "label_field": "label", "timestamp_field": "timestamp", "language": "en",
               "covariates": ["year", "label"]}
    grid = make_grid(folder, corpus, experiment=EXPERIMENT, dataset=dataset,
                     models=["dtm", "stm"],
                     params={"num_topics": 5, "vocab_size": 1000, "dtm.epochs": 10,
                             "dtm.time_slices": "bins:3", "stm.max_iter": 10})
    uri = sqlite_store(folder / "mlflow.db")
    run_sweep(grid, uri, session_cache, "--quiet")
    written = write_report(uri, EXPERIMENT, folder / "report")
    return uri, written.html.read_text(encoding="utf-8"), written.plots


def _extras(uri: str, model: str) -> dict:
    tracker = MlflowTracker(uri, existing=True)
    trial = next(t for t in tracker.finished_trials(EXPERIMENT) if t.model == model)
    found = tracker.read_json(trial.run_id, EXTRAS_FILE)
    assert found is not None
    return found


def test_the_report_shows_each_dtm_topics_words_in_every_time_slice(
        swept: tuple[str, str, list[Path]]) -> None:
    uri, page, _ = swept
    extras = _extras(uri, "DTM")
    slices, shares = extras["slice_top_words"], extras["slice_topic_share"]
    assert len(slices) == 3
    section = page.split("Topics over time")[1].split("</details>")[0]
    for label, topics in slices.items():
        assert f"<th>{html.escape(label)}</th>" in section
        # topic 0's share of that slice's documents, then its words there
        assert (f"{100 * shares[label][0]:.0f}% · "
                f"{html.escape(' '.join(topics[0][:4]))}</td>") in section


def test_the_report_draws_the_dtm_topics_shares_over_time(
        swept: tuple[str, str, list[Path]]) -> None:
    uri, page, plots = swept
    tracker = MlflowTracker(uri, existing=True)
    dtm = next(t for t in tracker.finished_trials(EXPERIMENT) if t.model == "DTM")
    trends = [p for p in plots if p.name.startswith("trends-")]
    assert [p.name for p in trends] == [f"trends-{dtm.run_id}.png"]  # none for STM
    assert trends[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f'<img src="trends-{dtm.run_id}.png"' in page


def test_the_report_names_the_topics_each_covariate_raises_and_lowers(
        swept: tuple[str, str, list[Path]]) -> None:
    uri, page, _ = swept
    effects = _extras(uri, "STM")["covariate_effects"]
    section = page.split("Covariate effects")[1].split("</details>")[0]
    assert "reference levels: label=BLACK VOICES" in section  # the first level, sorted
    year = effects["effects"]["year"]
    strongest = max(range(len(year)), key=lambda k: year[k])
    weakest = min(range(len(year)), key=lambda k: year[k])
    item = section.split("<b>year</b>")[1].split("</li>")[0]
    raises, lowers = item.split("lowers")
    assert raises.split(";")[0].startswith(f": raises topic {strongest} (+")
    assert lowers.strip().startswith(f"topic {weakest} (-")
    assert "<b>label=POLITICS</b>" in section


def test_slices_beyond_the_tables_width_are_sampled_evenly_first_and_last_kept() -> None:
    assert shown_slices(5) == [0, 1, 2, 3, 4]
    assert shown_slices(30, most=4) == [0, 10, 19, 29]
    assert shown_slices(9, most=8)[0] == 0 and shown_slices(9, most=8)[-1] == 8


def test_findings_of_an_unknown_shape_or_none_show_nothing() -> None:
    assert findings_html({}, {}) == ""
    assert findings_html({}, {"slice_top_words": "x", "covariate_effects": [1]}) == ""
    assert findings_html({}, {"covariate_effects": {"effects": {"x": []}}}) == ""
    # odd values inside a known shape (an edited artifact) cost that section, not the report
    assert findings_html({}, {"covariate_effects": {"effects": {"x": [None, "a"]}}}) == ""
    odd_slices = findings_html({}, {"slice_top_words": {"2020": [None, {"a": 1}]},
                                    "covariate_effects": {"effects": {"x": [0.5, -0.5]}}})
    assert "Topics over time" not in odd_slices and "<b>x</b>" in odd_slices


def test_shares_of_another_shape_are_read_as_none() -> None:
    assert topic_shares({"slice_topic_share": {"a": [0.5, 0.5], "b": [1.0]}}) == {}
    assert topic_shares({"slice_topic_share": {"a": ["x"]}}) == {}
    assert topic_shares({"slice_topic_share": [0.5]}) == {}
    assert topic_shares({"slice_topic_share": {"a": [0.25, 0.75]}}) == {"a": [0.25, 0.75]}


def test_findings_escape_words_and_names() -> None:
    shown = findings_html({"0": ["<b>", "a&b"]}, {
        "slice_top_words": {"<2020>": [["<i>", "w"]]},
        "covariate_effects": {"scale": "s", "reference_levels": {"f": "<x>"},
                              "effects": {"f=<y>": [0.5, -0.5]}}})
    assert "<b>" not in shown.replace("<b>f=&lt;y&gt;</b>", "")
    assert "&lt;2020&gt;" in shown and "&lt;i&gt; w" in shown and "&lt;b&gt; a&amp;b" in shown
    assert "<x>" not in shown and "f=&lt;x&gt;" in shown  # the reference level


def test_each_shown_topic_says_how_many_documents_it_holds(
        swept: tuple[str, str, list[Path]], tmp_path: Path) -> None:
    """Counted from the trial's assignments.csv as MLflow hands it out."""
    import csv
    from collections import Counter

    uri, page, _ = swept
    tracker = MlflowTracker(uri, existing=True)
    stm = next(t for t in tracker.finished_trials(EXPERIMENT) if t.model == "STM")
    table = Path(tracker.client.download_artifacts(stm.run_id, "assignments.csv", str(tmp_path)))
    rows = list(csv.DictReader(table.open(encoding="utf-8")))
    counts = Counter(int(row["topic"]) for row in rows)
    label_of = {str(r["id"]): r["label"] for r in read_jsonl(HUFFPOST_MINI)}  # the corpus's own
    words = tracker.topics(stm.run_id)
    for topic in range(5):
        shown = html.escape(" ".join(words[str(topic)][:10]))
        n = counts.get(topic, 0)
        share = "&lt;1%" if n and round(100 * n / 1000) == 0 else f"{100 * n / 1000:.0f}%"
        labels = Counter(label_of[row["doc_id"]] for row in rows if int(row["topic"]) == topic)
        (label, most), = sorted(labels.items(), key=lambda kv: (-kv[1], kv[0]))[:1]
        assert (f"{shown}</span> <i>({counted(n, 'document')}, {share}; "
                f"{100 * most / n:.0f}% {html.escape(label)})</i></li>") in page


def test_the_sweep_logs_its_labels_in_the_ground_truth_files_form(
        swept: tuple[str, str, list[Path]], tmp_path: Path) -> None:
    """{label: [doc ids]}, which a grid's `ground_truth` reads back as the same partition."""
    from tuner.data.corpus import DatasetSpec, load_corpus
    from tuner.data.ground_truth import ground_truth_from_labels, load_ground_truth
    from tuner.tracking.tracker import GROUND_TRUTH_FILE

    uri, _, _ = swept
    tracker = MlflowTracker(uri, existing=True)
    sweep = tracker.sweep_runs(EXPERIMENT)[0]
    logged = tracker.read_json(sweep.run_id, GROUND_TRUTH_FILE)
    records = read_jsonl(HUFFPOST_MINI)
    assert logged is not None and sorted(logged) == sorted({r["label"] for r in records})
    assert {d for ids in logged.values() for d in ids} == {str(r["id"]) for r in records}
    assert all(r["label"] == next(k for k, ids in logged.items() if str(r["id"]) in ids)
               for r in records[:50])
    corpus = load_corpus(DatasetSpec(HUFFPOST_MINI, "text", "id", "label", language="en"))
    path = tmp_path / "truth.json"
    path.write_text(json.dumps(logged), encoding="utf-8")
    assert load_ground_truth(path, corpus).sha256 == \
        ground_truth_from_labels(corpus.labels or [], "labels").sha256


def test_a_topic_names_the_label_most_of_its_documents_carry_matched_by_id(
        tmp_path: Path) -> None:
    """The labels come from the report's sweep, the assignments from a trial an earlier sweep
    logged in another document order: matched by document id, never by row."""
    from trainers import trainer_revision
    from tuner import trial as t
    from tuner.reporting.report import write_report_with
    from tuner.tracking.memory import MemoryTracker
    from tuner.tracking.tracker import GROUND_TRUTH_FILE

    data = t.DataRef("c.jsonl", "sha", "en", "bow", None, None, None, "label", context="ctx")
    spec = t.TrialSpec("LDA", {"num_topics": 3}, 1, data, t.MetricSettings(), "e", "k1",
                       revision=trainer_revision("LDA"), fit_key="f1", config_key="c1")
    record = t.TrialRecord(spec, t.TrialStatus.COMPLETE, {"npmi": 0.1},
                           [["a", "b"], ["c"], ["d"]], [0.1, 0.2, 0.3], [0, 0, 0, 1, 1, 2])
    tracker = MemoryTracker()
    earlier = tracker.start_sweep("e", {"tuner.context": "ctx"}, {},
                                  ["d1", "d2", "d3", "d4", "d5", "d6"])
    tracker.finish_trial(earlier, tracker.start_trial(earlier, spec), record)
    latest = tracker.start_sweep("e", {"tuner.context": "ctx"}, {},
                                 ["d6", "d5", "d4", "d3", "d2", "d1"])
    tracker.log_json(latest.run_id, GROUND_TRUTH_FILE,
                     {"x<y": ["d1", "d2"], "sport": ["d3", "d4", "d5"], "art": ["d6"]})
    page = write_report_with(tracker, "e", tmp_path).html.read_text(encoding="utf-8")
    assert "a b</span> <i>(3 documents, 50%; 67% x&lt;y)</i></li>" in page
    assert "c</span> <i>(2 documents, 33%; 100% sport)</i></li>" in page
    assert "d</span> <i>(1 document, 17%; 100% art)</i></li>" in page
    assert "lead no topic" not in page
    tracker.log_json(latest.run_id, GROUND_TRUTH_FILE,  # a tie goes to the name sorted first
                     {"b": ["d1", "d4", "d6"], "a": ["d2", "d5"], "c": ["d3"]})
    page = write_report_with(tracker, "e", tmp_path / "tie").html.read_text(encoding="utf-8")
    assert "a b</span> <i>(3 documents, 50%; 33% a)</i></li>" in page
    assert "c</span> <i>(2 documents, 33%; 50% a)</i></li>" in page
    assert ("<p>1 label of 3 leads no topic (in no topic do more documents carry them than any "
            "other label; merged into others' topics, spread over several or left in none): "
            "c.</p>") in page


def test_a_labels_share_says_how_few_are_labelled_and_outliers_labels_count(
        tmp_path: Path) -> None:
    """A ground-truth file that covers few documents: a topic's one labelled document read
    "100%" of it. And a label whose documents all went to no topic (BERTopic's outliers) was
    missing from the labels that lead no topic."""
    from trainers import trainer_revision
    from tuner import trial as t
    from tuner.reporting.report import write_report_with
    from tuner.tracking.memory import MemoryTracker
    from tuner.tracking.tracker import GROUND_TRUTH_FILE

    data = t.DataRef("c.jsonl", "sha", "en", "bow", None, None, None, "label", context="ctx")
    spec = t.TrialSpec("BERTopic", {"min_cluster_size": 10}, 1, data, t.MetricSettings(), "e",
                       "k1", revision=trainer_revision("BERTopic"), fit_key="f1",
                       config_key="c1")
    record = t.TrialRecord(spec, t.TrialStatus.COMPLETE, {"npmi": 0.1}, [["a", "b"], ["c"]],
                           [0.1, 0.2], [0, 0, 0, 0, 1, 1, -1, -1])
    tracker = MemoryTracker()
    sweep = tracker.start_sweep("e", {"tuner.context": "ctx"}, {},
                                ["d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8"])
    tracker.finish_trial(sweep, tracker.start_trial(sweep, spec), record)
    tracker.log_json(sweep.run_id, GROUND_TRUTH_FILE,
                     {"sport": ["d1"], "art": ["d5", "d6"], "lost": ["d7", "d8"]})
    page = write_report_with(tracker, "e", tmp_path).html.read_text(encoding="utf-8")
    assert "a b</span> <i>(4 documents, 50%; 100% sport of 1 labelled)</i></li>" in page
    assert "c</span> <i>(2 documents, 25%; 100% art)</i></li>" in page
    assert ("<p>1 label of 3 leads no topic (in no topic do more documents carry them than any "
            "other label; merged into others' topics, spread over several or left in none): "
            "lost.</p>") in page


def test_documents_in_no_topic_are_counted_apart(tmp_path: Path) -> None:
    from trainers import trainer_revision
    from tuner import trial as t
    from tuner.reporting.report import write_report_with
    from tuner.tracking.memory import MemoryTracker

    data = t.DataRef("c.jsonl", "sha", "en", "bow", None, None, None, "label", context="ctx")
    spec = t.TrialSpec("BERTopic", {"min_cluster_size": 10}, 1, data, t.MetricSettings(), "e",
                       "k1", revision=trainer_revision("BERTopic"), fit_key="f1",
                       config_key="c1")
    record = t.TrialRecord(spec, t.TrialStatus.COMPLETE, {"npmi": 0.1}, [["a", "b"], ["c"]],
                           [0.1, 0.2], [0, 0, 1, -1, -1, -1, 0, 1])
    tracker = MemoryTracker()
    sweep = tracker.start_sweep("e", {"tuner.context": "ctx"}, {})
    tracker.finish_trial(sweep, tracker.start_trial(sweep, spec), record)
    page = write_report_with(tracker, "e", tmp_path).html.read_text(encoding="utf-8")
    assert ("a b</span> <i>(3 documents, 38%)</i></li><li><span lang='en'>c</span> "
            "<i>(2 documents, 25%)</i>") in page
    assert ("<p>3 documents (38%) in no topic: its outliers, or documents with no word in the "
            "vocabulary.</p>") in page
    few = t.TrialRecord(dataclasses.replace(spec, key="k2", fit_key="f2", seed=2),
                        t.TrialStatus.COMPLETE, {"npmi": 0.2}, [["a", "b"], ["c"]], [0.1, 0.2],
                        [0] * 299 + [1])  # one document of 300: not "0%"
    tracker.finish_trial(sweep, tracker.start_trial(sweep, few.spec), few)
    page = write_report_with(tracker, "e", tmp_path / "few").html.read_text(encoding="utf-8")
    assert "c</span> <i>(1 document, &lt;1%)</i>" in page


def test_a_covariate_of_many_levels_lists_twenty_columns_and_counts_the_rest() -> None:
    effects = {f"author=a{i:03d}": [0.1, -0.1] for i in range(199)}
    shown = findings_html({}, {"covariate_effects": {"scale": "s", "effects": effects}})
    assert shown.count("<li><b>author=") == 20 and "<b>author=a019</b>" in shown
    assert "and 179 more columns, in the trial's extras.json" in shown


def test_the_best_grid_keeps_only_the_dataset_fields_its_model_reads(
        swept: tuple[str, str, list[Path]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
        ) -> None:
    """A best grid of BERTopic or STM kept a timestamp field (or covariates), and its re-run
    warned that no model reads them (audit of 2026-12-02)."""
    import json

    from tuner.cli import main
    from tuner.reporting.best import best_grid

    uri = swept[0]
    for metric in ("npmi", "diversity"):
        grid = best_grid(uri, EXPERIMENT, metric)
        dataset = grid["dataset"]
        if grid["models"] == ["STM"]:
            assert dataset["covariates"] == ["year", "label"] and not dataset["timestamp_field"]
        else:
            assert grid["models"] == ["DTM"] and dataset["timestamp_field"] == "timestamp"
            assert "covariates" not in dataset
        assert "embedding" not in grid  # neither model reads document embeddings
        path = tmp_path / f"best-{metric}.json"
        path.write_text(json.dumps(grid), encoding="utf-8")
        assert main(["validate", str(path)]) == 0
        assert "no model of this grid reads" not in capsys.readouterr().err


def test_shares_near_an_even_split_in_every_slice_are_said_to_show_no_trend() -> None:
    """DTM at 100 epochs kept 10 topics at 8 to 13% from 2018 to 2022, a COVID topic at 8% in
    2018, read as a trend (new-user audit of 2026-12-04); shares that rise and fall are not."""
    words = {"2018": [["a", "b"]] * 4, "2022": [["c", "d"]] * 4}
    even = {"slice_top_words": words,
            "slice_topic_share": {"2018": [0.2, 0.3, 0.25, 0.25], "2022": [0.3, 0.2, 0.3, 0.2]}}
    page = findings_html({}, even)
    assert "<i>Every topic's share stays between 20% and 30% in every slice, near an even " \
        "split of 4 topics (25% each)" in page
    moving = {"slice_top_words": words,
              "slice_topic_share": {"2018": [0.6, 0.2, 0.1, 0.1], "2022": [0.1, 0.2, 0.1, 0.6]}}
    assert "even split" not in findings_html({}, moving)
