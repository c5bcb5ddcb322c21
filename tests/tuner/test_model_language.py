"""THETA's `language` parameter: it follows dataset.language unless the grid sets it, and a
THETA trial with its own language gets a bag of words tokenised that way (jieba for zh)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tests.conftest import dataset_path, make_grid, read_jsonl, stratified_subset, write_jsonl
from tuner.data.vocab import BowCache, Preprocessing
from tuner.engine.advice import advisories, chinese_share
from tuner.engine.sweep import check_inputs, plan_trials, precompute
from tuner.engine.worker import load_trial_data
from tuner.grid import load_grid

HAN_WORD = re.compile(r"[\u4e00-\u9fff]{2,}")


@pytest.fixture(scope="module")
def thucnews_corpus(tmp_path_factory):
    records = stratified_subset(read_jsonl(dataset_path("thucnews-mini")), 6)
    return write_jsonl(tmp_path_factory.mktemp("thucnews") / "corpus.jsonl", records)


def _grid(folder, corpus, language, params):
    dataset = {"path": str(corpus), "text_field": "text", "id_field": "id",
               "label_field": "label", "language": language}
    return load_grid(make_grid(folder, corpus, dataset=dataset, models=["lda", "theta"],
                               params={"num_topics": 5, "vocab_size": 1000, **params}))


@pytest.mark.parametrize("language", ["en", "zh"])
def test_theta_language_follows_the_dataset(thucnews_corpus, tmp_path, language):
    plan = plan_trials(_grid(tmp_path, thucnews_corpus, language, {}))
    theta = next(p for p in plan if p.model == "THETA")
    assert theta.params["language"] == language
    assert {p.language for p in plan} == {language}


def test_theta_language_set_in_the_grid_tokenises_its_own_bag_of_words(thucnews_corpus,
                                                                       tmp_path):
    grid = _grid(tmp_path, thucnews_corpus, "en", {"theta.language": "zh"})
    prepared = precompute(grid, check_inputs(grid), tmp_path / "cache", progress=False)
    vocab = {t.model: load_trial_data(t.data).bow.vocab for t in prepared.trials}
    jieba_words, english_runs = vocab["THETA"], vocab["LDA"]
    assert sum(bool(HAN_WORD.fullmatch(w)) and len(w) <= 4 for w in jieba_words) \
        > 0.9 * len(jieba_words)
    # The English tokeniser keeps whole runs of Han characters: few recur in two documents.
    assert len(english_runs) < 0.2 * len(jieba_words)
    assert "bow[vocab_size=1000,language=zh]" in prepared.cache_events


def test_a_models_own_language_is_checked_against_the_text_too(thucnews_corpus, tmp_path):
    """THETA's `language: en` on Chinese text tokenised whole clauses, and nothing was said:
    only dataset.language was checked (audit of 2026-12-01)."""
    grid = _grid(tmp_path, thucnews_corpus, "zh", {"theta.language": ["zh", "en"]})
    inputs = check_inputs(grid)
    share = chinese_share(inputs.corpus.texts)
    assert [a for a in advisories(grid, inputs) if "is 'en' but" in a] == [
        f"{grid.path}: params.language of THETA is 'en' but {share:.0%} of the letters are "
        "Chinese: they are not segmented into words; set \"language\": \"zh\""]


def test_chinese_documents_in_an_english_corpus_are_counted(thucnews_corpus, small_corpus,
                                                             tmp_path):
    """600 English headlines and 200 Chinese ones passed as 'en' (11% of the letters Chinese,
    under the corpus-wide bound), and 92% of the Chinese documents got no topic (audit of
    2026-12-01)."""
    chinese = read_jsonl(thucnews_corpus)[:12]
    english = read_jsonl(small_corpus)
    corpus = write_jsonl(tmp_path / "mixed.jsonl", english + [
        {**row, "id": f"zh-{row['id']}"} for row in chinese])
    grid = _grid(tmp_path, corpus, "en", {})
    assert chinese_share(check_inputs(grid).corpus.texts) <= 0.3
    assert [a for a in advisories(grid, check_inputs(grid)) if "language" in a] == [
        f"{grid.path}: dataset.language is 'en' but 12 of {len(english) + 12} documents are "
        "mostly Chinese: they are not segmented into words, and most will get no topic; set "
        "\"language\": \"zh\" (jieba keeps English words whole, and the Chinese stop list "
        "holds English stop words) or sweep each language's documents as a dataset of its own"]
    zh = BowCache(tmp_path / "cache").get_or_compute(
        check_inputs(_grid(tmp_path, corpus, "zh", {})).corpus, 5000, Preprocessing())
    kept = np.diff(zh.offsets)
    assert (kept[:len(english)] > 0).mean() > 0.95 and (kept[len(english):] > 0).all()
    assert "the" not in zh.vocab and {"windows", "god"} <= set(zh.vocab)
    grid = _grid(tmp_path, small_corpus, "en", {})
    assert [a for a in advisories(grid, check_inputs(grid)) if "language" in a] == []


def test_english_posts_holding_chinese_text_are_counted(thucnews_corpus, small_corpus,
                                                        tmp_path):
    """An English post with a Chinese headline beside it is not mostly Chinese, and its
    Chinese half was lost unsaid: 60 of 1,340 social posts, 129 clause-long "words", all but
    one dropped by min_df (new-user audit of 2026-12-02)."""
    chinese = read_jsonl(thucnews_corpus)
    english = read_jsonl(small_corpus)
    rows = [{**row, "text": row["text"][:300] + " " + chinese[i]["text"][:40]} if i < 12
            else row for i, row in enumerate(english)]
    grid = _grid(tmp_path, write_jsonl(tmp_path / "bilingual.jsonl", rows), "en", {})
    said = [a for a in advisories(grid, check_inputs(grid)) if "language" in a]
    assert said == [f"{grid.path}: dataset.language is 'en' but 12 of {len(rows)} documents "
                    "hold Chinese text: it is not segmented into words, so each run of it is "
                    "one word, which min_df drops; set \"language\": \"zh\" (jieba keeps "
                    "English words whole, and the Chinese stop list holds English stop words)"]


def test_a_model_size_beside_an_explicit_embedding_model_is_warned_of(thucnews_corpus,
                                                                       tmp_path):
    """model_size picks a Qwen3 model only without embedding.model: three sizes beside MiniLM
    ran three identical trials, ranked as three configurations (audit of 2026-12-01)."""
    grid = _grid(tmp_path, thucnews_corpus, "zh", {"theta.model_size": ["0.6B", "4B"]})
    assert [a for a in advisories(grid, check_inputs(grid)) if "params.model_size" in a] == [
        f"{grid.path}: params.model_size: THETA embeds with embedding.model, which the grid "
        "names, so model_size changes nothing here; remove one of them"]


def test_a_dataset_without_a_language_is_tokenised_as_its_text_is_written(thucnews_corpus,
                                                                           small_corpus,
                                                                           session_cache,
                                                                           tmp_path):
    """A Chinese corpus whose grid left out `language` was tokenised as English: whole
    headlines as words, 87% of 2,000 toutiao headlines with none, and only a warning said so
    (audit of 2026-12-01). Left out, the language is detected; either way the trials are the
    ones the explicit language gives, so stores made before keep their finished trials."""
    for corpus, language in [(thucnews_corpus, "zh"), (small_corpus, "en")]:
        detected = _grid(tmp_path / f"auto-{language}", corpus, None, {})
        explicit = _grid(tmp_path / f"set-{language}", corpus, language, {})
        inputs = check_inputs(detected)
        assert inputs.corpus.language == language
        assert {p.params.get("language", language) for p in inputs.plan} == {language}
        # the session's cache: the posts' MiniLM embeddings are the ones other tests made
        keys = {t.key for t in precompute(detected, inputs, session_cache,
                                          progress=False).trials}
        assert keys == {t.key for t in precompute(explicit, check_inputs(explicit),
                                                  session_cache, progress=False).trials}
        said = [a for a in advisories(detected, inputs) if "is not set" in a]
        assert said == [a for a in inputs.advice if "is not set" in a]  # computed once, kept
        share = chinese_share(inputs.corpus.texts)
        assert said == ([f"{detected.path}: dataset.language is not set; {share:.0%} of the "
                         "letters are Chinese, so the texts are tokenised as zh (jieba); set it "
                         "to choose"] if language == "zh" else [])


FRENCH = ["Le gouvernement a annoncé une nouvelle réforme des retraites qui sera présentée au "
          "parlement la semaine prochaine.",
          "Les prix de l'énergie continuent d'augmenter et pèsent sur le budget des ménages.",
          "Le club a remporté le championnat pour la troisième fois consécutive dimanche soir.",
          "Les chercheurs ont découvert une nouvelle espèce de poisson dans l'océan Pacifique."]


def test_text_in_another_language_than_english_or_chinese_is_said(tmp_path):
    """A French corpus ran as en without a word, its topics full of une, des and par (new-user
    audit of 2026-12-04). English articles and headlines, Chinese news: nothing said."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    from tuner.engine.advice import not_english_said
    from tuner.starter import starter_grid

    rows = [{"id": str(n), "text": f"{FRENCH[n % 4]} {FRENCH[(n + 1) % 4]}",
             "label": "abcd"[n % 4]} for n in range(120)]
    corpus = write_jsonl(tmp_path / "fr.jsonl", rows)
    grid = load_grid(make_grid(tmp_path, corpus, dataset={"path": str(corpus)}))
    [said] = [a for a in advisories(grid, check_inputs(grid)) if "read as English" in a]
    assert said.startswith(f"{grid.path}: dataset.language (not set: detected from the text) "
                           "is 'en' but the documents do not read as English: 0.0% of their "
                           "words are English function words")
    _, notes = starter_grid(corpus, None, models=["lda"])
    assert notes[1].startswith("language en is a guess: the documents do not read as English")
    for name in ("20ng-mini", "huffpost-mini", "thucnews-mini"):
        texts = [r["text"] for r in read_jsonl(dataset_path(name))]
        assert not_english_said(texts) is None, name
        # English whose stop words were dropped already, as ready-made inputs come (review)
        stripped = [" ".join(w for w in t.split() if w.lower() not in ENGLISH_STOP_WORDS)
                    for t in texts]
        assert not_english_said(stripped) is None, name
        assert not_english_said([t.split("\n")[0] for t in texts]) is None, name  # headlines


def test_english_documents_among_chinese_ones_are_said(tmp_path, ng_records):
    """30 English articles among 600 Chinese formed a topic of their own, unsaid (new-user audit
    of 2026-12-04); Chinese news alone, with its English names and numbers, is not."""
    chinese = read_jsonl(dataset_path("thucnews-mini"))[:300]
    english = [{"id": f"en{n}", "text": r["text"], "label": r["label"]}
               for n, r in enumerate(ng_records[:20])]

    def said(rows) -> list[str]:
        corpus = write_jsonl(tmp_path / "c.jsonl", rows)
        grid = load_grid(make_grid(tmp_path, corpus, dataset={"path": str(corpus),
                                                              "language": "zh"}))
        return [a for a in advisories(grid, check_inputs(grid)) if "Latin letters" in a]

    [advice] = said(chinese + english)
    found = re.search(r"is 'zh', and (\d+) of 320 documents sampled \(\d+%\) are written in "
                      r"Latin letters", advice)
    assert found and int(found.group(1)) == 21  # and one THUCNews article, English reading
    assert said(chinese) == []
