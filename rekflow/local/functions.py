"""Run the Lambda handlers of template.yaml in this process, as Lambda would run them."""

from __future__ import annotations

import contextvars
import importlib.util
import json
import sys
import traceback
import uuid
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from rekflow.local.template import Template

# The function whose handler is running on this thread, so that a stand-in service can answer
# as AWS would answer that function's role (see rekflow.local.s3_permissions).
current_function: contextvars.ContextVar[LocalFunction | None] = contextvars.ContextVar(
    "current_function", default=None
)


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    function_version: str = "$LATEST"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"local/{self.aws_request_id}"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@dataclass
class LocalFunction:
    logical_id: str
    name: str
    arn: str
    memory_mb: int
    module: ModuleType
    handler_name: str

    def invoke(self, event: Any) -> tuple[dict[str, Any] | Any, str | None]:
        """(payload, function_error) as Lambda's Invoke reports them."""
        context = LambdaContext(self.name, self.arn, self.memory_mb, str(uuid.uuid4()))
        running = current_function.set(self)
        try:
            return getattr(self.module, self.handler_name)(event, context), None
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


def load_functions(template: Template) -> dict[str, LocalFunction]:
    """Import each function's handler module from its CodeUri; keyed by function name and ARN."""
    functions: dict[str, LocalFunction] = {}
    defaults = template.body.get("Globals", {}).get("Function", {})
    for logical_id, resource in template.resources_of_type("AWS::Serverless::Function").items():
        props = resource["Properties"]
        code_dir = (template.path.parent / str(props["CodeUri"])).resolve()
        module_name, handler_name = str(props["Handler"]).rsplit(".", 1)
        # Sibling modules are imported by plain name, as on Lambda; their names are unique across functions.
        if str(code_dir) not in sys.path:
            sys.path.insert(0, str(code_dir))
        spec = importlib.util.spec_from_file_location(f"rekflow_lambda_{logical_id}", code_dir / f"{module_name}.py")
        assert spec and spec.loader, f"cannot load {code_dir}/{module_name}.py"
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        arn = template.get_att(logical_id, "Arn")
        function = LocalFunction(
            logical_id,
            template.physical_name(logical_id),
            arn,
            int(props.get("MemorySize", defaults.get("MemorySize", 128))),
            module,
            handler_name,
        )
        functions[function.name] = functions[arn] = function
    return functions


def decode_payload(payload: bytes | str | None) -> Any:
    if not payload:
        return {}
    return json.loads(payload)
