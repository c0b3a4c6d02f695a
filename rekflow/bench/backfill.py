"""`make bench`: a backfill of OBJECTS small images on the local runtime (fixture backend), then a second one.

The issue's test of done: every object recorded exactly once (one summary item, one results document and one
MediaAnalysis execution each), and the second backfill analyses none (no Rekognition call, no new execution).
Printed: each backfill's wall time, CPU time and outcome counts, the Rekognition calls, peak memory; the exit
code is 1 when an invariant does not hold.

    python -m rekflow.bench backfill [objects] [rekognition_tps]
"""

from __future__ import annotations

import io
import logging
import resource
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from rekflow.commands.backfill import BackfillReport, run_local
from rekflow.local import malloc
from rekflow.local.function_logs import FunctionLogs, function_by_logical_id
from rekflow.local.runtime import LocalRuntime, client

# As people name photos: folders, spaces, '+', '%', non-ASCII, braces and quotes.
KEYS = (
    "library/IMG_{i:04d}.jpg",
    "library/holiday photos/day {i}.jpg",
    "library/a+b/{i} 100%.jpg",
    "library/été/Ünïcödé {i}.jpg",
    "library/odd/{{brace}} 'quote' {i}.jpg",
)


def tiny_jpegs(count: int = 4) -> list[bytes]:
    """A few distinct small JPEGs (each over Rekognition's 80-pixel minimum side)."""
    images = []
    for shade in range(count):
        buffer = io.BytesIO()
        Image.new("RGB", (96 + 8 * shade, 96), (40 * shade, 120, 200)).save(buffer, "JPEG")
        images.append(buffer.getvalue())
    return images


def timed_backfill(runtime: LocalRuntime) -> tuple[BackfillReport, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    report = run_local(runtime, "library/")
    return report, time.perf_counter() - wall, time.process_time() - cpu


def main() -> int:
    malloc.limit_arenas()
    # moto logs, as an error, each IsPresent test of a field that is absent: the answer is right, the line noise.
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    objects = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    overrides = {"RekognitionTps": sys.argv[2]} if len(sys.argv) > 2 else {}
    problems = []
    # The functions' output (Powertools' lines and metric blobs) goes to their logs, as in `rekflow backfill`.
    with (
        tempfile.TemporaryDirectory() as logs_folder,
        FunctionLogs(Path(logs_folder)) as logs,
        LocalRuntime("fixture", parameter_overrides=overrides) as runtime,
    ):
        logs.attach(function_by_logical_id(runtime))
        images = tiny_jpegs()
        keys = {KEYS[i % len(KEYS)].format(i=i) for i in range(objects)}
        for i, key in enumerate(sorted(keys)):
            runtime.upload(images[i % len(images)], key)
        sfn = client("stepfunctions")

        def records() -> list[tuple[str, str, str]]:
            """(key, execution, created at) of every summary item, every page of the scan."""
            pages = client("dynamodb").get_paginator("scan").paginate(TableName=runtime.stack.results_table)
            return sorted(
                (item["Key"]["S"], item["ExecutionArn"]["S"], item["CreatedAt"]["S"])
                for page in pages
                for item in page["Items"]
            )

        def analyses() -> int:
            listed = sfn.get_paginator("list_executions").paginate(stateMachineArn=runtime.stack.state_machine_arn)
            return sum(len(page["executions"]) for page in listed)

        first, first_wall, first_cpu = timed_backfill(runtime)
        calls = sum(runtime.backend.faults.calls.values())
        items = records()
        documents = sum(
            page.get("KeyCount", 0)
            for page in client("s3")
            .get_paginator("list_objects_v2")
            .paginate(Bucket=runtime.stack.results_bucket, Prefix="results/")
        )
        executions = analyses()
        second, second_wall, second_cpu = timed_backfill(runtime)
        print(f"backfill of {objects} objects (RekognitionTps {runtime.template.parameter('RekognitionTps')}):")
        print(f"  first:  {first.status}, {first_wall:6.1f} s wall, {first_cpu:6.1f} s CPU, {first.counts()}")
        print(f"  second: {second.status}, {second_wall:6.1f} s wall, {second_cpu:6.1f} s CPU, {second.counts()}")
        print(
            f"  summary items {len(items)} (distinct keys {len({key for key, _, _ in items})}), results "
            f"documents {documents}, MediaAnalysis executions {executions} then {analyses()}"
        )
        print(
            f"  Rekognition calls: {calls} in the first, {sum(runtime.backend.faults.calls.values()) - calls} "
            "in the second"
        )
        if first.counts()["analysed"] != objects or {key for key, _, _ in items} != keys or len(items) != objects:
            problems.append("the first backfill did not record every object exactly once")
        if documents != objects or executions != objects:
            problems.append("not one document and one MediaAnalysis execution per object")
        if second.counts()["already analysed"] != objects or sum(runtime.backend.faults.calls.values()) != calls:
            problems.append("the second backfill analysed something again")
        if analyses() != executions or records() != items:
            problems.append("the second backfill started executions or changed a record")
    print(f"  peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB")
    for problem in problems:
        print(f"FAILED: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
