"""Fixtures of the deploy-readiness gate (tests/deploy), which runs last while its tools run in the background."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.deploy import tools
from tests.deploy.tools import transformed_template

HERE = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)  # before tests/aws moves its tests to the very end
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """tests/deploy runs after the other tests, and the commands its selected tests will run start now, in the
    background (tools.py): by the time the gate's tests come, their results are there. Not under pytest-xdist:
    every worker collects every test (each would start the tools), and the workers keep both cores busy."""
    if hasattr(config, "workerinput"):
        return
    mine = [item for item in items if item.path.parent == HERE]
    items[:] = [item for item in items if item.path.parent != HERE] + mine
    for test_file in sorted({item.path.name for item in mine}):
        for command in tools.commands_of(test_file):
            if Path(command[0]).exists():  # a missing tool: its test skips or fails, saying so
                tools.start(command)


def pytest_sessionfinish() -> None:
    tools.stop()


@pytest.fixture
def transformed() -> dict[str, Any]:
    """template.yaml as the SAM transform turns it into CloudFormation."""
    return transformed_template()
