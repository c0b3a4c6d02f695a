"""What a decided review writes: the results document's review section and the Media Reviewed event's detail.

Plain functions of plain data, so the tests check them without AWS; app.py reads and writes.
"""

from __future__ import annotations

from typing import Any

SCHEMA_VERSION = "1.0"
DECISIONS = ("APPROVED", "REJECTED")


class InvalidDecision(Exception):
    """The task result sent for the review is no decision: it names neither APPROVED nor REJECTED, or lacks who
    decided or when. `rekflow review` never sends one; the execution fails by this name."""


def checked(decision: dict[str, Any], now: str, execution: str) -> dict[str, Any]:
    """The decision as the task result carried it, or InvalidDecision; a timeout's decision is made `now`, by the
    review execution itself."""
    if decision.get("timedOut") is True:
        decision = {"decidedAt": now, "reviewer": execution, **decision}
    if decision.get("decision") not in DECISIONS:
        raise InvalidDecision(f"decision must be one of {DECISIONS}, not {decision.get('decision')!r}")
    for field in ("reviewer", "decidedAt"):
        if not isinstance(decision.get(field), str) or not decision[field]:
            raise InvalidDecision(f"the decision names no {field}")
    note = decision.get("note")
    if note is not None and not isinstance(note, str):
        raise InvalidDecision("note must be text")
    return decision


def review_section(decision: dict[str, Any], labels: list[str], execution: str, escalations: int) -> dict[str, Any]:
    """The results document's `review` section (schemas/results-document.schema.json)."""
    section: dict[str, Any] = {
        "decision": decision["decision"],
        "reviewer": decision["reviewer"],
        "decidedAt": decision["decidedAt"],
        "labels": labels,
        "timedOut": bool(decision.get("timedOut", False)),
        "escalations": escalations,
        "execution": execution,
    }
    if decision.get("note"):
        section["note"] = decision["note"]
    return section


def reviewed_event(asset: dict[str, Any], section: dict[str, Any]) -> dict[str, Any]:
    """The Media Reviewed event's detail (schemas/media-reviewed-event.schema.json)."""
    event = {
        "schemaVersion": SCHEMA_VERSION,
        **{name: asset[name] for name in ("assetId", "bucket", "key", "versionId", "resultsLocation")},
        **{name: section[name] for name in ("decision", "reviewer", "decidedAt", "timedOut", "labels")},
    }
    if "note" in section:
        event["note"] = section["note"]
    return event
