"""`review:` offline, end to end: two photos the fixture backend flags, analysed by `rekflow analyze`, are found by
`rekflow search review:pending`; `rekflow review approve` one, and the folder's index follows the decision at once
(no `rekflow index --rebuild`): `review:approved` finds it, `review:pending` the other."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rekflow.cli import main
from tests.functional.test_review import flagged_folder  # noqa: F401 - the fixture, used by name


def keys(capsys: pytest.CaptureFixture[str], output: Path, query: str) -> list[str]:
    capsys.readouterr()
    # After "--": a query that starts with "-" (a NOT) is not an option.
    assert main(["search", "--json", "--sort", "path", "--output", str(output), "--", query]) == 0
    found: list[dict[str, Any]] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return [hit["key"] for hit in found]


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
    assert keys(capsys, flagged_folder, "-review:no") == ["first.jpg", "second.jpg"]

    # AND the index rebuilt from the documents gives the same answers (the decision is in the document)
    capsys.readouterr()
    assert main(["index", "--rebuild", "--output", str(flagged_folder)]) == 0
    assert keys(capsys, flagged_folder, "review:approved") == ["first.jpg"]
    assert keys(capsys, flagged_folder, "review:pending") == ["second.jpg"]
