"""The SQLite index finds what the reference evaluator finds, in the same order, with the same evidence, over
generated libraries and generated queries, with FTS5 and without; a re-analysis replaces, a removal removes,
values never reach the SQL text, and an index it cannot read says how to rebuild it."""

from __future__ import annotations

import json
import sqlite3
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rekflow.search import index as index_module
from rekflow.search.engine import SORTS, ReferenceEngine
from rekflow.search.facts import Asset, asset_of
from rekflow.search.index import IndexUnusable, SearchIndex, has_fts5
from rekflow.search.query import Node, parse, render
from rekflow.search.synthetic import Library
from tests.search_strategies import trees

LIBRARY = 400


@cache
def library() -> list[Asset]:
    return [asset_of(document, video) for document, video in Library(5, labels=60, words=40).documents(LIBRARY)]


@cache
def index(fts: bool, folder: str, window: int = SearchIndex.WINDOW) -> SearchIndex:
    built = SearchIndex(Path(folder) / f"index-{fts}-{window}.sqlite3", fts=fts)
    built.WINDOW = window  # a small window: both ways search() finds a page, on a small library
    built.put_many(library())
    return built


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("search-index"))


def test_this_python_has_fts5() -> None:
    # The fallback is tested below either way; this says which one `rekflow search` uses here.
    assert has_fts5()


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    tree=trees,
    sort=st.sampled_from(SORTS),
    fts=st.booleans(),
    limit=st.sampled_from((3, 20, LIBRARY)),
    window=st.sampled_from((SearchIndex.WINDOW, 60)),
)
def test_the_index_finds_what_the_reference_finds(
    folder: str, tree: Node, sort: str, fts: bool, limit: int, window: int
) -> None:
    expected = ReferenceEngine(library()).search(tree, limit, sort)
    found = index(fts, folder, window).search(tree, limit, sort)
    assert [h.asset.key for h in found.hits] == [h.asset.key for h in expected.hits], render(tree)
    assert found == expected, render(tree)


@pytest.mark.parametrize(
    "query",
    ["label:person", 'text:"open daily"', "open", "moderation:yes", "kind:video faces:>=2", "-label:person"],
)
def test_typical_queries_find_something_and_not_everything(folder: str, query: str) -> None:
    found = index(True, folder).search(parse(query), LIBRARY, "path").hits
    assert 0 < len(found) < LIBRARY


def test_a_limit_says_whether_more_matched(folder: str) -> None:
    page = index(True, folder).search(parse("kind:image"), 5, "analyzed")
    assert len(page.hits) == 5 and page.more
    assert [h.asset.analyzed for h in page.hits] == sorted((h.asset.analyzed for h in page.hits), reverse=True)


def test_a_reanalysis_replaces_the_keys_rows_and_a_removal_removes_them(tmp_path: Path) -> None:
    (first, _), (second, _) = list(Library(11).documents(2))
    second["object"]["key"] = first["object"]["key"]  # the same file analysed again, another version
    with SearchIndex(tmp_path / "index.sqlite3") as built:
        built.put(asset_of(first))
        built.put(asset_of(second))
        assert len(built) == 1
        (hit,) = built.search(parse(""), 10, "path").hits
        assert hit.asset == asset_of(second)
        assert built.remove(first["object"]["key"]) and not built.remove(first["object"]["key"])
        assert len(built) == 0
        assert built._db.execute("SELECT count(*) FROM found").fetchone() == (0,)
        assert built._db.execute("SELECT count(*) FROM text_fts").fetchone() == (0,)


def test_values_travel_as_parameters(tmp_path: Path) -> None:
    with SearchIndex(tmp_path / "index.sqlite3") as built:
        built.put_many(library()[:20])
        for query in ['path:"\'; DROP TABLE asset; --"', 'label:"x\') OR 1=1 --"', 'text:"a\'b"']:
            assert built.search(parse(query), 10, "path").hits == []
        assert len(built) == 20


def test_an_index_it_cannot_read_says_to_rebuild(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    SearchIndex(tmp_path / "fts.sqlite3", fts=True).close()
    monkeypatch.setattr(index_module, "has_fts5", lambda: False)
    with pytest.raises(IndexUnusable, match=r"built with FTS5.*rekflow index --rebuild"):
        SearchIndex(tmp_path / "fts.sqlite3")
    # Without FTS5 a new index is built without it, and says what that costs.
    with SearchIndex(tmp_path / "plain.sqlite3") as plain:
        assert not plain.fts and "FTS5" in (plain.warning or "")
    _set_schema(tmp_path / "fts.sqlite3", "99")  # written by a newer rekflow: this one cannot tell what it holds
    monkeypatch.undo()
    opened: list[sqlite3.Connection] = []
    connect = sqlite3.connect

    def connect_and_keep(*args: object, **kwargs: object) -> sqlite3.Connection:
        opened.append(connect(*args, **kwargs))  # type: ignore[arg-type]
        return opened[-1]

    monkeypatch.setattr(index_module.sqlite3, "connect", connect_and_keep)
    with pytest.raises(IndexUnusable, match=r"another version of rekflow.*--rebuild"):
        SearchIndex(tmp_path / "fts.sqlite3")
    # A refused index leaves no connection open for the collector (Python 3.13 warns of one).
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        opened[-1].execute("select 1")


def _set_schema(path: Path, version: str) -> None:
    connection = sqlite3.connect(path)
    connection.execute("UPDATE meta SET value = ? WHERE name = 'schema'", (version,))
    connection.commit()
    connection.close()


def test_an_index_an_older_rekflow_wrote_is_made_anew_from_the_documents(tmp_path: Path) -> None:
    from rekflow.commands.results_folder import open_index
    from rekflow.search.documents import document_path
    from rekflow.search.index import IndexOutdated, index_path

    # GIVEN a results folder of three documents whose index an older rekflow wrote (schema 4: no review state)
    output = tmp_path / "results"
    for document, _ in Library(7).documents(3):
        path = document_path(output, document["object"]["key"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document), encoding="utf-8")
    with open_index(output) as made:
        assert len(made) == 3
    _set_schema(index_path(output), "4")
    with pytest.raises(IndexOutdated, match=r"older rekflow \(schema 4"):
        SearchIndex.open(output)
    # WHEN it is opened for a search or an analysis, THEN it is made anew from the documents, with no command
    with open_index(output) as opened:
        assert len(opened) == 3
    with SearchIndex.open(output) as again:
        assert len(again) == 3


def test_an_index_built_whole_answers_as_one_kept_up_to_date(folder: str, tmp_path: Path) -> None:
    assets = library()
    # A key given twice keeps its last facts, as put() one by one would.
    twice = [*assets[:50], Asset(**{**assets[0].__dict__, "faces": 99})]
    with SearchIndex.build(tmp_path / "built.sqlite3", twice) as built:
        assert len(built) == 50
        assert [h.asset.key for h in built.search(parse("faces:99"), 5, "path").hits] == [assets[0].key]
    with SearchIndex.build(tmp_path / "all.sqlite3", assets) as built:
        for query in ("label:person", 'text:"open daily"', "coffee -kind:video", "moderation:no faces:1..2"):
            assert built.search(parse(query), LIBRARY, "path") == index(True, folder).search(
                parse(query), LIBRARY, "path"
            )


def test_the_command_line_offers_the_engines_sorts() -> None:
    from rekflow.cli import search as search_command

    assert search_command.SORTS == SORTS


def test_the_log_is_copied_back_off_the_writers_path_and_emptied_at_close(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an index whose writes take its write-ahead log past the checkpointer's threshold (small here)
    monkeypatch.setattr(index_module._Checkpointer, "LOG_BYTES", 64 * 1024)
    path = tmp_path / "index.sqlite3"
    log = path.with_name(path.name + "-wal")
    built = SearchIndex(path)

    # WHEN documents are indexed one by one, as analyze does
    for asset in library()[:200]:
        built.put(asset)

    # THEN the writer never copies the log back itself (SQLite's automatic checkpoint is off on its connection), the
    # checkpointer's thread does, and closing leaves the database whole in one file, everything in it
    assert built._db.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
    assert built._checkpointer._thread is not None and built._checkpointer._thread.is_alive()
    built.close()
    assert not log.exists() or log.stat().st_size == 0
    with SearchIndex(path) as reopened:
        assert len(reopened) == 200
