"""Every state the local suite entered, sent through AWS Step Functions' TestState API with the same
input and the integration's recorded answer as a STRICT mock: AWS must produce what the local runtime
produced (the output and next state, or the error and the retry decision).

Runs when AWS credentials and a region are present; costs nothing to deploy (TestState runs one
state in the service; every Task and Parallel is mocked, so no roleArn is needed; set
REKFLOW_TESTSTATE_ROLE_ARN to send one anyway). Run it with:

    AWS_PROFILE=... AWS_REGION=... .venv/bin/python -m pytest tests/aws
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.aws.conftest import aws_account_missing, parity_report, session_cases

ROLE_ARN = os.environ.get("REKFLOW_TESTSTATE_ROLE_ARN")
HOW_TO_RUN = (
    "to run it: AWS_PROFILE=<profile> AWS_REGION=<region> .venv/bin/python -m pytest tests/aws "
    "(no deploy needed; IAM permission states:TestState)"
)


def request_for(case: dict[str, Any]) -> dict[str, Any]:
    """The TestState request for one case."""
    request: dict[str, Any] = {
        "definition": json.dumps(case["definition"]),
        "input": json.dumps(case["input"]),
        "inspectionLevel": "DEBUG",
    }
    if case["mock"] is not None:
        request["mock"] = {**case["mock"], "fieldValidationMode": "STRICT"}
        if case.get("context"):
            request["context"] = json.dumps(case["context"])
    if case["stateConfiguration"]:
        request["stateConfiguration"] = case["stateConfiguration"]
    if ROLE_ARN:
        request["roleArn"] = ROLE_ARN
    return request


def same(local: Any, remote: Any, json_text_ok: bool) -> bool:
    """Equal JSON; with json_text_ok, a string on AWS's side that parses to the local value also counts
    (TestState may leave a mocked Lambda Payload as the text it was given)."""
    if json_text_ok and isinstance(remote, str) and not isinstance(local, str):
        try:
            return same(local, json.loads(remote), json_text_ok)
        except ValueError:
            return False
    if isinstance(local, dict) and isinstance(remote, dict):
        return local.keys() == remote.keys() and all(same(local[k], remote[k], json_text_ok) for k in local)
    if isinstance(local, list) and isinstance(remote, list):
        return len(local) == len(remote) and all(same(a, b, json_text_ok) for a, b in zip(local, remote, strict=True))
    return bool(local == remote)


def differences(case: dict[str, Any], answer: dict[str, Any]) -> list[str]:
    """How AWS's answer differs from what the local runtime produced for the case."""
    expected = case["expected"]
    found = []
    if answer.get("status") != expected["status"]:
        found.append(f"status: local {expected['status']}, AWS {answer.get('status')}")
    if expected["status"] in ("SUCCEEDED", "CAUGHT_ERROR"):
        if answer.get("nextState") != expected["nextState"]:
            found.append(f"nextState: local {expected['nextState']!r}, AWS {answer.get('nextState')!r}")
        remote = json.loads(answer["output"]) if answer.get("output") else None
        lambda_text = (case.get("integration") or {}).get("operation") == "Invoke"
        if not same(expected["output"], remote, lambda_text):
            found.append(f"output: local {json.dumps(expected['output'])[:300]}, AWS {json.dumps(remote)[:300]}")
    if expected["status"] != "SUCCEEDED" and answer.get("error") != expected["error"]:
        found.append(f"error: local {expected['error']}, AWS {answer.get('error')}")
    return found


def send(client: Any, case: dict[str, Any]) -> tuple[dict[str, Any], list[str] | None]:
    """(case, differences), or (case, None) when the service needs a role for it and none was given."""
    from botocore.exceptions import ClientError

    try:
        answer = client.test_state(**request_for(case))
    except ClientError as error:
        message = str(error)
        if not ROLE_ARN and "role" in message.lower():
            return case, None
        return case, [f"TestState refused the request: {message[:500]}"]
    return case, differences(case, answer)


@pytest.fixture(scope="module")
def stepfunctions():
    missing = aws_account_missing()
    if missing:
        pytest.skip(f"TestState parity tier (tests/aws/test_state_parity.py): {missing}; {HOW_TO_RUN}")
    import boto3
    from botocore.config import Config

    return boto3.client("stepfunctions", config=Config(retries={"mode": "adaptive", "max_attempts": 10}))


def test_every_state_agrees_with_aws(stepfunctions):
    cases = session_cases()["cases"]
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda case: send(stepfunctions, case), cases))

    by_state: dict[str, list[str]] = defaultdict(list)
    needs_role: set[str] = set()
    for case, found in answers:
        by_state.setdefault(case["state"], [])
        if found is None:
            needs_role.add(case["state"])
            continue
        where = f"{case['state']} (retry {case['retryCount']}, from {case['source']['execution']})"
        by_state[case["state"]] += [f"{where}: {line}" for line in found]
    parity_report.update(
        cases=len(cases),
        agreed=sorted(s for s, f in by_state.items() if not f and s not in needs_role),
        disagreed=sorted(s for s, f in by_state.items() if f),
        notes=[f"{s}: TestState asked for a role; set REKFLOW_TESTSTATE_ROLE_ARN" for s in sorted(needs_role)],
    )
    if needs_role and not any(by_state.values()):
        pytest.skip(f"TestState needs an execution role for {sorted(needs_role)}: set REKFLOW_TESTSTATE_ROLE_ARN")
    disagreements = [line for lines in by_state.values() for line in lines]
    assert not disagreements, f"{len(disagreements)} disagreement(s):\n" + "\n".join(disagreements)


def test_comparison_offline():
    # GIVEN the recorded cases and a stand-in for TestState that answers what the local runtime produced
    cases = session_cases()["cases"]

    class Echo:
        def test_state(self, **request):
            case = next(c for c in cases if request_for(c) == request)
            expected = case["expected"]
            answer = {"status": expected["status"], "error": expected["error"], "nextState": expected["nextState"]}
            if expected["output"] is not None:
                answer["output"] = json.dumps(expected["output"])
            return {k: v for k, v in answer.items() if v is not None}

    # WHEN every case is sent
    sample = cases[:: max(1, len(cases) // 40)]
    results = [send(Echo(), case) for case in sample]

    # THEN nothing differs, and a changed answer is reported
    assert all(found == [] for _, found in results)
    case = next(c for c in sample if c["expected"]["status"] == "SUCCEEDED" and c["expected"]["output"])
    assert differences(case, {"status": "FAILED", "error": "States.Runtime"})
    assert differences(
        case, {"status": "SUCCEEDED", "output": json.dumps({"other": 1}), "nextState": case["expected"]["nextState"]}
    )
