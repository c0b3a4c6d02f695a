"""The backfill: run template.yaml's BackfillStateMachine over a prefix of the media bucket and read what it did.

The state machine (statemachines/backfill.asl.json) lists the prefix with a Distributed Map and gives each
object its own MediaAnalysis execution, unless that object version is already analysed. Its Map Run writes
the children's results to the results bucket (ResultWriter): a manifest and files of results by status.
Reading those files is how both the local runtime and a deployed stack report the backfill:

    report = run_local(runtime, prefix="photos/")      # the local runtime (moto)
    report = follow(sfn, s3, execution_arn)            # any Step Functions: local or AWS
    report.counts()  # {"analysed": 998, "already analysed": 0, "rejected": 2, "skipped": 0, "failed": 0, ...}
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

BACKFILL_STATE_MACHINE = "BackfillStateMachine"  # its logical id in template.yaml
# How an object's backfill ended, in the order reports list them.
OUTCOMES = ("analysed", "already analysed", "rejected", "skipped", "failed", "not an upload")


@dataclass(frozen=True)
class ObjectResult:
    """One object of the backfill: what became of it, and the MediaAnalysis execution that analysed it."""

    key: str
    outcome: str  # one of OUTCOMES
    status: str | None = None  # MediaAnalysis's: SUCCEEDED, PARTIAL, REJECTED, SKIPPED (None when not analysed)
    reason: str | None = None
    execution: str | None = None  # the MediaAnalysis execution: to look at, or to redrive when it failed
    results_key: str | None = None  # of the results document in the results bucket
    error: str | None = None
    cause: str | None = None


@dataclass
class BackfillReport:
    execution_arn: str
    status: str  # the backfill execution's: SUCCEEDED, FAILED, ...
    error: str | None = None
    cause: str | None = None
    manifest: str | None = None  # s3://bucket/key of the Map Run's manifest.json
    objects: list[ObjectResult] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        found = Counter(result.outcome for result in self.objects)
        return {outcome: found[outcome] for outcome in OUTCOMES}

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED" and not any(r.outcome == "failed" for r in self.objects)


@dataclass(frozen=True)
class Progress:
    """A Map Run's item counts as DescribeMapRun gives them (itemCounts)."""

    total: int
    succeeded: int
    failed: int
    running: int


def start(sfn: Any, state_machine_arn: str, prefix: str) -> str:
    """Start a backfill of `prefix`; Step Functions names the execution."""
    return str(
        sfn.start_execution(stateMachineArn=state_machine_arn, input=json.dumps({"prefix": prefix}))["executionArn"]
    )


def follow(
    sfn: Any,
    s3: Any,
    execution_arn: str,
    on_progress: Callable[[Progress], None] | None = None,
    poll_seconds: float = 5.0,
    sleep: Callable[[float], None] | None = None,
) -> BackfillReport:
    """Wait for the backfill to end, telling `on_progress` the Map Run's counts as they change, then read its
    results. DescribeExecution and DescribeMapRun are the only calls until it ends."""
    last: Progress | None = None
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        progress = map_run_progress(sfn, execution_arn)
        if on_progress is not None and progress is not None and progress != last:
            on_progress(progress)
            last = progress
        if described["status"] != "RUNNING":
            return read_report(s3, described)
        (sleep or time.sleep)(poll_seconds)


def map_run_progress(sfn: Any, execution_arn: str) -> Progress | None:
    """The item counts of the execution's Map Run, or None before it has one."""
    map_runs = sfn.list_map_runs(executionArn=execution_arn).get("mapRuns", [])
    if not map_runs:
        return None
    counts = sfn.describe_map_run(mapRunArn=map_runs[0]["mapRunArn"])["itemCounts"]
    return Progress(
        total=counts["total"], succeeded=counts["succeeded"], failed=counts["failed"], running=counts["running"]
    )


def read_report(s3: Any, described: dict[str, Any]) -> BackfillReport:
    """The report of a finished backfill from its DescribeExecution and the Map Run's result files."""
    report = BackfillReport(
        described["executionArn"], described["status"], described.get("error"), described.get("cause")
    )
    output = json.loads(described["output"]) if described.get("output") else {}
    location = output.get("mapRun", {}).get("ResultWriterDetails")
    if location is None:  # the Map Run failed or never started: no results were written
        return report
    report.manifest = f"s3://{location['Bucket']}/{location['Key']}"
    manifest = _read_json(s3, location["Bucket"], location["Key"])
    for status, files in manifest["ResultFiles"].items():
        for listed in files:
            for child in _read_json(s3, manifest["DestinationBucket"], listed["Key"]):
                report.objects.append(object_result(child, status))
    report.objects.sort(key=lambda result: result.key)
    return report


def object_result(child: dict[str, Any], status: str) -> ObjectResult:
    """One child workflow of the Map Run, as ResultWriter records it, read as the backfill of one object."""
    key = json.loads(child["Input"])["key"]
    if status != "SUCCEEDED":
        return ObjectResult(
            key,
            "failed",
            execution=_failed_analysis(child.get("Cause")),
            error=child.get("Error"),
            cause=child.get("Cause"),
        )
    output = json.loads(child["Output"])
    if output["outcome"] == "ALREADY_ANALYSED":
        return ObjectResult(key, "already analysed")
    if output["outcome"] == "CONVERTED_COPY":  # one of rekflow's analysable copies, not a file of the user's
        return ObjectResult(key, "not an upload")
    result = output["result"]
    if result.get("duplicate"):  # another run recorded this version first: MediaAnalysis stopped at Already recorded
        outcome = "already analysed"
    else:
        outcome = {"REJECTED": "rejected", "SKIPPED": "skipped"}.get(result["status"], "analysed")
    return ObjectResult(
        key, outcome, result["status"], result.get("reason"), output["execution"], result.get("resultsKey")
    )


def _failed_analysis(cause: str | None) -> str | None:
    """The MediaAnalysis execution a failed child waited for: .sync:2 fails the task with States.TaskFailed and
    the child's DescribeExecution as the cause."""
    try:
        return str(json.loads(cause or "")["ExecutionArn"])
    except (ValueError, KeyError, TypeError):
        return None


def _read_json(s3: Any, bucket: str, key: str) -> Any:
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def run_local(
    runtime: Any, prefix: str = "", on_progress: Callable[[Progress], None] | None = None, timeout: float = 3600.0
) -> BackfillReport:
    """Backfill `prefix` of a LocalRuntime's media bucket (the objects must be there already) and wait for it."""
    from rekflow.local.runtime import client

    sfn = client("stepfunctions")
    execution_arn = start(sfn, runtime.stack.state_machine_arns[BACKFILL_STATE_MACHINE], prefix)
    deadline = time.monotonic() + timeout

    def sleep(seconds: float) -> None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"backfill {execution_arn} still running after {timeout} s")
        time.sleep(seconds)

    return follow(sfn, client("s3"), execution_arn, on_progress, poll_seconds=0.2, sleep=sleep)
