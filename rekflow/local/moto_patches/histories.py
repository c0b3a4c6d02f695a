"""An execution's history in GetExecutionHistory's shape, read from moto's own record of it.

Through the API, moto serialises every event and botocore parses it back: about 40 ms of CPU for an
image's 60 events, most of what recording an execution (the coverage report, the TestState cases)
costs. moto's record holds the same events; only the event type (an enum) and the timestamp (a
string) are kept otherwise, and they are converted here as botocore converts them. Unlike one
GetExecutionHistory page, every event is returned, not the first thousand. Every local execution's
history is read and kept (rekflow.commands.executions.records), so this is on every execution's path:
about 0.5 ms for an image's 58 events.
tests/unit/test_histories.py checks the two answers are equal for executions that succeed, retry,
catch errors, time out and fail.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.utils import parse_timestamp

from rekflow.local.template import ACCOUNT_ID, REGION


def execution_history(execution_arn: str, account_id: str = ACCOUNT_ID, region: str = REGION) -> list[dict[str, Any]]:
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    events = stepfunctions_parser_backends[account_id][region].get_execution_history(execution_arn)["events"]
    return [_as_botocore_parses_it(event) for event in events]


def _as_botocore_parses_it(event: Mapping[str, object]) -> dict[str, Any]:
    parsed: dict[str, Any] = _plain(event)
    parsed["timestamp"] = _timestamp(event["timestamp"])
    return parsed


def _timestamp(value: object) -> datetime:
    """The instant botocore's parse_timestamp gives, in UTC. moto writes ISO 8601 with milliseconds and a Z
    (moto.core.utils.iso_8601_datetime_with_milliseconds), which datetime.fromisoformat reads (Python 3.11+)
    in a microsecond; parse_timestamp's dateutil took 80 % of reading a history (about 2.5 ms an image)."""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    parsed: datetime = parse_timestamp(value)
    return parsed


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value
