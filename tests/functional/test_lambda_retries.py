"""Each state that invokes a function retries Lambda's transient service errors once they pass (policies.LAMBDA,
the retrier AWS recommends for lambda:invoke: https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html).

Found by `make mutate` (scripts/mutate.py, drop-retry-build-results): without this test, Build results' Retry
could be removed and every test still passed.
"""

from __future__ import annotations

import pytest

from tests.conftest import jpeg_bytes, task_errors

# The image path's lambda:invoke states and the function each one invokes.
STATES = {"Validate object": "ValidateFunction", "Build results": "BuildResultsFunction"}
# Lambda's throttling and its own fault, as botocore's model names them, and Step Functions' names for them.
ERRORS = [
    ("TooManyRequestsException", 429, "Lambda.TooManyRequestsException"),
    ("ServiceException", 500, "Lambda.ServiceException"),
]


@pytest.mark.parametrize("state", list(STATES))
@pytest.mark.parametrize(("code", "status", "name"), ERRORS)
def test_a_lambda_service_error_is_retried(runtime, state, code, status, name):
    # GIVEN the state's function call is refused once with the error
    function = runtime.function(STATES[state])
    runtime.service_faults.inject(
        "lambda", "Invoke", code, status=status, when=lambda params: params.get("FunctionName") == function.arn
    )
    upload = runtime.upload(jpeg_bytes(), f"lambda-{code}-{state}.jpg")

    # WHEN the workflow runs
    result = runtime.run(runtime.object_created_event(upload))

    # THEN the state's Retry absorbed it: the one failed attempt was that state's, and the run succeeded
    assert result.status == "SUCCEEDED", result.cause
    assert task_errors(result) == [name]
    failed = result.events_of_type("TaskFailed")[0]
    entered = [e for e in result.history if e["id"] < failed["id"] and e["type"].endswith("StateEntered")]
    assert entered[-1]["stateEnteredEventDetails"]["name"] == state
