"""A served inline sweep reads its files only under the server's data roots, at every read and
not only when the POST validated them; and a data file that changed after validation is never
quoted by a worker (audit of 2026-12-01: a ground-truth file replaced by a link after the POST
was read from outside, and the ids it held were quoted in the trial's tuner.error tag)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from tests.conftest import make_grid, write_jsonl
from tuner.data.confine import confined
from tuner.data.embeddings import resolve_model_path
from tuner.engine import worker
from tuner.engine.sweep import check_inputs, precompute
from tuner.engine.worker import load_trial_data
from tuner.errors import CacheError, DataError, EmbeddingModelError
from tuner.grid import load_grid
from tuner.trial import TrialSpec

SECRET = "zqxOUTSIDEq7"  # only in files outside the roots, or in a changed file


def test_a_path_is_read_where_it_resolves_when_it_stays_under_the_roots(tmp_path: Path) -> None:
    root = tmp_path / "data"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "corpus.jsonl").write_text("{}")
    (root / "alias.jsonl").symlink_to(root / "sub" / "corpus.jsonl")
    assert confined(root / "alias.jsonl", (str(root),), "dataset.path") == \
        root / "sub" / "corpus.jsonl"
    assert confined("relative/name", (), "dataset.path") == Path("relative/name")  # no roots


def test_a_file_or_folder_that_now_leads_outside_is_not_read(tmp_path: Path) -> None:
    root, outside = tmp_path / "data", tmp_path / f"{SECRET}-elsewhere"
    root.mkdir()
    outside.mkdir()
    (outside / "truth.json").write_text("{}")
    (root / "truth.json").symlink_to(outside / "truth.json")
    (root / "model").mkdir()
    (root / "model" / "config.json").symlink_to(outside / "truth.json")
    prefix = tmp_path / "data2"  # a root's name is not a prefix of another folder's
    prefix.mkdir()
    (prefix / "x.jsonl").write_text("{}")
    for path, field in [(root / "truth.json", "ground_truth"), (root / "model", "embedding.model"),
                        (prefix / "x.jsonl", "dataset.path")]:
        with pytest.raises(DataError, match=f"{field} now leads outside") as refused:
            confined(path, (str(root),), field)
        assert SECRET not in str(refused.value)  # the target is never named


def test_a_corpus_folder_is_read_only_while_every_file_stays_under_the_roots(
        tmp_path: Path) -> None:
    """A corpus folder's files are its documents: one linked outside is refused as a linked
    model file is, and a corpus may hold more files than a model folder may."""
    from tuner.data.confine import MAX_MODEL_FILES

    root, outside = tmp_path / "data", tmp_path / f"{SECRET}-elsewhere"
    (root / "corpus" / "news").mkdir(parents=True)
    outside.mkdir()
    for n in range(MAX_MODEL_FILES + 1):
        (root / "corpus" / "news" / f"{n}.txt").touch()
    assert confined(root / "corpus", (str(root),), "dataset.path") == root / "corpus"
    (outside / "post.txt").write_text(SECRET)
    (root / "corpus" / "news" / "post.txt").symlink_to(outside / "post.txt")
    with pytest.raises(DataError, match="dataset.path now leads outside") as refused:
        confined(root / "corpus", (str(root),), "dataset.path")
    assert SECRET not in str(refused.value)


def test_a_corpus_file_is_checked_where_it_is_opened_not_where_it_was_listed(
        tmp_path: Path) -> None:
    """Between the check of a folder's paths and the read of its files, a document swapped for
    a link to a file outside the roots was read, and one swapped for a FIFO hung the request
    (attacker audit of 2026-12-04). The read checks the file it opened: here the swap is
    already made when the read is asked for, as a racing swap would be."""
    import os

    from tuner.data.corpus import DatasetSpec, _file_text, load_corpus

    root, outside = tmp_path / "data", tmp_path / f"{SECRET}-elsewhere"
    (root / "corpus" / "news").mkdir(parents=True)
    outside.mkdir()
    (outside / "post.txt").write_text(SECRET)
    (root / "corpus" / "news" / "kept.txt").write_text("a post under the roots")
    swapped = root / "corpus" / "news" / "swapped.txt"
    swapped.symlink_to(outside / "post.txt")
    spec = DatasetSpec(root / "corpus", label_field=None)
    with pytest.raises(DataError, match="news/swapped.txt now leads outside the server's data "
                                        "roots") as refused:
        load_corpus(spec, (root.resolve(),))
    assert SECRET not in str(refused.value)
    assert SECRET in load_corpus(spec).texts[1]  # a sweep the user runs follows its links
    swapped.unlink()
    os.mkfifo(swapped)  # listed as a document's name, opened without blocking
    with pytest.raises(DataError, match="news/swapped.txt is not a regular file"):
        _file_text(swapped, root / "corpus", "news/swapped.txt", (root.resolve(),))


def test_a_data_file_is_read_as_the_file_checked_however_often_it_is_opened(
        tmp_path: Path) -> None:
    """A served sweep's single data files were checked by path, then read by path (a CSV up to
    four times): a file replaced by a link between the two was read from outside the roots
    (left open by the attacker audit of 2026-12-04). Now the file is opened once, checked as
    opened, and every read goes to that open file."""
    import os

    from tuner.data.confine import pinned
    from tuner.data.corpus import read_records

    root, outside = tmp_path / "data", tmp_path / f"{SECRET}-elsewhere"
    root.mkdir()
    outside.mkdir()
    roots = (root.resolve(),)
    (outside / "corpus.csv").write_text(f"id,text\n1,{SECRET}\n")
    corpus = root / "corpus.csv"
    corpus.write_text("id,text\n1,a post under the roots\n2,another\n")
    with pinned(corpus, roots, "dataset.path") as source:
        corpus.unlink()
        corpus.symlink_to(outside / "corpus.csv")  # swapped after the check, before the reads
        assert SECRET not in source.read_text() and "another" in source.read_text()
    with pytest.raises(DataError, match="dataset.path now leads outside") as refused:
        read_records(corpus, roots)
    assert SECRET not in str(refused.value)
    assert read_records(corpus)[0]["text"] == SECRET  # a sweep the user runs follows its links

    (outside / "truth.json").write_text(json.dumps({SECRET: ["1"]}))
    (root / "truth.json").symlink_to(outside / "truth.json")
    from tuner.data.corpus import Corpus
    from tuner.data.ground_truth import load_ground_truth

    documents = Corpus(["1"], ["a post"], None, None, source="corpus.csv")
    with pytest.raises(DataError, match="ground_truth now leads outside") as refused:
        load_ground_truth(root / "truth.json", documents, roots)
    assert SECRET not in str(refused.value)

    with pytest.raises(DataError, match="dataset.path cannot be read"), \
            pinned(root / "gone.csv", roots, "dataset.path"):
        pass  # removed before the open: refused, never read by its path afterwards (review)
    fifo = root / "fifo.csv"
    os.mkfifo(fifo)  # a FIFO put in a file's place is refused, not waited on
    with pytest.raises(DataError, match="dataset.path is not a regular file"), \
            pinned(fifo, roots, "dataset.path"):
        pass


def test_a_pinned_files_problems_name_its_path(tmp_path: Path, ng_records: list[dict]) -> None:
    """Read through /proc/self/fd, a file's problems still name the file the grid gave, and
    every format reads as it does unconfined."""
    import pandas as pd

    from tuner.data.corpus import read_records

    root = tmp_path / "data"
    root.mkdir()
    roots = (root.resolve(),)
    records = [{"id": r["id"], "text": r["text"][:200]} for r in ng_records[:5]]
    pd.DataFrame(records).to_csv(root / "c.csv", index=False)
    pd.DataFrame(records).to_csv(root / "c.tsv", index=False, sep="\t")
    pd.DataFrame(records).to_parquet(root / "c.parquet")
    write_jsonl(root / "c.jsonl", records)
    (root / "c.txt").write_text("\n".join(r["text"].replace("\n", " ") for r in records))
    for name in ("c.csv", "c.tsv", "c.parquet", "c.jsonl", "c.txt"):
        assert read_records(root / name, roots) == read_records(root / name), name
    (root / "nul.csv").write_bytes(b"id,text\n1,a\x00b\n")
    with pytest.raises(DataError) as refused:
        read_records(root / "nul.csv", roots)
    assert str(refused.value).startswith(f"{root / 'nul.csv'}: cannot be read as csv: line 2 "
                                         "holds a NUL byte")
    assert "/proc/" not in str(refused.value)


@pytest.fixture()
def served(tmp_path: Path, ng_records: list[dict]) -> tuple[Path, TrialSpec]:
    """An LDA trial prepared as `tuner serve` prepares an inline grid's: its ground truth in a
    data root, and the roots in its inputs."""
    root = tmp_path / "data"
    records = ng_records[:60]
    corpus = write_jsonl(root / "corpus.jsonl", records)
    truth = {label: [r["id"] for r in records if r["label"] == label]
             for label in sorted({r["label"] for r in records})}
    (root / "truth.json").write_text(json.dumps(truth))
    grid = load_grid(make_grid(tmp_path, corpus, ground_truth=str(root / "truth.json"),
                               params={"num_topics": 5, "vocab_size": 1000}))
    inputs = check_inputs(grid, roots=(str(root.resolve()),))
    trial = precompute(grid, inputs, tmp_path / "cache", progress=False).trials[0]
    assert trial.data.roots == (str(root.resolve()),)
    worker._STATE.data.clear()
    return root, trial


def test_a_worker_reads_a_served_sweeps_files_only_under_its_roots(
        tmp_path: Path, served: tuple[Path, TrialSpec]) -> None:
    root, trial = served
    assert load_trial_data(trial.data).labels is not None  # before: read as validated
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps({SECRET: [f"{SECRET}-doc"]}))
    (root / "truth.json").unlink()
    (root / "truth.json").symlink_to(outside)
    worker._STATE.data.clear()
    with pytest.raises(DataError, match="ground_truth now leads outside") as refused:
        load_trial_data(trial.data)
    assert SECRET not in str(refused.value)
    (root / "corpus.jsonl").rename(root / "moved.jsonl")
    (root / "corpus.jsonl").symlink_to(outside)
    with pytest.raises(DataError, match="dataset.path now leads outside"):
        load_trial_data(trial.data)


def test_a_data_file_changed_since_validation_is_not_quoted(
        served: tuple[Path, TrialSpec]) -> None:
    """Inside the roots too: the loaders' own messages would list the unknown or repeated ids."""
    root, trial = served
    (root / "truth.json").write_text(json.dumps({"a": [f"{SECRET}-doc"]}))
    with pytest.raises(CacheError, match="truth.json changed since the sweep started") as told:
        load_trial_data(trial.data)
    assert SECRET not in str(told.value) and told.value.__cause__ is None
    lines = (root / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    repeated = json.dumps({**json.loads(lines[0]), "id": f"{SECRET}-id"})
    (root / "corpus.jsonl").write_text("\n".join([*lines, repeated, repeated]) + "\n",
                                       encoding="utf-8")
    with pytest.raises(CacheError, match="corpus.jsonl changed since the sweep started") as told:
        load_trial_data(trial.data)
    assert SECRET not in str(told.value)


def test_a_sweep_the_user_runs_keeps_the_loaders_message(
        tmp_path: Path, served: tuple[Path, TrialSpec]) -> None:
    """Without roots (the CLI, Dask) nothing is hidden: a worker that cannot see the file (a
    Dask worker on another machine) is told it is not found, not that it changed."""
    root, trial = served
    (root / "corpus.jsonl").rename(tmp_path / "elsewhere.jsonl")
    with pytest.raises(DataError, match="dataset file not found"):
        load_trial_data(dataclasses.replace(trial.data, roots=()))


def test_validation_reads_a_served_grids_files_only_under_its_roots(
        tmp_path: Path, served: tuple[Path, TrialSpec]) -> None:
    """The service checked the paths, then load_grid and check_inputs read them again: a file
    replaced by a link in between was read from outside at the POST (review of 2026-12-01)."""
    root, _ = served
    grid = load_grid(tmp_path / "grid.json")
    outside = tmp_path / "outside.json"
    outside.write_text((root / "truth.json").read_text(encoding="utf-8"))  # it would validate
    (root / "truth.json").unlink()
    (root / "truth.json").symlink_to(outside)
    with pytest.raises(DataError, match="ground_truth now leads outside"):
        check_inputs(grid, roots=(str(root.resolve()),))
    assert check_inputs(grid).truth is not None  # a sweep the user runs reads what it names


def test_a_revision_problem_keeps_its_own_field(tmp_path: Path, ng_records: list[dict]) -> None:
    """The grid file is named before every embedding model problem; one that names
    embedding.revision is not also called embedding.model (review of 2026-12-01)."""
    corpus = write_jsonl(tmp_path / "corpus.jsonl", ng_records[:60])
    model = str(resolve_model_path("sentence-transformers/all-MiniLM-L6-v2"))
    path = make_grid(tmp_path, corpus, models=["bertopic"], params={"vocab_size": 1000},
                     embedding={"model": model, "pooling": "mean", "revision": "main"})
    with pytest.raises(EmbeddingModelError, match=f"^{path}: embedding.revision: 'main'"):
        check_inputs(load_grid(path))

