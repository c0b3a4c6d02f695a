"""`rekflow search --stack NAME`: the query run by Athena over a deployed stack's search index, with the caller's
AWS credentials (AWS_PROFILE, AWS_REGION...).

The stack is found through CloudFormation (its SearchWorkGroup and SearchDatabase resources); the tree is
compiled once (rekflow.search.sql) and run in the workgroup, which cancels a query that would scan more than the
stack's SearchBytesScannedCutoff. Athena runs a query asynchronously: StartQueryExecution, then
GetQueryExecution until its state is SUCCEEDED, FAILED or CANCELLED, then GetQueryResults, whose first row holds
the column names (https://docs.aws.amazon.com/athena/latest/APIReference/API_GetQueryResults.html). The
evidence of each hit (the label, the line, a video's moments) is read from its results document, exactly as
offline: the index decides which assets match, the reference evaluator says why.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from rekflow.search.documents import read_s3_json
from rekflow.search.engine import Page
from rekflow.search.facts import asset_of
from rekflow.search.query import Node
from rekflow.search.reference import Hit, matches
from rekflow.search.sql import RESULT_COLUMNS, Tables, compile_search

WORKGROUP_ID = "SearchWorkGroup"
DATABASE_ID = "SearchDatabase"
DONE = ("SUCCEEDED", "FAILED", "CANCELLED")


class SearchFailed(Exception):
    """Athena did not answer the query: its state and Athena's reason, in one line."""


@dataclass
class AthenaEngine:
    """An engine (rekflow.search.engine.Engine) over a deployed stack's index."""

    workgroup: str
    database: str
    athena: Any  # an Athena client
    s3: Any  # an S3 client, for the results documents
    sleep: Callable[[float], None] = time.sleep
    poll_seconds: float = 0.5
    timeout_seconds: float = 300.0
    scanned_bytes: int = field(default=0, init=False)  # what the last search scanned (Athena bills this)
    locations: dict[str, str] = field(default_factory=dict, init=False)  # each hit's results document, by key

    @classmethod
    def for_stack(cls, stack_name: str, session: boto3.session.Session | None = None) -> AthenaEngine:
        session = session or boto3.session.Session()
        cloudformation = session.client("cloudformation")

        def physical_id(logical_id: str) -> str:
            found = cloudformation.describe_stack_resource(StackName=stack_name, LogicalResourceId=logical_id)
            return str(found["StackResourceDetail"]["PhysicalResourceId"])

        # Ref of an Athena workgroup and of a Glue database is its name, which is the physical id.
        try:
            workgroup, database = physical_id(WORKGROUP_ID), physical_id(DATABASE_ID)
        except (BotoCoreError, ClientError) as error:
            raise SearchFailed(str(error)) from error
        return cls(workgroup, database, session.client("athena"), session.client("s3"))

    def sql(self, tree: Node, limit: int, sort: str) -> str:
        # One row more than the page: whether there are more.
        return compile_search(tree, Tables.athena(self.database), limit + 1, sort)

    def search(self, tree: Node, limit: int, sort: str) -> Page:
        try:
            rows = self.rows(self.sql(tree, limit, sort))
            hits = [hit for row in rows[:limit] if (hit := self._hit(tree, row)) is not None]
        except (BotoCoreError, ClientError) as error:  # no credentials, no such stack, access denied...
            raise SearchFailed(str(error)) from error
        return Page(hits, len(rows) > limit)

    def rows(self, sql: str) -> list[dict[str, str | None]]:
        """Run `sql` in the workgroup; its rows, by column name."""
        started = self.athena.start_query_execution(
            QueryString=sql, WorkGroup=self.workgroup, QueryExecutionContext={"Database": self.database}
        )
        query_id = started["QueryExecutionId"]
        execution = self._wait(query_id)
        self.scanned_bytes = int(execution.get("Statistics", {}).get("DataScannedInBytes", 0))
        rows: list[dict[str, str | None]] = []
        token: str | None = None
        header: list[str] | None = None
        while True:
            page = (
                self.athena.get_query_results(QueryExecutionId=query_id, NextToken=token)
                if token
                else self.athena.get_query_results(QueryExecutionId=query_id)
            )
            for raw in page["ResultSet"]["Rows"]:
                values = [cell.get("VarCharValue") for cell in raw["Data"]]
                if header is None:
                    header = [str(v) for v in values]
                    continue
                rows.append(dict(zip(header, values, strict=True)))
            token = page.get("NextToken")
            if not token:
                return rows

    def _wait(self, query_id: str) -> dict[str, Any]:
        waited = 0.0
        while True:
            execution: dict[str, Any] = self.athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
            status = execution["Status"]
            if status["State"] == "SUCCEEDED":
                return execution
            if status["State"] in DONE:
                reason = status.get("StateChangeReason") or status.get("AthenaError", {}).get("ErrorMessage", "")
                raise SearchFailed(f"Athena query {query_id} {status['State']}: {reason}")
            if waited >= self.timeout_seconds:
                self.athena.stop_query_execution(QueryExecutionId=query_id)
                raise SearchFailed(f"Athena query {query_id} still {status['State']} after {waited:.0f} s: stopped")
            self.sleep(self.poll_seconds)
            waited += self.poll_seconds

    def _hit(self, tree: Node, row: dict[str, str | None]) -> Hit | None:
        """The hit of one row, its evidence from its results document; None where the document is gone (deleted
        since the index was written: the index learns it within a minute)."""
        assert set(RESULT_COLUMNS) <= set(row), row
        try:
            document = self._read(str(row["results_location"]))
        except self.s3.exceptions.NoSuchKey:
            return None
        video = {
            feature: self._read(result["resultsLocation"])["items"]
            for feature, result in (document.get("features") or {}).items()
            if result.get("resultsLocation") and result.get("status") == "SUCCEEDED"
        }
        asset = asset_of(document, video or None)
        self.locations[asset.key] = str(row["results_location"])
        evidence = matches(tree, asset)
        return Hit(asset, tuple(dict.fromkeys(evidence or [])))

    def _read(self, location: str) -> dict[str, Any]:
        return dict(read_s3_json(self.s3, location))
