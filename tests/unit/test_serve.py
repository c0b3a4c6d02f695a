"""`rekflow serve`'s handlers without a browser: a query answers JSON with its evidence and only the matching boxes,
a bad query is a 400 with the parser's position (and runs nothing), media are only the files the index knows,
the bind is loopback only, the Host header is checked, a state-changing route needs the same origin and the CSRF
token, and over a stack the search goes through Athena (botocore's Stubber) and media are presigned URLs."""

from __future__ import annotations

import http.client
import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from rekflow.cli import main
from rekflow.commands.results_folder import index_document, open_index
from rekflow.commands.serve.app import App
from rekflow.commands.serve.csrf import TOKEN_HEADER, CsrfGuard
from rekflow.commands.serve.http import Request, Response
from rekflow.commands.serve.library import FolderLibrary, StackLibrary, keeping_engine
from rekflow.commands.serve.routes import ROUTES, Route, dispatch
from rekflow.commands.serve.server import NotLoopback, loopback_address, make_server
from rekflow.media import sources as media_sources
from rekflow.search.query import QueryError, parse
from rekflow.search.sql import RESULT_COLUMNS

CAT_BOX = {"Width": 0.6, "Height": 0.8, "Left": 0.2, "Top": 0.1}
LINE_BOX = {"Width": 0.5, "Height": 0.1, "Left": 0.25, "Top": 0.85}
FACE_BOX = {"Width": 0.1, "Height": 0.15, "Left": 0.4, "Top": 0.2}


def document(key: str, asset_id: str, size: int, *, cat: bool = True) -> dict[str, Any]:
    """A photo's results document: a Cat with a box (or a Dog), an unboxed Pet, a line of text, one face."""
    label = "Cat" if cat else "Dog"
    return {
        "schemaVersion": "1.0",
        "assetId": asset_id,
        "status": "SUCCEEDED",
        "reason": None,
        "message": None,
        "object": {"bucket": "media", "key": key, "versionId": "v1", "size": size, "mediaType": "image",
                   "format": "JPEG"},
        "execution": {"name": "run", "startedAt": "2026-11-30T10:00:00+00:00"},
        "createdAt": "2026-11-30T10:00:05.000+00:00",
        "settings": {"features": ["labels", "text", "faces"], "minConfidence": 70, "moderationReviewThreshold": 80},
        "features": {
            "labels": {"status": "SUCCEEDED", "labels": [
                {"Name": label, "Confidence": 97.5, "Instances": [{"BoundingBox": CAT_BOX, "Confidence": 95.0}]},
                {"Name": "Pet", "Confidence": 97.0, "Instances": []},
            ]},
            "text": {"status": "SUCCEEDED", "detections": [
                {"DetectedText": "OPEN DAILY", "Type": "LINE", "Id": 0, "Confidence": 99.0,
                 "Geometry": {"BoundingBox": LINE_BOX}},
                {"DetectedText": "OPEN", "Type": "WORD", "Id": 1, "ParentId": 0, "Confidence": 99.0,
                 "Geometry": {"BoundingBox": LINE_BOX}},
            ]},
            "faces": {"status": "SUCCEEDED", "faces": [{"BoundingBox": FACE_BOX, "Confidence": 99.5}]},
        },
        "moderationReview": {"needed": False, "threshold": 80, "labels": []},
    }  # fmt: skip


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A results folder with two photos analysed (documents, index, recorded files) and a secret beside it."""
    output, media = tmp_path / "results", tmp_path / "media"
    output.mkdir()
    media.mkdir()
    (tmp_path / "secret.txt").write_text("not analysed")
    with open_index(output) as index:
        for key, asset_id, cat in (("cat.jpg", "a" * 64, True), ("dog.jpg", "b" * 64, False)):
            (media / key).write_bytes(b"\xff\xd8 jpeg bytes of " + key.encode())
            doc = document(key, asset_id, (media / key).stat().st_size, cat=cat)
            (output / f"{key}.json").write_text(json.dumps(doc))
            index_document(index, output, doc)
            media_sources.record(output, [(key, media / key)])
    return output


@pytest.fixture
def app(folder: Path) -> Iterator[App]:
    library = FolderLibrary(folder)
    yield App(library, CsrfGuard(frozenset({"http://127.0.0.1:8765"})))
    library.index.close()


def get(app: App, path: str, query: str = "", headers: dict[str, str] | None = None) -> Response:
    return dispatch(app, Request.of("GET", path, query, headers))


def body(response: Response) -> bytes:
    return response.body if response.stream is None else b"".join(response.stream)


def test_a_query_answers_its_hits_with_the_evidence_and_only_the_matching_boxes(app):
    response = get(app, "/api/search", "q=label:cat")
    assert response.status == 200 and response.content_type == "application/json"
    (hit,) = response.json_body()["hits"]
    assert hit["key"] == "cat.jpg" and "document" not in hit  # no server path reaches the page
    assert [(e["kind"], e["name"], e["confidence"]) for e in hit["evidence"]] == [("label", "Cat", 97.5)]
    # THEN only the Cat's box is drawn: not the line of text, not the face
    assert hit["boxes"] == [
        {"kind": "label", "title": "Cat 95.0%", "left": 20.0, "top": 10.0, "width": 60.0, "height": 80.0}
    ]
    assert parse_qs(urlsplit(hit["media"]).query) == {"key": ["cat.jpg"], "asset": ["a" * 64]}
    assert hit["thumbnail"].startswith("/thumbnail?")

    (hit,) = get(app, "/api/search", 'q=label:cat text:"open daily"').json_body()["hits"]
    assert [box["kind"] for box in hit["boxes"]] == ["label", "text"]  # the line, not its word
    hits = get(app, "/api/search", "q=faces:1&sort=path").json_body()["hits"]
    assert [h["key"] for h in hits] == ["cat.jpg", "dog.jpg"]
    assert [[box["kind"] for box in h["boxes"]] for h in hits] == [["face"], ["face"]]
    (hit,) = get(app, "/api/search", "q=label:cat -faces:0").json_body()["hits"]
    assert [box["kind"] for box in hit["boxes"]] == ["label"]  # faces under a `-` are no evidence


def test_a_bad_query_is_a_400_that_points_at_the_token_and_runs_nothing(app, monkeypatch):
    monkeypatch.setattr(app.library, "search", lambda *a: pytest.fail("a bad query reached the index"))
    query = "label:cat (faces:>=x"
    response = get(app, "/api/search", "q=" + query.replace(">", "%3E").replace("=", "%3D"))
    assert response.status == 400
    error = response.json_body()["error"]
    with pytest.raises(QueryError) as raised:
        parse(query)
    assert (error["position"], error["token"], error["message"]) == (
        raised.value.position,
        raised.value.token,
        str(raised.value),
    )
    caret_line = error["message"].splitlines()[-1]
    assert caret_line.index("^") - 2 == error["position"] == query.index("x")
    assert get(app, "/api/search", "q=cat&sort=size").status == 400
    assert get(app, "/api/search", "q=cat&limit=0").status == 400


def test_media_are_only_the_files_the_index_knows(app, folder):
    cat = media_sources.read(folder)["cat.jpg"]
    response = get(app, "/media", f"key=cat.jpg&asset={'a' * 64}")
    assert response.status == 200 and body(response) == cat.read_bytes()
    assert response.content_type == "image/jpeg" and response.headers["Accept-Ranges"] == "bytes"
    refused = [
        "key=../secret.txt&asset=" + "a" * 64,
        f"key={folder.parent / 'secret.txt'}&asset=" + "a" * 64,
        "key=cat.jpg&asset=" + "b" * 64,  # another version's id
        "key=cat&asset=" + "a" * 64,  # a prefix of a key
        "key=&asset=",
    ]
    for query in refused:
        assert get(app, "/media", query).status == 404, query
        assert get(app, "/thumbnail", query).status == 404, query
    # A document and a recorded file the index does not hold (written behind its back): refused too
    (folder / "secret.txt.json").write_text(json.dumps(document("secret.txt", "c" * 64, 12)))
    media_sources.record(folder, [("secret.txt", folder.parent / "secret.txt")])
    assert get(app, "/media", "key=secret.txt&asset=" + "c" * 64).status == 404
    # A file changed since it was analysed is not the one its boxes describe
    cat.write_bytes(cat.read_bytes() + b"more")
    assert get(app, "/media", f"key=cat.jpg&asset={'a' * 64}").status == 404
    # Static files: a fixed list, no path joined
    assert get(app, "/static/search.js").status == 200
    assert get(app, "/static/../library.py").status == 404
    assert get(app, "/static/library.py").status == 404


def test_media_answer_byte_ranges(app, folder):
    data = media_sources.read(folder)["dog.jpg"].read_bytes()
    query = f"key=dog.jpg&asset={'b' * 64}"
    response = get(app, "/media", query, {"Range": "bytes=2-5"})
    assert response.status == 206 and body(response) == data[2:6]
    assert response.headers["Content-Range"] == f"bytes 2-5/{len(data)}"
    assert body(get(app, "/media", query, {"Range": "bytes=-3"})) == data[-3:]
    assert body(get(app, "/media", query, {"Range": "bytes=4-"})) == data[4:]
    assert get(app, "/media", query, {"Range": f"bytes={len(data)}-"}).status == 416


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "example.com", "10.0.0.1"])  # noqa: S104
def test_a_host_that_is_not_loopback_is_refused(host, folder, capsys):
    with pytest.raises(NotLoopback):
        loopback_address(host)
    assert main(["serve", "--output", str(folder), "--host", host]) == 2
    assert "loopback" in capsys.readouterr().err


def test_loopback_hosts_are_accepted():
    assert [loopback_address(h) for h in ("127.0.0.1", "localhost", "::1", "127.0.0.2")] == [
        "127.0.0.1",
        "127.0.0.1",
        "::1",
        "127.0.0.2",
    ]


@pytest.fixture
def running(folder: Path) -> Iterator[Any]:
    library = FolderLibrary(folder)
    server = make_server(library, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        library.index.close()


def fetch(server: Any, path: str, host: str | None = None) -> tuple[int, bytes]:
    port = server.server_address[1]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest("GET", path, skip_host=True)
        connection.putheader("Host", host or f"127.0.0.1:{port}")
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_the_server_answers_only_as_itself_and_never_outside_the_index(running):
    port = running.server_address[1]
    assert running.server_address[0] == "127.0.0.1"
    status, page = fetch(running, "/")
    assert status == 200 and b"csrf-token" in page
    assert fetch(running, "/", f"localhost:{port}")[0] == 200
    # DNS rebinding: a site whose name resolves to 127.0.0.1 sends its own name
    assert fetch(running, "/", f"attacker.example:{port}")[0] == 421
    assert fetch(running, "/api/search?q=label:cat", f"attacker.example:{port}")[0] == 421
    for path in ("/media/../../secret.txt", "/..%2F..%2Fsecret.txt", "/static/..%2Flibrary.py", "/thumbnail"):
        assert fetch(running, path)[0] == 404, path
    status, answer = fetch(running, "/api/search?q=label%3Acat")
    assert status == 200 and [h["key"] for h in json.loads(answer)["hits"]] == ["cat.jpg"]


def test_a_state_changing_route_needs_the_same_origin_and_the_token(app):
    changed = []

    def decide(_: App, request: Request) -> Response:
        changed.append(request.body)
        return Response.json(200, {"ok": True})

    routes = [*ROUTES, Route("POST", "/api/decide", decide, changes_state=True)]
    token = app.guard.token
    refused = [
        {},  # neither Origin nor Sec-Fetch-Site: a form posted from a file or an old client
        {"Origin": "http://attacker.example", TOKEN_HEADER: token},
        {"Origin": "null", TOKEN_HEADER: token},
        {"Sec-Fetch-Site": "cross-site", TOKEN_HEADER: token},
        {"Origin": "http://127.0.0.1:8765"},  # no token
        {"Origin": "http://127.0.0.1:8765", TOKEN_HEADER: token[:-1] + "x"},
    ]
    for headers in refused:
        request = Request.of("POST", "/api/decide", "", headers, b"approve")
        assert dispatch(app, request, routes).status == 403, headers
    assert changed == []
    for headers in ({"Origin": "http://127.0.0.1:8765"}, {"Sec-Fetch-Site": "same-origin"}):
        request = Request.of("POST", "/api/decide", "", {**headers, TOKEN_HEADER: token}, b"approve")
        assert dispatch(app, request, routes).status == 200
    assert changed == [b"approve", b"approve"]
    assert dispatch(app, Request.of("GET", "/api/decide"), routes).status == 405


def test_a_failing_handler_answers_500_and_the_server_goes_on(running, monkeypatch, capsys):
    def broken(*_: Any) -> None:
        raise RuntimeError("index gone")

    monkeypatch.setattr(running.app.library, "search", broken)
    status, answer = fetch(running, "/api/search?q=cat")
    assert status == 500 and "failed" in json.loads(answer)["error"]["message"]
    assert "index gone" in capsys.readouterr().err
    assert fetch(running, "/")[0] == 200


def test_a_videos_boxes_are_those_of_the_matching_findings_at_each_moment_of_the_match():
    from rekflow.commands.serve.hits import moment_boxes
    from rekflow.search.facts import Moment
    from rekflow.search.reference import Evidence

    def label(name: str, millis: int) -> dict[str, Any]:
        instance = {"BoundingBox": CAT_BOX, "Confidence": 90.0}
        return {"Timestamp": millis, "Label": {"Name": name, "Confidence": 95.0, "Instances": [instance]}}

    video = {
        "labels": [label("Cat", 0), label("Cat", 1000), label("Dog", 1000), label("Cat", 3000)],
        "text": [{"Timestamp": 1000, "TextDetection": {"DetectedText": "OPEN DAILY", "Type": "LINE",
                                                       "Confidence": 99.0, "Geometry": {"BoundingBox": LINE_BOX}}}],
        "faces": [{"Timestamp": 1000, "Face": {"BoundingBox": FACE_BOX, "Confidence": 99.0}}],
    }  # fmt: skip
    cat = Evidence("label", "Cat", 95.0, (Moment(1000, 95.0, 0), Moment(3000, 95.0, 1)))
    assert [(m["seconds"], [b["kind"] for b in m["boxes"]]) for m in moment_boxes(video, (cat,), False)] == [
        (1.0, ["label"]),
        (3.0, ["label"]),
    ]  # not the Cat at 0 s (not a moment of the match), not the Dog, the line or the face
    line = Evidence("text", "OPEN DAILY", 99.0, (Moment(1000, 99.0, 0),))
    assert [[b["kind"] for b in m["boxes"]] for m in moment_boxes(video, (cat, line), True)] == [
        ["label", "text", "face"],
        ["label"],
    ]


# ---------------------------------------------------------------------------------------------- a stack


@pytest.fixture
def stack() -> Iterator[tuple[App, Any, Stubber, Stubber]]:
    """A page over a stack whose Athena and S3 clients are botocore Stubbers: (app, engine, athena, s3)."""
    session = boto3.session.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 (stubbed clients send nothing, but sign)
        region_name="us-east-1",
    )
    athena, s3 = session.client("athena"), session.client("s3")
    engine = keeping_engine()("rekflow-dev-search", "rekflow_dev_search", athena, s3, sleep=lambda _: None)
    app = App(StackLibrary("rekflow-dev", engine, s3), CsrfGuard(frozenset()))
    with Stubber(athena) as athena_stub, Stubber(s3) as s3_stub:
        yield app, engine, athena_stub, s3_stub
        athena_stub.assert_no_pending_responses()
        s3_stub.assert_no_pending_responses()  # the boxes came from what the engine read, not a second read


def expect_search(stack: tuple[App, Any, Stubber, Stubber], query: str, row: list[str], reads: dict[str, Any]) -> None:
    """Athena answers `query` with one row; S3 answers each key of `reads` (in the results bucket) with its JSON."""
    _, engine, athena, s3 = stack
    athena.add_response(
        "start_query_execution",
        {"QueryExecutionId": "q-1"},
        {"QueryString": engine.sql(parse(query), 20, "analyzed"), "WorkGroup": engine.workgroup,
         "QueryExecutionContext": {"Database": engine.database}},
    )  # fmt: skip
    athena.add_response(
        "get_query_execution",
        {"QueryExecution": {"QueryExecutionId": "q-1", "Status": {"State": "SUCCEEDED"}}},
        {"QueryExecutionId": "q-1"},
    )
    cells = [{"Data": [{"VarCharValue": v} for v in values]} for values in (RESULT_COLUMNS, row)]
    athena.add_response("get_query_results", {"ResultSet": {"Rows": cells}}, {"QueryExecutionId": "q-1"})
    for key, data in reads.items():
        raw = json.dumps(data).encode()
        s3.add_response(
            "get_object", {"Body": StreamingBody(io.BytesIO(raw), len(raw))}, {"Bucket": "results-bucket", "Key": key}
        )


def test_over_a_stack_the_search_runs_in_athena_and_media_are_presigned(stack):
    app = stack[0]
    results_key = "results/" + "a" * 64 + ".json"
    row = ["media", "shop/cat.jpg", "a" * 64, "image", f"s3://results-bucket/{results_key}"]
    expect_search(stack, "label:cat", row, {results_key: document("shop/cat.jpg", "a" * 64, 10)})

    response = get(app, "/api/search", "q=label:cat")

    assert response.status == 200
    (hit,) = response.json_body()["hits"]
    assert [box["kind"] for box in hit["boxes"]] == ["label"]
    url = urlsplit(hit["media"])
    assert (url.scheme, url.hostname, url.path) == ("https", "media.s3.amazonaws.com", "/shop/cat.jpg")
    signed = parse_qs(url.query)
    assert signed["versionId"] == ["v1"]
    assert "X-Amz-Signature" in signed or "Signature" in signed  # SigV4 or SigV2 query signing
    assert hit["thumbnail"] == hit["media"]  # a JPEG the browser shows as it is
    # The library's own routes do not serve a stack's media: they come from S3 only
    assert get(app, "/media", "key=shop/cat.jpg&asset=" + "a" * 64).status == 404


def test_over_a_stack_a_videos_boxes_come_from_the_feature_results_the_engine_read(stack):
    app = stack[0]
    results_key, labels_key = "results/" + "d" * 64 + ".json", "video-results/" + "d" * 64 + "/labels.json"
    doc = document("tour.mp4", "d" * 64, 10)
    doc["object"] |= {"mediaType": "video", "format": "MP4", "video": {"durationMillis": 7000}}
    doc["features"] = {
        "labels": {"status": "SUCCEEDED", "resultsLocation": f"s3://results-bucket/{labels_key}",
                   "labels": [{"Name": "Cat", "Confidence": 97.5, "FirstSeenMillis": 2000}]},
    }  # fmt: skip
    instance = {"BoundingBox": CAT_BOX, "Confidence": 95.0}
    items = {"items": [{"Timestamp": 2000, "Label": {"Name": "Cat", "Confidence": 97.5, "Instances": [instance]}}]}
    row = ["media", "tour.mp4", "d" * 64, "video", f"s3://results-bucket/{results_key}"]
    expect_search(stack, "label:cat", row, {results_key: doc, labels_key: items})

    (hit,) = get(app, "/api/search", "q=label:cat").json_body()["hits"]

    assert hit["atSeconds"] == 2.0 and hit["thumbnail"] is None  # no poster on a stack: the player shows the frame
    assert [(m["seconds"], [b["kind"] for b in m["boxes"]]) for m in hit["momentBoxes"]] == [(2.0, ["label"])]
    assert urlsplit(hit["media"]).path == "/tour.mp4" and "versionId=v1" in hit["media"]
