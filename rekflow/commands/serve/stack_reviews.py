"""The reviews of a deployed stack, for the review page of `rekflow serve --stack NAME`, with the user's own
credentials (boto3's default session: AWS_PROFILE, SSO, the environment), as `rekflow review --stack` does:

- waiting: commands/review/stack.py list_stack (the sparse ReviewsByStatus index, oldest first); each card then reads
  the asset's summary item (for ResultsLocation), its results document, and for a video the moderation results the
  document points to (features.moderation.resultsLocation);
- pictures: presigned GetObject URLs (library.presigned_get) of the analysable copy when there is one (a HEIC photo's
  JPEG, a video's H.264 MP4: the document's `proxy`), else of the upload itself where a browser shows its format.
  A video's flagged moment is the video from that second, by a media fragment (`#t=`, which the browser keeps to
  itself, so the signature still holds: https://www.w3.org/TR/media-frags/#naming-time);
- decided: the index's APPROVED and REJECTED partitions, latest started first, each item read for who decided;
- a decision: decide_stack (SendTaskSuccess as the caller, who is named by sts:GetCallerIdentity).

The stack's ReviewerPolicy output grants the reads the page signs (s3:GetObject and GetObjectVersion on the media
bucket and on the results bucket's video-results/). With HoldFlaggedMedia, a held upload and every analysable copy
(proxies/) are readable by ReviewAdminRoleArn only (MediaBucketPolicy). Where a read is refused, the card says so
instead of failing the page.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rekflow.commands.review.common import DECISIONS, Pending, ReviewError
from rekflow.commands.review.stack import REVIEW_INDEX, DeployedStack, decide_stack, list_stack
from rekflow.commands.serve.flagged import Card, Pictures, card_of
from rekflow.commands.serve.library import BROWSER_IMAGES, presigned_get
from rekflow.search.documents import read_s3_json

# Cards a page shows at most: each costs two or three reads (item, document, a video's moderation results).
PENDING_SHOWN = 50
DECIDED_SHOWN = 10
# Reads in flight while a page is made: boto3's clients are thread-safe
# (https://boto3.amazonaws.com/v1/documentation/api/latest/guide/clients.html#multithreading-or-multiprocessing-with-clients).
READERS = 8


class AwsRefused(ReviewError):
    """AWS refused a call (credentials, permissions, a missing stack): the message is AWS's."""


class StackReviews:
    def __init__(self, stack_name: str, session: Any, stack: DeployedStack | None = None) -> None:
        self.stack_name = stack_name
        self.dynamodb = session.client("dynamodb")
        self.s3 = session.client("s3")
        self.sfn = session.client("stepfunctions")
        self.sts = session.client("sts")
        self.cloudformation = session.client("cloudformation")
        self._stack = stack
        self._lock = threading.Lock()

    @classmethod
    def for_stack(cls, stack_name: str) -> StackReviews:
        import boto3

        return cls(stack_name, boto3.session.Session())

    def stack(self) -> DeployedStack:
        """The stack's table and results bucket, found by their logical ids on first use (a user who only searches
        needs no review permissions)."""
        with self._lock:
            if self._stack is None:
                try:
                    with _refusals():
                        self._stack = DeployedStack.named(self.stack_name, self.cloudformation)
                except ReviewError as error:  # named() words CloudFormation's refusal itself
                    raise AwsRefused(str(error)) from error
            return self._stack

    def pending(self) -> tuple[list[Card], int]:
        stack = self.stack()
        with _refusals():
            waiting = list_stack(stack, self.dynamodb)
        with ThreadPoolExecutor(READERS) as pool:
            cards = list(pool.map(lambda review: self._card(stack, review), waiting[:PENDING_SHOWN]))
        return cards, len(waiting) - len(cards)

    def decided(self) -> list[dict[str, Any]]:
        from rekflow.local.reviews import summary_item

        stack = self.stack()
        with _refusals():
            latest = [
                item["AssetId"]["S"]
                for status in DECISIONS
                for item in self.dynamodb.query(
                    TableName=stack.table,
                    IndexName=REVIEW_INDEX,
                    KeyConditionExpression="ReviewStatus = :status",
                    ExpressionAttributeValues={":status": {"S": status}},
                    ScanIndexForward=False,
                    Limit=DECIDED_SHOWN,
                )["Items"]
            ]
            with ThreadPoolExecutor(READERS) as pool:
                items = [i for i in pool.map(lambda a: summary_item(self.dynamodb, stack.table, a), latest) if i]
        decided = [
            {
                "key": item["Key"],
                "status": item["ReviewStatus"],
                "reviewer": item.get("ReviewedBy"),
                "note": item.get("ReviewNote"),
                "decidedAt": item.get("ReviewedAt", ""),
            }
            for item in items
            if item.get("ReviewStatus") in DECISIONS
        ]
        return sorted(decided, key=lambda d: str(d["decidedAt"]), reverse=True)[:DECIDED_SHOWN]

    def decide(self, asset: str, decision: str, note: str | None) -> dict[str, Any]:
        stack = self.stack()
        with _refusals():
            return decide_stack(stack, self.dynamodb, self.sfn, self.sts, asset, decision, note)

    def _card(self, stack: DeployedStack, review: Pending) -> Card:
        from botocore.exceptions import BotoCoreError, ClientError

        from rekflow.local.reviews import summary_item

        try:
            item = summary_item(self.dynamodb, stack.table, review.asset_id) or {}
            document = read_s3_json(self.s3, str(item["ResultsLocation"])) if item.get("ResultsLocation") else None
        except (ClientError, BotoCoreError) as error:
            return card_of(review, None, None, None, f"its results document could not be read: {error}")
        if document is None:
            return card_of(review, None, None, None, "its summary item names no results document")
        moderation = (document.get("features") or {}).get("moderation") or {}
        items, unreadable = None, None
        if document["object"]["mediaType"] == "video" and moderation.get("resultsLocation"):
            try:
                items = list(read_s3_json(self.s3, str(moderation["resultsLocation"]))["items"])
            except (ClientError, BotoCoreError) as error:
                unreadable = f"the video's moderation results could not be read: {error}"
        return card_of(review, document, items, self._pictures(document), unreadable)

    def _pictures(self, document: dict[str, Any]) -> Pictures:
        upload, proxy = document["object"], document.get("proxy")
        shown = proxy or (upload if upload["mediaType"] == "video" or upload["format"] in BROWSER_IMAGES else None)
        url = presigned_get(self.s3, shown["bucket"], shown["key"], shown["versionId"]) if shown else None
        media = presigned_get(self.s3, upload["bucket"], upload["key"], upload["versionId"])
        return Pictures(url, media, lambda seconds: (None, f"{url}#t={seconds:g}" if url else None))


@contextlib.contextmanager
def _refusals() -> Iterator[None]:
    """AWS's refusals (and missing credentials) as AwsRefused, with AWS's own message."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (ClientError, BotoCoreError) as error:
        raise AwsRefused(str(error)) from error
