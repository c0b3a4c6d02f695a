"""Step Functions' 256 KiB payload limit on the image path: what a task over it ends as, and proof that the
largest answers Rekognition documents stay under it in every state."""

from __future__ import annotations

from tests.conftest import jpeg_bytes, task_errors

# "The maximum size of the input or output of a state, task or execution is 256 KiB of UTF-8 data" (Step
# Functions quotas, https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html).
PAYLOAD_LIMIT = 256 * 1024


def _long_lines(lines: int, words_per_line: int, word_length: int) -> list[dict]:
    """`lines` LINE detections of `words_per_line` words each, every word `word_length` characters."""
    box = {"Width": 0.5, "Height": 0.01, "Left": 0.1, "Top": 0.1}
    polygon = [{"X": 0.1, "Y": 0.1}, {"X": 0.6, "Y": 0.1}, {"X": 0.6, "Y": 0.11}, {"X": 0.1, "Y": 0.11}]
    detections: list[dict] = []
    for line in range(lines):
        words = [f"{line:03d}{index:03d}".ljust(word_length, "W") for index in range(words_per_line)]
        line_id = len(detections)
        geometry = {"BoundingBox": box, "Polygon": polygon}
        detections.append(
            {"DetectedText": " ".join(words), "Type": "LINE", "Id": line_id, "Confidence": 99.0, "Geometry": geometry}
        )
        detections += [
            {
                "DetectedText": word,
                "Type": "WORD",
                "Id": len(detections) + offset,
                "ParentId": line_id,
                "Confidence": 99.0,
                "Geometry": geometry,
            }
            for offset, word in enumerate(words)
        ]
    return detections


def test_a_task_result_over_256_kib_fails_the_execution_as_data_limit_exceeded(runtime):
    # GIVEN DetectText answers with 100 words of 1,500 characters each (and their 10 lines): within
    # Rekognition's word limit, but over 300 KB as a task result
    runtime.backend.inner._overrides["DetectText"] = {
        "TextDetections": _long_lines(lines=10, words_per_line=10, word_length=1500),
        "TextModelVersion": "3.0",
    }
    upload = runtime.upload(jpeg_bytes(), "scanned-fax.jpg")

    # WHEN the workflow runs
    result = runtime.run(runtime.object_created_event(upload))

    # THEN the text task fails with States.DataLimitExceeded, which no Catch takes (it is terminal on AWS),
    # and the execution fails under that name, not as States.Runtime
    assert (result.status, result.error) == ("FAILED", "States.DataLimitExceeded"), result.cause
    assert "States.DataLimitExceeded" in task_errors(result)
    failures = [e["taskFailedEventDetails"] for e in result.events_of_type("TaskFailed")]
    (failed,) = [details for details in failures if details["resource"] == "detectText"]
    assert failed["error"] == "States.DataLimitExceeded"
    (execution_failed,) = result.events_of_type("ExecutionFailed")
    assert execution_failed["executionFailedEventDetails"]["error"] == "States.DataLimitExceeded"
    assert "Text failed" not in result.states_entered()
    assert runtime.summary_items() == []
