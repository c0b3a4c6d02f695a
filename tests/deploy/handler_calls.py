"""The AWS calls a function's code makes, each with the environment variables that name its resources.

Read from the handler's modules with ast, as tests/unit/test_template.py reads the actions: a method of a boto3
client that botocore's service model knows is a call. Each keyword argument that is a module constant read from
the environment (NAME = os.environ["VAR"]), or a parameter some call of these modules sets to one
(bucket=RESULTS_BUCKET), is named by its variable; any other argument came with the event.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import botocore.session

from tests.unit.test_template import (
    HANDLER_ACTION_OVERRIDES,
    TELLS_MISSING_FROM_DENIED,
    environ_constants,
    handler_sources,
)


@dataclass(frozen=True)
class Call:
    action: str  # the IAM action the call needs
    arguments: dict[str, str | None] = field(default_factory=dict)  # request member -> environment variable


def client_calls(code_dir: Path, handler_module: str) -> list[Call]:
    trees = [ast.parse(path.read_text(encoding="utf-8")) for path in handler_sources(code_dir, handler_module)]
    constants: dict[str, str] = {}
    for tree in trees:
        constants |= environ_constants(tree)
    nodes = [n for tree in trees for n in ast.walk(tree) if isinstance(n, ast.Call)]
    # Parameters that calls in these modules set from the environment: collect(..., bucket=RESULTS_BUCKET).
    parameters = {
        k.arg: constants[k.value.id]
        for n in nodes
        for k in n.keywords
        if k.arg and isinstance(k.value, ast.Name) and k.value.id in constants
    }
    session = botocore.session.get_session()
    clients = {
        n.args[0].value
        for n in nodes
        if getattr(n.func, "attr", "") == "client" and n.args and isinstance(n.args[0], ast.Constant)
    }
    calls = []
    for service in sorted(clients):
        model = session.get_service_model(service)
        by_method = {botocore.xform_name(op): op for op in model.operation_names}
        for node in nodes:
            method = getattr(node.func, "attr", "")
            if method not in by_method:
                continue
            arguments = {
                k.arg: (constants.get(k.value.id) or parameters.get(k.value.id))
                if isinstance(k.value, ast.Name)
                else None
                for k in node.keywords
                if k.arg
            }
            action = f"{model.signing_name}:{by_method[method]}"
            calls.append(Call(HANDLER_ACTION_OVERRIDES.get(action, action), arguments))
            if action in TELLS_MISSING_FROM_DENIED:
                calls.append(Call(TELLS_MISSING_FROM_DENIED[action], arguments))
            if service == "s3" and any(k.arg == "VersionId" or k.arg is None for k in node.keywords):
                calls.append(Call("s3:GetObjectVersion", arguments))
    return calls
