"""Check a response against Rekognition's output shape in botocore's service model."""

from __future__ import annotations

from typing import Any

import botocore.session
from botocore.validate import ParamValidator

_model = botocore.session.get_session().get_service_model("rekognition")


def shape_errors(operation: str, response: dict[str, Any]) -> str:
    """Empty when `response` fits the operation's output shape; otherwise botocore's report of every mismatch.

    botocore's validator checks members, types, required fields and enums of any shape,
    so it serves for outputs as well as the inputs it is usually run on.
    """
    shape = _model.operation_model(operation).output_shape
    body = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    report = ParamValidator().validate(body, shape)
    return str(report.generate_report()) if report.has_errors() else ""
