"""The same answers everywhere (issue 18, item 6): over generated libraries and generated queries, every engine
finds the same assets as the reference evaluator (rekflow.search.reference over rekflow.search.facts):

- the SQL compiled for Athena (rekflow.search.sql), run in DuckDB over the rows SearchIndexFunction's own
  projection writes (lambdas/search_index/projection.py), applied as the template's Firehose stream applies them
  (tests/search_duckdb.py: columns, JQ routing and unique keys read from template.yaml);
- the embedded SQLite index of `rekflow analyze` (rekflow.search.index).

moto's Athena answers canned rows and proves nothing, so it is not one of them. The libraries come from
rekflow.search.synthetic (documents of build_results' shape, a video's feature results beside it) with some
videos' feature results left out, so that a video is also read from its document's summary alone.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rekflow.search import reference
from rekflow.search.engine import sort_key
from rekflow.search.facts import asset_of
from rekflow.search.query import REVIEW_STATES, MatchAll, Node, parse, render
from rekflow.search.sql import SORTS
from rekflow.search.synthetic import Library, with_review
from tests.search_duckdb import IndexStandIn, projection
from tests.search_strategies import trees

LIBRARY_SIZE = 40
DECIDED = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
project = projection().project


def library(
    seed: int, summaries_only: set[int], reviews: dict[int, str | None] | None = None
) -> list[tuple[dict[str, Any], Any]]:
    """Documents with their video results; the videos numbered in `summaries_only` without them; the documents
    numbered in `reviews` put in that moderation review state (None: no review needed), so that every state
    comes up often (a generated library flags a few uploads in a hundred)."""
    documents = Library(seed, labels=60, words=40).documents(LIBRARY_SIZE)
    chosen = reviews or {}
    return [
        (
            with_review(doc, chosen[n], DECIDED) if n in chosen else doc,
            None if n in summaries_only else video,
        )
        for n, (doc, video) in enumerate(documents)
    ]


def location(document: dict[str, Any]) -> str:
    return f"s3://rekflow-local-resultsbucket/results/{document['assetId']}.json"


def stand_in(documents: list[tuple[dict[str, Any], Any]]) -> IndexStandIn:
    index = IndexStandIn()
    rows: list[dict[str, Any]] = []
    for document, video in documents:
        asset, found = project(document, video, location(document))
        rows += [asset, *found]
    index.put(rows)
    return index


def sqlite_index(directory: Path, assets: list[Any]) -> Any:
    from rekflow.search.index import SearchIndex

    index = SearchIndex(directory / "index.sqlite")
    index.put_many(assets)
    return index


def sqlite_keys(index: Any, tree: Node, sort: str) -> list[str]:
    page = index.search(tree, limit=LIBRARY_SIZE + 1, sort=sort)
    return [hit.asset.key for hit in page.hits]


def reference_keys(tree: Node, assets: list[Any], sort: str) -> list[str]:
    """The assets the reference finds, in the order every engine must give them (rekflow.search.engine)."""
    hits = sorted(reference.search(tree, assets), key=lambda hit: sort_key(sort, tree, hit))
    return [hit.asset.key for hit in hits]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    seed=st.integers(0, 2**32 - 1),
    summaries_only=st.sets(st.integers(0, LIBRARY_SIZE - 1)),
    reviews=st.dictionaries(st.integers(0, LIBRARY_SIZE - 1), st.sampled_from((None, *REVIEW_STATES))),
    queries=st.lists(st.tuples(trees, st.sampled_from(SORTS)), min_size=1, max_size=10),
)
def test_every_engine_finds_what_the_reference_finds(seed, summaries_only, reviews, queries):
    documents = library(seed, summaries_only, reviews)
    assets = [asset_of(document, video) for document, video in documents]
    athena = stand_in(documents)
    with tempfile.TemporaryDirectory() as scratch:
        sqlite = sqlite_index(Path(scratch), assets)
        try:
            for tree, sort in ((MatchAll(), "path"), *queries):
                expected = reference_keys(tree, assets, sort)
                shown = f"{render(tree)!r} --sort {sort}"
                assert athena.keys(tree, sort) == expected, f"Athena SQL (in DuckDB) disagrees on {shown}"
                assert sqlite_keys(sqlite, tree, sort) == expected, f"the SQLite index disagrees on {shown}"
        finally:
            sqlite.close()


# Queries written out, so a failure names a readable one, and the typical queries are always among those tried.
TYPICAL = (
    "label:cat",
    "label:car",
    'text:"open daily"',
    "moderation:yes",
    "moderation:no",
    "moderation:explicit",
    "faces:>=3",
    "kind:video duration:>60",
    "failed:labels | status:REJECTED",
    "uploaded:2026-03..2026-05 label:person",
    "taken:2026 camera:canon",
    "near:48,10,800",
    "-label:person -text:open",
    "label:cat|dog confidence:>=90",
    "path:2026/03/",
    'sale | "open daily" | rocket',
    "review:pending | review:rejected",
    "-review:no label:person",
)


def test_the_typical_queries_agree_on_a_larger_library():
    documents = [(d, v) for d, v in Library(7, labels=60, words=40).documents(300)]
    assets = [asset_of(document, video) for document, video in documents]
    athena = stand_in(documents)
    matched = 0
    for text in TYPICAL:
        tree = parse(text)
        for sort in SORTS:
            assert athena.keys(tree, sort) == reference_keys(tree, assets, sort), f"{text} --sort {sort}"
        matched += bool(reference_keys(tree, assets, "path"))
    assert matched >= len(TYPICAL) - 3, "most typical queries should find something in 300 assets"


def test_a_reanalysis_replaces_the_row_and_a_deletion_removes_it():
    (document, video), (other, other_video) = list(Library(3, labels=60, words=40).documents(2))
    index = stand_in([(document, video), (other, other_video)])
    label = next(f.name for f in asset_of(document, video).found if f.kind == "label")
    query = parse(f'label:"{label}" path:"{document["object"]["key"]}"')
    assert index.keys(query) == [document["object"]["key"]]

    # Re-analysed without that label: the new analysis's rows replace the asset's row; the old found rows stay in
    # the table (insert-only) but no longer join.
    again = {**document, "createdAt": "2026-12-31T00:00:00.000+00:00"}
    again["features"] = {**document["features"], "labels": {"status": "SUCCEEDED", "labels": []}}
    before = index.count("found")
    asset, found = project(again, None, location(again))
    index.put([asset, *found])
    assert index.count("assets") == 2
    assert index.count("found") >= before
    assert index.keys(query) == []
    assert index.keys(parse(f'path:"{document["object"]["key"]}"')) == [document["object"]["key"]]

    # A review decision rewrites the document (its review section): a new doc_id, the row replaced again.
    reviewed = {**again, "review": {"decision": "APPROVED", "reviewer": "me", "decidedAt": "2027-01-01T00:00:00Z",
                                    "labels": [], "timedOut": False, "execution": "x"}}  # fmt: skip
    asset_after_review, _ = project(reviewed, None, location(reviewed))
    assert asset_after_review["doc_id"] != asset["doc_id"]
    index.put([asset_after_review])
    assert index.count("assets") == 2

    # Deleted: the key's row goes; the other asset stays.
    index.put([projection().deletion(document["object"]["bucket"], document["object"]["key"])])
    assert index.keys(MatchAll()) == [other["object"]["key"]]
