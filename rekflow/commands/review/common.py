"""What every `rekflow review` action shares, offline and on a stack: the statuses, the errors, a waiting review as
listed, and a review as shown."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

PENDING = "PENDING_REVIEW"
DECISIONS = ("APPROVED", "REJECTED")
REVIEW_STATE_MACHINE = "ReviewStateMachine"


class ReviewError(Exception):
    """A review cannot be listed, shown or decided: the message says why; nothing was changed."""


class UnknownAsset(ReviewError):
    pass


class ReviewClosed(ReviewError):
    """The review was decided already, or its timeout acted."""


class ReviewNotWaitingYet(ReviewError):
    """The review has started but has not parked its task token yet: a decision can be sent in a moment."""


@dataclass(frozen=True)
class Pending:
    asset_id: str
    key: str
    version_id: str
    started_at: str
    labels: list[str]
    escalations: int = 0
    superseded: bool = False  # a newer analysis of the same key exists
    deadline: str | None = None  # offline: when its timeout has acted for good (AWS acts on time by itself)

    def row(self) -> dict[str, Any]:
        return {
            "assetId": self.asset_id,
            "key": self.key,
            "versionId": self.version_id,
            "startedAt": self.started_at,
            "labels": self.labels,
            "escalations": self.escalations,
            "superseded": self.superseded,
            "deadline": self.deadline,
        }


def flagged_labels(item: dict[str, Any]) -> list[str]:
    """The labels a review is about: those at or above the review threshold (an item written before ReviewLabels
    existed: all its moderation labels)."""
    return list(item.get("ReviewLabels", item.get("ModerationLabels", [])))


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def shown_review(
    asset_id: str, key: str, version_id: str, document: dict[str, Any], history: list[str]
) -> dict[str, Any]:
    moderation = document.get("features", {}).get("moderation", {})
    return {
        "assetId": asset_id,
        "key": key,
        "versionId": version_id,
        "moderationReview": document.get("moderationReview"),
        "moderationLabels": moderation.get("labels", []),
        "review": document.get("review"),
        "history": history,
    }
