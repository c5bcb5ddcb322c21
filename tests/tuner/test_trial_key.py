"""Trial keys: what makes a finished trial count as done on a re-run."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, make_grid, sqlite_store
from trainers import trainer_code, trainer_revision
from tuner.data.corpus import corpus_sha256
from tuner.engine.sweep import BagsOfWords, TrialFactory, check_inputs
from tuner.fitting import fit_code
from tuner.grid import load_grid
from tuner.trial import DataRef, MetricSettings, fit_key, trial_key

DATA = DataRef("corpus.jsonl", "sha", "en", "bow/v1000", None, None, None, "label")


def test_a_trainer_revision_changes_the_key():
    plain = trial_key("ETM", {"num_topics": 5}, 1, DATA, MetricSettings())
    assert trial_key("ETM", {"num_topics": 5}, 1, DATA, MetricSettings(), None) == plain
    assert trial_key("ETM", {"num_topics": 5}, 1, DATA, MetricSettings(), 2) != plain


@pytest.mark.parametrize(("model", "revised"), [("etm", True), ("lda", False)])
def test_sweep_keys_carry_the_trainer_revision(small_corpus, tmp_path, model, revised):
    """ETM's results changed with revision 2, so its old finished trials must not be skipped;
    LDA never changed, so its keys stay what they were."""
    grid = load_grid(make_grid(tmp_path, small_corpus, models=[model],
                               params={"num_topics": 5, "vocab_size": 1000}))
    inputs = check_inputs(grid)
    bags = BagsOfWords({(1000, "en"): tmp_path / "bow"})
    factory = TrialFactory(grid, inputs, tmp_path, bags, {})
    spec = factory.make(inputs.plan[0].model, inputs.plan[0].combo, 1)
    code = fit_code(spec.model)  # the code and machine facts a key holds
    unrevised = trial_key(spec.model, spec.params, 1, spec.data, spec.metrics, None, code)
    assert (spec.key != unrevised) is revised


def test_the_code_behind_a_model_is_in_its_key():
    """A plug-in registered under a built-in's name, or another version of a library the
    trainer declares, is another model: its trials are never skipped as the built-in's."""
    builtin = trainer_code("LDA")
    assert builtin["implementation"] == "trainers.lda:LDATrainer"
    assert builtin["tomotopy"] == importlib.metadata.version("tomotopy")
    plain = trial_key("LDA", {"num_topics": 5}, 1, DATA, MetricSettings(), None, builtin)
    for changed in ({**builtin, "implementation": "myplug:OtherLDA"},
                    {**builtin, "tomotopy": "0.0.1"}):
        assert trial_key("LDA", {"num_topics": 5}, 1, DATA, MetricSettings(), None,
                         changed) != plain


def test_a_plug_in_under_a_builtin_name_gets_its_own_keys(monkeypatch):
    monkeypatch.setenv("TUNER_TRAINERS", "LDA=trainers.hdp:HDPTrainer")
    assert trainer_code("LDA")["implementation"] == "trainers.hdp:HDPTrainer"


def _plugin_code(folder: Path) -> dict[str, str]:
    """trainer_code of the plug-in in `folder`, read by a new process (as a new sweep would)."""
    script = ("import json; from trainers import trainer_code; "
              "print(json.dumps(trainer_code('MyLDA')))")
    env = {**os.environ, "TUNER_TRAINERS": "MyLDA=myplug:MyLDA",
           "PYTHONPATH": os.pathsep.join([str(folder), str(REPO)])}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, check=True)
    return json.loads(done.stdout)


def test_an_edited_plug_in_is_another_model(tmp_path):
    """A plug-in's revision is its author's to raise; an edit that changed its fit (eta 0.01 to
    2.0) kept its key, and the re-run skipped the trial with the old code's scores (trust audit
    of 2026-12-03). Its own module's source is in the key; a built-in's is not (its revision)."""
    plugin = tmp_path / "myplug.py"
    body = ("from trainers.lda import LDATrainer\n\n\nclass MyLDA(LDATrainer):\n"
            "    name = 'MyLDA'\n    ETA = {}\n")
    plugin.write_text(body.format(0.01), encoding="utf-8")
    first = _plugin_code(tmp_path)
    assert first["implementation"] == "myplug:MyLDA" and "plugin_source" in first
    assert _plugin_code(tmp_path) == first
    plugin.write_text(body.format(2.0), encoding="utf-8")
    assert _plugin_code(tmp_path)["plugin_source"] != first["plugin_source"]
    assert "plugin_source" not in trainer_code("LDA")


def test_corpora_that_differ_only_in_where_separators_fall_hash_differently():
    """Ids and texts may hold any character: fields are length-prefixed, so moving a separator
    character from one field into the next cannot give two corpora one identity."""
    first = corpus_sha256(["a", "c"], ["b", "d\x01e\x00f"])
    second = corpus_sha256(["a", "e"], ["b\x01c\x00d", "f"])  # the same bytes, once joined
    assert first != second
    assert corpus_sha256(["ab"], ["c"]) != corpus_sha256(["a"], ["bc"])


def test_runs_of_an_older_trainer_revision_leave_the_leaderboard(tmp_path):
    """Kept in the store (nothing is lost) but not ranked: the ETM run made before revision 2
    and a revision-2 ETM run of the same trial; LDA has no revision, its runs always count."""
    from tuner.reporting.leaderboard import leaderboard
    from tuner.tracking.tracker import MlflowTracker

    tracker = MlflowTracker(sqlite_store(tmp_path / "mlflow.db"))
    experiment_id = tracker.experiment_id("revisions")
    current = str(trainer_revision("ETM"))
    for name, model, revision, ari in [("etm-old", "ETM", None, 0.9),
                                       ("etm-new", "ETM", current, 0.2),
                                       ("lda", "LDA", None, 0.5)]:
        tags = {"tuner.role": "trial", "tuner.model": model}
        if revision:
            tags["tuner.revision"] = revision
        run = tracker.client.create_run(experiment_id, run_name=name, tags=tags)
        tracker.client.log_metric(run.info.run_id, "ari", ari)
        tracker.client.set_terminated(run.info.run_id, "FINISHED")
    assert [e.best_trial("ari").run_name for e in leaderboard(tracker, "revisions", "ari")] == \
        ["lda", "etm-new"]
    assert {t.run_name for t in tracker.finished_trials("revisions")} == {"lda", "etm-new"}
    assert len(tracker.trial_runs(experiment_id)) == 3


def test_equivalent_configurations_are_one_trial(small_corpus, tmp_path):
    """`alpha: null` means 1/K: at K=5 it is the same trial as `alpha: 0.2`, run once."""
    from tuner.engine.sweep import precompute

    grid = load_grid(make_grid(tmp_path, small_corpus, models=["lda"],
                               params={"num_topics": 5, "vocab_size": 1000,
                                       "lda.alpha": [None, 0.2, 0.5]}))
    prepared = precompute(grid, check_inputs(grid), tmp_path / "cache", progress=False)
    assert sorted(t.params["alpha"] for t in prepared.trials) == [0.2, 0.5]
    assert prepared.cache_events["equivalent_trials_merged"] == "1"


def test_a_fit_that_reads_no_seed_is_one_trial_for_every_seed(small_corpus, tmp_path):
    """STM's spectral start reads no seed: its grid's three seeds ran three copies of one fit,
    read as ± 0 (new-user audit of 2026-12-04). Its random start reads the seed: three trials."""
    from tuner.engine.sweep import precompute

    grid = load_grid(make_grid(tmp_path, small_corpus, models=["stm"], seeds=[1, 2, 3],
                               params={"num_topics": 5, "vocab_size": 1000,
                                       "stm.init": ["spectral", "random"]}))
    prepared = precompute(grid, check_inputs(grid), tmp_path / "cache", progress=False)
    assert sorted((t.params["init"], t.seed) for t in prepared.trials) == [
        ("random", 1), ("random", 2), ("random", 3), ("spectral", 1)]
    assert prepared.cache_events["equivalent_trials_merged"] == "2"
    assert len({t.config_key for t in prepared.trials}) == 2


def test_vocabulary_sizes_above_the_words_left_are_one_trial(small_corpus, tmp_path):
    """Every size at or above the N words the preprocessing leaves keeps them all: 10,000 and
    20,000 on 400 posts are one bag of words and one trial, keyed and logged as N."""
    from tuner.data.vocab import BowCache
    from tuner.engine.sweep import precompute

    grid = load_grid(make_grid(tmp_path, small_corpus, models=["lda"],
                               params={"num_topics": 5, "vocab_size": [1000, 20000, 10000]}))
    prepared = precompute(grid, check_inputs(grid), tmp_path / "cache", progress=False)
    words = len(BowCache(tmp_path / "cache").load(Path(prepared.trials[-1].data.bow_path)).vocab)
    assert 1000 < words < 10000
    assert sorted(t.params["vocab_size"] for t in prepared.trials) == [1000, words]
    assert prepared.cache_events["equivalent_trials_merged"] == "1"
    assert prepared.cache_events["bow[vocab_size=10000]"].endswith(
        f"; every word the preprocessing leaves: vocab_size={words}")
    assert prepared.cache_events["bow[vocab_size=20000]"] == (
        f"same words as vocab_size={words} (the {words} the preprocessing leaves)")
    assert len([p for p in (tmp_path / "cache" / "bow").iterdir() if p.is_dir()]) == 2


def test_a_later_sweeps_size_above_the_words_left_is_the_earlier_sweeps_trial(small_corpus,
                                                                              tmp_path):
    """vocab_size 19,000 after a sweep at 20,000, both above the words left: the bag was built
    again and the same fit run again, and the board showed two rows of one model (trust audit
    of 2026-12-03). The key is the words' count, whatever the cache held: a sweep on a cache
    without the first one's bags keys its trial alike (review of 2026-12-03)."""
    import shutil

    from tuner.engine.sweep import precompute

    def prepare(sizes, cache="cache"):
        grid = load_grid(make_grid(tmp_path, small_corpus, models=["lda"],
                                   params={"num_topics": 5, "vocab_size": sizes}))
        return precompute(grid, check_inputs(grid), tmp_path / cache, progress=False)

    [earlier] = prepare(20000).trials
    later = prepare([19000, 1000, 19500])
    same = [t for t in later.trials if t.params["vocab_size"] != 1000]
    assert [t.key for t in same] == [earlier.key]
    assert later.cache_events["bow[vocab_size=19000]"].startswith("hit (")
    assert later.cache_events["bow[vocab_size=19500]"].startswith("same words as")
    assert len([p for p in (tmp_path / "cache" / "bow").iterdir() if p.is_dir()]) == 2
    shutil.rmtree(tmp_path / "cache")
    [elsewhere] = prepare(19000, "other-cache").trials
    assert elsewhere.key == earlier.key


def test_a_bag_of_every_word_kept_under_a_larger_size_is_found_as_the_bag_of_its_words(
        small_corpus, tmp_path):
    """A cache from before kept the bag of every word under the size that asked for it: it
    was read as a hit under that folder's key, and the trial got a second key (review of
    2026-12-03). An exact-N size is one bag with the sizes above it, advised on once, and a
    record that disagrees with its bag is passed over."""
    import json as json_module

    from tuner.data.vocab import BowCache, Preprocessing, count_tokens
    from tuner.engine.sweep import precompute

    def prepare(sizes, cache="cache", topics=5, min_df=2):
        grid = load_grid(make_grid(tmp_path, small_corpus, models=["lda"],
                                   params={"num_topics": topics, "vocab_size": sizes},
                                   preprocessing={"min_df": min_df},
                                   metrics={"diversity_topn": 50}))
        return precompute(grid, check_inputs(grid), tmp_path / cache, progress=False)

    [fresh] = prepare(20000, "fresh").trials
    grid = load_grid(make_grid(tmp_path, small_corpus, models=["lda"]))
    corpus, settings = check_inputs(grid).corpus, Preprocessing()
    old = BowCache(tmp_path / "old")
    counts = count_tokens(corpus, settings)
    vocab = counts.vocabulary(20000, settings)
    folder = old.path_for(corpus, 20000, settings)
    old._saved(folder, corpus, 20000, settings, counts.bag_of_words(vocab, folder.name))
    [upgraded] = prepare(20000, "old").trials
    assert upgraded.key == fresh.key
    few = Preprocessing(min_df=4)  # under 100 topics x 50 words: the bound is advised on
    words = len(count_tokens(corpus, few).vocabulary(20000, few))
    assert 1000 <= words < 5000
    merged = prepare([words, 19000], "exact", topics=100, min_df=4)
    assert merged.cache_events["bow[vocab_size=19000]"].startswith("same words as")
    assert len([a for a in merged.advice if "diversity cannot exceed" in a]) == 1
    record = next((tmp_path / "exact" / "bow").glob("every-word-*.json"))
    assert BowCache(tmp_path / "exact").every_word(corpus, few, 20000) is not None
    record.write_text(json_module.dumps({"words": words, "sha256:vocab": "0" * 64}))
    assert BowCache(tmp_path / "exact").every_word(corpus, few, 20000) is None


def test_a_bag_of_few_words_is_described_and_warned_of(small_corpus, tmp_path):
    """300 toutiao headlines kept 180 words, 1.6 a document and a quarter of the documents
    none; the runs logged only the nominal vocab_size, and every model's diversity was 180 /
    (100 x 25), with no word said (audit of 2026-12-01). Here: posts cut to their first words."""
    from tests.conftest import read_jsonl, write_jsonl
    from tuner.data.vocab import BowCache
    from tuner.engine.sweep import precompute

    rows = [{**r, "text": " ".join(r["text"].split()[:3])} for r in read_jsonl(small_corpus)]
    corpus = write_jsonl(tmp_path / "headlines.jsonl", rows)
    grid = load_grid(make_grid(tmp_path, corpus, models=["lda"],
                               params={"num_topics": [5, 100], "vocab_size": 1000}))
    prepared = precompute(grid, check_inputs(grid), tmp_path / "cache", progress=False)
    bow = BowCache(tmp_path / "cache").load(Path(prepared.trials[0].data.bow_path))
    assert bow is not None
    empty = sum(len(bow.doc_ids(d)) == 0 for d in range(bow.n_docs)) / bow.n_docs
    assert empty >= 0.05 and 100 * 25 > len(bow.vocab)
    assert prepared.cache_events["bow[vocab_size=1000]"] == (
        f"computed ({len(bow.vocab)} words, {len(bow.flat) / bow.n_docs:.1f} per document once "
        "stop words and words outside the vocabulary are dropped, "
        f"{empty:.1%} of documents with none); every word the preprocessing leaves: "
        f"vocab_size={len(bow.vocab)}")
    where = f"{grid.path}: vocab_size=1000: "
    assert prepared.advice == [
        where + f"the preprocessing leaves {len(bow.vocab)} words for 100 topics x "
        f"metrics.diversity_topn 25, so diversity cannot exceed {len(bow.vocab) / 2500:.2f} "
        "whatever the model; use fewer topics or a smaller diversity_topn, or keep more words "
        "(preprocessing.min_df below 2, a shorter stop list)",
        where + f"{empty:.0%} of the documents keep no word after preprocessing "
        f"({len(bow.flat) / bow.n_docs:.1f} per document on average); no topic can have them "
        "(they count as outliers). Try preprocessing.min_df 1 or BTM, made for short texts",
        # the pair counts of 400 such headlines are too few to rank models by NPMI (1,200
        # toutiao headlines ranked NVDM above LDA; 20,000 did not; new-user audit of 2026-12-03)
        where + f"NPMI counts its word pairs in these 400 documents alone, "
        f"{len(bow.flat) / bow.n_docs:.1f} words each ({len(bow.flat):,} in all): most pairs of "
        "a topic's words never share a window, so NPMI is a noisy estimate that can rank models "
        "otherwise than a larger corpus would; rank by ari or nmi where there are labels, or "
        "score the best trials' topics (their topics.json) against a larger corpus of such "
        "texts with `tuner score`, given a grid whose dataset is that corpus. The models learn "
        "their topics from these few words too: more documents of this kind, or a longer text "
        "field beside this one, help them more than any setting (LDA on toutiao headlines, "
        "K=15: ARI 0.054 on 2,000, 0.075 on 5,000, 0.193 on 20,000)"]
    again = precompute(grid, check_inputs(grid), tmp_path / "cache", progress=False)
    assert again.cache_events["bow[vocab_size=1000]"].startswith("hit (")
    assert again.advice == prepared.advice
    posts = load_grid(make_grid(tmp_path, small_corpus, models=["lda"],
                                params={"num_topics": 5, "vocab_size": 1000}))
    assert precompute(posts, check_inputs(posts), tmp_path / "cache", progress=False).advice == []


def test_btm_on_long_documents_is_warned_of_with_its_word_pairs(small_corpus, tmp_path):
    """Headlines beside long documents: BTM's trials ran for minutes where LDA's took 30 s,
    unsaid (new-user audit of 2026-12-04). Its pairs are counted from the bag of words."""
    import numpy as np

    from tests.conftest import read_jsonl, write_jsonl
    from tuner.data.vocab import BowCache
    from tuner.engine.sweep import precompute

    rows = read_jsonl(small_corpus)
    rows = [{**r, "text": " ".join(r["text"].split()[:6])} if i % 4 else r
            for i, r in enumerate(rows)]  # a quarter of the posts whole, the rest cut short
    corpus = write_jsonl(tmp_path / "mixed.jsonl", rows)
    grid = load_grid(make_grid(tmp_path, corpus, models=["lda", "btm"],
                               params={"num_topics": 5, "vocab_size": 1000, "btm.n_iter": 10}))
    prepared = precompute(grid, check_inputs(grid), tmp_path / "cache", progress=False)
    [said] = [a for a in prepared.advice if "BTM samples every pair" in a]
    bow = BowCache(tmp_path / "cache").load(Path(prepared.trials[0].data.bow_path))
    assert bow is not None
    lengths = np.diff(np.asarray(bow.offsets))
    pairs = sum(int(np.maximum(lengths - gap, 0).sum()) for gap in range(1, 15))
    assert f"{pairs:,} pairs here" in said
    assert "expect its trials to take several times LDA's" in said
    lda_only = load_grid(make_grid(tmp_path, corpus, models=["lda"],
                                   params={"num_topics": 5, "vocab_size": 1000}))
    advice = precompute(lda_only, check_inputs(lda_only), tmp_path / "cache",
                        progress=False).advice
    assert not any("BTM samples" in a for a in advice)


def test_a_bags_advice_names_only_settings_the_grid_can_still_change(small_corpus, tmp_path):
    """The advice named min_token_len 1 to a grid that had it, BTM to a grid that ran it, and
    not the vocab_size that cut the words (6% of headlines empty at vocab_size 1,000, 2.6% at
    5,000; new-user audit of 2026-12-02)."""
    from tests.conftest import read_jsonl, write_jsonl
    from tuner.engine.sweep import precompute

    rows = [{**r, "text": " ".join(r["text"].split()[60:68])} for r in read_jsonl(small_corpus)]
    corpus = write_jsonl(tmp_path / "headlines.jsonl", rows)
    grid = load_grid(make_grid(tmp_path, corpus, models=["lda", "btm"],
                               preprocessing={"min_df": 1},
                               params={"num_topics": 5, "vocab_size": 1000, "btm.n_iter": 10}))
    advice = precompute(grid, check_inputs(grid), tmp_path / "cache", progress=False).advice
    (empty,) = [a for a in advice if "keep no word" in a]
    assert empty.endswith("(they count as outliers). Try a vocab_size above 1000 (the most "
                          "frequent words it keeps)")
    bare = load_grid(make_grid(tmp_path, corpus, models=["lda"],
                               preprocessing={"min_df": 1, "stopwords": "none"},
                               params={"num_topics": 100, "vocab_size": 20000}))
    advice = precompute(bare, check_inputs(bare), tmp_path / "cache", progress=False).advice
    (diversity,) = [a for a in advice if "diversity cannot exceed" in a]
    assert diversity.endswith("use fewer topics or a smaller diversity_topn")  # no list to cut


def test_the_diversity_bound_counts_the_words_a_topic_can_list(tmp_path):
    """5 words left for 10 topics x diversity_topn 25: the bound said 5 / 250 = 0.02, but a
    topic lists at most the 5 words, and every trial scored 5 / 50 = 0.10 (user audit of
    2026-12-03)."""
    from tests.conftest import write_jsonl
    from tuner.data.vocab import BowCache
    from tuner.engine.sweep import precompute

    words = ["harbour", "engine", "violin", "glacier", "pepper"]
    rows = [{"id": str(i), "text": " ".join(words[(i + j) % 5] for j in range(3)),
             "label": str(i % 2)} for i in range(8)]
    corpus = write_jsonl(tmp_path / "tiny.jsonl", rows)
    grid = load_grid(make_grid(tmp_path, corpus, models=["lda"],
                               params={"num_topics": 10, "vocab_size": 1000}))
    prepared = precompute(grid, check_inputs(grid), tmp_path / "cache", progress=False)
    (bound,) = [a for a in prepared.advice if "diversity cannot exceed" in a]
    words_left = len(BowCache(tmp_path / "cache").load(
        Path(prepared.trials[0].data.bow_path)).vocab)
    assert f"diversity_topn 25 (a topic lists at most the {words_left} there are), so " \
           "diversity cannot exceed 0.10 whatever" in bound


def test_a_bags_advice_counts_the_topics_of_the_sizes_merged_into_it(small_corpus, tmp_path):
    """BTM's K=100 at vocab_size 20,000, merged into LDA's bag at 5,000 (both above the words
    left), was not counted: the advice said 5 topics (review of 2026-12-01)."""
    from tests.conftest import read_jsonl, write_jsonl
    from tuner.engine.sweep import precompute

    rows = [{**r, "text": " ".join(r["text"].split()[:3])} for r in read_jsonl(small_corpus)]
    corpus = write_jsonl(tmp_path / "headlines.jsonl", rows)
    grid = load_grid(make_grid(tmp_path, corpus, models=["lda", "btm"], params={
        "lda.vocab_size": 5000, "lda.num_topics": 5, "btm.vocab_size": 20000,
        "btm.num_topics": 100, "btm.n_iter": 10}))
    prepared = precompute(grid, check_inputs(grid), tmp_path / "cache", progress=False)
    assert prepared.cache_events["bow[vocab_size=20000]"].startswith("same words as")
    assert any(" words for 100 topics x metrics.diversity_topn 25" in a for a in prepared.advice)


@pytest.mark.usefixtures("prepared_small")  # the small corpus's MiniLM embeddings, cached
def test_settings_a_model_does_not_use_do_not_split_its_trials(small_corpus, tmp_path,
                                                              session_cache):
    """k-means ignores HDBSCAN's settings: clustering [hdbscan, kmeans] x min_cluster_size
    [5, 10] is three trials, not four, and the k-means trial is keyed on the defaults."""
    from tuner.engine.sweep import precompute

    grid = load_grid(make_grid(tmp_path, small_corpus, models=["bertopic"],
                               params={"num_topics": 5, "vocab_size": 1000,
                                       "bertopic.clustering": ["hdbscan", "kmeans"],
                                       "bertopic.min_cluster_size": [5, 10],
                                       "bertopic.cluster_selection_method": "leaf"}))
    prepared = precompute(grid, check_inputs(grid), session_cache, progress=False)
    assert prepared.cache_events["equivalent_trials_merged"] == "1"
    (kmeans,) = [t.params for t in prepared.trials if t.params["clustering"] == "kmeans"]
    assert (kmeans["min_cluster_size"], kmeans["min_samples"],
            kmeans["cluster_selection_method"]) == (10, 10, "eom")
    hdbscan = [t.params for t in prepared.trials if t.params["clustering"] == "hdbscan"]
    assert sorted((p["min_cluster_size"], p["min_samples"]) for p in hdbscan) == [(5, 5), (10, 10)]
    assert {p["cluster_selection_method"] for p in hdbscan} == {"leaf"}


@pytest.mark.parametrize(("model", "moves"), [("prodlda", True), ("lda", False)])
def test_a_torch_models_key_holds_its_device_and_gpu_model(small_corpus, tmp_path, monkeypatch,
                                                           model, moves):
    """A fit on CUDA is not the CPU's (other kernels; THETA's `adaptation: auto` is LoRA there
    and the adapter here), nor one GPU model's another's: a store shared by a GPU and a CPU
    host, or by two GPU hosts, keeps each apart."""
    from tuner import fitting

    grid = load_grid(make_grid(tmp_path, small_corpus, models=[model],
                               params={"num_topics": 5, "vocab_size": 1000}))
    inputs = check_inputs(grid)

    def key() -> str:
        bags = BagsOfWords({(1000, "en"): tmp_path / "bow"})
        factory = TrialFactory(grid, inputs, tmp_path, bags, {})
        return factory.make(inputs.plan[0].model, inputs.plan[0].combo, 1).key

    monkeypatch.setattr(fitting, "device_identity", lambda: "cpu")  # whatever this host has
    on_cpu = key()
    monkeypatch.setattr(fitting, "device_identity", lambda: "cuda:NVIDIA H200")
    on_h200 = key()
    monkeypatch.setattr(fitting, "device_identity", lambda: "cuda:NVIDIA A100-SXM4-80GB")
    assert (on_h200 != on_cpu) is moves and (key() != on_h200) is moves


def test_embeddings_are_keyed_by_the_dtype_they_are_computed_in(small_corpus, tmp_path,
                                                                monkeypatch):
    from tuner.data.corpus import DatasetSpec, load_corpus
    from tuner.data.embeddings import EmbeddingSpec, resolve_model_path
    from tuner.engine import sweep

    corpus = load_corpus(DatasetSpec(small_corpus))
    spec = EmbeddingSpec()
    folder = resolve_model_path(spec.model)
    on_cpu = sweep.embedding_key(spec, folder, corpus)
    assert (on_cpu.dtype, on_cpu.batch_size) == ("float32", 32)
    monkeypatch.setattr(sweep, "encoding_dtype", lambda: "float16")
    assert sweep.embedding_key(spec, folder, corpus).digest != on_cpu.digest


def test_minilms_two_names_are_one_embedding(small_corpus):
    """"all-MiniLM-L6-v2" and its full id load the same folder but were embedded twice, into
    byte-identical files, and their trials were two configurations (audit of 2026-12-01)."""
    from tuner.data.corpus import DatasetSpec, load_corpus
    from tuner.data.embeddings import MINILM_IDS, EmbeddingSpec, resolve_model_path
    from tuner.engine import sweep

    corpus = load_corpus(DatasetSpec(small_corpus))
    short, full = (EmbeddingSpec(model=name) for name in ("all-MiniLM-L6-v2", MINILM_IDS[0]))
    assert resolve_model_path(short.model) == resolve_model_path(full.model)
    folder = resolve_model_path(full.model)
    assert sweep.embedding_key(short, folder, corpus) == sweep.embedding_key(full, folder, corpus)


@pytest.mark.usefixtures("prepared_small")  # the small corpus's MiniLM embeddings, cached
def test_seeds_given_as_a_models_own_seed_parameter_are_one_configuration(
        small_corpus, tmp_path, session_cache):
    """`bertopic.random_state: [1, 2, 3]` is three seeds of one configuration (the leaderboard
    shows one row): one config key, three trial keys (review of 2026-12-01)."""
    from tuner.engine.sweep import precompute

    grid = load_grid(make_grid(tmp_path, small_corpus, models=["bertopic"],
                               params={"vocab_size": 1000, "bertopic.random_state": [1, 2, 3]}))
    prepared = precompute(grid, check_inputs(grid), session_cache, progress=False)
    assert len({t.key for t in prepared.trials}) == 3
    assert len({t.config_key for t in prepared.trials}) == 1


def test_a_sweeps_trials_carry_the_code_their_keys_hold(small_corpus, tmp_path):
    """The factory keys each trial with its model's code (class, libraries, device kind), and
    the spec carries it so the worker can check it runs the same."""
    from tuner.devices import device_identity
    from tuner.fitting import fit_code

    grid = load_grid(make_grid(tmp_path, small_corpus, models=["prodlda"],
                               params={"num_topics": 5, "vocab_size": 1000}))
    inputs = check_inputs(grid)
    bags = BagsOfWords({(1000, "en"): tmp_path / "bow"})
    factory = TrialFactory(grid, inputs, tmp_path, bags, {})
    spec = factory.make(inputs.plan[0].model, inputs.plan[0].combo, 1)
    assert spec.code == fit_code("ProdLDA") and spec.code["device"] == device_identity()
    assert spec.fit_key == fit_key(spec.model, spec.params, 1, spec.data, spec.revision,
                                   spec.code)
    assert spec.fit_key != fit_key(spec.model, spec.params, 1, spec.data, spec.revision,
                                   {**spec.code, "torch": "0.1"})


def test_a_worker_with_other_libraries_than_the_sweeps_fails_the_trial(small_data,
                                                                      prepared_small):
    """On a Dask cluster the worker is another machine: its versions must be the keyed ones."""
    import dataclasses

    from tuner.engine.worker import run_trial
    from tuner.trial import TrialStatus

    lda = next(t for t in prepared_small.trials if t.model == "LDA")
    other = dataclasses.replace(lda, code={**lda.code, "tomotopy": "0.0.1"})
    record = run_trial(other)
    assert record.status is TrialStatus.FAILED and record.error is not None
    assert "tomotopy" in record.error.message and "(the sweep's: 0.0.1)" in record.error.message
    assert record.error.message.endswith("install the same versions on every worker")
    # a machine whose BLAS loaded another kernel is told which variable makes them agree
    other = dataclasses.replace(lda, code={**lda.code, "blas": "openblas:Haswell2"})
    record = run_trial(other)
    assert record.status is TrialStatus.FAILED and record.error is not None
    assert record.error.message.endswith("set the same OPENBLAS_CORETYPE on every machine "
                                         "(Haswell, say)"), record.error.message


def test_a_fix_to_truth_scoring_re_scores_only_trials_with_a_truth(monkeypatch):
    """F1's fix raised the one scoring revision, and every stored trial was to be re-scored,
    those without a ground truth (no F1) too (review of 2026-12-01)."""
    from tuner import trial as t

    bare = t.DataRef("c.jsonl", "sha", "en", "bow", None, None, None, None, context="ctx")
    truth = dataclasses.replace(bare, truth_sha256="labels")

    def keys() -> tuple[str, str, str]:
        return (t.score_key("fit", bare, t.MetricSettings()),
                t.score_key("fit", truth, t.MetricSettings()),
                t.data_context("sha", None, {}, t.MetricSettings()))

    before = keys()
    monkeypatch.setattr(t, "TRUTH_SCORING_REVISION", t.TRUTH_SCORING_REVISION + 1)
    after = keys()
    assert (before[0], before[2]) == (after[0], after[2]) and before[1] != after[1]
    monkeypatch.setattr(t, "SCORING_REVISION", t.SCORING_REVISION + 1)
    assert all(a != b for a, b in zip(after, keys(), strict=True))


def test_a_tomotopy_models_key_holds_the_instruction_set_it_runs():
    """tomotopy loads an avx512, avx2 or sse2 build at import (the CPU, or $TOMOTOPY_ISA), and
    their sums differ: a store shared by two machines skipped one's LDA trial as the other's,
    though the fit gave ARI 0.105 against 0.068 (review of 2026-12-02)."""
    import tomotopy

    assert fit_code("LDA")["tomotopy_isa"] == fit_code("HDP")["tomotopy_isa"] == tomotopy.isa
    assert "tomotopy_isa" not in fit_code("ProdLDA")
    forced = subprocess.run(
        [sys.executable, "-c", "from tuner.fitting import fit_code; "
         "print(fit_code('LDA')['tomotopy_isa'])"],
        env={**os.environ, "TOMOTOPY_ISA": "sse2", "PYTHONPATH": str(REPO)},
        capture_output=True, text=True, timeout=120)
    assert forced.stdout.strip() == "sse2", forced.stderr


def test_embeddings_and_reductions_are_keyed_by_the_libraries_that_compute_them(
        small_corpus, monkeypatch):
    """Another transformers or tokenizers (a tokeniser fix), pynndescent or SciPy changes the
    matrices; their caches and BERTopic's fit key held none of them (review of 2026-12-02)."""
    from trainers import bertopic
    from tuner.data.corpus import DatasetSpec, load_corpus
    from tuner.data.embeddings import EmbeddingSpec, resolve_model_path
    from tuner.engine import sweep

    corpus = load_corpus(DatasetSpec(small_corpus))
    spec = EmbeddingSpec()
    folder = resolve_model_path(spec.model)
    key = sweep.embedding_key(spec, folder, corpus)
    for name in ("torch", "transformers", "tokenizers"):
        assert f"{name}={importlib.metadata.version(name)}" in key.libraries
    monkeypatch.setattr(sweep, "encoder_libraries", lambda: "transformers=0.0.1")
    assert sweep.embedding_key(spec, folder, corpus).digest != key.digest

    assert {"pynndescent", "scipy"} <= set(trainer_code("BERTopic"))
    params = {"n_neighbors": 15, "n_components": 5, "min_dist": 0.0, "metric": "cosine",
              "random_state": 42}
    reduction = bertopic._umap_key(params, key.digest)
    assert reduction["pynndescent"] == importlib.metadata.version("pynndescent")
    monkeypatch.setattr(bertopic, "installed_versions", lambda names: dict.fromkeys(names, "0.0.1"))
    assert bertopic._umap_key(params, key.digest) != reduction


def test_a_corpus_exported_with_other_ids_is_not_embedded_again(small_corpus, tmp_path):
    """Embeddings depend on the texts alone; the trials, whose keys hold the ids, run again."""
    import json

    from tuner.data.corpus import DatasetSpec, load_corpus
    from tuner.data.embeddings import EmbeddingSpec, resolve_model_path
    from tuner.engine import sweep

    renamed = tmp_path / "renamed.jsonl"
    rows = [json.loads(line) for line in small_corpus.read_text(encoding="utf-8").splitlines()]
    renamed.write_text("".join(json.dumps({**row, "id": f"new-{row['id']}"}) + "\n"
                               for row in rows), encoding="utf-8")
    before, after = (load_corpus(DatasetSpec(path)) for path in (small_corpus, renamed))
    assert before.sha256 != after.sha256
    spec = EmbeddingSpec()
    folder = resolve_model_path(spec.model)
    assert sweep.embedding_key(spec, folder, before) == sweep.embedding_key(spec, folder, after)
    edited = load_corpus(DatasetSpec(small_corpus))
    edited.texts[0] += " edited"
    assert sweep.embedding_key(spec, folder, edited) != sweep.embedding_key(spec, folder, before)


@pytest.mark.parametrize(("mode", "reads_labels"),
                         [("zero_shot", False), ("unsupervised", False), ("supervised", True)])
def test_theta_keys_hold_the_labels_only_where_it_reads_them(small_corpus, tmp_path, mode,
                                                               reads_labels):
    """THETA reads labels in mode supervised alone; relabelling a corpus refitted its zero-shot
    and unsupervised trials instead of re-scoring their fits (review of 2026-12-02)."""
    grid = load_grid(make_grid(tmp_path, small_corpus, models=["theta"],
                               params={"num_topics": 5, "vocab_size": 1000, "theta.mode": mode}))
    from tuner.engine import sweep

    inputs = check_inputs(grid)
    model, combo = inputs.plan[0].model, inputs.plan[0].combo
    embedding = sweep.planned_trial(grid, model, combo).embedding
    key = sweep.embedding_key(embedding, inputs.model_paths[embedding.model], inputs.corpus)
    factory = TrialFactory(grid, inputs, tmp_path, BagsOfWords({(1000, "en"): tmp_path / "bow"}),
                           {embedding: key})
    spec = factory.make(model, combo, 1)
    assert ("labels" in spec.data.inputs) is reads_labels


def test_a_recomputed_bag_of_words_says_which_setting_changed(small_corpus, tmp_path):
    from tuner.engine.sweep import precompute

    def events(**preprocessing: object) -> dict[str, str]:
        grid = load_grid(make_grid(tmp_path, small_corpus, models=["lda"],
                                   preprocessing=preprocessing))
        return precompute(grid, check_inputs(grid), tmp_path / "cache",
                          progress=False).cache_events

    assert events(min_df=2)["bow[vocab_size=1000]"].startswith("computed (")
    assert events(min_df=3)["bow[vocab_size=1000]"].startswith(
        "computed, the cache's nearest differs in min_df: 2 -> 3 (")
    assert events(min_df=3)["bow[vocab_size=1000]"].startswith("hit (")


def test_a_worker_whose_plug_in_file_differs_fails_the_trial_naming_it():
    """The digest the sweep keyed with against the one the worker reads: an edit between them
    would store the new code's fit under the old key."""
    from tuner.engine.worker import _check_code
    from tuner.errors import CacheError

    keyed = {**fit_code("LDA"), "plugin_source": "0123456789abcdef"}
    spec = dataclasses.replace(_spec_of("LDA"), code=keyed)
    with pytest.raises(CacheError, match=r"plugin_source absent \(the sweep's: 0123456789abcdef\)"
                                         r"; the plug-in's file changed since the sweep started"):
        _check_code(spec)


def _spec_of(model: str):
    from tuner.trial import TrialSpec

    return TrialSpec(model, {"num_topics": 5}, 1, DATA, MetricSettings(), "e", "k")


def test_a_seed_parameter_the_grid_fixes_over_several_seeds_is_warned_of(tmp_path, small_corpus):
    """BERTopic's random_state 7 with seeds [42, 43] fitted one model twice, and its row read
    ± 0.0000 over two seeds (determinism audit of 2026-12-03)."""
    from tuner.engine.advice import advisories

    def seed_advice(**params: object) -> list[str]:
        grid = load_grid(make_grid(tmp_path, small_corpus, models=["lda", "bertopic"],
                                   params={"vocab_size": 1000, **params}, seeds=[42, 43]))
        return [a for a in advisories(grid, check_inputs(grid)) if "random_state" in a]

    assert seed_advice(**{"bertopic.random_state": 7}) == [
        f"{tmp_path / 'grid.json'}: params.bertopic.random_state: BERTopic's random_state 7 "
        "holds for each of the grid's 2 seeds, so what it seeds is alike in every seed's fit "
        "(BERTopic: its UMAP reduction, and under HDBSCAN clustering the whole fit, whose "
        "spread over seeds then reads 0); leave random_state out to let each seed set it"]
    assert seed_advice() == []
