"""BERTopic's extension knobs: k-means with num_topics as k, outlier reduction, HDBSCAN and UMAP
settings, and the rule that k-means needs num_topics."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REPO
from trainers import load_trainer
from trainers.base import import_without
from tuner.data.inputs import FitContext


def fit_bertopic(data, cache_dir, **params):
    trainer = load_trainer("BERTopic")
    full = trainer.params.with_defaults({"vocab_size": 1000, **params})
    return trainer().fit(data, full, FitContext(seed=3, top_n=10, cache_dir=str(cache_dir)))


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("umap")


def test_kmeans_finds_exactly_num_topics_and_no_outliers(small_data, cache):
    from trainers.base import empty_documents

    output = fit_bertopic(small_data, cache, clustering="kmeans", num_topics=7)
    assert output.num_topics == 7
    empty = empty_documents(small_data)  # 20NG's shortest post keeps no word: in no topic
    assert (output.assignments[~empty] >= 0).all() and (output.assignments[empty] == -1).all()


def test_hdbscan_topics_merge_to_num_topics_with_outliers_aside(small_data, cache):
    """BERTopic's nr_topics counts its outlier topic, so num_topics 6 gave 5 topics whenever
    HDBSCAN left outliers (audit of 2026-12-02)."""
    leaf = {"min_cluster_size": 5, "cluster_selection_method": "leaf"}  # many clusters, outliers
    found = fit_bertopic(small_data, cache, **leaf)
    assert found.num_topics > 6 and (found.assignments < 0).any()
    merged = fit_bertopic(small_data, cache, **leaf, num_topics=6)
    assert merged.num_topics == 6 == len(set(merged.assignments.tolist()) - {-1})
    assert (merged.assignments < 0).sum() == (found.assignments < 0).sum()  # outliers stay


@pytest.mark.parametrize("strategy", ["c-tf-idf", "embeddings", "distributions"])
def test_reduce_outliers_assigns_hdbscan_outliers(small_data, cache, strategy):
    leaf = {"min_cluster_size": 5, "cluster_selection_method": "leaf"}  # leaves many outliers
    plain = fit_bertopic(small_data, cache, **leaf)
    reduced = fit_bertopic(small_data, cache, **leaf, reduce_outliers=strategy)
    outliers = plain.extras["outliers_before_reduction"] + plain.extras["wordless_outliers"]
    assert outliers == int((plain.assignments < 0).sum()) > 0
    assert (reduced.assignments < 0).sum() < (plain.assignments < 0).sum()


def test_leaf_selection_and_umap_settings_change_the_clustering(small_data, cache):
    eom = fit_bertopic(small_data, cache, min_cluster_size=10)
    leaf = fit_bertopic(small_data, cache, min_cluster_size=10, cluster_selection_method="leaf",
                        min_dist=0.1, metric="euclidean")
    assert leaf.extras["umap_cache_hit"] == 0  # other UMAP settings: a new reduction
    assert not np.array_equal(eom.assignments, leaf.assignments)


def test_kmeans_without_num_topics_is_rejected():
    problems = load_trainer("BERTopic").params.validate({"clustering": "kmeans"})
    assert problems == ["BERTopic requires num_topics when clustering is kmeans; got "
                        "clustering='kmeans', num_topics=None"]


def test_min_cluster_size_range_is_widened_beyond_100():
    schema = load_trainer("BERTopic").params
    assert schema.validate({"min_cluster_size": 300, "num_topics": 200}) == []
    assert schema.validate({"min_cluster_size": 1001}) == [
        "BERTopic expects an int in 2-1000; got 1001"]


def test_reduce_frequent_words_ranks_words_frequent_everywhere_lower(small_data, cache):
    """The same clusters (one cached reduction, k-means): only the topic words change, and the
    square root of the counts lowers the words that top many topics, so the topics list more
    distinct words."""
    plain = fit_bertopic(small_data, cache, clustering="kmeans", num_topics=7)
    reduced = fit_bertopic(small_data, cache, clustering="kmeans", num_topics=7,
                           reduce_frequent_words=True)
    bm25 = fit_bertopic(small_data, cache, clustering="kmeans", num_topics=7, bm25_weighting=True)
    assert np.array_equal(plain.assignments, reduced.assignments)
    assert reduced.topic_words != plain.topic_words and bm25.topic_words != plain.topic_words
    assert distinct_words(reduced) > distinct_words(plain)


def test_reduce_frequent_words_holds_after_outlier_reduction(small_data, cache, monkeypatch):
    """update_topics recomputes c-TF-IDF once outliers are reassigned: with the same options."""
    from bertopic import BERTopic

    given = []
    update = BERTopic.update_topics

    def recording(self, *args, **kwargs):
        given.append(kwargs["ctfidf_model"])
        return update(self, *args, **kwargs)

    monkeypatch.setattr(BERTopic, "update_topics", recording)
    fit_bertopic(small_data, cache, min_cluster_size=5, cluster_selection_method="leaf",
                 reduce_outliers="c-tf-idf", reduce_frequent_words=True)
    assert [m.reduce_frequent_words for m in given] == [True]


def distinct_words(output):
    return len({w for topic in output.topic_words for w in topic})


LITE_OR_FULL = """
import json, pickle, sys
from pathlib import Path
from tuner.engine.jit import enable_jit_cache

mode, ref_file, cache, jit = sys.argv[1:5]
enable_jit_cache(Path(jit))  # as a pool worker does first
if mode == "lite":
    from tuner.engine.worker import warm_up
    warm_up(("BERTopic",))  # a worker's imports before its first trial
else:
    import bertopic  # transformers and sentence-transformers with it
from trainers import load_trainer
from tuner.data.inputs import FitContext
from tuner.engine.worker import load_trial_data

with open(ref_file, "rb") as f:
    data = load_trial_data(pickle.load(f))
trainer = load_trainer("BERTopic")
params = trainer.params.with_defaults({"vocab_size": 1000, "min_cluster_size": 5,
                                       "num_topics": 6, "reduce_outliers": "c-tf-idf"})
out = trainer().fit(data, params, FitContext(seed=3, top_n=10, cache_dir=cache))
print(json.dumps({"words": out.topic_words, "assignments": out.assignments.tolist(),
                  "extras": sorted(m for m in ("transformers", "sentence_transformers")
                                   if m in sys.modules)}))
"""


def test_a_fit_without_bertopics_transformer_extras_gives_the_same_topics(
        prepared_small, small_data, cache, tmp_path):
    """A worker's warm-up imports bertopic through trainers.bertopic_lite, without transformers
    and sentence-transformers (2.7 s of each worker's import); a fit must give the same answer as
    with them. The UMAP reduction is cached first, and both processes share the numba cache a
    pool's workers would use."""
    from tuner.engine.executors import jit_folder

    fit_bertopic(small_data, cache, min_cluster_size=5, num_topics=6)  # caches the UMAP step
    ref = tmp_path / "ref.pkl"
    ref.write_bytes(pickle.dumps(next(t.data for t in prepared_small.trials
                                      if t.model == "BERTopic")))
    processes = {mode: subprocess.Popen(  # at once: each spends most of its time importing
        [sys.executable, "-c", LITE_OR_FULL, mode, str(ref), str(cache), jit_folder(cache)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
        for mode in ("lite", "full")}
    results = {}
    for mode, process in processes.items():
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        results[mode] = json.loads(out.strip().splitlines()[-1])
    assert results["lite"].pop("extras") == []
    assert results["full"].pop("extras") == ["sentence_transformers", "transformers"]
    assert results["lite"] == results["full"]


def test_import_without_hides_extras_only_while_importing(tmp_path, monkeypatch):
    """A package's optional import falls back as in its lightweight install; the extra stays
    importable afterwards; a package that needs the extra is imported in full, its half-imported
    submodules forgotten; an extra already loaded is used, not hidden."""
    (tmp_path / "tuner_extra_lib.py").write_text("VALUE = 1\n")
    optional_user = ("try:\n    import tuner_extra_lib\n    HAS = True\n"
                     "except ModuleNotFoundError:\n    HAS = False\n")
    (tmp_path / "tuner_optional_user.py").write_text(optional_user)
    needy = tmp_path / "tuner_needy_pkg"
    needy.mkdir()
    (needy / "__init__.py").write_text("from tuner_needy_pkg import good, bad\n")
    (needy / "good.py").write_text(optional_user)  # its fallback taken in the failed attempt
    (needy / "bad.py").write_text("import tuner_extra_lib\n")
    (tmp_path / "tuner_peeking_user.py").write_text(  # as scipy's array-API helpers do
        "import sys\nPEEK = sys.modules['tuner_extra_lib'].VALUE "
        "if 'tuner_extra_lib' in sys.modules else None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    names = ("tuner_extra_lib", "tuner_optional_user", "tuner_needy_pkg",
             "tuner_needy_pkg.good", "tuner_needy_pkg.bad", "tuner_peeking_user")
    for name in names:
        monkeypatch.delitem(sys.modules, name, raising=False)
    extra = ["tuner_extra_lib"]
    try:
        peeking = import_without("tuner_peeking_user", "p", "X", extra)  # AttributeError first
        assert peeking.PEEK is None and "tuner_extra_lib" not in sys.modules
        optional = import_without("tuner_optional_user", "p", "X", extra)
        assert optional.HAS is False
        assert "tuner_extra_lib" not in sys.modules
        assert import_without("tuner_optional_user", "p", "X", extra) is optional  # imported
        package = import_without("tuner_needy_pkg", "p", "X", extra)
        assert package.good.HAS is True  # imported again, not kept from the failed attempt
        assert sys.modules["tuner_extra_lib"].VALUE == 1
        sys.modules.pop("tuner_optional_user")
        assert import_without("tuner_optional_user", "p", "X", extra).HAS is True  # loaded
    finally:
        for name in names:
            sys.modules.pop(name, None)


def test_too_few_documents_for_umap_is_said_in_words(small_data, cache):
    """Five documents ended in scipy's "Cannot use scipy.linalg.eigh for sparse A with k >= N"
    (audit of 2026-12-01)."""
    import dataclasses

    from tuner.errors import TrainerError

    assert small_data.embeddings is not None
    five = dataclasses.replace(small_data, embeddings=small_data.embeddings[:5])
    with pytest.raises(TrainerError, match=r"needs at least 16 documents for n_neighbors 15 and "
                                           r"n_components 5; the corpus has 5"):
        fit_bertopic(five, cache)


@pytest.mark.parametrize("strategy", ["none", "c-tf-idf"])
def test_no_cluster_at_all_is_said_in_words_whatever_the_outlier_reduction(small_data, cache,
                                                                         strategy):
    """With every document an outlier, c-TF-IDF reduction ended in scikit-learn's "Found array
    with 0 sample(s)" (audit of 2026-12-01)."""
    from tuner.errors import TrainerError

    assert small_data.embeddings is not None
    with pytest.raises(TrainerError, match="put every document in the outlier topic -1"):
        fit_bertopic(small_data, cache, min_cluster_size=len(small_data.embeddings) + 1,
                     reduce_outliers=strategy)


@pytest.fixture(scope="module")
def with_wordless(tmp_path_factory, small_corpus, session_cache):
    """The small corpus and 60 texts with no word left after preprocessing: empty, stop words
    only, numbers only. Their embeddings lie close together, so they form clusters."""
    from tests.conftest import make_grid, read_jsonl, write_jsonl
    from tuner.engine.sweep import check_inputs, precompute
    from tuner.engine.worker import load_trial_data
    from tuner.grid import load_grid

    junk = ["", "the and of to is it was", "12 345 2020 3.14 99%"]
    records = read_jsonl(small_corpus) + [
        {"id": f"junk{i}", "text": junk[i % 3], "label": "junk"} for i in range(60)]
    folder = tmp_path_factory.mktemp("wordless")
    grid = load_grid(make_grid(folder, write_jsonl(folder / "corpus.jsonl", records),
                               models=["bertopic"], params={"vocab_size": 1000}))
    prepared = precompute(grid, check_inputs(grid), session_cache, progress=False)
    return load_trial_data(prepared.trials[0].data)


@pytest.mark.parametrize("clustering", [{"reduce_outliers": "c-tf-idf"},
                                        {"clustering": "kmeans", "num_topics": 8}])
def test_documents_with_no_word_are_outliers_not_topics(with_wordless, cache, clustering):
    """They were clustered into topics of their own whose all-zero c-TF-IDF rows ranked the
    vocabulary's first words, the same list for each (audit of 2026-12-02)."""
    import logging

    from trainers.base import empty_documents

    empty = empty_documents(with_wordless)
    assert empty.sum() >= 60
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logging.getLogger("BERTopic").addHandler(handler)  # BERTopic's logger does not propagate
    try:
        output = fit_bertopic(with_wordless, cache, **clustering)
    finally:
        logging.getLogger("BERTopic").removeHandler(handler)
    # update_topics' warning of custom topics (outliers reassigned) is not the user's concern
    assert not [r for r in records if "custom list of topic" in r.getMessage()]
    assert (output.assignments[empty] == -1).all()
    assert output.extras["wordless_outliers"] == empty.sum()
    assigned = set(output.assignments[~empty].tolist()) - {-1}
    assert assigned == set(range(output.num_topics))  # every topic holds a document with words
    word_lists = [tuple(words) for words in output.topic_words]
    assert len(set(word_lists)) == len(word_lists)
    if "num_topics" in clustering:  # k-means: each of its k clusters holds worded documents
        assert output.num_topics == clustering["num_topics"]


def test_num_topics_is_met_beside_wordless_documents(with_wordless, cache):
    """Clusters of wordless documents were counted in the merge to num_topics, then emptied:
    num_topics 6 gave 3 topics (review of 2026-12-02)."""
    leaf = {"min_cluster_size": 5, "cluster_selection_method": "leaf"}
    for wanted in (5, 8):
        output = fit_bertopic(with_wordless, cache, **leaf, num_topics=wanted)
        assert output.num_topics == wanted == len(set(output.assignments.tolist()) - {-1})
