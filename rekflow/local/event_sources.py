"""Lambda's SQS event source mapping, offline: poll a queue, hand batches to the function, keep what failed.

As on AWS, a record the function reports in `batchItemFailures` (or every record, when the
function raises) stays in the queue and is delivered again once its visibility timeout
passes; the queue's redrive policy moves it to the dead-letter queue after maxReceiveCount
receives. Offline the timeout is `redelivery_seconds` rather than the queue's minutes.
"""

from __future__ import annotations

import functools
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
            queue = (
                props["Queue"]["Fn::GetAtt"][0]
                if isinstance(props["Queue"]["Fn::GetAtt"], list)
                else str(props["Queue"]["Fn::GetAtt"]).split(".")[0]
            )
            found.append(
                SqsEventSource(
                    logical_id,
                    queue,
                    int(props.get("BatchSize", 10)),
                    "ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
                )
            )
    return found


class SqsPoller:
    """One thread per event source. It long-polls its queue: moto answers a long poll the moment a
    message arrives (and an idle queue costs one call a second), so a completion is handed over at
    once, where a poll every quarter second added up to that much to each video execution.
    ("With Amazon SQS event source mappings, Lambda polls the queue and invokes your function
    synchronously": https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html)"""

    def __init__(
        self,
        source: SqsEventSource,
        function: LocalFunction,
        queue_url: str,
        queue_arn: str,
        redelivery_seconds: float = 0.5,
        wait_seconds: int = 1,
    ) -> None:
        self.source = source
        self.function = function
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.redelivery_seconds = redelivery_seconds
        self.wait_seconds = wait_seconds
        self.batches = 0
        self.failed_records = 0
        self._stop = threading.Event()
        self._delivering = threading.Lock()
        # Made here, in the runtime's environment: made first on the thread, it could miss the runtime's
        # credentials when the runtime had already ended (and the cache would keep that client).
        self._sqs = _sqs_client()
        self._thread = threading.Thread(target=self._loop, name=f"sqs-{source.queue_logical_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """No batch is handed over after this returns; one being handed over is finished first. The
        thread ends when its long poll returns (within wait_seconds); nothing needs to wait for that."""
        self._stop.set()
        with self._delivering:
            pass

    @property
    def delivering(self) -> bool:
        """True while a batch is being handed to the function."""
        return self._delivering.locked()

    def reset_counts(self) -> None:
        self.batches = self.failed_records = 0

    def _loop(self) -> None:
        sqs = self._sqs
        while not self._stop.is_set():
            try:
                messages = sqs.receive_message(
                    QueueUrl=self.queue_url,
                    MaxNumberOfMessages=self.source.batch_size,
                    WaitTimeSeconds=self.wait_seconds,
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                ).get("Messages", [])
            except Exception:
                if self._stop.is_set():
                    return  # stopped while polling: the local stack (moto's mock) may be gone already
                raise
            if not messages:
                continue
            with self._delivering:
                if self._stop.is_set():
                    return
                failed = self._deliver(sqs, messages)
            if failed:
                self._stop.wait(self.redelivery_seconds)

    def _deliver(self, sqs: Any, messages: list[dict[str, Any]]) -> bool:
        """Hand one batch to the function; True when a record failed (it goes back to the queue)."""
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
                sqs.change_message_visibility(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
            else:
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return bool(failed)

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


@functools.cache
def _sqs_client() -> Any:
    """One SQS client for every poller, made on a session of its own (boto3's default session is not safe
    to share across threads; a client is): making one parses SQS's model and the endpoint rules."""
    return boto3.session.Session().client("sqs", region_name=REGION)
