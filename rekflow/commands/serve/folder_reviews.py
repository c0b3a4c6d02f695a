"""The reviews of a results folder, for the review page: the waiting ones as cards (the preview through the folder's
/thumbnail, so a HEIC photo shows too, and a video's flagged moments), the decided ones, and a decision through
rekflow.commands.review.folder.decide_local (the review workflow resumed on a local stack, as `rekflow review` does)."""

from __future__ import annotations

import json
import threading
from typing import Any

from rekflow.commands.review.common import Pending
from rekflow.commands.review.folder import decide_local, decided_local, list_local, reviews_folder
from rekflow.commands.serve.flagged import Card, Pictures, card_of
from rekflow.commands.serve.library import FolderLibrary
from rekflow.search.facts import asset_of

# One decision at a time: each runs a local stack on moto, whose mock is the process's own.
_deciding = threading.Lock()


class FolderReviews:
    def __init__(self, library: FolderLibrary) -> None:
        self.library = library

    def pending(self) -> tuple[list[Card], int]:
        return [self._card(review) for review in list_local(self.library.output)], 0

    def decided(self) -> list[dict[str, Any]]:
        return decided_local(self.library.output)

    def decide(self, asset: str, decision: str, note: str | None) -> dict[str, Any]:
        with _deciding:
            return decide_local(self.library.output, asset, decision, note)

    def _card(self, review: Pending) -> Card:
        # The review's own copy of its document: the folder's may belong to a newer analysis of the key by now.
        copy = reviews_folder(self.library.output) / f"{review.asset_id}.document.json"
        if not copy.exists():
            return card_of(review, None, None, None, "its document is missing from the folder")
        document = json.loads(copy.read_bytes())
        video = self.library.video_results(document)
        asset = asset_of(document, video)
        # /thumbnail and /media serve the file while the folder's index holds this version (media.py): a superseded
        # review's are gone, and the page says so where the image would be (review.js).
        pictures = Pictures(
            self.library.thumbnail_url(asset, None),
            self.library.media_url(asset),
            lambda seconds: (self.library.thumbnail_url(asset, seconds), None),
        )
        return card_of(review, document, list((video or {}).get("moderation") or []) if video else None, pictures)
