"""What `rekflow executions` shows of one execution, whether a local run kept it or AWS holds it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, overload

# Step Functions' statuses that end an execution unsuccessfully: the ones redrive and replay are for.
UNSUCCESSFUL = ("FAILED", "TIMED_OUT", "ABORTED")


@dataclass(frozen=True)
class ExecutionSummary:
    name: str
    execution_arn: str
    status: str  # Step Functions' execution status: SUCCEEDED, FAILED, TIMED_OUT, ABORTED, RUNNING...
    start_date: str  # ISO 8601
    stop_date: str | None
    key: str | None  # the object key of the Object Created event that started it
    outcome: str | None  # the workflow's own status, in its output: SUCCEEDED, PARTIAL, REJECTED, SKIPPED
    reason: str | None  # the workflow's reason code (REJECTED, SKIPPED)
    failed_state: str | None
    error: str | None
    cause: str | None
    replay_of: str | None = None

    def as_json(self) -> dict[str, Any]:
        """camelCase keys, as Step Functions' own JSON spells them."""
        return {_camel(key): value for key, value in asdict(self).items()}

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> ExecutionSummary:
        """From as_json's keys (a record may hold more)."""
        fields: dict[str, Any] = {key: record.get(_camel(key)) for key in cls.__dataclass_fields__}
        return cls(**fields)


def object_key(execution_input: dict[str, Any]) -> str | None:
    """The object key of an EventBridge "Object Created" event, as it arrived."""
    key: str | None = execution_input.get("detail", {}).get("object", {}).get("key")
    return key


def outcome_of(output: dict[str, Any] | None) -> tuple[str | None, str | None]:
    """(the workflow's status, its reason code) from an execution's output."""
    if not output:
        return None, None
    return output.get("status"), output.get("reason")


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


@overload
def iso(moment: datetime) -> str: ...
@overload
def iso(moment: datetime | None) -> str | None: ...
def iso(moment: datetime | None) -> str | None:
    """ISO 8601, as the records and --json print dates."""
    return moment.isoformat() if moment is not None else None
