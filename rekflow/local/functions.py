"""The Lambda handlers of template.yaml, run as Lambda would run them.

In worker processes of their own by default (rekflow.local.sandbox: a crash, a timeout or running out
of memory costs one invocation, as on Lambda), or in this process (`in_process=True`: the tests that
reach into a handler's module, and the fastest start).
"""

from __future__ import annotations

import contextvars
import importlib.util
import json
import os
import sys
import time
import traceback
import uuid
from dataclasses import dataclass
from types import ModuleType, SimpleNamespace
from typing import Any

from rekflow.local.lambda_context import LambdaContext
from rekflow.local.sandbox import FunctionError, FunctionSandboxes, FunctionSpec, PlatformReport
from rekflow.local.template import Template

# The function whose handler is running on this thread, so that a stand-in service can answer
# as AWS would answer that function's role (see rekflow.local.s3_permissions).
current_function: contextvars.ContextVar[LocalFunction | None] = contextvars.ContextVar(
    "current_function", default=None
)
# What the platform reports of the invocation running on this thread, where a function log frames it
# (rekflow.local.function_logs); a worker's invocation fills it in (rekflow.local.sandbox).
platform_report: contextvars.ContextVar[PlatformReport | None] = contextvars.ContextVar("platform_report", default=None)


@dataclass
class LocalFunction:
    logical_id: str
    name: str
    arn: str
    memory_mb: int
    module: ModuleType | SimpleNamespace  # in a worker process: a stand-in whose handler invokes the worker
    handler_name: str
    timeout_seconds: float = 3.0
    spec: FunctionSpec | None = None  # what its worker processes run (rekflow.local.sandbox); None: in this one

    @property
    def in_worker(self) -> bool:
        return self.spec is not None

    def invoke(self, event: Any) -> tuple[dict[str, Any] | Any, str | None]:
        """(payload, function_error) as Lambda's Invoke reports them."""
        context = LambdaContext(
            self.name, self.arn, self.memory_mb, str(uuid.uuid4()), deadline=time.time() + self.timeout_seconds
        )
        running = current_function.set(self)
        try:
            return getattr(self.module, self.handler_name)(event, context), None
        except FunctionError as error:  # from a worker: its errorType, and its own stack trace
            return {
                "errorMessage": str(error),
                "errorType": error.error_type,
                "stackTrace": error.stack_trace,
            }, "Unhandled"
        except Exception as error:  # Lambda reports any uncaught exception as an Unhandled function error
            return {
                "errorMessage": str(error),
                "errorType": type(error).__name__,
                "stackTrace": traceback.format_exception(error),
            }, "Unhandled"
        finally:
            current_function.reset(running)


def function_environment(template: Template) -> dict[str, str]:
    """The union of every function's environment; one process hosts them all, so they must agree."""
    globals_env = template.body.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    merged: dict[str, str] = {}
    for logical_id, resource in template.resources_of_type("AWS::Serverless::Function").items():
        own = resource["Properties"].get("Environment", {}).get("Variables", {})
        for name, value in {**globals_env, **own}.items():
            resolved = str(template.resolve(value))
            if merged.get(name, resolved) != resolved:
                raise ValueError(f"{logical_id} sets {name}={resolved!r}, another function sets {merged[name]!r}")
            merged[name] = resolved
    return merged


def load_functions(template: Template, sandboxes: FunctionSandboxes | None = None) -> dict[str, LocalFunction]:
    """Each function of the template, keyed by function name and ARN: run by `sandboxes` in worker
    processes of its own, or, without them, with its handler module imported into this process."""
    functions: dict[str, LocalFunction] = {}
    defaults = template.body.get("Globals", {}).get("Function", {})
    for logical_id, resource in template.resources_of_type("AWS::Serverless::Function").items():
        props = resource["Properties"]
        code_dir = (template.path.parent / str(props["CodeUri"])).resolve()
        module_name, handler_name = str(props["Handler"]).rsplit(".", 1)
        memory_mb = int(props.get("MemorySize", defaults.get("MemorySize", 128)))
        timeout_seconds = float(props.get("Timeout", defaults.get("Timeout", 3)))
        arn = template.get_att(logical_id, "Arn")
        if sandboxes is not None:
            spec = FunctionSpec(
                logical_id,
                template.physical_name(logical_id),
                arn,
                memory_mb,
                timeout_seconds,
                str(code_dir),
                module_name,
                handler_name,
                dict(os.environ),  # the runtime's environment, which holds every function's variables
            )
            stand_in = SimpleNamespace(**{handler_name: _in_worker(sandboxes, spec)})
            function = LocalFunction(
                logical_id, spec.name, arn, memory_mb, stand_in, handler_name, timeout_seconds, spec
            )
            functions[function.name] = functions[arn] = function
            continue
        # Sibling modules are imported by plain name, as on Lambda; their names are unique across functions.
        if str(code_dir) not in sys.path:
            sys.path.insert(0, str(code_dir))
        module_spec = importlib.util.spec_from_file_location(
            f"rekflow_lambda_{logical_id}", code_dir / f"{module_name}.py"
        )
        assert module_spec and module_spec.loader, f"cannot load {code_dir}/{module_name}.py"
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        function = LocalFunction(
            logical_id, template.physical_name(logical_id), arn, memory_mb, module, handler_name, timeout_seconds
        )
        functions[function.name] = functions[arn] = function
    return functions


def _in_worker(sandboxes: FunctionSandboxes, spec: FunctionSpec) -> Any:
    def handler(event: Any, context: LambdaContext) -> Any:
        # Written through this thread's stdout, the worker's output reaches the function's log (function_logs).
        return sandboxes.invoke(spec, event, context.aws_request_id, sys.stdout.write, platform_report.get())

    return handler


def decode_payload(payload: bytes | str | None) -> Any:
    if not payload:
        return {}
    return json.loads(payload)
