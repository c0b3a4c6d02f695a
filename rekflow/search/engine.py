"""What every search engine offers `rekflow search` (and a later `rekflow serve`): a query tree in, a page of
hits with their evidence out. The SQLite index (index.py) is one; an Athena engine over a deployed stack is
another; the reference evaluator over a folder of documents (ReferenceEngine, here) is the one they agree with.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from rekflow.search.facts import Asset
from rekflow.search.query import Node
from rekflow.search.reference import Hit, best_confidence, search

# --sort: what each sorts by; the newest first for times, the highest first for confidence, A to Z for paths.
# Assets without the value (a photo without a capture time) come last; ties go by path.
SORTS = ("analyzed", "uploaded", "taken", "path", "confidence")
DEFAULT_SORT = "analyzed"
DEFAULT_LIMIT = 20


@dataclass(frozen=True)
class Page:
    hits: list[Hit]
    more: bool  # more assets match than the limit let through


class Engine(Protocol):
    def search(self, tree: Node, limit: int, sort: str) -> Page:
        """The first `limit` matching assets in `sort` order, each with the evidence of its match."""
        ...


def sort_key(sort: str, tree: Node, hit: Hit) -> tuple[object, ...]:
    """The order every engine returns hits in (the SQL engines write the same in ORDER BY)."""
    asset = hit.asset
    if sort == "path":
        return (asset.key,)
    if sort == "confidence":
        best = best_confidence(tree, asset)
        return (best is None, -(best or 0.0), asset.key)
    value = {"analyzed": asset.analyzed, "uploaded": asset.uploaded, "taken": asset.taken}[sort]
    return (value is None, _descending(value or ""), asset.key)


def _descending(text: str) -> tuple[int, ...]:
    return tuple(-ord(c) for c in text)


class ReferenceEngine:
    """The reference evaluator as an engine: reads every asset on every query (for tests and small folders)."""

    def __init__(self, assets: Iterable[Asset]) -> None:
        self.assets = list(assets)

    def search(self, tree: Node, limit: int, sort: str) -> Page:
        hits = sorted(search(tree, self.assets), key=lambda hit: sort_key(sort, tree, hit))
        return Page(hits[:limit], len(hits) > limit)
