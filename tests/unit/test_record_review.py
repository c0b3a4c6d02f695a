"""RecordReviewFunction's pure part (lambdas/record_review/decision.py): what a task result must hold to be a
decision, what a timeout's decision becomes, and the document section and event it makes (checked against schemas/)."""

from __future__ import annotations

import importlib.util
from types import ModuleType

import pytest

from rekflow import PROJECT_ROOT
from tests.conftest import schema_validator

EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:review:1"
ASSET = {
    "assetId": "a" * 64,
    "bucket": "media",
    "key": "cat.jpg",
    "versionId": "v1",
    "resultsLocation": "s3://results/results/" + "a" * 64 + ".json",
}


def decision_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("decision", PROJECT_ROOT / "lambdas/record_review/decision.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "sent",
    [
        {"decision": "MAYBE", "reviewer": "r", "decidedAt": "2026-12-02T13:00:00Z"},
        {"decision": "APPROVED", "decidedAt": "2026-12-02T13:00:00Z"},
        {"decision": "APPROVED", "reviewer": "r"},
        {"decision": "APPROVED", "reviewer": "r", "decidedAt": "2026-12-02T13:00:00Z", "note": 3},
    ],
)
def test_a_task_result_that_is_no_decision_is_refused_by_name(sent):
    decision = decision_module()
    with pytest.raises(decision.InvalidDecision):
        decision.checked(sent, "2026-12-02T14:00:00Z", EXECUTION)


def test_a_timeout_decides_in_the_executions_name_at_the_time_it_is_recorded():
    decision = decision_module()
    timed_out = {"decision": "REJECTED", "timedOut": True, "note": "n"}
    checked = decision.checked(timed_out, "2026-12-02T14:00:00Z", EXECUTION)
    assert (checked["reviewer"], checked["decidedAt"]) == (EXECUTION, "2026-12-02T14:00:00Z")
    # a reviewer's decision keeps its own reviewer and time
    sent = {"decision": "APPROVED", "reviewer": "r", "decidedAt": "2026-12-02T13:00:00Z"}
    assert decision.checked(sent, "2026-12-02T14:00:00Z", EXECUTION) == sent


def test_the_section_and_the_event_fit_their_schemas():
    decision = decision_module()
    sent = {"decision": "APPROVED", "reviewer": "r", "decidedAt": "2026-12-02T13:00:00Z", "note": "fine"}
    section = decision.review_section(sent, ["Violence"], EXECUTION, 1)
    event = decision.reviewed_event(ASSET, section)
    schema = schema_validator("results-document.schema.json").schema["properties"]["review"]
    schema_validator("results-document.schema.json").evolve(schema=schema).validate(section)
    schema_validator("media-reviewed-event.schema.json").validate(event)
    assert (event["decision"], event["note"], event["labels"]) == ("APPROVED", "fine", ["Violence"])
