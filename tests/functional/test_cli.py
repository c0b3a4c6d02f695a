"""`rekflow analyze` end to end with the fixture backend."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics.provider.cloudwatch_emf import cloudwatch as powertools_emf
from PIL import Image

from rekflow import TEMPLATE_PATH
from rekflow.cli import main
from rekflow.local.template import Template
from rekflow.media.samples import SAMPLES, write_samples


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Any]]:
    """The bundled samples, written once for the module (making them encodes the videos: seconds of CPU);
    the tests only read them."""
    folder = tmp_path_factory.mktemp("samples")
    return folder, write_samples(folder)


def test_analyze_json_reports_every_sample(tmp_path, capsys, samples):
    folder, written = samples
    code = main(["analyze", "--json", "--backend", "fixture", "--output", str(tmp_path / "out"), str(folder)])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0
    assert len(lines) == len(written)
    expected = {s.name: (s.expected_status, s.expected_reason) for s in SAMPLES}
    for line in lines:
        assert (line["status"], line["reason"]) == expected[line["key"]], line
        assert {"file", "status", "reason", "execution", "results", "features"} <= set(line)
        assert json.loads(Path(line["results"]).read_text(encoding="utf-8"))["execution"]["name"] == line["execution"]


def test_table_output_names_every_file(tmp_path, capsys, samples):
    folder, _ = samples
    assert (
        main(
            [
                "analyze",
                "--backend",
                "fixture",
                "--output",
                str(tmp_path / "out"),
                str(folder / "cat.jpg"),
                str(folder / "notes.txt"),
            ]
        )
        == 0
    )
    # THEN, piped (as capsys is), one line per file with every value whole: nothing folded at 80 columns
    printed = capsys.readouterr().out.splitlines()
    (cat,) = [line for line in printed if line.split()[:2] == ["cat.jpg", "SUCCEEDED"]]
    assert "Animal" in cat and "nothing flagged" in cat
    (notes,) = [line for line in printed if line.split()[:1] == ["notes.txt"]]
    assert "REJECTED; NOT_MEDIA" in notes


def test_missing_path_is_a_usage_error(tmp_path):
    assert main(["analyze", "--backend", "fixture", str(tmp_path / "nope")]) == 2


def _small_jpegs(folder: Path, count: int) -> list[str]:
    """`count` different 32x24 JPEGs, named photo-NNN.jpg."""
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for number in range(count):
        buffer = io.BytesIO()
        Image.new("RGB", (32, 24), (number % 256, 90, 255 - number % 256)).save(buffer, "JPEG")
        names.append(f"photo-{number:03d}.jpg")
        (folder / names[-1]).write_bytes(buffer.getvalue())
    return names


def _log_records(log: Path) -> tuple[set[str], list[dict]]:
    """(the request ids of the START lines, the JSON lines) of one function's log."""
    lines = log.read_text(encoding="utf-8").splitlines()
    starts = {line.split()[2] for line in lines if line.startswith("START RequestId: ")}
    return starts, [json.loads(line) for line in lines if line.startswith("{")]


def test_json_over_many_files_prints_rows_only_and_functions_log_to_files(tmp_path, capsys, monkeypatch):
    # With metrics disabled, Powertools still prints a metric once it holds MAX_METRICS (100) values. The
    # limit is lowered to 10 so that 25 files cross it, instead of analysing over a hundred (14 s of CPU);
    # the functions run in this process, where the lowered limit is.
    monkeypatch.setenv("REKFLOW_FUNCTIONS_IN_PROCESS", "1")
    monkeypatch.setattr(powertools_emf, "MAX_METRICS", 10)
    # The metric set is one per process (a class attribute): values from earlier runs would be past the limit.
    monkeypatch.setattr(Metrics, "_metrics", {})
    names = _small_jpegs(tmp_path / "in", 25)
    out = tmp_path / "out"
    code = main(
        ["analyze", "--json", "--backend", "fixture", "--concurrency", "16", "--output", str(out), str(tmp_path / "in")]
    )
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines()]  # every line is one JSON row
    assert code == 0
    assert sorted(row["key"] for row in rows) == names
    assert {row["status"] for row in rows} == {"SUCCEEDED"}
    assert "_aws" not in captured.err and "RequestId" not in captured.err  # no function output without --logs

    logs = out / "logs"
    functions = Template.load(TEMPLATE_PATH).resources_of_type("AWS::Serverless::Function")
    assert sorted(p.name for p in logs.iterdir()) == sorted(f"{logical_id}.log" for logical_id in functions)
    starts, records = _log_records(logs / "ValidateFunction.log")
    assert len(starts) >= len(names)
    verdicts = [r for r in records if r.get("message") == "verdict"]
    assert sorted(r["verdict"]["key"] for r in verdicts) == names
    # Each line names the invocation that wrote it, though invocations ran side by side.
    assert all(r["function_request_id"] in starts and r["function_name"].endswith("validatefunction") for r in verdicts)
    assert (logs / "BuildResultsFunction.log").read_text(encoding="utf-8").count("START RequestId: ") >= len(names)
    every_log = "".join(log.read_text(encoding="utf-8") for log in logs.iterdir())
    assert every_log.count("END RequestId: ") == every_log.count("START RequestId: ")
    assert '"_aws"' in every_log  # the metric blob went to a log, not to the rows


def test_logs_flag_echoes_the_functions_logs_on_stderr(tmp_path, capsys):
    _small_jpegs(tmp_path / "in", 2)
    assert (
        main(
            [
                "analyze",
                "--json",
                "--logs",
                "--backend",
                "fixture",
                "--output",
                str(tmp_path / "out"),
                str(tmp_path / "in"),
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert len([json.loads(line) for line in captured.out.splitlines()]) == 2
    echoed = [line for line in captured.err.splitlines() if line.startswith("[ValidateFunction] ")]
    logged = (tmp_path / "out" / "logs" / "ValidateFunction.log").read_text(encoding="utf-8").splitlines()

    def words(lines):  # the terminal's console expands the REPORT line's tabs
        return sorted(" ".join(line.split()) for line in lines)

    assert words(line.removeprefix("[ValidateFunction] ") for line in echoed) == words(logged)
    assert any('"message":"verdict"' in line for line in echoed)


def test_a_second_run_skips_the_results_folder_and_hidden_files(tmp_path, capsys, monkeypatch):
    names = _small_jpegs(tmp_path, 2)
    (tmp_path / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    _small_jpegs(tmp_path / ".thumbnails", 3)
    monkeypatch.chdir(tmp_path)
    for run in (1, 2):
        assert main(["analyze", "--json", "--backend", "fixture", "."]) == 0, run
        captured = capsys.readouterr()
        rows = [json.loads(line) for line in captured.out.splitlines()]
        assert sorted(row["key"] for row in rows) == names, run
        assert "hidden file(s) (.DS_Store, .thumbnails/)" in captured.err
    # The first run's 2 documents, a log per function, its sources.jsonl (the index `rekflow report` reads)
    # its 2 execution records (executions/<name>.json, which `rekflow executions` reads) and the file of
    # their histories (executions/histories-<run>.jsonl.gz, which `rekflow history` reads), and the search index
    # (index.sqlite3, which `rekflow search` reads).
    skipped = 2 + len(Template.load(TEMPLATE_PATH).resources_of_type("AWS::Serverless::Function")) + 1 + 2 + 1 + 1
    assert f"skipped {skipped} file(s) in the results folder rekflow-results/ and 4 hidden file(s)" in captured.err
    # A hidden file named on the command line is analysed: it was asked for.
    assert main(["analyze", "--json", "--backend", "fixture", ".DS_Store"]) == 0
    assert [json.loads(line)["key"] for line in capsys.readouterr().out.splitlines()] == [".DS_Store"]
