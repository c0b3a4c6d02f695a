"""Functions in worker processes of their own (rekflow.local.sandbox): warm between invocations, and a
crash, a timeout or running out of memory reported under the errorType Lambda reports, the environment
discarded and the next invocation running init again."""

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from rekflow.local.sandbox import FunctionError, FunctionSandboxes, FunctionSpec, PlatformReport

HANDLERS = str(Path(__file__).parent / "sandbox_handlers")


def _spec(handler: str, memory_mb: int = 512, timeout_seconds: float = 10.0) -> FunctionSpec:
    return FunctionSpec(
        f"Test{handler.title().replace('_', '')}Function",
        f"test-{handler}",
        f"arn:aws:lambda:us-east-1:123456789012:function:test-{handler}",
        memory_mb,
        timeout_seconds,
        HANDLERS,
        "app",
        handler,
        {"SANDBOX_SETTING": "from the template", "AWS_DEFAULT_REGION": "us-east-1"},
    )


def _no_aws(service, operation, params):
    raise AssertionError(f"unexpected call {service}.{operation}")


@pytest.fixture
def sandboxes():
    made = FunctionSandboxes(_no_aws)
    yield made
    made.close()


def test_a_warm_environment_keeps_its_module_state_and_the_functions_environment(sandboxes):
    logged: list[str] = []
    spec = _spec("echo")
    first = sandboxes.invoke(spec, {"value": 1}, "r1", logged.append)
    second = sandboxes.invoke(spec, {"value": 2}, "r2", logged.append)
    assert (first["value"], second["value"]) == (1, 2)
    assert first["pid"] == second["pid"] and first["initialisedAt"] == second["initialisedAt"]
    assert first["setting"] == "from the template"
    assert Path(first["tmp"]).is_dir()  # a /tmp of its own
    assert 0 < first["remainingMillis"] <= 10_000
    assert "echo 1\necho 2\n" in "".join(logged)
    assert len(sandboxes.cold_starts[spec.logical_id]) == 1


def test_an_aws_call_in_the_worker_is_answered_by_the_parent_with_its_modelled_errors():
    def call_aws(service, operation, params):
        assert (service, operation) == ("s3", "GetObject")
        if params["Key"] == "missing":
            raise ClientError({"Error": {"Code": "NoSuchKey", "Message": "gone"}}, operation)
        from io import BytesIO

        from botocore.response import StreamingBody

        return {"Body": StreamingBody(BytesIO(b"bytes"), 5), "ContentLength": 5}

    sandboxes = FunctionSandboxes(call_aws)
    try:
        spec = _spec("head_object")
        found = sandboxes.invoke(spec, {"bucket": "b", "key": "k"}, "r1", lambda text: None)
        missing = sandboxes.invoke(spec, {"bucket": "b", "key": "missing"}, "r2", lambda text: None)
    finally:
        sandboxes.close()
    assert found == {"body": "bytes", "length": 5}
    assert missing == {"error": "NoSuchKey", "code": "NoSuchKey"}


def test_an_unhandled_exception_keeps_the_environment_warm(sandboxes):
    spec = _spec("raise_value_error")
    with pytest.raises(FunctionError) as raised:
        sandboxes.invoke(spec, {}, "r1", lambda text: None)
    assert raised.value.error_type == "ValueError" and str(raised.value) == "the handler refused"
    assert any("raise_value_error" in line for line in raised.value.stack_trace)
    with pytest.raises(FunctionError):
        sandboxes.invoke(spec, {}, "r2", lambda text: None)
    assert len(sandboxes.cold_starts[spec.logical_id]) == 1


def test_a_crash_is_runtime_exit_error_and_the_next_invocation_runs_init_again(sandboxes):
    spec = _spec("segfault")
    with pytest.raises(FunctionError) as raised:
        sandboxes.invoke(spec, {}, "r1", lambda text: None)
    assert raised.value.error_type == "Runtime.ExitError"
    assert str(raised.value) == "RequestId: r1 Error: Runtime exited with error: signal: segmentation fault"
    with pytest.raises(FunctionError):
        sandboxes.invoke(spec, {}, "r2", lambda text: None)
    assert len(sandboxes.cold_starts[spec.logical_id]) == 2  # a fresh environment for the second


def test_running_past_the_timeout_is_sandbox_timedout(sandboxes):
    spec = _spec("sleep", timeout_seconds=0.5)
    with pytest.raises(FunctionError) as raised:
        sandboxes.invoke(spec, {"seconds": 30}, "r1", lambda text: None)
    assert raised.value.error_type == "Sandbox.Timedout"
    assert str(raised.value) == "RequestId: r1 Error: Task timed out after 0.50 seconds"
    # The same function, given time to answer on a loaded machine: a fresh environment serves the next call.
    patient = dataclasses.replace(spec, timeout_seconds=10)
    assert sandboxes.invoke(patient, {"seconds": 0}, "r2", lambda text: None) == {"slept": 0}


def test_using_more_than_memory_size_is_runtime_out_of_memory(sandboxes):
    spec = _spec("allocate", memory_mb=300)
    with pytest.raises(FunctionError) as raised:
        sandboxes.invoke(spec, {"megabytes": 600}, "r1", lambda text: None)
    assert raised.value.error_type == "Runtime.OutOfMemory"
    assert sandboxes.invoke(spec, {"megabytes": 1}, "r2", lambda text: None) == {"allocated": 1024 * 1024}


def test_a_prewarmed_environment_serves_the_first_invocation_which_reports_its_init(sandboxes):
    # GIVEN an environment started ahead (as the runtime does while it deploys)
    spec = _spec("echo")
    sandboxes.prewarm([spec])
    started: list[float | None] = []
    report = PlatformReport(started.append)
    # WHEN the first invocation comes, even before that environment is ready
    first = sandboxes.invoke(spec, {"value": 1}, "r1", lambda text: None, report)
    second_report = PlatformReport(started.append)
    second = sandboxes.invoke(spec, {"value": 2}, "r2", lambda text: None, second_report)
    # THEN it waits for that environment instead of starting another, and reports its Init Duration once
    assert first["pid"] == second["pid"]
    assert len(sandboxes.cold_starts[spec.logical_id]) == 1
    assert started[0] is not None and started[0] > 0 and started[1] is None
    assert report.init_ms == started[0] and second_report.init_ms is None
    assert report.max_memory_mb is not None and report.max_memory_mb > 10  # the worker's resident memory, sampled


def test_a_worker_does_not_run_the_parents_main_script_again(tmp_path):
    # GIVEN a parent whose __main__ is a script (as the `rekflow` command's is), which notes each time it is run
    marker = tmp_path / "runs"
    script = tmp_path / "parent.py"
    script.write_text(
        "import os, sys\n"
        f"open({str(marker)!r}, 'a').write(f'{{os.getpid()}}\\n')\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from test_sandbox import _spec, _no_aws\n"
        "from rekflow.local.sandbox import FunctionSandboxes\n"
        "if __name__ == '__main__':\n"
        "    sandboxes = FunctionSandboxes(_no_aws)\n"
        "    print(sandboxes.invoke(_spec('echo'), {'value': 1}, 'r1', lambda text: None)['pid'])\n"
        "    sandboxes.close()\n",
        encoding="utf-8",
    )
    # WHEN it invokes a function in a worker
    finished = subprocess.run(  # noqa: S603 - this interpreter on the script written above
        [sys.executable, str(script)], capture_output=True, text=True, check=True, timeout=120
    )
    # THEN the worker ran the handler without running the parent's script (multiprocessing's default runs it again)
    worker_pid = finished.stdout.split()[-1]
    runs = marker.read_text(encoding="utf-8").split()
    assert len(runs) == 1 and runs[0] != worker_pid
