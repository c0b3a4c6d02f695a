"""A hit as the page shows it: what matched (label and confidence, the text line, a video's moments), the boxes
of only those findings on its thumbnail, and where its thumbnail and media are."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from rekflow.commands.report import Box
from rekflow.commands.search import hit_json
from rekflow.commands.serve.library import Library
from rekflow.search.facts import VideoResults
from rekflow.search.query import And, Node, Or, Term
from rekflow.search.reference import Evidence, Hit


def hit_view(hit: Hit, tree: Node, library: Library) -> dict[str, Any]:
    """One result of GET /api/search: `rekflow search --json`'s line (less the document's path, which is the
    server's business), with the boxes, the first moment of a video's match, and the thumbnail and media URLs."""
    view = hit_json(hit, Path())
    del view["document"]  # a path on the server's disk: not the page's business
    at = first_moment(hit.evidence)
    document = library.document(hit.asset) if hit.asset.kind in ("image", "video") else None
    faces = wants_faces(tree)
    boxes = matching_boxes(document, hit.evidence, faces) if document and hit.asset.kind == "image" else []
    view["boxes"] = [asdict(box) for box in boxes]
    video = library.video_results(document) if document and hit.asset.kind == "video" else None
    view["momentBoxes"] = moment_boxes(video, hit.evidence, faces) if video else []
    view["atSeconds"] = at
    view["thumbnail"] = library.thumbnail_url(hit.asset, at)
    view["media"] = library.media_url(hit.asset)
    return view


def first_moment(evidence: tuple[Evidence, ...]) -> float | None:
    """The earliest moment any finding of the match was seen, in seconds (a video's player starts there)."""
    moments = [m.millis for e in evidence for m in e.moments]
    return min(moments) / 1000 if moments else None


def wants_faces(tree: Node) -> bool:
    """Whether the query asks about faces outside any `-` (then the faces are part of the match and drawn)."""
    if isinstance(tree, Term):
        return tree.field == "faces"
    if isinstance(tree, (And, Or)):
        return any(wants_faces(child) for child in tree.children)
    return False  # Not: a face the query excludes is no evidence; Free and MatchAll name no faces


def matching_boxes(document: dict[str, Any], evidence: tuple[Evidence, ...], faces: bool) -> list[Box]:
    """The boxes of a photo's findings that matched: each instance of a matching label, each matching line of
    text, and the faces when the query asked about them. Moderation labels of a photo carry no box
    (https://docs.aws.amazon.com/rekognition/latest/APIReference/API_ModerationLabel.html)."""
    features = {name: r for name, r in (document.get("features") or {}).items() if r.get("status") == "SUCCEEDED"}
    return _boxes(
        features.get("labels", {}).get("labels", []),
        features.get("text", {}).get("detections", []),
        features.get("faces", {}).get("faces", []) if faces else [],
        evidence,
    )


def moment_boxes(video: VideoResults, evidence: tuple[Evidence, ...], faces: bool) -> list[dict[str, Any]]:
    """A video's boxes at each moment of the match, from its feature results (a label's instances, a line's box,
    the faces, in that frame): [{"seconds", "boxes"}], in time order, moments without a box left out."""
    wanted = sorted({m.millis for e in evidence for m in e.moments})
    at: dict[int, tuple[list[Any], list[Any], list[Any]]] = {millis: ([], [], []) for millis in wanted}
    for feature, slot, member in (("labels", 0, "Label"), ("text", 1, "TextDetection"), ("faces", 2, "Face")):
        if feature == "faces" and not faces:
            continue
        for item in video.get(feature) or []:
            if item["Timestamp"] in at:
                at[item["Timestamp"]][slot].append(item[member])
    moments = []
    for millis, (labels, detections, found_faces) in at.items():
        boxes = _boxes(labels, detections, found_faces, evidence)
        if boxes:
            moments.append({"seconds": millis / 1000, "boxes": [asdict(box) for box in boxes]})
    return moments


Items = list[dict[str, Any]]


def _boxes(labels: Items, detections: Items, faces: Items, evidence: tuple[Evidence, ...]) -> list[Box]:
    names = {e.name for e in evidence if e.kind == "label"}
    lines = {e.name for e in evidence if e.kind == "text"}
    boxes = []
    for label in labels:
        if label["Name"] in names:
            for instance in label.get("Instances", []):
                boxes.append(Box.of("label", f"{label['Name']} {instance['Confidence']:.1f}%", instance["BoundingBox"]))
    for detection in detections:
        if detection["Type"] == "LINE" and detection["DetectedText"] in lines:
            boxes.append(Box.of("text", detection["DetectedText"], detection["Geometry"]["BoundingBox"]))
    for face in faces:
        boxes.append(Box.of("face", f"face {face['Confidence']:.1f}%", face["BoundingBox"]))
    return boxes
