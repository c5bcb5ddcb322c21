"""Corpus and ground-truth loading on real data, and the errors bad input gets."""

from __future__ import annotations

import json
import os
import re
import unicodedata

import pandas as pd
import pytest

from tests.conftest import read_jsonl, write_jsonl
from tuner.data.corpus import DatasetSpec, corpus_sha256, load_corpus, read_records
from tuner.data.ground_truth import load_ground_truth
from tuner.data.vocab import Preprocessing, tokenize
from tuner.errors import DataError, GroundTruthError


@pytest.fixture(scope="module")
def records(small_corpus):
    return read_jsonl(small_corpus)[:60]


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".tsv", ".parquet"])
def test_formats_load_the_same_corpus(tmp_path, records, suffix):
    path = tmp_path / f"corpus{suffix}"
    if suffix == ".jsonl":
        write_jsonl(path, records)
    elif suffix in (".csv", ".tsv"):  # 20NG's posts hold commas, tabs, quotes and newlines
        pd.DataFrame(records).to_csv(path, index=False, sep="," if suffix == ".csv" else "\t")
    else:
        pd.DataFrame(records).to_parquet(path)
    corpus = load_corpus(DatasetSpec(path))
    assert corpus.ids == [r["id"] for r in records]
    assert corpus.texts == [r["text"] for r in records]
    assert corpus.labels == [r["label"] for r in records]


def test_hash_depends_on_content(tmp_path, records):
    a = load_corpus(DatasetSpec(write_jsonl(tmp_path / "a.jsonl", records)))
    changed = [dict(r) for r in records]
    changed[0]["text"] += " more"
    b = load_corpus(DatasetSpec(write_jsonl(tmp_path / "b.jsonl", changed)))
    assert a.sha256 != b.sha256


def test_a_corpus_saved_with_decomposed_accents_is_the_same_corpus(tmp_path, records):
    """NFD text (macOS writes it) split "résumé" into "sume" and gave another LDA than the same
    corpus composed (trust audit of 2026-12-01): both now load as one corpus, one hash, one set
    of words; a composed corpus keeps the hash it had."""
    accented = [{**r, "text": r["text"] + " Café résumé naïve Müller"} for r in records]
    composed = load_corpus(DatasetSpec(write_jsonl(tmp_path / "nfc.jsonl", [
        {**r, "text": unicodedata.normalize("NFC", r["text"])} for r in accented])))
    decomposed = load_corpus(DatasetSpec(write_jsonl(tmp_path / "nfd.jsonl", [
        {**r, "text": unicodedata.normalize("NFD", r["text"])} for r in accented])))
    assert decomposed.texts == composed.texts and decomposed.sha256 == composed.sha256
    assert tokenize(decomposed.texts[0], "en", Preprocessing())[-4:] == [
        "café", "résumé", "naïve", "müller"]
    assert composed.sha256 == corpus_sha256(composed.ids, [r["text"] for r in accented])


def test_untidy_real_documents_load(ng_records, tmp_path):
    tiny = min(ng_records, key=lambda r: len(r["text"]))
    huge = max(ng_records, key=lambda r: len(r["text"]))
    assert len(tiny["text"]) < 10 and len(huge["text"]) > 150_000
    corpus = load_corpus(DatasetSpec(write_jsonl(tmp_path / "c.jsonl", [tiny, huge])))
    assert len(corpus) == 2


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda rs: rs[1].update(id=rs[0]["id"]),
     r"dataset.id_field 'id': ids must be unique; 1 repeat"),
    (lambda rs: rs[1].update(id=""), r"dataset.id_field 'id': 1 document has no id \(null or "
                                     r"empty\), the first is the file's record 2"),
    (lambda rs: rs[2].pop("label"), r"dataset.label_field 'label' is missing from 1 of 60"),
    # a field named in another case (new-user audit of 2026-12-03)
    (lambda rs: [r.update(Label=r.pop("label")) for r in rs],
     r"dataset.label_field 'label' is missing from 60 of 60 records; the first such record has "
     r"the fields Label, id, split, text; did you mean 'Label'\?"),
    (lambda rs: [r.update(ID=r.pop("id")) for r in rs],  # difflib finds no "ID" for "id"
     r"dataset.id_field 'id' is missing .* did you mean 'ID'\?"),
    (lambda rs: [r.update(text="") for r in rs],
     r"dataset.text_field 'text': every document is empty"),
    (lambda rs: [r.update(body=r.pop("text")) for r in rs],  # a wrong name, not empty texts
     r"dataset.text_field 'text' is missing from 60 of 60 records; the first such record has "
     r"the fields body, id, label, split"),
])
def test_bad_corpus_is_rejected(tmp_path, records, mutate, message):
    rows = [dict(r) for r in records]
    mutate(rows)
    path = write_jsonl(tmp_path / "bad.jsonl", rows)
    with pytest.raises(DataError, match=message):
        load_corpus(DatasetSpec(path))


def test_empty_and_broken_files(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(DataError, match="the corpus is empty"):
        load_corpus(DatasetSpec(empty))
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": "1", "text": "x"}\n{oops\n')
    with pytest.raises(DataError, match=r"broken.jsonl: line 2: not valid JSON"):
        load_corpus(DatasetSpec(broken))


def test_every_bad_line_of_a_jsonl_file_is_counted_and_none_is_quoted(tmp_path):
    """Only the first bad line was named: a user fixed one line a run (new-user audit of
    2026-12-03)."""
    lines = ['{"id": "1", "text": "x"}', "not json at all secret", '["a list"]'] + \
        [f'{{"id": "{n}", "text": "x"' for n in range(12)]
    broken = tmp_path / "broken.jsonl"
    broken.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as raised:
        load_corpus(DatasetSpec(broken))
    message = str(raised.value)
    assert message.startswith(f"{broken}: line 2: not valid JSON (Expecting value at column 1")
    assert message.endswith("; 13 more bad lines: 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 and more")
    assert "secret" not in message


def test_non_utf8_corpus(tmp_path):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes('{"id": "1", "text": "caf\xe9", "label": "x"}\n'.encode("latin-1"))
    with pytest.raises(DataError, match="not valid UTF-8"):
        load_corpus(DatasetSpec(path))


def test_a_gbk_csv_is_told_how_to_become_utf8(tmp_path):
    """The error said where, not what to do; Chinese CSVs from Excel are often GBK (audit of
    2026-12-01)."""
    path = tmp_path / "gbk.csv"
    path.write_bytes("id,text,label\n1,城市房价,财经\n".encode("gbk"))
    with pytest.raises(DataError, match=r"not valid UTF-8 .*; save it as UTF-8 \(it reads as "
                                        r"Chinese in GB18030 or GBK: `iconv -f GB18030 -t UTF-8`"):
        load_corpus(DatasetSpec(path))
    # a Western European CSV from Excel was told to convert from GB18030 (user audit, 12-04)
    path.write_bytes("id,text,label\n1,Le café des prés est fermé à l'été,économie\n"
                     .encode("cp1252"))
    with pytest.raises(DataError, match=r"\(it reads as Windows-1252 or Latin-1, as Excel "
                                        r"writes a CSV on Windows: `iconv -f WINDOWS-1252"):
        load_corpus(DatasetSpec(path))


def test_a_year_written_as_a_float_is_the_year(tmp_path, records):
    """JSON's 2018.0 (a year column read through a float type) was refused as unparseable."""
    from tuner.data.timestamps import parse_timestamps

    rows = [{**r, "year": 2018.0 if i % 2 else 2019} for i, r in enumerate(records)]
    corpus = load_corpus(DatasetSpec(write_jsonl(tmp_path / "years.jsonl", rows),
                                     timestamp_field="year"))
    assert corpus.timestamps is not None and corpus.timestamps[:2] == ["2019", "2018"]
    assert {d.year for d in parse_timestamps(corpus.timestamps, corpus.ids, "x")} == {2018, 2019}


def test_missing_parquet_labels_are_missing_not_a_class(tmp_path, records):
    """Parquet gives NaN for a missing label: it was scored as a class named "nan", with a
    coverage of 1.0 and a wrong ARI (audit of 2026-12-01). JSONL's null was already missing."""
    frame = pd.DataFrame(records)
    frame.loc[::3, "label"] = float("nan")
    frame.to_parquet(tmp_path / "c.parquet")
    rows = [{**r, "label": None if i % 3 == 0 else r["label"]} for i, r in enumerate(records)]
    from_parquet = load_corpus(DatasetSpec(tmp_path / "c.parquet"))
    from_jsonl = load_corpus(DatasetSpec(write_jsonl(tmp_path / "c.jsonl", rows)))
    assert from_parquet.labels == from_jsonl.labels
    assert from_parquet.labels is not None and from_parquet.labels[0] == ""
    assert "nan" not in from_parquet.labels


def test_a_number_label_is_one_class_however_it_is_written(tmp_path, records):
    """JSON's 1 and 1.0 were the classes "1" and "1.0": ARI and F1 scored one topic against
    two classes. A column of class numbers with a gap comes out of Parquet as floats."""
    numbers = {name: i for i, name in enumerate(sorted({r["label"] for r in records}))}
    rows = [{**r, "label": numbers[r["label"]] * (1.0 if i % 2 else 1)}
            for i, r in enumerate(records)]
    mixed = load_corpus(DatasetSpec(write_jsonl(tmp_path / "mixed.jsonl", rows)))
    frame = pd.DataFrame(rows).astype({"label": "float64"})
    frame.loc[0, "label"] = float("nan")
    frame.to_parquet(tmp_path / "floats.parquet")
    floats = load_corpus(DatasetSpec(tmp_path / "floats.parquet"))
    assert mixed.labels is not None and floats.labels is not None
    assert len(set(mixed.labels)) == len(numbers)
    assert mixed.labels[1] == str(numbers[records[1]["label"]])
    assert floats.labels == ["", *mixed.labels[1:]]


def test_a_label_is_one_class_whatever_spaces_surround_it(tmp_path, records):
    """A trailing space on every second label made classes of their own, silently: F1 0.202 →
    0.107 on toutiao headlines (audit of 2026-12-01). A label of spaces alone is no label."""
    rows = [{**r, "label": r["label"] + " " * (i % 2)} for i, r in enumerate(records)]
    rows[0]["label"] = "  "
    spaced = load_corpus(DatasetSpec(write_jsonl(tmp_path / "spaced.jsonl", rows)))
    plain = load_corpus(DatasetSpec(write_jsonl(tmp_path / "plain.jsonl", records)))
    assert spaced.labels is not None and plain.labels is not None
    assert spaced.labels == ["", *plain.labels[1:]]


def test_a_jsonl_file_with_a_byte_order_mark_loads_as_csv_does(tmp_path, records):
    plain = write_jsonl(tmp_path / "plain.jsonl", records)
    marked = tmp_path / "marked.jsonl"
    marked.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
    assert load_corpus(DatasetSpec(marked)).sha256 == load_corpus(DatasetSpec(plain)).sha256


def test_a_bad_byte_is_placed_by_line_in_the_whole_file(tmp_path, records):
    """A decoder reading in chunks gave the byte's place inside its chunk: "byte 2130" for a
    byte 460,882 bytes into the file."""
    path = write_jsonl(tmp_path / "c.jsonl", records)
    lines = path.read_bytes().splitlines(keepends=True)
    lines[49] = lines[49].replace(b'"text": "', b'"text": "caf\xe9 ', 1)
    path.write_bytes(b"".join(lines))
    offset = sum(len(line) for line in lines[:49]) + lines[49].index(b"\xe9")
    with pytest.raises(DataError, match=rf"at line 50 \(byte {offset} of the file\)"):
        load_corpus(DatasetSpec(path))


def test_a_semicolon_separated_csv_gets_a_hint(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("id;text;label\n1;a b c;x\n2;d e, f, g;y\n", encoding="utf-8")
    with pytest.raises(DataError, match="separated by semicolons") as raised:
        load_corpus(DatasetSpec(path))
    assert "\n" not in str(raised.value)  # pandas' message ended in one: the hint stood alone


def test_a_list_of_texts_is_one_document_of_paragraphs(tmp_path, records):
    """Its Python spelling "['para1', 'para2']" was read as the text (audit of 2026-12-02)."""
    rows = [{**r, "text": [r["text"], None, "second paragraph"]} for r in records[:5]]
    for path in (write_jsonl(tmp_path / "c.jsonl", rows), tmp_path / "c.parquet"):
        if path.suffix == ".parquet":
            pd.DataFrame(rows).to_parquet(path)
        corpus = load_corpus(DatasetSpec(path))
        assert corpus.texts == [f"{r['text']}\n\nsecond paragraph" for r in records[:5]]


def test_a_text_that_is_an_object_is_refused_without_its_content(tmp_path, records):
    rows = [{**r, "text": {"body": "secret words"}} for r in records[:5]]
    with pytest.raises(DataError, match=r"c.jsonl: record 1: dataset.text_field 'text': a "
                                        r"document's text is an object") as raised:
        load_corpus(DatasetSpec(write_jsonl(tmp_path / "c.jsonl", rows)))
    assert "secret" not in str(raised.value)


def test_a_covariate_without_a_value_is_refused_before_any_trial(tmp_path, records):
    """A null covariate passed validation, then failed every STM trial."""
    rows = [{**r, "group": None if i == 5 else str(i % 2)} for i, r in enumerate(records)]
    path = write_jsonl(tmp_path / "c.jsonl", rows)
    with pytest.raises(DataError, match=r"dataset.covariates\[0\] 'group': 1 of 60 records "
                                        r"have no value"):
        load_corpus(DatasetSpec(path, covariates=("group",)))


def test_a_torn_last_line_names_its_column(tmp_path, records):
    path = write_jsonl(tmp_path / "c.jsonl", records)
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(DataError, match=r"line 60: not valid JSON \(Unterminated string "
                                        r"starting at column \d+; a file cut short"):
        load_corpus(DatasetSpec(path))


@pytest.fixture(scope="module")
def corpus(small_corpus):
    return load_corpus(DatasetSpec(small_corpus))


def write_truth(tmp_path, mapping):
    path = tmp_path / "truth.json"
    path.write_text(json.dumps(mapping))
    return path


def test_ground_truth_file_maps_clusters_to_documents(tmp_path, corpus):
    truth = load_ground_truth(write_truth(tmp_path, {"a": corpus.ids[:3], "b": corpus.ids[3:5]}),
                              corpus)
    assert truth.labels[:5].tolist() == [0, 0, 0, 1, 1]
    assert (truth.labels[5:] == -1).all()


def test_ground_truth_file_may_map_each_document_to_its_cluster(tmp_path, corpus):
    """{id: label}, the shape most label exports have, was refused as "expects a list of
    document ids; got str" (new-user audit of 2026-12-04)."""
    by_document = {corpus.ids[0]: "b", corpus.ids[1]: "a", corpus.ids[2]: "b", corpus.ids[3]: 7}
    truth = load_ground_truth(write_truth(tmp_path, by_document), corpus)
    assert truth.labels[:4].tolist() == [0, 1, 0, 2] and (truth.labels[4:] == -1).all()
    assert truth.names == ["b", "a", "7"]


@pytest.mark.parametrize(("mapping", "message"), [
    ({"a": ["no-such-doc"]}, r"\(ground_truth\): 1 document id is not in the corpus"),
    ({"a": "x", "b": ["y"]}, r"cluster 'a': expects a list of document ids; got str \(the "
                             r"file maps each cluster to its documents' ids"),
    ({"x": "a"}, r"1 document id is not in the corpus .* \(e.g. x; the corpus's ids read as "),
    ([], r"expects a non-empty JSON object"),
])
def test_bad_ground_truth(tmp_path, corpus, mapping, message):
    with pytest.raises(GroundTruthError, match=message):
        load_ground_truth(write_truth(tmp_path, mapping), corpus)


@pytest.mark.parametrize(("text", "message"), [
    ('{"a": [' + "9" * 5000 + "]}", "a number has too many digits"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('\ufeff{"a": ["x"]}', "document id is not in the corpus"),  # a BOM is read past
])
def test_unusable_ground_truth_json_is_a_ground_truth_error(tmp_path, corpus, text, message):
    """Python's own limits (4,300 digits, its recursion depth) raised ValueError and
    RecursionError: a 500 over HTTP and exit 1 from `tuner validate` (attacker audit of
    2026-12-02)."""
    path = tmp_path / "truth.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(GroundTruthError, match=message):
        load_ground_truth(path, corpus)


def test_document_in_two_clusters(tmp_path, corpus):
    mapping = {"a": corpus.ids[:2], "b": corpus.ids[1:3]}
    with pytest.raises(GroundTruthError, match=r"a document may belong to one cluster only"):
        load_ground_truth(write_truth(tmp_path, mapping), corpus)


def test_short_chinese_headlines_beside_long_english_articles_are_chinese():
    """By the share of letters alone, 60% Chinese headlines among 40% long English articles
    were 23% Chinese, tokenised as English, and 60% of the documents kept no word (review of
    2026-12-01): most documents being mostly Chinese makes the corpus zh too."""
    from tuner.data.language import chinese_share, detected_language

    headlines = ["中国队今晚赢得了世界杯的比赛"] * 60
    articles = ["A long English article about trade, elections and the weather. " * 8] * 40
    assert chinese_share(headlines + articles) < 0.3
    assert detected_language(headlines + articles) == "zh"
    assert detected_language(articles + headlines[:30]) == "en"


def test_whole_number_ids_written_as_floats_are_the_numbers(tmp_path, records):
    """Ids 0.0, 1.0 (a column exported through a float type) missed a ground truth file's ids
    0, 1 (audit of 2026-12-02)."""
    rows = [{**r, "id": float(i)} for i, r in enumerate(records)]
    corpus = load_corpus(DatasetSpec(write_jsonl(tmp_path / "c.jsonl", rows)))
    assert corpus.ids[:3] == ["0", "1", "2"]


def test_a_parquet_list_column_as_a_covariate_is_refused(tmp_path, records):
    """Its values arrive as numpy arrays, whose text "['x' 'y']" made a level each."""
    path = tmp_path / "c.parquet"
    pd.DataFrame([{**r, "tags": ["x", "y"]} for r in records]).to_parquet(path)
    with pytest.raises(DataError, match=r"'tags': 60 of 60 records hold a list or an object"):
        load_corpus(DatasetSpec(path, covariates=("tags",)))


@pytest.mark.parametrize("label", [["comp.graphics"], ["comp.graphics", "extra"],
                                   {"SECRET-DICTLABEL": 1}])
def test_a_label_that_is_a_list_or_an_object_is_refused_without_its_content(tmp_path, records,
                                                                             label):
    """Each list's text became a class of its own: a multi-label corpus was scored against
    classes made of label combinations, and validate said valid (attacker audit of
    2026-12-02)."""
    rows = [{**r, "label": label} if i % 3 == 0 else r for i, r in enumerate(records)]
    with pytest.raises(DataError) as raised:
        load_corpus(DatasetSpec(write_jsonl(tmp_path / "c.jsonl", rows), label_field="label"))
    message = str(raised.value)
    assert "dataset.label_field 'label': 20 of 60 records hold a list or an object" in message
    assert "SECRET" not in message and "comp.graphics" not in message


def test_a_broken_csv_record_is_named_by_the_files_own_lines(tmp_path):
    """pandas said "Expected 3 fields in line 9, saw 15" of a stray quote on line 51: it counts
    records, not the file's lines (new-user audit of 2026-12-03)."""
    stray = tmp_path / "stray.csv"
    stray.write_text("id,text,label\n" + "".join(f"{i},post {i},a\n" for i in range(1, 7))
                     + '7,"a stray quote,b\n' + "".join(f"{i},post {i},b\n" for i in range(8, 20)))
    with pytest.raises(DataError, match=r"stray.csv: cannot be read as csv: record 7 \(lines 8 "
                                        r"to 20 of the file\) has 2 fields where the header has 3"):
        read_records(stray)
    longer = tmp_path / "longer.csv"  # pandas made the ids an index and read them as the text
    longer.write_text("id,text\n1,x,a\n2,y,b\n")
    with pytest.raises(DataError, match=r"record 1 \(line 2 of the file\) has 3 fields where "
                                        r"the header has 2"):
        read_records(longer)
    shortish = tmp_path / "short.csv"  # a short record of one line is read, its field empty
    shortish.write_text("id,text,label\n1,x,a\n2,short\n3,y,c\n4,one, two,b\n")
    with pytest.raises(DataError, match=r"record 4 \(line 5 of the file\) has 4 fields"):
        read_records(shortish)
    comma = tmp_path / "comma.csv"
    comma.write_text("id,text,label\n1,x,a\n2,one, two,b\n3,y,c\n")
    with pytest.raises(DataError, match=r"record 2 \(line 3 of the file\) has 4 fields"):
        read_records(comma)


def _as_folder(root, records):
    """The records as a corpus folder: each text in <label>/<id>.txt, as the BBC release is."""
    for r in records:
        path = root / r["label"] / f"{r['id']}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(r["text"], encoding="utf-8")
    return root


def test_a_folder_of_text_files_is_labelled_by_the_folders_its_files_are_in(tmp_path, records):
    folder = _as_folder(tmp_path / "corpus", records)
    (folder / ".DS_Store").write_bytes(b"\0\1")  # hidden files and folders are not documents
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    # labelled by the folder it is in, not by a split or a year above it
    nested = folder / "test" / "sport" / "deep.txt"
    nested.parent.mkdir(parents=True)
    nested.write_text("a post two folders further down", encoding="utf-8")
    corpus = load_corpus(DatasetSpec(folder))
    # 20NG's ids are split/group/number: the files are <group>/<split>/<group>/<number>.txt
    assert all(r["id"].rsplit("/", 2)[-2] == r["label"] for r in records)
    expected = sorted([(f"{r['label']}/{r['id']}.txt", r["text"], r["label"]) for r in records]
                      + [("test/sport/deep.txt", "a post two folders further down", "sport")])
    assert list(zip(corpus.ids, corpus.texts, corpus.labels, strict=True)) == expected


def test_a_folder_corpus_is_keyed_by_its_content_as_a_file_is(tmp_path, records):
    """The same documents, ids and labels as a folder or as JSONL: one corpus hash, so one set
    of keys, caches and trials."""
    folder = load_corpus(DatasetSpec(_as_folder(tmp_path / "corpus", records)))
    rows = [{"id": i, "text": t, "label": lab}
            for i, t, lab in zip(folder.ids, folder.texts, folder.labels, strict=True)]
    as_file = load_corpus(DatasetSpec(write_jsonl(tmp_path / "c.jsonl", rows)))
    assert (folder.sha256, folder.labels) == (as_file.sha256, as_file.labels)
    (tmp_path / "corpus" / rows[0]["id"]).write_text("edited", encoding="utf-8")
    assert load_corpus(DatasetSpec(tmp_path / "corpus")).sha256 != folder.sha256


def test_a_folder_with_files_outside_a_subfolder_is_told_they_have_no_label(tmp_path, records):
    folder = _as_folder(tmp_path / "corpus", records[:10])
    (folder / "README").write_text("about this corpus", encoding="utf-8")
    with pytest.raises(DataError, match="label_field 'label' is missing from 1 of 11 records.*"
                                        "files directly in the folder have none"):
        load_corpus(DatasetSpec(folder))
    assert load_corpus(DatasetSpec(folder, label_field=None)).ids[0] == "README"


@pytest.mark.parametrize("content, problem", [
    (b"PK\x03\x04\x00\x00secret", "is not a text file"),
    (b"line one\nsecret caf\xe9 au lait", r"is not valid UTF-8 \(invalid continuation byte at "
                                           r"line 2, byte 19 of the file\)")])
def test_a_folder_file_that_is_not_utf8_text_is_named_without_its_content(
        tmp_path, records, content, problem):
    folder = _as_folder(tmp_path / "corpus", records[:5])
    (folder / records[0]["label"] / "bad.txt").write_bytes(content)
    with pytest.raises(DataError, match=f"{records[0]['label']}/bad.txt {problem}") as raised:
        load_corpus(DatasetSpec(folder))
    assert "secret" not in str(raised.value)


def test_an_empty_folder_is_refused(tmp_path):
    (tmp_path / "corpus" / ".hidden").mkdir(parents=True)
    (tmp_path / "corpus" / "scan.pdf").write_bytes(b"%PDF")
    with pytest.raises(DataError, match="the corpus folder holds no documents"):
        load_corpus(DatasetSpec(tmp_path / "corpus"))


def test_what_is_not_a_document_is_left_out_of_a_folder_and_counted(tmp_path, records):
    """A sweep run from inside its corpus folder wrote its store and cache there, and the next
    read took them for documents: every trial failed (review of 2026-12-04). Tuner's folders
    are left out; files that are not text by their suffix too, and `validate` counts them."""
    from tuner.engine.advice import advisories
    from tuner.engine.sweep import check_inputs
    from tuner.grid import load_grid

    folder = _as_folder(tmp_path / "corpus", records)
    before = load_corpus(DatasetSpec(folder))
    for made in ("mlruns/mlflow.db", "mlruns/1/abc/artifacts/topics.txt",
                 "embedding_cache/bow/x.npz", "grid.json", "scans/one.pdf", "scans/two.pdf"):
        (folder / made).parent.mkdir(parents=True, exist_ok=True)
        (folder / made).write_bytes(b"\0 not a document")
    kept = [(f"{records[0]['label']}/{name}", f"text of {name}")
            for name in ("no-suffix", "article.001", "notes.md", "NOTES.TXT")]
    for name, text in kept:
        (folder / name).write_text(text, encoding="utf-8")
    after = load_corpus(DatasetSpec(folder))
    assert sorted(set(after.ids) - set(before.ids)) == sorted(name for name, _ in kept)
    path = tmp_path / "grid.json"
    path.write_text(json.dumps({"experiment": "x", "dataset": {"path": "corpus"},
                                "model": "LDA", "params": {"num_topics": 20}}))
    grid = load_grid(path)
    warnings = advisories(grid, check_inputs(grid))
    assert any("3 files of the corpus folder are not documents and are left out (2 .pdf, "
               "1 .json)" in warning for warning in warnings), warnings
    os.mkfifo(folder / "pipe.txt")  # named as a document, not a file: counted, not read
    (folder / "gone.txt").symlink_to(folder / "missing.txt")
    assert load_corpus(DatasetSpec(folder)).ids == after.ids
    warnings = advisories(grid, check_inputs(grid))
    assert any("3 files of the corpus folder are not documents and are left out (2 .pdf, "
               "1 .json)" in warning for warning in warnings), warnings
    assert any("dataset.path: 2 entries of the corpus folder are no regular file (a FIFO, a "
               "device, a socket or a link to nothing) and left out" in warning
               for warning in warnings), warnings


def test_a_folder_file_name_that_is_not_utf8_is_refused_by_name(tmp_path, records):
    folder = _as_folder(tmp_path / "corpus", records[:5])
    with open(os.fsencode(folder / records[0]["label"]) + b"/caf\xe9.txt", "w") as handle:
        handle.write("coffee")
    with pytest.raises(DataError, match="the file name .*caf.*txt' is not UTF-8"):
        load_corpus(DatasetSpec(folder))


def test_a_text_file_is_one_document_per_line_numbered_as_the_file_is(tmp_path, records):
    path = tmp_path / "lines.txt"
    lines = [" ".join(r["text"].split()) for r in records[:4]]  # one line each
    path.write_text(f"\ufeff{lines[0]}\n\n{lines[1]}\r\n  \n{lines[2]}\rstill 5\n{lines[3]}",
                    encoding="utf-8", newline="")
    corpus = load_corpus(DatasetSpec(path, label_field=None))
    assert corpus.ids == ["1", "3", "5", "6"]  # blank lines are no documents, but are counted
    # lines end at \n alone, as wc -l counts them: a lone \r does not split a document
    assert corpus.texts == [lines[0], lines[1], f"{lines[2]}\rstill 5", lines[3]]
    with pytest.raises(DataError, match="label_field 'label' is missing from 4 of 4"):
        load_corpus(DatasetSpec(path))


def test_without_an_id_field_the_records_are_numbered(tmp_path, records):
    path = tmp_path / "c.csv"
    pd.DataFrame(records)[["text", "label"]].to_csv(path, index=False)
    with pytest.raises(DataError, match='id_field \'id\' is missing.*set "id_field": null'):
        load_corpus(DatasetSpec(path))
    corpus = load_corpus(DatasetSpec(path, id_field=None))
    assert corpus.ids == [str(n) for n in range(1, len(records) + 1)]
    assert corpus.texts == [r["text"] for r in records]


@pytest.mark.parametrize("content, said", [
    ("id\ttext\tlabel\n1\ta b\tx\n2\tc\td\te\ty\n",
     "record 2 (line 3 of the file) has 5 fields where the header has 3: a tab in a field"),
    ("id\ttext\n1\ta b\n2\t\"c d\n3 e f\n4 g\n",
     "a double quote (\") at the start of a field on line 3 opens a quoted field that never "
     "closes")])
def test_a_broken_tsv_record_is_named_by_its_line(tmp_path, content, said):
    path = tmp_path / "c.tsv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=re.escape(said)):
        load_corpus(DatasetSpec(path, label_field=None))


STRAY = ("id\ttext\tlabel\n1\tStocks rally as markets open\tbusiness\n"
         "2\t\"Unstoppable, she said of the striker\tsport\n"
         "3\tNew phone launched with better camera\ttech\n"
         "4\tThe minister called it \"a disgrace\" today\tpolitics\n"
         "5\tBank raises interest rates again\tbusiness\n")


def test_a_quote_closed_on_its_own_line_is_read_as_before(tmp_path):
    """The stray-quote check refused `1,"5" screen is great,a`, which spans no line and which
    pandas reads as before (review of 2026-12-04)."""
    path = tmp_path / "c.csv"
    path.write_text('id,text,label\n1,"5" screen is great,a\n2,"hello world" ,b\n',
                    encoding="utf-8")
    assert load_corpus(DatasetSpec(path)).texts == ["5 screen is great", "hello world "]


def test_a_tsv_written_without_quoting_keeps_every_record_and_its_quotes(tmp_path):
    """CSV quoting read record 2's opening quote as a field running to record 4's quote: 3
    documents, record 2 holding 3 and 4 under 5's label (trust audit of 2026-12-04)."""
    path = tmp_path / "c.tsv"
    path.write_text(STRAY, encoding="utf-8")
    corpus = load_corpus(DatasetSpec(path))
    assert corpus.ids == ["1", "2", "3", "4", "5"]
    assert corpus.texts[1] == '"Unstoppable, she said of the striker'
    assert corpus.texts[3] == 'The minister called it "a disgrace" today'
    assert corpus.labels == ["business", "sport", "tech", "politics", "business"]


def test_a_tsv_quote_that_never_closes_is_text_where_every_line_is_a_record(tmp_path):
    """A headline that starts with a quote never closed: CSV quoting ran it to the end of the
    file, and the TSV was refused although every line held the header's fields."""
    path = tmp_path / "c.tsv"
    path.write_text('id\ttext\tlabel\n1\t"Unstoppable, she said\tsport\n2\tRates rise\tbusiness\n',
                    encoding="utf-8")
    corpus = load_corpus(DatasetSpec(path))
    assert corpus.texts == ['"Unstoppable, she said', "Rates rise"]
    assert corpus.labels == ["sport", "business"]
    csv_path = tmp_path / "c.csv"  # a CSV's quotes are quotes: still refused, by its line
    csv_path.write_text(path.read_text().replace("\t", ","), encoding="utf-8")
    with pytest.raises(DataError, match=re.escape("record 1 (lines 2 to 3 of the file)")):
        load_corpus(DatasetSpec(csv_path))


@pytest.mark.parametrize("name, content, said", [
    ("c.csv", STRAY.replace("\t", ","), "line 3 (read to line 5 as one field): a field starts "
     'with a double quote (") and goes on after the next one'),
    ("c.csv", "id,text\n1,a\n2,b\0c\n", "line 3 holds a NUL byte: not a text file"),
    ("c.tsv", "id\ttext\n1\t\"a\" b\n2\tb\0c\n", "line 3 holds a NUL byte"),
    ("c.txt", "a\n\nb\0c\n", "c.txt: cannot be read as txt: line 3 holds a NUL byte")])
def test_a_stray_quote_is_refused_by_its_line_where_quotes_are_csvs(tmp_path, name, content,
                                                                    said):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=re.escape(said)) as raised:
        load_corpus(DatasetSpec(path, label_field=None))
    said_after_path = str(raised.value).split(": ", 1)[1]  # no content quoted
    assert not {"Unstoppable", "disgrace", "stray", "lines\"", "b\0c"} & \
        set(said_after_path.split())


@pytest.mark.parametrize("suffix, sep", [(".csv", ","), (".tsv", "\t")])
def test_a_quoted_file_pandas_wrote_reads_back_exactly(tmp_path, records, suffix, sep):
    """Quotes, tabs and line breaks inside fields, and a field past the csv module's 128 kB."""
    rows = [*records[:20], {"id": "long", "text": '"x"\t' + "word " * 40_000, "label": "a"}]
    path = tmp_path / f"c{suffix}"
    pd.DataFrame(rows).to_csv(path, sep=sep, index=False)
    assert load_corpus(DatasetSpec(path)).texts == [r["text"] for r in rows]


def test_a_tab_separated_csv_is_told_to_be_named_tsv(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("id\ttext\tlabel\n1\ta b c\tx\n2\td e, f, g\ty\n", encoding="utf-8")
    with pytest.raises(DataError, match="separated by tabs.*name the file .tsv"):
        load_corpus(DatasetSpec(path))
    tsv = path.rename(tmp_path / "c.tsv")
    assert load_corpus(DatasetSpec(tsv)).texts == ["a b c", "d e, f, g"]


def test_several_text_fields_are_joined_in_order(tmp_path, records):
    """A title beside its abstract, a headline beside its description: both are the text."""
    rows = [{"id": r["id"], "title": r["text"].split("\n", 1)[0], "label": r["label"],
             "body": r["text"].split("\n", 1)[-1] if n % 5 else ""}
            for n, r in enumerate(records)]
    path = write_jsonl(tmp_path / "c.jsonl", rows)
    corpus = load_corpus(DatasetSpec(path, text_field=("title", "body")))
    assert corpus.texts == [f"{r['title']}\n\n{r['body']}" if r["body"].strip() else r["title"]
                            for r in rows]  # a blank field adds no blank line
    assert corpus.sha256 != load_corpus(DatasetSpec(path, text_field="body")).sha256
    # a record without one of its text fields has the others' text, as with that one null
    blank = [dict(r) for r in rows]
    blank[3]["body"] = None
    del rows[3]["body"]
    lacking = load_corpus(DatasetSpec(write_jsonl(tmp_path / "d.jsonl", rows),
                                      text_field=("title", "body")))
    assert lacking.texts[3] == rows[3]["title"]
    assert lacking.sha256 == load_corpus(DatasetSpec(write_jsonl(tmp_path / "e.jsonl", blank),
                                                     text_field=("title", "body"))).sha256
    for row in rows:
        row.pop("body", None)
    with pytest.raises(DataError, match=r"dataset.text_field\[1\] 'body' is missing from "
                                        r"60 of 60"):
        load_corpus(DatasetSpec(write_jsonl(tmp_path / "f.jsonl", rows),
                                text_field=("title", "body")))


def test_a_folder_nested_past_pythons_recursion_and_a_file_of_lone_cr_line_ends_are_said(
        tmp_path):
    """os.walk recurses per level: 1,100 levels ended `validate` and `init` in a traceback, and
    a .txt whose lines end with \\r alone read as one document (attacker audit of 2026-12-04)."""
    deep = str(tmp_path / "deep")
    os.mkdir(deep)
    for _ in range(1100):
        deep += "/a"
        os.mkdir(deep)
    (tmp_path / deep / "x.txt").write_text("hello", encoding="utf-8")
    try:
        with pytest.raises(DataError, match="nested too deeply"):
            load_corpus(DatasetSpec(tmp_path / "deep", label_field=None))
    finally:  # pytest's own clean-up recurses as os.walk does
        os.remove(os.path.join(deep, "x.txt"))
        while deep != str(tmp_path):
            os.rmdir(deep)
            deep = os.path.dirname(deep)
    lines = tmp_path / "mac.txt"
    lines.write_bytes(b"a b c\rd e f\r")  # two lines
    with pytest.raises(DataError, match=r"mac.txt: its lines end with \\r alone"):
        load_corpus(DatasetSpec(lines, label_field=None))


def test_class_codes_are_no_years_but_splits_and_years_are_no_topics():
    from tuner.data.ground_truth import not_topical

    assert not_topical(["1001", "1002", "2834", "20240101"]) is None  # SIC-like codes
    assert not_topical(["1999", "2004"]) == "dates or years"
    assert not_topical(["2004-05-01", "2005-06-01"]) == "dates or years"
    assert not_topical(["Train", "test"]) is not None and not_topical(["sport", "test"]) is None



@pytest.mark.parametrize("indent", [None, 2])
def test_a_json_array_of_records_is_said_to_need_json_lines(tmp_path, indent):
    """A `.json` export holding one array failed on "line 1: expects a JSON object per line",
    unexplained (new-user audit of 2026-12-04)."""
    path = tmp_path / "export.json"
    path.write_text(json.dumps([{"id": "1", "text": "a b c"}, {"id": "2", "text": "d e"}],
                               indent=indent), encoding="utf-8")
    with pytest.raises(DataError, match=r"^.*export.json: line 1: .*; the file holds one JSON "
                                        r"array, and tuner reads JSON Lines, one object a line: "
                                        r"convert it, e\.g\. python -c .* export\.json > "
                                        r"export\.jsonl$"):
        load_corpus(DatasetSpec(path))
    path.write_text('{"id": "1", "text": "a"}\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_corpus(DatasetSpec(path))
    assert "JSON array" not in str(info.value)


def test_the_encoding_hint_reads_past_a_split_character_and_a_broken_utf8_byte(tmp_path):
    """A GBK file whose head ended inside a two-byte character was told Windows-1252, and a
    UTF-8 Chinese file with one broken byte too (review of 2026-12-04)."""
    from tuner.data.corpus import HEAD_BYTES, _encoding_hint

    gbk = ("城市房价上涨" * 20000).encode("gbk")
    assert "GB18030" in _encoding_hint(b"x" + gbk[:HEAD_BYTES - 1])  # cut mid-character
    path = tmp_path / "broken.jsonl"
    text = json.dumps({"id": "1", "text": "城市房价上涨" * 50, "label": "x"}, ensure_ascii=False)
    path.write_bytes(text.encode("utf-8")[:40] + b"\xff" + text.encode("utf-8")[40:] + b"\n")
    with pytest.raises(DataError, match=r"\(it is UTF-8 but for a few broken bytes"):
        load_corpus(DatasetSpec(path))


def test_missing_and_unreadable_dates_are_said_at_once():
    """Empty dates were said first, and the unreadable ones only once those were fixed
    (new-user audit of 2026-12-04)."""
    from tuner.data.timestamps import parse_timestamps

    with pytest.raises(DataError) as info:
        parse_timestamps(["2020-01-01", "", "March, 2020", "2021"], ["a", "b", "c", "d"], "x.jsonl")
    said = str(info.value)
    assert said.startswith("x.jsonl: dataset.timestamp_field: every document needs a date; 1 of "
                           "4 have none (null or empty), e.g. document 'b'; and expects ISO dates")
    assert "1 of 4 documents have values that are none of these, e.g. document 'c'" in said


def test_a_text_field_many_records_lack_is_refused_not_read_as_empty(tmp_path, records):
    """Half the records hold their text under "text", half under "body": read as documents
    without text, half the corpus was dropped, and validate advised dropping them (review of
    2026-12-05). A few records without it are documents without text."""
    rows = [dict(r) for r in records]
    for row in rows[1::2]:
        row["body"] = row.pop("text")
    with pytest.raises(DataError, match=r"dataset.text_field 'text' is missing from 30 of 60 "
                                        r"records; the first such record has the fields body"):
        load_corpus(DatasetSpec(write_jsonl(tmp_path / "half.jsonl", rows)))
    few = [dict(r) for r in records]
    for row in few[:6]:  # 10%: documents without text
        del row["text"]
    corpus = load_corpus(DatasetSpec(write_jsonl(tmp_path / "few.jsonl", few)))
    assert corpus.texts[:6] == [""] * 6
    del few[6]["text"]  # 7 of 60: over a tenth
    with pytest.raises(DataError, match="is missing from 7 of 60"):
        load_corpus(DatasetSpec(write_jsonl(tmp_path / "more.jsonl", few)))
