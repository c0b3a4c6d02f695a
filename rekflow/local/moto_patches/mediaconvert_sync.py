"""The optimised MediaConvert integration (arn:aws:states:::mediaconvert:createJob[.sync]) for moto's interpreter.

moto 5.2.5 knows the integration only as an unsupported service without .sync. This one follows the
Step Functions guide: Request Response answers CreateJob's response; Run a Job (.sync) waits for the
job and answers with the job as GetJob describes it ({"Job": {...}}); a job that ends in ERROR or
CANCELED fails the task with States.TaskFailed and the job, as JSON, as its cause, as .sync jobs fail
(https://docs.aws.amazon.com/step-functions/latest/dg/connect-to-resource.html#connect-sync). An error
of the API itself is named as the optimised integrations name theirs: "MediaConvert.<modelled exception>"
(README, "Error names in Retry and Catch"). engine.py installs it; the calls themselves go through
botocore to whatever answers MediaConvert (locally rekflow.local.mediaconvert, through the Router).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import botocore.session
from botocore.exceptions import ClientError
from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
    StateTaskServiceCallback,
)
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

from rekflow.local.mediaconvert import jsonable
from rekflow.local.moto_patches.error_names import java_v1_error_name

# The job states after which a .sync task stops waiting (GetJob's Status enum in botocore's model).
FINISHED = {"COMPLETE", "ERROR", "CANCELED"}


def _create_job_members() -> set[str]:
    model = botocore.session.get_session().get_service_model("mediaconvert")
    return set(model.operation_model("CreateJob").input_shape.members)


class StateTaskServiceMediaConvert(StateTaskServiceCallback):
    """mediaconvert:createJob, Request Response or Run a Job (.sync)."""

    def __init__(self) -> None:
        # The Step Functions guide admits waitForTaskToken too ("no specific optimization"); moto's .sync loop also
        # listens on the task's callback endpoint, which exists only with it.
        # moto types the set as set[ResourceCondition], but its patterns are plain str class attributes.
        super().__init__(
            supported_integration_patterns={ResourceCondition.Sync, ResourceCondition.WaitForTaskToken}  # type: ignore[arg-type]
        )

    def _get_supported_parameters(self) -> set[str] | None:
        return _create_job_members() if self.resource.api_action.lower() == "createjob" else None

    def _eval_service_task(
        self, env: Any, resource_runtime_part: Any, normalised_parameters: dict[str, Any], state_credentials: Any
    ) -> None:
        client = boto_client_for(
            region=resource_runtime_part.region, service="mediaconvert", state_credentials=state_credentials
        )
        response = client.create_job(**normalised_parameters)
        response.pop("ResponseMetadata", None)
        env.stack.append(jsonable(response))

    def _build_sync_resolver(
        self, env: Any, resource_runtime_part: Any, normalised_parameters: dict[str, Any], state_credentials: Any
    ) -> Callable[[], Any]:
        client = boto_client_for(
            region=resource_runtime_part.region, service="mediaconvert", state_credentials=state_credentials
        )
        job_id = env.stack.pop()["Job"]["Id"]

        def resolve() -> dict[str, Any] | None:
            job = jsonable(client.get_job(Id=job_id)["Job"])
            if job["Status"] not in FINISHED:
                return None
            if job["Status"] == "COMPLETE":
                return {"Job": job}
            name = StatesErrorNameType.StatesTaskFailed
            raise FailureEventException(
                FailureEvent(
                    env=env,
                    error_name=StatesErrorName(typ=name),
                    event_type=HistoryEventType.TaskFailed,
                    # moto's EventDetails is a total TypedDict; moto itself builds it with the one key that applies.
                    event_details=EventDetails(  # type: ignore[typeddict-item]
                        taskFailedEventDetails=TaskFailedEventDetails(
                            resource=self._get_sfn_resource(),
                            resourceType=self._get_sfn_resource_type(),
                            error=name.to_name(),
                            cause=to_json_str(job),
                        )
                    ),
                )
            )

        return resolve

    def _from_error(self, env: Any, ex: Exception) -> FailureEvent:
        if not isinstance(ex, ClientError):
            return super()._from_error(env=env, ex=ex)

        code = ex.response["Error"]["Code"]
        error = java_v1_error_name("mediaconvert", code)
        metadata = ex.response.get("ResponseMetadata", {})
        cause = (
            f"{ex.response['Error'].get('Message', '')} (Service: AWSMediaConvert; Status Code: "
            f"{metadata.get('HTTPStatusCode')}; Error Code: {code}; Request ID: {metadata.get('RequestId')}; "
            "Proxy: null)"
        )
        return FailureEvent(
            env=env,
            error_name=CustomErrorName(error),
            event_type=HistoryEventType.TaskFailed,
            # moto's EventDetails is a total TypedDict; moto itself builds it with the one key that applies.
            event_details=EventDetails(  # type: ignore[typeddict-item]
                taskFailedEventDetails=TaskFailedEventDetails(
                    error=error,
                    cause=cause,
                    resource=self._get_sfn_resource(),
                    resourceType=self._get_sfn_resource_type(),
                )
            ),
        )
