"""Reading an execution's history: the state of each event, the state that failed, readable lines.

The histories are built event by event in GetExecutionHistory's shape (checked against botocore's
model of the response), in the orders Step Functions and the local runtime write them: a Parallel's
branches interleave, and a ParallelStateFailed may follow another branch's last event.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

from rekflow.commands.executions.history import failing_state, in_words, json_events, readable, visits

MODEL = botocore.session.get_session().get_service_model("stepfunctions")
DETAIL_MEMBERS = set(MODEL.shape_for("HistoryEvent").members)
START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


class History:
    """A history, one event at a time; each method returns the new event's id."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.started = self.add("ExecutionStarted", 0, input="{}", roleArn="arn:aws:iam::123456789012:role/r")

    def add(self, kind: str, previous: int, **detail: Any) -> int:
        number = len(self.events) + 1
        event: dict[str, Any] = {
            "timestamp": START + timedelta(milliseconds=10 * number),
            "type": kind,
            "id": number,
            "previousEventId": previous,
        }
        member = (
            "stateEnteredEventDetails"
            if kind.endswith("StateEntered")
            else "stateExitedEventDetails"
            if kind.endswith("StateExited")
            else f"{kind[0].lower()}{kind[1:]}EventDetails"
        )
        if member in DETAIL_MEMBERS:
            event[member] = detail
        self.events.append(event)
        return number

    def entered(self, kind: str, name: str, previous: int) -> int:
        return self.add(f"{kind}StateEntered", previous, name=name, input="{}")

    def exited(self, kind: str, name: str, previous: int) -> int:
        return self.add(f"{kind}StateExited", previous, name=name, output="{}")

    def attempt(self, previous: int, error: str | None = None) -> int:
        """TaskScheduled, TaskStarted, then TaskSucceeded or TaskFailed with `error`."""
        resource = {"resourceType": "aws-sdk:rekognition", "resource": "detectText"}
        scheduled = self.add("TaskScheduled", previous, region="us-east-1", parameters="{}", **resource)
        started = self.add("TaskStarted", scheduled, **resource)
        if error:
            return self.add("TaskFailed", started, error=error, cause=f"{error}: details", **resource)
        return self.add("TaskSucceeded", started, output="{}", **resource)

    def task(self, name: str, previous: int, *errors: str | None) -> int:
        """A Task state visit: entered, one attempt per error (None succeeds), exited after a success."""
        last = self.entered("Task", name, previous)
        for error in errors:
            last = self.attempt(last, error)
        return self.exited("Task", name, last) if errors and errors[-1] is None else last

    def ends(self, kind: str, previous: int, **detail: Any) -> int:
        return self.add(kind, previous, **detail)


def checked(history: History) -> list[dict[str, Any]]:
    """The events, once botocore's model of GetExecutionHistory's response accepts them."""
    report = ParamValidator().validate(
        {"events": history.events}, MODEL.operation_model("GetExecutionHistory").output_shape
    )
    assert not report.has_errors(), report.generate_report()
    return history.events


def parallel_with_a_failing_branch() -> tuple[History, dict[str, int]]:
    """Validate, then Analyze image: labels succeed, text throttles once then is denied, faces
    succeed last; ParallelStateFailed follows the faces branch's exit (as the local runtime writes it)."""
    h = History()
    validate = h.task("Validate object", h.started, None)
    parallel = h.entered("Parallel", "Analyze image", validate)
    branches = h.add("ParallelStateStarted", parallel)
    labels = h.task("Detect labels", branches, None)
    text = h.task("Detect text", branches, "Rekognition.ThrottlingException", "Rekognition.AccessDeniedException")
    faces = h.task("Detect faces", branches, None)
    failed = h.add("ParallelStateFailed", faces)
    end = h.ends("ExecutionFailed", failed, error="Rekognition.AccessDeniedException", cause="denied")
    return h, {"labels": labels, "text": text, "faces": faces, "parallel_failed": failed, "end": end}


def test_the_failing_state_is_the_branch_state_whose_error_failed_the_execution():
    h, _ = parallel_with_a_failing_branch()
    assert failing_state(checked(h)) == "Detect text"


def test_each_event_belongs_to_its_state_and_a_parallels_own_events_to_the_parallel():
    h, ids = parallel_with_a_failing_branch()
    belongs = visits(checked(h))
    assert belongs[ids["text"]].name == "Detect text"
    assert belongs[ids["text"]].parent is not None and belongs[ids["text"]].parent.name == "Analyze image"
    assert belongs[ids["faces"]].name == "Detect faces"  # exited: the exit closes its own visit
    assert belongs[ids["parallel_failed"]].name == "Analyze image"  # though it follows the faces branch
    assert ids["end"] not in belongs and h.started not in belongs


def test_readable_lines_count_attempts_and_carry_the_error():
    h, _ = parallel_with_a_failing_branch()
    lines = readable(checked(h))
    assert len(lines) == len(h.events)
    text = [line for line in lines if line.state == "Detect text"]
    assert [(line.what, line.attempt, line.error) for line in text] == [
        ("task state entered", None, ""),
        ("task scheduled", 1, ""),
        ("task started", 1, ""),
        ("task failed", 1, "Rekognition.ThrottlingException"),
        ("task scheduled", 2, ""),
        ("task started", 2, ""),
        ("task failed", 2, "Rekognition.AccessDeniedException"),
    ]
    assert lines[0].seconds == 0.0 and lines[-1].seconds == pytest.approx(0.01 * (len(h.events) - 1))
    assert (lines[-1].state, lines[-1].what, lines[-1].attempt) == ("", "execution failed", None)


def test_a_caught_error_is_not_the_failure_before_or_after_the_one_that_failed_the_execution():
    # GIVEN labels fail with an error the branch catches, and later the summary write fails for good
    h = History()
    parallel = h.entered("Parallel", "Analyze image", h.started)
    branches = h.add("ParallelStateStarted", parallel)
    caught = h.task("Detect labels", branches, "Rekognition.InvalidImageFormatException")
    labels_failed = h.exited("Pass", "Labels failed", h.entered("Pass", "Labels failed", caught))
    succeeded = h.add("ParallelStateSucceeded", labels_failed)
    build = h.task("Build results", h.exited("Parallel", "Analyze image", succeeded), None)
    record = h.task("Record summary", build, "DynamoDB.ProvisionedThroughputExceededException")
    h.ends("ExecutionFailed", record, error="DynamoDB.ProvisionedThroughputExceededException", cause="x")
    assert failing_state(checked(h)) == "Record summary"

    # GIVEN text is denied, and a moment later another branch's labels fail with an error it catches
    h = History()
    branches = h.add("ParallelStateStarted", h.entered("Parallel", "Analyze image", h.started))
    denied = h.task("Detect text", branches, "Rekognition.AccessDeniedException")
    caught = h.task("Detect labels", branches, "Rekognition.InvalidImageFormatException")
    h.ends(
        "ExecutionFailed", h.add("ParallelStateFailed", caught), error="Rekognition.AccessDeniedException", cause="x"
    )
    assert denied < caught
    assert failing_state(checked(h)) == "Detect text"


def test_a_fail_state_and_a_runtime_error_fail_where_they_were_entered():
    fail = History()
    fail.ends(
        "ExecutionFailed",
        fail.entered("Fail", "Give up", fail.task("Validate object", fail.started, None)),
        error="MediaRejected",
        cause="no",
    )
    assert failing_state(checked(fail)) == "Give up"

    runtime = History()
    apply = runtime.entered("Pass", "Apply settings", runtime.task("Validate object", runtime.started, None))
    runtime.ends("ExecutionFailed", apply, error="States.Runtime", cause="JsonPath $.settings not found")
    assert failing_state(checked(runtime)) == "Apply settings"


def test_a_timeout_or_an_abort_names_the_state_still_running_inside_the_parallel():
    h = History()
    parallel = h.entered("Parallel", "Analyze video", h.task("Validate object", h.started, None))
    branches = h.add("ParallelStateStarted", parallel)
    h.task("Start label detection", branches, None)
    waiting = h.entered("Task", "Wait for label detection", branches)
    h.ends("ExecutionTimedOut", waiting, error="States.Timeout")
    assert failing_state(checked(h)) == "Wait for label detection"

    h.events[-1] = {**h.events[-1], "type": "ExecutionAborted", "executionAbortedEventDetails": {}}
    del h.events[-1]["executionTimedOutEventDetails"]
    assert failing_state(checked(h)) == "Wait for label detection"


def test_no_failing_state_for_a_success_or_a_running_execution():
    h = History()
    validate = h.task("Validate object", h.started, None)
    assert failing_state(checked(h)) is None  # still running
    h.ends("ExecutionSucceeded", validate, output="{}")
    assert failing_state(checked(h)) is None


def test_after_a_redrive_only_the_latest_attempt_counts():
    # GIVEN an execution failed at Record summary, was redriven, and then failed at Announce results
    h = History()
    build = h.task("Build results", h.started, None)
    record = h.task("Record summary", build, "DynamoDB.ThrottlingException")
    failed = h.ends("ExecutionFailed", record, error="DynamoDB.ThrottlingException", cause="x")
    redriven = h.add("ExecutionRedriven", failed, redriveCount=1)
    again = h.task("Record summary", redriven, None)
    announce = h.task("Announce results", again, "DynamoDB.ThrottlingException")
    h.ends("ExecutionFailed", announce, error="DynamoDB.ThrottlingException", cause="y")
    # THEN the failure is the second attempt's, though the first failed with the same error name
    assert failing_state(checked(h)) == "Announce results"


def test_a_redriven_execution_that_times_out_names_the_state_running_now_not_the_first_failure():
    # GIVEN the wait timed out (States.Timeout) and failed the execution; redriven, the wait succeeded
    h = History()
    wait = h.entered("Task", "Wait for label detection", h.started)
    timed_out = h.add(
        "TaskTimedOut",
        h.attempt(wait) - 1,
        resourceType="aws-sdk:dynamodb",
        resource="updateItem.waitForTaskToken",
        error="States.Timeout",
    )
    failed = h.ends("ExecutionFailed", timed_out, error="States.Timeout")
    again = h.task("Wait for label detection", h.add("ExecutionRedriven", failed, redriveCount=1), None)
    poll = h.entered("Task", "Poll label detection once", again)
    # WHEN the execution then runs past its own timeout while polling
    h.ends("ExecutionTimedOut", poll, error="States.Timeout")
    assert failing_state(checked(h)) == "Poll label detection once"


def test_event_types_in_words():
    assert in_words("TaskStateEntered") == "task state entered"
    assert in_words("LambdaFunctionTimedOut") == "lambda function timed out"
    assert in_words("ExecutionFailed") == "execution failed"


def test_json_events_hold_iso_timestamps_botocore_reads_back():
    h, _ = parallel_with_a_failing_branch()
    events = json_events(checked(h))
    assert events[0]["timestamp"] == "2025-03-01T12:00:00.010000+00:00"
    report = ParamValidator().validate({"events": events}, MODEL.operation_model("GetExecutionHistory").output_shape)
    assert not report.has_errors(), report.generate_report()
    assert failing_state(events) == "Detect text"  # the pure functions read either form
