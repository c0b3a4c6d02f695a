"""Create the template's resources on moto: buckets, table, topic, queues and the state machine."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3

from rekflow.local.template import ACCOUNT_ID, Template

_PLACEHOLDER = re.compile(r"\$\{[A-Za-z0-9]+\}")


class StateMachines(Mapping[str, str]):
    """Every state machine of the template, by logical id: its ARN, the machine created on moto the first
    time its ARN is asked for, with the machines its definition refers to (DefinitionSubstitutions).

    moto parses a definition with its ANTLR parser when the machine is created: `rekflow analyze` needs
    only MediaAnalysis, and waited for the backfill's parse too. Iterating creates every machine."""

    def __init__(self, template: Template, sfn: Any) -> None:
        self._template = template
        self._sfn = sfn
        self._logical_ids = list(template.resources_of_type("AWS::Serverless::StateMachine"))
        self._created: set[str] = set()
        self._lock = threading.RLock()

    def __getitem__(self, logical_id: str) -> str:
        if logical_id not in self._logical_ids:
            raise KeyError(logical_id)
        with self._lock:
            if logical_id not in self._created:
                self._created.add(logical_id)  # first: a machine that refers back to this one stops here
                try:
                    for other in self._referred_to(logical_id):
                        self[other]
                    self._create(logical_id)
                except BaseException:
                    self._created.discard(logical_id)
                    raise
        return self._template.ref(logical_id)

    def __iter__(self) -> Iterator[str]:
        return iter(self._logical_ids)

    def __len__(self) -> int:
        return len(self._logical_ids)

    @property
    def created(self) -> set[str]:
        """The logical ids of the machines created so far."""
        with self._lock:
            return set(self._created)

    def _referred_to(self, logical_id: str) -> list[str]:
        substitutions = self._template.resources[logical_id]["Properties"].get("DefinitionSubstitutions", {})
        return [other for other in self._logical_ids if other != logical_id and _refers_to(substitutions, other)]

    def _create(self, logical_id: str) -> None:
        resource = self._template.resources[logical_id]
        self._sfn.create_state_machine(
            name=self._template.state_machine_name(logical_id),
            definition=render_definition(self._template, logical_id),
            roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/{self._template.physical_name(logical_id)}-role",
            type=str(resource["Properties"].get("Type", "STANDARD")),
        )


def _refers_to(value: Any, logical_id: str) -> bool:
    """Whether a template value holds a Ref, Fn::GetAtt or Fn::Sub variable naming `logical_id`."""
    if isinstance(value, dict):
        if value.get("Ref") == logical_id:
            return True
        attribute = value.get("Fn::GetAtt")
        if (
            attribute is not None
            and (attribute if isinstance(attribute, str) else attribute[0]).split(".")[0] == logical_id
        ):
            return True
        return any(_refers_to(item, logical_id) for item in value.values())
    if isinstance(value, list):
        return any(_refers_to(item, logical_id) for item in value)
    return isinstance(value, str) and ("${" + logical_id + "}" in value or "${" + logical_id + "." in value)


@dataclass(frozen=True)
class LocalStack:
    """Names of the deployed local resources, by role."""

    media_bucket: str
    results_bucket: str
    results_table: str
    review_topic_arn: str
    state_machine_arn: str
    definition: dict[str, Any]
    object_created_pattern: dict[str, Any]
    review_tap_url: str
    events_tap_url: str
    queue_urls: dict[str, str]  # by logical id
    # Every state machine, by logical id; only those a run needs are created (StateMachines).
    state_machine_arns: Mapping[str, str] = field(default_factory=dict)


def render_definition(template: Template, logical_id: str) -> str:
    """The state machine's ASL with DefinitionSubstitutions applied, as CloudFormation applies them."""
    props = template.resources[logical_id]["Properties"]
    text = (template.path.parent / str(props["DefinitionUri"])).read_text(encoding="utf-8")
    for name, value in template.resolve(props.get("DefinitionSubstitutions", {})).items():
        text = text.replace("${" + name + "}", str(value))
    missing = sorted(set(_PLACEHOLDER.findall(text)))
    if missing:
        raise KeyError(f"{props['DefinitionUri']} uses {missing} but DefinitionSubstitutions does not define them")
    return text


def entry_state_machine(template: Template) -> tuple[str, dict[str, Any]]:
    """The machine S3's Object Created events start (logical id, resource): MediaAnalysis, or ImageAnalysis with
    ImageWorkflow=EXPRESS (the template disables the other's rule)."""
    return next(
        (logical_id, resource)
        for logical_id, resource in template.resources_of_type("AWS::Serverless::StateMachine").items()
        if any(
            event["Type"] == "EventBridgeRule"
            and template.resolve(event["Properties"].get("State", "ENABLED")) == "ENABLED"
            for event in resource["Properties"].get("Events", {}).values()
        )
    )


def functions_called(template: Template, machine_id: str) -> list[str]:
    """The logical ids of the functions a state machine's DefinitionSubstitutions name (those it invokes)."""
    substitutions = template.resources[machine_id]["Properties"].get("DefinitionSubstitutions", {})
    return [
        logical_id
        for logical_id in template.resources_of_type("AWS::Serverless::Function")
        if _refers_to(substitutions, logical_id)
    ]


def deploy(template: Template, client: Callable[[str], Any] = boto3.client) -> LocalStack:
    """`client(service)` makes the clients: the local runtime passes its own, kept for the stack's lifetime
    (making a client is a fair share of a deploy)."""
    services = ("s3", "dynamodb", "sns", "sqs", "events", "stepfunctions")
    s3, dynamodb, sns, sqs, events, sfn = (client(name) for name in services)
    resources = template.resources
    for logical_id in template.resources_of_type("AWS::S3::Bucket"):
        bucket = template.ref(logical_id)
        s3.create_bucket(Bucket=bucket)
        versioning = resources[logical_id]["Properties"].get("VersioningConfiguration")
        if versioning:
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": str(versioning["Status"])})
    for logical_id, resource in template.resources_of_type("AWS::DynamoDB::Table").items():
        props = template.resolve(resource["Properties"])
        dynamodb.create_table(
            TableName=template.ref(logical_id),
            BillingMode=props["BillingMode"],
            AttributeDefinitions=props["AttributeDefinitions"],
            KeySchema=props["KeySchema"],
            **{name: props[name] for name in ("GlobalSecondaryIndexes",) if name in props},
        )
    for logical_id in template.resources_of_type("AWS::SNS::Topic"):
        sns.create_topic(Name=template.physical_name(logical_id))
    queue_urls = _create_queues(template, sqs)
    for resource in template.resources_of_type("AWS::SNS::Subscription").values():
        props = template.resolve(resource["Properties"])
        attributes = {"RawMessageDelivery": "true"} if props.get("RawMessageDelivery") else {}
        sns.subscribe(
            TopicArn=props["TopicArn"], Protocol=props["Protocol"], Endpoint=props["Endpoint"], Attributes=attributes
        )

    _create_rules(template, events)

    state_machine_arns = StateMachines(template, sfn)
    for target_id in _rule_target_machines(template):
        state_machine_arns[target_id]  # created now: EventBridge starts it from an event the workflow puts
    machine_id, machine = entry_state_machine(template)
    definition = render_definition(template, machine_id)
    state_machine_arn = state_machine_arns[machine_id]
    rule = next(e for e in machine["Properties"]["Events"].values() if e["Type"] == "EventBridgeRule")
    pattern = template.resolve(rule["Properties"]["Pattern"])

    topic_arn = template.ref("ModerationReviewTopic")
    return LocalStack(
        media_bucket=template.ref("MediaBucket"),
        results_bucket=template.ref("ResultsBucket"),
        results_table=template.ref("ResultsTable"),
        review_topic_arn=topic_arn,
        state_machine_arn=state_machine_arn,
        definition=json.loads(definition),
        object_created_pattern=pattern,
        review_tap_url=_tap_topic(sns, sqs, topic_arn),
        events_tap_url=_tap_event_source(
            events, sqs, template.resolve(machine["Properties"]["DefinitionSubstitutions"])
        ),
        queue_urls=queue_urls,
        state_machine_arns=state_machine_arns,
    )


def _create_queues(template: Template, sqs: Any) -> dict[str, str]:
    """Every queue, then their settings: a redrive policy names a dead-letter queue that must exist first."""
    resources = template.resources_of_type("AWS::SQS::Queue")
    urls = {
        logical_id: sqs.create_queue(QueueName=template.physical_name(logical_id))["QueueUrl"]
        for logical_id in resources
    }
    for logical_id, resource in resources.items():
        props = template.resolve(resource.get("Properties", {}))
        attributes = {
            name: str(props[name]) for name in ("VisibilityTimeout", "MessageRetentionPeriod") if name in props
        }
        if "RedrivePolicy" in props:
            attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
        if attributes:
            sqs.set_queue_attributes(QueueUrl=urls[logical_id], Attributes=attributes)
    return urls


def _create_rules(template: Template, events: Any) -> None:
    """The template's own EventBridge rules (SAM's event sources are wired by the runtime)."""
    for logical_id, resource in template.resources_of_type("AWS::Events::Rule").items():
        props = template.resolve(resource["Properties"])
        name, bus = template.physical_name(logical_id), str(props.get("EventBusName", "default"))
        events.put_rule(
            Name=name,
            EventBusName=bus,
            EventPattern=json.dumps(props["EventPattern"]),
            State=str(props.get("State", "ENABLED")),
        )
        events.put_targets(
            Rule=name,
            EventBusName=bus,
            Targets=[
                {key: str(target[key]) for key in ("Id", "Arn", "InputPath") if key in target}
                for target in props["Targets"]
            ],
        )


def _rule_target_machines(template: Template) -> list[str]:
    """The state machines the template's own EventBridge rules start (ModerationReviewRule's ReviewStateMachine)."""
    machines = template.resources_of_type("AWS::Serverless::StateMachine")
    return [
        machine_id
        for resource in template.resources_of_type("AWS::Events::Rule").values()
        for target in resource["Properties"]["Targets"]
        for machine_id in machines
        if _refers_to(target["Arn"], machine_id)
    ]


def _tap_queue(sqs: Any, name: str) -> tuple[str, str]:
    """URL and ARN of a new queue that collects what a destination receives, for reading back."""
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


def _tap_topic(sns: Any, sqs: Any, topic_arn: str) -> str:
    """A queue subscribed to the review topic, so what reviewers would receive can be read back."""
    url, arn = _tap_queue(sqs, "rekflow-local-review-tap")
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    return url


def _tap_event_source(events: Any, sqs: Any, substitutions: dict[str, Any]) -> str:
    """A rule forwarding every event the workflow puts on the bus to a queue that can be read back."""
    url, arn = _tap_queue(sqs, "rekflow-local-events-tap")
    bus = str(substitutions["EventBusName"])
    events.put_rule(
        Name="rekflow-local-events-tap",
        EventBusName=bus,
        EventPattern=json.dumps({"source": [str(substitutions["EventSource"])]}),
    )
    events.put_targets(Rule="rekflow-local-events-tap", EventBusName=bus, Targets=[{"Id": "tap", "Arn": arn}])
    return url
