"""Fixtures of the deploy-readiness gate (tests/deploy)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.deploy.tools import transformed_template


@pytest.fixture
def transformed() -> dict[str, Any]:
    """template.yaml as the SAM transform turns it into CloudFormation."""
    return transformed_template()
