"""Step Functions' 256 KiB payload limit on the image path: what a task over it ends as, and proof that the
largest answers Rekognition documents stay under it in every state."""

from __future__ import annotations

from rekflow import TEMPLATE_PATH
from rekflow.local.template import Template
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


# ------------------------------------------------------------------ the largest answers Rekognition documents
# Documented caps (rekflow.vision.limits): DetectText 100 words, DetectFaces 100 faces, DetectLabels MaxLabels
# (the template's MaxLabels parameter, default 25). Rekognition documents no bound for what is inside one item,
# so these are assumptions, generous for real answers: a word of 30 characters, each word on a line of its own
# (the most LINE detections 100 words can have), DEFAULT face attributes (BoundingBox, Confidence, Pose, Quality
# and the five Landmarks), a label with 10 instances, 6 parents, 3 aliases and 2 categories, and 100 moderation
# labels (more than the taxonomy's three levels hold for one image).
WORD_LENGTH = 30
LABEL_INSTANCES, LABEL_PARENTS, LABEL_ALIASES, LABEL_CATEGORIES = 10, 6, 3, 2
MODERATION_LABELS = 100
# Computed maxima (UTF-8 bytes as the history records them, at the default MaxLabels 25, floats with
# the 16-17 digits Rekognition sends):
#   detectText result 94,748; Detect text output 87,559   detectFaces result 69,737
#   Analyze image output / Build results input 211,972
#   Build results output (document, item, event) 220,140, and every later state's input and output (the same)
#   Build results' lambda:invoke result 237,655: the largest payload, the document once more as the escaped JSON
#   string of Payload. Headroom there: 24,489 bytes (9 %) under 256 KiB (262,144).
# At the template's MaxValue 30 (the stack this test runs): Build results' lambda:invoke result 247,910 bytes, the
# document 229,695, headroom 14,234 bytes (5 %). One more label at these assumptions is about 2 KB in the document and
# 4 KB at that peak, so above about 31 the path can end in States.DataLimitExceeded: MaxValue 30 keeps it below
# (DetectLabels itself would accept up to 1000).


def _precise(value: float) -> float:
    return round(value + 0.000000123456789, 15)


def _max_box(i: int) -> dict[str, float]:
    return {"Width": _precise(0.01), "Height": _precise(0.02), "Left": _precise(i / 1000), "Top": _precise(i / 999)}


def _max_text() -> list[dict]:
    detections: list[dict] = []
    for line in range(100):
        word = f"{line:03d}".ljust(WORD_LENGTH, "W")
        geometry = {"BoundingBox": _max_box(line), "Polygon": [{"X": _precise(0.1), "Y": _precise(0.2)}] * 4}
        detections.append(
            {"DetectedText": word, "Type": "LINE", "Id": 2 * line, "Confidence": _precise(99.0), "Geometry": geometry}
        )
        detections.append(
            {
                "DetectedText": word,
                "Type": "WORD",
                "Id": 2 * line + 1,
                "ParentId": 2 * line,
                "Confidence": _precise(99.0),
                "Geometry": geometry,
            }
        )
    return detections


def _max_faces() -> list[dict]:
    names = ("eyeLeft", "eyeRight", "mouthLeft", "mouthRight", "nose")
    return [
        {
            "BoundingBox": _max_box(i),
            "Landmarks": [{"Type": n, "X": _precise(0.3), "Y": _precise(0.4)} for n in names],
            "Pose": {"Roll": _precise(-1.5), "Yaw": _precise(2.5), "Pitch": _precise(-3.5)},
            "Quality": {"Brightness": _precise(60.0), "Sharpness": _precise(80.0)},
            "Confidence": _precise(99.9),
        }
        for i in range(100)
    ]


def _max_labels(count: int) -> list[dict]:
    return [
        {
            "Name": f"Label number {i:04d}",
            "Confidence": _precise(99.0 - i / 100),
            "Instances": [{"BoundingBox": _max_box(j), "Confidence": _precise(95.0)} for j in range(LABEL_INSTANCES)],
            "Parents": [{"Name": f"Parent label {j}"} for j in range(LABEL_PARENTS)],
            "Aliases": [{"Name": f"Alias label {j}"} for j in range(LABEL_ALIASES)],
            "Categories": [{"Name": f"Category of labels {j}"} for j in range(LABEL_CATEGORIES)],
        }
        for i in range(count)
    ]


def _max_moderation() -> list[dict]:
    return [
        {
            "Name": f"Moderation label {i:03d}",
            "ParentName": f"Moderation parent {i // 10:02d}",
            "Confidence": _precise(99.0),
            "TaxonomyLevel": 1 + i % 3,
        }
        for i in range(MODERATION_LABELS)
    ]


def payload_sizes(result) -> dict[str, int]:
    """The largest input and output of each state (and the task results), in UTF-8 bytes, from the history."""
    sizes: dict[str, int] = {}
    for event in result.history:
        for key, field in (("stateEnteredEventDetails", "input"), ("stateExitedEventDetails", "output")):
            details = event.get(key)
            if details is not None:
                label = f"{details['name']} {field}"
                sizes[label] = max(sizes.get(label, 0), len(details.get(field, "").encode("utf-8")))
        succeeded = event.get("taskSucceededEventDetails")
        if succeeded is not None:  # branches interleave: a task result is named by its API
            label = f"{succeeded['resource']} result"
            sizes[label] = max(sizes.get(label, 0), len(succeeded.get("output", "").encode("utf-8")))
    return sizes


def test_the_largest_documented_answers_keep_every_state_under_256_kib(make_runtime):
    # GIVEN a stack at the largest MaxLabels the template allows, and Rekognition answering at its documented maxima
    max_labels = int(Template.load(TEMPLATE_PATH).body["Parameters"]["MaxLabels"]["MaxValue"])
    runtime = make_runtime(MaxLabels=str(max_labels))
    overrides = runtime.backend.inner._overrides
    overrides["DetectText"] = {"TextDetections": _max_text(), "TextModelVersion": "3.0"}
    overrides["DetectFaces"] = {"FaceDetails": _max_faces(), "OrientationCorrection": "ROTATE_0"}
    overrides["DetectLabels"] = {"Labels": _max_labels(max_labels + 10), "LabelModelVersion": "3.0"}
    overrides["DetectModerationLabels"] = {"ModerationLabels": _max_moderation(), "ModerationModelVersion": "7.0"}
    upload = runtime.upload(jpeg_bytes(), "crowded.jpg")

    # WHEN the workflow runs
    result = runtime.run(runtime.object_created_event(upload))

    # THEN it succeeds with every feature at its cap, and no state's input or output comes near 256 KiB
    assert result.status == "SUCCEEDED", result.cause
    counts = {name: feature["count"] for name, feature in result.output["features"].items()}
    assert counts == {"labels": max_labels, "moderation": MODERATION_LABELS, "text": 100, "faces": 100}
    sizes = payload_sizes(result)
    assert sizes["detectText result"] > 50_000 and sizes["detectFaces result"] > 50_000
    largest = max(sizes, key=sizes.__getitem__)
    assert sizes[largest] < PAYLOAD_LIMIT, sorted(sizes.items(), key=lambda item: -item[1])[:6]
    assert largest == "invoke result"  # Build results' answer: the document, escaped in Payload (see the maxima)
