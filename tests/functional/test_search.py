"""`rekflow search`, `rekflow index`, `rekflow forget` over a results folder that `rekflow analyze` wrote: the
index follows every document written, a re-analysis replaces, a deleted file leaves everywhere, a rebuild
gives the same answers, a bad query changes nothing; and, with the local models, the issue's done-when."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from rekflow.cli import main
from rekflow.media.samples import write_samples
from rekflow.search.index import SearchIndex

PICKED = ("space cat tour.mp4", "cat.jpg", "shop sign + hours 100% café.png", "notes.txt")


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    every = tmp_path_factory.mktemp("every-sample")
    write_samples(every)
    picked = tmp_path_factory.mktemp("samples")
    for name in PICKED:
        shutil.copy(every / name, picked / name)
    return picked


def _search(capsys: pytest.CaptureFixture[str], output: Path, query: str, *more: str) -> list[dict[str, Any]]:
    capsys.readouterr()
    assert main(["search", query, "--json", "--output", str(output), *more]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def _analyze(folder: Path, output: Path, backend: str = "fixture") -> None:
    assert main(["analyze", "--json", "--backend", backend, "--output", str(output), str(folder)]) == 0


def test_a_video_is_found_with_the_seconds_and_shots_of_each_match(tmp_path, samples, capsys):
    output = tmp_path / "results"
    _analyze(samples, output)
    (video,) = _search(capsys, output, 'label:cat text:"rekflow fixture" kind:video')
    assert video["key"] == "space cat tour.mp4"
    document = json.loads(Path(video["document"]).read_text(encoding="utf-8"))
    kept = output / "video-results" / document["assetId"]
    # THEN the evidence's moments are every timestamp the video jobs found, each in the shot that holds it
    labels = json.loads((kept / "labels.json").read_text(encoding="utf-8"))["items"]
    cat = next(e for e in video["evidence"] if e["kind"] == "label")
    expected = sorted({i["Timestamp"] for i in labels if i["Label"]["Name"] == "Cat"})
    assert [m["seconds"] * 1000 for m in cat["moments"]] == expected and len(expected) > 1
    shots = json.loads((kept / "segments.json").read_text(encoding="utf-8"))["items"]
    for moment in cat["moments"]:
        shot = moment["shot"]
        assert shot["startSeconds"] <= moment["seconds"] <= shot["endSeconds"]
        assert any(s["ShotSegment"]["Index"] == shot["index"] for s in shots if s["Type"] == "SHOT")
    line = next(e for e in video["evidence"] if e["kind"] == "text")
    assert line["name"] == "REKFLOW FIXTURE" and line["moments"]
    # AND the plain output says the same in seconds
    capsys.readouterr()
    assert main(["search", "label:cat kind:video", "--output", str(output)]) == 0
    printed = capsys.readouterr().out
    assert "space cat tour.mp4" in printed and f"label Cat {cat['confidence']:.1f}% at 0 s" in printed


def test_a_reanalysis_replaces_and_a_deleted_file_leaves_everywhere(tmp_path, samples, capsys):
    folder, output = tmp_path / "media", tmp_path / "results"
    shutil.copytree(samples, folder)
    _analyze(folder, output)
    (first,) = _search(capsys, output, "path:cat.jpg")
    first_id = json.loads(Path(first["document"]).read_text(encoding="utf-8"))["assetId"]
    _analyze(folder, output)
    (again,) = _search(capsys, output, "path:cat.jpg")
    # THEN the key has one entry, the new version's (an asset id is per object version)
    with SearchIndex(output / "index.sqlite3") as index:
        (asset_id,) = index._db.execute("SELECT asset_id FROM asset WHERE key = 'cat.jpg'").fetchone()
    assert asset_id == json.loads(Path(again["document"]).read_text(encoding="utf-8"))["assetId"] != first_id
    assert len(_search(capsys, output, "")) == len(PICKED)
    assert len(list((output / "video-results").iterdir())) == 1  # the earlier version's video results went
    # WHEN a file is deleted and its folder analysed again
    (folder / "cat.jpg").unlink()
    _analyze(folder, output)
    # THEN it is found nowhere: not by search, not in the documents, not after a rebuild
    assert "cat.jpg" in capsys.readouterr().err
    assert _search(capsys, output, "path:cat.jpg") == []
    assert not (output / "cat.jpg.json").exists()
    assert main(["index", "--rebuild", "--output", str(output)]) == 0
    assert _search(capsys, output, "path:cat.jpg") == []
    # AND `rekflow forget` does the same for a file that is still there, video results included
    assert main(["forget", str(folder / "space cat tour.mp4"), "--output", str(output)]) == 0
    assert _search(capsys, output, "kind:video") == []
    assert not any((output / "video-results").iterdir())
    assert {hit["key"] for hit in _search(capsys, output, "")} == {"shop sign + hours 100% café.png", "notes.txt"}
    assert main(["forget", "never-analysed.jpg", "--output", str(output)]) == 2


def test_a_rebuilt_index_answers_as_the_one_kept_up_to_date(tmp_path, samples, capsys):
    output = tmp_path / "results"
    _analyze(samples, output)
    queries = ("", "cat", "kind:image -status:rejected", "text:rekflow faces:>=1", "status:rejected")
    before = [_search(capsys, output, query, "--sort", "path") for query in queries]
    (output / "index.sqlite3").unlink()  # and a folder without an index is indexed once, by the first search
    assert [_search(capsys, output, query, "--sort", "path") for query in queries] == before
    assert main(["index", "--rebuild", "--output", str(output)]) == 0
    assert [_search(capsys, output, query, "--sort", "path") for query in queries] == before
    assert before[0] and before[1] and before[4]


def test_a_bad_query_points_at_the_token_and_changes_nothing(tmp_path, samples, capsys):
    output = tmp_path / "results"
    _analyze(samples, output)
    index = output / "index.sqlite3"
    with SearchIndex(index) as opened:
        keys = opened.keys()
    capsys.readouterr()
    assert main(["search", "label:cat faces:many", "--output", str(output)]) == 2
    err = capsys.readouterr().err
    assert "faces: takes a whole number, not 'many' at position 17" in err
    assert err.rstrip().endswith("\n  label:cat faces:many\n  " + " " * len("label:cat faces:") + "^")
    with SearchIndex(index) as opened:
        assert opened.keys() == keys


@pytest.mark.models
def test_done_when_the_demo_samples_are_found_by_label_and_text(tmp_path, samples, capsys):
    """The issue's done-when, on the samples make demo analyses, with the local models (the default backend)."""
    output = tmp_path / "results"
    _analyze(samples, output, backend="local")
    (video,) = [h for h in _search(capsys, output, 'label:Cat text:"open daily"') if h["key"] == "space cat tour.mp4"]
    for evidence in video["evidence"]:
        assert evidence["moments"] and all(m["shot"] for m in evidence["moments"])
    keys = {hit["key"] for hit in _search(capsys, output, 'text:"open daily"')}
    assert {"space cat tour.mp4", "shop sign + hours 100% café.png"} <= keys
