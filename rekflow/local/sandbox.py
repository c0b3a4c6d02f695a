"""Each Lambda function in worker processes of its own, as Lambda runs it in execution environments.

A worker is one execution environment: it imports the handler once (its init, reported as Lambda's
Init Duration) and stays warm between invocations, with its own environment variables, module state
and temporary folder. Concurrent invocations of one function get one worker each, started on demand.
The handler's AWS calls come back to this process over the worker's pipe and run here, on the local
stack and its stand-ins (Rekognition backend, S3 permission model, planned faults), as the function
named in `current_function`; nothing in the worker talks to moto.

What Lambda does when a handler goes wrong, and what the state machine then sees (the invocation's
errorType is the TaskFailed error name for arn:aws:states:::lambda:invoke):
- the process dies (a native decoder's segfault): `Runtime.ExitError`, "Runtime exited with error:
  signal: segmentation fault" (awslabs/amazon-s3-find-and-forget PR #283; LocalStack's AWS-recorded
  snapshot tests/aws/services/lambda_/test_lambda.snapshot.json);
- it uses more than MemorySize: `Runtime.OutOfMemory` (awslabs/aws-deployment-framework #758);
- it runs past Timeout: `Sandbox.Timedout`, "Task timed out after N seconds" (aws/aws-durable-execution-docs
  #281, 2026; the message as Lambda logs it: alexa-samples/skill-sample-nodejs-smarthome-switch #18).
  Step Functions' own page (bp-lambda-serviceexception) still says Lambda.Unknown, from before 2024.
In each case the environment is discarded, and the next invocation runs init again.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing import context as mp_context
from multiprocessing import forkserver, popen_forkserver, reduction, spawn, util
from typing import Any

# (service, operation, API parameters) -> the parsed answer, or raises botocore's ClientError
AwsCall = Callable[[str, str, dict[str, Any]], dict[str, Any]]

# How often the parent looks at a running worker's memory, in seconds.
MEMORY_CHECK_SECONDS = 0.02
_STREAM = "__rekflow_stream__"
_SIGNAL_WORDS = {  # Go's names for signals, as Lambda's runtime messages write them
    signal.SIGSEGV: "segmentation fault",
    signal.SIGKILL: "killed",
    signal.SIGABRT: "aborted",
    signal.SIGBUS: "bus error",
    signal.SIGFPE: "floating point exception",
    signal.SIGILL: "illegal instruction",
}


class FunctionError(Exception):
    """An invocation that failed; `error_type` is the errorType Lambda reports."""

    def __init__(self, error_type: str, message: str, stack_trace: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.stack_trace = stack_trace or []


@dataclass(frozen=True)
class FunctionSpec:
    """What a worker needs to be the function's execution environment."""

    logical_id: str
    name: str
    arn: str
    memory_mb: int
    timeout_seconds: float
    code_dir: str
    module_name: str
    handler_name: str
    environment: dict[str, str] = field(default_factory=dict)


class Worker:
    """One execution environment: a process with the handler imported, and the parent's end of its pipe."""

    def __init__(self, spec: FunctionSpec, context: Any) -> None:
        self.spec = spec
        parent, child = multiprocessing.Pipe()
        self.conn = parent
        self.tmp = tempfile.mkdtemp(prefix=f"rekflow-{spec.logical_id}-")
        self.process = _WorkerProcess(target=_worker_main, args=(child, spec, self.tmp), daemon=True)
        forkserver.ensure_running()  # the fork server's own start (once per process) is no function's init
        started = time.perf_counter()
        self.process.start()
        child.close()
        self.init_ms: float | None = None
        self.init_error: FunctionError | None = None
        self.init_reported = False  # the first invocation of an environment reports its Init Duration
        self.peak_mb = 0  # the largest RSS sampled during the last invocation
        message = self._receive_init(started)
        if message[0] == "init_error":
            self.init_error = FunctionError(message[1], message[2], message[3])

    def _receive_init(self, started: float) -> tuple[Any, ...]:
        # Lambda's init phase is bounded by 10 s; a worker that neither answers nor dies is a stuck init.
        deadline = started + max(10.0, self.spec.timeout_seconds)
        while time.perf_counter() < deadline:
            if self.conn.poll(0.05):
                try:
                    message: tuple[Any, ...] = self.conn.recv()
                except EOFError:
                    return _init_error(_death(self.process, ""))
                # The environment's own init, as it timed it (from its start to the handler imported): the wait for
                # a fork server still importing its preload is no function's init. The time seen here otherwise.
                own = message[1] if message[0] == "ready" and len(message) > 1 else None
                self.init_ms = own if own is not None else (time.perf_counter() - started) * 1000
                return message
            if not self.process.is_alive():
                return _init_error(_death(self.process, ""))
        self.kill()
        return ("init_error", "Sandbox.Timedout", "Init timed out", [])

    def invoke(self, event: Any, request_id: str, call_aws: AwsCall, write: Callable[[str], object]) -> Any:
        """The handler's answer; raises FunctionError when it failed. After a FunctionError of the
        environment's own (crash, memory, timeout) the worker is dead and must be dropped."""
        started = time.perf_counter()
        deadline = started + self.spec.timeout_seconds
        self.peak_mb = 0
        self.conn.send(("invoke", event, request_id, time.time() + self.spec.timeout_seconds))
        while True:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                self.kill()
                raise FunctionError(
                    "Sandbox.Timedout",
                    f"RequestId: {request_id} Error: Task timed out after {self.spec.timeout_seconds:.2f} seconds",
                )
            if not self.conn.poll(min(MEMORY_CHECK_SECONDS, remaining)):
                used = self._sample_memory()
                if used > self.spec.memory_mb:
                    self.kill()
                    raise FunctionError(
                        "Runtime.OutOfMemory",
                        f"RequestId: {request_id} Error: Runtime exited with error: signal: killed",
                    )
                if not self.process.is_alive():
                    raise _death(self.process, request_id)
                continue
            try:
                message = self.conn.recv()
            except (EOFError, ConnectionResetError):
                self.process.join(1)
                raise _death(self.process, request_id) from None
            kind = message[0]
            if kind == "log":
                write(message[1])
            elif kind == "call":
                self.conn.send(_answer(call_aws, *message[1:]))
            elif kind == "result":
                self._sample_memory()
                return message[1]
            elif kind == "error":
                self._sample_memory()
                raise FunctionError(message[1], message[2], message[3])

    def _sample_memory(self) -> int:
        """The worker's resident memory now, in MB, kept as the invocation's peak if higher (Max Memory Used)."""
        used = _rss_mb(self.process.pid)
        self.peak_mb = max(self.peak_mb, used)
        return used

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        self.conn.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def close(self) -> None:
        if self.process.is_alive():
            with contextlib.suppress(OSError):
                self.conn.send(("stop",))
            self.process.join(2)
        self.kill()


@dataclass
class PlatformReport:
    """What the platform reports of one invocation beyond its answer, for the function's log
    (rekflow.local.function_logs frames it in INIT_REPORT, START, END and REPORT lines)."""

    # Called once the invocation's environment is ready, before the handler runs, with the Init Duration
    # (ms) when the environment was started for this invocation: Lambda logs INIT_REPORT before START.
    on_start: Callable[[float | None], None]
    init_ms: float | None = None
    max_memory_mb: int | None = None  # the largest resident memory sampled while it ran


class FunctionSandboxes:
    """Workers for every function of a runtime: an idle one is reused, none idle starts another."""

    def __init__(self, call_aws: AwsCall) -> None:
        self.call_aws = call_aws
        self._idle: dict[str, list[Worker]] = {}
        self._all: list[Worker] = []
        self._starting: dict[str, int] = {}  # by logical id: environments prewarm() is starting
        self._waiting: dict[str, int] = {}  # by logical id: invocations waiting for one of those
        self._changed = threading.Condition()
        self._prewarming: threading.Thread | None = None
        self._closed = False
        self.cold_starts: dict[str, list[float]] = {}  # logical id -> each cold start's init, in ms
        self._context = _context()

    def start_fork_server(self) -> None:
        """Start the fork server in the background (the environment it imports its preload in is this process's
        now): its imports then run on another core while the caller goes on."""
        threading.Thread(target=forkserver.ensure_running, name="rekflow-fork-server", daemon=True).start()

    def prewarm(self, specs: list[FunctionSpec]) -> None:
        """Start one environment for each of `specs` in the background, while the caller does something else
        (the runtime deploys): the fork server's start and each handler's init then overlap the deploy on
        another core instead of delaying the first invocations. Each is an on-demand environment all the
        same: the first invocation that gets it reports its Init Duration."""
        with self._changed:
            for spec in specs:
                self._starting[spec.logical_id] = self._starting.get(spec.logical_id, 0) + 1
        self._prewarming = threading.Thread(target=self._start_all, args=(specs,), name="rekflow-prewarm", daemon=True)
        self._prewarming.start()

    def _start_all(self, specs: list[FunctionSpec]) -> None:
        for spec in specs:
            worker = None
            try:
                if not self._closed:
                    worker = Worker(spec, self._context)
            finally:
                with self._changed:
                    self._starting[spec.logical_id] -= 1
                    if worker is not None:
                        self._all.append(worker)
                        if worker.init_error is None and not self._closed:
                            self._idle.setdefault(spec.logical_id, []).append(worker)
                    self._changed.notify_all()
            if worker is not None and worker.init_error is not None:
                self._drop(worker)  # an invocation starts its own, and reports the init error as it happens

    def invoke(
        self,
        spec: FunctionSpec,
        event: Any,
        request_id: str,
        write: Callable[[str], object],
        report: PlatformReport | None = None,
    ) -> Any:
        worker = self._acquire(spec)
        init_ms = None if worker.init_reported else worker.init_ms
        worker.init_reported = True
        if init_ms is not None:
            with self._changed:
                self.cold_starts.setdefault(spec.logical_id, []).append(init_ms)
        if report is not None:
            report.init_ms = init_ms
            report.on_start(init_ms)
        if worker.init_error is not None:
            self._drop(worker)
            raise worker.init_error
        try:
            answer = worker.invoke(event, request_id, self.call_aws, write)
        except FunctionError as error:
            if not worker.process.is_alive():
                self._drop(worker)  # the next invocation gets a fresh environment, and runs init again
            else:
                self._release(worker)
            raise error from None
        finally:
            if report is not None:
                report.max_memory_mb = worker.peak_mb
        self._release(worker)
        return answer

    def _acquire(self, spec: FunctionSpec) -> Worker:
        """An idle environment of the function; else one prewarm() is starting, if no other invocation waits
        for it; else a new one, started here (the invocation's cold start)."""
        key = spec.logical_id
        with self._changed:
            while True:
                idle = self._idle.get(key)
                if idle:
                    return idle.pop()
                if self._starting.get(key, 0) <= self._waiting.get(key, 0):
                    break
                self._waiting[key] = self._waiting.get(key, 0) + 1
                try:
                    self._changed.wait()
                finally:
                    self._waiting[key] -= 1
        worker = Worker(spec, self._context)
        with self._changed:
            self._all.append(worker)
        return worker

    def _release(self, worker: Worker) -> None:
        with self._changed:
            self._idle.setdefault(worker.spec.logical_id, []).append(worker)
            self._changed.notify_all()

    def _drop(self, worker: Worker) -> None:
        worker.kill()
        with self._changed:
            if worker in self._all:
                self._all.remove(worker)

    def cpu_seconds(self) -> float:
        """The CPU seconds the live workers have used (user and system), for benchmarks."""
        with self._changed:
            pids = [worker.process.pid for worker in self._all]
        return sum(_cpu_seconds(pid) for pid in pids)

    def close(self) -> None:
        with self._changed:
            self._closed = True
        if self._prewarming is not None:
            self._prewarming.join()
        with self._changed:
            workers, self._all, self._idle = self._all, [], {}
        for worker in workers:
            worker.close()


def _init_error(error: FunctionError) -> tuple[str, str, str, list[str]]:
    return ("init_error", error.error_type, str(error), error.stack_trace)


def _death(process: Any, request_id: str) -> FunctionError:
    code = process.exitcode
    prefix = f"RequestId: {request_id} Error: " if request_id else ""
    if code is not None and code < 0:
        words = _SIGNAL_WORDS.get(signal.Signals(-code), signal.Signals(-code).name)
        reason = f"signal: {words}"
    else:
        reason = f"exit status {code}"
    return FunctionError("Runtime.ExitError", f"{prefix}Runtime exited with error: {reason}")


def _rss_mb(pid: int | None) -> int:
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // (1024 * 1024)
    except (OSError, ValueError, IndexError):
        return 0


def _cpu_seconds(pid: int | None) -> float:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime (proc(5))
    except (OSError, ValueError, IndexError):
        return 0.0


def _answer(call_aws: AwsCall, service: str, operation: str, params: dict[str, Any]) -> tuple[Any, ...]:
    from botocore.exceptions import ClientError
    from botocore.response import StreamingBody

    try:
        parsed = call_aws(service, operation, params)
    except ClientError as error:
        return ("aws_error", error.response)
    except Exception as error:  # a parameter the model refuses, and the like: the caller's botocore raises it
        return ("aws_exception", type(error).__name__, str(error))
    return (
        "aws_answer",
        {k: (_STREAM, v.read()) if isinstance(v, StreamingBody) else v for k, v in parsed.items()},
    )


def _context() -> Any:
    # A fork server imports the common modules once; each worker is then a fork of a clean,
    # single-threaded process (forking this one, with moto's threads and locks, is unsafe).
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["rekflow.local.sandbox_preload"])
    return context


class _WithoutMain(popen_forkserver.Popen):
    """A fork server's child that does not run the parent's __main__ again.

    multiprocessing hands every child the parent's main module to import (as __mp_main__), for a
    target defined there. A worker's target is in this module, and the parent's main is the CLI
    (`rekflow`, or pytest): importing it again cost every cold start about half a second of
    imports (moto, the CLI's commands) that the handler never uses, as Lambda's init would not.
    This is popen_forkserver.Popen._launch (CPython 3.11-3.13) with those two entries dropped."""

    def _launch(self, process_obj: Any) -> None:
        prep_data = spawn.get_preparation_data(process_obj._name)
        prep_data.pop("init_main_from_name", None)
        prep_data.pop("init_main_from_path", None)
        buf = io.BytesIO()
        mp_context.set_spawning_popen(self)
        try:
            reduction.dump(prep_data, buf)
            reduction.dump(process_obj, buf)
        finally:
            mp_context.set_spawning_popen(None)
        self.sentinel, w = forkserver.connect_to_new_process(self._fds)  # type: ignore[attr-defined]  # set by Popen.__init__
        _parent_w = os.dup(w)  # the child's sentinel of its parent, as in _launch
        self.finalizer = util.Finalize(self, util.close_fds, (_parent_w, self.sentinel))  # type: ignore[attr-defined]  # untyped
        with open(w, "wb", closefd=True) as f:
            f.write(buf.getbuffer())
        self.pid = forkserver.read_signed(self.sentinel)


class _WorkerProcess(mp_context.ForkServerProcess):
    @staticmethod
    def _Popen(process_obj: Any) -> Any:
        return _WithoutMain(process_obj)


# ---------------------------------------------------------------------------------------------- the worker
class _Relay(io.TextIOBase):
    """The worker's stdout and stderr: every write goes to the parent, which puts it in the function's log."""

    def __init__(self, conn: multiprocessing.connection.Connection, lock: threading.Lock) -> None:
        self._conn = conn
        self._lock = lock

    def write(self, text: str) -> int:
        with self._lock:
            self._conn.send(("log", text))
        return len(text)

    def writable(self) -> bool:
        return True


def _worker_main(conn: multiprocessing.connection.Connection, spec: FunctionSpec, tmp: str) -> None:
    started = time.perf_counter()
    os.environ.clear()
    os.environ.update(spec.environment)
    os.environ.update(
        {
            "TMPDIR": tmp,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        }
    )
    tempfile.tempdir = None
    lock = threading.Lock()
    sys.stdout = sys.stderr = _Relay(conn, lock)
    _forward_aws_calls(conn, lock)
    sys.path.insert(0, spec.code_dir)
    try:
        import importlib

        module = importlib.import_module(spec.module_name)
        handler = getattr(module, spec.handler_name)
    except Exception as error:  # Lambda reports a failed init as Runtime.ImportModuleError or the exception
        conn.send(("init_error", "Runtime.ImportModuleError", str(error), traceback.format_exception(error)))
        return
    conn.send(("ready", (time.perf_counter() - started) * 1000))
    from rekflow.local.lambda_context import LambdaContext

    while True:
        message = conn.recv()
        if message[0] == "stop":
            return
        _, event, request_id, deadline = message
        context = LambdaContext(spec.name, spec.arn, spec.memory_mb, request_id, deadline=deadline)
        try:
            answer = handler(event, context)
        except Exception as error:  # Lambda reports any uncaught exception as an Unhandled function error
            sys.stdout.flush()
            with lock:
                conn.send(("error", type(error).__name__, str(error), traceback.format_exception(error)))
            continue
        with lock:
            conn.send(("result", answer))


def _forward_aws_calls(conn: multiprocessing.connection.Connection, lock: threading.Lock) -> None:
    """Every botocore call in the worker goes to the parent (whichever session or client made it)."""
    import botocore.client
    from botocore.response import StreamingBody

    def make_api_call(self: Any, operation_name: str, api_params: dict[str, Any]) -> dict[str, Any]:
        service = self.meta.service_model.service_name
        with lock:
            conn.send(("call", service, operation_name, api_params))
            reply = conn.recv()
        if reply[0] == "aws_error":
            code = reply[1].get("Error", {}).get("Code", "")
            raise self.exceptions.from_code(code)(reply[1], operation_name)
        if reply[0] == "aws_exception":
            raise RuntimeError(f"{reply[1]}: {reply[2]}")
        parsed: dict[str, Any] = {}
        for key, value in reply[1].items():
            if isinstance(value, tuple) and len(value) == 2 and value[0] == _STREAM:
                parsed[key] = StreamingBody(io.BytesIO(value[1]), len(value[1]))
            else:
                parsed[key] = value
        return parsed

    botocore.client.BaseClient._make_api_call = make_api_call
