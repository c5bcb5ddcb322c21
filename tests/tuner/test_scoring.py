"""`tuner score`: a trial's own topics and assignments, scored from files, get the trial's scores;
logged, they join the experiment's leaderboard as external:NAME; bad files are named."""

from __future__ import annotations

import csv
import dataclasses
import json
import re

import pytest

from tests.conftest import make_grid, sqlite_store
from tuner.cli import EXIT_INVALID, EXIT_OK, main


@pytest.fixture(scope="module")
def lda_trial(tmp_path_factory, small_corpus):
    """A real LDA trial on the small corpus, fitted and scored by the worker."""
    from tuner.engine.sweep import check_inputs, precompute
    from tuner.engine.worker import run_trial
    from tuner.grid import load_grid

    folder = tmp_path_factory.mktemp("score")
    grid_path = make_grid(folder, small_corpus, models=["lda"],
                          params={"num_topics": 6, "vocab_size": 1000, "max_iter": 30})
    grid = load_grid(grid_path)
    inputs = check_inputs(grid)
    prepared = precompute(grid, inputs, folder / "cache", progress=False)
    record = run_trial(prepared.trials[0])
    assert record.error is None
    return grid_path, folder / "cache", record, [str(i) for i in inputs.corpus.ids]


def write_files(folder, record, doc_ids):
    topics = folder / "topics.json"
    topics.write_text(json.dumps({f"t{i}": w for i, w in enumerate(record.topic_words)}))
    assignments = folder / "assignments.csv"
    with assignments.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "topic"])
        writer.writerows((d, f"t{t}" if t >= 0 else -1)
                         for d, t in zip(doc_ids, record.assignments, strict=True))
    return topics, assignments


def test_scores_equal_the_trials_own(tmp_path, lda_trial, capsys):
    grid_path, cache, record, doc_ids = lda_trial
    topics, assignments = write_files(tmp_path, record, doc_ids)
    code = main(["score", str(grid_path), str(topics), "--assignments", str(assignments),
                 "--cache-dir", str(cache)])
    printed = dict(line.split("\t") for line in capsys.readouterr().out.splitlines())
    assert code == EXIT_OK
    for metric in ("npmi", "diversity", "ari", "f1", "tq", "inverted_rbo"):
        assert float(printed[metric]) == pytest.approx(record.metrics[metric], abs=1e-4)


def test_topics_alone_get_the_topic_metrics_only(tmp_path, lda_trial, capsys):
    grid_path, cache, record, doc_ids = lda_trial
    topics, _ = write_files(tmp_path, record, doc_ids)
    assert main(["score", str(grid_path), str(topics), "--cache-dir", str(cache)]) == EXIT_OK
    printed = dict(line.split("\t") for line in capsys.readouterr().out.splitlines())
    assert float(printed["npmi"]) == pytest.approx(record.metrics["npmi"], abs=1e-4)
    assert "ari" not in printed and "outlier_share" not in printed
    assert "effective_topics" not in printed  # no assignments: no topic sizes to judge


def test_logged_score_joins_the_experiment_leaderboard(tmp_path, lda_trial):
    from tuner.reporting.leaderboard import leaderboard
    from tuner.tracking.tracker import GROUND_TRUTH_FILE, MlflowTracker

    grid_path, cache, record, doc_ids = lda_trial
    topics, assignments = write_files(tmp_path, record, doc_ids)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"  # a store `score --log` makes
    code = main(["score", str(grid_path), str(topics), "--assignments", str(assignments),
                 "--cache-dir", str(cache), "--log", "--name", "mallet", "--tracking-uri", uri])
    tracker = MlflowTracker(uri)
    board = leaderboard(tracker, "test", "npmi")
    assert code == EXIT_OK
    assert [(e.model, round(e.metrics["npmi"], 4)) for e in board] == [
        ("external:mallet", round(record.metrics["npmi"], 4))]
    # the labels its assignments were scored against, for the report's label per topic
    truth = tracker.read_json(tracker.sweep_runs("test")[0].run_id, GROUND_TRUTH_FILE)
    assert truth is not None and sorted(d for ids in truth.values() for d in ids) == \
        sorted(doc_ids)


def test_the_same_score_is_logged_once(tmp_path, lda_trial, capsys):
    """Logged twice, it counted as two seeds with sd 0 (audit of 2026-12-01)."""
    from tuner.reporting.leaderboard import leaderboard
    from tuner.tracking.tracker import MlflowTracker

    grid_path, cache, record, doc_ids = lda_trial
    topics, assignments = write_files(tmp_path, record, doc_ids)
    uri = sqlite_store(tmp_path / "mlflow.db")
    command = ["score", str(grid_path), str(topics), "--assignments", str(assignments),
               "--cache-dir", str(cache), "--log", "--name", "twice", "--tracking-uri", uri]
    assert main(command) == EXIT_OK
    first = re.search(r"logged as run (\w+)", capsys.readouterr().out)
    assert main(command) == EXIT_OK
    again = capsys.readouterr().out
    assert first is not None and f"already logged, not again: see run {first.group(1)}" in again
    board = leaderboard(MlflowTracker(uri), "test", "npmi")
    assert [len(entry.trials) for entry in board] == [1]


@pytest.mark.parametrize(("topics", "rows", "message"), [
    ({"a": []}, None, r"topics.json: topic a: expects a non-empty list of words"),
    ("words", None, r"topics.json: expects a list of word lists or an object"),
    ({"a": ["x", "y"]}, [["id", "topic"], ["DOC0", "b"]],
     r"assignments.csv: line 2: topic: expects -1 or a topic id of the topics file \(a\.\.\.\); "
     r"got 'b'"),
    ({"a": ["x", "y"]}, [["id", "topic"], ["DOC0", "a"]],
     r"assignments.csv: id: expects every document id of the dataset exactly once; \d+ missing"),
    ({"a": ["x", "y"]}, [["doc", "cluster"]], r"assignments.csv: expects a CSV with header "
                                              r"columns id,topic"),
])
def test_bad_files_name_the_file_the_field_and_what_is_allowed(tmp_path, lda_trial, capsys,
                                                              topics, rows, message):
    grid_path, cache, _, doc_ids = lda_trial
    topics_path = tmp_path / "topics.json"
    topics_path.write_text(json.dumps(topics))
    extra = []
    if rows is not None:
        path = tmp_path / "assignments.csv"
        with path.open("w", newline="") as handle:
            csv.writer(handle).writerows([[doc_ids[0] if c == "DOC0" else c for c in row]
                                          for row in rows])
        extra = ["--assignments", str(path)]
    code = main(["score", str(grid_path), str(topics_path), "--cache-dir", str(cache), *extra])
    assert code == EXIT_INVALID
    assert re.search(message, capsys.readouterr().err)


@pytest.mark.parametrize(("text", "message"), [
    ('{"a": [' + "9" * 5000 + "]}", "a number has too many digits"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
])
def test_a_topics_file_past_pythons_json_limits_is_a_data_error(tmp_path, text, message):
    from tuner.errors import DataError
    from tuner.scoring import load_topics

    path = tmp_path / "topics.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        load_topics(path)


def test_words_outside_the_vocabulary_are_named_not_silently_dropped(tmp_path, lda_trial, capsys):
    grid_path, cache, record, _ = lda_trial
    topics = tmp_path / "topics.json"
    words = [list(w) for w in record.topic_words]
    words[1][2] = "zzunknownword"
    topics.write_text(json.dumps(words))
    assert main(["score", str(grid_path), str(topics), "--cache-dir", str(cache)]) == EXIT_OK
    captured = capsys.readouterr()
    assert re.search(r"warning: 1 top words of 1 topic are .*topic 1: zzunknownword\)",
                     captured.err)
    clean = tmp_path / "clean.json"
    clean.write_text(json.dumps(record.topic_words))
    assert main(["score", str(grid_path), str(clean), "--cache-dir", str(cache)]) == EXIT_OK
    assert "warning" not in capsys.readouterr().err


def test_a_topic_npmi_cannot_score_leaves_the_others_scored(tmp_path, lda_trial, capsys):
    """One topic of stop words (no pair of its words in the vocabulary) took NPMI and TQ from
    every topic (user audit of 2026-12-04); it is left out of their mean, and said."""
    grid_path, cache, record, _ = lda_trial
    kept = tmp_path / "kept.json"
    kept.write_text(json.dumps(record.topic_words[1:]))
    assert main(["score", str(grid_path), str(kept), "--cache-dir", str(cache)]) == EXIT_OK
    alone = dict(line.split("\t") for line in capsys.readouterr().out.splitlines())
    topics = tmp_path / "topics.json"
    topics.write_text(json.dumps([["the", "and", "of", record.topic_words[0][0]],
                                  *record.topic_words[1:]]))
    assert main(["score", str(grid_path), str(topics), "--cache-dir", str(cache)]) == EXIT_OK
    captured = capsys.readouterr()
    printed = dict(line.split("\t") for line in captured.out.splitlines())
    assert float(printed["npmi"]) == pytest.approx(float(alone["npmi"]), abs=1e-9)
    assert float(printed["tq"]) == pytest.approx(float(printed["npmi"])
                                                 * float(printed["diversity"]), abs=1e-4)
    assert ("warning: 1 of 6 topics have fewer than 2 top words in the grid's vocabulary, so "
            "NPMI (and TQ) is the mean over the others: topic 0") in captured.err
    assert "npmi not computed" not in captured.err


def test_another_tools_capitalised_words_are_scored_as_the_tokeniser_writes_them(
        tmp_path, lda_trial, capsys):
    """"NBA", "iPhone" and "Trump" from another tool were left out of NPMI as unknown words
    though the lower-cased vocabulary held them (audit of 2026-12-02), and so was "#politics";
    and a warning counted six words while it listed five."""
    grid_path, cache, record, doc_ids = lda_trial
    shouted = [[w.upper() if i % 2 else f"#{w.title()}," for i, w in enumerate(words)]
               for words in record.topic_words]  # hashtags too (social-post audit)
    topics, assignments = write_files(tmp_path, dataclasses.replace(
        record, topic_words=shouted), doc_ids)
    assert main(["score", str(grid_path), str(topics), "--assignments", str(assignments),
                 "--cache-dir", str(cache)]) == EXIT_OK
    captured = capsys.readouterr()
    assert "warning" not in captured.err
    printed = dict(line.split("\t") for line in captured.out.splitlines())
    assert float(printed["npmi"]) == pytest.approx(record.metrics["npmi"], abs=1e-4)
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps([[f"zz{i}" for i in range(7)] + record.topic_words[0]]))
    assert main(["score", str(grid_path), str(unknown), "--cache-dir", str(cache)]) == EXIT_OK
    assert "(topic 0: zz0, zz1, zz2, zz3, zz4 and 2 more)" in capsys.readouterr().err


def test_topics_shorter_than_the_diversity_depth_are_warned_of(tmp_path, lda_trial, capsys):
    grid_path, cache, record, _ = lda_trial
    topics = tmp_path / "topics.json"
    topics.write_text(json.dumps([words[:10] for words in record.topic_words]))
    assert main(["score", str(grid_path), str(topics), "--cache-dir", str(cache)]) == EXIT_OK
    assert f"warning: {len(record.topic_words)} of {len(record.topic_words)} topics hold 10 " \
        "words, fewer than diversity_topn (25)" in capsys.readouterr().err


def test_words_of_a_topic_that_read_as_one_word_are_said_to_be_counted_once(
        tmp_path, lda_trial, capsys):
    """"#科技#" and "科技" in one topic were one word, unsaid (user audit of 2026-12-03)."""
    grid_path, cache, record, _ = lda_trial
    topics = tmp_path / "topics.json"
    words = [list(w) for w in record.topic_words]
    first = words[1][0]
    words[1] = [first, f"#{first}", *words[1][1:]]
    topics.write_text(json.dumps(words))
    assert main(["score", str(grid_path), str(topics), "--cache-dir", str(cache)]) == EXIT_OK
    assert f"are counted once: topic 1: '{first}' and '#{first}'" in capsys.readouterr().err


def test_a_topic_repeating_a_word_is_refused(tmp_path, lda_trial, capsys):
    """A repeated word pairs with itself at NPMI 1: five words twice scored 0.195 against 0.095
    once (audit of 2026-12-01)."""
    grid_path, cache, record, _ = lda_trial
    topics = tmp_path / "topics.json"
    words = [list(w) for w in record.topic_words]
    words[2] = words[2][:5] * 2
    topics.write_text(json.dumps(words))
    assert main(["score", str(grid_path), str(topics), "--cache-dir", str(cache)]) == EXIT_INVALID
    assert f"{topics}: topic 2: expects each word once; repeated: " in capsys.readouterr().err


def test_a_document_listed_twice_in_the_assignments_is_refused(tmp_path, lda_trial, capsys):
    grid_path, cache, record, doc_ids = lda_trial
    topics, assignments = write_files(tmp_path, record, doc_ids)
    with assignments.open("a", newline="") as handle:
        csv.writer(handle).writerow([doc_ids[0], "t1"])
    code = main(["score", str(grid_path), str(topics), "--assignments", str(assignments),
                 "--cache-dir", str(cache)])
    assert code == EXIT_INVALID
    assert (f"{assignments}: line {len(doc_ids) + 2}: id: expects every document id once; "
            f"'{doc_ids[0]}' is listed again") in capsys.readouterr().err


def test_documents_left_out_of_the_assignments_are_named_in_their_column(tmp_path, lda_trial,
                                                                         capsys):
    """It named the column "id" in a doc_id file, and added "0 not in the dataset (first: [])"."""
    grid_path, cache, record, doc_ids = lda_trial
    topics, assignments = write_files(tmp_path, record, doc_ids)
    rows = assignments.read_text(encoding="utf-8").splitlines()
    assignments.write_text("\n".join(["doc_id,topic", *rows[1:-2]]) + "\n", encoding="utf-8")
    code = main(["score", str(grid_path), str(topics), "--assignments", str(assignments),
                 "--cache-dir", str(cache)])
    assert code == EXIT_INVALID
    err = capsys.readouterr().err
    assert (f"{assignments}: doc_id: expects every document id of the dataset exactly once; "
            f"2 missing (first: {[doc_ids[-2], doc_ids[-1]]})") in err
    assert "not in the dataset" not in err


def test_best_passes_over_a_logged_external_model(tmp_path, lda_trial, small_corpus, caplog):
    """`tuner best` crashed with KeyError: 'dataset' once a `tuner score --log` model ranked
    first: it has no sweep of tuner's to rebuild and no trainer to re-run (audit of
    2026-12-01)."""
    from tests.conftest import read_jsonl
    from tuner.reporting.best import best_grid

    grid_path, cache, record, doc_ids = lda_trial
    labels = {str(r["id"]): r["label"] for r in read_jsonl(small_corpus)}
    names = sorted(set(labels.values()))
    topics = tmp_path / "topics.json"  # one topic per label: the truth itself, ARI 1
    topics.write_text(json.dumps({name: record.topic_words[i % len(record.topic_words)]
                                  for i, name in enumerate(names)}))
    assignments = tmp_path / "assignments.csv"
    with assignments.open("w", newline="") as handle:
        csv.writer(handle).writerows([["id", "topic"], *([d, labels[d]] for d in doc_ids)])
    uri = sqlite_store(tmp_path / "mlflow.db")
    assert main(["run", str(grid_path), "--tracking-uri", uri, "--cache-dir", str(cache),
                 "--max-workers", "1", "--quiet"]) == EXIT_OK
    assert main(["score", str(grid_path), str(topics), "--assignments", str(assignments),
                 "--cache-dir", str(cache), "--log", "--name", "truth",
                 "--tracking-uri", uri]) == EXIT_OK
    grid = best_grid(uri, "test", "ari")
    assert grid["models"] == ["LDA"] and grid["params"]["num_topics"] == 6
    assert "external:truth, scored with `tuner score`: it cannot be re-run" in caplog.text


def test_a_score_logged_again_after_a_relabelling_joins_the_new_rankings(tmp_path, lda_trial,
                                                                         small_corpus, capsys):
    """Topics without assignments kept the key they had before the labels changed, so the
    second `--log` said "already logged" and the model never came back to the rankings, which
    read the new labels' trials only (audit of 2026-12-01)."""
    from tuner.reporting.leaderboard import leaderboard
    from tuner.tracking.tracker import MlflowTracker

    _, _, record, doc_ids = lda_trial
    rows = [json.loads(line) for line in small_corpus.read_text().splitlines()]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows))
    grid = make_grid(tmp_path, corpus, models=["lda"], params={"num_topics": 6})
    topics, _ = write_files(tmp_path, record, doc_ids)
    uri = sqlite_store(tmp_path / "mlflow.db")
    command = ["score", str(grid), str(topics), "--cache-dir", str(tmp_path / "cache"), "--log",
               "--name", "ext", "--tracking-uri", uri]
    assert main(command) == EXIT_OK
    first = re.search(r"logged as run (\w+)", capsys.readouterr().out)
    rows[0]["label"] = "a label no other document has"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(command) == EXIT_OK
    second = re.search(r"logged as run (\w+)", capsys.readouterr().out)
    assert first is not None and second is not None and first.group(1) != second.group(1)
    board = leaderboard(MlflowTracker(uri), "test", "npmi")
    assert [(e.model, [t.run_id for t in e.trials]) for e in board] == [
        ("external:ext", [second.group(1)])]


def test_a_score_logged_before_the_context_was_in_its_key_is_found(tmp_path, lda_trial):
    """Runs logged by `tuner score --log` before 2026-12-01 carry the key without the context;
    on the same data (the same context tag) they are the same score, not a second seed."""
    from dataclasses import replace

    from tuner.scoring import log_score, score_external
    from tuner.tracking.tracker import MlflowTracker
    from tuner.trial import TrialRecord, TrialStatus

    grid_path, cache, record, doc_ids = lda_trial
    topics, _ = write_files(tmp_path, record, doc_ids)
    score = score_external(grid_path, topics, None, cache, "old")
    uri = sqlite_store(tmp_path / "mlflow.db")
    tracker = MlflowTracker(uri)
    sweep = tracker.start_sweep(score.spec.experiment, {}, {})
    earlier = replace(score.spec, key=score.earlier_key, config_key=score.earlier_key)
    logged = tracker.log_trial(sweep, TrialRecord(earlier, TrialStatus.COMPLETE, score.metrics,
                                                  score.output.topic_words))
    assert score.earlier_key != score.spec.key
    assert log_score(score, uri) == (logged, False)
