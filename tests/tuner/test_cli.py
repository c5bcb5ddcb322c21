"""CLI exit codes and messages."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import dataset_path, make_grid, read_jsonl, sqlite_store, write_jsonl
from tuner.cli import exit_code, main
from tuner.errors import GridError, SweepAbortedError, SweepLockedError, TrackingError


def test_invalid_grid_exits_2_with_one_line_per_problem(tmp_path, small_corpus, capsys):
    path = make_grid(tmp_path, small_corpus, models=["lda"], params={"num_topics": [500],
                                                                    "lda.nope": 1})
    assert main(["run", str(path), "--tracking-uri", f"sqlite:///{tmp_path}/m.db"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2
    assert "params.num_topics[0]: LDA expects an int in 5-100; got 500" in lines[0] + lines[1]
    assert not (tmp_path / "m.db").exists()  # nothing logged


def test_debug_prints_the_traceback_and_keeps_the_exit_code(tmp_path, small_corpus, capsys):
    """--debug re-raised the error: every documented code became 1, a failed trial's (ops
    audit of 2026-12-03)."""
    path = make_grid(tmp_path, small_corpus, models=["lda"], params={"num_topics": [500]})
    assert main(["--debug", "validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "error: " in err


def test_max_workers_zero_is_invalid(tmp_path, small_corpus, capsys):
    path = make_grid(tmp_path, small_corpus)
    assert main(["run", str(path), "--max-workers", "0"]) == 2
    assert "--max-workers expects an int >= 1; got 0" in capsys.readouterr().err


def test_more_workers_than_the_cores_can_take_are_refused(tmp_path, small_corpus, capsys):
    """`--max-workers 100000` forked 225 workers on 2 cores and no trial started in 10 minutes
    (regression audit of 2026-12-03)."""
    from tuner.devices import MAX_WORKERS_PER_CORE, usable_cores

    path = make_grid(tmp_path, small_corpus)
    limit = MAX_WORKERS_PER_CORE * usable_cores()
    assert main(["run", str(path), "--max-workers", str(limit + 1)]) == 2
    assert f"--max-workers expects an int in 1-{limit} on this machine" in \
        capsys.readouterr().err


def test_a_sweep_starts_no_more_workers_than_it_has_trials(tmp_path, small_corpus, capsys):
    """Trials that merge count once: alpha null is 1/K = 0.2 at K=5 ("1 trial, 2 workers";
    trust audit of 2026-12-04)."""
    path = make_grid(tmp_path, small_corpus, params={"num_topics": 5, "vocab_size": 1000,
                                                     "lda.max_iter": 10,
                                                     "lda.alpha": [None, 0.2]})
    assert main(["run", str(path), "--tracking-uri", sqlite_store(tmp_path / "m.db"),
                 "--cache-dir", str(tmp_path / "cache"), "--max-workers", "4"]) == 0
    assert "1 trial, 1 worker\n" in capsys.readouterr().out


def test_a_folder_corpus_and_a_list_of_text_fields_run_in_the_workers(tmp_path, ng_records,
                                                                      capsys):
    """A worker reads the corpus again and checks its hash: read otherwise than the parent read
    it (one text field for two, a folder as a file), every trial would fail."""
    folder = tmp_path / "posts"
    rows = []
    for n, r in enumerate(ng_records[:200]):
        title, _, body = r["text"].partition("\n")
        rows.append({"id": n, "title": title, "body": body, "label": r["label"]})
        (folder / r["label"]).mkdir(parents=True, exist_ok=True)
        (folder / r["label"] / f"{n}.txt").write_text(r["text"], encoding="utf-8")
    table = tmp_path / "posts.tsv"
    pd.DataFrame(rows).to_csv(table, sep="\t", index=False)
    for name, dataset in [("folder", {"path": str(folder)}),
                          ("fields", {"path": str(table), "text_field": ["title", "body"]})]:
        path = make_grid(tmp_path / name, table, experiment=name, dataset=dataset)
        assert main(["run", str(path), "--tracking-uri", sqlite_store(tmp_path / "m.db"),
                     "--cache-dir", str(tmp_path / "cache"), "--max-workers", "1"]) == 0
        assert "1 completed, 0 failed" in capsys.readouterr().out


def test_too_many_trials(tmp_path, small_corpus, capsys):
    path = make_grid(tmp_path, small_corpus, params={"num_topics": list(range(5, 30))})
    assert main(["validate", str(path), "--max-trials", "10"]) == 2
    assert "expands to 25 trials, more than --max-trials 10" in capsys.readouterr().err


def test_validate_reports_the_trial_count(tmp_path, small_corpus, capsys):
    path = make_grid(tmp_path, small_corpus, params={"num_topics": [5, 10]}, seeds=[1, 2])
    assert main(["validate", str(path)]) == 0
    assert "valid; 4 trials over 400 documents" in capsys.readouterr().out


def test_validate_refuses_a_corpus_that_keeps_no_word_as_the_run_does(tmp_path, capsys):
    """`tuner validate` said valid, then `tuner run` refused the corpus (user audit of
    2026-12-03): numbers and symbols only."""
    rows = [{"id": str(i), "text": f"{i * 7} + {i} = {i * 8} !!", "label": str(i % 2)}
            for i in range(40)]
    path = make_grid(tmp_path, write_jsonl(tmp_path / "numbers.jsonl", rows),
                     params={"num_topics": 5})
    assert main(["validate", str(path)]) == 2
    assert "numbers.jsonl: no document holds a word once tokenised as en" in \
        capsys.readouterr().err


def test_validate_warns_of_more_topics_than_documents(tmp_path, small_corpus, capsys):
    """Valid but likely a mistake: said on stderr before any trial, and the grid still runs."""
    rows = small_corpus.read_text(encoding="utf-8").splitlines()[:30]
    corpus = tmp_path / "thirty.jsonl"
    corpus.write_text("\n".join(rows) + "\n", encoding="utf-8")
    path = make_grid(tmp_path, corpus, params={"num_topics": 50})
    assert main(["validate", str(path)]) == 0
    assert "params.num_topics: 50 topics for 30 documents" in capsys.readouterr().err


def test_validate_counts_equivalent_combinations_once(tmp_path, small_corpus, capsys):
    """alpha null is 1/K = 0.2 at K=5: three combinations, two trials, per seed."""
    path = make_grid(tmp_path, small_corpus, params={"num_topics": 5, "vocab_size": 1000,
                                                     "lda.alpha": [None, 0.2, 0.5]},
                     seeds=[1, 2])
    assert main(["validate", str(path)]) == 0
    assert "valid; 4 trials (2 equivalent trials merged) over 400 documents" in \
        capsys.readouterr().out


def test_validate_counts_one_trial_for_a_fit_that_reads_no_seed(tmp_path, small_corpus,
                                                                capsys):
    """STM's spectral start over three seeds is one trial; its random start is three."""
    path = make_grid(tmp_path, small_corpus, models=["stm"], seeds=[1, 2, 3],
                     params={"num_topics": 5, "vocab_size": 1000,
                             "stm.init": ["spectral", "random"]})
    assert main(["validate", str(path)]) == 0
    assert "valid; 4 trials (2 equivalent trials merged)" in capsys.readouterr().out


def test_bertopic_top_n_words_changes_no_trial(tmp_path, small_corpus, capsys):
    """tuner's topics come from the c-TF-IDF weights, so top_n_words 5, 10 and 20 ran three
    identical trials (audit of 2026-12-01)."""
    path = make_grid(tmp_path, small_corpus, models=["bertopic"],
                     params={"bertopic.top_n_words": [5, 10, 20]})
    assert main(["validate", str(path)]) == 0
    assert "valid; 1 trial (2 equivalent trials merged)" in capsys.readouterr().out


def test_offline_embedding_model_is_a_clear_input_error(tmp_path, small_corpus, capsys,
                                                         monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = make_grid(tmp_path, small_corpus, models=["bertopic"], params={},
                     embedding={"model": "Qwen/Qwen3-Embedding-0.6B", "pooling": "last_token"})
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: embedding.model: embedding model 'Qwen/Qwen3-Embedding-0.6B' is not in " \
        "the local Hugging Face cache" in err  # the file and the field, as every other error
    assert "offline" in err and "`hf download Qwen/Qwen3-Embedding-0.6B" in err
    assert (Path(sys.executable).parent / "hf").is_file()  # the command it names is installed
    # and what would embed here instead (new-user audit of 2026-12-03)
    assert "usable offline: sentence-transformers/all-MiniLM-L6-v2 (carried by tuner" in err


def test_an_offline_default_embedding_model_names_the_model_whose_default_it_is(
        tmp_path, small_corpus, capsys, monkeypatch):
    """A THETA grid with no embedding section was told "embedding.model: embedding model
    'Qwen/Qwen3-Embedding-0.6B' is not in the local Hugging Face cache", of a field it never set
    (defaults audit of 2026-12-05)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = make_grid(tmp_path, small_corpus, models=["theta"], params={})
    grid = json.loads(path.read_text(encoding="utf-8"))
    del grid["embedding"]
    path.write_text(json.dumps(grid), encoding="utf-8")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: embedding.model (not set: the default of THETA, which names " \
        "'Qwen/Qwen3-Embedding-0.6B'): embedding model 'Qwen/Qwen3-Embedding-0.6B' is not in " \
        "the local Hugging Face cache" in err


@pytest.mark.parametrize("model", ["lda", "ProdLDA", "bertopic"])
def test_params_prints_the_schema(model, capsys):
    assert main(["params", model]) == 0
    out = capsys.readouterr().out
    assert "| num_topics | int |" in out


def test_params_prints_the_grid_sections_from_their_schemas(capsys):
    assert main(["params", "--grid"]) == 0
    out = capsys.readouterr().out
    assert "### preprocessing" in out and "| max_df | float | 0.7 | (0, 1] |" in out
    assert "| seeds | list | [42] |" in out and "| timeout_s | float | null | >0 or null |" in out


def test_unknown_model_for_params(capsys):
    assert main(["params", "nosuch"]) == 2
    assert "unknown model 'nosuch'" in capsys.readouterr().err
    assert main(["params", "bertopik"]) == 2
    assert "unknown model 'bertopik'; did you mean 'BERTopic'?" in capsys.readouterr().err


def test_demo_grid_is_valid(capsys):
    from tests.conftest import REPO

    assert json.loads((REPO / "grids" / "demo.json").read_text())["experiment"] == "20ng-demo"
    assert main(["validate", str(REPO / "grids" / "demo.json")]) == 0


def dated_records(count=40):
    from tests.conftest import dataset_path, read_jsonl

    return read_jsonl(dataset_path("huffpost-mini"))[:count]


def test_dtm_without_timestamp_field_is_invalid(tmp_path, capsys):
    from tests.conftest import write_jsonl

    corpus = write_jsonl(tmp_path / "dated.jsonl", dated_records())
    path = make_grid(tmp_path, corpus, models=["lda", "dtm"], params={"num_topics": 5})
    assert main(["validate", str(path)]) == 2
    assert "dataset.timestamp_field: DTM needs timestamps (ISO dates" in capsys.readouterr().err


def test_unparseable_timestamp_is_invalid_before_any_trial(tmp_path, capsys):
    from tests.conftest import write_jsonl

    records = dated_records()
    records[7]["timestamp"] = "last Tuesday"
    corpus = write_jsonl(tmp_path / "dated.jsonl", records)
    dataset = {"path": str(corpus), "label_field": "label", "timestamp_field": "timestamp"}
    path = make_grid(tmp_path, corpus, models=["dtm"], params={"num_topics": 5},
                     dataset=dataset)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "dataset.timestamp_field 'timestamp': expects ISO dates" in err
    assert "shaped 'aaaa aaaaaaa'" in err and "Tuesday" not in err


@pytest.mark.parametrize(("params", "message"), [
    ({"theta.kl_warmup": 60, "theta.epochs": 50}, "THETA requires kl_warmup <= epochs; got "
                                                  "kl_warmup=60, epochs=50"),
    ({"theta.kl_start": 0.9, "theta.kl_end": 0.5}, "THETA requires kl_start <= kl_end"),
])
def test_theta_cross_field_rules(tmp_path, small_corpus, params, message, capsys):
    path = make_grid(tmp_path, small_corpus, models=["theta"], params=params)
    assert main(["validate", str(path)]) == 2
    assert message in capsys.readouterr().err


def test_secrets_are_never_logged_as_params():
    from tuner.tracking.tracker import _is_secret

    assert _is_secret("db_password") and _is_secret("API_TOKEN") and not _is_secret("epochs")


@pytest.mark.parametrize(("option", "value"), [
    ("--trial-timeout", "-5"), ("--trial-timeout", "nan"), ("--trial-timeout", "inf"),
    ("--max-memory", "0"), ("--max-memory", "lots"),
])
def test_limits_must_be_positive_finite_numbers(tmp_path, small_corpus, capsys, option, value):
    path = make_grid(tmp_path, small_corpus)
    with pytest.raises(SystemExit) as stop:
        main(["run", str(path), option, value])
    assert stop.value.code == 2
    assert f"argument {option}: expects a finite number > 0; got '{value}'" in \
        capsys.readouterr().err


def test_max_trials_must_be_positive(tmp_path, small_corpus, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["validate", str(make_grid(tmp_path, small_corpus)), "--max-trials", "0"])
    assert stop.value.code == 2
    assert "argument --max-trials: expects an int >= 1; got '0'" in capsys.readouterr().err


def test_threads_per_worker_must_be_positive(tmp_path, small_corpus, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["run", str(make_grid(tmp_path, small_corpus)), "--threads-per-worker", "0"])
    assert stop.value.code == 2
    assert "argument --threads-per-worker: expects an int >= 1; got '0'" in \
        capsys.readouterr().err


def test_a_store_failure_after_trials_started_exits_4(tmp_path, small_corpus, capsys,
                                                      monkeypatch):
    from tests.tuner.store_breaker import STORE_VARIABLE
    from trainers import EXTRA_VARIABLE

    store = tmp_path / "mlflow.db"
    monkeypatch.setenv(EXTRA_VARIABLE, "StoreBreaker=tests.tuner.store_breaker:StoreBreakerTrainer")
    monkeypatch.setenv(STORE_VARIABLE, str(store))
    path = make_grid(tmp_path, small_corpus, models=["storebreaker"],
                     params={"num_topics": 5, "vocab_size": 1000})
    code = main(["run", str(path), "--tracking-uri", f"sqlite:///{store}", "--cache-dir",
                 str(tmp_path / "cache"), "--quiet", "--max-workers", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 4
    assert err[-1].startswith("error: experiment 'test': the sweep stopped after trials had "
                              "started: ")
    # how many results wait in the journal (a warning per result said so before; ops audit)
    assert err[-1].endswith("; the results of 1 finished trial that the store refused are kept "
                            "in the journal under the cache folder, and the experiment's next "
                            "sweep logs them")


def test_a_store_file_moved_away_mid_sweep_is_said(tmp_path, small_corpus, capsys, caplog,
                                                    monkeypatch):
    """SQLite's words for a file moved away are "attempt to write a readonly database", and the
    KILLED sweep run's warning was SQLAlchemy's five lines (concurrency audit of 2026-12-05)."""
    from tests.tuner.store_breaker import MOVE_VARIABLE, STORE_VARIABLE
    from trainers import EXTRA_VARIABLE

    store = tmp_path / "mlflow.db"
    monkeypatch.setenv(EXTRA_VARIABLE, "StoreBreaker=tests.tuner.store_breaker:StoreBreakerTrainer")
    monkeypatch.setenv(STORE_VARIABLE, str(store))
    monkeypatch.setenv(MOVE_VARIABLE, "1")
    path = make_grid(tmp_path, small_corpus, models=["storebreaker"],
                     params={"num_topics": [5, 6], "vocab_size": 1000})
    code = main(["run", str(path), "--tracking-uri", f"sqlite:///{store}", "--cache-dir",
                 str(tmp_path / "cache"), "--quiet", "--max-workers", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 4
    assert (f"the tracking store's file {store} is gone: it was moved or deleted while the "
            "sweep ran; put it back") in err[-1]
    killed = [r.getMessage() for r in caplog.records
              if r.getMessage().startswith("could not end sweep run")]
    assert killed and all(line.endswith("attempt to write a readonly database")
                          for line in killed), killed


@pytest.mark.parametrize(("error", "code"), [
    (GridError(["grid.json: seeds: expects ..."]), 2),
    (TrackingError("MLflow tracking store x cannot be used"), 2),
    (SweepLockedError("experiment 'x': another sweep holds it"), 3),
    (SweepAbortedError("experiment 'x': the sweep stopped after trials had started"), 4),
])
def test_exit_code_says_whether_trials_had_started(error, code):
    assert exit_code(error) == code


def test_threads_per_worker_reaches_each_fit(tmp_path, small_corpus, monkeypatch):
    from mlflow.tracking import MlflowClient

    from tests.conftest import REPO

    monkeypatch.setenv("TUNER_TRAINERS", "Threads=tests.plugins:ThreadsTrainer")
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    grid = make_grid(tmp_path, small_corpus, experiment="threads", models=["threads"],
                     params={"num_topics": 5, "vocab_size": 1000})
    store = sqlite_store(tmp_path / "mlflow.db")
    assert main(["run", str(grid), "--max-workers", "1", "--threads-per-worker", "3", "--quiet",
                 "--cache-dir", str(tmp_path / "cache"), "--tracking-uri", store]) == 0
    client = MlflowClient(store)
    runs = client.search_runs([client.get_experiment_by_name("threads").experiment_id],
                              "metrics.fit_threads >= 0")
    assert [r.data.metrics["fit_threads"] for r in runs] == [3.0]
    assert runs[0].data.tags["tuner.threads"] == "3"  # logged for every model, by the worker


def test_run_counts_progress_over_the_merged_trials(tmp_path, small_corpus, capsys):
    path = make_grid(tmp_path, small_corpus, params={"num_topics": 5, "vocab_size": 1000,
                                                     "lda.max_iter": 10,
                                                     "lda.alpha": [None, 0.2]})
    assert main(["run", str(path), "--tracking-uri", sqlite_store(tmp_path / "m.db"),
                 "--cache-dir", str(tmp_path / "cache"), "--max-workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "1 trial, 1 worker\n" in out and "1 completed" in out
    # where it caches and logs, said first (fresh-clone audit of 2026-12-03)
    assert out.splitlines()[0] == (f"cache {(tmp_path / 'cache').resolve()}, tracking "
                                   f"sqlite:///{tmp_path / 'm.db'}")


def test_run_says_when_its_store_is_new(tmp_path, small_corpus, capsys):
    """A mistyped --tracking-uri made a new store and ran every trial again, unsaid
    (concurrency audit of 2026-12-05)."""
    path = make_grid(tmp_path, small_corpus, params={"num_topics": 5, "vocab_size": 1000,
                                                     "lda.max_iter": 10})
    uri = f"sqlite:///{tmp_path / 'typo_dir' / 'mlfow.db'}"
    command = ["run", str(path), "--tracking-uri", uri, "--cache-dir", str(tmp_path / "cache"),
               "--max-workers", "1", "--quiet"]
    assert main(command) == 0
    assert capsys.readouterr().out.splitlines()[0].endswith(
        "mlfow.db (a new store: no trial has finished there yet, so every trial runs)")
    assert main(command) == 0  # the same store again: not new
    assert capsys.readouterr().out.splitlines()[0].endswith("mlfow.db")


def test_params_shows_the_seed_range_a_grid_is_checked_against(capsys):
    """It said "any value" while validation refused seeds of 2**32 and more."""
    assert main(["params", "bertopic"]) == 0
    assert "| random_state | int | 42 | 0-4294967295 |" in capsys.readouterr().out


def test_validate_warns_when_documents_outgrow_the_embedding_window(tmp_path, ng_records,
                                                                   capsys):
    """UN speeches (median 2,659 words) were cut to their first 256 tokens, silently."""
    rows = [{**r, "text": " ".join([r["text"]] * 40)} for r in ng_records[::50][:40]]
    corpus = tmp_path / "long.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    for models, warned in ((["bertopic"], True), (["lda"], False)):
        path = make_grid(tmp_path, corpus, models=models, params={"num_topics": 5})
        assert main(["validate", str(path)]) == 0
        assert ("only a document's first 128 tokens are embedded" in capsys.readouterr().err) \
            is warned


def test_the_window_advice_names_the_models_limit_and_a_longer_window_is_refused(
        tmp_path, ng_records, capsys):
    """The advice said "up to the model's limit" without the limit; a user who raised max_length
    to 4096 passed validate and met a traceback from inside the model in the first trial
    (audit of 2026-12-01). MiniLM reads at most 512 tokens, and was trained on 256: "up to 512"
    made a user's embeddings worse and slower (new-user audit of 2026-12-05)."""
    rows = [{**r, "text": " ".join([r["text"]] * 40)} for r in ng_records[::50][:40]]
    corpus = tmp_path / "long.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    path = make_grid(tmp_path, corpus, models=["bertopic"], params={"num_topics": 5})
    assert main(["validate", str(path)]) == 0
    assert re.search(r"if topics live past the start, raise max_length, up to 256 for this model "
                     r"\(then \d+% of the text\), or set embedding.long_documents to \"chunks\"",
                     capsys.readouterr().err)
    grid = json.loads(path.read_text())
    grid["embedding"]["max_length"] = 512
    path.write_text(json.dumps(grid))
    assert main(["validate", str(path)]) == 0  # it runs, said to be past its training
    assert (f"{path}: embedding.max_length: 512 is past the 256 tokens "
            f"{grid['embedding']['model']} was trained to embed" in capsys.readouterr().err)
    grid["embedding"]["max_length"] = 4096
    path.write_text(json.dumps(grid))
    assert main(["validate", str(path)]) == 2
    assert (f"{path}: embedding.max_length: 4096 is more than "
            f"'{grid['embedding']['model']}' reads; allowed: 8 to 512 tokens for this model"
            in capsys.readouterr().err)


def test_last_token_pooling_on_an_absolute_position_encoder_is_warned_of(tmp_path,
                                                                         small_corpus, capsys):
    """Left padding moved MiniLM's positions: a document's vector depended on its batch
    (audit of 2026-12-01)."""
    path = make_grid(tmp_path, small_corpus, models=["bertopic"], params={"num_topics": 5})
    grid = json.loads(path.read_text())
    grid["embedding"]["pooling"] = "last_token"
    path.write_text(json.dumps(grid))
    assert main(["validate", str(path)]) == 0
    assert (f"{path}: embedding.pooling: last_token on '{grid['embedding']['model']}' (bert): "
            "it pads on the left, which moves this model's positions, so a document's vector "
            "depends on its batch; use mean or cls") in capsys.readouterr().err


def test_validate_on_chinese_articles_and_an_english_model_names_the_language_not_the_window(
        tmp_path, capsys):
    """Chinese has no spaces: counted by spaces, no Chinese article was ever warned of (audit of
    2026-12-01), and then MiniLM's window was (THUCNews articles hold about 680 of its tokens at
    the median). But MiniLM makes most of them [UNK], and a wider window or windows embed
    unknown tokens alike: validate says to name a model that reads Chinese (Chinese audit of
    2026-12-05)."""
    corpus = dataset_path("thucnews-mini")
    dataset = {"path": str(corpus), "text_field": "text", "id_field": "id",
               "label_field": "label", "language": "zh"}
    path = make_grid(tmp_path, corpus, dataset=dataset, models=["bertopic"],
                     params={"num_topics": 5})
    assert main(["validate", str(path)]) == 0
    err = capsys.readouterr().err
    assert re.search(r"embedding.model: '[^']+' does not know \d+% of this corpus's tokens", err)
    assert "embedding.max_length:" not in err


def test_validate_warns_of_dtm_year_slices_on_a_corpus_of_one_year(tmp_path, capsys):
    from tests.conftest import write_jsonl

    rows = [{**r, "timestamp": "2021-03-04"} for r in dated_records()]
    corpus = write_jsonl(tmp_path / "one-year.jsonl", rows)
    dataset = {"path": str(corpus), "text_field": "text", "id_field": "id",
               "label_field": "label", "timestamp_field": "timestamp", "language": "en"}
    path = make_grid(tmp_path, corpus, dataset=dataset, models=["dtm"], params={"num_topics": 5})
    assert main(["validate", str(path)]) == 0
    assert "params.time_slices: every document is dated 2021, so 'year' gives DTM one time " \
        "slice" in capsys.readouterr().err


def test_a_missing_date_is_called_missing(tmp_path, capsys):
    """A null timestamp was reported as the unparseable value '' (audit of 2026-12-01)."""
    from tests.conftest import write_jsonl

    rows = [{**r, "timestamp": None if i % 6 == 0 else r["timestamp"]}
            for i, r in enumerate(dated_records())]
    corpus = write_jsonl(tmp_path / "gaps.jsonl", rows)
    dataset = {"path": str(corpus), "text_field": "text", "id_field": "id",
               "label_field": "label", "timestamp_field": "timestamp", "language": "en"}
    path = make_grid(tmp_path, corpus, dataset=dataset, models=["dtm"], params={"num_topics": 5})
    assert main(["validate", str(path)]) == 2
    assert (f"dataset.timestamp_field 'timestamp': every document needs a date; 7 of 40 have "
            f"none (null or empty), e.g. document '{rows[0]['id']}'") in capsys.readouterr().err


def test_validate_warns_of_dates_of_mixed_precision_under_bins(tmp_path, capsys):
    """1985 beside 1985-06-01: the year reads as 1 January, and 'bins:3' split 1985's speeches
    between two slices by how their dates were written (new-user audit of 2026-12-02)."""
    from tests.conftest import write_jsonl

    rows = [{**r, "timestamp": r["timestamp"][:4] if i % 4 == 0 else r["timestamp"]}
            for i, r in enumerate(dated_records())]
    corpus = write_jsonl(tmp_path / "mixed.jsonl", rows)
    dataset = {"path": str(corpus), "text_field": "text", "id_field": "id",
               "label_field": "label", "timestamp_field": "timestamp", "language": "en"}
    tpe = {"strategy": "tpe", "n_trials": 4}  # its plan shows the default, 'year'
    for rule, search, warned in (("bins:3", None, True), ("year", None, False),
                                 (["year", "bins:3"], tpe, True)):
        path = make_grid(tmp_path, corpus, dataset=dataset, models=["dtm"],
                         params={"num_topics": 5, "time_slices": rule}, search=search)
        assert main(["validate", str(path)]) == 0
        assert ("dataset.timestamp_field: the documents' dates differ in precision (30 a full "
                "date, 10 a year alone); a year alone reads as its 1 January"
                in capsys.readouterr().err) is warned


def test_validate_warns_of_more_dtm_bins_than_dates(tmp_path, capsys):
    from tests.conftest import write_jsonl

    rows = [{**r, "timestamp": f"2022-09-2{3 + i % 2}"}
            for i, r in enumerate(dated_records(100))]  # under 100 documents: warned of too
    corpus = write_jsonl(tmp_path / "two-days.jsonl", rows)
    dataset = {"path": str(corpus), "text_field": "text", "id_field": "id",
               "label_field": None, "timestamp_field": "timestamp", "language": "en"}
    path = make_grid(tmp_path, corpus, dataset=dataset, models=["dtm"],
                     params={"num_topics": 5, "time_slices": ["bins:2", "bins:6"]})
    assert main(["validate", str(path)]) == 0
    err = capsys.readouterr().err  # beside DTM's epochs and its 100 documents, warned of too
    assert (f"warning: {path}: params.time_slices: 'bins:6' on documents of 2 distinct dates: "
            "some slices hold one date, whose documents are split between slices by their order "
            "in the file; use at most 'bins:2'\n") in err
    assert err.count("params.time_slices") == 1  # not bins:2


def test_settings_that_need_more_documents_than_the_corpus_has_are_invalid(tmp_path, capsys):
    """k-means with 30 clusters of 12 documents, and 'bins:50' of 12, validated and then failed
    in every trial (audit of 2026-12-01)."""
    from tests.conftest import write_jsonl

    corpus = write_jsonl(tmp_path / "twelve.jsonl", dated_records(12))
    dataset = {"path": str(corpus), "text_field": "text", "id_field": "id",
               "label_field": "label", "timestamp_field": "timestamp", "language": "en"}
    for search in (None, {"strategy": "tpe", "n_trials": 4}):  # TPE plans cache probes only
        path = make_grid(tmp_path, corpus, dataset=dataset, models=["bertopic", "dtm"],
                         params={"num_topics": [30], "bertopic.clustering": "kmeans",
                                 "dtm.time_slices": ["year", "bins:50"]}, search=search)
        assert main(["validate", str(path)]) == 2
        err = capsys.readouterr().err
        assert f"{path}: params.num_topics[0]: BERTopic with k-means makes 30 clusters of 12 " \
               "documents; allowed: up to 12" in err
        # the key and item the grid wrote (it said params.time_slices; new-user audit)
        assert f"{path}: params.dtm.time_slices[1]: 'bins:50' makes more slices than the 12 " \
               "documents; allowed: bins:2 to bins:12" in err


def test_an_hdbscan_cluster_size_over_half_the_documents_is_invalid(tmp_path, capsys):
    """min_cluster_size 200 on 300 UN speeches validated, then every BERTopic trial failed
    with every document an outlier (new-user audit of 2026-12-05): HDBSCAN needs two clusters
    of that size. A list is judged by its largest value, a range by its smallest."""
    from tests.conftest import write_jsonl

    corpus = write_jsonl(tmp_path / "twelve.jsonl", dated_records(12))
    for params, refused in (({"min_cluster_size": [5, 7]}, "params.min_cluster_size[1]: "),
                            ({"min_cluster_size": {"low": 7, "high": 20}}, "params.min_cluster_"
                                                                           "size: "),
                            ({"min_cluster_size": [3, 6]}, None)):
        search = {"strategy": "tpe", "n_trials": 4} if "low" in str(params) else None
        path = make_grid(tmp_path, corpus, models=["bertopic"], search=search,
                         params={"num_topics": 5, **params})
        assert main(["validate", str(path)]) == (0 if refused is None else 2)
        err = capsys.readouterr().err
        if refused is not None:
            assert f"{path}: {refused}" in err and "BERTopic's HDBSCAN finds clusters of 7 " \
                "documents or more, and needs two of them: the 12 documents hold one at most, " \
                "so every document would be an outlier; allowed: up to 6" in err, err
    # BERTopic clusters the documents with text (review of 2026-12-05)
    rows = [{**r, "text": " "} if i < 4 else r for i, r in enumerate(dated_records(12))]
    path = make_grid(tmp_path, write_jsonl(tmp_path / "blank.jsonl", rows), models=["bertopic"],
                     params={"num_topics": 5, "min_cluster_size": 5})
    assert main(["validate", str(path)]) == 2
    assert "the 8 documents with text hold one at most, so every document would be an " \
        "outlier; allowed: up to 4" in capsys.readouterr().err
    # a random search: only the draws that cluster with HDBSCAN
    path = make_grid(tmp_path, corpus, models=["bertopic"],
                     search={"strategy": "random", "n_trials": 6},
                     params={"num_topics": 5, "min_cluster_size": [3, 9],
                             "clustering": ["kmeans"]})
    assert main(["validate", str(path)]) == 0, capsys.readouterr().err


def test_validate_warns_of_stm_covariates_that_are_not_categories(tmp_path, capsys):
    """A URL as a covariate validated and ran with 1,499 levels for 1,500 headlines; a year
    written as a string is a category (audit of 2026-12-01)."""
    from tests.conftest import write_jsonl

    rows = [{**r, "url": f"https://example.org/{r['id']}", "year": str(2000 + i % 3)}
            for i, r in enumerate(dated_records())]
    corpus = write_jsonl(tmp_path / "covariates.jsonl", rows)
    dataset = {"path": str(corpus), "text_field": "text", "id_field": "id",
               "label_field": "label", "language": "en", "covariates": ["url", "year"]}
    path = make_grid(tmp_path, corpus, dataset=dataset, models=["stm"], params={"num_topics": 5})
    assert main(["validate", str(path)]) == 0
    err = capsys.readouterr().err
    assert "dataset.covariates 'url': 40 distinct values for 40 documents" in err
    assert "dataset.covariates 'year': numbers written as strings (\"1970\" rather than " \
        "1970) are categories" in err
    assert "2000" not in err  # the file's own values stay out of what is logged
    assert "'year': 3 distinct" not in err


def test_validate_warns_of_a_covariate_mixing_numbers_and_text(tmp_path, capsys):
    from tests.conftest import write_jsonl

    rows = [{**r, "group": [1, "1", 2.0][i % 3]} for i, r in enumerate(dated_records())]
    dataset = {"path": str(write_jsonl(tmp_path / "c.jsonl", rows)), "covariates": ["group"]}
    path = make_grid(tmp_path, tmp_path / "c.jsonl", dataset=dataset, models=["stm"],
                     params={"num_topics": 5})
    assert main(["validate", str(path)]) == 0
    assert "'group': 27 of 40 values are numbers and the rest text, so the field is a " \
        "category" in capsys.readouterr().err


def test_validate_warns_of_covariates_the_labels_determine_or_that_never_vary(tmp_path,
                                                                              capsys):
    """The label field as STM's covariate gave ARI 0.79 against 0.07 with a constant one, and
    neither was warned of (audit of 2026-12-02)."""
    from tests.conftest import write_jsonl

    rows = [{**r, "politics": r["label"] == "POLITICS", "source": "huffpost", "half": i % 2,
             "desk": f"{r['label']}-{i % 2}" if r["label"] == "POLITICS" else r["label"]}
            for i, r in enumerate(dated_records(400))]
    seen: dict[str, int] = {}
    for row in rows:  # two documents a writer, each writer under one label, as countries under
        seen[row["label"]] = seen.get(row["label"], 0) + 1  # continents (new-user audit)
        row["writer"] = f"{row['label']}-{seen[row['label']] // 2}"
    dataset = {"path": str(write_jsonl(tmp_path / "c.jsonl", rows)), "label_field": "label",
               "covariates": ["label", "politics", "source", "half", "desk", "writer"]}
    path = make_grid(tmp_path, tmp_path / "c.jsonl", dataset=dataset, models=["stm"],
                     params={"num_topics": 5})
    assert main(["validate", str(path)]) == 0
    err = capsys.readouterr().err
    for determined in ("label", "politics"):
        assert f"dataset.covariates '{determined}': the labels determine it (each label has " \
            "one value of it), so STM fits topic prevalence on the labels" in err
    assert "dataset.covariates 'source': every document has the same value, so STM fits no " \
        "effect for it" in err
    assert "'half': the labels" not in err and "'half': every" not in err
    # a level under one label each (a desk within a section), few enough to be categories
    for determining in ("desk", "writer"):
        assert (f"dataset.covariates '{determining}': it determines the labels (each of its "
                "values has one label") in err


def test_validate_says_which_dataset_fields_no_model_reads_and_which_numbers_overflow(
        tmp_path, capsys):
    from tests.conftest import write_jsonl

    rows = [{**r, "huge": 1e200 * (i % 3)} for i, r in enumerate(dated_records())]
    dataset = {"path": str(write_jsonl(tmp_path / "c.jsonl", rows)), "covariates": ["huge"],
               "timestamp_field": "timestamp"}
    lda = make_grid(tmp_path, tmp_path / "c.jsonl", dataset=dataset, params={"num_topics": 5})
    assert main(["validate", str(lda)]) == 0
    err = capsys.readouterr().err
    assert "dataset.covariates: no model of this grid reads them (STM does)" in err
    assert "dataset.timestamp_field: no model of this grid reads it (DTM does)" in err
    stm = make_grid(tmp_path, tmp_path / "c.jsonl", dataset=dataset, models=["stm"],
                    params={"num_topics": 5})
    assert main(["validate", str(stm)]) == 0
    err = capsys.readouterr().err
    assert "dataset.covariates 'huge': values reach 2e+200; beyond 1e+150 their squares " \
        "overflow" in err
    assert "no model of this grid reads them" not in err


def test_null_covariates_are_none(tmp_path, capsys):
    from tests.conftest import write_jsonl

    dataset = {"path": str(write_jsonl(tmp_path / "c.jsonl", dated_records())),
               "covariates": None}
    path = make_grid(tmp_path, tmp_path / "c.jsonl", dataset=dataset, models=["stm"],
                     params={"num_topics": 5})
    assert main(["validate", str(path)]) == 0, capsys.readouterr().err


def test_a_covariate_of_numbers_and_booleans_is_called_that(tmp_path, capsys):
    from tests.conftest import write_jsonl

    rows = [{**r, "flag": [True, 0, 1][i % 3]} for i, r in enumerate(dated_records())]
    dataset = {"path": str(write_jsonl(tmp_path / "c.jsonl", rows)), "covariates": ["flag"]}
    path = make_grid(tmp_path, tmp_path / "c.jsonl", dataset=dataset, models=["stm"],
                     params={"num_topics": 5})
    assert main(["validate", str(path)]) == 0
    assert "'flag': 26 of 40 values are numbers and the rest true or false" in \
        capsys.readouterr().err


def test_a_covariate_holding_objects_is_refused(tmp_path, capsys):
    from tests.conftest import write_jsonl

    rows = [{**r, "meta": {"src": "x", "n": i % 2}} for i, r in enumerate(dated_records())]
    dataset = {"path": str(write_jsonl(tmp_path / "c.jsonl", rows)), "covariates": ["meta"]}
    path = make_grid(tmp_path, tmp_path / "c.jsonl", dataset=dataset, models=["stm"],
                     params={"num_topics": 5})
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "dataset.covariates[0] 'meta': 40 of 40 records hold a list or an object" in err
    assert "src" not in err


def test_a_numeric_covariate_in_a_csv_is_told_to_come_as_jsonl(tmp_path, capsys):
    import pandas as pd

    rows = [{**r, "year": 2000 + i % 3} for i, r in enumerate(dated_records())]
    pd.DataFrame(rows).to_csv(tmp_path / "c.csv", index=False)
    dataset = {"path": str(tmp_path / "c.csv"), "covariates": ["year"]}
    path = make_grid(tmp_path, tmp_path / "c.csv", dataset=dataset, models=["stm"],
                     params={"num_topics": 5})
    assert main(["validate", str(path)]) == 0
    assert "to use them as a number, a CSV file holds only text: give it as JSONL or Parquet" \
        in capsys.readouterr().err


def test_run_warns_of_collapsed_fits_and_logs_and_marks_them(tmp_path, small_corpus,
                                                             monkeypatch, capsys):
    """GSM left 14 of 20 topics without a document on toutiao headlines (audit of 2026-12-01):
    said at the end of `tuner run`, on stderr alone, which a cron job's log buries; and the
    leaderboard's row looked like any other (audit of 2026-12-02)."""
    from mlflow.tracking import MlflowClient

    from tests.conftest import REPO
    from tuner.tracking.tags import WARNINGS_TAG
    from tuner.tracking.tracker import WARNINGS_FILE

    monkeypatch.setenv("TUNER_TRAINERS", "Lumpy=tests.plugins:LumpyTrainer")
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    grid = make_grid(tmp_path, small_corpus, experiment="lumpy", models=["lumpy", "lda"],
                     params={"num_topics": 5, "vocab_size": 1000, "lda.max_iter": 10})
    store = sqlite_store(tmp_path / "mlflow.db")
    assert main(["run", str(grid), "--max-workers", "1", "--quiet",
                 "--cache-dir", str(tmp_path / "cache"), "--tracking-uri", store]) == 0
    captured = capsys.readouterr()
    assert "warning: 1 trial gave their documents to fewer than half their topics or most of " \
        "them to a few, found one topic, or found fewer than half the topics asked for " \
        "(Lumpy#seed=1: 1 of 5)" in captured.err
    rows = {line.split()[1]: line for line in captured.out.splitlines()
            if line[:2].strip().isdigit()}
    assert rows["Lumpy"].endswith("  collapsed") and not rows["LDA"].endswith("collapsed")
    client = MlflowClient(store)
    (sweep,) = client.search_runs([client.get_experiment_by_name("lumpy").experiment_id],
                                  "tags.`tuner.role` = 'sweep'")
    logged = json.loads(open(client.download_artifacts(sweep.info.run_id, WARNINGS_FILE,
                                                       str(tmp_path))).read())
    assert logged["after_trials"] == [captured.err.split("warning: ")[-1].strip()]
    assert sweep.data.tags[WARNINGS_TAG] == str(len(logged["warnings"]) + 1)
    assert main(["report", "lumpy", "--tracking-uri", store, "--out", str(tmp_path / "r")]) == 0
    page = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert "<li><b>collapsed</b>: its documents went to fewer than half its topics" in page
    assert page.count("<td>collapsed</td>") == 1
    assert "<p>At its end, the ranked trials' own figures (its and earlier sweeps' on the " \
        "same data) said:</p><ul class='warnings'><li>1 trial " \
        "gave their documents to fewer than half their topics" in page
    assert "<summary>How to read these numbers</summary>" in page  # npmi below 0 on headlines
    # the words scored, not the 10 listed: diversity of 0.6 read as of the lists (report audit)
    assert "each topic's top 10 words occur together" in page
    assert "among all topics' top 25 words (the lists below show 10)" in page


def test_run_names_a_trial_by_what_the_grid_varies(tmp_path, small_corpus, capsys):
    """Every parameter, in name order, was cut to 70 characters: the FAILED lines of BERTopic's
    min_cluster_size and reduce_outliers read alike, and the collapsed-fit warning listed three
    of four without saying so (audit of 2026-12-01)."""
    from tuner.cli import _RunView
    from tuner.engine.sweep import check_inputs, precompute
    from tuner.grid import load_grid
    from tuner.trial import TrialRecord, TrialStatus

    grid = load_grid(make_grid(tmp_path, small_corpus, models=["nvdm"],
                               params={"num_topics": 20, "vocab_size": 1000,
                                       "num_layers": [1, 2], "dropout": [0.1, 0.2]}))
    prepared = precompute(grid, check_inputs(grid), tmp_path / "cache", progress=False)
    view = _RunView(4, None, bar=False)  # type: ignore[arg-type]
    view.swept = grid.swept()
    for trial in prepared.trials:
        view.finished(TrialRecord(trial, TrialStatus.COMPLETE, {
            "topics_used": 2.0, "num_topics_found": 20.0}))
    lines = capsys.readouterr().out.splitlines()
    assert sorted(line.split()[1] for line in lines) == [
        f"NVDM[num_layers={n},dropout={d}]#seed=1" for n in (1, 2) for d in (0.1, 0.2)]


PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                   "ALL_PROXY", "no_proxy", "NO_PROXY")


def _listening_then_closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_store_of_an_unknown_scheme_is_a_clear_input_error(tmp_path, small_corpus, capsys):
    """It was a raw MLflow traceback with exit 1 ("a trial failed"; audit of 2026-12-01). An
    unreachable server: tests/tuner/test_reliability.py."""
    grid = make_grid(tmp_path, small_corpus)
    code = main(["run", str(grid), "--tracking-uri", "bogus://x", "--cache-dir",
                 str(tmp_path / "c"), "--quiet"])
    assert code == 2
    errors = [line for line in capsys.readouterr().err.splitlines()
              if not line.startswith("warning: ")]  # the corpus's own advice comes first
    assert errors[0].startswith("error: MLflow tracking store bogus://x cannot be used: 'bogus' "
                                "is not a store's scheme")


@pytest.mark.parametrize("command", [["best", "test"], ["report", "test"]])
def test_a_reading_command_does_not_create_a_store(tmp_path, capsys, command):
    """`tuner best` and `tuner report` with a mistyped store made an empty one there."""
    database = tmp_path / "mlruns" / "mlflow.db"
    code = main([*command, "--tracking-uri", f"sqlite:///{database}"])
    assert code == 2
    assert f"no MLflow store at {database}" in capsys.readouterr().err
    assert not database.parent.exists()


def test_theta_supervised_without_labels_is_invalid_before_any_trial(tmp_path, small_corpus,
                                                                    capsys):
    """It validated, computed the embeddings, then failed every trial (audit of 2026-12-01)."""
    data = {"path": str(small_corpus), "label_field": None}
    supervised = make_grid(tmp_path, small_corpus, dataset=data, models=["theta"],
                           params={"theta.mode": ["zero_shot", "supervised"]})
    assert main(["validate", str(supervised)]) == 2
    assert "THETA with mode=supervised needs labels" in capsys.readouterr().err
    zero_shot = make_grid(tmp_path, small_corpus, dataset=data, models=["theta"],
                          params={"theta.mode": "zero_shot"})
    assert main(["validate", str(zero_shot)]) == 0


def test_ranking_or_searching_by_a_label_metric_without_labels_is_invalid(tmp_path,
                                                                         small_corpus, capsys):
    """A search by ARI on a corpus without labels validated, ran every trial, told TPE nothing
    and ranked nothing (search audit of 2026-12-02)."""
    data = {"path": str(small_corpus), "label_field": None}
    searched = make_grid(tmp_path, small_corpus, dataset=data,
                         params={"num_topics": 5, "lda.alpha": {"low": 0.01, "high": 1.0}},
                         search={"strategy": "tpe", "n_trials": 2, "metrics": ["npmi", "f1"]},
                         leaderboard_metric="ari")
    assert main(["validate", str(searched)]) == 2
    err = capsys.readouterr().err
    assert f"{searched}: leaderboard_metric: ari is scored against the documents' labels, and " \
           "the dataset has none (dataset.label_field and ground_truth are not set)" in err
    assert f"{searched}: search.metrics: f1 is scored against" in err
    by_npmi = make_grid(tmp_path, small_corpus, dataset=data, params={"num_topics": 5},
                        leaderboard_metric="npmi")
    assert main(["validate", str(by_npmi)]) == 0


def test_one_class_or_no_pair_of_a_class_is_invalid(tmp_path, small_corpus, capsys):
    """One class scored collapsed fits ARI, NMI and F1 1.0 (they topped the leaderboard); and
    THETA supervised with one document a class trained nothing, cached as "supervised" (audit
    of 2026-12-01)."""
    from tests.conftest import read_jsonl, write_jsonl

    rows = read_jsonl(small_corpus)[:40]
    one = write_jsonl(tmp_path / "one.jsonl", [{**r, "label": "politics"} for r in rows])
    assert main(["validate", str(make_grid(tmp_path, one))]) == 2
    assert f"{one}: dataset.label_field 'label': puts every scored document in one class, and " \
           "ARI, NMI and F1 need two classes or more" in capsys.readouterr().err
    topics = tmp_path / "topics.json"  # scoring topics alone reads no label: not refused
    topics.write_text(json.dumps({"a": ["space", "nasa"], "b": ["god", "church"]}))
    assert main(["score", str(make_grid(tmp_path, one)), str(topics), "--cache-dir",
                 str(tmp_path / "cache")]) == 0
    alone = write_jsonl(tmp_path / "alone.jsonl", [{**r, "label": f"c{i}"}
                                                   for i, r in enumerate(rows)])
    supervised = make_grid(tmp_path, alone, models=["theta"],
                           params={"theta.mode": ["zero_shot", "supervised"]})
    assert main(["validate", str(supervised)]) == 2
    assert "THETA with mode=supervised needs two labelled documents of one class at least" \
        in capsys.readouterr().err
    assert main(["validate", str(make_grid(tmp_path, alone, models=["lda"]))]) == 0


def test_a_label_field_without_any_label_is_invalid(tmp_path, small_corpus, capsys):
    """Every label null: the sweep ranked by ARI, which no trial had, and printed an empty
    leaderboard (audit of 2026-12-01)."""
    from tests.conftest import read_jsonl, write_jsonl

    rows = [{**r, "label": None} for r in read_jsonl(small_corpus)[:60]]
    path = make_grid(tmp_path, write_jsonl(tmp_path / "c.jsonl", rows))
    assert main(["validate", str(path)]) == 2
    assert "dataset.label_field 'label': no document has a label" in capsys.readouterr().err


def test_labels_that_differ_only_in_case_are_warned_of(tmp_path, small_corpus, capsys):
    from tests.conftest import read_jsonl, write_jsonl

    rows = read_jsonl(small_corpus)
    rows = [{**r, "label": r["label"].upper() if i % 2 else r["label"]}
            for i, r in enumerate(rows)]
    path = make_grid(tmp_path, write_jsonl(tmp_path / "c.jsonl", rows))
    assert main(["validate", str(path)]) == 0
    err = capsys.readouterr().err
    assert f"{path}: dataset.label_field 'label': labels that differ only in case are classes " \
           "of their own ('ALT.ATHEISM' and 'alt.atheism', " in err
    assert "and 17 more); write each class one way if they are one" in err


def test_a_corpus_of_few_documents_is_warned_of_by_validate(tmp_path, small_corpus, capsys):
    """Only `tuner init` said that 40 documents are few for a topic model (new-user audit of
    2026-12-04)."""
    from tests.conftest import read_jsonl, write_jsonl

    path = make_grid(tmp_path, write_jsonl(tmp_path / "c.jsonl", read_jsonl(small_corpus)[:40]))
    assert main(["validate", str(path)]) == 0
    assert f"{path}: dataset.path: a topic model needs many documents (hundreds or more) and " \
        "this corpus has 40" in capsys.readouterr().err


def test_labels_that_mix_codes_and_names_are_warned_of(tmp_path, small_corpus, capsys):
    """A CSV whose category was "0" to "4" in 30% of its rows and the five names in the rest
    scored LDA's ARI 0.55 against 0.82 with the names alone, unsaid (new-user audit of
    2026-12-04)."""
    from tests.conftest import read_jsonl, write_jsonl

    rows = read_jsonl(small_corpus)
    groups = sorted({r["label"] for r in rows})
    rows = [{**r, "label": str(groups.index(r["label"])) if i % 3 == 0 else r["label"]}
            for i, r in enumerate(rows)]
    path = make_grid(tmp_path, write_jsonl(tmp_path / "c.jsonl", rows))
    assert main(["validate", str(path)]) == 0
    err = capsys.readouterr().err
    assert f"{path}: dataset.label_field 'label': labels mix numbers and names: 20 (" in err
    assert "if the numbers code the names, write each class one way" in err
    years = [{**r, "label": "1970" if i % 2 else "1980"} for i, r in enumerate(rows)]
    assert main(["validate", str(make_grid(tmp_path, write_jsonl(tmp_path / "y.jsonl",
                                                                  years)))]) == 0
    assert "mix numbers and names" not in capsys.readouterr().err  # numbers alone
    from tuner.engine.advice import mixed_codes_said

    names = {"sport": 50, "tech": 50}
    assert mixed_codes_said({**names, "nan": 10, "inf": 10}) is None  # no codes (review)
    assert mixed_codes_said({**names, "0": 10, "1.0": 10}) is not None


def test_a_ground_truth_of_nearly_one_class_is_warned_of(tmp_path, small_corpus, capsys):
    """499 documents of "sport" and 1 of "other" validated, and the sweep ranked ARI 0.0003
    above -0.0005 (new-user audit of 2026-12-04)."""
    from tests.conftest import read_jsonl

    ids = [r["id"] for r in read_jsonl(small_corpus)]
    truth = tmp_path / "truth.json"
    truth.write_text(json.dumps({"sport": ids[1:], "other": ids[:1]}), encoding="utf-8")
    path = make_grid(tmp_path, small_corpus, ground_truth=str(truth))
    assert main(["validate", str(path)]) == 0
    assert f"{path}: ground_truth: one class, 'sport', holds {(len(ids) - 1) / len(ids):.0%} " \
        f"of the {len(ids)} labelled documents, so ARI, NMI and F1 are near 0 for any fit" \
        in capsys.readouterr().err


def test_a_ground_truth_for_more_documents_than_the_corpus_is_read_for_those_it_holds(
        tmp_path, small_corpus, capsys):
    """The labels of a whole dataset beside a sample of it were refused for one id the sample
    lacks (new-user audit of 2026-12-04); a file none of whose ids is in the corpus still is."""
    from tests.conftest import read_jsonl

    rows = read_jsonl(small_corpus)
    truth = tmp_path / "truth.json"
    truth.write_text(json.dumps({**{r["id"]: r["label"] for r in rows},
                                 "nonexistent/999": "sport"}), encoding="utf-8")
    path = make_grid(tmp_path, small_corpus, ground_truth=str(truth))
    assert main(["validate", str(path)]) == 0
    assert f"{path}: ground_truth: 1 document id of the file is not in the corpus (e.g. " \
        "nonexistent/999); left out" in capsys.readouterr().err
    truth.write_text(json.dumps({"nonexistent/999": "sport"}), encoding="utf-8")
    assert main(["validate", str(path)]) == 2
    assert "1 document id is not in the corpus" in capsys.readouterr().err
    # record numbers match any numbered file: another dataset's 5,000 labels beside 400
    # numbered documents validated (review of 2026-12-04)
    numbered = make_grid(tmp_path, small_corpus, ground_truth=str(truth), dataset={
        "path": str(small_corpus), "text_field": "text", "id_field": None, "label_field": None,
        "language": "en"})
    truth.write_text(json.dumps({str(i): "ab"[i % 2] for i in range(5000)}), encoding="utf-8")
    assert main(["validate", str(numbered)]) == 2
    assert "4,600 document ids are not in the corpus" in capsys.readouterr().err
    truth.write_text(json.dumps({str(i): "ab"[i % 2] for i in range(400)}), encoding="utf-8")
    assert main(["validate", str(numbered)]) == 2  # numbered from 0: one record off
    assert "its records are numbered 1 to 400 (no id_field)" in capsys.readouterr().err
    # a sample's own short numeric ids beside its whole dataset's labels: read (review)
    from tests.conftest import write_jsonl

    sample = write_jsonl(tmp_path / "sample.jsonl",
                         [{**r, "id": str(3 * n)} for n, r in enumerate(rows)])
    truth.write_text(json.dumps({str(i): "ab"[i % 2] for i in range(5000)}), encoding="utf-8")
    assert main(["validate", str(make_grid(tmp_path, sample, ground_truth=str(truth)))]) == 0
    assert "4,600 document ids of the file are not in the corpus" in capsys.readouterr().err


def test_a_label_missing_from_some_records_names_what_to_do(tmp_path, small_corpus, capsys):
    from tests.conftest import read_jsonl, write_jsonl

    rows = [{k: v for k, v in r.items() if k != "label" or i % 2}
            for i, r in enumerate(read_jsonl(small_corpus)[:60])]
    path = make_grid(tmp_path, write_jsonl(tmp_path / "c.jsonl", rows))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "'label' is missing from 30 of 60 records; the first such record has the fields " \
           "id, split, text; a record may give the label null" in err


def test_min_df_above_what_max_df_allows_is_invalid(tmp_path, small_corpus, capsys):
    """It validated, then the run stopped on an empty vocabulary without naming the field."""
    from tests.conftest import read_jsonl, write_jsonl

    corpus = write_jsonl(tmp_path / "c.jsonl", read_jsonl(small_corpus)[:40])
    path = make_grid(tmp_path, corpus, preprocessing={"min_df": 50})
    assert main(["validate", str(path)]) == 2
    assert "preprocessing.min_df: 50 documents is more than max_df 0.7 of the corpus's 40 " \
           "documents allows (28)" in capsys.readouterr().err


@pytest.mark.parametrize("rows", ["0", "-1"])
def test_leaderboard_rows_must_be_positive(tmp_path, small_corpus, capsys, rows):
    path = make_grid(tmp_path, small_corpus)
    with pytest.raises(SystemExit) as stop:
        main(["run", str(path), "--leaderboard", rows])
    assert stop.value.code == 2
    assert f"--leaderboard: expects an int >= 1; got '{rows}'" in capsys.readouterr().err


def test_a_leaderboard_cut_short_says_how_many_rows_it_left_out(tmp_path, small_corpus,
                                                               capsys):
    """The default 10 rows cut 2 of 12 models' configurations without a word (audit of
    2026-12-01)."""
    path = make_grid(tmp_path, small_corpus, experiment="cut short",
                     params={"num_topics": [5, 6, 7], "vocab_size": 1000, "lda.max_iter": 10})
    assert main(["run", str(path), "--leaderboard", "2", "--max-workers", "1", "--quiet",
                 "--tracking-uri", sqlite_store(tmp_path / "mlflow.db"),
                 "--cache-dir", str(tmp_path / "cache")]) == 0
    printed = capsys.readouterr()
    assert "... and 1 more configuration (--leaderboard 3 shows every one; `tuner report " \
           f"'cut short' --tracking-uri sqlite:///{tmp_path}/mlflow.db` too)" in printed.out
    assert "next:" not in printed.err  # --quiet
    assert main(["run", str(path), "--max-workers", "1", "--tracking-uri",
                 sqlite_store(tmp_path / "mlflow.db"), "--cache-dir", str(tmp_path / "cache")]) == 0
    printed = capsys.readouterr()  # what to do with the board, said where scripts do not read
    store = f" --tracking-uri sqlite:///{tmp_path}/mlflow.db"
    assert (f"next: `tuner report 'cut short'{store}` (each configuration's topics, with plots), "
            f"`tuner best 'cut short'{store}` (a grid of the best), `tuner ui 'cut short'{store}` "
            "(MLflow's compare view)") in printed.err
    assert "next:" not in printed.out


def test_a_store_behind_a_proxy_is_not_probed_directly(monkeypatch):
    """MLflow's client goes through HTTP(S)_PROXY; a direct connection to a store only the
    proxy reaches failed every command (review of 2026-12-01)."""
    from tuner.tracking.tracker import _check_reachable

    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    closed = f"http://127.0.0.1:{_listening_then_closed_port()}"
    with pytest.raises(TrackingError, match="cannot be reached"):
        _check_reachable(closed)
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("NO_PROXY", "")
    _check_reachable(closed)  # the proxy's business: MLflow's own retries and errors apply
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with pytest.raises(TrackingError, match="cannot be reached"):
        _check_reachable(closed)


def test_a_conditional_requirement_reads_what_the_trials_may_take():
    """A random search is judged by its draws, a TPE range by what it holds, a list by its
    values, an unset parameter by its default (review of 2026-12-01)."""
    from trainers import load_trainer
    from tuner.engine.search import Range
    from tuner.engine.sweep import _may_take
    from tuner.grid import ModelSweep

    schema = load_trainer("THETA").params
    drawn = ModelSweep("THETA", schema, {"mode": ["zero_shot", "supervised"]},
                       sampled=({"mode": "zero_shot"}, {"mode": "unsupervised"}))
    assert not _may_take(drawn, "mode", "supervised")
    assert _may_take(ModelSweep("THETA", schema, {"mode": ["supervised"]}), "mode",
                     "supervised")
    assert not _may_take(ModelSweep("THETA", schema, {}), "mode", "supervised")  # zero_shot
    assert _may_take(ModelSweep("THETA", schema, {"epochs": Range(10, 100)}), "epochs", 50)


@pytest.mark.parametrize("uri, said", [
    ("mlruns/mlflow.db", "a path names MLflow's file store, which MLflow 3 refuses; for a SQLite "
                         "store write sqlite:///mlruns/mlflow.db"),
    ("file:///tmp/store", "write sqlite:////tmp/store"),
    ("sqllite:///x.db", "'sqllite' is not a store's scheme; tuner's stores are sqlite:///PATH"),
])
def test_a_store_path_or_a_misspelt_scheme_is_told_what_to_write(tmp_path, monkeypatch, capsys,
                                                                 uri, said):
    """The README names the default store mlruns/mlflow.db: given as --tracking-uri, MLflow's
    answer spoke of a "maintenance mode" and was cut mid-URL ("See htt")."""
    monkeypatch.chdir(tmp_path)
    assert main(["best", "nope", "--tracking-uri", uri]) == 2
    err = capsys.readouterr().err
    assert said in err and "See htt" not in err
    assert not list(tmp_path.iterdir())  # nothing was created


def test_a_long_store_error_is_cut_at_a_sentence_end():
    from tuner.tracking.tracker import sentences

    text = "It failed. See https://mlflow.org/docs/latest/tracking/backend-stores " + "x" * 300
    assert sentences(text) == "It failed."
    assert sentences("short, no cut") == "short, no cut"
    assert sentences("y" * 400).endswith("y...") and len(sentences("y" * 400)) == 303


def test_a_misspelt_parameter_is_matched_to_the_grids_own(tmp_path, small_corpus, capsys):
    path = make_grid(tmp_path, small_corpus, params={"num_topcs": 10})
    assert main(["validate", str(path)]) == 2
    assert "params.num_topcs: no model in this grid has a parameter 'num_topcs'; did you mean " \
        "'num_topics'?" in capsys.readouterr().err


def test_a_folder_given_as_a_file_is_called_a_folder(tmp_path, small_corpus, capsys):
    """It was "file not found", for a path that is there. A dataset folder is a corpus of
    text files; one with none is told what its documents would be."""
    path = make_grid(tmp_path, small_corpus, dataset={"path": str(tmp_path)})
    assert main(["validate", str(path)]) == 2
    assert f"error: {tmp_path}: the corpus folder holds no documents: files with no suffix " \
        "or one of .txt, .text, .md, not hidden" in capsys.readouterr().err
    assert main(["validate", str(tmp_path)]) == 2
    assert f"error: {tmp_path}: is a folder, not a grid file" in capsys.readouterr().err


def test_every_problem_of_a_grid_is_its_own_error_line(tmp_path, small_corpus, capsys):
    """The second of two problems had no "error:" and called a left-out section null."""
    raw = json.loads(make_grid(tmp_path, small_corpus).read_text(encoding="utf-8"))
    raw["datset"] = raw.pop("dataset")
    (tmp_path / "typo.json").write_text(json.dumps(raw), encoding="utf-8")
    assert main(["validate", str(tmp_path / "typo.json")]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and all(line.startswith("error: ") for line in lines), lines
    assert lines[1].endswith("dataset: missing; expects an object")


@pytest.mark.parametrize("argv, said", [
    (["run", "g.json", "--max-trials", "0"], "error: tuner run: argument --max-trials: expects "
                                             "an int >= 1; got '0' (`tuner run --help`"),
    (["run"], "error: tuner run: the following arguments are required: grid"),
])
def test_a_command_line_mistake_is_one_line(argv, said, capsys):
    """argparse printed its 8-line usage block first, for some flags and not others."""
    with pytest.raises(SystemExit) as ended:
        main(argv)
    assert ended.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(said) and len(err.splitlines()) == 1 and "usage:" not in err


def test_a_leaderboard_without_a_finished_trial_says_so():
    from tuner.reporting.leaderboard import format_leaderboard

    assert format_leaderboard([], "npmi") == "(no finished trial has npmi yet: nothing to rank)"


def test_validate_says_supervised_theta_is_scored_against_the_labels_it_trained_on(
        tmp_path, small_corpus, capsys):
    """Supervised THETA ranked first by ARI (0.94 against LDA's 0.84 on BBC) with the worst
    NPMI, and nothing said it had trained on those labels (new-user audit of 2026-12-02)."""
    for mode, warned in (("supervised", True), ("zero_shot", False)):
        path = make_grid(tmp_path, small_corpus, models=["theta"],
                         params={"num_topics": 5, "mode": mode})
        assert main(["validate", str(path)]) == 0
        assert ("params.mode: THETA's supervised trials train on the labels that ARI, NMI and "
                "F1 compare them with" in capsys.readouterr().err) is warned


def test_blank_texts_are_counted_as_such_not_as_copies(tmp_path, ng_records, capsys):
    """75 null texts were "74 documents repeat an earlier document's text" (audit of
    2026-12-02); ideographic and zero-width spaces are no text either."""
    rows = [dict(r) for r in ng_records[:100]]
    for i in range(0, 100, 4):
        rows[i]["text"] = None if i % 8 else ["  \n ", "\u3000\u200b", "\ufeff\u200b"][i % 3]
    path = make_grid(tmp_path, write_jsonl(tmp_path / "c.jsonl", rows), params={"num_topics": 5})
    assert main(["validate", str(path)]) == 0
    err = capsys.readouterr().err
    assert "dataset.text_field 'text': 25 of 100 documents (25.0%) have no text (null, " \
        f"blank or absent; ids {rows[0]['id']}, {rows[4]['id']}, {rows[8]['id']} and 22 " \
        "more)" in err
    assert "repeat an earlier" not in err


def test_validate_says_when_labels_are_few_or_one_per_document(tmp_path, ng_records, capsys):
    """Two thirds of the labels null was said only by the gt_coverage metric, and the text field
    as the label field not at all (audit of 2026-12-02)."""
    rows = [{**r, "label": r["label"] if i % 3 == 0 else None}
            for i, r in enumerate(ng_records[:90])]
    path = make_grid(tmp_path, write_jsonl(tmp_path / "c.jsonl", rows), params={"num_topics": 5})
    assert main(["validate", str(path)]) == 0
    err = capsys.readouterr().err
    assert "dataset.label_field 'label': 60 of 90 documents (67%) have no label; ARI, NMI and " \
        "F1 are computed on the 30 labelled ones" in err
    assert "classes for" not in err
    dataset = {"path": str(tmp_path / "c.jsonl"), "label_field": "id"}
    path = make_grid(tmp_path, tmp_path / "c.jsonl", dataset=dataset, params={"num_topics": 5})
    assert main(["validate", str(path)]) == 0
    assert "dataset.label_field 'id': 90 classes for 90 labelled documents" in \
        capsys.readouterr().err
    dataset["label_field"] = "text"  # the text as its own label: refused (grid_sections)
    path = make_grid(tmp_path, tmp_path / "c.jsonl", dataset=dataset, params={"num_topics": 5})
    assert main(["validate", str(path)]) == 2
    assert "dataset.text_field: 'text' is also the label_field" in capsys.readouterr().err


def test_validate_says_when_no_swept_k_reaches_the_classes(tmp_path, small_corpus, capsys):
    """On 29 HuffPost classes ARI put K=10 above K=20 for three models and NMI the opposite, and
    F1 was 0.054 at K=10, unsaid (new-user audit of 2026-12-03). small_corpus has 20."""
    path = make_grid(tmp_path, small_corpus, params={"num_topics": [5, 10]})
    assert main(["validate", str(path)]) == 0
    assert (f"warning: {path}: params.num_topics: at most 10 topics for the 20 classes of "
            "dataset.label_field 'label': at least 10 classes are left unmatched, so F1 (macro "
            "over the classes) cannot exceed 0.50, and ARI and NMI may rank such K apart; sweep "
            "num_topics up to 20 to compare fits with the labels") in capsys.readouterr().err
    path = make_grid(tmp_path, small_corpus, params={"num_topics": [5, 20]})
    assert main(["validate", str(path)]) == 0
    assert "classes are left unmatched" not in capsys.readouterr().err
    # a TPE search's range, not the defaults its cache probes plan with (review of 2026-12-03)
    tpe = {"strategy": "tpe", "n_trials": 4}
    for high, warned in ((60, False), (12, True)):
        path = make_grid(tmp_path, small_corpus, search=tpe,
                         params={"num_topics": {"low": 5, "high": high}})
        assert main(["validate", str(path)]) == 0
        assert ("classes are left unmatched" in capsys.readouterr().err) is warned


def test_validate_asks_whether_a_text_field_of_few_distinct_values_is_the_text(
        tmp_path, ng_records, capsys):
    """text_field set to the label field was warned of only as 99% copies (new-user audit of
    2026-12-03)."""
    dataset = {"path": str(write_jsonl(tmp_path / "c.jsonl", ng_records[:100])),
               "text_field": "label", "id_field": "id", "label_field": None,
               "language": "en"}
    path = make_grid(tmp_path, Path(dataset["path"]), dataset=dataset, params={"num_topics": 5})
    main(["validate", str(path)])
    err = capsys.readouterr().err
    distinct = len({r["label"] for r in ng_records[:100]})
    assert (f"dataset.text_field 'label': the 100 documents hold only {distinct} distinct "
            "texts: is it the field that holds each document's text?") in err
    assert "repeat an earlier document's text" not in err


def test_validate_warns_of_repeated_and_outsized_documents(tmp_path, ng_records, capsys):
    """Three copies of one headline made a whole BTM topic, and a 160,000-character uuencoded
    post LDA's topic "max pl ms mm m3" (new-user audit of 2026-12-02)."""
    rows = [dict(r) for r in ng_records[:100]]
    for i in (10, 20, 30):
        rows[i]["text"] = rows[0]["text"] + "  "  # the same text, spaces aside
    rows[50]["text"] = "begin 644 picture.gif " + "M" * 60_000
    path = make_grid(tmp_path, write_jsonl(tmp_path / "c.jsonl", rows), params={"num_topics": 5})
    assert main(["validate", str(path)]) == 0
    err = capsys.readouterr().err
    assert "dataset.path: 3 of 100 documents (3.0%) repeat an earlier document's text" in err
    first = rows[0]["id"]  # named, so that a user can find them (new-user audit of 2026-12-04)
    assert f"(ids {rows[10]['id']} (as {first}), {rows[20]['id']} (as {first}), " \
        f"{rows[30]['id']} (as {first}))" in err
    for i in (60, 70):  # retweets: the post again, its handles aside (new-user audit)
        rows[i]["text"] = f"RT @user{i}: " + rows[0]["text"]
    retweets = make_grid(tmp_path / "rt", write_jsonl(tmp_path / "rt.jsonl", rows),
                         params={"num_topics": 5}, preprocessing={"strip_mentions": True})
    assert main(["validate", str(retweets)]) == 0
    assert "dataset.path: 5 of 100 documents (5.0%) repeat an earlier document's text exactly " \
        "(its @handles aside, as strip_mentions drops them)" in capsys.readouterr().err
    assert re.search(r"dataset.path: 1 document over 20 times the median document's [\d,]+ "
                     r"characters \(the longest 60,022\)", err)
    clean = make_grid(tmp_path, write_jsonl(tmp_path / "d.jsonl", ng_records[:100]),
                      params={"num_topics": 5})
    assert main(["validate", str(clean)]) == 0
    assert "dataset.path:" not in capsys.readouterr().err


def test_run_says_when_a_shared_step_starts_and_ends(tmp_path, small_corpus, capsys,
                                                     monkeypatch):
    """Word2Vec took 235 s of a DTM sweep whose display stood at "3/4 done" meanwhile, with no
    word of what ran (new-user audit of 2026-12-02); and 162 s below its one "started" line
    (new-user audit of 2026-12-05): a line says it still runs, here every 0.3 s."""
    from tuner.engine import runner

    monkeypatch.setattr(runner, "STEP_REMINDED_S", 0.3)
    path = make_grid(tmp_path, small_corpus, models=["etm"],
                     params={"num_topics": 5, "vocab_size": 1000, "epochs": 10,
                             "embedding_dim": 50})
    assert main(["run", str(path), "--tracking-uri", sqlite_store(tmp_path / "m.db"),
                 "--cache-dir", str(tmp_path / "cache"), "--max-workers", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    step = r"  shared step word2vec \(bag of words [0-9a-f]{8} dim=50 seed=1\) of ETM "
    [started] = [i for i, line in enumerate(lines)
                 if re.fullmatch(step + r"started \(the trials that need it wait for it\)", line)]
    [ended] = [i for i, line in enumerate(lines) if re.fullmatch(step + r"done in [\d.]+ s", line)]
    seconds = float(re.findall(r"done in ([\d.]+) s", lines[ended])[0])
    reminders = lines[started + 1:ended]
    assert all(re.fullmatch(step + r"still running, \d+s so far \(the trials that need it "
                                   r"wait for it\)", line) for line in reminders), reminders
    assert len(reminders) >= (1 if seconds > 1.6 else 0), (seconds, reminders)
    assert any(line.startswith("  COMPLETE ETM") for line in lines[started + 2:])
    # another sweep over the same bag finds the vectors: it says so, not "done in 0.1 s"
    other = make_grid(tmp_path / "other", small_corpus, models=["etm"],
                      params={"num_topics": 6, "vocab_size": 1000, "epochs": 10,
                              "embedding_dim": 50})
    assert main(["run", str(other), "--tracking-uri", f"sqlite:///{tmp_path}/m.db",
                 "--cache-dir", str(tmp_path / "cache"), "--max-workers", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    # ... and, read in under a second, is not said to have started (new-user audit of
    # 2026-12-03: "started" then "found in its cache (0.1 s)" read as work done twice)
    said = [line for line in lines if "shared step word2vec" in line]
    found = re.fullmatch(step + r"found in its cache \((\d+\.\d) s\)", said[-1])
    assert found is not None, said
    assert len(said) == (1 if float(found.group(1)) < 1.0 else 2), said


def test_report_out_names_a_folder_and_a_file_there_is_said_not_a_traceback(tmp_path, capsys):
    """`--out grid.json` (a file) ended in FileExistsError's traceback; `--out report.html`
    made a folder of that name (new-user audit of 2026-12-04)."""
    taken = tmp_path / "grid.json"
    taken.write_text("{}", encoding="utf-8")
    assert main(["report", "x", "--out", str(taken)]) == 2
    assert f"error: --out: {taken} is a file; name a folder" in capsys.readouterr().err
    assert taken.read_text(encoding="utf-8") == "{}"
    page = tmp_path / "my_report.html"
    assert main(["report", "x", "--out", str(page)]) == 2
    assert f"e.g. --out {tmp_path / 'my_report'}" in capsys.readouterr().err
    assert not page.exists()


def test_more_classes_than_the_models_take_get_a_remedy_within_their_range(tmp_path,
                                                                           small_corpus):
    """139 classes: "sweep num_topics up to 139" was then refused, as LDA takes at most 100
    (new-user audit of 2026-12-04)."""
    from tuner.engine.advice import _more_topics_remedy
    from tuner.grid import load_grid

    grid = load_grid(make_grid(tmp_path, small_corpus, models=["lda", "btm"],
                               params={"num_topics": [5, 10]}))
    assert _more_topics_remedy(grid, 10, 20) == \
        "sweep num_topics up to 20 to compare fits with the labels"
    assert _more_topics_remedy(grid, 95, 139) == \
        "sweep num_topics up to 100, the most these models take"
    assert _more_topics_remedy(grid, 100, 139).startswith("these models take at most 100 "
                                                          "topics: compare fits by ARI and NMI")


def test_a_label_field_beside_a_ground_truth_file_is_said_to_be_unused(tmp_path, small_corpus,
                                                                      capsys):
    """Both set: the run scored against the file and passed the field over without a word
    (new-user audit of 2026-12-04)."""
    rows = read_jsonl(small_corpus)
    truth = tmp_path / "labels.json"
    by_label: dict[str, list[str]] = {}
    for row in rows:
        by_label.setdefault(row["label"], []).append(row["id"])
    truth.write_text(json.dumps(by_label), encoding="utf-8")
    path = make_grid(tmp_path, small_corpus, ground_truth=str(truth))
    assert main(["validate", str(path)]) == 0
    assert (f"warning: {path}: dataset.label_field: 'label' is not used: ARI, NMI and F1 "
            "score against ground_truth (labels.json) when both are set") in \
        capsys.readouterr().err
    dataset = {"path": str(small_corpus), "label_field": None}
    path = make_grid(tmp_path, small_corpus, ground_truth=str(truth), dataset=dataset)
    assert main(["validate", str(path)]) == 0
    assert "is not used" not in capsys.readouterr().err


def test_a_report_of_a_sweep_whose_every_trial_failed_says_so(tmp_path, small_corpus,
                                                              monkeypatch, capsys):
    """It said "no finished trial has metric 'ari'; logged: none" (new-user audit of
    2026-12-04); and `tuner best --rename ""` was ignored unsaid."""
    from tests.conftest import REPO
    from tests.plugins import FAILING_SEED

    monkeypatch.setenv("TUNER_TRAINERS", "Flaky=tests.plugins:FlakyTrainer")
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    grid = make_grid(tmp_path, small_corpus, experiment="all-failed", models=["flaky"],
                     params={"num_topics": 5, "vocab_size": 1000}, seeds=[FAILING_SEED])
    store = sqlite_store(tmp_path / "mlflow.db")
    assert main(["run", str(grid), "--max-workers", "1", "--quiet",
                 "--cache-dir", str(tmp_path / "cache"), "--tracking-uri", store]) == 1
    capsys.readouterr()
    assert main(["report", "all-failed", "--tracking-uri", store,
                 "--out", str(tmp_path / "r")]) == 2
    assert "experiment 'all-failed': no trial has finished on the data of its latest sweep " \
        "(every trial failed, or the sweep was stopped): each trial run's tuner.error tag" in \
        capsys.readouterr().err
    assert main(["best", "all-failed", "--tracking-uri", store, "--rename", " "]) == 2
    assert "--rename: give the experiment name" in capsys.readouterr().err


def test_a_store_error_is_said_in_the_databases_words_not_sqlalchemys_preamble():
    """A store moved mid-sweep was said as "(raised as a result of Query-invoked autoflush;
    consider using a session.no_autoflush block ...)", SQLAlchemy's first line (concurrency
    audit of 2026-12-05)."""
    import sqlite3

    from sqlalchemy.exc import OperationalError

    from tuner.errors import first_line

    err = OperationalError("INSERT INTO runs ...", {}, sqlite3.OperationalError(
        "attempt to write a readonly database"))
    err.add_detail("raised as a result of Query-invoked autoflush; consider using a "
                   "session.no_autoflush block if this flush is occurring prematurely")
    assert str(err).startswith("(raised as a result of Query-invoked autoflush")
    assert first_line(err) == "(sqlite3.OperationalError) attempt to write a readonly database"
