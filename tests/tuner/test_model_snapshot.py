"""A served sweep's embedding model folder is read once, through descriptors checked under the
server's data roots, into a snapshot in the cache that every later step reads (attacker audit
of 2026-12-05: the folder was checked by path, then transformers read it by path, so a file
swapped for a link in between was read from outside the roots)."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path, PurePath

import pytest

from tests.conftest import make_grid, write_jsonl
from tuner.data.embeddings import model_revision, resolve_model_path
from tuner.data.model_snapshot import BLOBS, SNAPSHOTS, _opened_files, snapshot_model
from tuner.engine.sweep import check_inputs, embedding_key, precompute
from tuner.errors import DataError
from tuner.grid import load_grid

SECRET = "zqxOUTSIDEq7"  # only in files outside the roots


def _model_copy(folder: Path) -> Path:
    """MiniLM as a folder of its own: hard links where the file system allows (replaced by a
    new file or a link below, never written in place), else copies."""
    def link(source: str, target: str) -> None:
        try:
            os.link(source, target)
        except OSError:
            shutil.copy2(source, target)

    shutil.copytree(resolve_model_path("sentence-transformers/all-MiniLM-L6-v2"), folder,
                    copy_function=link)
    return folder


def _files(folder: Path) -> dict[str, bytes]:
    """The folder's files but hidden ones (.gitattributes, .git/: bookkeeping, not copied)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not any(part.startswith(".")
                                       for part in p.relative_to(folder).parts)}


def test_a_snapshot_holds_the_folders_files_and_is_named_as_the_folder_is_known(
        tmp_path: Path) -> None:
    root = tmp_path / "data"
    model = _model_copy(root / "model")
    (model / ".git").mkdir()
    (model / ".git" / "HEAD").write_text("bookkeeping, not the model")
    snapshot = snapshot_model(model, (root.resolve(),), tmp_path / "cache", "embedding.model")
    assert snapshot.parent == tmp_path / "cache" / SNAPSHOTS
    assert not snapshot.is_relative_to(root)
    assert _files(snapshot) == _files(model) and not (snapshot / ".git").exists()
    # a served sweep and one run by hand on the same folder key the same embeddings
    assert snapshot.name == model_revision(model) == model_revision(snapshot)


def test_a_folder_seen_before_is_not_copied_again_and_a_changed_file_makes_a_new_snapshot(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tuner.data import model_snapshot

    root, cache = tmp_path / "data", tmp_path / "cache"
    model = _model_copy(root / "model")
    roots = (root.resolve(),)
    # files just written are "racy" for 2 s and read again (as git's index): none is here
    monkeypatch.setattr(model_snapshot, "RACY_NS", -1)
    first = snapshot_model(model, roots, cache, "embedding.model")
    blobs = {p.name: p.stat().st_ino for p in (cache / BLOBS).iterdir()}
    assert snapshot_model(model, roots, cache, "embedding.model") == first
    assert {p.name: p.stat().st_ino for p in (cache / BLOBS).iterdir()} == blobs  # no copy
    (model / "README.md").unlink()
    (model / "README.md").write_text("weights changed in place keep their name")
    second = snapshot_model(model, roots, cache, "embedding.model")
    assert second != first and first.is_dir()
    assert (second / "README.md").read_text().startswith("weights changed")
    assert len(list((cache / BLOBS).iterdir())) == len(blobs) + 1  # the rest is shared


def test_a_model_file_that_leads_outside_when_opened_is_not_read(tmp_path: Path) -> None:
    """Here the link is in place before the copy opens the file, as a racing swap would be
    after the folder's check: the open file is checked, nothing is copied, and the message is
    one for every cause, naming neither the target nor whether it exists."""
    root, cache, outside = tmp_path / "data", tmp_path / "cache", tmp_path / f"{SECRET}-out"
    model = _model_copy(root / "model")
    outside.mkdir()
    (outside / "config.json").write_text(f'{{"{SECRET}": 1}}')
    (model / "config.json").unlink()
    roots = (root.resolve(),)
    answers = []
    for target in (outside / "config.json", outside / "missing.json"):
        (model / "config.json").unlink(missing_ok=True)
        (model / "config.json").symlink_to(target)
        with pytest.raises(DataError, match="config.json cannot be read as a file under the "
                                            "server's data roots") as refused:
            dict(_opened_files(model, roots, "embedding.model"))
        answers.append(str(refused.value))
        with pytest.raises(DataError, match="embedding.model now leads outside"):
            snapshot_model(model, roots, cache, "embedding.model")  # the folder's own check
    assert answers[0] == answers[1] and SECRET not in answers[0]
    assert not any(SECRET.encode() in p.read_bytes() for p in cache.rglob("*") if p.is_file())
    (model / "config.json").unlink()
    os.mkfifo(model / "config.json")  # a FIFO in a file's place is refused, not waited on
    with pytest.raises(DataError, match="config.json cannot be read as a file"):
        snapshot_model(model, roots, cache, "embedding.model")


def test_a_file_named_in_the_models_json_outside_its_folder_is_not_read(
        tmp_path: Path) -> None:
    """transformers joins a tokenizer config's `fast_tokenizer_files` onto the folder, and an
    absolute name wins the join: the tokenizer was loaded from outside the roots (review of
    2026-12-05). The snapshot's copy of the config leaves such entries out."""
    from transformers import AutoTokenizer

    root, cache, outside = tmp_path / "data", tmp_path / "cache", tmp_path / f"{SECRET}-out"
    model = _model_copy(root / "model")
    outside.mkdir()
    tokenizer = json.loads((model / "tokenizer.json").read_text(encoding="utf-8"))
    tokenizer["model"]["vocab"][SECRET] = len(tokenizer["model"]["vocab"])
    (outside / "tokenizer.4.0.json").write_text(json.dumps(tokenizer), encoding="utf-8")
    config = json.loads((model / "tokenizer_config.json").read_text(encoding="utf-8"))
    entries = {"fast_tokenizer_files": [str(outside / "tokenizer.4.0.json")],
               "vocab_file": "sub/../../../outside.txt", "_name_or_path": "/home/someone/x"}
    (model / "tokenizer_config.json").unlink()
    (model / "tokenizer_config.json").write_text(json.dumps({**config, **entries}))
    assert SECRET in AutoTokenizer.from_pretrained(model).get_vocab()  # as transformers does
    snapshot = snapshot_model(model, (root.resolve(),), cache, "embedding.model")
    copied = json.loads((snapshot / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert copied == {**config, "fast_tokenizer_files": [], "_name_or_path": "/home/someone/x"}
    assert SECRET not in AutoTokenizer.from_pretrained(snapshot).get_vocab()
    # named by what it holds: its embeddings are not those of the folder as run by hand
    assert snapshot.name == model_revision(snapshot) != model_revision(model)
    assert (model / "tokenizer_config.json").read_text(encoding="utf-8") != \
        (snapshot / "tokenizer_config.json").read_text(encoding="utf-8")


def test_a_string_vocab_in_the_tokenizer_config_is_not_read(tmp_path: Path) -> None:
    """Without tokenizer.json, transformers passed a string `vocab` to the tokenizer, which
    opened it as named: an absolute path outside the roots, or a name in the server's working
    folder (review of 2026-12-05)."""
    from transformers import AutoTokenizer

    root, cache = tmp_path / "data", tmp_path / "cache"
    model = _model_copy(root / "model")
    (model / "tokenizer.json").unlink()
    outside = tmp_path / "outside-vocab.txt"
    outside.write_text((model / "vocab.txt").read_text(encoding="utf-8") + SECRET + "\n",
                       encoding="utf-8")
    config = json.loads((model / "tokenizer_config.json").read_text(encoding="utf-8"))
    (model / "tokenizer_config.json").unlink()
    (model / "tokenizer_config.json").write_text(json.dumps({**config, "vocab": str(outside)}))
    assert SECRET in AutoTokenizer.from_pretrained(model).get_vocab()  # as transformers does
    snapshot = snapshot_model(model, (root.resolve(),), cache, "embedding.model")
    assert "vocab" not in json.loads((snapshot / "tokenizer_config.json").read_text())
    assert SECRET not in AutoTokenizer.from_pretrained(snapshot).get_vocab()


def test_a_folder_above_swapped_for_a_link_is_not_listed(tmp_path: Path) -> None:
    """os.fwalk opens its top by path, through the folders above: one swapped for a link after
    the check listed a folder outside the roots, and the refusal named a file there (review of
    2026-12-05). Here the swap is made before the walk, as a racing one would be."""
    from tuner.data.model_snapshot import _walked

    root, outside = tmp_path / "data", tmp_path / "outside"
    model = _model_copy(root / "a" / "model")
    (outside / "a" / "model").mkdir(parents=True)
    (outside / "a" / "model" / f"{SECRET}.txt").write_text("x")
    checked = model.resolve()  # as confined() gave it
    (root / "a").rename(tmp_path / "moved")
    (root / "a").symlink_to(outside / "a")
    with pytest.raises(DataError, match="a folder in or above it was replaced while it was "
                                        "read") as refused:
        list(_walked(checked, "embedding.model"))
    assert SECRET not in str(refused.value)
    (root / "a").unlink()
    (tmp_path / "moved").rename(root / "a")
    assert len(list(_walked(checked, "embedding.model"))) == 2  # the model and 1_Pooling/
    (root / "empty").mkdir()
    with pytest.raises(DataError, match="holds no config.json, so no transformers model"):
        snapshot_model(root / "empty", (root.resolve(),), tmp_path / "cache", "embedding.model")


def test_a_folder_link_or_a_line_break_in_a_name_is_refused_at_once(tmp_path: Path) -> None:
    """Walked through folder links, 30 folders each linking three times to the next took
    3^29 visits, with no file for the cap to count (review of 2026-12-05)."""
    root, cache = tmp_path / "data", tmp_path / "cache"
    model = _model_copy(root / "model")
    roots = (root.resolve(),)
    chain = [model / "maze" / str(n) for n in range(30)]
    for folder in chain:
        folder.mkdir(parents=True)
    for here, after in zip(chain, chain[1:], strict=False):
        for name in "abc":
            (here / name).symlink_to(after)
    with pytest.raises(DataError, match=r"maze/0/a is a link to a folder; copy the folder"):
        snapshot_model(model, roots, cache, "embedding.model")
    shutil.rmtree(model / "maze")
    # a link out of the roots is not said to lead to a folder: nothing is told of what is there
    (tmp_path / "outside-folder").mkdir()
    (model / "out").symlink_to(tmp_path / "outside-folder")
    with pytest.raises(DataError, match="out cannot be read as a file under the server's data "
                                        "roots"):
        list(_opened_files(model, roots, "embedding.model"))
    (model / "out").unlink()
    (model / "a:1\nb").write_text("")
    with pytest.raises(DataError, match="a file name holds a control character"):
        snapshot_model(model, roots, cache, "embedding.model")


def test_the_cache_trusts_only_whole_blobs_named_by_their_hash(tmp_path: Path) -> None:
    """A memo entry is a blob's name, read as a path: one naming a file elsewhere is not
    used, nor a blob that lost its bytes; a killed copy's leftovers go after an hour."""
    from tuner.data.model_snapshot import STAMPS, _stamp
    from tuner.data.store import read_hash_memo, write_hash_memo

    root, cache, outside = tmp_path / "data", tmp_path / "cache", tmp_path / "outside"
    model = _model_copy(root / "model")
    roots = (root.resolve(),)
    first = snapshot_model(model, roots, cache, "embedding.model")
    outside.mkdir()
    (outside / "secret").write_text(SECRET.ljust((model / "README.md").stat().st_size, "x"))
    stamp = _stamp(os.stat(model / "README.md"))
    write_hash_memo(cache / STAMPS, {**read_hash_memo(cache / STAMPS),
                                     stamp: str(outside / "secret")})
    shutil.rmtree(first)
    abandoned = cache / BLOBS / ".partial-1-abandoned"
    abandoned.write_bytes(b"half a copy")
    os.utime(abandoned, (time.time() - 7200, time.time() - 7200))
    again = snapshot_model(model, roots, cache, "embedding.model")
    assert again == first and _files(again) == _files(model)
    assert not abandoned.exists()
    assert read_hash_memo(cache / STAMPS).get(stamp) != str(outside / "secret")


def test_a_served_sweep_reads_its_model_only_as_validated(tmp_path: Path,
                                                          ng_records: list[dict]) -> None:
    """Validation takes the snapshot; the folder replaced afterwards (its config a link out
    of the roots, its weights gone) is never read again: the sweep embeds with the model it
    was validated with, under the key a sweep run by hand on that model has."""
    root, cache = tmp_path / "data", tmp_path / "cache"
    corpus = write_jsonl(root / "corpus.jsonl", ng_records[:60])
    model = _model_copy(root / "model")
    grid = load_grid(make_grid(tmp_path, corpus, models=["bertopic"],
                               embedding={"model": str(model), "pooling": "mean"},
                               params={"vocab_size": 1000}))
    inputs = check_inputs(grid, roots=(str(root.resolve()),), cache_dir=cache)
    snapshot = inputs.model_paths[str(model)]
    assert snapshot.parent == cache / SNAPSHOTS
    by_hand = check_inputs(grid)
    (tmp_path / f"{SECRET}.json").write_text(f'{{"{SECRET}": 1}}')
    (model / "config.json").unlink()
    (model / "config.json").symlink_to(tmp_path / f"{SECRET}.json")
    (model / "model.safetensors").unlink()
    prepared = precompute(grid, inputs, cache, progress=False)
    assert [v for k, v in prepared.cache_events.items() if k.startswith("embeddings[")] == \
        ["computed"]  # from the snapshot
    # what a trainer that fine-tunes the encoder (THETA's LoRA) reads in the workers
    assert {t.data.encoder["path"] for t in prepared.trials if t.data.encoder} == {str(snapshot)}
    (model / "config.json").unlink()
    shutil.copy2(snapshot / "config.json", model / "config.json")
    shutil.copy2(snapshot / "model.safetensors", model / "model.safetensors")
    assert embedding_key(grid.embedding, snapshot, inputs.corpus, cache) == \
        embedding_key(grid.embedding, by_hand.model_paths[str(model)], inputs.corpus, cache)
    assert PurePath(snapshot).name == model_revision(model)
