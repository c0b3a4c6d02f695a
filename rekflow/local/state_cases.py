"""State cases: what each state of a local execution was given and what the local runtime made of it.

A case is one state's one attempt, read from an execution history in GetExecutionHistory's event
shape and the rendered ASL, and phrased as a TestState request (stepfunctions.test_state) plus the
answer the local runtime gave:

    {"state": name, "type": "Task", "definition": {...the state's ASL...}, "input": {...},
     "mock": {"result": "..."} | {"errorOutput": {"error": ..., "cause": ...}} | None,
     "stateConfiguration": {"retrierRetryCount": n} | {"errorCausedByState": name} | None,
     "context": {...the execution's context object, for every case; TestState takes it only with a mock},
     "integration": {"resource", "service", "operation", "pattern"} | None,
     "retryCount": n, "expected": {"status", "output", "nextState", "error", "cause"}}

`expected.status` uses TestState's words: SUCCEEDED, CAUGHT_ERROR, RETRIABLE or FAILED.
Nothing here names a state: everything is derived from the definition and the history.

AWS material relied on (see tests/aws/README.md for the full list):
- TestState takes a single state's definition, a mock (result or errorOutput, checked against the
  integration's API model by fieldValidationMode), a context object (only with a mock) and a
  stateConfiguration.retrierRetryCount (retries already made by the Retry that matches the
  mocked error); with a mock, roleArn is optional.
- The Lambda API models Invoke's Payload as a blob, so a STRICT mock carries the function's
  answer as JSON text; the live lambda:invoke integration hands the state parsed JSON.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from rekflow import PROJECT_ROOT

CASES_PATH = PROJECT_ROOT / ".cache" / "state-cases.json"
FORMAT_VERSION = 1

_ATTEMPT_ENDS = {
    "TaskSucceeded": "taskSucceededEventDetails",
    "TaskFailed": "taskFailedEventDetails",
    "TaskTimedOut": "taskTimedOutEventDetails",
    "TaskStartFailed": "taskStartFailedEventDetails",
    "TaskSubmitFailed": "taskSubmitFailedEventDetails",
}
_PATTERNS = (".waitForTaskToken", ".sync:2", ".sync")
# Integration service names that botocore spells differently: aws-sdk:sfn and the optimised states: integration.
_SDK_SERVICE_NAMES = {"sfn": "stepfunctions", "states": "stepfunctions"}


# ------------------------------------------------------------------ integrations
@dataclass(frozen=True)
class Integration:
    resource: str
    service: str  # botocore's service name
    operation: str  # botocore's operation name
    pattern: str  # request-response, waitForTaskToken or sync

    def as_dict(self) -> dict[str, str]:
        return {
            "resource": self.resource,
            "service": self.service,
            "operation": self.operation,
            "pattern": self.pattern,
        }


def integration_of(resource: str) -> Integration | None:
    """The API behind a Task's Resource: arn:aws:states:::aws-sdk:rekognition:detectLabels, lambda:invoke…"""
    prefix = "arn:aws:states:::"
    if not resource.startswith(prefix):
        return None  # an activity or a Lambda ARN (legacy)
    rest = resource[len(prefix) :]
    pattern = "request-response"
    for suffix in _PATTERNS:
        if rest.endswith(suffix):
            rest, pattern = rest[: -len(suffix)], suffix.lstrip(".").split(":")[0]
            break
    parts = rest.split(":")
    if parts[0] == "aws-sdk" and len(parts) == 3:
        service, action = _SDK_SERVICE_NAMES.get(parts[1], parts[1]), parts[2]
    elif len(parts) == 2:
        service, action = _SDK_SERVICE_NAMES.get(parts[0], parts[0]), parts[1]
    else:
        return None
    return Integration(resource, service, action[:1].upper() + action[1:], pattern)


def mock_result_text(integration: Integration | None, output: str) -> str:
    """The integration's answer as TestState's mock.result: the TaskSucceeded output, with one change.

    Lambda's API models Invoke's Payload as a blob (a string); STRICT validation refuses the JSON
    object that the lambda:invoke integration hands the state, so the payload travels as JSON text.
    """
    if integration is None or (integration.service, integration.operation) != ("lambda", "Invoke"):
        return output
    answer = json.loads(output)
    if isinstance(answer, dict) and "Payload" in answer and not isinstance(answer["Payload"], str):
        answer["Payload"] = json.dumps(answer["Payload"], separators=(",", ":"))
    return json.dumps(answer)


# ------------------------------------------------------------------ the definition
def states_by_name(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every state of the definition, branches and Map processors included, by name."""
    found: dict[str, dict[str, Any]] = {}
    for name, state in definition["States"].items():
        found[name] = state
        for branch in state.get("Branches", []):
            found |= states_by_name(branch)
        for key in ("ItemProcessor", "Iterator"):
            if key in state:
                found |= states_by_name(state[key])
    return found


def matching_retrier(state: dict[str, Any], error: str) -> int | None:
    """Index of the first Retrier whose ErrorEquals matches `error`, as the ASL specification orders them."""
    for index, retrier in enumerate(state.get("Retry", [])):
        names = retrier.get("ErrorEquals", [])
        if error in names or "States.ALL" in names:
            return index
        if "States.TaskFailed" in names and error != "States.Timeout":
            return index
    return None


# ------------------------------------------------------------------ the history
@dataclass
class _Entry:
    """One state entered: its events, in order."""

    name: str
    entered: dict[str, Any]
    exited: dict[str, Any] | None = None
    task_events: list[dict[str, Any]] = field(default_factory=list)


def _details(event: dict[str, Any]) -> dict[str, Any]:
    return next((v for k, v in event.items() if k.endswith("EventDetails") and isinstance(v, dict)), {})


def _entries(history: list[dict[str, Any]]) -> list[_Entry]:
    """Pair each StateEntered with its StateExited and its Task events. Branches interleave, so Task
    events are followed back along previousEventId to their state; exits are matched by name."""
    by_id = {event["id"]: event for event in history}
    entries: dict[int, _Entry] = {}
    open_by_name: dict[str, list[_Entry]] = {}
    owner: dict[int, int | None] = {}

    def owner_of(event_id: int) -> int | None:
        chain = []
        current: int | None = event_id
        while current is not None and current not in owner:
            event = by_id.get(current)
            if event is None:
                current = None
                break
            if event["type"].endswith("StateEntered"):
                owner[current] = current
                break
            chain.append(current)
            current = event.get("previousEventId") or None
        found = owner.get(current) if current is not None else None
        for link in chain:
            owner[link] = found
        return found

    for event in history:
        kind = event["type"]
        if kind.endswith("StateEntered"):
            entry = _Entry(event["stateEnteredEventDetails"]["name"], event)
            entries[event["id"]] = entry
            open_by_name.setdefault(entry.name, []).append(entry)
        elif kind.endswith("StateExited"):
            name = event["stateExitedEventDetails"]["name"]
            pending = open_by_name.get(name) or []
            if pending:
                pending.pop(0).exited = event
        elif kind.startswith("Task"):
            state_id = owner_of(event["id"])
            if state_id in entries:
                entries[state_id].task_events.append(event)
    return [entries[key] for key in sorted(entries)]


def _load(text: str | None) -> Any:
    return json.loads(text) if text else None


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return str(value)


# ------------------------------------------------------------------ cases
def _expected(
    status: str, output: Any = None, next_state: str | None = None, error: str | None = None, cause: str | None = None
) -> dict[str, Any]:
    """What TestState should answer for a case: its status, and the output, next state, error and cause."""
    return {"status": status, "output": output, "nextState": next_state, "error": error, "cause": cause}


def cases_from_execution(
    history: list[dict[str, Any]], definition: dict[str, Any], execution_arn: str, execution_name: str
) -> Iterator[dict[str, Any]]:
    """Every case that one execution yields: one per attempt of each Task, one per other state entered."""
    states = states_by_name(definition)
    entries = _entries(history)
    next_by_exit = {e.entered.get("previousEventId"): e.name for e in entries}
    started = history[0] if history and history[0]["type"] == "ExecutionStarted" else None
    machine_arn = execution_arn.replace(":execution:", ":stateMachine:").rsplit(":", 1)[0]
    execution = {
        "Id": execution_arn,
        "Name": execution_name,
        "StartTime": _iso(started["timestamp"]) if started and "timestamp" in started else None,
        "Input": _load(started["executionStartedEventDetails"].get("input")) if started else None,
    }
    failed_uncaught = [e for e in entries if e.exited is None]

    for entry in entries:
        state = states.get(entry.name)
        if state is None:
            continue  # a state of another definition (the ASL changed under a running suite)
        base = {
            "state": entry.name,
            "type": state["Type"],
            "definition": state,
            "input": _load(entry.entered["stateEnteredEventDetails"].get("input")),
            "source": {"execution": execution_name},
        }
        next_state = next_by_exit.get(entry.exited["id"]) if entry.exited else None
        output = _load(entry.exited["stateExitedEventDetails"].get("output")) if entry.exited else None
        context = {
            "Execution": execution,
            "StateMachine": {"Id": machine_arn, "Name": machine_arn.rsplit(":", 1)[-1]},
            "State": {"Name": entry.name, "EnteredTime": _iso(entry.entered.get("timestamp")), "RetryCount": 0},
        }
        if state["Type"] == "Task":
            yield from _task_cases(base, state, entry, output, next_state, context)
        elif state["Type"] == "Parallel":
            case = _parallel_case(base, state, entry, entries, failed_uncaught, output, next_state, context)
            if case:
                yield case
        elif state["Type"] == "Fail":
            # A Fail state never exits: what TestState answers for it is the execution's failure.
            failed: dict[str, Any] = next(
                (e["executionFailedEventDetails"] for e in history if e["type"] == "ExecutionFailed"), {}
            )
            yield base | {
                "mock": None,
                "stateConfiguration": None,
                "context": context,
                "integration": None,
                "retryCount": 0,
                "expected": _expected("FAILED", error=failed.get("error"), cause=failed.get("cause")),
            }
        elif entry.exited is not None:
            yield base | {
                "mock": None,
                "stateConfiguration": None,
                "context": context,
                "integration": None,
                "retryCount": 0,
                "expected": _expected("SUCCEEDED", output, next_state),
            }


def _task_cases(
    base: dict[str, Any],
    state: dict[str, Any],
    entry: _Entry,
    output: Any,
    next_state: str | None,
    context: dict[str, Any],
) -> Iterator[dict[str, Any]]:
    integration = integration_of(str(state.get("Resource", "")))
    attempts = [e for e in entry.task_events if e["type"] in _ATTEMPT_ENDS]
    retries_by_retrier: dict[int, int] = {}
    for number, attempt in enumerate(attempts):
        details = attempt[_ATTEMPT_ENDS[attempt["type"]]]
        last = number == len(attempts) - 1
        if last and entry.exited is None and _cancelled(state, attempt, details, retries_by_retrier):
            return  # a sibling branch failed first and the Parallel stopped this one: no outcome to compare
        state_context = {**context["State"], "RetryCount": number}
        task_context = {**context, "State": state_context}
        if integration and integration.pattern == "waitForTaskToken":
            task_context["Task"] = {"Token": f"local-task-token-{entry.entered['id']}-{number}"}
        case = base | {
            "context": task_context,
            "integration": integration.as_dict() if integration else None,
            "retryCount": number,
            "stateConfiguration": None,
        }
        if attempt["type"] == "TaskSucceeded":
            yield case | {
                "mock": {"result": mock_result_text(integration, details.get("output") or "null")},
                "expected": _expected("SUCCEEDED", output, next_state),
            }
            continue
        error = details.get("error") or "States.TaskFailed"
        # A failure sent without a cause (SendTaskFailure's cause is optional) has none: the Catch's ResultPath
        # gets {"Error": ..., "Cause": null}, and TestState's errorOutput.cause is optional too. A timeout's
        # history event carries no cause either, but the runtime hands the Catch an empty one.
        cause = details.get("cause")
        if cause is None and attempt["type"] == "TaskTimedOut":
            cause = ""
        retrier = matching_retrier(state, error)
        configuration = None
        if retrier is not None:
            configuration = {"retrierRetryCount": retries_by_retrier.get(retrier, 0)}
            retries_by_retrier[retrier] = retries_by_retrier.get(retrier, 0) + 1
        if not last:
            expected = _expected("RETRIABLE", error=error, cause=cause)
        elif entry.exited is not None:
            expected = _expected("CAUGHT_ERROR", output, next_state, error, cause)
        else:
            expected = _expected("FAILED", error=error, cause=cause)
        yield case | {
            "mock": {"errorOutput": {"error": error} | ({} if cause is None else {"cause": cause})},
            "stateConfiguration": configuration,
            "expected": expected,
        }


def _cancelled(
    state: dict[str, Any], attempt: dict[str, Any], details: dict[str, Any], retries_by_retrier: dict[int, int]
) -> bool:
    """Whether a state's last attempt, which never exited, was cut short rather than failing the state: it
    succeeded, or a Retry with attempts left or a Catch would have taken its error. The state then stopped
    because its branch was stopped (a sibling branch of the Parallel failed), which TestState never sees."""
    if attempt["type"] == "TaskSucceeded":
        return True
    error = details.get("error") or "States.TaskFailed"
    retrier = matching_retrier(state, error)
    if retrier is not None:
        allowed = state["Retry"][retrier].get("MaxAttempts", 3)
        if retries_by_retrier.get(retrier, 0) < allowed:
            return True
    return matching_retrier({"Retry": state.get("Catch", [])}, error) is not None


def _parallel_case(
    base: dict[str, Any],
    state: dict[str, Any],
    entry: _Entry,
    entries: list[_Entry],
    failed_uncaught: list[_Entry],
    output: Any,
    next_state: str | None,
    context: dict[str, Any],
) -> dict[str, Any] | None:
    """A Parallel state is tested with its branches' outputs (or the failing branch's error) as the mock."""
    start = entry.entered["id"]
    end = entry.exited["id"] if entry.exited else float("inf")
    inside = [e for e in entries if start < e.entered["id"] < end]
    case = base | {"context": context, "integration": None, "retryCount": 0, "stateConfiguration": None}
    if entry.exited is not None:
        results = []
        for branch in state["Branches"]:
            ends = {n for n, s in branch["States"].items() if s.get("End") or s["Type"] in ("Succeed",)}
            finished = [e for e in inside if e.name in ends and e.exited is not None]
            if not finished:
                return None
            exited = finished[-1].exited
            assert exited is not None  # finished holds exited entries only
            results.append(_load(exited["stateExitedEventDetails"].get("output")))
        return case | {
            "mock": {"result": json.dumps(results)},
            "expected": _expected("SUCCEEDED", output, next_state),
        }
    names = set(states_by_name({"States": {entry.name: state}})) - {entry.name}
    culprit = next(
        (
            e
            for e in failed_uncaught
            if e.name in names
            and start < e.entered["id"]
            and any(t["type"] in _ATTEMPT_ENDS and t["type"] != "TaskSucceeded" for t in e.task_events)
        ),
        None,
    )
    if culprit is None:
        return None  # stopped or still running: no outcome to compare
    failure = [t for t in culprit.task_events if t["type"] in _ATTEMPT_ENDS][-1]
    details = failure[_ATTEMPT_ENDS[failure["type"]]]
    error, cause = details.get("error") or "States.TaskFailed", details.get("cause") or ""
    return case | {
        "mock": {"errorOutput": {"error": error, "cause": cause}},
        "stateConfiguration": {"errorCausedByState": culprit.name},
        "expected": _expected("FAILED", error=error, cause=cause),
    }


def case_key(case: dict[str, Any]) -> str:
    """Identity of a case: everything but where it came from and the execution's context object."""
    kept = {k: v for k, v in case.items() if k not in ("source", "context")}
    return hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()


def definition_fingerprint(root: Path = PROJECT_ROOT) -> str:
    """Changes when the ASL or the template (its DefinitionSubstitutions) changes."""
    digest = hashlib.sha256()
    for path in [*sorted((root / "statemachines").glob("*.json")), root / "template.yaml"]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


class CaseRecorder:
    """Collects the cases of every execution it is shown; identical cases are kept once."""

    def __init__(self) -> None:
        self.cases: dict[str, dict[str, Any]] = {}
        self.entered: set[str] = set()
        self.executions = 0

    def record(
        self, history: list[dict[str, Any]], definition: dict[str, Any], execution_arn: str, execution_name: str
    ) -> None:
        self.executions += 1
        self.entered.update(e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e)
        for case in cases_from_execution(history, definition, execution_arn, execution_name):
            self.cases.setdefault(case_key(case), case)

    def extend(self, cases: Iterable[dict[str, Any]]) -> None:
        for case in cases:
            self.cases.setdefault(case_key(case), case)

    def document(self) -> dict[str, Any]:
        return {
            "formatVersion": FORMAT_VERSION,
            "definitionFingerprint": definition_fingerprint(),
            "executions": self.executions,
            "statesEntered": sorted(self.entered),
            "cases": list(self.cases.values()),
        }

    def write(self, path: Path = CASES_PATH) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.document(), default=str), encoding="utf-8")
        temporary.replace(path)
        return path


def read_cases(path: Path = CASES_PATH) -> dict[str, Any] | None:
    """The recorded document if it exists, is of this format and was made from the current ASL."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (
        document.get("formatVersion") != FORMAT_VERSION
        or document.get("definitionFingerprint") != definition_fingerprint()
    ):
        return None
    return dict(document)


# ------------------------------------------------------------------ mocks against the API models
def output_shape(integration: Integration) -> Any:
    """botocore's output shape of the integration's API operation (None when the operation has none)."""
    return _service_model(integration.service).operation_model(integration.operation).output_shape


@functools.cache
def _service_model(service: str) -> Any:
    """Loaded once: a new botocore session parses the model's JSON again (a thousand cases, one model)."""
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


def shape_problems(value: Any, shape: Any, where: str = "$", spelled: Callable[[str], str] = str) -> list[str]:
    """Where `value` breaks `shape` the way TestState's STRICT fieldValidationMode is documented to check:
    every required member present, every present member of the model's type. Members the model does
    not name are not checked (AWS validates only fields of the API specification). `spelled` turns a
    member's name into the integration's spelling of it."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__}, the model wants an object ({shape.name})"]
        problems = [
            f"{where}.{spelled(name)}: required by {shape.name}, missing"
            for name in shape.required_members
            if spelled(name) not in value
        ]
        for name, member in shape.members.items():
            if value.get(spelled(name)) is not None:
                problems += shape_problems(value[spelled(name)], member, f"{where}.{spelled(name)}", spelled)
        return problems
    if kind == "list":
        if not isinstance(value, list):
            return [f"{where}: {type(value).__name__}, the model wants an array"]
        return [p for i, item in enumerate(value) for p in shape_problems(item, shape.member, f"{where}[{i}]", spelled)]
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__}, the model wants an object (map)"]
        return [p for k, item in value.items() for p in shape_problems(item, shape.value, f"{where}.{k}", spelled)]
    if kind == "string":
        if not isinstance(value, str):
            return [f"{where}: {type(value).__name__}, the model wants a string"]
        enum = getattr(shape, "enum", None) or []
        return [f"{where}: {value!r} is not one of {shape.name}'s values"] if enum and value not in enum else []
    if kind in ("integer", "long"):
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{where}: {type(value).__name__}, the model wants an integer"]
    if kind in ("float", "double"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return [] if ok else [f"{where}: {type(value).__name__}, the model wants a number"]
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{where}: {type(value).__name__}, the model wants a boolean"]
    if kind == "timestamp":
        # An ISO 8601 string, or the epoch number JSON services put on the wire (MediaConvert's job times, the
        # states: integration's StartDate).
        ok = isinstance(value, (str, int, float)) and not isinstance(value, bool)
        return [] if ok else [f"{where}: {type(value).__name__}, the model wants a timestamp"]
    if kind == "blob":
        return [] if isinstance(value, str) else [f"{where}: {type(value).__name__}, the model wants a string ({kind})"]
    return []


def mock_problems(case: dict[str, Any]) -> list[str]:
    """What STRICT field validation would refuse in a Task case's mock.result (empty: nothing)."""
    mock = case.get("mock") or {}
    integration = case.get("integration")
    if case.get("type") != "Task" or "result" not in mock or integration is None:
        return []
    shape = output_shape(Integration(**integration))
    result = json.loads(mock["result"])
    if shape is None:
        return [] if result in ({}, None) else ["the operation has no output shape, the mock has a result"]
    # The optimised states: integration answers in PascalCase (ExecutionArn, StartDate: "Start workflow executions
    # from a task state", https://docs.aws.amazon.com/step-functions/latest/dg/connect-stepfunctions.html) where the
    # API's members are camelCase.
    optimised_states = integration["resource"].startswith("arn:aws:states:::states:")
    return shape_problems(result, shape, spelled=(lambda n: n[:1].upper() + n[1:]) if optimised_states else str)
