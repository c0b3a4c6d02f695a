"""Record the decision: the Review state machine's "Record the decision" task.

Writes the decision into the results document's review section (checked against schemas/) and into the summary
item, and returns the Media Reviewed event's detail for the state machine to put on the bus. The summary item is
written last and only by the execution that owns the review (ReviewExecutionArn), while it is PENDING_REVIEW or
already holds this same decision: a retry or a redrive writes the same again, and nothing else can overwrite it.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import fastjsonschema
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from decision import checked, review_section, reviewed_event

logger = Logger()
tracer = Tracer()
metrics = Metrics()

RESULTS_BUCKET = os.environ["RESULTS_BUCKET"]
RESULTS_PREFIX = os.environ["RESULTS_PREFIX"]
RESULTS_TABLE = os.environ["RESULTS_TABLE"]
PENDING = "PENDING_REVIEW"
_SCHEMAS = Path(os.environ["SCHEMAS_DIR"])
check_document = fastjsonschema.compile(json.loads((_SCHEMAS / "results-document.schema.json").read_text()))
check_event = fastjsonschema.compile(json.loads((_SCHEMAS / "media-reviewed-event.schema.json").read_text()))

_s3 = boto3.client("s3")
_dynamodb = boto3.client("dynamodb")


class ReviewNotPending(Exception):
    """The summary item is gone, belongs to another review execution, or already holds another decision."""


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    decision = checked(event["decision"], now, event["execution"])
    recorded = record(event["asset"], decision, event["execution"], int(event["escalations"]))
    metrics.add_metric(name=f"Reviews{recorded['decision'].title()}", unit=MetricUnit.Count, value=1)
    return recorded


def record(asset: dict[str, Any], decision: dict[str, Any], execution: str, escalations: int) -> dict[str, Any]:
    item = _owned_item(asset["assetId"], execution, decision["decision"])
    flagged = item.get("ReviewLabels", item.get("ModerationLabels", {}))  # an item written before ReviewLabels
    labels = [entry["S"] for entry in flagged.get("L", [])]
    document = _document(asset["resultsLocation"])
    if document is not None:
        labels = list(document.get("moderationReview", {}).get("labels", labels))
    section = review_section(decision, labels, execution, escalations)
    if document is not None:
        document["review"] = section
        check_document(document)
        _s3.put_object(
            Bucket=RESULTS_BUCKET,
            Key=_results_key(asset["resultsLocation"]),
            Body=json.dumps(document, ensure_ascii=False).encode(),
            ContentType="application/json",
        )
    else:
        # SearchIndexFunction deletes an upload's documents once its key holds no version: the item keeps the decision.
        logger.info("results document gone; the decision stays in the summary item", location=asset["resultsLocation"])
    _record_in_item(asset["assetId"], section, execution)
    event = reviewed_event(asset, section)
    check_event(event)
    return {"decision": section["decision"], "objectGone": "Deleted" in item, "event": event}


def _owned_item(asset_id: str, execution: str, decision: str) -> dict[str, Any]:
    item: dict[str, Any] | None = _dynamodb.get_item(
        TableName=RESULTS_TABLE, Key={"AssetId": {"S": asset_id}}, ConsistentRead=True
    ).get("Item")
    if item is None:
        raise ReviewNotPending(f"no summary item {asset_id}")
    owner = item.get("ReviewExecutionArn", {}).get("S")
    status = item.get("ReviewStatus", {}).get("S")
    if owner != execution or status not in (PENDING, decision):
        raise ReviewNotPending(f"{asset_id} is {status} under review execution {owner}, not {execution}'s to decide")
    return item


def _results_key(location: str) -> str:
    """The key of a results document rekflow wrote (s3://<results bucket>/<results prefix>…), or ValueError."""
    head = f"s3://{RESULTS_BUCKET}/"
    if not location.startswith(head + RESULTS_PREFIX):
        raise ValueError(f"{location} is no results document of {head}{RESULTS_PREFIX}")
    return location[len(head) :]


def _document(location: str) -> dict[str, Any] | None:
    try:
        body = _s3.get_object(Bucket=RESULTS_BUCKET, Key=_results_key(location))["Body"].read()
    except _s3.exceptions.NoSuchKey:
        return None
    document: dict[str, Any] = json.loads(body)
    return document


def _record_in_item(asset_id: str, section: dict[str, Any], execution: str) -> None:
    values: dict[str, Any] = {
        ":decision": {"S": section["decision"]},
        ":by": {"S": section["reviewer"]},
        ":at": {"S": section["decidedAt"]},
        ":timed_out": {"BOOL": section["timedOut"]},
        ":escalations": {"N": str(section["escalations"])},
        ":pending": {"S": PENDING},
        ":execution": {"S": execution},
    }
    update = "SET ReviewStatus = :decision, ReviewedBy = :by, ReviewedAt = :at, ReviewTimedOut = :timed_out, "
    update += "ReviewEscalations = :escalations"
    if "note" in section:
        update += ", ReviewNote = :note"
        values[":note"] = {"S": section["note"]}
    _dynamodb.update_item(
        TableName=RESULTS_TABLE,
        Key={"AssetId": {"S": asset_id}},
        UpdateExpression=update + " REMOVE ReviewTaskToken",
        ConditionExpression="ReviewExecutionArn = :execution AND ReviewStatus IN (:pending, :decision)",
        ExpressionAttributeValues=values,
    )
