"""A hit as the page shows it: what matched (label and confidence, the text line, a video's moments), the boxes
of only those findings on its thumbnail, and where its thumbnail and media are."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from rekflow.commands.report import Box
from rekflow.commands.search import hit_json
from rekflow.commands.serve.library import Library
from rekflow.search.query import And, Node, Or, Term
from rekflow.search.reference import Evidence, Hit


def hit_view(hit: Hit, tree: Node, library: Library) -> dict[str, Any]:
    """One result of GET /api/search: `rekflow search --json`'s line (less the document's path, which is the
    server's business), with the boxes, the first moment of a video's match, and the thumbnail and media URLs."""
    view = hit_json(hit, Path())
    del view["document"]  # a path on the server's disk: not the page's business
    at = first_moment(hit.evidence)
    document = library.document(hit.asset) if hit.asset.kind == "image" else None
    boxes = matching_boxes(document, hit.evidence, wants_faces(tree)) if document else []
    view["boxes"] = [asdict(box) for box in boxes]
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
    labels = {e.name for e in evidence if e.kind == "label"}
    lines = {e.name for e in evidence if e.kind == "text"}
    boxes = []
    for label in features.get("labels", {}).get("labels", []):
        if label["Name"] in labels:
            for instance in label.get("Instances", []):
                boxes.append(Box.of("label", f"{label['Name']} {instance['Confidence']:.1f}%", instance["BoundingBox"]))
    for detection in features.get("text", {}).get("detections", []):
        if detection["Type"] == "LINE" and detection["DetectedText"] in lines:
            boxes.append(Box.of("text", detection["DetectedText"], detection["Geometry"]["BoundingBox"]))
    if faces:
        for face in features.get("faces", {}).get("faces", []):
            boxes.append(Box.of("face", f"face {face['Confidence']:.1f}%", face["BoundingBox"]))
    return boxes
