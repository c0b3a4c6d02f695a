"""Firehose delivery streams offline: what each stream was sent, kept in order.

Firehose's Iceberg destination (template.yaml, SearchIndexStream) writes through the Glue Data Catalog into
Parquet files, which nothing here can run; so the local runtime answers PutRecordBatch and PutRecord itself, as
Firehose answers them (a RecordId per record, FailedPutCount 0, ResourceNotFoundException for a stream the
template does not have: https://docs.aws.amazon.com/firehose/latest/APIReference/API_PutRecordBatch.html), and
keeps the records. Tests apply them to the index's stand-in (tests/search_duckdb.py) to see what the deployed
index would hold.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.session import Session

from rekflow.local.template import Template

_PARAMS = "rekflow_firehose_params"


def _remember_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    context[_PARAMS] = params


class LocalFirehose:
    def __init__(self, template: Template) -> None:
        self.streams = {
            template.ref(logical_id)
            for logical_id in template.resources_of_type("AWS::KinesisFirehose::DeliveryStream")
        }
        self._records: dict[str, list[bytes]] = {name: [] for name in self.streams}
        self._lock = threading.Lock()

    def install(self, session: Session) -> None:
        # Its own parameter hook: installed before the functions load (their clients copy the hooks there are),
        # it cannot count on the Router's, installed after.
        session.register("before-parameter-build.firehose", _remember_params)
        session.register("before-call.firehose.PutRecordBatch", self._put_record_batch)
        session.register("before-call.firehose.PutRecord", self._put_record)

    def uninstall(self, session: Session) -> None:
        session.unregister("before-parameter-build.firehose", _remember_params)
        session.unregister("before-call.firehose.PutRecordBatch", self._put_record_batch)
        session.unregister("before-call.firehose.PutRecord", self._put_record)

    def records(self, stream: str) -> list[bytes]:
        with self._lock:
            return list(self._records[stream])

    def rows(self, stream: str) -> list[dict[str, Any]]:
        """The records of a stream of JSON lines, decoded, in the order they were put."""
        return [json.loads(line) for record in self.records(stream) for line in record.decode().splitlines() if line]

    def clear(self) -> None:
        with self._lock:
            for records in self._records.values():
                records.clear()

    def _put_record_batch(self, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        params = context[_PARAMS]
        return self._put(params["DeliveryStreamName"], [record["Data"] for record in params["Records"]], batch=True)

    def _put_record(self, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        params = context[_PARAMS]
        return self._put(params["DeliveryStreamName"], [params["Record"]["Data"]], batch=False)

    def _put(self, stream: str, data: list[bytes], batch: bool) -> tuple[AWSResponse, dict[str, Any]]:
        if stream not in self.streams:
            message = f"Firehose {stream} under account 123456789012 not found."
            return _answer(400, {"Error": {"Code": "ResourceNotFoundException", "Message": message}})
        with self._lock:
            self._records[stream].extend(data)
        ids = [uuid.uuid4().hex for _ in data]
        if batch:
            return _answer(
                200, {"FailedPutCount": 0, "Encrypted": False, "RequestResponses": [{"RecordId": i} for i in ids]}
            )
        return _answer(200, {"RecordId": ids[0], "Encrypted": False})


def _answer(status: int, parsed: dict[str, Any]) -> tuple[AWSResponse, dict[str, Any]]:
    parsed["ResponseMetadata"] = {"RequestId": str(uuid.uuid4()), "HTTPStatusCode": status, "HTTPHeaders": {}}
    return AWSResponse("https://local.rekflow", status, {}, None), parsed
