"""The reference evaluator: a query tree checked against each asset's facts in plain Python, one asset at a time.

It is what the query language means, written as directly as possible; every engine (the SQLite index, the SQL
compiled for Athena) must find the same assets (tests/unit/test_search_index.py holds the SQLite index to it).
It is not meant to be fast: it reads every asset on every query.

Meaning of each term (docs/reference/search-syntax.md says the same for users):
- `label:X` a label whose name is X (words compared lower-case); `text:X` a line of text containing the words
  of X one after another; a free word or phrase is either of the two (a label's name containing the words).
- `moderation:yes` some moderation label; `moderation:no` moderation ran and found none; `moderation:X` a
  moderation label, or a label under the parent category, named X.
- `confidence:` bounds the highest confidence the label, moderation label or line was found with.
- `review:pending|approved|rejected` the asset's moderation review is in that state (facts.review_state);
  `review:yes` any of them; `review:no` none was needed.
- `faces:`, `duration:`, dates, `near:` compare the asset's own value; an asset without one (a photo's
  duration, an unread feature, no capture time) never matches them, and `-` of such a term matches it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rekflow.search.facts import Asset, Found, Moment, distance_km
from rekflow.search.query import (
    And,
    Confidence,
    Free,
    MatchAll,
    Near,
    Node,
    Not,
    Or,
    Term,
    date_interval,
    number_matches,
    words_of,
)


@dataclass(frozen=True)
class Evidence:
    """Why an asset matched: the label, moderation label or text line, its confidence, and a video's moments."""

    kind: str
    name: str
    confidence: float
    moments: tuple[Moment, ...] = ()


@dataclass(frozen=True)
class Hit:
    asset: Asset
    evidence: tuple[Evidence, ...]


def search(node: Node, assets: Iterable[Asset]) -> list[Hit]:
    """Every asset the tree matches, by key, with the evidence of each match."""
    hits = []
    for asset in assets:
        evidence = matches(node, asset)
        if evidence is not None:
            hits.append(Hit(asset, _distinct(evidence)))
    return sorted(hits, key=lambda hit: hit.asset.key)


def matches(node: Node, asset: Asset) -> list[Evidence] | None:
    """The evidence (possibly none) if `node` matches `asset`, None if it does not."""
    if isinstance(node, MatchAll):
        return []
    if isinstance(node, And):
        evidence: list[Evidence] = []
        for child in node.children:
            found = matches(child, asset)
            if found is None:
                return None
            evidence.extend(found)
        return evidence
    if isinstance(node, Or):
        results = [found for child in node.children if (found := matches(child, asset)) is not None]
        return [e for found in results for e in found] if results else None
    if isinstance(node, Not):
        return [] if matches(node.child, asset) is None else None
    if isinstance(node, Free):
        return _evidence([f for f in asset.found if _names(node, f)])
    return _term(node, asset)


def best_confidence(node: Node, asset: Asset) -> float | None:
    """The highest confidence among the asset's findings that a term of the query names, outside any `-`:
    what `--sort confidence` orders by (every engine computes the same)."""
    best = [f.confidence for f in asset.found if any(_names(leaf, f) for leaf in positive_leaves(node))]
    return max(best, default=None)


def positive_leaves(node: Node) -> list[Term | Free]:
    """The label, moderation, text and free terms of the query that are not under a `-`."""
    if isinstance(node, (And, Or)):
        return [leaf for child in node.children for leaf in positive_leaves(child)]
    if isinstance(node, Free) or (isinstance(node, Term) and node.field in ("label", "text", "moderation")):
        return [node]
    return []


def _names(leaf: Term | Free, found: Found) -> bool:
    """Whether a label, moderation or text term, or free words, names this finding."""
    if isinstance(leaf, Free):
        return found.kind in ("label", "text") and contains_words(found.name, leaf.words.split())
    if found.kind != leaf.field or not _confident(leaf.confidence, found):
        return False
    value = str(leaf.value)
    if found.kind == "label":
        return " ".join(words_of(found.name)) == value
    if found.kind == "text":
        return contains_words(found.name, value.split())
    if value in ("yes", "no"):
        return value == "yes"
    return value in (" ".join(words_of(found.name)), " ".join(words_of(found.parent)))


def contains_words(text: str, words: list[str]) -> bool:
    """Whether the words of `text` hold `words` one after another."""
    have, n = words_of(text), len(words)
    return any(have[i : i + n] == words for i in range(len(have) - n + 1))


def _term(term: Term, asset: Asset) -> list[Evidence] | None:
    field, value = term.field, term.value
    if field in ("label", "text", "moderation"):
        return _found_term(term, asset)
    if field == "kind":
        ok = asset.kind == value
    elif field == "format":
        ok = asset.format == value
    elif field == "status":
        ok = asset.status == value
    elif field == "reason":
        ok = asset.reason == value
    elif field == "failed":
        ok = value in asset.failed
    elif field == "review":
        ok = {"yes": asset.review is not None, "no": asset.review is None}.get(str(value), asset.review == value)
    elif field == "path":
        ok = asset.key.startswith(str(value))
    elif field == "camera":
        ok = contains_words(asset.camera, str(value).split())
    elif field in ("faces", "duration"):
        number = asset.faces if field == "faces" else asset.duration
        ok = number is not None and number_matches(term.op, value, number)  # type: ignore[arg-type]
    elif field in ("uploaded", "analyzed", "taken"):
        stamp = {"uploaded": asset.uploaded, "analyzed": asset.analyzed, "taken": asset.taken}[field]
        start, end = date_interval(term.op, value)  # type: ignore[arg-type]
        ok = stamp is not None and (start is None or stamp >= start) and (end is None or stamp < end)
    elif field == "near":
        assert isinstance(value, Near)
        ok = asset.lat is not None and asset.lon is not None
        ok = ok and distance_km(value.lat, value.lon, asset.lat, asset.lon) <= value.km  # type: ignore[arg-type]
    else:
        raise ValueError(f"no such field: {field}")
    return [] if ok else None


def _found_term(term: Term, asset: Asset) -> list[Evidence] | None:
    if term.field == "moderation" and term.value == "no":
        flagged = _found_term(Term("moderation", "=", "yes", term.confidence), asset)
        return [] if asset.moderation_ran and flagged is None else None
    return _evidence([f for f in asset.found if _names(term, f)])


def _confident(bound: Confidence | None, found: Found) -> bool:
    return bound is None or number_matches(bound.op, bound.value, found.confidence)


def _evidence(hits: list[Found]) -> list[Evidence] | None:
    return [Evidence(f.kind, f.name, f.confidence, f.moments) for f in hits] if hits else None


def _distinct(evidence: list[Evidence]) -> tuple[Evidence, ...]:
    return tuple(dict.fromkeys(evidence))
