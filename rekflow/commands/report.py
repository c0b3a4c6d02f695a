"""One self-contained HTML page over the results documents in a results folder (`rekflow report`).

The page embeds everything it shows (thumbnails as data: URIs, its style and script inline) and
forbids itself any load by its Content-Security-Policy, so it opens the same offline, from a mail
attachment or from a shared drive.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import jsonschema
from jsonschema.exceptions import best_match

from rekflow import PROJECT_ROOT
from rekflow.commands import REPORT_PAGE_NAME
from rekflow.media import sources as media_sources
from rekflow.media.thumbnails import Preview, image_preview, video_poster

PAGE_NAME = REPORT_PAGE_NAME
# Folders of a results folder that hold other things than documents (the functions' logs, execution records, what
# video jobs found: results_folder.py, and the reviews rekflow review keeps: commands/review/folder.py).
NOT_DOCUMENTS = ("logs", "executions", "video-results", "reviews")
# The page may load nothing: no URL of any scheme but data: for images, its own inline style and script.
CONTENT_SECURITY_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"
# Only analysed media are opened for a preview; a rejected file may be anything (truncated, a pixel bomb).
PREVIEWED_STATUSES = ("SUCCEEDED", "PARTIAL")


@dataclass(frozen=True)
class Box:
    """A Rekognition BoundingBox, as percentages of the image: its Left, Top, Width and Height are
    ratios of the image's width and height, and may reach past its edges (a face cut by the frame).
    Source: https://docs.aws.amazon.com/rekognition/latest/APIReference/API_BoundingBox.html"""

    kind: str  # face, text or label
    title: str
    left: float
    top: float
    width: float
    height: float

    @classmethod
    def of(cls, kind: str, title: str, box: dict[str, float]) -> Box:
        return cls(kind, title, 100 * box["Left"], 100 * box["Top"], 100 * box["Width"], 100 * box["Height"])


@dataclass(frozen=True)
class Span:
    """A stretch of a video's timeline, as percentages of its duration."""

    title: str
    left: float
    width: float
    start_millis: int
    end_millis: int


@dataclass
class Card:
    key: str
    document_path: str
    status: str
    reason: str | None
    message: str | None
    media: str  # mediaType and format, e.g. "image JPEG"
    size: int
    execution: str
    created_at: str
    preview: Preview | None = None
    preview_note: str | None = None  # why there is no preview, or what to doubt about it
    boxes: list[Box] = field(default_factory=list)
    labels: list[tuple[str, float]] = field(default_factory=list)
    moderation: list[tuple[str, str, float, bool]] | None = None  # name, parent, confidence, review; None: not run
    text_lines: list[str] = field(default_factory=list)
    faces: str | None = None
    features: list[dict[str, Any]] = field(default_factory=list)  # name, status, error, cause
    duration_millis: int | None = None
    shots: list[Span] = field(default_factory=list)
    cues: list[Span] = field(default_factory=list)

    @property
    def label_names(self) -> list[str]:
        return [name for name, _ in self.labels]

    @property
    def needs_review(self) -> bool:
        return any(review for *_, review in self.moderation or [])

    @property
    def failed_features(self) -> list[str]:
        return [feature["name"] for feature in self.features if feature["status"] == "FAILED"]


def find_documents(folder: Path) -> tuple[list[tuple[Path, dict[str, Any]]], list[tuple[Path, str]]]:
    """(path, document) of every results document under `folder`, by key; and (path, why) of each
    other JSON file, which is left out. A document is what the results-document schema accepts."""
    validator = jsonschema.Draft7Validator(
        json.loads((PROJECT_ROOT / "schemas" / "results-document.schema.json").read_text(encoding="utf-8"))
    )
    documents, refused = [], []
    for path in sorted(folder.rglob("*.json")):
        relative = path.relative_to(folder)
        if relative.parts[0] in NOT_DOCUMENTS or any(part.startswith(".") for part in relative.parts):
            continue
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            refused.append((path, f"not JSON: {error}"))
            continue
        invalid = best_match(validator.iter_errors(document))
        if invalid is not None:
            refused.append((path, f"{invalid.json_path}: {invalid.message}"[:200]))
            continue
        documents.append((path, document))
    return sorted(documents, key=lambda found: found[1]["object"]["key"]), refused


def write_report(folder: Path, documents: list[tuple[Path, dict[str, Any]]], media: Path | None = None) -> Path:
    """Render the page over `documents` and write it into `folder`; returns its path."""
    recorded = media_sources.read(folder)
    cards = []
    for path, document in documents:
        key = document["object"]["key"]
        source = media / key if media is not None else recorded.get(key)
        cards.append(card(document, path.relative_to(folder).as_posix(), source))
    target = folder / PAGE_NAME
    target.write_text(render(cards, folder), encoding="utf-8")
    return target


def card(document: dict[str, Any], document_path: str, source: Path | None) -> Card:
    """What the page shows of one document; `source` is the file it was made from, when known."""
    obj, features = document["object"], document["features"]
    made = Card(
        key=obj["key"],
        document_path=document_path,
        status=document["status"],
        reason=document["reason"],
        message=document["message"],
        media=f"{obj['mediaType']} {obj['format']}",
        size=obj["size"],
        execution=document["execution"]["name"],
        created_at=document["createdAt"],
    )
    review = set(document["moderationReview"]["labels"])
    # Only the features that ran: a rejected file runs none, a photo no segments.
    for name in (name for name in document["settings"]["features"] if name in features):
        result = features[name]
        made.features.append(
            {"name": name, "status": result["status"], "error": result.get("error"), "cause": result.get("cause")}
        )
    succeeded = {name: result for name, result in features.items() if result["status"] == "SUCCEEDED"}
    if "labels" in succeeded:
        made.labels = [(label["Name"], label["Confidence"]) for label in succeeded["labels"]["labels"]]
    if "moderation" in succeeded:
        made.moderation = [
            (label["Name"], label.get("ParentName", ""), label["Confidence"], label["Name"] in review)
            for label in succeeded["moderation"]["labels"]
        ]
    if "text" in succeeded:
        text = succeeded["text"]
        made.text_lines = (
            text["lines"] if "lines" in text else [d["DetectedText"] for d in text["detections"] if d["Type"] == "LINE"]
        )
    if "faces" in succeeded:
        faces = succeeded["faces"]
        made.faces = (
            f"{faces['count']} in {faces['framesWithFaces']} frame(s)"
            if "framesWithFaces" in faces
            else str(len(faces["faces"]))
        )
    made.boxes = _boxes(succeeded)
    if "video" in obj:
        made.duration_millis = obj["video"]["durationMillis"]
        if "segments" in succeeded:
            made.shots, made.cues = _timeline(succeeded["segments"], made.duration_millis)
    _preview(made, document, source)
    return made


def _boxes(succeeded: dict[str, Any]) -> list[Box]:
    """Every box of an image's findings (a video's summary carries none: they are per frame)."""
    boxes = []
    for face in succeeded.get("faces", {}).get("faces", []):
        boxes.append(Box.of("face", f"face {face['Confidence']:.1f}%", face["BoundingBox"]))
    for detection in succeeded.get("text", {}).get("detections", []):
        if detection["Type"] == "LINE":  # its words' boxes lie inside it
            boxes.append(Box.of("text", detection["DetectedText"], detection["Geometry"]["BoundingBox"]))
    for label in succeeded.get("labels", {}).get("labels", []):
        for instance in label.get("Instances", []):
            boxes.append(Box.of("label", f"{label['Name']} {instance['Confidence']:.1f}%", instance["BoundingBox"]))
    return boxes


def _timeline(segments: dict[str, Any], duration_millis: int) -> tuple[list[Span], list[Span]]:
    def span(title: str, item: dict[str, Any]) -> Span:
        start, end = item["StartMillis"], item["EndMillis"]
        return Span(
            f"{title} {item['Start']}-{item['End']}",
            100 * start / duration_millis,
            100 * (end - start) / duration_millis,
            start,
            end,
        )

    if not duration_millis:
        return [], []
    return (
        [span(f"shot {shot['Index'] + 1}", shot) for shot in segments["shots"]],
        [span(cue["CueType"], cue) for cue in segments["technicalCues"]],
    )


def _preview(made: Card, document: dict[str, Any], source: Path | None) -> None:
    obj = document["object"]
    if obj["mediaType"] not in ("image", "video") or document["status"] not in PREVIEWED_STATUSES:
        return
    if source is None:
        made.preview_note = (
            f"no thumbnail: the file is not recorded in {media_sources.INDEX_NAME} (pass --media FOLDER)"
        )
        return
    if not source.is_file():
        made.preview_note = f"no thumbnail: {source} is gone"
        return
    size = source.stat().st_size
    if size != obj["size"]:
        made.preview_note = f"no thumbnail: {source} changed since it was analysed ({size} bytes, not {obj['size']})"
        return
    try:
        if obj["mediaType"] == "image":
            made.preview = image_preview(source.read_bytes(), obj["format"])
        else:
            made.preview = video_poster(source, _poster_seconds(made))
    except (OSError, ValueError, RuntimeError) as error:  # NoPreview, NoFrame, Pillow's file errors: unreadable media
        made.preview_note = f"no thumbnail: {source} could not be read ({error})"


def _poster_seconds(made: Card) -> float:
    """The middle of the first shot when shots are known (a video's first frame is often black), else 10% in."""
    if made.shots:
        first = made.shots[0]
        return (first.start_millis + first.end_millis) / 2000
    return (made.duration_millis or 0) / 10000


def render(cards: list[Card], folder: Path) -> str:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("rekflow.commands", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    statuses = Counter(made.status for made in cards)
    labels = Counter(name for made in cards for name in made.label_names)
    return environment.get_template("report.html").render(
        cards=cards,
        folder=str(folder),
        policy=CONTENT_SECURITY_POLICY,
        statuses=sorted(statuses.items()),
        labels=sorted(labels.items()),
        needs_review=sum(made.needs_review for made in cards),
        failed_features=sum(len(made.failed_features) for made in cards),
    )
