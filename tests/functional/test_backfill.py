"""The backfill (statemachines/backfill.asl.json) on the local runtime: objects already in the media bucket,
each analysed once by its own MediaAnalysis execution, and a second backfill that analyses none of them."""

from __future__ import annotations

import json
import os

import boto3

from rekflow.cli import main
from rekflow.commands.backfill import run_local
from rekflow.local.runtime import client
from tests.conftest import jpeg_bytes, png_bytes, schema_validator

# Objects in the main test; `make bench` (python -m rekflow.bench.backfill) runs the 1,000.
OBJECTS = int(os.environ.get("REKFLOW_BACKFILL_OBJECTS", "30"))
# Keys as people name files: spaces, '+', '%', non-ASCII, braces and quotes, folders.
NAMES = (
    "IMG_{i:04d}.jpg",
    "holiday photos/day {i}.jpg",
    "a+b/{i} 100%.jpg",
    "été/Ünïcödé {i}.jpg",
    "odd/{{brace}} 'quote' {i}.jpg",
    "deep/er/still/{i}.png",
)


def _fill(runtime, count: int, prefix: str = "library/") -> list[str]:
    """`count` small images under `prefix` (a few distinct ones, as a photo library repeats sizes)."""
    images = [jpeg_bytes(96 + size, 80) for size in range(3)] + [png_bytes(90, 90)]
    keys = [prefix + NAMES[i % len(NAMES)].format(i=i) for i in range(count)]
    for i, key in enumerate(keys):
        runtime.upload(images[-1] if key.endswith(".png") else images[i % 3], key)
    return keys


def _rekognition_calls(runtime) -> int:
    return sum(runtime.backend.faults.calls.values())


def _analyses(runtime) -> list[dict]:
    pages = (
        client("stepfunctions")
        .get_paginator("list_executions")
        .paginate(stateMachineArn=runtime.stack.state_machine_arn)
    )
    return [execution for page in pages for execution in page["executions"]]


def _summary_items(runtime) -> list[dict]:
    """Every item of the summary table, page after page (a scan page stops at 1 MB)."""
    table = boto3.resource("dynamodb").Table(runtime.stack.results_table)
    page = table.scan()
    items = list(page["Items"])
    while "LastEvaluatedKey" in page:
        page = table.scan(ExclusiveStartKey=page["LastEvaluatedKey"])
        items.extend(page["Items"])
    return items


def _documents(runtime) -> list[str]:
    pages = (
        client("s3").get_paginator("list_objects_v2").paginate(Bucket=runtime.stack.results_bucket, Prefix="results/")
    )
    return [listed["Key"] for page in pages for listed in page.get("Contents", [])]


def _count_states_entered(runtime, report) -> None:
    """Feed the state coverage with the backfill's own states and one object's MediaAnalysis run. The states of
    the Map's item processor stay uncounted: moto runs each item inline, without a history of its own."""
    type(runtime).record(runtime.runtime.wait(report.execution_arn))
    runtime.wait(report.objects[0].execution)


def test_a_backfill_records_every_object_once_and_a_second_one_analyses_none(runtime):
    keys = _fill(runtime, OBJECTS)
    runtime.upload(b"plain text, not media", "library/notes.txt")
    runtime.upload(jpeg_bytes(), "elsewhere/not-in-the-prefix.jpg")

    first = run_local(runtime, "library/")

    _count_states_entered(runtime, first)
    assert first.status == "SUCCEEDED", (first.error, first.cause)
    assert first.counts() == {
        "analysed": OBJECTS,
        "already analysed": 0,
        "rejected": 1,
        "skipped": 0,
        "failed": 0,
        "not an upload": 0,
    }
    items = _summary_items(runtime)
    # Exactly once each: one summary item, one document and one MediaAnalysis execution per object.
    assert sorted(item["Key"] for item in items) == sorted([*keys, "library/notes.txt"])
    assert all(item["Announced"] for item in items)
    assert len(_documents(runtime)) == len(items)
    assert len(_analyses(runtime)) == len(items)
    for result in first.objects:
        document = runtime.results_document(result.results_key)
        assert (document["object"]["key"], document["execution"]["id"]) == (result.key, result.execution)
    calls = _rekognition_calls(runtime)
    assert calls >= 4 * OBJECTS  # labels, moderation, text and faces for every image

    second = run_local(runtime, "library/")

    assert second.status == "SUCCEEDED"
    assert second.counts() == {
        "analysed": 0,
        "already analysed": OBJECTS + 1,
        "rejected": 0,
        "skipped": 0,
        "failed": 0,
        "not an upload": 0,
    }
    assert _rekognition_calls(runtime) == calls, "the second backfill called Rekognition"
    assert len(_analyses(runtime)) == len(items), "the second backfill started MediaAnalysis executions"
    assert _summary_items(runtime) == items


def test_each_object_gets_the_object_created_event_of_its_current_version(runtime):
    upload = runtime.upload(jpeg_bytes(), "in/photo one.jpg")

    (result,) = run_local(runtime, "in/").objects

    described = client("stepfunctions").describe_execution(executionArn=result.execution)
    event = json.loads(described["input"])
    schema_validator("s3-object-created.schema.json").validate(event)
    assert event["detail"]["object"]["key"] == upload.key
    assert event["detail"]["object"]["version-id"] == upload.version_id
    assert event["detail"]["object"]["size"] == upload.size
    assert event["detail"]["reason"] == "Backfill"
    assert event["resources"] == [f"arn:aws:s3:::{runtime.stack.media_bucket}"]
    # The Step Functions console links the MediaAnalysis execution to the backfill that started it.
    assert event["AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"].split(":")[6] == "rekflow-local-backfill"


def test_a_new_version_of_an_analysed_object_is_analysed_again(runtime):
    runtime.upload(jpeg_bytes(), "in/photo.jpg")
    run_local(runtime, "in/")
    runtime.upload(jpeg_bytes(400, 300), "in/photo.jpg")  # same key, new bytes: a new version

    (again,) = run_local(runtime, "in/").objects

    assert again.outcome == "analysed"
    assert len(runtime.summary_items()) == 2  # one record per version


def test_a_failed_analysis_fails_its_object_alone_and_the_next_backfill_retries_only_it(make_runtime):
    runtime = make_runtime(BackfillToleratedFailurePercentage="50")
    _fill(runtime, 3, prefix="in/")
    runtime.upload(jpeg_bytes(), "in/locked.jpg")
    # S3 refuses Validate's reads of this one object: MediaAnalysis fails it (ObjectUnreadable) for a redrive.
    runtime.service_faults.inject(
        "s3",
        "GetObject",
        "AccessDenied",
        status=403,
        times=10,
        when=lambda params: params.get("Key") == "in/locked.jpg",
    )

    report = run_local(runtime, "in/")

    assert report.status == "SUCCEEDED"  # one of four failed: within the tolerated 50 %
    assert report.counts()["analysed"] == 3
    (failed,) = [r for r in report.objects if r.outcome == "failed"]
    assert (failed.key, failed.error) == ("in/locked.jpg", "States.TaskFailed")
    analysis = client("stepfunctions").describe_execution(executionArn=failed.execution)
    assert (analysis["status"], analysis["error"]) == ("FAILED", "ObjectUnreadable")

    runtime.service_faults.clear()
    retried = run_local(runtime, "in/")

    assert retried.counts() == {
        "analysed": 1,
        "already analysed": 3,
        "rejected": 0,
        "skipped": 0,
        "failed": 0,
        "not an upload": 0,
    }


def test_failures_over_the_tolerated_percentage_fail_the_backfill(make_runtime):
    runtime = make_runtime(BackfillToleratedFailurePercentage="0")
    _fill(runtime, 2, prefix="in/")
    runtime.service_faults.inject(
        "s3",
        "GetObject",
        "AccessDenied",
        status=403,
        times=10,
        when=lambda params: params.get("Key") == "in/IMG_0000.jpg",
    )

    report = run_local(runtime, "in/")

    assert (report.status, report.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    assert not report.succeeded


def test_rekflows_own_converted_copies_are_passed_over(runtime):
    prefix = runtime.template.resolve({"Fn::FindInMap": ["Proxies", "Names", "Prefix"]})
    runtime.upload(jpeg_bytes(), "photo.jpg")
    runtime.upload(jpeg_bytes(), f"{prefix}{'0' * 64}/proxy.jpg")  # a copy Convert image to JPEG wrote

    report = run_local(runtime, "")

    assert {r.key: r.outcome for r in report.objects} == {
        "photo.jpg": "analysed",
        f"{prefix}{'0' * 64}/proxy.jpg": "not an upload",
    }
    assert len(_analyses(runtime)) == 1


def test_an_empty_prefix_is_a_backfill_of_nothing(runtime):
    report = run_local(runtime, "nothing/here/")
    assert (report.status, report.objects) == ("SUCCEEDED", [])


def test_backfill_command_on_a_folder_writes_documents_and_reports_counts(tmp_path, capsys):
    folder = tmp_path / "photos"
    (folder / "trip").mkdir(parents=True)
    (folder / "trip" / "beach.jpg").write_bytes(jpeg_bytes())
    (folder / "cat.png").write_bytes(png_bytes())
    (folder / "notes.txt").write_text("not media")
    output = tmp_path / "out"

    code = main(["backfill", str(folder), "--backend", "fixture", "--output", str(output), "--json"])

    lines = {line["key"]: line for line in map(json.loads, capsys.readouterr().out.splitlines())}
    assert code == 0
    assert {key: line["outcome"] for key, line in lines.items()} == {
        "trip/beach.jpg": "analysed",
        "cat.png": "analysed",
        "notes.txt": "rejected",
    }
    document = json.loads((output / "trip" / "beach.jpg.json").read_text(encoding="utf-8"))
    assert document["object"]["key"] == "trip/beach.jpg"
    assert lines["trip/beach.jpg"]["results"] == str(output / "trip" / "beach.jpg.json")
    assert (output / "logs" / "ValidateFunction.log").exists()


def test_backfill_command_refuses_what_it_cannot_run(tmp_path, capsys):
    assert main(["backfill", "s3://bucket/prefix/"]) == 2  # a deployed backfill needs --stack
    assert main(["backfill", str(tmp_path / "missing")]) == 2
    assert main(["backfill", str(tmp_path), "--stack", "rekflow"]) == 2  # --stack goes with s3://
    assert main(["backfill", "s3://bucket/prefix/", "--stack", "rekflow", "--rekognition-tps", "5"]) == 2
    errors = capsys.readouterr().err
    assert "needs --stack" in errors and "no such folder" in errors


def test_an_object_without_a_version_id_is_analysed_each_time_and_recorded_once(runtime):
    # Written while versioning was suspended: its version id is "null" and its asset id rests on the ETag.
    s3 = client("s3")
    s3.put_bucket_versioning(Bucket=runtime.stack.media_bucket, VersioningConfiguration={"Status": "Suspended"})
    try:
        runtime.upload(jpeg_bytes(), "old/photo.jpg")
    finally:
        s3.put_bucket_versioning(Bucket=runtime.stack.media_bucket, VersioningConfiguration={"Status": "Enabled"})

    (first,) = run_local(runtime, "old/").objects
    calls = _rekognition_calls(runtime)
    (second,) = run_local(runtime, "old/").objects

    assert (first.outcome, second.outcome) == ("analysed", "already analysed")
    assert _rekognition_calls(runtime) > calls  # no version id to look up: analysed again...
    assert len(runtime.summary_items()) == 1  # ...and stopped at MediaAnalysis's Already recorded
