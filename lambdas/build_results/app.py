"""Build results: assemble the schema-versioned results document and summary of one asset.

The state machine stores what this returns with direct service integrations (S3, DynamoDB,
SNS, EventBridge); this function only shapes data, so a retry can never write twice.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import fastjsonschema
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from boto3.dynamodb.types import TypeSerializer

from results_document import build

logger = Logger()
tracer = Tracer()
metrics = Metrics()

RESULTS_BUCKET = os.environ["RESULTS_BUCKET"]
RESULTS_PREFIX = os.environ["RESULTS_PREFIX"]
REVIEW_THRESHOLD = float(os.environ["MODERATION_REVIEW_THRESHOLD"])
RECORD_CLAIM_SECONDS = int(os.environ["RECORD_CLAIM_SECONDS"])
_SCHEMAS = Path(os.environ["SCHEMAS_DIR"])
# Compiled once per container with fastjsonschema, the validator behind Powertools' validate(), which
# compiles the schema again on every call: that was a fifth of a whole local execution's CPU.
check_document = fastjsonschema.compile(json.loads((_SCHEMAS / "results-document.schema.json").read_text()))
check_summary = fastjsonschema.compile(json.loads((_SCHEMAS / "summary-item.schema.json").read_text()))
check_event = fastjsonschema.compile(json.loads((_SCHEMAS / "media-analyzed-event.schema.json").read_text()))
_serializer = TypeSerializer()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    built = build(
        event["run"],
        event["execution"],
        results_bucket=RESULTS_BUCKET,
        results_prefix=RESULTS_PREFIX,
        review_threshold=REVIEW_THRESHOLD,
        claim_seconds=RECORD_CLAIM_SECONDS,
    )
    # Every output is checked against its published schema before anything is stored.
    check_document(built["document"])
    check_summary(built["summary"])
    check_event(built["event"])
    metrics.add_metric(name=f"Assets{built['outcome']['status'].title()}", unit=MetricUnit.Count, value=1)
    return {
        "document": built["document"],
        "item": to_dynamodb_item(built["summary"]),
        "event": built["event"],
        "outcome": built["outcome"],
        "claim": built["claim"],
    }


def to_dynamodb_item(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary in DynamoDB's typed JSON, ready for the dynamodb:putItem integration."""
    # DynamoDB numbers must be Decimal; empty lists are fine, empty strings in keys are not.
    plain = json.loads(json.dumps(summary), parse_float=Decimal)
    return {name: _serializer.serialize(value) for name, value in plain.items()}
