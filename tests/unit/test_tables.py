"""The executions and history tables: one line per row, every value whole, when stdout is not a
terminal (rich would fold every column to a few characters at its default 80); fitted to a terminal's
width, without breaking a name, a status or an event inside a word."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from rich.console import Console

from rekflow.cli.tables import executions_table, history_table, print_table
from rekflow.commands.executions.summary import ExecutionSummary

KEY = "holidays 2026/Île de Ré + friends/100% sunset, with a rather long file name.jpg"
CAUSE = "User is not authorized to perform: rekognition:DetectText on resource arn:aws:rekognition:eu-west-1"


def _summaries() -> list[ExecutionSummary]:
    def summary(name: str, status: str, **more: str | None) -> ExecutionSummary:
        fields: dict[str, str | None] = {
            "stop_date": None,
            "outcome": status,
            "reason": None,
            "failed_state": None,
            "error": None,
            "cause": None,
            **more,
        }
        return ExecutionSummary(
            name, f"arn:aws:states:::execution:m:{name}", status, "2026-12-02T12:22:29", key=KEY, **fields
        )  # type: ignore[arg-type]

    return [
        summary("6517826a-6f3d-4ace-a4c9-0deafdf8a174", "SUCCEEDED", outcome="REJECTED", reason="UNSUPPORTED_FORMAT"),
        summary(
            "0d6f4b1c-8f0e-4a57-9b7e-2c1f3b5e9d11",
            "FAILED",
            failed_state="Detect text",
            error="Rekognition.AccessDeniedException",
            cause=CAUSE,
        ),
    ]


def _events() -> list[dict[str, object]]:
    start = datetime(2026, 12, 2, 12, 22, 29, tzinfo=UTC)
    kinds = [
        ("ExecutionStarted", {}),
        ("TaskStateEntered", {"stateEnteredEventDetails": {"name": "What kind of media is it?"}}),
        ("TaskScheduled", {}),
        ("TaskFailed", {"taskFailedEventDetails": {"error": "Rekognition.AccessDeniedException", "cause": CAUSE}}),
        ("ExecutionFailed", {"executionFailedEventDetails": {"error": "Rekognition.AccessDeniedException"}}),
    ]
    return [
        {"id": i + 1, "previousEventId": i, "type": kind, "timestamp": start + timedelta(milliseconds=i), **details}
        for i, (kind, details) in enumerate(kinds)
    ]


def _printed(listing: object, console: Console) -> list[str]:
    print_table(listing, console)  # type: ignore[arg-type]
    assert isinstance(console.file, io.StringIO)
    return console.file.getvalue().splitlines()


def test_piped_executions_are_one_line_per_row_with_every_value_whole():
    # GIVEN stdout that is not a terminal, WHEN the executions table is printed
    lines = _printed(executions_table(_summaries(), "out/"), Console(file=io.StringIO()))
    # THEN a title, a header and one line per execution, each holding its values whole
    assert len(lines) == 2 + len(_summaries()) and lines[0] == "rekflow executions (out/)"
    rejected, failed = lines[2], lines[3]
    assert "6517826a-6f3d-4ace-a4c9-0deafdf8a174" in rejected and KEY in rejected
    assert "SUCCEEDED; REJECTED UNSUPPORTED_FORMAT" in rejected
    assert all(
        value in failed
        for value in ("0d6f4b1c-8f0e-4a57-9b7e-2c1f3b5e9d11", "FAILED", KEY, "Detect text", "AccessDeniedException")
    )
    assert all(line == line.rstrip() and "│" not in line for line in lines)  # no borders, no trailing blanks


def test_piped_history_is_one_line_per_event():
    lines = _printed(history_table("run-1", _events()), Console(file=io.StringIO()))
    assert lines[0] == "rekflow history run-1: ExecutionFailed at 'What kind of media is it?'"
    assert len(lines) == 2 + len(_events())
    (failed,) = [line for line in lines if "task failed" in line]
    assert "What kind of media is it?" in failed and "Rekognition.AccessDeniedException" in failed and CAUSE in failed


@pytest.mark.parametrize("width", [120, 160])
def test_on_a_terminal_the_executions_table_fits_without_breaking_a_word(width):
    # GIVEN a terminal of this width, WHEN the table is printed
    lines = _printed(
        executions_table(_summaries(), "out/"),
        Console(file=io.StringIO(), force_terminal=True, color_system=None, width=width),
    )
    # THEN it is a bordered table within the width, names and statuses whole, the object folded where it must
    assert any("┃" in line for line in lines) and all(len(line) <= width for line in lines)
    text = "\n".join(lines)
    for whole in ("6517826a-6f3d-4ace-a4c9-0deafdf8a174", "UNSUPPORTED_FORMAT", "SUCCEEDED", "FAILED"):
        assert whole in text


@pytest.mark.parametrize("width", [80, 100])
def test_on_a_terminal_too_narrow_for_the_names_rows_are_one_line_each(width):
    # Names of 36 characters, a date and a status code cannot share these widths with three more
    # columns: rather than fold them, each row is a line of its own, which the terminal wraps.
    lines = _printed(
        executions_table(_summaries(), "out/"),
        Console(file=io.StringIO(), force_terminal=True, color_system=None, width=width),
    )
    assert len(lines) == 2 + len(_summaries()) and KEY in lines[2]


def test_on_an_80_column_terminal_the_history_fits():
    lines = _printed(
        history_table("run-1", _events()), Console(file=io.StringIO(), force_terminal=True, color_system=None, width=80)
    )
    assert all(len(line) <= 80 for line in lines) and any("┃" in line for line in lines)
    text = "\n".join(lines)
    # The states and events wrap between words, never inside one; the error and the cause fold.
    words = text.split()
    assert all(word in words for word in ("What", "kind", "media", "is", "it?", "execution", "started", "attempt"))
    assert "AccessDenied" in text
