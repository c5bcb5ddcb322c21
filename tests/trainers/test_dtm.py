"""DTM (D-ETM) on the bundled dated corpus: slices by year, per-slice topics that really drift."""

from __future__ import annotations

import dataclasses
from datetime import date

import numpy as np
import pytest

from trainers import load_trainer
from trainers.time_slices import slice_documents
from tuner.data.inputs import FitContext
from tuner.data.timestamps import parse_timestamp
from tuner.errors import DataError

FAST = {"num_topics": 5, "vocab_size": 1000, "epochs": 10, "hidden_dim": 128,
        "embedding_dim": 50, "batch_size": 64}


@pytest.fixture(scope="module")
def dtm_fits(huffpost_data, tmp_path_factory):
    trainer = load_trainer("DTM")
    params = trainer.params.with_defaults(FAST)
    cache = str(tmp_path_factory.mktemp("dtm_cache"))
    every_word = len(huffpost_data.bow.vocab)  # slice_top_words then ranks the whole vocabulary
    return [trainer().fit(huffpost_data, params,
                          FitContext(seed=5, cache_dir=cache, top_n=every_word))
            for _ in range(2)]


def test_output_is_valid(dtm_fits, huffpost_data):
    output = dtm_fits[0]
    assert output.n_docs == huffpost_data.bow.n_docs == 1000
    assert output.num_topics == 5
    assert output.topic_word.shape == (5, len(huffpost_data.bow.vocab))


def test_one_slice_per_year(dtm_fits):
    slices = dtm_fits[0].extras["slice_top_words"]
    assert list(slices) == ["2018", "2019", "2020", "2021", "2022"]
    assert all(len(topics) == 5 and all(len(w) == 1000 for w in topics)
               for topics in slices.values())


def test_each_slice_shares_out_its_documents_among_the_topics(dtm_fits, huffpost_data):
    """extras["slice_topic_share"]: per year, the mean θ of that year's headlines that keep a
    word."""
    output = dtm_fits[0]
    shares = output.extras["slice_topic_share"]
    assert list(shares) == ["2018", "2019", "2020", "2021", "2022"]
    years = np.array([int(t[:4]) for t in huffpost_data.corpus.timestamps])
    worded = np.diff(huffpost_data.bow.offsets) > 0  # a document with no word is in no topic
    for label, share in shares.items():
        expected = output.doc_topic[(years == int(label)) & worded].mean(axis=0)
        np.testing.assert_allclose(share, expected, atol=1e-4)
        assert sum(share) == pytest.approx(1.0, abs=1e-3)


def test_topic_words_drift_across_slices(dtm_fits):
    """Static topics (a degenerate DTM) would have the same top words in every slice. At these
    10 epochs the random walk lets few words move: between 2018 and 2022, 0 to 3 of each
    topic's top 10 (seeds 5-7: 3 to 5 of the 5 topics moved before the English tokeniser
    stopped keeping pieces of words, 2 to 3 after), so the bar is that some do."""
    slices = dtm_fits[0].extras["slice_top_words"]
    first, last = slices["2018"], slices["2022"]
    changed = [k for k in range(5) if set(first[k][:10]) != set(last[k][:10])]
    assert changed


def test_slice_topics_follow_the_data(dtm_fits):
    """"coronavirus" is in 40 headlines of 2020 and in none of 2018 or 2019, so the topic that
    ranks it best must rank it best in the 2020 slice. Static topics would rank it the same in
    every slice."""
    slices = dtm_fits[0].extras["slice_top_words"]
    best_rank = {label: min(words.index("coronavirus") for words in topics)
                 for label, topics in slices.items()}
    assert min(best_rank, key=best_rank.__getitem__) == "2020"
    assert best_rank["2020"] < best_rank["2018"]


def test_same_seed_same_result(dtm_fits):
    first, again = dtm_fits
    np.testing.assert_array_equal(first.doc_topic, again.doc_topic)
    np.testing.assert_array_equal(first.topic_word, again.topic_word)
    assert again.extras["word2vec_cache"] == "hit"


def test_unparseable_timestamp_names_field_and_value(huffpost_data):
    stamps = list(huffpost_data.corpus.timestamps)
    stamps[3] = "last tuesday"
    corpus = dataclasses.replace(huffpost_data.corpus, timestamps=stamps)
    data = dataclasses.replace(huffpost_data, corpus=corpus)
    params = load_trainer("DTM").params.with_defaults(FAST)
    with pytest.raises(DataError, match=r"dataset\.timestamp_field: .*document '\S+': "
                                        r"shaped 'aaaa aaaaaaa'") as raised:
        load_trainer("DTM")().fit(data, params, FitContext(seed=1))
    assert "tuesday" not in str(raised.value)  # a shape, never the data file's content


@pytest.mark.parametrize(("text", "expected"), [
    ("2019", date(2019, 1, 1)), ("2019-07", date(2019, 7, 1)), ("2019-07-04", date(2019, 7, 4)),
    ("2019-07-04T12:30:00Z", date(2019, 7, 4)), ("July 2019", None), ("", None),
    ("2020-01-05T10:00:00+08:00", date(2020, 1, 5)), ("20200105", date(2020, 1, 5)),
    # Unix time is no date: Python's ISO parser read 1659052800000 (ms) as 1659-05-28
    ("1659052800000", None), ("1659052800", None), ("0000", None), ("2020/01/05", None),
    ("1659052800000.0", None), ("1659052800000Z", None), ("2019.0", None),
])
def test_parse_timestamp(text, expected):
    assert parse_timestamp(text) == expected


def test_equal_count_bins():
    dates = [date(2020, 1, 1 + i % 28) for i in range(10)] + [date(2021, 5, 1)] * 2
    slices = slice_documents(dates, "bins:3")
    assert slices.count == 3
    assert np.bincount(slices.index).tolist() == [4, 4, 4]
    assert slices.labels[-1].endswith("2021-05-01")


def test_bins_of_tied_dates_get_labels_of_their_own():
    """Six bins over two dates gave three distinct labels, and the slices sharing a label were
    lost from slice_top_words, keyed by it (audit of 2026-12-01)."""
    dates = [date(2022, 9, 23)] * 6 + [date(2022, 9, 24)] * 6
    slices = slice_documents(dates, "bins:6")
    assert slices.count == len(set(slices.labels)) == 6
    assert slices.labels[0] == "1/6 2022-09-23..2022-09-23"
    assert slice_documents(dates, "bins:2").labels == ["2022-09-23..2022-09-23",
                                                       "2022-09-24..2022-09-24"]


@pytest.mark.parametrize("value", ["year", "bins:2", "bins:50"])
def test_time_slices_accepts(value):
    assert load_trainer("DTM").params.validate({"time_slices": value}) == []


@pytest.mark.parametrize("value", ["bins:1", "bins:51", "quarter", 3])
def test_time_slices_rejects(value):
    problems = load_trainer("DTM").params.validate({"time_slices": value})
    assert len(problems) == 1 and "year or bins:N with N in 2-50" in problems[0]


def test_schema_leaves_out_unused_common_params():
    names = load_trainer("DTM").params.names
    assert not {"num_layers", "dropout", "patience"} & set(names)


@pytest.mark.parametrize(("value", "shape"), [
    ("1663804800", "10 digits, as Unix time in seconds"),
    ("1663804800000", "13 digits, as Unix time in milliseconds"),
    ("22.09.2022", "shaped '99.99.9999'"),
    ("1663804800000.0", "13 digits, as Unix time in milliseconds"),
    ("Tue, 05 Jan 2020 10:00:00 GMT", "shaped 'aaa, 99 aaa 9999 99:99:99 aaa'"),
    ("Woman Who Called Cops On Black Bird-Watcher Loses Lawsuit",
     "a 57-character value (a text, not a date?)"),
])
def test_a_bad_timestamp_is_described_by_its_shape_not_its_content(value, shape):
    from tuner.data.timestamps import parse_timestamps

    with pytest.raises(DataError) as raised:
        parse_timestamps(["2020-01-01", value], ["a", "b"], "c.jsonl", "when")
    message = str(raised.value)
    assert "dataset.timestamp_field 'when'" in message and "document 'b': " + shape in message
    assert value not in message


def test_slice_shares_leave_out_documents_with_no_word():
    from trainers.dtm import slice_topic_share
    from trainers.time_slices import TimeSlices

    theta = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [0.2, 0.8]])
    slices = TimeSlices(["a", "b", "c"], np.array([0, 0, 1, 2]))
    empty = np.array([False, True, False, True])
    assert slice_topic_share(theta, slices, empty) == {"a": [1.0, 0.0], "b": [0.5, 0.5]}  # c: none
