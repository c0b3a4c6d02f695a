"""Send the AWS calls that have no local service to in-process stand-ins.

botocore emits `before-call.<service>.<Operation>` before it sends a request; a handler that
returns (http_response, parsed) answers the call instead. Lambda.Invoke goes to the handlers
from lambdas/, every Rekognition operation to the vision backend, so moto's own canned
Rekognition never answers, and MediaConvert's CreateJob and GetJob to the local stand-in
(rekflow.local.mediaconvert), which moto lacks.
"""

from __future__ import annotations

import functools
import io
import json
import threading
import uuid
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.response import StreamingBody
from botocore.session import Session

from rekflow.local.functions import LocalFunction, decode_payload
from rekflow.local.mediaconvert import LocalMediaConvert, MediaConvertError
from rekflow.vision.backend import Backend, RekognitionError

_PARAMS_KEY = "rekflow_api_params"


def _remember_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    # before-call and after-call only see the serialised request; keep the API parameters for them.
    context[_PARAMS_KEY] = params


def api_params(context: dict[str, Any]) -> dict[str, Any]:
    """The API parameters of the call a before-call or after-call hook is handling (Router installs the
    hook that keeps them, for every call)."""
    return dict(context.get(_PARAMS_KEY, {}))


def _response(status: int, parsed: dict[str, Any]) -> tuple[AWSResponse, dict[str, Any]]:
    parsed["ResponseMetadata"] = {
        "RequestId": str(uuid.uuid4()),
        "HTTPStatusCode": status,
        "HTTPHeaders": {},
        "RetryAttempts": 0,
    }
    return AWSResponse("https://local.rekflow", status, {}, None), parsed


class Router:
    """Installs the hooks on a botocore session and dispatches to functions and the vision backend."""

    def __init__(self, functions: dict[str, LocalFunction], backend: Backend) -> None:
        self.functions = functions
        self.backend = backend
        self._mediaconvert: LocalMediaConvert | None = None
        self._mediaconvert_lock = threading.Lock()
        self._session: Session | None = None

    @property
    def mediaconvert(self) -> LocalMediaConvert:
        """The MediaConvert stand-in, made on first use: its model and its S3 client are a tenth of a second
        of a runtime's start that only a conversion needs."""
        with self._mediaconvert_lock:
            if self._mediaconvert is None:
                session = self._session
                assert session is not None, "Router.install first"
                # It reads inputs and writes outputs on the local S3 of this session, from its job threads.
                self._mediaconvert = LocalMediaConvert(functools.cache(lambda: session.create_client("s3")))
            return self._mediaconvert

    def install(self, session: Session) -> None:
        self._session = session
        session.register("before-parameter-build", _remember_params)
        session.register("before-call.lambda.Invoke", self._invoke_lambda)
        session.register("before-call.rekognition", self._call_rekognition)
        session.register("before-call.mediaconvert", self._call_mediaconvert)

    def uninstall(self, session: Session) -> None:
        session.unregister("before-parameter-build", _remember_params)
        session.unregister("before-call.lambda.Invoke", self._invoke_lambda)
        session.unregister("before-call.rekognition", self._call_rekognition)
        session.unregister("before-call.mediaconvert", self._call_mediaconvert)
        if self._mediaconvert is not None:
            self._mediaconvert.wait()

    def _invoke_lambda(self, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        params = api_params(context)
        function = self.functions.get(params["FunctionName"])
        if function is None:
            return _response(
                404,
                {
                    "Error": {
                        "Code": "ResourceNotFoundException",
                        "Message": f"Function not found: {params['FunctionName']}",
                    }
                },
            )
        payload, function_error = function.invoke(decode_payload(params.get("Payload")))
        body = json.dumps(payload).encode("utf-8")
        parsed: dict[str, Any] = {
            "StatusCode": 200,
            "ExecutedVersion": "$LATEST",
            "Payload": StreamingBody(io.BytesIO(body), len(body)),
        }
        if function_error:
            parsed["FunctionError"] = function_error
        return _response(200, parsed)

    def _call_rekognition(self, model: Any, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        try:
            return _response(200, self.backend.handle(model.name, api_params(context)))
        except RekognitionError as error:
            # A 4xx/5xx with an Error code makes botocore raise the modelled exception class,
            # which is what Step Functions turns into "Rekognition.<Code>".
            status = 500 if error.code in ("InternalServerError", "ThrottlingException") else 400
            return _response(status, {"Error": {"Code": error.code, "Message": error.message}})

    def _call_mediaconvert(self, model: Any, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        try:
            return _response(
                model.http.get("responseCode", 200), self.mediaconvert.handle(model.name, api_params(context))
            )
        except MediaConvertError as error:
            # Modelled 4xx codes become botocore's exception classes, as the service's own answers would.
            return _response(error.status, {"Error": {"Code": error.code, "Message": str(error)}})
