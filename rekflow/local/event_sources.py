"""Lambda's SQS event source mapping, offline: poll a queue, hand batches to the function, keep what failed.

As on AWS, a record the function reports in `batchItemFailures` (or every record, when the
function raises) stays in the queue and is delivered again once its visibility timeout
passes; the queue's redrive policy moves it to the dead-letter queue after maxReceiveCount
receives. Offline the timeout is `redelivery_seconds` rather than the queue's minutes.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from typing import Any

import boto3

from rekflow.local.functions import LocalFunction
from rekflow.local.template import REGION, Template

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SqsEventSource:
    function_logical_id: str
    queue_logical_id: str
    batch_size: int
    report_batch_item_failures: bool


def sqs_event_sources(template: Template) -> list[SqsEventSource]:
    """The SQS events of template.yaml's functions."""
    found = []
    for logical_id, resource in template.resources_of_type("AWS::Serverless::Function").items():
        for event in resource["Properties"].get("Events", {}).values():
            if event["Type"] != "SQS":
                continue
            props = event["Properties"]
            queue = props["Queue"]["Fn::GetAtt"][0] if isinstance(props["Queue"]["Fn::GetAtt"], list) \
                else str(props["Queue"]["Fn::GetAtt"]).split(".")[0]
            found.append(SqsEventSource(logical_id, queue, int(props.get("BatchSize", 10)),
                                        "ReportBatchItemFailures" in props.get("FunctionResponseTypes", [])))
    return found


class SqsPoller:
    """One thread per event source; `stop()` ends it. An idle queue is polled every `idle_sleep` seconds:
    each poll is a moto call competing for the interpreter with the executions themselves."""

    def __init__(self, source: SqsEventSource, function: LocalFunction, queue_url: str, queue_arn: str,
                 redelivery_seconds: float = 0.5, idle_sleep: float = 0.25) -> None:
        self.source = source
        self.function = function
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.redelivery_seconds = redelivery_seconds
        self.idle_sleep = idle_sleep
        self.batches = 0
        self.failed_records = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"sqs-{source.queue_logical_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        sqs = boto3.session.Session().client("sqs", region_name=REGION)
        while not self._stop.is_set():
            messages = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=self.source.batch_size,
                                           AttributeNames=["All"], MessageAttributeNames=["All"]).get("Messages", [])
            if not messages:
                self._stop.wait(self.idle_sleep)
                continue
            self._deliver(sqs, messages)

    def _deliver(self, sqs: Any, messages: list[dict[str, Any]]) -> None:
        self.batches += 1
        payload, function_error = self.function.invoke({"Records": [self._record(m) for m in messages]})
        if function_error:
            logger.warning("%s failed a whole batch: %s", self.function.logical_id, payload.get("errorMessage"))
            failed = {m["MessageId"] for m in messages}
        elif self.source.report_batch_item_failures:
            failed = {f["itemIdentifier"] for f in (payload or {}).get("batchItemFailures", [])}
        else:
            failed = set()
        self.failed_records += len(failed)
        for message in messages:
            if message["MessageId"] in failed:
                sqs.change_message_visibility(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"],
                                              VisibilityTimeout=0)
            else:
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        if failed:
            self._stop.wait(self.redelivery_seconds)

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": message.get("MessageAttributes", {}),
            "md5OfBody": hashlib.md5(message["Body"].encode(), usedforsecurity=False).hexdigest(),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": REGION,
        }
