"""Rekognition's documented limits on what an answer holds, kept in one place for every offline backend.

A backend's `detect_…` finds what its models (or canned findings) find; `hold(operation, request, response)`
then cuts the answer to what Rekognition itself would return for the request: its defaults for a parameter
left out, its filters and its caps. The request ranges themselves (MaxLabels >= 0, MinConfidence 0-100,
MaxResults >= 1) are botocore's service model, checked client-side before a call reaches a backend.

Each limit below quotes its source: the Amazon Rekognition API Reference (the same text is the
`documentation` of botocore's Rekognition model) or the Developer Guide's quotas page.
"""

from __future__ import annotations

from typing import Any

API_REFERENCE = "https://docs.aws.amazon.com/rekognition/latest/APIReference"
QUOTAS_PAGE = "https://docs.aws.amazon.com/rekognition/latest/dg/limits.html"

# DetectText: "DetectText can detect up to 100 words in an image." (f"{API_REFERENCE}/API_DetectText.html";
# the quotas page, QUOTAS_PAGE, says the same: "DetectText can detect up to 100 words in an image.")
MAX_TEXT_WORDS = 100
# DetectText's WordFilter: "Words with detection confidence below this will be excluded from the result. [...]
# The default MinConfidence is 80." (f"{API_REFERENCE}/API_DetectionFilter.html")
DEFAULT_WORD_MIN_CONFIDENCE = 80.0

# DetectFaces: "DetectFaces detects the 100 largest faces in the image." (f"{API_REFERENCE}/API_DetectFaces.html")
MAX_FACES = 100

# DetectLabels: "You can also add the MaxLabels parameter to limit the number of labels returned. The default
# and upper limit is 1000 labels." and, of MaxLabels, "The service returns the specified number of highest
# confidence labels." (f"{API_REFERENCE}/API_DetectLabels.html")
MAX_LABELS = 1000
# DetectLabels: "If MinConfidence is not specified, the operation returns labels with a confidence values greater
# than or equal to 55 percent." (f"{API_REFERENCE}/API_DetectLabels.html")
DEFAULT_LABEL_MIN_CONFIDENCE = 55.0

# DetectModerationLabels: "If you don't specify MinConfidence, the operation returns labels with confidence values
# greater than or equal to 50 percent." (f"{API_REFERENCE}/API_DetectModerationLabels.html"); StartContentModeration
# says the same of GetContentModeration (f"{API_REFERENCE}/API_StartContentModeration.html").
DEFAULT_MODERATION_MIN_CONFIDENCE = 50.0

# Get{Label,ContentModeration,Text,Face,Segment}Detection, MaxResults: "Maximum number of results to return per
# paginated call. The largest value you can specify is 1000. If you specify a value greater than 1000, a maximum
# of 1000 results is returned. The default value is 1000." (f"{API_REFERENCE}/API_GetLabelDetection.html", and
# the same member of the other four Get… operations)
MAX_RESULTS_PER_PAGE = 1000

# "The maximum image dimensions for DetectModerationLabels is 10K pixels for both width and height." and "The
# maximum image dimensions for DetectLabels is 10K pixels for both width and height." (QUOTAS_PAGE). An image over
# it is refused with ImageTooLargeException: "The input image size exceeds the allowed limit."
# (f"{API_REFERENCE}/API_DetectLabels.html", Errors)
MAX_IMAGE_SIDE = {"DetectLabels": 10_000, "DetectModerationLabels": 10_000}


def hold(operation: str, request: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    """`response` cut to what Rekognition returns for `request` (the lists are replaced, not edited in place)."""
    holder = _HOLDERS.get(operation)
    return holder(request, response) if holder else response


def _labels(request: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    floor = float(request.get("MinConfidence", DEFAULT_LABEL_MIN_CONFIDENCE))
    most = min(int(request.get("MaxLabels", MAX_LABELS)), MAX_LABELS)
    found = [label for label in response.get("Labels", []) if label.get("Confidence", 0.0) >= floor]
    found.sort(key=lambda label: -label.get("Confidence", 0.0))  # stable: equal confidences keep their order
    return {**response, "Labels": found[:most]}


def _moderation(request: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    floor = float(request.get("MinConfidence", DEFAULT_MODERATION_MIN_CONFIDENCE))
    found = [label for label in response.get("ModerationLabels", []) if label.get("Confidence", 0.0) >= floor]
    return {**response, "ModerationLabels": found}


def _text(request: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    """Words the WordFilter keeps, the first MAX_TEXT_WORDS of them, and the lines those words belong to
    (a line with no word in the answer at all is kept: there is nothing to judge it by)."""
    word_filter = request.get("Filters", {}).get("WordFilter", {})
    floor = float(word_filter.get("MinConfidence", DEFAULT_WORD_MIN_CONFIDENCE))
    min_height = float(word_filter.get("MinBoundingBoxHeight", 0.0))
    min_width = float(word_filter.get("MinBoundingBoxWidth", 0.0))
    detections = response.get("TextDetections", [])

    def passes(word: dict[str, Any]) -> bool:
        box = word.get("Geometry", {}).get("BoundingBox", {})
        kept: bool = (
            word.get("Confidence", 0.0) >= floor
            and box.get("Height", 1.0) >= min_height
            and box.get("Width", 1.0) >= min_width
        )
        return kept

    words = [d for d in detections if d.get("Type") == "WORD" and passes(d)][:MAX_TEXT_WORDS]
    kept_words = {id(word) for word in words}
    lines_with_words = {d.get("ParentId") for d in detections if d.get("Type") == "WORD"}
    lines_kept = {word.get("ParentId") for word in words}
    kept = [
        d
        for d in detections
        if id(d) in kept_words
        or (d.get("Type") == "LINE" and (d.get("Id") in lines_kept or d.get("Id") not in lines_with_words))
    ]
    return {**response, "TextDetections": kept}


def _faces(request: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    faces = response.get("FaceDetails", [])
    if len(faces) <= MAX_FACES:
        return response

    def area(face: dict[str, Any]) -> float:
        box = face.get("BoundingBox", {})
        return float(box.get("Width", 0.0)) * float(box.get("Height", 0.0))

    largest = {id(face) for face in sorted(faces, key=area, reverse=True)[:MAX_FACES]}
    return {**response, "FaceDetails": [face for face in faces if id(face) in largest]}


_HOLDERS = {
    "DetectLabels": _labels,
    "DetectModerationLabels": _moderation,
    "DetectText": _text,
    "DetectFaces": _faces,
}


def page_size(request: dict[str, Any]) -> int:
    """A Get… request's MaxResults as Rekognition applies it: at most MAX_RESULTS_PER_PAGE, which is also the
    default (botocore refuses a value below 1 before the call is sent)."""
    return min(int(request.get("MaxResults", MAX_RESULTS_PER_PAGE)), MAX_RESULTS_PER_PAGE)
