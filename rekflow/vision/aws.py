"""Real Amazon Rekognition behind the local workflow (`rekflow analyze --backend aws`).

The local runtime's S3 is moto's, which Rekognition cannot read, so requests are rewritten on
the way out: an image goes as Bytes (Rekognition's 5 MB limit), or through the user's staging
bucket when it is larger; a video is copied to the staging bucket, its job started without the
local NotificationChannel, and a watcher thread polls the job and publishes Rekognition's
completion message to the local topic when it ends, so the workflow's callback path runs as on
AWS. Everything else (parameters, responses, errors) passes through untouched.

Credentials and region are resolved when the backend is made, before moto replaces the
environment's credentials with its fakes and answers STS and SSO itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import boto3
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from rekflow.vision.backend import RekognitionError
from rekflow.vision.image_input import MAX_BYTES_INLINE, MAX_BYTES_S3, version_argument
from rekflow.vision.video_jobs import GET_OPERATIONS, START_OPERATIONS, completion_message, publish_completion, released

IMAGE_OPERATIONS = ("DetectLabels", "DetectModerationLabels", "DetectText", "DetectFaces")
GET_OPERATION_OF_FEATURE = {feature: operation for operation, (feature, _, _) in GET_OPERATIONS.items()}
STAGING_PREFIX = "rekflow-staging/"
POLL_SECONDS = 5.0


class AwsSetupError(Exception):
    """The backend cannot reach Rekognition as configured (no credentials, no region)."""


class AwsRekognitionBackend:
    """Rekognition on AWS for images and videos held by the local runtime's S3."""

    name = "aws"

    def __init__(
        self,
        local_s3: Callable[[], Any],
        session: boto3.session.Session | None = None,
        staging_bucket: str | None = None,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        session = session or boto3.session.Session()
        credentials = session.get_credentials()
        if credentials is None:
            raise AwsSetupError(
                "--backend aws needs AWS credentials: none were found "
                "(set AWS_PROFILE, or run `aws configure` / `aws sso login`)."
            )
        if not session.region_name:
            raise AwsSetupError("--backend aws needs a region: set AWS_REGION or a profile's region.")
        try:
            # Fetched now: once the local runtime runs, STS and SSO answer from moto. A run that
            # outlasts the credentials (an hour for most roles) needs a new run.
            frozen = credentials.get_frozen_credentials()
        except BotoCoreError as error:
            raise AwsSetupError(f"--backend aws could not get AWS credentials: {error}") from error
        signing = {
            "aws_access_key_id": frozen.access_key,
            "aws_secret_access_key": frozen.secret_key,
            "aws_session_token": frozen.token,
        }
        self._local_s3 = local_s3
        self._rekognition = session.client("rekognition", **signing)
        self.staging_bucket = staging_bucket
        # Virtual-hosted addressing puts the bucket in the host name, which is how moto is told
        # to let these requests through to AWS while the local buckets stay on moto.
        self._staging_s3 = session.client("s3", config=Config(s3={"addressing_style": "virtual"}), **signing)
        self._poll_seconds = poll_seconds
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._watchers: dict[str, threading.Thread] = {}
        self._staged: dict[str, _StagedCopy] = {}  # key in the staging bucket -> its users
        self._publish_when: Callable[[str], bool] | None = None

    def hold_completions_until(self, condition: Callable[[str], bool]) -> None:
        """As VideoJobs.hold_completions_until: publish a job's completion only once `condition(job_id)` holds."""
        self._publish_when = condition

    def moto_passthrough(self) -> dict[str, list[str]]:
        """What moto must send on to AWS: Rekognition (the local calls never reach moto: the
        runtime's router answers them first) and the staging bucket."""
        urls = [rf"https?://{re.escape(self.staging_bucket)}\.s3[.-]"] if self.staging_bucket else []
        return {"services": ["rekognition"], "urls": urls}

    def handle(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        if operation in IMAGE_OPERATIONS:
            return self._detect(operation, params)
        if operation in START_OPERATIONS:
            return self._start(operation, params)
        return self._call(operation, params)

    def close(self) -> None:
        """Stop watching jobs (their results stay readable on AWS) and remove what was staged."""
        self._stopping.set()
        for watcher in list(self._watchers.values()):
            watcher.join(timeout=self._poll_seconds + 30)
        with self._lock:
            keys, self._staged = list(self._staged), {}
            for key in keys:
                self._unstage(key)

    # ------------------------------------------------------------------ calls
    def _call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        try:
            response: dict[str, Any] = getattr(self._rekognition, xform_name(operation))(**params)
        except ClientError as error:
            details = error.response.get("Error", {})
            raise RekognitionError(details.get("Code", "InternalServerError"), details.get("Message", "")) from error
        except BotoCoreError as error:  # no connection, expired credentials that cannot refresh, ...
            raise RekognitionError("InternalServerError", f"Could not reach Amazon Rekognition: {error}") from error
        response.pop("ResponseMetadata", None)
        return response

    # ------------------------------------------------------------------ images
    def _detect(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """An image operation on the request's image as AWS can read it: Bytes, or a staged copy."""
        s3_object = params.get("Image", {}).get("S3Object")
        if not s3_object:
            return self._call(operation, params)
        data = self._read_local(s3_object)
        if len(data) <= MAX_BYTES_INLINE:
            return self._call(operation, {**params, "Image": {"Bytes": data}})
        if not self.staging_bucket:
            raise RekognitionError(
                "ImageTooLargeException",
                "Images over 5 MB reach Rekognition through S3: "
                "give a staging bucket (--aws-bucket) to analyse this one with --backend aws.",
            )
        user = f"{operation}-{uuid.uuid4().hex}"
        key = self._stage(s3_object, user, data)
        try:
            return self._call(
                operation, {**params, "Image": {"S3Object": {"Bucket": self.staging_bucket, "Name": key}}}
            )
        finally:
            self._release(key, user)

    def _read_local(self, s3_object: dict[str, Any]) -> bytes:
        response = self._open_local(s3_object)
        if response["ContentLength"] > MAX_BYTES_S3:
            response["Body"].close()
            raise RekognitionError("ImageTooLargeException", "Image stored in S3 is larger than 15 MB.")
        with response["Body"] as body:
            data: bytes = body.read()
        return data

    def _open_local(self, s3_object: dict[str, Any]) -> dict[str, Any]:
        """The local runtime's GetObject response for a Rekognition S3Object (the body not read yet)."""
        try:
            response: dict[str, Any] = self._local_s3().get_object(
                Bucket=s3_object["Bucket"], Key=s3_object["Name"], **version_argument(s3_object)
            )
        except ClientError as error:
            raise RekognitionError("InvalidS3ObjectException", f"Unable to get the object from S3: {error}") from error
        return response

    # ------------------------------------------------------------------ videos
    def _start(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        feature, api = START_OPERATIONS[operation]
        if not self.staging_bucket:
            raise RekognitionError(
                "InvalidParameterException",
                "Rekognition Video reads videos from S3 only: "
                "give a staging bucket (--aws-bucket) to analyse videos with --backend aws.",
            )
        local_object = params["Video"]["S3Object"]
        channel = params.get("NotificationChannel")
        starter = f"{operation}-{uuid.uuid4().hex}"
        key = self._stage(local_object, starter, None)
        request = {k: v for k, v in params.items() if k != "NotificationChannel"}
        request["Video"] = {"S3Object": {"Bucket": self.staging_bucket, "Name": key}}
        try:
            job_id = str(self._call(operation, request)["JobId"])
            with self._lock:
                # The job reads the copy until it ends: it is the copy's user now (kept to close()
                # when no watcher will see the end).
                self._staged[key].users.add(job_id)
                if job_id in self._watchers or not channel:
                    return {"JobId": job_id}  # a reused ClientRequestToken: the job is watched already
                watcher = threading.Thread(
                    target=self._watch,
                    name=f"rekognition-aws-{feature}",
                    daemon=True,
                    args=(feature, api, job_id, params.get("JobTag", ""), channel, local_object, key),
                )
                self._watchers[job_id] = watcher
            watcher.start()
            return {"JobId": job_id}
        finally:
            self._release(key, starter)

    def _watch(
        self,
        feature: str,
        api: str,
        job_id: str,
        job_tag: str,
        channel: dict[str, Any],
        local_object: dict[str, Any],
        key: str,
    ) -> None:
        """Poll the job until it ends, then publish its completion to the local topic, as Rekognition
        would have published it to the NotificationChannel it could not be given."""
        try:
            while not self._stopping.wait(self._poll_seconds):
                try:
                    job = self._call(GET_OPERATION_OF_FEATURE[feature], {"JobId": job_id, "MaxResults": 1})
                except RekognitionError as error:
                    if error.code in (
                        "ThrottlingException",
                        "ProvisionedThroughputExceededException",
                        "InternalServerError",
                    ):
                        continue
                    job = {"JobStatus": "FAILED", "StatusMessage": f"{error.code}: {error.message}"}
                if job["JobStatus"] != "IN_PROGRESS":
                    if self._publish_when is not None and not released(self._publish_when, job_id, self._stopping):
                        return
                    message = completion_message(
                        job_id, job["JobStatus"], api, job_tag, job.get("StatusMessage", ""), local_object
                    )
                    publish_completion(channel["SNSTopicArn"], message)
                    return
        finally:
            self._release(key, job_id)

    # ------------------------------------------------------------------ staging bucket
    def _stage(self, s3_object: dict[str, Any], user: str, data: bytes | None) -> str:
        """Copy a local object to the staging bucket once for all its users: its name is fixed by the
        object's identity, so the five jobs of a video (and a rerun's reused ClientRequestTokens)
        all read the same copy. `data` is the object when already read; None streams it."""
        identity = f"{s3_object['Bucket']}/{s3_object['Name']}/{s3_object.get('Version') or ''}"
        digest = hashlib.sha256(identity.encode()).hexdigest()[:32]
        key = f"{STAGING_PREFIX}{digest}/{PurePosixPath(s3_object['Name']).name}"
        with self._lock:
            staged = self._staged.setdefault(key, _StagedCopy())
            staged.users.add(user)
        with staged.upload_lock:  # the first user uploads; the others wait for it
            if not staged.uploaded:
                try:
                    self._upload(s3_object, key, data)
                except BaseException:
                    self._release(key, user)
                    raise
                staged.uploaded = True
        return key

    def _upload(self, s3_object: dict[str, Any], key: str, data: bytes | None) -> None:
        # A video (possibly gigabytes) streams from the local S3 straight into a multipart upload.
        body = io.BytesIO(data) if data is not None else self._open_local(s3_object)["Body"]
        try:
            self._staging_s3.upload_fileobj(body, self.staging_bucket, key)
        except (ClientError, BotoCoreError) as error:
            raise RekognitionError(
                "InvalidS3ObjectException",
                f"Could not copy the object to the staging bucket {self.staging_bucket}: {error}",
            ) from error
        finally:
            body.close()

    def _release(self, key: str, user: str) -> None:
        """One user is done with a staged copy; the last one deletes it."""
        with self._lock:  # held through the delete, so a new user cannot re-upload the copy meanwhile
            staged = self._staged.get(key)
            if staged is None:
                return
            staged.users.discard(user)
            if not staged.users:
                del self._staged[key]
                self._unstage(key)

    def _unstage(self, key: str) -> None:
        # A leftover copy under rekflow-staging/ costs cents; the analysis is what matters.
        with contextlib.suppress(ClientError, BotoCoreError):
            self._staging_s3.delete_object(Bucket=self.staging_bucket, Key=key)


@dataclass
class _StagedCopy:
    users: set[str] = field(default_factory=set)  # calls and jobs still reading the copy
    uploaded: bool = False
    upload_lock: threading.Lock = field(default_factory=threading.Lock)
