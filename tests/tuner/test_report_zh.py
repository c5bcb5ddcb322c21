"""`tuner report` of a Chinese sweep: topic words drawn in a font that has Chinese glyphs."""

from __future__ import annotations

import warnings

import pytest

from tests.conftest import (
    dataset_path,
    make_grid,
    read_jsonl,
    run_sweep,
    sqlite_store,
    stratified_subset,
    write_jsonl,
)
from tuner.reporting.fonts import font_for
from tuner.reporting.plots import plot_topic_words
from tuner.reporting.report import write_report


@pytest.fixture(scope="module")
def zh_report(tmp_path_factory, session_cache):
    folder = tmp_path_factory.mktemp("zh_report")
    records = stratified_subset(read_jsonl(dataset_path("thucnews-mini")), 8)
    corpus = write_jsonl(folder / "corpus.jsonl", records)
    dataset = {"path": str(corpus), "text_field": "text", "id_field": "id",
               "label_field": "label", "language": "zh"}
    grid = make_grid(folder, corpus, experiment="zh-report", dataset=dataset, models=["lda"],
                     params={"num_topics": [5, 6], "vocab_size": 1000, "lda.max_iter": 20})
    uri = sqlite_store(folder / "mlflow.db")
    run_sweep(grid, uri, session_cache)
    return write_report(uri, "zh-report", folder / "report")


def test_zh_sweep_report_draws_words_in_a_chinese_font(zh_report):
    assert zh_report.language == "zh"
    assert zh_report.font is not None, "no Chinese font installed (scripts/install-system-deps.sh)"
    assert "topics.png" in {p.name for p in zh_report.plots}
    assert "No installed font draws Chinese" not in zh_report.html.read_text(encoding="utf-8")


def _report_in_font(zh_report, folder, font, monkeypatch) -> list[warnings.WarningMessage]:
    """`tuner report` of the zh sweep with the font search made to return `font`; the glyph
    warnings that reached the caller."""
    from tuner.cli import main

    monkeypatch.setattr("tuner.reporting.report.font_for", lambda language: font)
    uri = sqlite_store(zh_report.html.parent.parent / "mlflow.db")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["report", "zh-report", "--tracking-uri", uri, "--out", str(folder)]) == 0
    return [w for w in caught if "missing from" in str(w.message)]


def test_a_report_drawn_without_a_chinese_font_says_so_once(zh_report, tmp_path, capsys,
                                                             monkeypatch):
    """On a machine with no Chinese font, matplotlib warned once per missing character: 374
    lines of stderr for one report (Chinese audit of 2026-12-04). tuner says it in one line.
    The font search is made to find nothing, as on such a machine; the drawing is real."""
    assert not _report_in_font(zh_report, tmp_path / "boxes", None, monkeypatch)
    err = capsys.readouterr().err
    assert err.count("no installed font draws Chinese") == 1
    assert "fonts-wqy-microhei" in err
    assert "No installed font draws Chinese" in (tmp_path / "boxes" / "report.html").read_text(
        encoding="utf-8")


def test_characters_no_font_draws_are_said_once_with_a_font_found(zh_report, tmp_path,
                                                                   capsys, monkeypatch):
    """The glyph warnings were silenced whatever the font (review of 2026-12-04): words with
    characters the chosen font lacks (here Chinese words in DejaVu Sans, as if the font search
    had picked it) are counted in one line."""
    assert not _report_in_font(zh_report, tmp_path / "dejavu", "DejaVu Sans", monkeypatch)
    [line] = [x for x in capsys.readouterr().err.splitlines() if "as boxes" in x]
    assert line.startswith("warning: the report's plots draw ") and "no installed font has" in line


def test_a_chinese_reports_note_on_shared_words_gives_chinese_examples(tmp_path,
                                                                       session_cache):
    """The note cited writes, article, edu and strip_quotes, which match no Chinese text
    (Chinese audit of 2026-12-04). With no stop list, words such as 一个 lead many topics."""
    from tuner.reporting.recurring import RECURRING_NOTE, RECURRING_NOTE_ZH

    records = stratified_subset(read_jsonl(dataset_path("thucnews-mini")), 8)
    corpus = write_jsonl(tmp_path / "corpus.jsonl", records)
    dataset = {"path": str(corpus), "text_field": "text", "id_field": "id",
               "label_field": "label", "language": "zh"}
    grid = make_grid(tmp_path, corpus, experiment="zh-shared", dataset=dataset, models=["lda"],
                     params={"num_topics": 10, "vocab_size": 1000, "lda.max_iter": 10},
                     preprocessing={"stopwords": "none"})
    uri = sqlite_store(tmp_path / "mlflow.db")
    run_sweep(grid, uri, session_cache)
    page = write_report(uri, "zh-shared", tmp_path / "report").html.read_text(encoding="utf-8")
    assert "<i>Shared by 3 or more of its 10 topics: " in page
    assert page.count(RECURRING_NOTE_ZH) == 1 and RECURRING_NOTE not in page
    assert "strip_quotes" not in RECURRING_NOTE_ZH and "extra_stopwords" in RECURRING_NOTE_ZH


def test_chinese_words_have_glyphs_only_in_the_chosen_font(tmp_path):
    topics = {"lda-0000-k5-s1": {"0": ["比赛", "球队", "主场"], "1": ["基金", "投资", "市场"]}}
    with warnings.catch_warnings(record=True) as default_font:
        warnings.simplefilter("always")
        plot_topic_words(topics, tmp_path / "default.png", font_for("en"))
    with warnings.catch_warnings(record=True) as chinese_font:
        warnings.simplefilter("always")
        plot_topic_words(topics, tmp_path / "zh.png", font_for("zh"))
    assert any("missing from" in str(w.message) for w in default_font)
    assert not any("missing from" in str(w.message) for w in chinese_font)


def test_an_english_sweeps_chinese_topic_words_are_drawn_in_a_chinese_font():
    """An `en` sweep of a partly Chinese corpus drew its Chinese topic words as boxes: the font
    followed the dataset's language alone (Chinese audit of 2026-12-01)."""
    from tuner.reporting.report import _words_language
    from tuner.tracking.records import SweepRun

    sweep = SweepRun("s", "sweep", {"language": "en"}, {})
    english = {"r1": {"0": ["game", "team"], "1": ["iphone8", "suv"]}}
    assert _words_language(sweep, [], english.values()) == "en"
    assert _words_language(sweep, [], [*english.values(), {"0": ["rng", "比赛"]}]) == "zh"


def test_what_the_sweep_was_warned_of_is_on_its_run_and_in_its_report(tmp_path):
    """Validation's warnings went to stderr alone: an MLflow reader, or a report, ranked such a
    sweep unwarned (Chinese audit of 2026-12-01). Here the warning that the language was
    detected."""
    from mlflow.tracking import MlflowClient

    from tuner.engine.sweep import check_inputs
    from tuner.flow import SweepSettings, execute_sweep
    from tuner.grid import load_grid

    records = stratified_subset(read_jsonl(dataset_path("thucnews-mini")), 10)  # 100: under,
    corpus = write_jsonl(tmp_path / "corpus.jsonl", records)  # too few documents is warned of
    dataset = {"path": str(corpus), "text_field": "text", "id_field": "id",
               "label_field": "label"}
    grid = load_grid(make_grid(tmp_path, corpus, experiment="warned", dataset=dataset,
                               models=["lda"], params={"num_topics": 10, "vocab_size": 1000,
                                                       "lda.max_iter": 200},  # not warned of
                               preprocessing={"strip_markup": True}))  # 12% hold a web address
    uri = sqlite_store(tmp_path / "mlflow.db")
    outcome = execute_sweep(grid, check_inputs(grid),
                            SweepSettings(uri, tmp_path / "cache", max_workers=1,
                                          progress=False))
    tags = MlflowClient(uri).get_run(outcome.parent_run_id).data.tags
    # the one before it ran, and those the trials' own figures gave at its end (health)
    assert tags["tuner.warnings"] == str(1 + len(outcome.warnings))
    page = write_report(uri, "warned", tmp_path / "report").html.read_text(encoding="utf-8")
    assert "warned of 1 thing before it ran" in page
    assert "dataset.language is not set" in page
