"""hypothesis strategies for the search query language: canonical query trees (rekflow.search.query), built
with the same constructors the parser uses, so `parse(render(tree)) == tree` can be asserted as it stands.
Shared by the query language's tests and the engines' differential tests."""

from __future__ import annotations

from hypothesis import strategies as st

from rekflow.features import NAMES
from rekflow.search.query import (
    COMPARISONS,
    KINDS,
    REVIEW_VALUES,
    STATUSES,
    Confidence,
    Free,
    Near,
    Node,
    Not,
    Range,
    Term,
    and_,
    or_,
)

# Small vocabularies, so generated queries hit generated libraries often enough to mean something.
LABELS = ("cat", "dog", "person", "rocket", "sports car", "tree", "text", "animal")
WORDS = ("open", "daily", "rekflow", "media", "lab", "sale", "9", "5", "café", "exit")
MODERATION = ("yes", "no", "suggestive", "violence", "explicit nudity")
FORMATS = ("JPEG", "PNG", "MP4", "MOV", "GIF", "HEIC")
REASONS = ("NOT_MEDIA", "TOO_LONG", "EMPTY_OBJECT", "CORRUPT")
CAMERAS = ("canon", "apple iphone 15", "pixel")

ops = st.sampled_from(("=", *COMPARISONS))
phrase = st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(" ".join)


def numbers(kind: type, top: int) -> st.SearchStrategy[int | float]:
    if kind is int:
        return st.integers(0, top)
    return st.integers(0, top * 1000).map(lambda n: n / 1000)


def compared(kind: type, top: int) -> st.SearchStrategy[tuple[str, int | float | Range]]:
    plain = st.tuples(ops, numbers(kind, top))
    ranged = st.tuples(numbers(kind, top), numbers(kind, top)).map(lambda pair: ("..", Range(min(pair), max(pair))))
    return st.one_of(plain, ranged)


periods = st.one_of(
    st.integers(2024, 2027).map(str),
    st.tuples(st.integers(2024, 2027), st.integers(1, 12)).map(lambda p: f"{p[0]}-{p[1]:02d}"),
    st.tuples(st.integers(2024, 2027), st.integers(1, 12), st.integers(1, 28)).map(
        lambda p: f"{p[0]}-{p[1]:02d}-{p[2]:02d}"
    ),
)
dated = st.one_of(
    st.tuples(ops, periods),
    st.tuples(periods, periods).map(lambda pair: ("..", Range(*sorted(pair, key=_start)))),
)


def _start(period: str) -> str:
    from rekflow.search.query import period_bounds

    return period_bounds(period)[0]


confidence = st.none() | compared(float, 100).map(lambda c: Confidence(c[0], c[1]))  # type: ignore[arg-type]
path_text = st.text(
    st.characters(blacklist_characters='"', blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12
).filter(lambda s: s.strip() != "")


def term(field: str, values: st.SearchStrategy[object], with_confidence: bool = False) -> st.SearchStrategy[Node]:
    conf = confidence if with_confidence else st.none()
    return st.builds(lambda v, c: Term(field, "=", v, c), values, conf)  # type: ignore[arg-type]


def compared_term(field: str, pairs: st.SearchStrategy[tuple[str, object]]) -> st.SearchStrategy[Node]:
    return pairs.map(lambda p: Term(field, p[0], p[1]))  # type: ignore[arg-type]


leaves: st.SearchStrategy[Node] = st.one_of(
    term("label", st.sampled_from(LABELS), with_confidence=True),
    term("text", phrase, with_confidence=True),
    term("moderation", st.sampled_from(MODERATION), with_confidence=True),
    term("kind", st.sampled_from(KINDS)),
    term("status", st.sampled_from(STATUSES)),
    term("review", st.sampled_from(REVIEW_VALUES)),
    term("reason", st.sampled_from(REASONS)),
    term("failed", st.sampled_from(NAMES)),
    term("format", st.sampled_from(FORMATS)),
    term("camera", st.sampled_from(CAMERAS)),
    term("path", path_text),
    compared_term("faces", compared(int, 12)),
    compared_term("duration", compared(float, 600)),
    compared_term("uploaded", dated),
    compared_term("analyzed", dated),
    compared_term("taken", dated),
    st.builds(
        lambda lat, lon, km: Term("near", "=", Near(lat, lon, km)),
        st.integers(-90_000, 90_000).map(lambda n: n / 1000),
        st.integers(-180_000, 180_000).map(lambda n: n / 1000),
        st.integers(1, 500_000).map(lambda n: n / 1000),
    ),
    phrase.map(Free),
)


def _combined(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    several = st.lists(children, min_size=2, max_size=4)
    return st.one_of(
        several.map(lambda c: and_(*c)),
        several.map(lambda c: or_(*c)),
        children.map(Not),
    )


trees: st.SearchStrategy[Node] = st.recursive(leaves, _combined, max_leaves=12)
