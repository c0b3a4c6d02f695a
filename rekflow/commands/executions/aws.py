"""The executions of a deployed rekflow stack: found through CloudFormation, read, redriven and
replayed with Step Functions, with the caller's AWS credentials (AWS_PROFILE, AWS_REGION...)."""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from rekflow import TEMPLATE_PATH
from rekflow.commands.executions.history import Event, failing_state
from rekflow.commands.executions.summary import UNSUCCESSFUL, ExecutionSummary, iso, object_key, outcome_of
from rekflow.local.template import Template

# An execution name is at most 80 characters (StartExecution's `name`); a replay's keeps the
# original's first 60 and adds "-replay-" and 8 random hex digits, unique within the 90 days in
# which Step Functions refuses to reuse a name.
_REPLAY_PREFIX_LENGTH = 60


class AwsError(Exception):
    """A call to AWS that could not be made or was refused, said in one line."""


class NotRedrivable(AwsError):
    pass


def state_machine_logical_id() -> str:
    """The logical id in template.yaml (which the deployed stack keeps) of the Standard state machine
    that S3's Object Created events start: the one whose executions these commands are about.

    Express state machines are left out: Step Functions lists, keeps histories of and redrives
    Standard executions only (ListExecutions, GetExecutionHistory and RedriveExecution are "not
    supported by EXPRESS state machines"); an Express workflow's executions are read in its log group.
    """
    machines = Template.load(TEMPLATE_PATH).resources_of_type("AWS::Serverless::StateMachine")
    started_by_uploads = [
        logical_id
        for logical_id, machine in machines.items()
        if machine["Properties"].get("Type", "STANDARD") == "STANDARD"
        and any(_starts_on_object_created(source) for source in machine["Properties"].get("Events", {}).values())
    ]
    if len(started_by_uploads) != 1:
        raise AwsError(
            f"template.yaml should have one Standard state machine started by Object Created events, "
            f"not {started_by_uploads or 'none'}"
        )
    return started_by_uploads[0]


def _starts_on_object_created(source: dict[str, Any]) -> bool:
    pattern = source.get("Properties", {}).get("Pattern", {})
    return bool(source["Type"] == "EventBridgeRule" and "Object Created" in pattern.get("detail-type", []))


def replay_name(name: str) -> str:
    return f"{name[:_REPLAY_PREFIX_LENGTH]}-replay-{secrets.token_hex(4)}"


@dataclass
class DeployedStack:
    stack_name: str
    state_machine_arn: str
    sfn: Any  # a Step Functions client

    @classmethod
    def find(cls, stack_name: str, session: boto3.session.Session | None = None) -> DeployedStack:
        session = session or boto3.session.Session()
        logical_id = state_machine_logical_id()
        with _said(f"stack {stack_name}"):
            resource = session.client("cloudformation").describe_stack_resource(
                StackName=stack_name, LogicalResourceId=logical_id
            )["StackResourceDetail"]
        # Ref returns a state machine's ARN (AWS::StepFunctions::StateMachine, Return values), and a
        # resource's physical id is what Ref returns: checked, as the second is our reading.
        arn = str(resource.get("PhysicalResourceId", ""))
        if ":stateMachine:" not in arn:
            raise AwsError(f"stack {stack_name}: {logical_id} has physical id {arn!r}, not a state machine ARN")
        return cls(stack_name, arn, session.client("stepfunctions"))

    def execution_arn(self, name: str) -> str:
        """The ARN of execution `name` of this state machine (a full ARN is taken as it is).

        arn:${Partition}:states:${Region}:${Account}:execution:${StateMachineName}:${ExecutionId}
        (Service Authorization Reference, AWS Step Functions' resource types).
        """
        if name.startswith("arn:"):
            return name
        prefix, machine = self.state_machine_arn.split(":stateMachine:", 1)
        return f"{prefix}:execution:{machine}:{name}"

    def summaries(self, status: str | None = None, limit: int = 100) -> list[ExecutionSummary]:
        """The newest `limit` executions (ListExecutions answers newest first), `status` only if given."""
        filters = {"statusFilter": status} if status else {}
        with _said(f"the executions of {self.state_machine_arn}"):
            listed = (
                self.sfn.get_paginator("list_executions")
                .paginate(stateMachineArn=self.state_machine_arn, **filters, PaginationConfig={"MaxItems": limit})
                .build_full_result()["executions"]
            )
        return [self.summary(item["executionArn"]) for item in listed]

    def summary(self, name: str) -> ExecutionSummary:
        described = self.describe(name)
        failed = failing_state(self.history(name)) if described["status"] in UNSUCCESSFUL else None
        outcome, reason = outcome_of(json.loads(described["output"]) if described.get("output") else None)
        return ExecutionSummary(
            name=described["name"],
            execution_arn=described["executionArn"],
            status=described["status"],
            start_date=iso(described["startDate"]),
            stop_date=iso(described.get("stopDate")),
            key=object_key(json.loads(described.get("input") or "{}")),
            outcome=outcome,
            reason=reason,
            failed_state=failed,
            error=described.get("error"),
            cause=described.get("cause"),
        )

    def describe(self, name: str) -> dict[str, Any]:
        with _said(f"execution {name}"):
            return dict(self.sfn.describe_execution(executionArn=self.execution_arn(name)))

    def history(self, name: str) -> list[Event]:
        """Every event, oldest first, in GetExecutionHistory's shape (timestamps as datetimes)."""
        with _said(f"the history of execution {name}"):
            pages = self.sfn.get_paginator("get_execution_history").paginate(executionArn=self.execution_arn(name))
            return [event for page in pages for event in page["events"]]

    def redrive(self, name: str) -> datetime:
        """Redrive execution `name`: same ARN, resumed at the state that failed. Returns the redrive's date.

        DescribeExecution's redriveStatus is NOT_REDRIVABLE exactly when RedriveExecution would answer
        ExecutionNotRedrivable, and redriveStatusReason says why (running, succeeded, past the 14 days,
        over the event limit...): asked first, so the refusal names its reason.
        """
        described = self.describe(name)
        if described.get("redriveStatus") == "NOT_REDRIVABLE":
            raise NotRedrivable(
                f"execution {described['name']} ({described['status']}) cannot be redriven: "
                f"{described.get('redriveStatusReason', 'no reason given')}"
            )
        with _said(f"redrive of execution {name}"):
            return self.sfn.redrive_execution(executionArn=described["executionArn"])["redriveDate"]  # type: ignore[no-any-return]

    def replay(self, name: str) -> str:
        """Start a new execution with execution `name`'s input; returns the new execution's ARN."""
        described = self.describe(name)
        with _said(f"replay of execution {name}"):
            return str(
                self.sfn.start_execution(
                    stateMachineArn=self.state_machine_arn,
                    name=replay_name(described["name"]),
                    input=described["input"],
                )["executionArn"]
            )


@contextlib.contextmanager
def _said(doing: str) -> Iterator[None]:
    """Turns botocore's errors into AwsError naming what was being done."""
    try:
        yield
    except ClientError as error:
        details = error.response.get("Error", {})
        raise AwsError(f"{doing}: {details.get('Code')}: {details.get('Message')}") from error
    except BotoCoreError as error:
        raise AwsError(f"{doing}: {error}") from error
