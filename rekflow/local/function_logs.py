"""Each in-process Lambda function's output in a log file of its own, as CloudWatch Logs holds it.

On Lambda, whatever a function writes to stdout or stderr (Powertools' JSON log lines, its EMF
metric blobs, warnings, an unhandled error's traceback) lands in the function's log group. The
local runtime runs every handler in this process, so that output would reach the terminal and,
under `rekflow analyze --json`, mix with the rows on stdout. Here it goes to
`<folder>/<FunctionLogicalId>.log` instead, with Lambda's START, END and REPORT lines around each
invocation:

    with FunctionLogs(Path("rekflow-results/logs")) as logs, LocalRuntime("fixture") as runtime:
        logs.attach(function_by_logical_id(runtime))
        runtime.run(...)

Entered before the runtime, the logs close after it: the runtime's pollers may still invoke a
function until it exits.

Routing is per function, not a global redirect: `sys.stdout`, `sys.stderr` and the Powertools
loggers' stream handlers are wrapped by a stream that sends a write to a function's log only when
it comes from that function's handler (the `current_function` its invocation sets); every other
write, such as the CLI's own rows from its threads, passes through to the stream that was there.
Powertools' Logger writes to the `sys.stdout` it found when the first Logger of its service was
created, hence the handlers; Metrics prints EMF with `print()`, hence `sys.stdout`. The runtime sets
POWERTOOLS_METRICS_DISABLED, but Powertools then never clears a metric set and still prints it
whenever one metric holds 100 values, so those blobs are routed too.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from rekflow.local.functions import LocalFunction, current_function, platform_report
from rekflow.local.sandbox import PlatformReport

if TYPE_CHECKING:
    from rekflow.local.runtime import LocalRuntime

# echo(logical_id, line): called for each line written to a log, e.g. to show it on stderr.
Echo = Callable[[str, str], None]


def function_by_logical_id(runtime: LocalRuntime) -> dict[str, LocalFunction]:
    """The runtime's in-process functions, keyed by their logical ids in template.yaml."""
    return {
        logical_id: runtime.function(logical_id)
        for logical_id in runtime.template.resources_of_type("AWS::Serverless::Function")
    }


class FunctionLogs:
    """Entered, and given functions with attach(): every attached function's output goes to
    `<folder>/<LogicalId>.log` (written afresh), and to `echo` as well if given. Closing puts back
    every stream, handler and level it changed."""

    def __init__(self, folder: Path, echo: Echo | None = None) -> None:
        self.folder = folder
        self.echo = echo
        self.functions: dict[str, LocalFunction] = {}
        self._ids: dict[int, str] = {}
        self._files: dict[str, IO[str]] = {}
        self._partial: dict[tuple[int, str], str] = {}  # (thread, logical id): a line not yet ended
        self._lock = threading.Lock()
        self._local = threading.local()  # .echoing: this thread is inside echo, whose writes pass through
        self._undo: list[Callable[[], None]] = []
        self.closed = True

    def path(self, logical_id: str) -> Path:
        return self.folder / f"{logical_id}.log"

    # ------------------------------------------------------------------ open and close
    def __enter__(self) -> FunctionLogs:
        self.closed = False
        self._route_std_streams()
        return self

    def attach(self, functions: Mapping[str, LocalFunction]) -> None:
        """Log these functions (by logical id) from now on."""
        assert not self.closed, "attach() goes inside the with block"
        self.folder.mkdir(parents=True, exist_ok=True)
        seen_handlers: set[int] = set()
        for logical_id, function in functions.items():
            # Line-buffered: a log can be followed (tail -f) while the workflow runs.
            self._files[logical_id] = self.path(logical_id).open("w", encoding="utf-8", buffering=1)
            for logger in _powertools_loggers(function):
                self._route_logger(logger, seen_handlers)
            self._frame_invocations(logical_id, function)
            self.functions[logical_id] = function
            self._ids[id(function)] = logical_id

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self.closed:
            return
        with self._lock:
            self.closed = True  # from here on, a wrapper that cannot be removed passes writes through
            for (_, logical_id), partial in self._partial.items():
                self._files[logical_id].write(partial + "\n")
            self._partial.clear()
        while self._undo:
            self._undo.pop()()
        for file in self._files.values():
            file.close()
        self._files.clear()

    def _route_std_streams(self) -> None:
        for name in ("stdout", "stderr"):
            original = getattr(sys, name)
            routed = _RoutedStream(self, original)
            setattr(sys, name, routed)

            def put_back(name: str = name, original: IO[str] = original, routed: _RoutedStream = routed) -> None:
                if getattr(sys, name) is routed:  # not if someone wrapped it since; it passes through now
                    setattr(sys, name, original)

            self._undo.append(put_back)

    def _route_logger(self, logger: Logger, seen_handlers: set[int]) -> None:
        # A logger that an earlier runtime in this process configured keeps the level it got then;
        # take this runtime's LOG_LEVEL, as a fresh Lambda environment would.
        stdlib_logger = logging.getLogger(logger.name)
        level = stdlib_logger.level
        logger.setLevel(os.environ.get("LOG_LEVEL"))
        self._undo.append(lambda: stdlib_logger.setLevel(level))
        handler = logger.registered_handler
        if not isinstance(handler, logging.StreamHandler) or id(handler) in seen_handlers:
            return
        seen_handlers.add(id(handler))
        # Swapped as it is, not with setStream(), which flushes the stream it replaces: that can be
        # a stream closed since (the stdout of the test that created the first Logger).
        with _locked(handler):
            original = handler.stream
            routed = _RoutedStream(self, original)
            handler.stream = routed

        def put_back() -> None:
            with _locked(handler):
                if handler.stream is routed:
                    handler.stream = original

        self._undo.append(put_back)

    def _frame_invocations(self, logical_id: str, function: LocalFunction) -> None:
        """START, END and REPORT around each invocation, and an unhandled error as Lambda logs it.

        Powertools' inject_lambda_context puts the invocation's keys (function_request_id,
        function_name, cold_start…) in its formatter, which every function of the service shares
        here and which concurrent invocations overwrite; the same keys set per thread take
        precedence, so each line names the invocation that wrote it."""
        handler = getattr(function.module, function.handler_name)
        loggers = _powertools_loggers(function)
        invoked = threading.Event()  # a function's first invocation in this runtime is its cold start

        @functools.wraps(handler)
        def logged(event: Any, context: Any) -> Any:
            request = context.aws_request_id
            keys = {
                "cold_start": not invoked.is_set(),
                "function_name": context.function_name,
                "function_memory_size": context.memory_limit_in_mb,
                "function_arn": context.invoked_function_arn,
                "function_request_id": request,
            }
            invoked.set()
            outer = [logger.thread_safe_get_current_keys() for logger in loggers]
            for logger in loggers:
                logger.thread_safe_append_keys(**keys)
            started: list[float] = []

            def start(init_ms: float | None) -> None:
                # On Lambda a cold start's INIT_REPORT comes before the invocation's START.
                if init_ms is not None:
                    self.write_line(logical_id, f"INIT_REPORT Init Duration: {init_ms:.2f} ms")
                self.write_line(logical_id, f"START RequestId: {request} Version: {context.function_version}")
                started.append(time.perf_counter())

            report = PlatformReport(start)
            if not function.in_worker:
                start(None)  # in this process the handler runs now; a worker calls start once it is ready
            reporting = platform_report.set(report)
            try:
                return handler(event, context)
            except Exception as error:
                if not started:
                    start(None)
                self.write_line(logical_id, f"[ERROR] {type(error).__name__}: {error}")
                handler_frames = error.__traceback__.tb_next if error.__traceback__ else None  # not this one
                for line in "".join(traceback.format_exception(type(error), error, handler_frames)).splitlines():
                    self.write_line(logical_id, line)
                raise
            finally:
                platform_report.reset(reporting)
                if not started:
                    start(None)
                self._end_partial_line(logical_id)
                self.write_line(logical_id, f"END RequestId: {request}")
                self.write_line(logical_id, _report_line(request, context, report, time.perf_counter() - started[0]))
                for logger, keys_before in zip(loggers, outer, strict=True):
                    logger.thread_safe_clear_keys()
                    logger.thread_safe_append_keys(**keys_before)

        setattr(function.module, function.handler_name, logged)
        self._undo.append(lambda: setattr(function.module, function.handler_name, handler))

    # ------------------------------------------------------------------ writing
    def routed_here(self) -> str | None:
        """The logical id whose log a write from this thread belongs to, or None to pass it through."""
        function = current_function.get()
        if function is None or self.closed or getattr(self._local, "echoing", False):
            return None
        return self._ids.get(id(function))

    def write(self, logical_id: str, text: str) -> None:
        """Text a function wrote; whole lines go to its log (a print's text and its newline come as
        two writes, and other threads write to the same log between them)."""
        key = (threading.get_ident(), logical_id)
        with self._lock:
            if self.closed:
                return
            pending = self._partial.pop(key, "") + text
            *lines, rest = pending.split("\n")
            if rest:
                self._partial[key] = rest
            for line in lines:
                self._files[logical_id].write(line + "\n")
        self._echo(logical_id, lines)

    def write_line(self, logical_id: str, line: str) -> None:
        with self._lock:
            if self.closed:
                return
            self._files[logical_id].write(line + "\n")
        self._echo(logical_id, [line])

    def _end_partial_line(self, logical_id: str) -> None:
        key = (threading.get_ident(), logical_id)
        with self._lock:
            partial = self._partial.pop(key, None)
        if partial is not None:
            self.write_line(logical_id, partial)

    def _echo(self, logical_id: str, lines: list[str]) -> None:
        if not self.echo or not lines:
            return
        self._local.echoing = True
        try:
            for line in lines:
                self.echo(logical_id, line)
        finally:
            self._local.echoing = False


def _report_line(request: str, context: Any, report: PlatformReport, seconds: float) -> str:
    """Lambda's REPORT line: "REPORT RequestId: ... Duration: 395.99 ms Billed Duration: 662 ms Memory Size:
    512 MB Max Memory Used: 301 MB Init Duration: 265.72 ms", Init Duration on a cold start only (the line as
    CloudWatch shows it: https://github.com/open-telemetry/opentelemetry-lambda/pull/2011). Duration is the
    handler's own time; Max Memory Used, the largest resident memory of the worker sampled while it ran (not
    known for a handler run in this process). No Billed Duration: nothing is billed here."""
    fields = [f"REPORT RequestId: {request}", f"Duration: {seconds * 1000:.2f} ms"]
    fields.append(f"Memory Size: {context.memory_limit_in_mb} MB")
    if report.max_memory_mb is not None:
        fields.append(f"Max Memory Used: {report.max_memory_mb} MB")
    if report.init_ms is not None:
        fields.append(f"Init Duration: {report.init_ms:.2f} ms")
    return "\t".join(fields)


class _RoutedStream:
    """A text stream that sends a write from a logged function to its log, any other to `fallback`."""

    def __init__(self, logs: FunctionLogs, fallback: IO[str]) -> None:
        self._logs = logs
        self._fallback = fallback

    def write(self, text: str) -> int:
        logical_id = self._logs.routed_here()
        if logical_id is None:
            return self._fallback.write(text)
        self._logs.write(logical_id, text)
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self._logs.routed_here() is None:
            self._fallback.flush()

    def __getattr__(self, name: str) -> Any:  # encoding, isatty, fileno…: those of the stream it wraps
        return getattr(self._fallback, name)


@contextlib.contextmanager
def _locked(handler: logging.Handler) -> Iterator[None]:
    handler.acquire()
    try:
        yield
    finally:
        handler.release()


def _powertools_loggers(function: LocalFunction) -> list[Logger]:
    return [value for value in vars(function.module).values() if isinstance(value, Logger)]
