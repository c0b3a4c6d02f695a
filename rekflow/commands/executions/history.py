"""Read an execution's events (GetExecutionHistory's shape): which state each belongs to, which
state failed the execution, and one readable line per event.

Pure functions over the list of events, so they read a local run's kept history and AWS's alike.
Events link to the one before them by `previousEventId`; an event that is not a state's own entry
or exit belongs to the state its previous event belongs to (TaskScheduled follows
TaskStateEntered, TaskFailed follows TaskStarted, a retry's TaskScheduled follows TaskFailed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

Event = dict[str, Any]

# The outcome of an execution attempt (a redrive adds ExecutionRedriven, then a new outcome).
EXECUTION_ENDS = frozenset({"ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted", "ExecutionSucceeded"})
# A state's own failure: its work failed, timed out or could not start, or an expression failed.
# Parallel/Map failures are left out: they report a branch's or an iteration's failure, not their own.
_STATE_FAILURES = frozenset(
    {
        "TaskFailed",
        "TaskTimedOut",
        "TaskStartFailed",
        "TaskSubmitFailed",
        "LambdaFunctionFailed",
        "LambdaFunctionTimedOut",
        "LambdaFunctionStartFailed",
        "LambdaFunctionScheduleFailed",
        "ActivityFailed",
        "ActivityTimedOut",
        "ActivityScheduleFailed",
        "EvaluationFailed",
    }
)
# The start of one attempt at a state's work: the attempts of one visit count the retries.
_ATTEMPT_STARTS = frozenset({"TaskScheduled", "LambdaFunctionScheduled", "ActivityScheduled"})
_CONTAINERS = ("ParallelState", "MapState")
# A Parallel's or Map's own events besides entry and exit (started, succeeded, failed, an iteration's...).
_CONTAINER_EVENTS = ("ParallelState", "MapState", "MapIteration", "MapRun")
# The events a branch's or an iteration's first state follows.
_INSIDE_STARTS = frozenset({"ParallelStateStarted", "MapStateStarted", "MapIterationStarted"})


@dataclass(frozen=True)
class Visit:
    """One entry into a state: its name, the id of its StateEntered event, the Parallel or Map it runs in."""

    name: str
    entered_id: int
    container: bool  # a Parallel or Map state, whose branches or iterations hold visits of their own
    parent: Visit | None


def details(event: Event) -> dict[str, Any]:
    """The event's `...EventDetails` member (each event type has its own), or {}."""
    return next((value for key, value in event.items() if key.endswith("EventDetails")), {})


def visits(events: list[Event]) -> dict[int, Visit]:
    """The state visit each event belongs to, by event id; the execution's own events are absent.

    Each event follows from its `previousEventId`: a state's work belongs to the state it follows,
    a state entered after a Parallel or Map started (or an iteration started) runs inside it, one
    entered after another state is that state's sibling, and a Parallel's or Map's own events
    (ParallelStateFailed after the branch that failed) belong to the container around the event
    they follow. A StateExited names its state: it closes the latest open visit of that name.
    """
    by_id: dict[int, Visit] = {}
    types: dict[int, str] = {}
    exits: set[int] = set()
    still_open: list[Visit] = []
    for event in sorted(events, key=lambda e: e["id"]):
        kind = types[event["id"]] = event["type"]
        previous_id: int | None = event.get("previousEventId")
        previous = by_id.get(previous_id) if previous_id is not None else None
        if kind.startswith("Execution"):
            continue
        if "stateEnteredEventDetails" in event:
            inside = previous is not None and previous_id is not None and types.get(previous_id, "") in _INSIDE_STARTS
            parent = previous if inside else (previous.parent if previous is not None else None)
            visit = Visit(event["stateEnteredEventDetails"]["name"], event["id"], kind.startswith(_CONTAINERS), parent)
            still_open.append(visit)
            by_id[event["id"]] = visit
        elif "stateExitedEventDetails" in event:
            name = event["stateExitedEventDetails"]["name"]
            closed = next((v for v in reversed(still_open) if v.name == name), None)
            if closed is not None:
                still_open.remove(closed)
                by_id[event["id"]] = closed
                exits.add(event["id"])
        elif kind.startswith(_CONTAINER_EVENTS):
            around = previous.parent if previous is not None and previous_id in exits else previous
            while around is not None and not around.container:
                around = around.parent
            if around is not None:
                by_id[event["id"]] = around
        elif previous is not None and previous_id not in exits:
            by_id[event["id"]] = previous
    return by_id


def last_attempt(events: list[Event]) -> list[Event]:
    """The events of the latest attempt: after the last ExecutionRedriven, if the execution was redriven."""
    redriven = [i for i, e in enumerate(events) if e["type"] == "ExecutionRedriven"]
    return events[redriven[-1] :] if redriven else events


def failing_state(events: list[Event]) -> str | None:
    """The name of the state whose failure ended the execution; None if it did not fail (or has not ended).

    The state of the last failure of a state's own work with the execution's error (a caught error
    earlier, or another branch's, does not count). An execution that failed without such a failure
    (a Fail state, a Runtime error in a Pass state), timed out or was stopped: the last state entered
    and never left (inside a Parallel or Map, a branch's state, entered after the container).
    """
    events = sorted(events, key=lambda e: e["id"])
    ends = [e for e in events if e["type"] in EXECUTION_ENDS]
    if not ends or ends[-1]["type"] == "ExecutionSucceeded":
        return None
    attempt = last_attempt(events)
    belongs = visits(events)
    error = details(ends[-1]).get("error")
    matching = [
        e for e in attempt if e["type"] in _STATE_FAILURES and e["id"] in belongs and details(e).get("error") == error
    ]
    if matching:
        return belongs[matching[-1]["id"]].name
    still_open = _entered_not_exited(attempt, belongs)
    return still_open[-1].name if still_open else None


def _entered_not_exited(events: list[Event], belongs: dict[int, Visit]) -> list[Visit]:
    entered: dict[int, Visit] = {}
    for event in events:
        visit = belongs.get(event["id"])
        if visit is None:
            continue
        if "stateEnteredEventDetails" in event:
            entered[visit.entered_id] = visit
        elif "stateExitedEventDetails" in event:
            entered.pop(visit.entered_id, None)
    return list(entered.values())


@dataclass(frozen=True)
class Line:
    """One event, readable: seconds since the execution started, state, what happened, attempt, error."""

    seconds: float
    state: str
    what: str
    attempt: int | None  # which try at the state's work (2 = the first retry); None outside the work
    error: str
    cause: str


def readable(events: list[Event], cause_width: int = 100) -> list[Line]:
    """One line per event, in order."""
    events = sorted(events, key=lambda e: e["id"])
    if not events:
        return []
    started = _timestamp(events[0])
    belongs = visits(events)
    attempts: dict[int, int] = {}  # by visit: the attempts at its work so far
    lines = []
    for event in events:
        visit = belongs.get(event["id"])
        attempt = None
        if visit is not None:
            if event["type"] in _ATTEMPT_STARTS:
                attempts[visit.entered_id] = attempts.get(visit.entered_id, 0) + 1
            if not {"stateEnteredEventDetails", "stateExitedEventDetails"} & event.keys():
                attempt = attempts.get(visit.entered_id)
        info = details(event)
        lines.append(
            Line(
                (_timestamp(event) - started).total_seconds(),
                visit.name if visit else "",
                in_words(event["type"]),
                attempt,
                str(info.get("error") or ""),
                shorten(str(info.get("cause") or ""), cause_width),
            )
        )
    return lines


def in_words(event_type: str) -> str:
    """'TaskStateEntered' -> 'task state entered', 'LambdaFunctionTimedOut' -> 'lambda function timed out'."""
    return " ".join(word.lower() for word in re.findall(r"[A-Z][a-z]*", event_type))


def shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _timestamp(event: Event) -> datetime:
    value = event["timestamp"]
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def json_events(events: list[Event]) -> list[Event]:
    """The events as JSON holds them: timestamps as ISO 8601 strings (boto3 and moto give datetimes)."""
    return [
        {**event, "timestamp": event["timestamp"].isoformat()} if isinstance(event["timestamp"], datetime) else event
        for event in events
    ]
