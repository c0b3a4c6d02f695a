"""Read back everything a deployed local stack holds, and empty it again without deploying.

Tests share one deployed stack (tests/conftest.py). Between two tests the stack is emptied: every
object version and delete marker, every table item, every queued message and every finished
execution goes. `contents()` is the proof: it reads back, through the services' own APIs, every
bucket, table, queue, state machine, subscription and rule that exists (not a list of what the
template declares, so a resource a test added shows up too) and what each holds. A shared stack is
used again only while its contents equal what they were right after its deploy.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from rekflow.local.moto_patches import engine
from rekflow.local.template import ACCOUNT_ID, REGION

# What a queue holds, by the attributes SQS counts it with.
QUEUE_COUNTS = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)


def contents(client: Any) -> dict[str, Any]:
    """Every resource of the local account and what it holds; `client(service)` makes the clients."""
    s3, dynamodb, sqs, sfn, sns, events = (
        client(name) for name in ("s3", "dynamodb", "sqs", "stepfunctions", "sns", "events")
    )
    return {
        "buckets": {bucket["Name"]: _object_versions(s3, bucket["Name"]) for bucket in s3.list_buckets()["Buckets"]},
        "tables": {
            table: dynamodb.scan(TableName=table, Select="COUNT", ConsistentRead=True)["Count"]
            for table in dynamodb.list_tables()["TableNames"]
        },
        "queues": {url: queue_counts(sqs, url) for url in sqs.list_queues().get("QueueUrls", [])},
        "executions": {
            machine["stateMachineArn"]: sorted(
                e["name"] for e in sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]
            )
            for machine in sfn.list_state_machines()["stateMachines"]
        },
        "subscriptions": sorted(
            (s["TopicArn"], s["Protocol"], s["Endpoint"]) for s in sns.list_subscriptions()["Subscriptions"]
        ),
        "rules": {
            bus["Name"]: sorted(
                (rule["Name"], rule.get("State", "")) for rule in events.list_rules(EventBusName=bus["Name"])["Rules"]
            )
            for bus in events.list_event_buses()["EventBuses"]
        },
    }


def queue_counts(sqs: Any, url: str) -> tuple[int, ...]:
    """(visible, in flight, delayed) messages of one queue."""
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(QUEUE_COUNTS))["Attributes"]
    return tuple(int(attributes[name]) for name in QUEUE_COUNTS)


def running_executions(client: Any) -> list[str]:
    sfn = client("stepfunctions")
    return [
        e["executionArn"]
        for machine in sfn.list_state_machines()["stateMachines"]
        for e in sfn.list_executions(stateMachineArn=machine["stateMachineArn"], statusFilter="RUNNING")["executions"]
    ]


def empty(client: Any) -> None:
    """Delete every object version, item, message and finished execution; keep every resource and setting."""
    s3, dynamodb, sqs, sfn = (client(name) for name in ("s3", "dynamodb", "sqs", "stepfunctions"))
    for bucket in s3.list_buckets()["Buckets"]:
        versions = [{"Key": key, "VersionId": version} for key, version, _ in _object_versions(s3, bucket["Name"])]
        for start in range(0, len(versions), 1000):  # DeleteObjects takes up to 1,000 keys
            s3.delete_objects(Bucket=bucket["Name"], Delete={"Objects": versions[start : start + 1000], "Quiet": True})
    for table in dynamodb.list_tables()["TableNames"]:
        key_names = [k["AttributeName"] for k in dynamodb.describe_table(TableName=table)["Table"]["KeySchema"]]
        for page in dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
            for item in page["Items"]:
                dynamodb.delete_item(TableName=table, Key={name: item[name] for name in key_names})
    with _purge_again_at_once():
        for url in sqs.list_queues().get("QueueUrls", []):
            sqs.purge_queue(QueueUrl=url)  # cheaper than asking first whether it holds anything
    for machine in sfn.list_state_machines()["stateMachines"]:
        for execution in sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]:
            if execution["status"] != "RUNNING":
                engine.forget_execution(execution["executionArn"], ACCOUNT_ID, REGION)
    engine.let_finished_threads_go()


def _object_versions(s3: Any, bucket: str) -> list[tuple[str, str, bool]]:
    """(key, version id, is a delete marker) of every version of every key, "null" for an unversioned one."""
    found = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        found += [(v["Key"], v["VersionId"], False) for v in page.get("Versions", [])]
        found += [(m["Key"], m["VersionId"], True) for m in page.get("DeleteMarkers", [])]
    return sorted(found)


@contextlib.contextmanager
def _purge_again_at_once() -> Iterator[None]:
    """SQS refuses a second PurgeQueue within 60 seconds (PurgeQueueInProgress: "the specified queue
    previously received a PurgeQueue request within the last 60 seconds", botocore's SQS model), and moto
    holds to that unless told otherwise; tests follow each other faster. The setting lasts only for these purges."""
    setting = "MOTO_SQS_ENFORCE_STRICT_QUEUE_PURGE_BEHAVIOUR"
    saved = os.environ.get(setting)
    os.environ[setting] = "false"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(setting, None)
        else:
            os.environ[setting] = saved
