"""`tuner init`: a starter grid found from a corpus's records, which `tuner validate` accepts,
and which says what it found and what it left for the user to decide."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import dataset_path, read_jsonl
from tuner.cli import main
from tuner.engine.sweep import check_inputs
from tuner.errors import DataError
from tuner.grid import load_grid
from tuner.starter import starter_grid


def _written(folder: Path, corpus: Path, **options: object) -> tuple[Path, dict, list[str]]:
    grid, notes = starter_grid(corpus, folder, **options)  # type: ignore[arg-type]
    path = folder / "grid.json"
    path.write_text(json.dumps(grid), encoding="utf-8")
    return path, grid, notes


@pytest.mark.parametrize("name, models, topics, extra", [
    ("20ng-mini", ["lda", "prodlda", "bertopic"], [20, 40], {"timestamp_field": None}),
    # headlines: short texts (BTM), with dates
    ("huffpost-mini", ["lda", "btm", "bertopic"], [26, 52], {"timestamp_field": None}),
    # Chinese: no BERTopic on the English-only MiniLM
    ("thucnews-mini", ["lda", "prodlda"], [10, 20], {"language": "zh"}),
])
def test_a_bundled_corpus_gets_a_grid_that_validates(tmp_path, name, models, topics, extra):
    path, grid, notes = _written(tmp_path, dataset_path(name))
    dataset = grid["dataset"]
    assert (dataset["text_field"], dataset["id_field"], dataset["label_field"]) == \
        ("text", "id", "label")
    assert {k: dataset[k] for k in extra} == extra
    assert (grid["experiment"], grid["models"], grid["params"]["num_topics"]) == \
        (name, models, topics)
    loaded = load_grid(path)
    inputs = check_inputs(loaded)
    assert len(inputs.corpus) == len(read_jsonl(dataset_path(name)))
    # two seeds; BERTopic with HDBSCAN and with k-means
    assert loaded.trial_count == (len(models) + ("bertopic" in models)) * len(topics) * 2
    budgets = {"lda.max_iter": 500} | ({"btm.n_iter": 500} if "btm" in models else {})
    settings = {"bertopic.reduce_outliers": "c-tf-idf",
                "bertopic.clustering": ["hdbscan", "kmeans"]} if "bertopic" in models else {}
    # on fewer documents than a network was measured to need: no early stopping, 300 epochs
    few = {"prodlda.epochs": 300, "prodlda.patience": None} \
        if "prodlda" in models and len(inputs.corpus) < 1000 else {}
    assert (name == "thucnews-mini") is bool(few)
    assert {k: v for k, v in grid["params"].items() if k != "num_topics"} == \
        budgets | settings | few
    assert bool(few) is any(note.startswith("epochs 300 and patience null for ProdLDA: on ")
                            for note in notes)
    assert ("bertopic" in models) is any(note.startswith(
        'bertopic.reduce_outliers c-tf-idf, bertopic.clustering ["hdbscan", "kmeans"]: HDBSCAN '
        "leaves many") for note in notes)
    assert any(note.startswith(" and ".join(f"{k} {v}" for k, v in budgets.items()) + ": ")
               and "training short" in note for note in notes)
    assert any("classes" in note for note in notes)
    if name == "huffpost-mini":  # its dates are said, and read once DTM is asked for
        assert any("add DTM to models and set timestamp_field to it" in note for note in notes)
        path, grid, _ = _written(tmp_path, dataset_path(name), models=["dtm"])
        assert grid["dataset"]["timestamp_field"] == "timestamp"
        check_inputs(load_grid(path))


def test_fields_are_found_by_content_and_name_and_the_rest_is_said(tmp_path, ng_records):
    rows = [{"source": ["web", "mail", "paper"][n % 3], "title": r["text"][:30],
             "postId": f"p{n}", "body": r["text"], "Category": r["label"]}
            for n, r in enumerate(ng_records[:200])]
    corpus = tmp_path / "posts.csv"
    pd.DataFrame(rows).to_csv(corpus, index=False)
    path, grid, notes = _written(tmp_path, corpus, models=["LDA"])
    assert {k: grid["dataset"][k] for k in ("text_field", "id_field", "label_field")} == \
        {"text_field": "body", "id_field": "postId", "label_field": "Category"}
    assert grid["dataset"]["path"] == "posts.csv" and grid["models"] == ["LDA"]
    check_inputs(load_grid(path))
    unlabelled = tmp_path / "unlabelled.csv"
    pd.DataFrame(rows).drop(columns=["postId", "Category"]).to_csv(unlabelled, index=False)
    path, grid, notes = _written(tmp_path, unlabelled, models=["LDA"])
    assert (grid["dataset"]["id_field"], grid["dataset"]["label_field"]) == (None, None)
    assert any("records are numbered" in note for note in notes)
    assert any("'source' (3 values, " in note for note in notes)  # said, not taken
    check_inputs(load_grid(path))


def test_a_folder_and_a_text_file_get_their_fixed_fields(tmp_path, ng_records):
    folder = tmp_path / "data" / "posts"
    for n, r in enumerate(ng_records[:100]):
        (folder / r["label"]).mkdir(parents=True, exist_ok=True)
        (folder / r["label"] / f"{n}.txt").write_text(r["text"], encoding="utf-8")
    lines = tmp_path / "data" / "lines.txt"
    lines.write_text("\n".join(" ".join(r["text"].split()) for r in ng_records[:100]),
                     encoding="utf-8")
    grids = tmp_path / "grids"
    grids.mkdir()
    path, grid, _ = _written(grids, folder)
    assert (grid["experiment"], grid["dataset"]["path"], grid["dataset"]["label_field"]) == \
        ("posts", "../data/posts", "label")
    assert check_inputs(load_grid(path)).corpus.labels is not None
    path, grid, _ = _written(grids, lines)
    assert (grid["dataset"]["id_field"], grid["dataset"]["label_field"]) == ("id", None)
    check_inputs(load_grid(path))


@pytest.mark.parametrize("groups, kind", [
    (("train", "test"), "the names of dataset splits (train, test, ...)"),
    (("2004", "2005", "2006"), "dates or years")])
def test_folders_of_splits_or_years_are_no_labels_and_validate_says_so(tmp_path, ng_records,
                                                                        groups, kind):
    """Files straight in train/ and test/ were labelled train and test, and a sweep ranked by
    ARI 0.0004 against them (trust audit of 2026-12-04)."""
    folder = tmp_path / "posts"
    for n, r in enumerate(ng_records[:90]):
        (folder / groups[n % len(groups)]).mkdir(parents=True, exist_ok=True)
        (folder / groups[n % len(groups)] / f"{n}.txt").write_text(r["text"], encoding="utf-8")
    path, grid, notes = _written(tmp_path, folder)
    assert grid["dataset"]["label_field"] is None
    assert f"'label' is named as labels are, but every value is one of {kind}, not a class of " \
           "topics, so it is not the label field: a file's label is the folder it is in" in \
           "\n".join(notes)
    assert not any("fields that could be classes" in note for note in notes)
    grid["dataset"]["label_field"] = "label"  # a grid written by hand
    path.write_text(json.dumps(grid), encoding="utf-8")
    advice = check_inputs(load_grid(path)).advice
    assert any(f"dataset.label_field 'label': every label is one of {kind}, not a class of "
               "topics, so ARI, NMI and F1 against them say nothing of topics: a corpus "
               "folder's labels are the folders its files are in" in line for line in advice)


def test_a_corpus_without_text_is_refused(tmp_path):
    corpus = tmp_path / "numbers.csv"
    corpus.write_text("id,score\n1,3\n2,4\n", encoding="utf-8")
    with pytest.raises(DataError, match="no field holds text in most records"):
        starter_grid(corpus, tmp_path)


def test_a_starter_grid_whose_embedding_model_is_not_here_offline_is_said(
        tmp_path, capsys, monkeypatch):
    """`init --models theta,lda` wrote a grid that `validate` refused offline (THETA's Qwen3 is
    not on the machine), and its note told THETA, already in the grid, to "add" itself with a
    multilingual model it has by default (Chinese audit of 2026-12-05)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    corpus = str(dataset_path("thucnews-mini"))
    out = tmp_path / "theta.json"
    assert main(["init", corpus, "--models", "theta,lda", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert (f"note: {out} does not run on this machine as it stands: embedding.model (not set: "
            "the default of THETA, which names 'Qwen/Qwen3-Embedding-0.6B')") in err
    assert "to add BERTopic or CTM" in err and "THETA in this grid" not in err
    assert main(["validate", str(out)]) == 2  # as said
    assert list(tmp_path.glob(".tuner-init-*")) == []
    out = tmp_path / "bertopic.json"
    assert main(["init", corpus, "--models", "lda,bertopic", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "does not run on this machine" not in err  # MiniLM is carried
    assert "note: BERTopic in this grid embeds the documents: give it a multilingual" in err


def test_the_command_prints_or_writes_the_grid_and_keeps_an_existing_file(tmp_path, capsys):
    corpus = str(dataset_path("thucnews-mini"))
    assert main(["init", corpus]) == 0
    printed = capsys.readouterr()
    # printed, the grid may be saved anywhere: its corpus path is absolute
    assert json.loads(printed.out)["dataset"] == {
        "path": str(dataset_path("thucnews-mini").resolve()), "text_field": "text",
        "id_field": "id", "label_field": "label", "timestamp_field": None, "language": "zh"}
    assert "note: label_field 'label': 10 classes" in printed.err
    out = tmp_path / "grid.json"
    assert main(["init", corpus, "--out", str(out), "--models", "lda", "--experiment", "x"]) == 0
    assert "next: tuner validate" in capsys.readouterr().err
    assert main(["validate", str(out)]) == 0
    assert main(["init", corpus, "--out", str(out)]) == 2
    assert "exists; it is kept" in capsys.readouterr().err
    assert json.loads(out.read_text())["experiment"] == "x"
    dangling = tmp_path / "link.json"
    dangling.symlink_to(tmp_path / "missing.json")
    assert main(["init", corpus, "--models", "lda,nope"]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err
    for options, said in [(["--models", ",,"], "--models: name at least one model"),
                          (["--experiment", "a\nb"], "--experiment: expects a name"),
                          (["--out", str(tmp_path / "no" / "g.json")], "--out: no folder"),
                          # a dangling link, and a folder no file can be made in: exit 2, no
                          # traceback (attacker audit of 2026-12-04)
                          (["--out", str(dangling)], "exists; it is kept"),
                          (["--out", "/proc/g.json"], "--out: /proc/g.json cannot be written")]:
        assert main(["init", corpus, *options]) == 2
        assert said in capsys.readouterr().err
    assert main(["init", corpus, "--models", "LDA,btm,lda"]) == 0
    assert json.loads(capsys.readouterr().out)["models"] == ["LDA", "btm"]


def test_the_text_is_the_field_with_the_most_words_not_the_most_characters(tmp_path,
                                                                           ng_records):
    """HuffPost's rows: a six-word headline beside a link of 80 characters, one word."""
    rows = [{"link": f"https://www.example.com/entry/{'-'.join(r['text'].split()[:8])}_n{n}",
             "headline": " ".join(r["text"].split()[:6]), "category": r["label"]}
            for n, r in enumerate(ng_records[:300])]
    corpus = tmp_path / "headlines.csv"
    pd.DataFrame(rows).to_csv(corpus, index=False)
    _, grid, _ = _written(tmp_path, corpus, models=["lda"])
    assert (grid["dataset"]["text_field"], grid["dataset"]["id_field"]) == ("headline", "link")


def test_a_label_some_records_lack_is_said_not_taken(tmp_path, ng_records):
    rows = [{"id": n, "text": r["text"], "label": r["label"]} for n, r in
            enumerate(ng_records[:100])]
    del rows[7]["label"]
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    path, grid, notes = _written(tmp_path, corpus, models=["lda"])
    assert grid["dataset"]["label_field"] is None
    assert any("'label' is missing from 1 record, so it is not the label field" in note
               and "(the first without: 7)" in note for note in notes), notes
    check_inputs(load_grid(path))


def test_a_text_some_records_lack_is_still_the_text(tmp_path, ng_records):
    """One headline missing of 3,986: the text was chosen among the fields every record has,
    and the 8 categories became the text, unsaid, with no labels (new-user audit on HuffPost
    headlines). Those records are documents without text, as a null one is."""
    rows = [{"id": n, "headline": " ".join(r["text"].split()[:8]), "category": r["label"]}
            for n, r in enumerate(ng_records[:300])]
    del rows[7]["headline"]
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    path, grid, notes = _written(tmp_path, corpus, models=["lda"])
    assert (grid["dataset"]["text_field"], grid["dataset"]["label_field"]) == \
        ("headline", "category")
    assert any("1 document of 300 (0.3%) has no text in 'headline'" in note for note in notes)
    inputs = check_inputs(load_grid(path))
    assert inputs.corpus.texts[7] == "" and len(inputs.corpus) == 300


def test_short_texts_below_ten_thousand_get_full_epochs_for_a_network(tmp_path, ng_records):
    """100 epochs of 4,000 headlines are few steps: ProdLDA's ARI 0.079 at its defaults, 0.107
    at 300 epochs without early stopping (new-user audit on HuffPost headlines). Long texts of
    as many documents keep the defaults."""
    headlines = [{"id": n, "text": " ".join(r["text"].split()[:9]), "label": r["label"]}
                 for n, r in enumerate(ng_records)]
    corpus = tmp_path / "h.jsonl"
    corpus.write_text("\n".join(json.dumps(r) for r in headlines), encoding="utf-8")
    _, grid, notes = _written(tmp_path, corpus, models=["lda", "prodlda", "gsm"])
    assert {k: grid["params"][k] for k in grid["params"] if k.endswith(("epochs", "patience"))} \
        == {"prodlda.epochs": 300, "prodlda.patience": None, "gsm.epochs": 300,
            "gsm.patience": None}
    assert any(note.startswith("epochs 300 and patience null for ProdLDA and GSM: on 2,000 "
                               "short documents, the default 100 epochs are few training steps")
               and "HuffPost headlines" in note
               for note in notes), notes
    long = tmp_path / "long"
    long.mkdir()
    _, grid, _ = _written(long, dataset_path("20ng-mini"), models=["lda", "prodlda"])
    assert not any(k.startswith("prodlda.") for k in grid["params"])


def test_a_text_in_an_object_is_pointed_at(tmp_path, ng_records):
    rows = [{"id": n, "doc": {"body": r["text"]}, "topic": r["label"]}
            for n, r in enumerate(ng_records[:50])]
    corpus = tmp_path / "nested.jsonl"
    corpus.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    with pytest.raises(DataError, match="'doc' holds objects, whose fields a grid cannot name"):
        starter_grid(corpus, tmp_path)


def test_a_parquet_list_column_is_a_text(tmp_path, ng_records):
    rows = [{"paragraphs": r["text"].split("\n\n"), "label": r["label"]}
            for r in ng_records[:100]]
    corpus = tmp_path / "c.parquet"
    pd.DataFrame(rows).to_parquet(corpus)
    path, grid, _ = _written(tmp_path, corpus, models=["lda"])
    assert grid["dataset"]["text_field"] == "paragraphs"
    check_inputs(load_grid(path))


@pytest.mark.parametrize("documents, classes, expected", [
    (300, 2, [5, 10]), (300, 26, [26, 52]), (300, 80, [80, 100]), (300, 0, [5, 10]),
    (5000, 0, [10, 20]), (50000, 0, [20, 50])])
def test_topic_counts_are_two_values_every_model_takes(documents, classes, expected):
    from tuner.starter import topic_counts

    assert topic_counts(documents, classes) == expected


def test_what_init_cannot_use_is_said_with_what_to_do(tmp_path, ng_records):
    """From a new-user audit (2026-12-04): a non-ISO date column, a label of 150 values beside
    the real one, two classes, and a handful of documents were passed over or taken without a
    word."""
    rows = [{"id": n, "text": r["text"], "date": f"01/{n % 28 + 1:02d}/2004",
             "tag": f"t{n % 40}", "news_category": ["a", "b"][n % 2]}
            for n, r in enumerate(ng_records[:60])]
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    _, grid, notes = _written(tmp_path, corpus, models=["lda", "dtm"])
    text = "\n".join(notes)
    assert grid["dataset"]["timestamp_field"] is None
    assert "'date' is named as dates are, but 60 of its 60 values are not dates tuner reads, " \
        "e.g. shaped '99/99/9999'" in text
    assert "DTM needs a field of dates for every document, and none was found" in text
    assert "label_field 'tag'" not in text  # 40 classes of 60 documents: too many
    assert "'tag' has 40 values" in text and \
        "'news_category' (2 values, 30 documents a value on average)" in text
    assert "this corpus has 60" in text
    rows = [{**r, "label": r["news_category"], "category_code": ord(r["news_category"]),
             "desk": ["x", "y", "z"][n % 3]} for n, r in enumerate(rows)]
    corpus.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    _, grid, notes = _written(tmp_path, corpus)
    assert grid["params"]["num_topics"] == [5, 10]
    assert "num_topics 5 and 10: near the 2 classes, within 5 to 100" in "\n".join(notes)
    # news_category and category_code are the label's classes named otherwise (toutiao's
    # category_code was offered beside its label; new-user audit of 2026-12-04)
    assert "other fields that could be classes: 'desk' (3 values, 20 documents a value on " \
        "average); set label_field" in "\n".join(notes)


def test_a_misspelt_model_gets_the_nearest_name(capsys):
    assert main(["init", str(dataset_path("thucnews-mini")), "--models", "lda,bertopc"]) == 2
    assert "unknown model 'bertopc'; did you mean 'BERTopic'?" in capsys.readouterr().err


def test_a_second_text_field_is_joined_and_said(tmp_path, ng_records):
    """HuffPost as a CSV (headline, short_description): init took the description and dropped
    the headlines unsaid; ARI 0.028 against 0.062 with both (new-user audit of 2026-12-04).
    Then it named the headline and left it out of the grid, its starter sweep a third as good
    by ARI (new-user audit of 2026-12-04, the evening's): now the grid joins them."""
    rows = [{"headline": " ".join(r["text"].split()[:8]), "category": r["label"],
             "short_description": " ".join(r["text"].split()[8:40])}
            for r in ng_records[:200]]
    corpus = tmp_path / "news.csv"
    pd.DataFrame(rows).to_csv(corpus, index=False)
    path, grid, notes = _written(tmp_path, corpus, models=["lda"])
    assert grid["dataset"]["text_field"] == ["headline", "short_description"]
    assert 'text_field ["headline", "short_description"]: \'short_description\', the field ' \
        "with the most words, and 'headline' (8 words on average), which also holds text, " \
        "joined" in "\n".join(notes)
    assert 'set text_field to "short_description" to model it alone' in "\n".join(notes)
    corpus_read = check_inputs(load_grid(path)).corpus
    assert corpus_read.texts[0] == f"{rows[0]['headline']}\n\n{rows[0]['short_description']}"
    assert grid["dataset"]["label_field"] == "category"


def test_a_chinese_fields_words_are_said_in_jiebas_words(tmp_path):
    """Toutiao's keywords beside its headlines read "14 words on average", each Han character
    counted, beside headlines of a median 10 words (new-user audit of 2026-12-04)."""
    import jieba

    from tuner.data.vocab import chinese_word_count

    rows = []
    articles = [r for r in read_jsonl(dataset_path("thucnews-mini")) if len(r["text"]) > 200]
    for n, r in enumerate(articles):
        words = [w for w in jieba.lcut(r["text"][100:200]) if len(w) > 1][:6]
        rows.append({"id": n, "text": r["text"][:100], "keywords": ",".join(words)})
    corpus = tmp_path / "tt.jsonl"
    corpus.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                      encoding="utf-8")
    _, _, notes = _written(tmp_path, corpus, models=["lda"])
    said = next(note for note in notes if "'keywords' (" in note)
    figure = int(said.split("'keywords' (")[1].split()[0])
    assert figure == round(sum(chinese_word_count(r["keywords"]) for r in rows) / len(rows))
    characters = sum(len(r["keywords"].replace(",", "")) for r in rows) / len(rows)
    assert figure < characters / 1.5


def test_a_split_field_is_not_offered_as_classes(tmp_path):
    """20ng-mini's 'split' (train, test) read as "other fields that could be classes" (review
    of 2026-12-04)."""
    _, grid, notes = _written(tmp_path, dataset_path("20ng-mini"), models=["lda"])
    assert grid["dataset"]["label_field"] == "label"
    assert "split" in read_jsonl(dataset_path("20ng-mini"))[0]
    assert not any("could be classes" in note for note in notes)


def test_a_small_corpus_is_told_that_neural_models_need_more_documents(tmp_path, ng_records,
                                                                        capsys):
    """On 330 UN speeches ProdLDA's topics were noise beside LDA's, unsaid (new-user audit of
    2026-12-04), and on 150 every neural model's were at its defaults (defaults audit of
    2026-12-05); below 1,000 documents init and validate say they need more."""
    corpus = tmp_path / "few.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in ng_records[:300]), encoding="utf-8")
    _, grid, notes = _written(tmp_path, corpus, models=["lda", "prodlda", "hdp", "nvdm"])
    said = [note for note in notes if "more of them than LDA" in note]
    assert len(said) == 1 and said[0].startswith("ProdLDA, NVDM learn a network")
    assert "with 300, expect them to trail it" in said[0]
    grid_path = tmp_path / "few-grid.json"
    grid_path.write_text(json.dumps(grid), encoding="utf-8")
    assert main(["validate", str(grid_path)]) == 0
    assert f"{grid_path}: models: ProdLDA, NVDM learn a network" in capsys.readouterr().err
    _, _, notes = _written(tmp_path, corpus, models=["lda", "hdp"])
    assert not any("more of them than LDA" in note for note in notes)
    corpus.write_text("".join(json.dumps(r) + "\n" for r in ng_records[:1000]),
                      encoding="utf-8")
    _, _, notes = _written(tmp_path, corpus, models=["lda", "prodlda"])
    assert not any("more of them than LDA" in note for note in notes)


def test_a_model_without_num_topics_gets_a_grid_without_it(tmp_path):
    """HDP finds its number of topics: a grid with num_topics for it alone was refused."""
    path, grid, notes = _written(tmp_path, dataset_path("huffpost-mini"), models=["hdp"])
    assert grid["params"] == {}
    assert "HDP" not in notes[[n.startswith("models") for n in notes].index(True)].split(": ")[1]
    check_inputs(load_grid(path))


def test_a_grid_of_every_model_validates(tmp_path):
    """Every model but THETA (its Qwen3 weights are not on an offline machine), together."""
    from trainers import registry

    models = [name for name in registry() if name != "THETA"]
    path, grid, _ = _written(tmp_path, dataset_path("huffpost-mini"), models=models)
    assert grid["models"] == models and grid["dataset"]["timestamp_field"] == "timestamp"
    check_inputs(load_grid(path))


def test_names_that_would_drive_the_terminal_are_printed_escaped(tmp_path, ng_records, capsys):
    """A file or field name holding ESC sequences cleared the screen or set the terminal's
    title, and one holding a newline printed a forged "error:" line (attacker audit of
    2026-12-04)."""
    hostile = "x\x1b[2J\x1b[H\nerror: all good\x1b]0;title\x07"
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(json.dumps({"id": str(n), hostile: r["text"]}) + "\n"
                              for n, r in enumerate(ng_records[:40])), encoding="utf-8")
    assert main(["init", str(corpus)]) == 0
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err
    assert r"note: text_field 'x\x1b[2J\x1b[H\nerror: all good\x1b]0;title\x07'" in err
    folder = tmp_path / "posts"
    (folder / "a").mkdir(parents=True)
    (folder / "a" / "1.txt").write_text("some text here", encoding="utf-8")
    (folder / "a" / "x\x1b[2J\nerror: spoofed.txt").write_bytes(b"a\0b")
    grid = tmp_path / "g.json"
    grid.write_text(json.dumps({"experiment": "e", "dataset": {"path": str(folder)},
                                "models": ["lda"], "params": {"num_topics": 5}}),
                    encoding="utf-8")
    assert main(["validate", str(grid)]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and r"x\x1b[2J\nerror: spoofed.txt" in err
    assert [line.startswith("error:") for line in err.splitlines()] == [True]


def test_a_corpus_half_chinese_is_said_as_validate_says_it(tmp_path):
    """Half toutiao-like Chinese headlines, half HuffPost: detected as en (too few Chinese
    letters), so init called it English, suggested BERTopic on the English MiniLM, and the next
    command, validate, said to set zh (new-user audit of 2026-12-04)."""
    chinese = [r for r in read_jsonl(dataset_path("thucnews-mini")) if r["text"].strip()][:150]
    english = read_jsonl(dataset_path("huffpost-mini"))[:600]
    records = [{"id": f"z{n}", "text": r["text"][:20]} for n, r in enumerate(chinese)] + \
        [{"id": f"e{n}", "text": r["text"]} for n, r in enumerate(english)]
    corpus = tmp_path / "mixed.jsonl"
    corpus.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                      encoding="utf-8")
    path, grid, notes = _written(tmp_path, corpus)
    assert grid["dataset"]["language"] == "en"
    assert "bertopic" not in grid["models"]
    assert any("documents are mostly Chinese: they are not segmented into words" in note
               for note in notes)
    assert any("multilingual embedding model" in note for note in notes)
    english_only = tmp_path / "english.jsonl"
    english_only.write_text("".join(json.dumps(r) + "\n" for r in records[150:]),
                            encoding="utf-8")
    _, grid, notes = _written(tmp_path, english_only)
    assert "bertopic" in grid["models"]
    assert not any("mostly Chinese" in note for note in notes)


def test_english_posts_with_chinese_beside_them_are_said_as_validate_says_it(tmp_path):
    """An English post with a Chinese headline beside it loses the Chinese (one unsegmented
    "word" a run, dropped by min_df): validate said so, init did not (review of 2026-12-04)."""
    chinese = [r["text"][:20] for r in read_jsonl(dataset_path("thucnews-mini"))
               if r["text"].strip()]
    records = [{"id": f"e{n}", "text": r["text"] + (f" {chinese[n // 10]}" if n % 10 == 0 else "")}
               for n, r in enumerate(read_jsonl(dataset_path("huffpost-mini"))[:600])]
    corpus = tmp_path / "bilingual.jsonl"
    corpus.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                      encoding="utf-8")
    _, grid, notes = _written(tmp_path, corpus)
    assert grid["dataset"]["language"] == "en" and "bertopic" in grid["models"]
    said = [note for note in notes if "hold Chinese text: it is not segmented into words" in note]
    assert len(said) == 1 and said[0].startswith("60 of 600 documents hold")
    assert not any("mostly Chinese" in note for note in notes)
    plain = tmp_path / "plain.jsonl"
    plain.write_text("".join(json.dumps(r) + "\n" for r in read_jsonl(
        dataset_path("huffpost-mini"))[:600]), encoding="utf-8")
    _, _, notes = _written(tmp_path, plain)
    assert not any("hold Chinese text" in note for note in notes)


def test_a_chinese_texts_length_is_counted_in_words_not_characters(tmp_path):
    """Each Han character counted as a token: 45-character news leads (about 20 words) read as
    long texts and got ProdLDA instead of BTM (new-user audit of 2026-12-04)."""
    records = [{"id": r["id"], "text": r["text"][:45]}
               for r in read_jsonl(dataset_path("thucnews-mini")) if len(r["text"]) > 45]
    corpus = tmp_path / "leads.jsonl"
    corpus.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                      encoding="utf-8")
    _, grid, notes = _written(tmp_path, corpus)
    assert grid["models"] == ["lda", "btm"]
    median = int(notes[0].split("median ")[1].split()[0])
    assert 12 <= median <= 30, notes[0]  # words, where 45 characters made 45 tokens


def test_chinese_field_names_are_read_as_their_english_ones(tmp_path):
    """A CSV of headlines headed 编号,标题,类别 got no id (said as "no field holds a unique value",
    which 编号 did) and no label (user audit of 2026-12-04)."""
    rows = [r for r in read_jsonl(dataset_path("thucnews-mini")) if r["text"].strip()]
    frame = pd.DataFrame({"编号": [f"n{i}" for i in range(len(rows))],
                          "标题": [r["text"][:60] for r in rows],
                          "类别": [r["label"] for r in rows]})
    frame.to_csv(tmp_path / "zh.csv", index=False, encoding="utf-8-sig")
    _, grid, notes = _written(tmp_path, tmp_path / "zh.csv")
    assert (grid["dataset"]["text_field"], grid["dataset"]["id_field"],
            grid["dataset"]["label_field"]) == ("标题", "编号", "类别")
    frame.rename(columns={"编号": "uid"}).to_csv(tmp_path / "uid.csv", index=False)
    _, grid, notes = _written(tmp_path, tmp_path / "uid.csv")
    assert grid["dataset"]["id_field"] is None
    assert any(n.startswith("id_field null: no field named as ids (id, doc_id, uuid, 编号 ...) "
                            "holds a unique value") for n in notes)


def test_documents_without_text_are_said_at_init(tmp_path):
    rows = read_jsonl(dataset_path("huffpost-mini"))[:300]
    records = [{"id": r["id"], "text": "" if n % 3 == 0 else r["text"]}
               for n, r in enumerate(rows)]
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    _, _, notes = _written(tmp_path, corpus)
    assert "100 documents of 300 (33.3%) have no text in 'text': they get no topic" in notes[1]


def test_a_label_header_with_a_space_after_it_is_still_the_label(tmp_path, ng_records):
    """A spreadsheet's 'Category ' was passed over as no label-named field (new-user audit of
    2026-12-04); the grid names the header as written, which the corpus reader reads."""
    rows = [{"text": r["text"], "Category ": r["label"]} for r in ng_records[:300]]
    corpus = tmp_path / "posts.csv"
    pd.DataFrame(rows).to_csv(corpus, index=False)
    path, grid, _ = _written(tmp_path, corpus, models=["lda"])
    assert grid["dataset"]["label_field"] == "Category "
    assert check_inputs(load_grid(path)).truth is not None


def test_labels_that_differ_only_in_case_are_said_at_init(tmp_path, ng_records):
    """Six classes of three ("POLITICS" and "politics") went to num_topics 6 and 12, said only
    by validate (new-user audit of 2026-12-04)."""
    rows = [{"text": r["text"], "label": r["label"].upper() if n % 2 else r["label"]}
            for n, r in enumerate(ng_records[:300])]
    corpus = tmp_path / "posts.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    _, _, notes = _written(tmp_path, corpus, models=["lda"])
    [said] = [n for n in notes if "differ only in case" in n]
    assert said.startswith("label_field 'label': labels that differ only in case are classes "
                           "of their own (")


def test_labels_that_mix_codes_and_names_are_said_at_init(tmp_path, ng_records):
    """A category column of codes "0" to "4" in some rows and names in the rest (new-user audit
    of 2026-12-04)."""
    groups = sorted({r["label"] for r in ng_records[:300]})
    rows = [{"text": r["text"],
             "label": str(groups.index(r["label"])) if n % 3 == 0 else r["label"]}
            for n, r in enumerate(ng_records[:300])]
    corpus = tmp_path / "posts.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    _, _, notes = _written(tmp_path, corpus, models=["lda"])
    [said] = [n for n in notes if "mix numbers and names" in n]
    assert said.startswith("label_field 'label': labels mix numbers and names: ")


def test_no_more_text_fields_are_joined_than_a_grid_takes(tmp_path, ng_records):
    """A survey of 12 free-text answers: the 10 longest are joined, as a grid's text_field
    takes 10 at most (the grid was refused otherwise)."""
    rows = [{f"answer{k}": " ".join(r["text"].split()[k * 6:k * 6 + 6 + k]) for k in range(12)}
            | {"label": r["label"]} for r in ng_records[:200]]
    corpus = tmp_path / "survey.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    path, grid, _ = _written(tmp_path, corpus, models=["lda"])
    assert grid["dataset"]["text_field"] == [f"answer{k}" for k in range(2, 12)]
    check_inputs(load_grid(path))


def test_headlines_beside_long_documents_get_no_short_text_model(tmp_path, ng_records):
    """800 headlines beside 58 joined UN speeches had a median of 30 tokens and got BTM, whose
    first trials had not ended after 3.5 minutes where LDA's took 30 s (new-user audit of
    2026-12-04): the long documents hold most of the words."""
    headlines = [{"id": r["id"], "text": r["text"].split("\n")[0]}
                 for r in read_jsonl(dataset_path("huffpost-mini"))[:300]]
    joined = [{"id": f"long-{n}",
               "text": " ".join(r["text"] for r in ng_records[n * 20:n * 20 + 20])}
              for n in range(15)]
    corpus = tmp_path / "mixed.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in headlines + joined), encoding="utf-8")
    _, grid, notes = _written(tmp_path, corpus)
    assert "btm" not in grid["models"] and "prodlda" in grid["models"]
    assert "long texts (median " in notes[0] and "so models for long texts are chosen" in notes[0]
    _, named, notes = _written(tmp_path, corpus, models=["btm", "lda"])  # the user's choice
    assert "btm" in named["models"] and "models for long texts" not in notes[0]
    short = tmp_path / "short.jsonl"
    short.write_text("".join(json.dumps(r) + "\n" for r in headlines), encoding="utf-8")
    assert "btm" in _written(tmp_path, short)[1]["models"]
