"""`rekflow review` on a deployed stack (--stack NAME), with the reviewer's own credentials.

A review is a ReviewStateMachine execution waiting on a task token parked on the asset's summary item:
`approve`/`reject` read the token and send the decision with SendTaskSuccess, as the reviewer (the ReviewerPolicy
output is all they need). A token already closed (the review was decided, or its timeout acted) is refused by Step
Functions with TaskTimedOut ("The task token has either expired or the task associated with the token has already
been closed", https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskSuccess.html), and nothing
changes.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from rekflow.commands.review.common import (
    DECISIONS,
    PENDING,
    Pending,
    ReviewClosed,
    ReviewError,
    ReviewNotWaitingYet,
    UnknownAsset,
    flagged_labels,
    now,
    shown_review,
)
from rekflow.search.documents import read_s3_json

REVIEW_INDEX = "ReviewsByStatus"


@dataclass(frozen=True)
class DeployedStack:
    table: str
    results_bucket: str

    @classmethod
    def named(cls, name: str, cloudformation: Any) -> DeployedStack:
        def physical(logical_id: str) -> str:
            try:
                answer = cloudformation.describe_stack_resource(StackName=name, LogicalResourceId=logical_id)
            except cloudformation.exceptions.ClientError as error:
                raise ReviewError(f"stack {name}: {error.response['Error']['Message']}") from error
            return str(answer["StackResourceDetail"]["PhysicalResourceId"])

        return cls(physical("ResultsTable"), physical("ResultsBucket"))


def list_stack(stack: DeployedStack, dynamodb: Any) -> list[Pending]:
    """The reviews waiting, oldest first, from the sparse ReviewsByStatus index."""
    from boto3.dynamodb.types import TypeDeserializer

    plain = TypeDeserializer()
    found: list[Pending] = []
    pages = dynamodb.get_paginator("query").paginate(
        TableName=stack.table,
        IndexName=REVIEW_INDEX,
        KeyConditionExpression="ReviewStatus = :pending",
        ExpressionAttributeValues={":pending": {"S": PENDING}},
        ScanIndexForward=True,
    )
    for page in pages:
        for raw in page["Items"]:
            item = {name: plain.deserialize(value) for name, value in raw.items()}
            found.append(
                Pending(
                    item["AssetId"],
                    item.get("Key", ""),
                    item.get("VersionId", ""),
                    item["ReviewStartedAt"],
                    flagged_labels(item),
                )
            )
    latest: dict[str, str] = {}
    for pending in found:
        latest[pending.key] = max(latest.get(pending.key, ""), pending.started_at)
    return [dataclasses.replace(p, superseded=p.started_at < latest[p.key]) for p in found]


def _stack_item(stack: DeployedStack, dynamodb: Any, asset: str) -> dict[str, Any]:
    from rekflow.local.reviews import summary_item

    if len(asset) != 64:  # an object key: the one pending review of it
        matches = [p for p in list_stack(stack, dynamodb) if p.key == asset]
        if len(matches) != 1:
            raise UnknownAsset(f"{len(matches)} pending reviews of key {asset!r}: give the asset id")
        asset = matches[0].asset_id
    item = summary_item(dynamodb, stack.table, asset)
    if item is None:
        raise UnknownAsset(f"no asset {asset} in {stack.table}")
    if "ReviewStatus" not in item:
        raise UnknownAsset(f"asset {asset} has no review")
    return item


def show_stack(stack: DeployedStack, dynamodb: Any, s3: Any, asset: str) -> dict[str, Any]:
    item = _stack_item(stack, dynamodb, asset)
    try:
        document = read_s3_json(s3, str(item["ResultsLocation"]))
    except s3.exceptions.NoSuchKey:
        document = {}
    history = [
        f"{item['ReviewStartedAt']}  PENDING_REVIEW (review started; {item.get('ReviewEscalations', 0)} reminders)"
    ]
    if item["ReviewStatus"] in DECISIONS:
        note = f": {item['ReviewNote']}" if item.get("ReviewNote") else ""
        history.append(f"{item['ReviewedAt']}  {item['ReviewStatus']} by {item['ReviewedBy']}{note}")
    return shown_review(item["AssetId"], item["Key"], item["VersionId"], document, history)


def decide_stack(
    stack: DeployedStack, dynamodb: Any, sfn: Any, sts: Any, asset: str, decision: str, note: str | None = None
) -> dict[str, Any]:
    """Send the decision for the asset's waiting review, as the caller's IAM principal; what was sent."""
    if decision not in DECISIONS:
        raise ReviewError(f"decision must be one of {DECISIONS}")
    from rekflow.local.reviews import decision_output

    item = _stack_item(stack, dynamodb, asset)
    if item["ReviewStatus"] != PENDING:
        raise ReviewClosed(
            f"the review of {item['Key']} was decided already: {item['ReviewStatus']} by {item.get('ReviewedBy')} "
            f"at {item.get('ReviewedAt')}"
        )
    if "ReviewTaskToken" not in item:
        raise ReviewNotWaitingYet(
            f"the review of {item['Key']} is not waiting for a decision yet: try again in a moment"
        )
    # The reviewer's own principal, as they sign in; CloudTrail records the same caller for SendTaskSuccess.
    reviewer = str(sts.get_caller_identity()["Arn"])
    output = decision_output(decision, reviewer, now(), note)
    try:
        sfn.send_task_success(taskToken=item["ReviewTaskToken"], output=output)
    except (sfn.exceptions.TaskTimedOut, sfn.exceptions.InvalidToken) as closed:
        raise ReviewClosed(
            f"the review of {item['Key']} closed before this decision (decided by someone else, or its timeout "
            f"acted): {closed.response['Error']['Code']}; nothing was changed"
        ) from closed
    return dict(json.loads(output))
