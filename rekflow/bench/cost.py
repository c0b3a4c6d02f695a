"""`make bench`: state transitions, Lambda invocations and cost per image and per video, from real local runs.

One image (every image feature) and one video (every video feature) run through the ASL on the local
runtime with the fixture backend; every count is read from the execution's history (GetExecutionHistory's
shape) and from the event sources' deliveries, so the figures follow whatever the ASL is. Costs are per
1,000 images (Standard and Express) beside the Rekognition cost of the same images, and per 1,000 videos.

Step Functions bills a Standard workflow per state transition: "Step Functions counts a state transition
each time a step of your workflow is executed ... including retries" (STANDARD_TRANSITION's page). So a
billed transition here is a state entered, plus every retry of a task.
"""

from __future__ import annotations

import json
import logging
import math
import runpy
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rekflow import TEMPLATE_PATH
from rekflow.local.runtime import ExecutionResult, LocalRuntime, client
from rekflow.local.template import Template
from rekflow.media.samples import SAMPLES, sample_video


@dataclass(frozen=True)
class Price:
    """A list price in US East (N. Virginia), first tier. `verified`: the figure itself was read in `source`
    on `read_on`; otherwise only the billing rule was (the page renders its rate table in the browser), and
    the figure is the list price as known on that date: check it before quoting it."""

    usd: float
    per: str
    source: str
    read_on: str
    verified: bool


_SFN = "https://aws.amazon.com/step-functions/pricing/"
_LAMBDA = "https://aws.amazon.com/lambda/pricing/"
_LAMBDA_1MS = "https://aws.amazon.com/blogs/aws/new-for-aws-lambda-1ms-billing-granularity-adds-cost-savings/"
_REKOGNITION = "https://aws.amazon.com/rekognition/pricing/"
_READ_ON = "2026-11-26"
STANDARD_TRANSITION = Price(0.025 / 1000, "state transition (Standard)", _SFN, _READ_ON, verified=True)
EXPRESS_REQUEST = Price(1.00 / 1_000_000, "request (Express)", _SFN, _READ_ON, verified=False)
EXPRESS_GB_SECOND = Price(
    0.00001667, "GB-second (Express, first 1,000 GB-hours a month)", _SFN, _READ_ON, verified=False
)
LAMBDA_REQUEST = Price(0.20 / 1_000_000, "request (Lambda)", _LAMBDA_1MS, _READ_ON, verified=True)
LAMBDA_GB_SECOND = {
    "arm64": Price(
        0.0000133334, "GB-second (Lambda arm64, first 7.5 billion a month)", _LAMBDA, _READ_ON, verified=False
    ),
    "x86_64": Price(
        0.0000166667, "GB-second (Lambda x86_64, first 6 billion a month)", _LAMBDA, _READ_ON, verified=False
    ),
}
# "Running multiple APIs on one image counts as processing multiple images"; the four Detect… calls are Group 2.
REKOGNITION_IMAGE = Price(
    0.001, "image per API call (Group 2, first 1 million images a month)", _REKOGNITION, _READ_ON, verified=False
)
# Rekognition Video, stored video, per minute of video per feature; segment detection per segment type.
REKOGNITION_VIDEO_MINUTE = {
    action: Price(
        usd,
        f"minute of video ({action}{', per segment type' if per_type else ''})",
        _REKOGNITION,
        _READ_ON,
        verified=False,
    )
    for action, usd, per_type in (
        ("startLabelDetection", 0.10, False),
        ("startContentModeration", 0.10, False),
        ("startTextDetection", 0.10, False),
        ("startFaceDetection", 0.10, False),
        ("startSegmentDetection", 0.05, True),
    )
}
PRICES = [
    STANDARD_TRANSITION,
    EXPRESS_REQUEST,
    EXPRESS_GB_SECOND,
    LAMBDA_REQUEST,
    *LAMBDA_GB_SECOND.values(),
    REKOGNITION_IMAGE,
    *REKOGNITION_VIDEO_MINUTE.values(),
]

# Billing increments: Express duration rounds up to 100 ms and memory to 64-MB chunks (_SFN); Lambda
# duration rounds up to 1 ms (_LAMBDA_1MS).
EXPRESS_DURATION_STEP_SECONDS = 0.1
EXPRESS_MEMORY_CHUNK_MB = 64
LAMBDA_DURATION_STEP_MS = 1

# Assumptions, not measurements: a local execution's duration says nothing about AWS's latency.
# An image execution on AWS: its Lambda invocations warm, its Rekognition calls in parallel (AWS documents
# no latency for them; about a second assumed) and its writes.
EXPRESS_ASSUMED_IMAGE_SECONDS = 1.5
# Express memory comes from the definition's size, Parallel/Map use and the payloads (the page gives no
# formula); the bench prints the definition and the largest payload it saw, both far below one chunk.
EXPRESS_ASSUMED_MEMORY_MB = 64
# A warm invocation of one of the workflow's functions (a few S3/DynamoDB calls and a schema check).
LAMBDA_ASSUMED_MILLISECONDS = 100
PER = 1000  # images or videos


# ---------------------------------------------------------------- counts from a history
def _scheduled(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Details of every task attempt: TaskScheduled (service integrations) and LambdaFunctionScheduled
    (a function ARN as the Resource)."""
    found = []
    for event in history:
        if event["type"] == "TaskScheduled":
            found.append(event["taskScheduledEventDetails"])
        elif event["type"] == "LambdaFunctionScheduled":
            details = event["lambdaFunctionScheduledEventDetails"]
            found.append(
                {
                    "resourceType": "lambda",
                    "resource": details["resource"],
                    "parameters": json.dumps({"FunctionName": details["resource"]}),
                }
            )
    return found


def states_entered(history: list[dict[str, Any]]) -> int:
    return sum(1 for event in history if event["type"].endswith("StateEntered"))


def task_retries(history: list[dict[str, Any]]) -> int:
    """Attempts beyond the first of each task state entered."""
    return len(_scheduled(history)) - sum(1 for event in history if event["type"] == "TaskStateEntered")


def billed_transitions(history: list[dict[str, Any]]) -> int:
    """Step Functions' billed state transitions: each state entered, each retry as one more."""
    return states_entered(history) + task_retries(history)


def lambda_invocations(history: list[dict[str, Any]]) -> Counter[str]:
    """Invocations the state machine made, attempts included, by FunctionName (an ARN or a name)."""
    return Counter(
        json.loads(details["parameters"])["FunctionName"]
        for details in _scheduled(history)
        if details["resourceType"] == "lambda"
    )


def nested_executions(history: list[dict[str, Any]]) -> int:
    """Executions the state machine started (states:startExecution): their transitions are not in this history."""
    return sum(1 for details in _scheduled(history) if details["resourceType"] == "states")


def rekognition_calls(history: list[dict[str, Any]]) -> Counter[str]:
    """Rekognition calls that succeeded (what Rekognition bills), by SDK action (detectLabels, …)."""
    return Counter(
        event["taskSucceededEventDetails"]["resource"]
        for event in history
        if event["type"] == "TaskSucceeded"
        and event["taskSucceededEventDetails"]["resourceType"] == "aws-sdk:rekognition"
    )


def segment_types(history: list[dict[str, Any]]) -> int:
    """Segment types the video's segment detection asked for (priced each)."""
    for details in _scheduled(history):
        if details["resourceType"] == "aws-sdk:rekognition" and details["resource"] == "startSegmentDetection":
            return len(json.loads(details["parameters"]).get("SegmentTypes", []))
    return 0


def largest_payload_bytes(history: list[dict[str, Any]]) -> int:
    """The largest state input or output: with the definition, what Express's memory estimate rests on."""
    sizes = [
        len(details.get(key, ""))
        for event in history
        for name, details in event.items()
        if name.endswith("EventDetails") and isinstance(details, dict)
        for key in ("input", "output")
    ]
    return max(sizes, default=0)


# ---------------------------------------------------------------- arithmetic
def standard_cost(transitions: int) -> float:
    return transitions * STANDARD_TRANSITION.usd


def express_cost(seconds: float, memory_mb: float) -> float:
    """One Express execution: the request, and its duration (up to 100 ms) times its memory (up to 64 MB)."""
    billed_seconds = math.ceil(round(seconds / EXPRESS_DURATION_STEP_SECONDS, 9)) * EXPRESS_DURATION_STEP_SECONDS
    billed_gb = math.ceil(memory_mb / EXPRESS_MEMORY_CHUNK_MB) * EXPRESS_MEMORY_CHUNK_MB / 1024
    return EXPRESS_REQUEST.usd + billed_seconds * billed_gb * EXPRESS_GB_SECOND.usd


def lambda_cost(memory_mb: int, milliseconds: float, architecture: str) -> float:
    """One invocation: the request, and its duration (up to 1 ms) times its configured memory."""
    billed_seconds = math.ceil(milliseconds / LAMBDA_DURATION_STEP_MS) * LAMBDA_DURATION_STEP_MS / 1000
    return LAMBDA_REQUEST.usd + billed_seconds * memory_mb / 1024 * LAMBDA_GB_SECOND[architecture].usd


def rekognition_video_cost_per_minute(started_jobs: Counter[str], segment_type_count: int) -> float:
    return sum(
        count * REKOGNITION_VIDEO_MINUTE[action].usd * (segment_type_count if action == "startSegmentDetection" else 1)
        for action, count in started_jobs.items()
    )


# ---------------------------------------------------------------- one run
@dataclass
class PathFigures:
    """What one execution (and the functions its event sources ran) would be billed for."""

    path: str
    workflow: str  # the type of the state machine that ran it: STANDARD or EXPRESS
    states_entered: int
    retries: int
    transitions: int
    lambda_by_function: Counter[str]  # physical name -> invocations, the state machine's and the event sources'
    lambda_from_event_sources: int
    rekognition: Counter[str]
    nested: int
    segment_types: int
    largest_payload: int
    definition_bytes: int
    local_seconds: float
    lambda_memory: dict[str, int] = field(default_factory=dict)
    lambda_architecture: dict[str, str] = field(default_factory=dict)

    @property
    def lambda_invocations(self) -> int:
        return sum(self.lambda_by_function.values())

    def lambda_cost(self) -> float:
        return sum(
            count * lambda_cost(self.lambda_memory[name], LAMBDA_ASSUMED_MILLISECONDS, self.lambda_architecture[name])
            for name, count in self.lambda_by_function.items()
        )


def _function_settings(runtime: LocalRuntime) -> tuple[dict[str, str], dict[str, int], dict[str, str]]:
    """(name or ARN -> function name, name -> MemorySize, name -> architecture), from template.yaml."""
    globals_function = runtime.template.body.get("Globals", {}).get("Function", {})
    names, memory, architecture = {}, {}, {}
    for logical_id, resource in runtime.template.resources_of_type("AWS::Serverless::Function").items():
        function = runtime.function(logical_id)
        names[function.name] = names[function.arn] = function.name
        memory[function.name] = function.memory_mb
        architecture[function.name] = (
            resource["Properties"].get("Architectures") or globals_function.get("Architectures") or ["x86_64"]
        )[0]
    return names, memory, architecture


def measure(path: str, data: bytes, key: str, parameters: dict[str, str] | None = None) -> PathFigures:
    """Run one upload through the ASL (template parameters `parameters`) and count what it would be billed for."""
    with LocalRuntime("fixture", parameter_overrides=parameters) as runtime:
        upload = runtime.upload(data, key)
        result: ExecutionResult = runtime.run(runtime.object_created_event(upload))
        if result.status != "SUCCEEDED" or (result.output or {}).get("status") != "SUCCEEDED":
            raise RuntimeError(f"the {path} execution did not succeed: {result.status} {result.error} {result.output}")
        sfn = client("stepfunctions")
        machine = sfn.describe_execution(executionArn=result.arn)["stateMachineArn"]
        workflow = str(sfn.describe_state_machine(stateMachineArn=machine)["type"])
        history = result.history
        names, memory, architecture = _function_settings(runtime)
        by_function = Counter({names[f]: n for f, n in lambda_invocations(history).items()})
        from_sources = Counter(
            {
                runtime.function(logical_id).name: poller.batches
                for logical_id, poller in runtime.pollers.items()
                if poller.batches
            }
        )
    return PathFigures(
        path,
        workflow,
        states_entered(history),
        task_retries(history),
        billed_transitions(history),
        by_function + from_sources,
        sum(from_sources.values()),
        rekognition_calls(history),
        nested_executions(history),
        segment_types(history),
        largest_payload_bytes(history),
        len(json.dumps(runtime.stack.definition)),
        result.seconds,
        memory,
        architecture,
    )


def express_image_parameters(template: Template) -> dict[str, str] | None:
    """The template parameters that put images on an Express workflow (ImageWorkflow=EXPRESS), if it has them."""
    parameter = template.body.get("Parameters", {}).get("ImageWorkflow", {})
    return {"ImageWorkflow": "EXPRESS"} if "EXPRESS" in parameter.get("AllowedValues", []) else None


def state_machines(template: Template) -> dict[str, str]:
    """template.yaml's state machines and their types (STANDARD or EXPRESS)."""
    return {
        logical_id: str(resource["Properties"].get("Type", "STANDARD"))
        for logical_id, resource in template.resources_of_type("AWS::Serverless::StateMachine").items()
    }


# ---------------------------------------------------------------- report
def _line(label: str, usd: float) -> None:
    print(f"  {label:<62}{f'${usd:,.4f}':>11}")


def report_counts(runs: list[PathFigures]) -> None:
    rows = [
        ("states entered", "states_entered"),
        ("task retries", "retries"),
        ("state transitions (billed on STANDARD)", "transitions"),
        ("Lambda invocations", "lambda_invocations"),
        ("  of which by event sources", "lambda_from_event_sources"),
    ]
    print(f"{'per execution (fixture backend)':<40}" + "".join(f"{run.path:>16}" for run in runs))
    print(f"{'workflow type':<40}" + "".join(f"{run.workflow:>16}" for run in runs))
    for label, attribute in rows:
        print(f"{label:<40}" + "".join(f"{getattr(run, attribute):>16}" for run in runs))
    print(f"{'Rekognition calls (succeeded)':<40}" + "".join(f"{sum(run.rekognition.values()):>16}" for run in runs))
    for run in runs:
        functions = ", ".join(f"{name} x{count}" for name, count in sorted(run.lambda_by_function.items()))
        print(f"  {run.path} Lambda: {functions}")
        if run.nested:
            print(
                f"  WARNING: the {run.path} execution started {run.nested} other executions, "
                "whose transitions are not counted here"
            )
    print("  (event sources: SQS batches as the local poller formed them; on AWS from 1 to one per message)")


def report_image_cost(image: PathFigures, on_express: PathFigures | None) -> None:
    """Standard from the Standard run's transitions; Express at the assumed duration and memory, its Lambda
    invocations from the Express run where the template has one."""
    on_express = on_express or image
    standard = standard_cost(image.transitions) * PER
    express = express_cost(EXPRESS_ASSUMED_IMAGE_SECONDS, EXPRESS_ASSUMED_MEMORY_MB) * PER
    lambdas = image.lambda_cost() * PER
    express_lambdas = on_express.lambda_cost() * PER
    rekognition_images = sum(image.rekognition.values()) * PER
    rekognition = rekognition_images * REKOGNITION_IMAGE.usd
    print(f"\nper {PER:,} images (us-east-1 list prices read {_READ_ON})")
    _line(f"Standard: {image.transitions * PER:,} transitions at ${STANDARD_TRANSITION.usd * 1000:.3f}/1,000", standard)
    _line(
        f"Express: {PER:,} requests, {EXPRESS_ASSUMED_IMAGE_SECONDS:g} s x {EXPRESS_ASSUMED_MEMORY_MB} MB each "
        "(assumed)",
        express,
    )
    _line(
        f"Lambda: {image.lambda_invocations * PER:,} invocations, {LAMBDA_ASSUMED_MILLISECONDS} ms each (assumed)",
        lambdas,
    )
    if on_express is not image:
        _line(f"Lambda on Express: {on_express.lambda_invocations * PER:,} invocations", express_lambdas)
    _line("orchestration on Standard (with Lambda)", standard + lambdas)
    _line("orchestration on Express (with Lambda)", express + express_lambdas)
    _line(f"Rekognition Image: {rekognition_images:,} images at ${REKOGNITION_IMAGE.usd}", rekognition)
    print(
        f"  orchestration / Rekognition: Standard {100 * (standard + lambdas) / rekognition:.1f}%, "
        f"Express {100 * (express + express_lambdas) / rekognition:.2f}%"
    )
    each_second = (
        express_cost(EXPRESS_ASSUMED_IMAGE_SECONDS + 1, EXPRESS_ASSUMED_MEMORY_MB)
        - express_cost(EXPRESS_ASSUMED_IMAGE_SECONDS, EXPRESS_ASSUMED_MEMORY_MB)
    ) * PER
    print(
        f"  Express: each further second an image takes adds ${each_second:.4f}; definition "
        f"{on_express.definition_bytes / 1024:.0f} KB, largest payload {on_express.largest_payload / 1024:.1f} KB"
    )
    print(f"  (local execution took {on_express.local_seconds:.2f} s on moto: not AWS's latency, not used)")


def report_video_cost(video: PathFigures, images_on_express: bool) -> None:
    standard = standard_cost(video.transitions) * PER
    lambdas = video.lambda_cost() * PER
    rekognition = rekognition_video_cost_per_minute(video.rekognition, video.segment_types) * PER
    print(f"\nper {PER:,} videos of a minute (Standard only: the video path waits for job callbacks)")
    _line(f"Standard: {video.transitions * PER:,} transitions", standard)
    _line(
        f"Lambda: {video.lambda_invocations * PER:,} invocations, {LAMBDA_ASSUMED_MILLISECONDS} ms each (assumed)",
        lambdas,
    )
    _line(
        f"Rekognition Video: {sum(video.rekognition.values())} jobs, {video.segment_types} segment types", rekognition
    )
    if images_on_express:
        print("  (with images on Express, a video also starts one Express execution that hands it to Standard)")


def report_prices() -> None:
    print(
        f"\nprices (us-east-1, first tier, read {_READ_ON}; * the rate table could not be read back, "
        "only the rule: check the figure)"
    )
    for price in PRICES:
        amount = f"${price.usd:.10f}".rstrip("0")
        print(f"  {'' if price.verified else '*'}{amount} per {price.per}  {price.source}")


def main() -> None:
    # moto logs each failed JSONPath lookup and unsupported field with the state's parse tree; the figures suffice.
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    template = Template.load(TEMPLATE_PATH)
    machines = state_machines(template)
    print(
        "cost, counted from local executions started as the ObjectCreated rule starts them; state machines in "
        "template.yaml: " + ", ".join(f"{name} ({kind})" for name, kind in machines.items())
    )
    photo = next(s for s in SAMPLES if s.name == "cat.jpg")
    image = measure("image", photo.make(), "bench/cost.jpg")
    express_parameters = express_image_parameters(template)
    on_express = (
        measure("image, Express", photo.make(), "bench/cost.jpg", express_parameters) if express_parameters else None
    )
    video = measure("video", sample_video(), "bench/cost.mp4")
    report_counts([image, *([on_express] if on_express else []), video])
    report_image_cost(image, on_express)
    report_video_cost(video, on_express is not None)
    report_prices()
    # Search on AWS, per query and per month at 10k, 1M and 10M assets: its own benchmark, run as
    # `python -m rekflow.bench search_cost` runs it (it prices with this module's Price, so it is not imported here).
    print()
    runpy.run_module("rekflow.bench.search_cost", run_name="__main__")


if __name__ == "__main__":
    main()
