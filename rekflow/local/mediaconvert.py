"""A local stand-in for AWS Elemental MediaConvert: CreateJob and GetJob, run with the ffmpeg in imageio-ffmpeg.

It answers in MediaConvert's own shapes: each request is checked against botocore's model of
CreateJob (botocore's ParamValidator, which the Step Functions interpreter's clients switch off),
each answer against the model's output shape, and a request it cannot honour is refused with
MediaConvert's BadRequestException (HTTP 400), as the service refuses it. A job runs on a thread:
SUBMITTED, PROGRESSING, then COMPLETE with OutputGroupDetails, or ERROR with error code 1010 and
MediaConvert's message when the input cannot be opened or decoded ("Error codes" in the MediaConvert
user guide: https://docs.aws.amazon.com/mediaconvert/latest/ug/mediaconvert_error_codes.html).

What it converts is what rekflow's state machine asks for, and no more: one file input from S3, one
file output group writing H.264 in MP4 to S3. MediaConvert reads the key's current version (its file
input names no version), and so does this. ffmpeg stands in for MediaConvert's encoder: libx264 at CRF
23 where MediaConvert runs QVBR, the input's rotation applied as with Rotate AUTO, audio left out as the
output group asks. The bytes differ from MediaConvert's; the container, codec, size and duration do not.
"""

from __future__ import annotations

import subprocess
import tempfile
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import botocore.session
import imageio_ffmpeg
from botocore.validate import ParamValidator

from rekflow.local.template import ACCOUNT_ID, REGION
from rekflow.vision.backend import RekognitionError
from rekflow.vision.video_input import open_video

FILE_ACCESS_ERROR = 1010  # "MediaConvert can't open one or more of your input files"
# How long a conversion may run here before the job ends in ERROR (MediaConvert's own jobs run for hours).
LOCAL_JOB_SECONDS = 600


class MediaConvertError(Exception):
    """A request MediaConvert refuses: `code` is the modelled error (BadRequestException, NotFoundException)."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code, self.status = code, status


def _model() -> Any:
    return botocore.session.get_session().get_service_model("mediaconvert")


def check_request(value: dict[str, Any], shape: Any) -> None:
    """Raise BadRequestException unless `value` fits `shape` as botocore's model says (types, enums, required)."""
    report = ParamValidator().validate(value, shape)
    if report.has_errors():
        raise MediaConvertError("BadRequestException", report.generate_report(), 400)


def check_answer(value: dict[str, Any], shape: Any) -> None:
    """Raise unless an answer of the stand-in fits the operation's output shape: a fault of the stand-in itself."""
    report = ParamValidator().validate(value, shape)
    if report.has_errors():
        raise RuntimeError(f"the MediaConvert stand-in answered outside botocore's model: {report.generate_report()}")


@dataclass
class _Job:
    job: dict[str, Any]
    thread: threading.Thread | None = None


class LocalMediaConvert:
    """The jobs of one local runtime; `s3` is a function returning the runtime's S3 client."""

    def __init__(self, s3: Any) -> None:
        self._s3 = s3
        self._jobs: dict[str, _Job] = {}
        self._lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []  # every CreateJob request, for tests to read
        self._faults: list[tuple[str, int]] = []
        model = _model()
        self._create, self._get = model.operation_model("CreateJob"), model.operation_model("GetJob")

    # ------------------------------------------------------------------ the API
    def handle(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        if operation == "CreateJob":
            return self.create_job(params)
        if operation == "GetJob":
            return self.get_job(params)
        raise MediaConvertError("BadRequestException", f"{operation} is not emulated locally", 400)

    def fail_next(self, code: str, status: int, times: int = 1) -> None:
        """Answer the next `times` valid CreateJob requests with MediaConvert's error `code` (TooManyRequestsException,
        ForbiddenException...), as the service answers them: for tests of the state machine's Retry and Catch."""
        modelled = {shape.error_code for shape in _model().error_shapes}
        if code not in modelled:
            raise ValueError(f"{code} is not one of MediaConvert's modelled errors: {sorted(modelled)}")
        with self._lock:
            self._faults.extend([(code, status)] * times)

    def create_job(self, params: dict[str, Any]) -> dict[str, Any]:
        check_request(params, self._create.input_shape)
        source, destination = _plan(params)
        self.requests.append(params)
        with self._lock:
            fault = self._faults.pop(0) if self._faults else None
        if fault:
            raise MediaConvertError(fault[0], f"{fault[0]} (injected by the local stand-in)", fault[1])
        now = datetime.now(UTC)
        job_id = f"{int(now.timestamp() * 1000)}-{uuid.uuid4().hex[:6]}"
        job = {
            "Id": job_id,
            "Arn": f"arn:aws:mediaconvert:{REGION}:{ACCOUNT_ID}:jobs/{job_id}",
            "CreatedAt": now,
            "Role": params["Role"],
            "Settings": params["Settings"],
            "Status": "SUBMITTED",
            "Queue": f"arn:aws:mediaconvert:{REGION}:{ACCOUNT_ID}:queues/Default",
            "Priority": 0,
            "StatusUpdateInterval": "SECONDS_60",
            "Timing": {"SubmitTime": now},
            "UserMetadata": params.get("UserMetadata", {}),
            "Messages": {"Info": [], "Warning": []},
        }
        entry = _Job(job)
        entry.thread = threading.Thread(
            target=self._run, args=(entry, source, destination), name=f"mediaconvert-{job_id}", daemon=True
        )
        with self._lock:
            self._jobs[job_id] = entry
        entry.thread.start()
        answer = {"Job": dict(job)}
        check_answer(answer, self._create.output_shape)
        return answer

    def get_job(self, params: dict[str, Any]) -> dict[str, Any]:
        check_request(params, self._get.input_shape)
        with self._lock:
            entry = self._jobs.get(params["Id"])
            if entry is None:
                raise MediaConvertError("NotFoundException", f"The job {params['Id']} was not found.", 404)
            answer = {"Job": dict(entry.job)}
        check_answer(answer, self._get.output_shape)
        return answer

    def wait(self, timeout: float = 60.0) -> None:
        """Let every job started so far finish (a test's clean-up, so no thread outlives its runtime)."""
        with self._lock:
            threads = [entry.thread for entry in self._jobs.values() if entry.thread is not None]
        for thread in threads:
            thread.join(timeout)

    # ------------------------------------------------------------------ a job
    def _run(self, entry: _Job, source: tuple[str, str], destination: tuple[str, str]) -> None:
        started = datetime.now(UTC)
        self._update(entry, Status="PROGRESSING", Timing={**entry.job["Timing"], "StartTime": started})
        with tempfile.TemporaryDirectory(prefix="rekflow-mediaconvert-") as folder:
            try:
                body = self._s3().get_object(Bucket=source[0], Key=source[1])["Body"]
                with body:
                    (Path(folder) / "input").write_bytes(body.read())
                rotate = entry.job["Settings"]["Inputs"][0].get("VideoSelector", {}).get("Rotate", "DEGREE_0")
                output = Path(folder) / "output.mp4"
                transcode(Path(folder) / "input", output, autorotate=rotate == "AUTO")
                width, height, duration_millis = probe(output)
                key = f"{destination[1]}.mp4"
                self._s3().put_object(Bucket=destination[0], Key=key, Body=output.read_bytes(), ContentType="video/mp4")
            except _InputError as error:
                self._update(
                    entry,
                    Status="ERROR",
                    ErrorCode=FILE_ACCESS_ERROR,
                    ErrorMessage=str(error),
                    Timing={**entry.job["Timing"], "FinishTime": datetime.now(UTC)},
                )
                return
        details = [
            {
                "OutputDetails": [
                    {"DurationInMs": duration_millis, "VideoDetails": {"WidthInPx": width, "HeightInPx": height}}
                ]
            }
        ]
        self._update(
            entry,
            Status="COMPLETE",
            JobPercentComplete=100,
            OutputGroupDetails=details,
            Timing={**entry.job["Timing"], "FinishTime": datetime.now(UTC)},
        )

    def _update(self, entry: _Job, **fields: Any) -> None:
        with self._lock:
            entry.job = {**entry.job, **fields}


class _InputError(Exception):
    """The input could not be read or decoded: the job ends in ERROR 1010, as MediaConvert's would."""


def _plan(params: dict[str, Any]) -> tuple[tuple[str, str], tuple[str, str]]:
    """(input bucket, key) and (output bucket, key base) of the job rekflow asks for; BadRequestException for
    anything else, since this stand-in would otherwise silently do less than MediaConvert."""
    settings = params["Settings"]
    inputs, groups = settings.get("Inputs", []), settings.get("OutputGroups", [])
    if len(inputs) != 1 or len(groups) != 1:
        raise MediaConvertError("BadRequestException", "Emulated locally: exactly one input and one output group.", 400)
    group = groups[0]
    if group.get("OutputGroupSettings", {}).get("Type") != "FILE_GROUP_SETTINGS" or len(group.get("Outputs", [])) != 1:
        raise MediaConvertError(
            "BadRequestException", "Emulated locally: one output in a FILE_GROUP_SETTINGS group.", 400
        )
    output = group["Outputs"][0]
    container = output.get("ContainerSettings", {}).get("Container")
    codec = output.get("VideoDescription", {}).get("CodecSettings", {}).get("Codec")
    if (container, codec) != ("MP4", "H_264"):
        raise MediaConvertError(
            "BadRequestException", f"Emulated locally: H_264 in MP4, not {codec} in {container}.", 400
        )
    if not params["Role"].startswith("arn:aws:iam::"):
        raise MediaConvertError("BadRequestException", f"Role {params['Role']!r} is not an IAM role ARN.", 400)
    source = _s3_url(inputs[0].get("FileInput", ""), "FileInput")
    destination = _s3_url(group["OutputGroupSettings"]["FileGroupSettings"].get("Destination", ""), "Destination")
    return source, destination


def _s3_url(url: str, field: str) -> tuple[str, str]:
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc or not parsed.path.strip("/"):
        raise MediaConvertError("BadRequestException", f"{field} {url!r} is not an s3://bucket/key URL.", 400)
    return parsed.netloc, parsed.path.lstrip("/")


def transcode(source: Path, output: Path, autorotate: bool) -> None:
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        *([] if autorotate else ["-noautorotate"]),
        "-i",
        str(source),
        "-map",
        "0:v:0",
        "-an",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "23",
        "-pix_fmt",
        "yuv420p",
        # x264 wants even sides; MediaConvert rounds the same way.
        "-vf",
        "scale=trunc(iw/2)*2:trunc(ih/2)*2",
        "-movflags",
        "+faststart",
        str(output),
    ]
    try:
        done = subprocess.run(command, capture_output=True, timeout=LOCAL_JOB_SECONDS, check=False)  # noqa: S603
    except subprocess.TimeoutExpired as error:
        raise _InputError(
            f"Unable to open input file [{source.name}]: timed out after {LOCAL_JOB_SECONDS} s"
        ) from error
    if done.returncode != 0 or not output.exists():
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        raise _InputError(f"Unable to open input file: [Failed probe/open: [{reason[0]}]]")


def probe(path: Path) -> tuple[int, int, int]:
    """Width, height and duration (ms) of the converted file, read from its header as the analysis reads it."""
    try:
        video = open_video(path)
    except RekognitionError as error:
        raise _InputError(f"Unable to open input file: [Failed probe/open: [the encoded copy: {error}]]") from error
    return video.width, video.height, video.duration_millis


def jsonable(value: Any) -> Any:
    """A botocore answer as Step Functions passes it on: timestamps as epoch seconds, MediaConvert's own
    wire format for them (unixTimestamp in its model)."""
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [jsonable(item) for item in value]
    if isinstance(value, datetime):
        return int(value.timestamp())
    return value
