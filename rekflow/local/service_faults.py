"""Planned errors from the AWS services the state machine writes to, for tests and drills.

"The next PutObject to the results bucket answers 503 SlowDown": the call never reaches moto,
and botocore raises the error as it would for AWS's answer, so the interpreter names it the way
Step Functions does (S3.S3Exception, DynamoDB.ProvisionedThroughputExceededException, ...).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.session import Session

from rekflow.local.routing import api_params


@dataclass
class PlannedFault:
    code: str
    status: int
    remaining: int
    applies: Callable[[dict[str, Any]], bool]


_LAMBDA_INVOKE = "before-call.lambda.Invoke"


class ServiceFaults:
    """Errors planned per `service.Operation`, taken in order by the calls they apply to."""

    def __init__(self, session: Session) -> None:
        # Registered for every call at once: a client copies the session's hooks when it is made,
        # and the interpreter's clients are made once and reused.
        self._session = session
        self._lock = threading.Lock()
        self._planned: dict[str, list[PlannedFault]] = {}
        self.failed: dict[str, int] = {}
        session.register("before-call", self._answer)
        # The router answers lambda.Invoke from a handler of that exact event, which botocore calls before the
        # generic one: a fault planned for Invoke must come first there.
        session.get_component("event_emitter").register_first(_LAMBDA_INVOKE, self._answer)

    def inject(
        self,
        service: str,
        operation: str,
        code: str,
        *,
        status: int = 400,
        times: int = 1,
        when: Callable[[dict[str, Any]], bool] = lambda params: True,
    ) -> None:
        """Answer the next `times` calls of service.Operation whose parameters satisfy `when` with `code`."""
        with self._lock:
            self._planned.setdefault(f"{service}.{operation}", []).append(PlannedFault(code, status, times, when))

    def clear(self) -> None:
        with self._lock:
            self._planned.clear()

    def uninstall(self) -> None:
        self.clear()
        self._session.unregister("before-call", self._answer)
        self._session.unregister(_LAMBDA_INVOKE, self._answer)

    def _answer(self, model: Any, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if not self._planned:
            return None
        event = f"{model.service_model.service_name}.{model.name}"
        params = api_params(context)
        with self._lock:
            fault = next((f for f in self._planned.get(event, []) if f.remaining > 0 and f.applies(params)), None)
            if fault is None:
                return None
            fault.remaining -= 1
            self.failed[event] = self.failed.get(event, 0) + 1
        parsed = {
            "Error": {"Code": fault.code, "Message": f"Injected {fault.code} for {model.name}."},
            "ResponseMetadata": {
                "RequestId": str(uuid.uuid4()),
                "HTTPStatusCode": fault.status,
                "HTTPHeaders": {},
                "RetryAttempts": 0,
            },
        }
        return AWSResponse("https://local.rekflow", fault.status, {}, None), parsed
