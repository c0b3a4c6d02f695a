"""`rekflow analyze` end to end with the fixture backend."""

from __future__ import annotations

import json
from pathlib import Path

from rekflow.cli import main
from rekflow.samples import SAMPLES, write_samples


def test_analyze_json_reports_every_sample(tmp_path, capsys):
    samples = write_samples(tmp_path / "in")
    code = main(["analyze", "--json", "--backend", "fixture", "--output", str(tmp_path / "out"), str(tmp_path / "in")])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0
    assert len(lines) == len(samples)
    expected = {s.name: (s.expected_status, s.expected_reason) for s in SAMPLES}
    for line in lines:
        assert (line["status"], line["reason"]) == expected[line["key"]], line
        assert {"file", "status", "reason", "execution", "results", "features"} <= set(line)
        assert json.loads(Path(line["results"]).read_text(encoding="utf-8"))["execution"]["name"] == line["execution"]


def test_table_output_names_every_file(tmp_path, capsys):
    write_samples(tmp_path / "in")
    assert main(["analyze", "--backend", "fixture", "--output", str(tmp_path / "out"), str(tmp_path / "in" / "cat.jpg"),
                 str(tmp_path / "in" / "notes.txt")]) == 0
    printed = capsys.readouterr().out
    assert "cat.jpg" in printed and "NOT_MEDIA" in printed


def test_missing_path_is_a_usage_error(tmp_path):
    assert main(["analyze", "--backend", "fixture", str(tmp_path / "nope")]) == 2
