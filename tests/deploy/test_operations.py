"""What an operator relies on after the deploy: alarms that reach someone, a dashboard, data that outlives the stack."""

from __future__ import annotations

import json
import re
from typing import Any

from rekflow import TEMPLATE_PATH
from rekflow.local.template import Template

STATEFUL = ("AWS::S3::Bucket", "AWS::DynamoDB::Table")


def template() -> Template:
    return Template.load(TEMPLATE_PATH)


def alarms(t: Template) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in t.resources_of_type("AWS::CloudWatch::Alarm").items()}


def test_buckets_and_tables_outlive_the_stack():
    t = template()
    stateful = {k: v for k, v in t.resources.items() if v["Type"] in STATEFUL}
    assert len(stateful) >= 5
    for logical_id, resource in stateful.items():
        assert resource.get("DeletionPolicy") == "Retain", logical_id
        assert resource.get("UpdateReplacePolicy") == "Retain", logical_id


def test_every_alarm_notifies_the_alarm_topic():
    found = alarms(template())
    assert found
    for logical_id, props in found.items():
        assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}], logical_id
        assert props["OKActions"] == [{"Ref": "AlarmTopic"}], logical_id


def _watched(props: dict[str, Any]) -> tuple[str, str, str | None]:
    dimensions = props.get("Dimensions", [])
    return props["Namespace"], props["MetricName"], json.dumps(dimensions[0]["Value"]) if dimensions else None


def test_failures_timeouts_dead_letters_and_throttles_are_alarmed():
    watched = {_watched(props) for props in alarms(template()).values()}
    machine = json.dumps({"Ref": "MediaAnalysisStateMachine"})
    assert ("AWS/States", "ExecutionsFailed", machine) in watched
    assert ("AWS/States", "ExecutionsTimedOut", machine) in watched
    for queue in ("VideoCompletionDeadLetterQueue", "EventDeliveryDeadLetterQueue"):
        name = json.dumps({"Fn::GetAtt": [queue, "QueueName"]})
        assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible", name) in watched, queue
    # Rekognition's only dimension is Operation; without it the metric covers all of the account's calls.
    assert ("AWS/Rekognition", "ThrottledCount", None) in watched


def test_alarm_topic_key_admits_cloudwatch_alarms():
    # CloudWatch cannot publish to a topic under the AWS managed alias/aws/sns key: the alarm topic needs its own.
    t = template()
    topic = t.resources["AlarmTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Ref": "AlarmTopicKey"}
    key = t.resources["AlarmTopicKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    grants = [s for s in key["KeyPolicy"]["Statement"] if s["Principal"].get("Service") == "cloudwatch.amazonaws.com"]
    assert [set(s["Action"]) for s in grants] == [{"kms:Decrypt", "kms:GenerateDataKey*"}]
    assert "aws:SourceArn" in grants[0]["Condition"]["ArnLike"]


def test_dashboard_body_is_json_naming_only_template_resources():
    t = template()
    body = t.resources["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    names = set(re.findall(r"\$\{([^}]+)\}", body))
    for name in names - {"AWS::Region"}:
        assert name.split(".")[0] in t.resources, name
    widgets = json.loads(
        t.resolve(
            {
                "Fn::Sub": body.replace("${VideoCompletionDeadLetterQueue.QueueName}", "q1").replace(
                    "${EventDeliveryDeadLetterQueue.QueueName}", "q2"
                )
            }
        )
    )["widgets"]
    titles = {w["properties"]["title"] for w in widgets}
    assert titles == {
        "MediaAnalysis executions",
        "Dead-letter queue depth",
        "Rekognition calls and throttles (account)",
        "Lambda errors",
    }


def test_only_rekflow_s_rules_may_dead_letter_to_their_queue(transformed):
    # GIVEN the queue policy as written, and the rules as SAM generates them
    (statement,) = template().resources["EventDeliveryDeadLetterQueuePolicy"]["Properties"]["PolicyDocument"][
        "Statement"
    ]
    sources = statement["Condition"]["ArnEquals"]["aws:SourceArn"]
    # THEN each source it admits is a rule whose targets dead-letter to this queue, and every rule is admitted
    admitted = set()
    for source in sources:
        if "Fn::If" in source:  # a rule that exists under a condition (ImageWorkflow=EXPRESS) is admitted under it
            _, source, _ = source["Fn::If"]
        rule_id, attribute = source["Fn::GetAtt"]
        rule = transformed["Resources"][rule_id]
        assert (rule["Type"], attribute) == ("AWS::Events::Rule", "Arn")
        for target in rule["Properties"]["Targets"]:
            assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["EventDeliveryDeadLetterQueue", "Arn"]}
        admitted.add(rule_id)
    rules = {name for name, r in transformed["Resources"].items() if r["Type"] == "AWS::Events::Rule"}
    assert admitted == rules
    assert {"Ref": "MediaAnalysisStateMachine"} in [
        t["Arn"] for r in rules for t in transformed["Resources"][r]["Properties"]["Targets"]
    ]
