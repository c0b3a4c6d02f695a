"""The context object a handler is given: the attributes of Lambda's that the handlers and Powertools read."""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    function_version: str = "$LATEST"
    deadline: float | None = None  # epoch seconds when the function's Timeout runs out

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"local/{self.aws_request_id}"

    def get_remaining_time_in_millis(self) -> int:
        if self.deadline is None:
            return 30_000
        return max(0, int((self.deadline - time.time()) * 1000))
