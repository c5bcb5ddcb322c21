"""Shared fixtures: the real corpora bundled in datasets/, the offline MiniLM, caches built once."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import pytest

from tuner.engine.jit import enable_jit_cache

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Locks of sweeps on a tracking server live in $TUNER_LOCK_DIR: keep the tests' out of ~/.cache.
os.environ.setdefault("TUNER_LOCK_DIR", tempfile.mkdtemp(prefix="tuner-test-locks-"))
# One numba cache for every sweep of the session (tuner's workers use NUMBA_CACHE_DIR when it is
# set, else their cache folder's): a test's fresh cache folder otherwise compiled UMAP's and BTM's
# code again in its workers, 10 to 30 s a sweep. tests/tuner/test_jit.py tests the folder itself.
os.environ.setdefault("NUMBA_CACHE_DIR", tempfile.mkdtemp(prefix="tuner-test-numba-"))
enable_jit_cache(Path(os.environ["NUMBA_CACHE_DIR"]))  # in-process fits fill it for the workers

REPO = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent


DATASETS = REPO / "datasets"  # the bundled corpora: a plain clone has all the tests read


def dataset_path(name: str) -> Path:
    """`datasets/<name>/corpus.jsonl` of the repository."""
    path = DATASETS / name / "corpus.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: bundled corpus missing; see datasets/README.md")
    return path


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def stratified_subset(records: list[dict], per_label: int, labels: int | None = None) -> list[dict]:
    """The first `per_label` records of each label (file order), for the first `labels` labels."""
    by_label: dict[str, list[dict]] = defaultdict(list)
    for record in records:
        by_label[record["label"]].append(record)
    chosen = sorted(by_label)[:labels] if labels else sorted(by_label)
    keep = {id(r) for label in chosen for r in by_label[label][:per_label]}
    return [r for r in records if id(r) in keep]


@pytest.fixture(scope="session")
def ng_records() -> list[dict]:
    return read_jsonl(dataset_path("20ng-mini"))


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory: pytest.TempPathFactory, ng_records: list[dict]) -> Path:
    """400 real 20 Newsgroups posts, 20 per label, with the shortest and the longest post."""
    folder = tmp_path_factory.mktemp("corpus")
    return write_jsonl(folder / "corpus.jsonl", with_untidy_documents(
        stratified_subset(ng_records, 20), ng_records))


def with_untidy_documents(subset: list[dict], records: list[dict]) -> list[dict]:
    """The subset with 20NG's shortest post (7 chars) and its 160 kB uuencoded post swapped in
    for another post of the same label: real noise every trainer test must survive."""
    def size(record: dict) -> int:
        return len(record["text"])

    untidy = [min(records, key=size), max(records, key=size)]
    chosen = list(subset)
    for record in untidy:
        if record in chosen:
            continue
        index = next(i for i, r in enumerate(chosen) if r["label"] == record["label"]
                     and r not in untidy)
        chosen[index] = record
    return chosen


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache folder for the whole session, so embeddings are computed once."""
    return tmp_path_factory.mktemp("embedding_cache")


def make_grid(folder: Path, corpus: Path, **overrides: object) -> Path:
    """Write a grid file for `corpus` into `folder`; `overrides` replace top-level fields."""
    grid: dict[str, object] = {
        "experiment": "test",
        "dataset": {"path": str(corpus), "text_field": "text", "id_field": "id",
                    "label_field": "label", "language": "en"},
        "ground_truth": None,
        "models": ["lda"],
        "params": {"num_topics": 5, "vocab_size": 1000, "lda.max_iter": 10},
        # a document's first 128 tokens, whatever auto would choose: the windows took 4 times as
        # long on 400 20NG posts; tests/tuner/test_long_documents.py tests them
        "embedding": {"model": "sentence-transformers/all-MiniLM-L6-v2", "pooling": "mean",
                      "max_length": 128, "long_documents": "start"},
        "seeds": [1],
        "metrics": {"npmi_window": 10, "topn": 10, "diversity_topn": 25},
    }
    grid.update(overrides)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "grid.json"
    path.write_text(json.dumps(grid, indent=1), encoding="utf-8")
    return path


_STORE_TEMPLATE: list[Path] = []  # the session's empty store, made on first use


def sqlite_store(database: Path) -> str:
    """The URI of a SQLite MLflow store at `database`, made (when it is not there yet) as a copy
    of an empty store that tuner's own `open_client` made once this session. Making a store runs
    MLflow's migrations, 2.5 to 5 s on a 2-core host, which each test paid that was not about
    making stores (over 50 of them); test_trust.py and test_reliability.py test the making
    itself, and tests of commands that must not make a store give a URI of their own."""
    if not _STORE_TEMPLATE:
        from tuner.tracking.tracker import open_client

        template = Path(tempfile.mkdtemp(prefix="tuner-test-store-")) / "mlflow.db"
        open_client(f"sqlite:///{template}")
        _STORE_TEMPLATE.append(template)
    if not database.exists():
        database.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_STORE_TEMPLATE[0], database)
    return f"sqlite:///{database}"


def run_sweep(grid: Path, uri: str, cache: Path, *options: str
              ) -> subprocess.CompletedProcess[str]:
    """`tuner run GRID` as a user runs it: its own process, one worker, the given store and
    cache; fails the test with the command's last stderr lines if it does not succeed."""
    done = subprocess.run([sys.executable, "-m", "tuner.cli", "run", str(grid), "--tracking-uri",
                           uri, "--max-workers", "1", "--cache-dir", str(cache), *options],
                          capture_output=True, text=True, cwd=REPO, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr[-2000:]
    return done


@pytest.fixture(scope="session")
def prepared_small(tmp_path_factory: pytest.TempPathFactory, small_corpus: Path,
                   session_cache: Path):
    """The small corpus precomputed once: bag of words (1000 words), co-occurrence, MiniLM."""
    from tuner.engine.sweep import check_inputs, precompute
    from tuner.grid import load_grid

    grid_path = make_grid(tmp_path_factory.mktemp("grid"), small_corpus,
                          models=["lda", "bertopic"], params={"num_topics": 5, "vocab_size": 1000})
    grid = load_grid(grid_path)
    return precompute(grid, check_inputs(grid), session_cache, progress=False)


@pytest.fixture(scope="session")
def small_data(prepared_small):
    """TrialData for trainer tests: what a worker would load for the small corpus."""
    from tuner.engine.worker import load_trial_data

    bertopic_trial = next(t for t in prepared_small.trials if t.model == "BERTopic")
    return load_trial_data(bertopic_trial.data)


HUFFPOST_MINI = DATASETS / "huffpost-mini" / "corpus.jsonl"


@pytest.fixture(scope="session")
def huffpost_data(tmp_path_factory: pytest.TempPathFactory, session_cache: Path):
    """TrialData of datasets/huffpost-mini (1,000 dated headlines, MiniLM embeddings), as a
    worker loads it: the short-text corpus."""
    from tuner.engine.sweep import check_inputs, precompute
    from tuner.engine.worker import load_trial_data
    from tuner.grid import load_grid

    dataset = {"path": str(HUFFPOST_MINI), "text_field": "text", "id_field": "id",
               "label_field": "label", "timestamp_field": "timestamp", "language": "en"}
    grid_path = make_grid(tmp_path_factory.mktemp("huffpost"), HUFFPOST_MINI, dataset=dataset,
                          models=["dtm", "theta"], params={"num_topics": 5, "vocab_size": 1000})
    grid = load_grid(grid_path)
    prepared = precompute(grid, check_inputs(grid), session_cache, progress=False)
    theta_trial = next(t for t in prepared.trials if t.model == "THETA")
    return load_trial_data(theta_trial.data)
