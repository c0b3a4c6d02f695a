"""Moderation reviews on the local stack: find a review's summary item once its execution waits, and decide it.

ModerationReviewRule starts a ReviewStateMachine execution from the "Media Analyzed" event the analysis puts
(rekflow.local.moto_patches.engine delivers a rule's state machine targets): it runs on after the analysis's own
execution has ended, so a caller waits here for the item to show the parked task token (or a decision).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from rekflow.local.template import ACCOUNT_ID, REGION

PENDING = "PENDING_REVIEW"
DECISIONS = ("APPROVED", "REJECTED")
_deserializer = TypeDeserializer()


class ReviewNotWaiting(Exception):
    """No review of the asset waits for a decision within the time given."""


def raw_summary_item(dynamodb: Any, table: str, asset_id: str) -> dict[str, Any] | None:
    """The item in DynamoDB's JSON."""
    item: dict[str, Any] | None = dynamodb.get_item(
        TableName=table, Key={"AssetId": {"S": asset_id}}, ConsistentRead=True
    ).get("Item")
    return item


def summary_item(dynamodb: Any, table: str, asset_id: str) -> dict[str, Any] | None:
    item = raw_summary_item(dynamodb, table, asset_id)
    return None if item is None else {name: _deserializer.deserialize(value) for name, value in item.items()}


def wait_for(
    dynamodb: Any,
    table: str,
    asset_id: str,
    ready: Callable[[dict[str, Any]], bool],
    timeout: float = 30.0,
) -> dict[str, Any]:
    """The asset's summary item once `ready(item)`; ReviewNotWaiting after `timeout` seconds. The review runs in
    the local Step Functions' threads: its writes are read back here, a few milliseconds apart."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        item = summary_item(dynamodb, table, asset_id)
        if item is not None and ready(item):
            return item
        if time.monotonic() > deadline:
            raise ReviewNotWaiting(f"no review of {asset_id} reached that point in {timeout} s: {item}")
        pause.wait(0.02)


def parked(item: dict[str, Any]) -> bool:
    """The review waits for a decision: its task token is on the item."""
    return item.get("ReviewStatus") == PENDING and "ReviewTaskToken" in item


def decided(item: dict[str, Any]) -> bool:
    return item.get("ReviewStatus") in DECISIONS


def decision_output(decision: str, reviewer: str, decided_at: str, note: str | None = None) -> str:
    """The task result `rekflow review approve|reject` sends with SendTaskSuccess."""
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {DECISIONS}")
    output: dict[str, Any] = {"decision": decision, "reviewer": reviewer, "decidedAt": decided_at}
    if note:
        output["note"] = note
    return json.dumps(output, ensure_ascii=False)


def time_out_review(task_token: str) -> None:
    """Let the review's wait time out now, as ReviewTimeoutHours running out would (States.Timeout)."""
    from rekflow.local.moto_patches.task_timeouts import time_out_task

    time_out_task(task_token, ACCOUNT_ID, REGION)
