"""Rekognition Video's asynchronous jobs, offline.

`Start…` answers at once with a JobId and runs the analysis on a worker thread; when it ends,
the completion is published to the job's SNS topic in Rekognition's message shape, and
`Get…` returns the results a page at a time (MaxResults, NextToken). The same
ClientRequestToken joins the job already started, as on AWS: no second job, no second
notification.

`plan()` bends a feature's next job for tests and drills: fail it, leave it running forever,
publish its completion twice, never, or before the workflow can have parked its task token.
`hold_completions_until()` holds every other completion until a condition holds for its JobId
(the tests: until the workflow has parked its task token), so no test races a job against its workflow.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from rekflow.features import VIDEO_FEATURES
from rekflow.vision import limits
from rekflow.vision.backend import RekognitionError
from rekflow.vision.image_input import DECODER_ERRORS, version_argument

# Start operation -> (feature, the API name Rekognition puts in its completion message)
START_OPERATIONS = {f.video.start: (f.name, f.video.api) for f in VIDEO_FEATURES if f.video}
# Get operation -> (feature, key of the result list, key of the model version or None)
GET_OPERATIONS = {f.video.get: (f.name, f.video.items, f.video.model_version) for f in VIDEO_FEATURES if f.video}
MAX_RESULTS = limits.MAX_RESULTS_PER_PAGE


# What reading a video can raise that is the video's fault or S3's, not ours: OpenCV's decoder error, Pillow's
# (a frame handed to an image model), and botocore's for the download. A job that meets one ends FAILED, as on
# AWS; any other exception is a bug here: it is logged, no completion goes out, and Get… raises it again.
def video_read_errors() -> tuple[type[BaseException], ...]:
    """What reading a video (or its S3 object) raises when it cannot be read. OpenCV is imported here, by the
    video jobs that need it, not by every backend's import: it was a tenth of `rekflow analyze`'s start."""
    import cv2

    return (cv2.error, ClientError, BotoCoreError, *DECODER_ERRORS)


LOG = logging.getLogger(__name__)
MAX_VIDEO_BYTES = 10 * 1024**3
NOTIFY_MODES = ("once", "twice", "never", "before_token_stored")
# The longest Start… holds its answer after an early completion, or a completion is held, waiting for
# the condition that releases it; a condition still false then is a broken test, not a slow machine.
RELEASE_TIMEOUT_SECONDS = 30.0
# How often such a condition is checked again (it reads the workflow's state through moto).
RELEASE_CHECK_SECONDS = 0.01


@dataclass(frozen=True)
class VideoAnalysis:
    """What one job found: the result list of its Get… response, and the fields around it."""

    items: list[dict[str, Any]]
    video_metadata: dict[str, Any]
    model_version: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. SelectedSegmentTypes, AudioMetadata


# (feature, video S3Object, Start request) -> VideoAnalysis; raises RekognitionError to fail the job.
Analyse = Callable[[str, dict[str, Any], dict[str, Any]], VideoAnalysis]


@dataclass
class JobPlan:
    status: str = "SUCCEEDED"  # FAILED: the job ends without results; IN_PROGRESS: it never ends
    notify: str = "once"  # once, twice, never, before_token_stored
    # before_token_stored: Start… answers only once this holds for the JobId (e.g. the callback has
    # handled the completion), so the race is staged on the event itself, not on a sleep.
    released_when: Callable[[str], bool] | None = None


@dataclass
class Job:
    job_id: str
    feature: str
    api: str
    request: dict[str, Any]
    plan: JobPlan
    status: str = "IN_PROGRESS"
    message: str = ""
    analysis: VideoAnalysis | None = None
    done: threading.Event = field(default_factory=threading.Event)
    crash: BaseException | None = None  # a bug met while analysing: Get… raises it


class VideoJobs:
    """Start…/Get… for the five video features; the analysis itself is the backend's `analyse`."""

    def __init__(self, analyse: Analyse, s3_client: Callable[[], Any], workers: int = 2) -> None:
        self._analyse = analyse
        self._s3_client = s3_client
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rekognition-video")
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._by_token: dict[str, str] = {}
        self._plans: dict[str, list[JobPlan]] = {}
        self._publish_when: Callable[[str], bool] | None = None
        self._closing = threading.Event()
        self.notifications_sent: list[dict[str, Any]] = []

    def plan(
        self,
        feature: str,
        *,
        status: str = "SUCCEEDED",
        notify: str = "once",
        released_when: Callable[[str], bool] | None = None,
    ) -> None:
        """Make the next job of `feature` end with `status` and publish its completion as `notify` says."""
        if notify not in NOTIFY_MODES:
            raise ValueError(f"notify must be one of {NOTIFY_MODES}")
        if (notify == "before_token_stored") != (released_when is not None):
            raise ValueError("before_token_stored needs released_when(job_id), and only it takes one")
        with self._lock:
            self._plans.setdefault(feature, []).append(JobPlan(status, notify, released_when))

    def hold_completions_until(self, condition: Callable[[str], bool]) -> None:
        """Publish each job's completion only once `condition(job_id)` holds, e.g. once the workflow has
        parked its task token for the job: a real job takes minutes, so its completion comes after that;
        the fixture's takes milliseconds, and a test that asserts the branch was resumed (not polled)
        would race it. `before_token_stored` plans are not held: they stage the other order on purpose."""
        self._publish_when = condition

    def handles(self, operation: str) -> bool:
        return operation in START_OPERATIONS or operation in GET_OPERATIONS

    def handle(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        if operation in START_OPERATIONS:
            return self._start(operation, params)
        return self._get(operation, params)

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Block until every job started so far has finished and published its completion."""
        deadline = time.monotonic() + timeout
        for job in list(self._jobs.values()):
            job.done.wait(max(0.0, deadline - time.monotonic()))

    def finish_all(self) -> None:
        """Let every job held IN_PROGRESS finish now and publish its completion once."""
        with self._lock:
            held = [job for job in self._jobs.values() if job.plan.status == "IN_PROGRESS"]
        for job in held:
            job.plan = JobPlan()
            job.done.clear()
            self._pool.submit(self._run, job)

    def shutdown(self) -> None:
        """Stop taking jobs; wait for those running (cancelling those not started); completions still
        held are not published."""
        self._closing.set()
        self._pool.shutdown(wait=True, cancel_futures=True)

    # ------------------------------------------------------------------ Start…
    def _start(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        feature, api = START_OPERATIONS[operation]
        s3_object = params.get("Video", {}).get("S3Object")
        if not s3_object or not s3_object.get("Bucket") or not s3_object.get("Name"):
            raise RekognitionError("InvalidParameterException", "Video.S3Object with Bucket and Name is required.")
        channel = params.get("NotificationChannel")
        if channel and not all(str(channel.get(k, "")).startswith("arn:") for k in ("SNSTopicArn", "RoleArn")):
            raise RekognitionError("InvalidParameterException", "NotificationChannel needs SNSTopicArn and RoleArn.")
        token = params.get("ClientRequestToken")
        self._check_object(s3_object)
        # One lock over "is this token known?" and "start the job": two executions starting the same job
        # at once must get one JobId, as from Rekognition.
        with self._lock:
            if token and token in self._by_token:
                job = self._jobs[self._by_token[token]]
                if job.feature != feature or job.request.get("Video") != params.get("Video"):
                    raise RekognitionError(
                        "IdempotentParameterMismatchException",
                        "ClientRequestToken was already used with other parameters.",
                    )
                return {"JobId": job.job_id}
            planned = self._plans.get(feature)
            plan = planned.pop(0) if planned else JobPlan()
            job = Job(uuid.uuid4().hex, feature, api, dict(params), plan)
            self._jobs[job.job_id] = job
            if token:
                self._by_token[token] = job.job_id
        if plan.released_when is not None:
            self._run(job)
            if not released(plan.released_when, job.job_id, self._closing):
                raise RekognitionError("InternalServerError", "the planned early completion was never handled")
        else:
            self._pool.submit(self._run, job)
        return {"JobId": job.job_id}

    def _check_object(self, s3_object: dict[str, Any]) -> None:
        version = version_argument(s3_object)
        try:
            head = self._s3_client().head_object(Bucket=s3_object["Bucket"], Key=s3_object["Name"], **version)
        except ClientError as error:
            raise RekognitionError(
                "InvalidS3ObjectException", f"Unable to get object metadata from S3: {error}"
            ) from error
        if head["ContentLength"] > MAX_VIDEO_BYTES:
            raise RekognitionError("VideoTooLargeException", "The video is over 10 GB.")

    def _run(self, job: Job) -> None:
        try:
            if job.plan.status == "IN_PROGRESS":
                return  # a job that never ends: no results, no completion
            if not self._analyse_into(job):
                return
            # Without a NotificationChannel there is nothing to publish (and no workflow to hold it for).
            copies = {"never": 0, "twice": 2}.get(job.plan.notify, 1) if job.request.get("NotificationChannel") else 0
            hold = self._publish_when if job.plan.notify != "before_token_stored" else None
            if copies and hold is not None and not released(hold, job.job_id, self._closing):
                return  # no workflow parked a token for this job (it failed or stopped first): nobody to tell
            for _ in range(copies):
                self._notify(job)
        finally:
            job.done.set()

    def _analyse_into(self, job: Job) -> bool:
        """Run the job's analysis; False when it met a bug (kept on the job, logged), not an ending Rekognition has."""
        try:
            if job.plan.status != "SUCCEEDED":
                raise RekognitionError(job.plan.status, f"Planned {job.plan.status} for this {job.feature} job.")
            job.analysis = self._analyse(job.feature, job.request["Video"]["S3Object"], job.request)
            job.status = "SUCCEEDED"
        except RekognitionError as error:
            job.status, job.message = "FAILED", error.message
        except video_read_errors() as error:  # the video (or S3) cannot be read: the job fails, as on AWS
            job.status, job.message = "FAILED", f"{type(error).__name__}: {error}"
        except Exception as error:
            LOG.exception("the %s analysis of job %s failed with a bug", job.feature, job.job_id)
            job.crash = error
            return False
        return True

    def _notify(self, job: Job) -> None:
        channel = job.request.get("NotificationChannel")
        if channel:
            message = completion_message(
                job.job_id,
                job.status,
                job.api,
                job.request.get("JobTag", ""),
                job.message,
                job.request["Video"]["S3Object"],
            )
            publish_completion(channel["SNSTopicArn"], message)
            self.notifications_sent.append(message)

    # ------------------------------------------------------------------ Get…
    def _get(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        feature, items_key, version_key = GET_OPERATIONS[operation]
        job = self._jobs.get(params.get("JobId", ""))
        if job is None or job.feature != feature:
            raise RekognitionError("ResourceNotFoundException", f"No {feature} job {params.get('JobId')!r}.")
        if job.crash is not None:
            raise job.crash
        if int(params.get("MaxResults", MAX_RESULTS)) < 1:  # botocore's model (min 1) refuses it before a call
            raise RekognitionError("InvalidParameterException", "MaxResults must be at least 1.")
        max_results = limits.page_size(params)  # over 1000 returns at most 1000 (limits.MAX_RESULTS_PER_PAGE)
        response: dict[str, Any] = {
            "JobStatus": job.status,
            "JobId": job.job_id,
            "Video": {"S3Object": job.request["Video"]["S3Object"]},
        }
        if job.request.get("JobTag"):
            response["JobTag"] = job.request["JobTag"]
        if job.status != "SUCCEEDED" or job.analysis is None:
            if job.message:
                response["StatusMessage"] = job.message
            return response
        start = _decode_token(params.get("NextToken"), job.job_id)
        items = job.analysis.items
        response[items_key] = items[start : start + max_results]
        if start + max_results < len(items):
            response["NextToken"] = _encode_token(job.job_id, start + max_results)
        metadata = job.analysis.video_metadata
        response["VideoMetadata"] = [metadata] if feature == "segments" else metadata  # a list for segments only
        if version_key:
            response[version_key] = job.analysis.model_version
        response.update(job.analysis.extra)
        return response


def released(condition: Callable[[str], bool], job_id: str, stopping: threading.Event) -> bool:
    """Wait until `condition(job_id)` holds: False if RELEASE_TIMEOUT_SECONDS pass first, or once `stopping` is set."""
    deadline = time.monotonic() + RELEASE_TIMEOUT_SECONDS
    while not condition(job_id):
        if time.monotonic() > deadline or stopping.wait(RELEASE_CHECK_SECONDS):
            return False
    return True


def completion_message(
    job_id: str, status: str, api: str, job_tag: str, message: str, s3_object: dict[str, Any]
) -> dict[str, Any]:
    """The message Rekognition publishes to a job's NotificationChannel when the job ends."""
    return {
        "JobId": job_id,
        "Status": status,
        "API": api,
        "JobTag": job_tag,
        "Message": message,
        "Timestamp": int(time.time() * 1000),
        "Video": {"S3ObjectName": s3_object["Name"], "S3Bucket": s3_object["Bucket"]},
    }


def publish_completion(topic_arn: str, message: dict[str, Any]) -> None:
    _completion_publisher().publish(TopicArn=topic_arn, Message=json.dumps(message))


@functools.cache
def _completion_publisher() -> Any:
    """One SNS client for every completion. Its own session: boto3's default session is not safe to share
    across threads (a client is). A new session per completion parsed SNS's model and the endpoint
    rules again each time: 40 % of a local video execution's CPU."""
    return boto3.session.Session().client("sns")


def _encode_token(job_id: str, offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([job_id, offset]).encode()).decode()


def _decode_token(token: str | None, job_id: str) -> int:
    if not token:
        return 0
    try:
        token_job, offset = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError) as error:
        raise RekognitionError("InvalidPaginationTokenException", "NextToken is not one this job issued.") from error
    if token_job != job_id or not isinstance(offset, int) or offset < 0:
        raise RekognitionError("InvalidPaginationTokenException", "NextToken belongs to another job.")
    return offset
