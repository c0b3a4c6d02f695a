"""`review:` end to end.

Offline: two photos the fixture backend flags, analysed by `rekflow analyze`, are found by `rekflow search
review:pending`; `rekflow review approve` one, and the folder's index follows the decision at once (no `rekflow
index --rebuild`): `review:approved` finds it, `review:pending` the other.

On the local stack: the "Media Analyzed" and "Media Reviewed" events reach SearchIndexFunction through its rule,
and the rows it sends to Firehose, applied to the Iceberg tables' stand-in (tests/search_duckdb.py), answer the
SQL compiled for Athena: pending after the analysis, approved after the review workflow recorded the decision."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rekflow.cli import main
from rekflow.local.reviews import parked
from rekflow.search.query import parse
from tests.functional.test_deletion import index_of
from tests.functional.test_review import (
    analyse_flagged,
    decide,
    flagged_folder,  # noqa: F401 - the fixture, used by name
    item_when,
)


def hits(capsys: pytest.CaptureFixture[str], output: Path, query: str) -> list[dict[str, Any]]:
    capsys.readouterr()
    # After "--": a query that starts with "-" (a NOT) is not an option.
    assert main(["search", "--json", "--sort", "path", "--output", str(output), "--", query]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def keys(capsys: pytest.CaptureFixture[str], output: Path, query: str) -> list[str]:
    return [hit["key"] for hit in hits(capsys, output, query)]


def test_a_review_decision_is_found_by_review_right_after_it(
    flagged_folder: Path,  # noqa: F811 - the fixture imported above
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN two flagged photos analysed offline: both wait for review
    assert keys(capsys, flagged_folder, "review:pending") == ["first.jpg", "second.jpg"]
    assert keys(capsys, flagged_folder, "review:yes") == ["first.jpg", "second.jpg"]
    assert keys(capsys, flagged_folder, "review:no") == []

    # WHEN one is approved with rekflow review
    capsys.readouterr()
    assert main(["review", "approve", "first.jpg", "--output", str(flagged_folder)]) == 0

    # THEN the search sees the decision at once, and the other still waits
    assert keys(capsys, flagged_folder, "review:approved") == ["first.jpg"]
    assert keys(capsys, flagged_folder, "review:pending") == ["second.jpg"]
    assert keys(capsys, flagged_folder, "review:rejected") == []
    assert [(h["key"], h["review"]) for h in hits(capsys, flagged_folder, "-review:no")] == [
        ("first.jpg", "approved"),
        ("second.jpg", "pending"),
    ]
    capsys.readouterr()
    assert main(["search", "review:approved", "--output", str(flagged_folder)]) == 0
    assert "SUCCEEDED, review approved, analysed" in capsys.readouterr().out

    # AND the index rebuilt from the documents gives the same answers (the decision is in the document)
    capsys.readouterr()
    assert main(["index", "--rebuild", "--output", str(flagged_folder)]) == 0
    assert keys(capsys, flagged_folder, "review:approved") == ["first.jpg"]
    assert keys(capsys, flagged_folder, "review:pending") == ["second.jpg"]


def test_on_the_stack_the_review_state_reaches_the_athena_index(runtime: Any) -> None:
    # GIVEN a flagged photo analysed on the local stack, its review waiting, its Media Analyzed event delivered
    upload, result = analyse_flagged(runtime, "photos/flagged.jpg")
    item = item_when(runtime, result.output["assetId"], parked)
    (analyzed,) = [e for e in runtime.analyzed_events() if e["detail-type"] == "Media Analyzed"]
    assert [(name, error) for name, _, error in runtime.deliver(analyzed)] == [("SearchIndexFunction", None)]
    assert index_of(runtime).keys(parse("review:pending")) == [upload.key]
    assert index_of(runtime).keys(parse("review:no | review:approved")) == []

    # WHEN a reviewer approves it and the workflow announces the decision
    decide(item, "APPROVED")
    assert runtime.wait(item["ReviewExecutionArn"]).status == "SUCCEEDED"
    (reviewed,) = [e for e in runtime.analyzed_events() if e["detail-type"] == "Media Reviewed"]
    assert [(name, error) for name, _, error in runtime.deliver(reviewed)] == [("SearchIndexFunction", None)]

    # THEN the asset's row says approved
    index = index_of(runtime)
    assert index.keys(parse("review:approved")) == [upload.key]
    assert index.keys(parse("review:pending | review:rejected")) == []
    assert index.keys(parse("review:yes -review:no")) == [upload.key]
