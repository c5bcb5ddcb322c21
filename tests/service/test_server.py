"""`tuner serve` over real HTTP on 127.0.0.1: auth, validation, containment of inline grids,
cross-site and framing defences, conflicts, the sweep queue and a finished sweep."""

from __future__ import annotations

import csv
import http.client
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, make_grid
from tests.service.conftest import VENV_BIN, free_port, tiny_grid, tuner_cli
from tests.service.serving import TOKEN, Served, start_server, wait_done
from tuner.data.embeddings import resolve_model_path
from tuner.errors import GridError
from tuner.flow import experiment_lock

MARKER = "zqxMARKERq7"  # in data files only: no answer may ever contain it


def _write_data(datasets: Path, corpus: Path) -> None:
    """Data files whose validation problems would quote MARKER (a key, an id, a date)."""
    shutil.copy(corpus, datasets / "corpus.jsonl")
    rows = [{"id": str(i), "text": f"words about topic {i % 3}", "label": str(i % 3)}
            for i in range(30)]
    with (datasets / "fields.jsonl").open("w") as handle:
        handle.writelines(json.dumps({"id": r["id"], f"{MARKER}key": r["text"]}) + "\n"
                          for r in rows)
    with (datasets / "dupes.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, ["id", "text", "label"])
        writer.writeheader()
        writer.writerows([*rows, {**rows[0], "id": f"{MARKER}id"},
                          {**rows[1], "id": f"{MARKER}id"}])
    with (datasets / "dates.jsonl").open("w") as handle:
        handle.writelines(json.dumps({**r, "date": f"{MARKER}date"}) + "\n" for r in rows)
    (datasets / "truth.json").write_text(json.dumps({f"{MARKER}cluster": [f"{MARKER}doc"]}))


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, small_corpus: Path,
        session_cache: Path) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("serve")
    (root / "grids").mkdir()
    (root / "datasets").mkdir()
    _write_data(root / "datasets", small_corpus)
    (root / "grids" / "tiny.json").write_text(json.dumps(tiny_grid(
        "served", Path("../datasets/corpus.jsonl"), [1])))
    (root / "grids" / "tiny-missing.json").write_text(json.dumps(tiny_grid(
        " served", Path("../datasets/missing.jsonl"), [1])))
    (root / "secret.json").write_text("{}")
    (root / "secret.jsonl").write_text(json.dumps({"id": "1", "text": MARKER}) + "\n")
    (root / "datasets" / "escape.jsonl").symlink_to(root / "secret.jsonl")
    served = start_server(root, session_cache, "--grids-dir", "grids", "--max-workers", "2")
    yield served
    served.stop()


def _inline(api: Served, experiment: str, data: str = "corpus.jsonl",
            **fields: Any) -> dict[str, Any]:
    grid = tiny_grid(experiment, Path(f"../datasets/{data}"), [1])
    return {"grid_inline": {**grid, **fields}}


def _with_path(body: dict[str, Any], field: str, value: str) -> dict[str, Any]:
    """An inline grid's body with `field` (dataset.path, ground_truth, embedding.model) set."""
    grid = body["grid_inline"]
    if field == "dataset.path":
        grid["dataset"] = {**grid["dataset"], "path": value}
    elif field == "ground_truth":
        grid["ground_truth"] = value
    else:
        grid["embedding"] = {"model": value}
    return body


def _raw_post(api: Served, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=60)
    connection.putrequest("POST", "/sweeps", skip_accept_encoding=True)
    for name, value in {"Authorization": f"Bearer {TOKEN}", **headers}.items():
        connection.putheader(name, value)
    connection.endheaders(body or None)
    answer = connection.getresponse()
    status, data = answer.status, answer.read()
    connection.close()
    return status, data


def test_health_needs_no_token(api: Served) -> None:
    assert api.call("GET", "/health", token=None) == (200, {"status": "ok"})


def test_answers_do_not_name_the_python_version(api: Served) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=60)
    connection.request("GET", "/health")
    answer = connection.getresponse()
    answer.read()
    connection.close()
    assert answer.getheader("Server") == "tuner"


@pytest.mark.parametrize("method, path, allow", [
    ("PUT", "/sweeps", "GET, HEAD, POST"), ("DELETE", "/sweeps/abc", "GET, HEAD"),
    ("OPTIONS", "/health", "GET, HEAD"), ("POST", "/sweeps/abc/leaderboard", "GET, HEAD"),
    ("PATCH", "/sweeps/abc/cancel", "POST"), ("TRACE", "/health", "GET, HEAD"),
    ("CONNECT", "/sweeps", "GET, HEAD, POST"),
])
def test_a_method_a_path_does_not_take_answers_405_with_allow(api: Served, method: str,
                                                               path: str, allow: str) -> None:
    """PUT, DELETE and OPTIONS answered http.server's 501, and a 405 had no Allow header
    (RFC 9110 section 15.5.6; attacker audit of 2026-12-02)."""
    connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=60)
    connection.request(method, path, headers={"Authorization": f"Bearer {TOKEN}"})
    answer = connection.getresponse()
    body = json.loads(answer.read())
    connection.close()
    assert (answer.status, answer.getheader("Allow")) == (405, allow)
    assert body["error"] == f"{path} allows {allow}; got {method}"


def test_a_chunked_body_answers_411(api: Served) -> None:
    """It was read as no body: "body: expects a JSON object" (attacker audit of 2026-12-03).
    The request goes in one write: sent as http.client sends it (headers, then each chunk), the
    411 and the closed connection could come before the chunk, whose write then broke the
    test's pipe on a busy host."""
    import socket

    chunk = b'{"grid": "tiny.json"}'
    request = (f"POST /sweeps HTTP/1.1\r\nHost: 127.0.0.1:{api.port}\r\n".encode()
               + b"Authorization: Bearer " + TOKEN.encode() + b"\r\n"
               b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
               + f"{len(chunk):x}".encode() + b"\r\n" + chunk + b"\r\n0\r\n\r\n")
    with socket.create_connection(("127.0.0.1", api.port), timeout=60) as raw:
        raw.sendall(request)
        answer = http.client.HTTPResponse(raw)
        answer.begin()
        body = json.loads(answer.read())
    assert (answer.status, body["error"]) == (411, "body: send it whole, with a Content-Length "
                                              "(this server reads no chunked body)")


def test_head_answers_as_get_without_a_body(api: Served) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=60)
    connection.request("HEAD", "/health")
    answer = connection.getresponse()
    assert (answer.status, answer.read()) == (200, b"")
    assert int(answer.getheader("Content-Length")) > 0  # the GET's length, as HEAD says it
    connection.close()


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_sweeps_refuse_missing_or_wrong_token(api: Served, token: str | None) -> None:
    status, body = api.call("GET", "/sweeps", token=token)
    assert status == 401
    assert "bearer token" in body["error"]


def test_bad_grid_answers_400_with_every_problem(api: Served) -> None:
    body = _inline(api, "bad", params={"num_topics": 1000, "vocab_size": 1000}, seeds=[-1])
    status, answer = api.call("POST", "/sweeps", body)
    assert status == 400
    assert any(p.startswith("grid_inline: params.num_topics:") for p in answer["problems"])
    assert any(p.startswith("grid_inline: seeds[0]: expects an int in 0-4294967295")
               for p in answer["problems"])


def test_missing_dataset_answers_400_without_the_server_path(api: Served) -> None:
    status, body = api.call("POST", "/sweeps", _inline(api, "bad", "no-such.jsonl"))
    assert status == 400
    assert "grid_inline: dataset.path: file not found: datasets/no-such.jsonl" in body["problems"]
    assert str(api.root) not in json.dumps(body)


@pytest.mark.parametrize("name, expected", [("../secret.json", 400), ("/etc/passwd", 400),
                                            ("missing.json", 404)])
def test_grid_name_cannot_leave_the_grids_folder(api: Served, name: str, expected: int) -> None:
    status, body = api.call("POST", "/sweeps", {"grid": name})
    assert status == expected, body
    assert "grids folder (grids/)" in body["error"]
    assert str(api.root) not in json.dumps(body)  # the server's folders are not shown


@pytest.mark.parametrize("field, value", [
    ("dataset.path", "../../../../../../etc/passwd"),
    ("dataset.path", "/etc/passwd"),
    ("dataset.path", "../secret.jsonl"),
    ("dataset.path", "../datasets/escape.jsonl"),  # a symlink out of a data root
    ("ground_truth", "../secret.json"),
    ("ground_truth", "/etc/hosts"),
    ("embedding.model", "/usr"),
    ("embedding.model", "../.."),
])
def test_inline_grid_may_name_only_files_under_the_data_roots(api: Served, field: str,
                                                              value: str) -> None:
    """Issue #10 item 6: a `../../..` dataset path was 202 Accepted."""
    status, answer = api.call("POST", "/sweeps", _with_path(_inline(api, "escape"), field, value))
    assert status == 400, answer
    assert answer["error"].startswith(f"grid_inline: {field}: must be a ")
    assert "under the server's data roots (grids/, datasets/)" in answer["error"]
    assert MARKER not in json.dumps(answer)


@pytest.mark.parametrize("field", ["dataset.path", "ground_truth", "embedding.model", "grid"])
def test_a_long_path_is_quoted_cut_not_whole(api: Served, field: str) -> None:
    """A path's checks quoted it whole, twice: a 0.9 MB request had a 1.8 MB answer (attacker
    audit of 2026-12-02)."""
    value = "/nope/" + "a" * 20_000
    body = {"grid": "a" * 20_000} if field == "grid" else \
        _with_path(_inline(api, "long-path"), field, value)
    status, answer = api.call("POST", "/sweeps", body)
    assert status in (400, 404), answer
    assert "characters)" in answer["error"] and len(json.dumps(answer)) < 2_000


@pytest.mark.parametrize("revision", ["/dev/zero", "/proc/self/fd/0", "../../../../etc/hosts"])
def test_a_revision_cannot_name_a_file(api: Served, revision: str) -> None:
    """huggingface_hub opened an absolute revision as a file while the POST was checked:
    /dev/zero filled the server's memory, and a pipe hung its handler threads (audit of
    2026-12-01). Refused before anything reads it, the server still answering."""
    body = _inline(api, "revision", models=["bertopic"],
                   embedding={"model": "sentence-transformers/all-MiniLM-L6-v2",
                              "revision": revision})
    status, answer = api.call("POST", "/sweeps", body)
    assert status == 400, answer
    assert any("embedding.revision: expects a branch, tag or commit" in p
               for p in answer["problems"])
    assert api.call("GET", "/health")[0] == 200


def test_an_embedding_batch_too_large_for_the_service_is_refused(api: Served) -> None:
    """batch_size 4096 at max_length 512 took the server's own process to 5.97 GB on 600
    documents (the service embeds in its own process, which --max-memory does not cover;
    attacker audit of 2026-12-02)."""
    embedding = {"model": "sentence-transformers/all-MiniLM-L6-v2", "max_length": 512,
                 "long_documents": "start"}
    params = {"num_topics": 5, "vocab_size": 1000}
    big = _inline(api, "big-batch", models=["bertopic"], params=params,
                  embedding={**embedding, "batch_size": 4096})
    status, answer = api.call("POST", "/sweeps", big)
    assert status == 400, answer
    assert answer["problems"] == [
        "grid_inline: embedding.batch_size: the service embeds in its own process, at most "
        "16384 tokens a batch (batch_size x max_length; fewer past 512 tokens a window, as "
        "attention grows with its square); got 4096 x 512: lower batch_size to 32 or less, or "
        "sweep it with tuner run (tuner serve --max-batch-tokens raises the limit)"]
    from tuner.engine.sweep import check_inputs
    from tuner.grid import load_grid
    from tuner.serve.jobs import _refuse_large_batches, served_batch_size, served_window

    for size, refused in ((32, False), (33, True)):
        path = make_grid(api.root / "checked", api.root / "datasets" / "corpus.jsonl",
                         models=["bertopic"], params=params,
                         embedding={**embedding, "batch_size": size})
        inputs = check_inputs(load_grid(path))
        if refused:
            with pytest.raises(GridError, match="got 33 x 512: lower batch_size to 32 or less"):
                _refuse_large_batches(path, inputs, 16384)
        else:
            _refuse_large_batches(path, inputs, 16384)
    # past 512 tokens a window the cap falls with its square: 8 at 1,024, none past 2,896
    assert [served_batch_size(n, 16384) for n in (256, 1024, 2896, 4096)] == [64, 8, 1, 0]
    assert served_window(16384) == 2896


def test_embedding_model_may_be_a_model_id(api: Served) -> None:
    body = _inline(api, "model-id", embedding={"model": "sentence-transformers/all-MiniLM-L6-v2"},
                   seeds=[-1])  # an invalid seed stops it before any sweep starts
    status, answer = api.call("POST", "/sweeps", body)
    assert status == 400
    assert [p for p in answer["problems"] if "embedding.model" in p] == []


@pytest.mark.parametrize("data, fields, named", [
    ("fields.jsonl", {}, "dataset.text_field"),  # "fields found: <a key of the file>"
    ("dupes.csv", {}, "dataset.id_field"),  # "ids must be unique (e.g. <an id>)"
    ("corpus.jsonl", {"ground_truth": "../datasets/truth.json"}, "ground_truth"),
    ("dates.jsonl", {"models": ["dtm"], "params": {"num_topics": 5}},
     "dataset.timestamp_field"),
])
def test_no_answer_quotes_a_data_file(api: Served, data: str, fields: dict[str, Any],
                                      named: str) -> None:
    body = _inline(api, "leaky", data, **fields)
    if data == "dates.jsonl":
        body["grid_inline"]["dataset"]["timestamp_field"] = "date"
    status, answer = api.call("POST", "/sweeps", body)
    assert status == 400, answer
    assert MARKER not in json.dumps(answer)
    assert answer["error"].startswith(f"grid_inline: {named}: ")
    assert "server log (ref " in answer["error"]
    assert MARKER in api.log_text()  # the operator still gets the reason


@pytest.mark.parametrize("request_line", [b"GARBAGE", b"GET /health HTTP/9.9"])
def test_broken_request_lines_answer_in_json(api: Served, request_line: bytes) -> None:
    """http.server answered these with an HTML page (audit of 2026-12-01)."""
    import socket

    with socket.create_connection(("127.0.0.1", api.port), timeout=30) as sock:
        sock.sendall(request_line + b"\r\nHost: 127.0.0.1\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    # a request line this broken is answered as HTTP/0.9 is: the body alone, no status line
    body = answer.rsplit(b"\r\n\r\n", 1)[-1]
    assert b"<html" not in answer.lower()
    assert json.loads(body)["error"].startswith(("400 ", "505 "))


def test_a_named_file_that_is_not_a_grid_is_not_quoted(api: Served) -> None:
    """A data file among the grids (a ground truth, labels) ran through grid validation, which
    quoted its keys and values back (audit of 2026-12-01)."""
    labels = json.dumps({f"{MARKER}cluster": [f"{MARKER}doc"], "seeds": f"{MARKER}value"})
    (api.root / "grids" / "labels.json").write_text(labels)
    # with a byte order mark, it was not read as JSON, so taken for a grid and quoted (review
    # of 2026-12-03)
    (api.root / "grids" / "labels-bom.json").write_text("\ufeff" + labels, encoding="utf-8")
    for name in ("labels.json", "labels-bom.json"):
        status, answer = api.call("POST", "/sweeps", {"grid": name})
        assert status == 400, answer
        assert f"'{name}' is not a grid file" in answer["error"]
        assert MARKER not in json.dumps(answer)


@pytest.mark.parametrize("field, expected", [("grid", 404), ("dataset.path", 400),
                                             ("ground_truth", 400)])
def test_an_overlong_file_name_answers_4xx_not_500(api: Served, field: str,
                                                   expected: int) -> None:
    name = "x" * 300 + ".json"
    if field == "grid":
        body: dict[str, Any] = {"grid": name}
    elif field == "dataset.path":
        body = _inline(api, "long-name", name)
    else:
        body = _inline(api, "long-name", ground_truth=f"../datasets/{name}")
    status, answer = api.call("POST", "/sweeps", body)
    assert status == expected, answer


@pytest.mark.parametrize("absolute", [False, True])
def test_a_model_folder_holding_a_link_out_of_the_roots_is_refused(api: Served,
                                                                   absolute: bool) -> None:
    """The encoder reads every file of the folder: a config.json linked to a file outside the
    roots was read, and its values came back in the failed sweep's error."""
    folder = api.root / "datasets" / "linked-model"
    folder.mkdir(exist_ok=True)
    if not (folder / "config.json").is_symlink():
        (folder / "config.json").symlink_to(api.root / "secret.jsonl")
    value = str(folder.resolve()) if absolute else "../datasets/linked-model"
    status, answer = api.call("POST", "/sweeps", _inline(
        api, "linked-model", models=["bertopic"], embedding={"model": value}))
    assert status == 400, answer
    assert "holds links that lead outside the server's data roots" in answer["error"]


def test_a_model_folder_named_by_path_is_validated_as_a_snapshot_in_the_cache(
        api: Served) -> None:
    """transformers reads a model folder by path: the folder is copied once, as checked, into
    the server's cache at the POST, and the sweep reads that copy (attacker audit of
    2026-12-05). Stopped here after validation by a batch the service refuses."""
    from tuner.data.embeddings import model_revision
    from tuner.data.model_snapshot import SNAPSHOTS

    folder = api.root / "datasets" / "own-model"
    if not folder.exists():
        shutil.copytree(resolve_model_path("sentence-transformers/all-MiniLM-L6-v2"), folder)
    status, answer = api.call("POST", "/sweeps", _inline(
        api, "own-model", models=["bertopic"], params={"num_topics": 5},
        embedding={"model": str(folder.resolve()), "batch_size": 4096, "max_length": 512,
                   "long_documents": "start"}))
    assert status == 400, answer
    assert [p.split(":")[1].strip() for p in answer["problems"]] == ["embedding.batch_size"]
    snapshot = api.cache / SNAPSHOTS / model_revision(folder)
    assert (snapshot / "model.safetensors").read_bytes() == \
        (folder / "model.safetensors").read_bytes()


def test_a_corpus_folder_is_served_and_one_holding_a_link_out_of_the_roots_is_refused(
        api: Served) -> None:
    """A folder of text files is a corpus (one document a file, its subfolder the label); its
    files are read as documents, so none may lead outside the roots."""
    folder = api.root / "datasets" / "folder-corpus"
    if not folder.exists():
        for line in (api.root / "datasets" / "corpus.jsonl").read_text().splitlines()[:120]:
            record = json.loads(line)
            post = folder / record["label"] / f"{record['id']}.txt"
            post.parent.mkdir(parents=True, exist_ok=True)
            post.write_text(record["text"])
    status, answer = api.call("POST", "/sweeps", _inline(api, "folder-corpus", "folder-corpus"))
    assert status == 202, answer
    assert wait_done(api, answer["id"])["status"] == "finished"
    linked = folder / "misc" / "linked.txt"
    linked.parent.mkdir(exist_ok=True)
    linked.symlink_to(api.root / "secret.jsonl")
    try:
        status, answer = api.call("POST", "/sweeps", _inline(api, "folder-linked",
                                                             "folder-corpus"))
    finally:
        linked.unlink()
    assert status == 400, answer
    assert "holds links that lead outside the server's data roots" in answer["error"]
    assert MARKER not in json.dumps(answer)


def test_a_model_folder_in_the_servers_working_folder_is_not_read(api: Served) -> None:
    """`org/name` that is no folder under the grids folder passed as a Hub id, and the loader
    then found it in the server's working folder, outside the roots (review of 2026-12-01).
    Refusing it as "must be a folder under the data roots" then told a client which names the
    server's folder held, since a missing name was "not in the cache" (audit of 2026-12-02):
    both now get one answer, but for the name."""
    folder = api.root / "outside-org" / "model"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text("{}")
    answers = {}
    for name in ("outside-org/model", "missing-org/model"):
        status, answer = api.call("POST", "/sweeps", _inline(
            api, "cwd-model", models=["bertopic"], params={"num_topics": 5},
            embedding={"model": name}))
        assert status == 400, answer
        answers[name] = json.dumps(answer).replace(name, "NAME")
    assert answers["outside-org/model"] == answers["missing-org/model"]
    assert "the service downloads no model for a request" in answers["missing-org/model"]


@pytest.mark.parametrize("content_type", ["text/plain", None,
                                          "application/x-www-form-urlencoded"])
def test_post_needs_a_json_content_type(api: Served, content_type: str | None) -> None:
    """Issue #10 item 7: a web page could POST a sweep as text/plain (no CORS preflight)."""
    headers = {"Content-Length": "19"} | ({"Content-Type": content_type} if content_type else {})
    status, data = _raw_post(api, headers, b'{"grid": "x.json"}\n')
    assert status == 415
    assert json.loads(data)["error"].startswith("Content-Type: expects application/json")


@pytest.mark.parametrize("origin, expected", [
    ("http://evil.example", 403), ("null", 403), ("http://127.0.0.1:1", 403),
    ("http://127.0.0.1:{port}", 404), ("http://localhost:{port}/", 404), (None, 404),
    ("https://127.0.0.1", 403)])  # https means port 443, not the bound one
def test_a_page_of_another_site_cannot_cancel_a_sweep(api: Served, origin: str | None,
                                                       expected: int) -> None:
    """A cancel needs no body, so no JSON content type kept a cross-site page from sending
    one (attacker audit of 2026-12-03); 404: the request got through to the unknown id."""
    headers = {"Origin": origin.format(port=api.port)} if origin else {}
    status, body = api.call("POST", "/sweeps/0123456789ab/cancel", headers=headers)
    assert status == expected, body


def test_an_experiment_whose_artifacts_go_outside_the_store_is_refused(api: Served) -> None:
    """MLflow's Default experiment keeps its artifacts under the folder the store was first
    opened in: a client's sweep of it wrote there (attacker audit of 2026-12-04)."""
    status, body = api.call("POST", "/sweeps", _inline(api, "Default"))
    assert status == 400, body
    assert body["error"] == ("experiment 'Default' keeps its artifacts in a folder outside this "
                             "server's tracking store (as MLflow's own Default experiment "
                             "does); name another experiment")


def _headed(api: Served, method: str, path: str, headers: list[tuple[str, str]],
            body: bytes | None = None) -> tuple[int, bytes]:
    """A request with `headers` as given, repeated ones too, and `body` (None: a body a header
    announces is never sent, so it is answered from the head); its status and body."""
    connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=60)
    connection.putrequest(method, path)
    for name, value in headers:
        connection.putheader(name, value)
    connection.endheaders(body)
    answer = connection.getresponse()
    status, data = answer.status, answer.read()
    connection.close()
    return status, data


def test_a_second_origin_header_of_another_site_is_refused(api: Served) -> None:
    """Only the first Origin header was checked (attacker audit of 2026-12-04)."""
    status, data = _headed(api, "POST", "/sweeps/0123456789ab/cancel", [
        ("Authorization", f"Bearer {TOKEN}"), ("Origin", f"http://127.0.0.1:{api.port}"),
        ("Origin", "http://evil.example"), ("Content-Length", "0")])
    assert status == 403, data


@pytest.mark.parametrize("host, expected", [
    ("evil.example:{port}", 421), ("evil.example", 421), ("127.0.0.1:1", 421),
    ("localhost:{port}", 200), ("127.0.0.1:{port}", 200), ("[::1]:{port}", 200),
])
def test_host_header_must_name_this_server(api: Served, host: str, expected: int) -> None:
    """Issue #10 item 7: a DNS-rebinding page reached the API under its own name."""
    status, body = api.call("GET", "/health", headers={"Host": host.format(port=api.port)})
    assert status == expected, body
    if expected == 421:
        assert body["error"].startswith("Host header: names another server")


def test_a_second_host_header_is_refused(api: Served) -> None:
    """Only the first of two was checked: a proxy that routes by the last one would pass a
    request for another name (audit of 2026-12-01)."""
    connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=60)
    connection.putrequest("GET", "/health", skip_host=True)
    connection.putheader("Host", f"127.0.0.1:{api.port}")
    connection.putheader("Host", "evil.example")
    connection.endheaders()
    answer = connection.getresponse()
    status, data = answer.status, answer.read()
    connection.close()
    assert status == 421, data


@pytest.mark.parametrize("scheme, expected", [("bearer", 200), ("BEARER", 200), ("Basic", 401)])
def test_the_authorization_scheme_is_read_whatever_its_case(api: Served, scheme: str,
                                                            expected: int) -> None:
    """RFC 9110: `bearer` is the same scheme as `Bearer` (some clients send it so)."""
    status, body = api.call("GET", "/sweeps", token=None,
                            headers={"Authorization": f"{scheme} {TOKEN}"})
    assert status == expected, body


@pytest.mark.parametrize("headers, body", [
    ({"Content-Length": "²"}, b""),
    ({}, b"[" * 100_000),
    ({}, b'{"grid": ' + b"7" * 5000 + b"}"),
], ids=["superscript-length", "100k-deep", "5000-digits"])
def test_bad_framing_answers_400(api: Served, headers: dict[str, str], body: bytes) -> None:
    """Issue #10 item 9: these dropped the connection with a traceback in the log."""
    sent = {"Content-Type": "application/json", "Content-Length": str(len(body)), **headers}
    status, data = _raw_post(api, sent, body)
    assert status == 400
    assert json.loads(data)["error"].startswith(("Content-Length:", "body:"))
    assert "Traceback" not in api.log_text()


def test_a_key_given_twice_in_the_body_is_refused_as_in_a_grid_file(api: Served) -> None:
    """The CLI refused a grid with a repeated key; the service took the last value."""
    grid = json.dumps(_inline(api, "twice")["grid_inline"])
    body = ('{"grid_inline": ' + grid.replace('"seeds":', '"experiment": "other", "seeds":')
            + "}").encode()
    status, data = _raw_post(api, {"Content-Type": "application/json",
                                   "Content-Length": str(len(body))}, body)
    assert status == 400
    assert json.loads(data)["error"] == ("body: a key is given twice in one object "
                                         "('experiment'); JSON keeps only the last, so say which "
                                         "value you mean")


def test_a_second_content_length_is_refused(api: Served) -> None:
    """Two lengths (2 and 50) were taken as the first (attacker audit of 2026-12-04, second
    round): the body is no longer read by one of them."""
    status, data = _headed(api, "POST", "/sweeps", [
        ("Authorization", f"Bearer {TOKEN}"), ("Content-Type", "application/json"),
        ("Content-Length", "2"), ("Content-Length", "50")], b"{}")
    assert status == 400, data
    assert json.loads(data)["error"] == "Content-Length: given more than once"


def test_body_over_one_mib_answers_413_before_reading_it(api: Served) -> None:
    status, data = _headed(api, "POST", "/sweeps", [
        ("Authorization", f"Bearer {TOKEN}"), ("Content-Type", "application/json"),
        ("Content-Length", str(1024 * 1024 + 1))])
    assert status == 413
    assert "at most 1048576 bytes" in json.loads(data)["error"]


def test_body_must_name_a_grid(api: Served) -> None:
    status, body = api.call("POST", "/sweeps", {"grids": "tiny.json"})
    assert status == 400
    assert "'grid'" in body["error"]


def test_locked_experiment_answers_409(api: Served) -> None:
    """A `tuner run` (e.g. from cron, with any cache folder) holding the experiment's lock on
    the same store blocks a served sweep."""
    with experiment_lock(api.store, "served"):
        status, body = api.call("POST", "/sweeps", {"grid": "tiny.json"})
    assert status == 409
    assert "already running" in body["error"]


def test_a_sweep_whose_experiment_was_locked_while_it_queued_waits_then_runs(api: Served
                                                                             ) -> None:
    """A `tuner run` that took the experiment's lock while the served sweep was queued ended
    that sweep `failed` when its turn came (concurrency audit of 2026-12-03). It waits at the
    end of the queue, and the sweep queued behind it runs meanwhile. The first sweep has 8
    trials, so that it still runs when the lock is taken: with one, on a loaded machine, it had
    ended and the second had taken the lock itself (a red run of 2026-12-04)."""
    first = api.call("POST", "/sweeps", _inline(api, "lock-first", seeds=list(range(1, 9))))
    second = api.call("POST", "/sweeps", _inline(api, "lock-second"))
    third = api.call("POST", "/sweeps", _inline(api, "lock-third"))
    assert (first[0], second[0], third[0]) == (202, 202, 202), (first, second, third)
    with experiment_lock(api.store, "lock-second"):  # as a cron's `tuner run` would
        wait_done(api, first[1]["id"])
        assert wait_done(api, third[1]["id"])["status"] == "finished"
        state = api.call("GET", f"/sweeps/{second[1]['id']}")[1]
        assert state["status"] == "queued", state
        assert "this one starts when it ends" in state["waiting"], state
    done = wait_done(api, second[1]["id"])
    assert (done["status"], done["waiting"]) == ("finished", None), done
    assert done["completed"] == done["total"] > 0, done


def test_refused_inline_grid_leaves_no_file(api: Served) -> None:
    """Issue #10 item 10: inline grids were written before validation and never removed."""
    folder = api.cache / "inline_grids"
    before = set(folder.rglob("*"))
    status, _ = api.call("POST", "/sweeps", _inline(api, "bad", seeds=[-1]))
    assert status == 400
    assert {p for p in set(folder.rglob("*")) - before  # its own folder and the owner note
            if not (p.is_dir() and p.parent == folder) and p.name != "owner"} == set()


@pytest.fixture(scope="module")
def queued(api: Served) -> dict[str, Any]:
    """Two inline sweeps of two experiments with --max-active-sweeps 1 (the default)."""
    first = api.call("POST", "/sweeps", _inline(api, "queue-a"))
    second = api.call("POST", "/sweeps", _inline(api, "queue-b"))
    assert (first[0], second[0]) == (202, 202), (first, second)
    ids = first[1]["id"], second[1]["id"]
    # in the server's own folder of inline grids (named by its pid)
    file_while_queued = any((api.cache / "inline_grids").glob(f"*/{ids[1]}.json"))
    while_first_ran = set()
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        # the second read first: if the first still runs after, it ran when the second was
        # read (read the other way, the first could end between the reads and the second
        # start: {'queued', 'running'} on a loaded machine)
        second_state = api.call("GET", f"/sweeps/{ids[1]}")[1]["status"]
        first_state = api.call("GET", f"/sweeps/{ids[0]}")[1]["status"]
        if first_state in ("finished", "failed"):
            break
        if first_state == "running":
            while_first_ran.add(second_state)
        time.sleep(0.2)
    jobs = [wait_done(api, ids[0]), wait_done(api, ids[1])]
    return {"while_first_ran": while_first_ran, "file_while_queued": file_while_queued,
            "jobs": jobs}


def test_a_sweep_past_the_active_cap_waits_queued(queued: dict[str, Any]) -> None:
    """Issue #10 item 10: N experiments ran N sweeps (N x workers processes) at once."""
    assert queued["while_first_ran"] == {"queued"}
    assert [job["status"] for job in queued["jobs"]] == ["finished", "finished"]


def _process_started_at(pid: int) -> float:
    """When a live process started, in seconds since the epoch (Linux /proc)."""
    ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                if line.startswith("btime"))
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def test_the_next_sweep_runs_on_the_same_warm_workers(api: Served,
                                                      queued: dict[str, Any]) -> None:
    """Issue #11 item 3: `tuner serve` lends one pool to every sweep, so a sweep pays no
    worker start-up (spawn, imports, compiled code) after the first: the second sweep's trials
    ran in processes started before the first sweep ended."""
    from mlflow.tracking import MlflowClient

    first, second = queued["jobs"]
    runs = MlflowClient(api.store).search_runs([second["experiment_id"]],
                                               "tags.`tuner.role` = 'trial'")
    pids = {int(r.data.tags["tuner.worker"].rsplit(":", 1)[1]) for r in runs}
    assert pids
    assert all(_process_started_at(pid) < first["finished_at"] for pid in pids), pids


def test_inline_grid_is_written_once_valid_and_removed_when_done(
        api: Served, queued: dict[str, Any]) -> None:
    assert queued["file_while_queued"]
    assert not any(any((api.cache / "inline_grids").glob(f"*/{job['id']}.json"))
                   for job in queued["jobs"])


@pytest.fixture(scope="module")
def finished(api: Served) -> dict[str, Any]:
    """Start the tiny sweep, ask for the same experiment again at once, then wait."""
    status, job = api.call("POST", "/sweeps", {"grid": "tiny.json"})
    assert status == 202, job
    second = api.call("POST", "/sweeps", {"grid": "tiny.json"})
    # refused before its data is read: its corpus does not exist (a 400 once validated)
    early = api.call("POST", "/sweeps", _inline(api, "served", "missing.jsonl"))
    # a named grid's too: it was refused once its corpus had been read (4 to 5 s for 20 MB;
    # attacker audit of 2026-12-03)
    named_early = api.call("POST", "/sweeps", {"grid": "tiny-missing.json"})
    return {"second": second, "early": early, "named_early": named_early,
            "job": wait_done(api, job["id"])}


def test_second_sweep_of_a_running_experiment_answers_409(finished: dict[str, Any]) -> None:
    assert finished["second"][0] == 409
    assert finished["early"][0] == 409, finished["early"]  # the inline grid's data never read
    assert finished["named_early"][0] == 409, finished["named_early"]


def test_finished_sweep_reports_counts(finished: dict[str, Any]) -> None:
    job = finished["job"]
    assert (job["status"], job["completed"], job["failed"], job["total"], job["progress"]) == \
        ("finished", 2, 0, 2, 1.0), job
    assert isinstance(job["warnings"], list)  # the end's warnings, as tuner run prints them


def test_what_validation_warned_of_is_counted_and_logged(api: Served,
                                                         finished: dict[str, Any]) -> None:
    """Automation saw none of validate's warnings (LDA's 10 iterations here): counted in the
    answer, said in the server's log, whose text may quote the data (new-user audit)."""
    job = finished["job"]
    assert job["validation_warnings"] >= 1
    assert f"sweep {job['id']}: " in api.log_text() and "too few for its fits" in \
        api.log_text()
    status, gone = api.call("GET", "/sweeps/0123456789ab")
    assert status == 404 and "one sent before it last started is not here" in gone["error"]


def test_leaderboard_ranks_the_trials(api: Served, finished: dict[str, Any]) -> None:
    status, board = api.call("GET", f"/sweeps/{finished['job']['id']}/leaderboard")
    assert status == 200
    assert board["metric"] == "ari"
    values = [e["metrics"]["ari"] for e in board["entries"]]
    assert len(values) == 2 and values == sorted(values, reverse=True)
    assert (board["configurations"], board["truncated"]) == (2, False)
    assert all(isinstance(e["unused"], list) for e in board["entries"])  # not "frozenset()"
    # the seeds the sweep asked for, also under its older name
    assert all(e["seeds_asked"] == e["model_seeds"] == len(e["trials"]) for e in board["entries"])


def test_a_served_sweep_records_its_code(api: Served, finished: dict[str, Any]) -> None:
    """As `tuner run`'s do, so an upgraded `tuner best` can tell whose results they are."""
    from tuner.reporting.leaderboard import other_code
    from tuner.tracking.tracker import MlflowTracker

    sweep = next(s for s in MlflowTracker(api.store).sweep_runs(finished["job"]["experiment"])
                 if s.run_id == finished["job"]["parent_run_id"])
    assert "tuner.code" in sweep.tags
    assert other_code([sweep], None) is None


def test_a_served_tpe_search_reports_its_budget_as_total(api: Served) -> None:
    """A TPE search makes its trials as it goes: its job said total 0 and progress null while
    trials completed (attacker audit of 2026-12-02)."""
    body = _inline(api, "served-tpe", search={"strategy": "tpe", "n_trials": 2, "seed": 1})
    status, job = api.call("POST", "/sweeps", body)
    assert status == 202, job
    done = wait_done(api, job["id"])
    assert (done["status"], done["total"], done["completed"] + done["repeated"] + done["unasked"],
            done["progress"]) == ("finished", 2, 2, 1.0), done


def test_a_sweep_whose_every_trial_failed_ends_failed(api: Served) -> None:
    """It ended "finished" with an empty leaderboard, which an automation checking the status
    took for a result (audit of 2026-12-01)."""
    status, job = api.call("POST", "/sweeps", _inline(api, "all-failed", timeout_s=0.05,
                                                      params={"num_topics": [5, 8],
                                                              "vocab_size": 1000,
                                                              "lda.max_iter": 5000}))
    assert status == 202, job
    job = wait_done(api, job["id"])
    assert (job["status"], job["completed"], job["failed"]) == ("failed", 0, 2), job
    assert job["error"] == ("every trial failed (2); each trial run's tuner.error tag in MLflow "
                            "says why")


def test_unknown_sweep_answers_404(api: Served) -> None:
    assert api.call("GET", "/sweeps/nope")[0] == 404


def test_public_address_without_token_is_refused(tmp_path: Path) -> None:
    env_free = tuner_cli("serve", "--host", "0.0.0.0", "--port", str(free_port()), cwd=tmp_path)
    assert env_free.returncode == 2
    assert "TUNER_API_TOKEN" in env_free.stderr


def test_more_workers_than_the_cores_can_take_are_refused_by_serve(tmp_path: Path) -> None:
    """As `tuner run` refuses them (regression audit of 2026-12-03)."""
    from tuner.devices import MAX_WORKERS_PER_CORE, usable_cores

    limit = MAX_WORKERS_PER_CORE * usable_cores()
    done = tuner_cli("serve", "--port", str(free_port()), "--max-workers", str(limit + 1),
                     cwd=tmp_path)
    assert done.returncode == 2
    assert f"--max-workers expects an int in 1-{limit} on this machine" in done.stderr


def test_placeholder_token_from_env_example_is_refused(tmp_path: Path) -> None:
    """Issue #10 item 19: an unedited copy of .env.example served with a public token."""
    example = (REPO / ".env.example").read_text(encoding="utf-8")
    placeholder = re.search(r"^TUNER_API_TOKEN=(.*)$", example, flags=re.M)
    assert placeholder is not None
    env = {**os.environ, "TUNER_API_TOKEN": placeholder.group(1),
           "MLFLOW_DISABLE_TELEMETRY": "true"}
    done = subprocess.run([str(VENV_BIN / "tuner"), "serve", "--host", "0.0.0.0", "--port",
                           str(free_port())], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    assert "TUNER_API_TOKEN: still the placeholder of .env.example" in done.stderr


def test_data_root_option_replaces_the_default_roots(tmp_path: Path, small_corpus: Path,
                                                     session_cache: Path) -> None:
    for folder in ("grids", "datasets", "corpora"):
        (tmp_path / folder).mkdir()
    for folder in ("datasets", "corpora"):
        shutil.copy(small_corpus, tmp_path / folder / "corpus.jsonl")
    served = start_server(tmp_path, session_cache, "--data-root", "corpora")
    try:
        answers = [served.call("POST", "/sweeps", {"grid_inline": tiny_grid(
            "roots", Path(f"../{folder}/corpus.jsonl"), [-1])})  # bad seed: no sweep starts
            for folder in ("corpora", "datasets")]
    finally:
        served.stop()
    (inside, inside_body), (outside, outside_body) = answers
    assert (inside, outside) == (400, 400)
    assert [p.split(": ")[1] for p in inside_body["problems"]] == ["seeds[0]"]
    assert outside_body["error"].startswith("grid_inline: dataset.path: must be a file or "
                                            "folder under the server's data roots (corpora/)")


def _wait_for(api: Served, sweep_id: str, wanted: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = api.call("GET", f"/sweeps/{sweep_id}")[1]
        if job["status"] == wanted and (wanted != "running" or job["total"]):
            return job
        time.sleep(0.2)
    pytest.fail(f"sweep {sweep_id} never {wanted}")


def test_a_sweep_can_be_cancelled_queued_or_running(api: Served) -> None:
    """A 500-trial grid held the server's one sweep slot until SIGTERM: there was no cancel
    (audit of 2026-12-01). Cancelling stops its workers; its running trials end KILLED."""
    from mlflow.tracking import MlflowClient

    long = _inline(api, "cancel-running")
    long["grid_inline"]["params"] = {"num_topics": [5, 8], "vocab_size": 1000,
                                     "lda.max_iter": 10000}
    running = api.call("POST", "/sweeps", long)[1]
    waiting = api.call("POST", "/sweeps", _inline(api, "cancel-queued"))[1]
    started = _wait_for(api, running["id"], "running")
    client = MlflowClient(api.store)
    deadline = time.monotonic() + 120
    while not client.search_runs([started["experiment_id"]], "tags.`tuner.role` = 'trial'"):
        assert time.monotonic() < deadline, "no trial started"  # precompute may still run
        time.sleep(0.2)
    # Known while it runs (it was null until the end): an automation can link to MLflow.
    parent = api.call("GET", f"/sweeps/{running['id']}")[1]["parent_run_id"]
    assert parent is not None and client.get_run(parent).data.tags["tuner.role"] == "sweep"
    status, answer = api.call("POST", f"/sweeps/{waiting['id']}/cancel")
    assert (status, answer["status"]) == (202, "cancelled"), answer
    assert api.call("POST", f"/sweeps/{running['id']}/cancel")[0] == 202
    ended = wait_done(api, running["id"], timeout=60)
    assert ended["status"] == "cancelled" and "cancelled while running" in ended["error"]
    runs = client.search_runs([ended["experiment_id"]], "tags.`tuner.role` = 'trial'")
    assert runs and {r.info.status for r in runs} == {"KILLED"}
    assert api.call("POST", f"/sweeps/{running['id']}/cancel")[0] == 409
    assert api.call("GET", f"/sweeps/{running['id']}/cancel")[0] == 405
    assert api.call("POST", "/sweeps/nope/cancel")[0] == 404
    again = api.call("POST", "/sweeps", _inline(api, "cancel-queued", seeds=[3]))
    assert again[0] == 202, again  # the experiment is free again
    assert wait_done(api, again[1]["id"])["status"] == "finished"


def test_a_queued_sweeps_file_replaced_by_a_link_out_of_the_roots_is_not_read(
        api: Served) -> None:
    """The roots are checked when a worker reads, not only at the POST: a ground-truth file
    replaced by a link while its sweep waited was read from outside, and the ids it held were
    quoted in the trial's tuner.error tag (audit of 2026-12-01)."""
    from mlflow.tracking import MlflowClient

    datasets = api.root / "datasets"
    ids = [json.loads(line)["id"] for line in
           (datasets / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    (datasets / "swapped.json").write_text(json.dumps({"a": ids[::2], "b": ids[1::2]}))
    (api.root / "outside.json").write_text(json.dumps({f"{MARKER}c": [f"{MARKER}doc"]}))
    blocker = _inline(api, "swap-blocker")
    blocker["grid_inline"]["params"] = {"num_topics": 5, "vocab_size": 1000,
                                        "lda.max_iter": 10000}
    holding = api.call("POST", "/sweeps", blocker)[1]
    status, queued = api.call("POST", "/sweeps",
                              _inline(api, "swap-victim", ground_truth="../datasets/swapped.json"))
    assert status == 202, queued
    (datasets / "swapped.json").unlink()
    (datasets / "swapped.json").symlink_to(api.root / "outside.json")
    assert api.call("POST", f"/sweeps/{holding['id']}/cancel")[0] == 202
    ended = wait_done(api, queued["id"])
    assert ended["status"] == "failed", ended
    runs = MlflowClient(api.store).search_runs([ended["experiment_id"]],
                                               "tags.`tuner.role` = 'trial'")
    errors = {r.data.tags.get("tuner.error", "") for r in runs}
    assert runs and all("ground_truth now leads outside" in e for e in errors), errors
    assert MARKER not in json.dumps([r.to_dictionary() for r in runs]) + json.dumps(ended)


def test_an_https_origin_is_matched_at_port_443() -> None:
    """Behind a TLS proxy a browser sends `Origin: https://tuner.example`: port 443, which
    `--allowed-host tuner.example:443` allows (it was read as port 80; review of 2026-12-03)."""
    from tuner.serve.server import HostPolicy

    policy = HostPolicy.of("127.0.0.1", 8080, ["tuner.example:443"])
    assert policy.allows("tuner.example", 443) and not policy.allows("tuner.example")
