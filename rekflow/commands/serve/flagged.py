"""What a pending review's card shows was flagged: a photo's moderation labels with their confidence, or a video's
flagged moments (a thumbnail of the frame, its time and the labels found then), whichever library it comes from.

No boxes are drawn on a photo: DetectModerationLabels answers each ModerationLabel with Confidence, Name, ParentName
and TaxonomyLevel only, no BoundingBox (https://docs.aws.amazon.com/rekognition/latest/APIReference/API_ModerationLabel.html;
botocore's model of the ModerationLabel shape has the same four members), so there is no region to draw. A video's
moments come from GetContentModeration's items, one per label and Timestamp
(https://docs.aws.amazon.com/rekognition/latest/APIReference/API_ContentModerationDetection.html), as the analysis
kept them beside the document (a folder's video-results/, a stack's resultsLocation).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from rekflow.commands.review.common import Pending

# The moments a card shows at most: each is a frame decoded (offline) or a video element (on a stack); the rest
# are counted ("and 12 more moments"), and the whole video is one link away.
MOMENTS_SHOWN = 8


@dataclass(frozen=True)
class Moment:
    seconds: float
    time: str  # mm:ss, with tenths when the moment falls between two seconds
    labels: list[str]  # "Violence 91%", highest first
    thumbnail: str | None = None  # an image of the frame (offline: /thumbnail?at=)
    video: str | None = None  # or the video from that moment (on a stack: a presigned URL with #t=)


@dataclass(frozen=True)
class Card:
    """One pending review as pending.html shows it."""

    asset: str
    key: str
    kind: str  # image, video, other
    labels: list[str]  # the flagged labels (the review's, from the summary item or the folder's index)
    findings: list[str]  # every moderation label of the document, "Weapons 75% (Violence)"
    superseded: bool
    preview: str | None = None  # a photo's preview URL
    media: str | None = None  # the file itself, to open
    moments: list[Moment] = field(default_factory=list)
    more_moments: int = 0
    unreadable: str | None = None  # why the flagged moments could not be read

    def view(self) -> dict[str, Any]:
        view = asdict(self)
        view["moreMoments"] = view.pop("more_moments")
        return view


def percent(label: Mapping[str, Any]) -> str:
    """'Weapons 75% (Violence)': a moderation label, its confidence and its parent category."""
    parent = f" ({label['ParentName']})" if label.get("ParentName") else ""
    return f"{label['Name']} {float(label['Confidence']):.0f}%{parent}"


def findings(document: Mapping[str, Any]) -> list[str]:
    """The document's moderation labels, highest confidence first (a video's summary: each label's highest)."""
    return highest_first((document.get("features") or {}).get("moderation", {}).get("labels", []))


def highest_first(labels: list[Mapping[str, Any]]) -> list[str]:
    """Moderation labels as percent() words them, the highest confidence first."""
    return [percent(label) for label in sorted(labels, key=lambda label: -float(label["Confidence"]))]


def clock(seconds: float) -> str:
    """mm:ss (minutes go past 59 for a long video), with tenths when `seconds` is not whole."""
    whole, tenths = divmod(round(seconds * 10), 10)
    shown = f"{whole // 60:02d}:{whole % 60:02d}"
    return f"{shown}.{tenths}" if tenths else shown


def flagged_moments(items: list[dict[str, Any]]) -> list[tuple[float, list[str]]]:
    """(seconds, labels at that moment) for each Timestamp with a moderation label, in time order."""
    at: dict[int, list[Mapping[str, Any]]] = {}
    for item in items:
        at.setdefault(int(item["Timestamp"]), []).append(item["ModerationLabel"])
    return [(millis / 1000, highest_first(labels)) for millis, labels in sorted(at.items())]


def moments_shown(
    items: list[dict[str, Any]], picture: Callable[[float], tuple[str | None, str | None]]
) -> tuple[list[Moment], int]:
    """The first MOMENTS_SHOWN flagged moments, each pictured by `picture(seconds)` -> (thumbnail, video), and how
    many more there are."""
    moments = flagged_moments(items)
    shown = [Moment(seconds, clock(seconds), labels, *picture(seconds)) for seconds, labels in moments[:MOMENTS_SHOWN]]
    return shown, len(moments) - len(shown)


@dataclass(frozen=True)
class Pictures:
    """Where a library shows an asset: a photo's preview, the file, and a video's frame at some seconds as
    (thumbnail, video) URLs."""

    preview: str | None
    media: str | None
    moment: Callable[[float], tuple[str | None, str | None]]


def card_of(
    review: Pending,
    document: Mapping[str, Any] | None,
    moderation_items: list[dict[str, Any]] | None,
    pictures: Pictures | None,
    unreadable: str | None = None,
) -> Card:
    """The card of a waiting review: what its document found, pictured as the library can."""
    if document is None:
        return Card(review.asset_id, review.key, "other", review.labels, [], review.superseded, unreadable=unreadable)
    kind = str(document["object"]["mediaType"])
    card = Card(
        review.asset_id,
        review.key,
        kind,
        review.labels,
        findings(document),
        review.superseded,
        preview=pictures.preview if pictures and kind == "image" else None,
        media=pictures.media if pictures else None,
        unreadable=unreadable,
    )
    if kind != "video" or pictures is None:
        return card
    if moderation_items is None:
        return replace(card, unreadable=unreadable or "the video's moderation results were not kept")
    moments, more = moments_shown(moderation_items, pictures.moment)
    return replace(card, moments=moments, more_moments=more)
