"""The embedded search index: one SQLite file in the results folder (`<output>/index.sqlite3`), kept current
as documents are written (`rekflow analyze`, `backfill`, `replay`, and `index_document` for anyone else), never
rebuilt per query; `rekflow index --rebuild` makes it again from the documents.

Tables: `asset` (one row per object key, with its moderation review's state: a re-analysis or a review decision
replaces it), `found` (its labels, moderation labels and lines of text, with their words lower-cased and a
video's moments as JSON), `failed` (features that failed),
and, where this Python's SQLite has FTS5, `text_fts` (the lines' words, rowid = found.id) and `label_name_fts`
(each distinct label name once). FTS5 is in SQLite's amalgamation but off unless compiled with
SQLITE_ENABLE_FTS5 (https://sqlite.org/fts5.html, 2.1); some Pythons leave it out: uv's standalone builds of
July 2025 (https://github.com/astral-sh/python-build-standalone/pull/694), Chaquopy's Android build
(https://github.com/chaquo/chaquopy/issues/1466). There the index is built without those tables and text is
matched by `instr` over the stored words: the same answers (the differential test runs both), slower on big
libraries; `rekflow search` says so.

Evidence is not a second query language: the page's assets are read back into facts and the reference
evaluator (reference.py) says why each matched.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rekflow.search.engine import DEFAULT_SORT, SORTS, Page
from rekflow.search.facts import Asset, Found, Moment, Shot, distance_km
from rekflow.search.query import Node, words_of
from rekflow.search.reference import Hit, matches
from rekflow.search.sqlite_sql import SqliteCompiler

INDEX_FILE = "index.sqlite3"
SCHEMA_VERSION = "5"  # 5: asset.review (an older index is made anew from the documents: results_folder.open_index)

_TABLES = """
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE asset (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    bucket TEXT NOT NULL,
    asset_id TEXT NOT NULL,
    version_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    format TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    uploaded TEXT NOT NULL,
    analyzed TEXT NOT NULL,
    duration REAL,
    faces INTEGER,
    moderation_ran INTEGER NOT NULL,
    review TEXT,
    taken TEXT,
    camera TEXT NOT NULL,
    camera_words TEXT NOT NULL,
    lat REAL,
    lon REAL,
    shots TEXT
);
CREATE TABLE failed (feature TEXT NOT NULL, asset INTEGER NOT NULL, PRIMARY KEY (feature, asset)) WITHOUT ROWID;
CREATE TABLE found (
    id INTEGER PRIMARY KEY,
    asset INTEGER NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    words TEXT NOT NULL,
    parent TEXT NOT NULL,
    parent_words TEXT NOT NULL,
    confidence REAL NOT NULL,
    moments TEXT
);
"""
# The secondary indexes: made with the tables, or after the rows when a whole index is built (SearchIndex.build).
# asset_review holds only the assets with a review (a few in a hundred): SQLite uses a partial index where the
# query's `review = ?` implies its WHERE (https://www.sqlite.org/partialindex.html, 2.1), so `review:pending` reads
# the waiting ones alone, and an asset without a review costs no index entry.
# found_words and found_parent end with the asset: a term's matches are then read from the index alone (at a
# million assets, `label:cat` took 185 ms looking each finding's asset up in the table, 50,000 times).
_INDEXES = """
CREATE INDEX asset_analyzed ON asset (analyzed DESC, key);
CREATE INDEX asset_uploaded ON asset (uploaded DESC, key);
CREATE INDEX asset_taken ON asset (taken IS NULL, taken DESC, key);
CREATE INDEX asset_taken_range ON asset (taken);
CREATE INDEX asset_kind ON asset (kind);
CREATE INDEX asset_status ON asset (status, reason);
CREATE INDEX asset_format ON asset (format);
CREATE INDEX asset_faces ON asset (faces);
CREATE INDEX asset_duration ON asset (duration);
CREATE INDEX asset_review ON asset (review) WHERE review IS NOT NULL;
CREATE INDEX found_words ON found (kind, words, confidence, asset);
CREATE INDEX found_parent ON found (kind, parent_words, confidence, asset) WHERE kind = 'moderation';
CREATE INDEX found_asset ON found (asset, kind);
"""
# Words as query.words_of writes them: split on spaces only, nothing folded again (diacritics kept).
_FTS_TABLES = """
CREATE VIRTUAL TABLE text_fts USING fts5(words, tokenize = "unicode61 remove_diacritics 0");
CREATE VIRTUAL TABLE label_name_fts USING fts5(words, tokenize = "unicode61 remove_diacritics 0");
CREATE TABLE label_name (words TEXT PRIMARY KEY) WITHOUT ROWID;
"""
# ORDER BY of each sort but confidence, written as the indexes below are, so SQLite can walk them in order.
_ORDERS = {
    "analyzed": "analyzed DESC, key",
    "uploaded": "uploaded DESC, key",
    "taken": "taken IS NULL, taken DESC, key",
    "path": "key",
}
_FTS_MISSING = (
    "this Python's SQLite has no FTS5 (PRAGMA compile_options lacks ENABLE_FTS5): text is matched by scanning "
    "every line, the same answers but slower; a Python whose sqlite3 has FTS5 (python.org's, Debian's, "
    "Homebrew's) searches faster after `rekflow index --rebuild`"
)


class IndexUnusable(Exception):
    """The index cannot be used as it is (built by another version, or with FTS5 this Python lacks)."""


class IndexOutdated(IndexUnusable):
    """The index was written by an older rekflow: the documents it was made from can make it anew."""


def has_fts5() -> bool:
    """Whether this Python's SQLite was compiled with FTS5."""
    connection = sqlite3.connect(":memory:")
    try:
        options = {row[0] for row in connection.execute("PRAGMA compile_options")}
    finally:
        connection.close()
    return "ENABLE_FTS5" in options


def index_path(output: Path) -> Path:
    return output / INDEX_FILE


class _Checkpointer:
    """Copies the write-ahead log back into the database from a thread of its own, so no write waits for it.

    With SQLite's automatic checkpoint, the commit that takes the log past 1,000 pages also copies it back: a
    re-analysis at a million assets then took 11-14 ms at p95 instead of 2 (`python -m rekflow.bench search`).
    SQLite's documentation suggests this instead: turn the automatic checkpoint off and "run checkpoints in a
    separate thread or process" (https://www.sqlite.org/wal.html#automatic_checkpoint). A PASSIVE checkpoint
    never blocks the writer or a reader (https://www.sqlite.org/c3ref/wal_checkpoint_v2.html)."""

    LOG_BYTES = 4 * 1024 * 1024  # about SQLite's own 1,000 pages of 4 KiB

    def __init__(self, path: Path) -> None:
        self._path = path
        self._log = path.with_name(path.name + "-wal")
        self._wanted = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def after_commit(self) -> None:
        """Ask for a checkpoint once the log has grown past LOG_BYTES (a stat, no SQLite call)."""
        try:
            grown = self._log.stat().st_size > self.LOG_BYTES
        except FileNotFoundError:
            return
        if grown:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="search-index-checkpoint", daemon=True)
                self._thread.start()
            self._wanted.set()

    def _run(self) -> None:
        db = sqlite3.connect(self._path, isolation_level=None)
        try:
            while True:
                self._wanted.wait()
                self._wanted.clear()
                if self._stopping:
                    return
                db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            db.close()

    def stop(self) -> None:
        if self._thread is not None:
            self._stopping = True
            self._wanted.set()
            self._thread.join()


class SearchIndex:
    """The index of one results folder. Safe to share between threads (analyze writes from several)."""

    def __init__(self, path: Path, fts: bool | None = None, _indexes: bool = True) -> None:
        self.path = path
        exists = path.exists()
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._checkpointer = _Checkpointer(path)
        try:
            self._db.create_function("distance_km", 4, distance_km, deterministic=True)
            # WAL: a search reads while analyze writes; NORMAL: a crash may lose the last writes, never corrupt
            # (https://www.sqlite.org/wal.html, https://www.sqlite.org/pragma.html#pragma_synchronous).
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute("PRAGMA wal_autocheckpoint = 0")  # _Checkpointer does it, off the writer's path
            if exists:
                self.fts = self._check()
            else:
                self.fts = has_fts5() if fts is None else fts
                self._create(_indexes)
        except BaseException:  # e.g. IndexOutdated, which the caller answers by rebuilding: no connection left open
            self._db.close()
            raise
        self._compiler = SqliteCompiler(self.fts)
        self._probe = SqliteCompiler(self.fts, probe=True)
        self._label_names: set[str] | None = None  # label_name's rows, read once a writer needs them

    @classmethod
    def open(cls, output: Path) -> SearchIndex:
        output.mkdir(parents=True, exist_ok=True)
        return cls(index_path(output))

    @property
    def warning(self) -> str | None:
        return None if self.fts else _FTS_MISSING

    def close(self) -> None:
        # The checkpointer's connection first: the last connection to close copies the log back and deletes it
        # (https://www.sqlite.org/wal.html#the_wal_file), so a folder analysed and closed holds one whole file.
        self._checkpointer.stop()
        self._db.close()

    def __enter__(self) -> SearchIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ schema
    @classmethod
    def build(cls, path: Path, assets: Iterable[Asset], fts: bool | None = None) -> SearchIndex:
        """A whole new index file from assets: the rows first, then the secondary indexes (sorting once beats
        keeping them in order row by row), with no journal while the file is being made (a caller renames it
        into place when whole, as rebuild does, or discards it)."""
        if path.exists():
            raise FileExistsError(path)
        index = cls(path, fts, _indexes=False)
        index._db.execute("PRAGMA journal_mode = OFF")
        index._db.execute("PRAGMA synchronous = OFF")
        index._db.execute("PRAGMA cache_size = -262144")  # 256 MiB while sorting for the indexes
        with index._transaction():
            index._put_batches(assets, 5000, seen=set())
        with index._lock:
            index._db.executescript("BEGIN;" + _INDEXES + "COMMIT; ANALYZE;")
        index._db.execute("PRAGMA journal_mode = WAL")
        index._db.execute("PRAGMA synchronous = NORMAL")
        return index

    def _create(self, indexes: bool) -> None:
        meta = f"INSERT INTO meta VALUES ('schema', '{SCHEMA_VERSION}'), ('fts5', '{int(self.fts)}');"  # noqa: S608 constants
        schema = _TABLES + (_INDEXES if indexes else "") + (_FTS_TABLES if self.fts else "")
        with self._lock:
            self._db.executescript("BEGIN;" + schema + meta + "COMMIT;")

    def _check(self) -> bool:
        try:
            meta = dict(self._db.execute("SELECT name, value FROM meta").fetchall())
        except sqlite3.DatabaseError as error:
            raise IndexUnusable(
                f"{self.path} is not a rekflow search index ({error}): rekflow index --rebuild"
            ) from error
        schema = meta.get("schema")
        if schema != SCHEMA_VERSION:
            if schema is not None and schema.isdigit() and int(schema) < int(SCHEMA_VERSION):
                raise IndexOutdated(
                    f"{self.path} was written by an older rekflow (schema {schema}, this one reads {SCHEMA_VERSION}): "
                    "rekflow index --rebuild"
                )
            raise IndexUnusable(
                f"{self.path} was written by another version of rekflow (schema {schema}, this one reads "
                f"{SCHEMA_VERSION}): rekflow index --rebuild"
            )
        fts = meta.get("fts5") == "1"
        if fts and not has_fts5():
            raise IndexUnusable(
                f"{self.path} was built with FTS5, which this Python's SQLite lacks: rekflow index --rebuild "
                "(builds it without FTS5)"
            )
        return fts

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                self._label_names = None  # what was added to it is rolled back too
                raise
            self._db.execute("COMMIT")
            self._checkpointer.after_commit()  # under the lock: one writer at a time starts the thread

    # ------------------------------------------------------------------ writing
    def put(self, asset: Asset) -> None:
        """Index one asset, replacing whatever its key had."""
        self.put_many([asset])

    def put_many(self, assets: Iterable[Asset], batch: int = 5000) -> None:
        """Index many assets in one transaction (a rebuild, the benchmark), replacing what their keys had.

        Rows go in with executemany, a batch at a time, with ids given here (a finding's id is also its
        line's rowid in text_fts): one statement per row costs more than SQLite's own work at a million."""
        with self._transaction():
            self._put_batches(assets, batch, seen=None)

    def _put_batches(self, assets: Iterable[Asset], batch: int, seen: set[str] | None) -> None:
        """Put assets a batch at a time; `seen`: the keys put so far into an index that was empty (a build),
        so only a key given twice is looked for and removed."""
        rows = iter(assets)
        while chunk := list(itertools.islice(rows, batch)):
            latest = {asset.key: asset for asset in chunk}  # the last of a key wins, as one by one would
            if seen is None:
                self._remove_many(list(latest))
            else:
                self._remove_many([key for key in latest if key in seen])
                seen.update(latest)
            self._insert_many(list(latest.values()))

    def remove(self, key: str) -> bool:
        """Take an object key out of the index; whether it was there."""
        with self._transaction():
            return self._remove_many([key]) > 0

    def keys(self) -> set[str]:
        with self._lock:
            return {row[0] for row in self._db.execute("SELECT key FROM asset")}

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM asset").fetchone()[0])

    def _remove_many(self, keys: list[str]) -> int:
        ids = [(key,) for key in keys]
        of_key = "SELECT id FROM asset WHERE key = ?"
        if self.fts:
            # One rowid at a time: FTS5 answers `rowid IN (subquery)` by reading the whole table.
            self._db.executemany("DELETE FROM text_fts WHERE rowid = ?", self._line_ids(keys))
        # Distinct label names stay in label_name: a name nobody has any more finds no findings.
        self._db.executemany(f"DELETE FROM found WHERE asset IN ({of_key})", ids)  # noqa: S608
        self._db.executemany(f"DELETE FROM failed WHERE asset IN ({of_key})", ids)  # noqa: S608
        before = self._db.total_changes
        self._db.executemany("DELETE FROM asset WHERE key = ?", ids)
        return self._db.total_changes - before

    def _line_ids(self, keys: list[str]) -> list[tuple[int]]:
        """The found ids (= text_fts rowids) of these keys' lines of text."""
        ids: list[tuple[int]] = []
        for start in range(0, len(keys), 500):  # within SQLite's limit on parameters
            some = keys[start : start + 500]
            of_keys = f"SELECT id FROM asset WHERE key IN ({', '.join('?' * len(some))})"  # noqa: S608
            sql = f"SELECT f.id FROM found f WHERE f.kind = 'text' AND f.asset IN ({of_keys})"  # noqa: S608
            ids += self._db.execute(sql, some).fetchall()
        return ids

    def _insert_many(self, assets: list[Asset]) -> None:
        asset_id = self._db.execute("SELECT coalesce(max(id), 0) FROM asset").fetchone()[0]
        found_id = self._db.execute("SELECT coalesce(max(id), 0) FROM found").fetchone()[0]
        asset_rows: list[tuple[object, ...]] = []
        failed_rows: list[tuple[str, int]] = []
        found_rows: list[tuple[object, ...]] = []
        text_rows: list[tuple[int, str]] = []
        label_names: set[str] = set()
        for asset in assets:
            asset_id += 1
            shots = json.dumps([[s.index, s.start_millis, s.end_millis] for s in asset.shots]) if asset.shots else None
            asset_rows.append((
                asset_id, asset.key, asset.bucket, asset.asset_id, asset.version_id, asset.kind, asset.format,
                asset.status, asset.reason, asset.uploaded, asset.analyzed, asset.duration, asset.faces,
                int(asset.moderation_ran), asset.review, asset.taken, asset.camera, asset.camera_words, asset.lat,
                asset.lon, shots,
            ))  # fmt: skip
            failed_rows.extend((feature, asset_id) for feature in asset.failed)
            for found in asset.found:
                found_id += 1
                words = " ".join(words_of(found.name))
                moments = [[m.millis, m.confidence, m.shot] for m in found.moments]
                found_rows.append((
                    found_id, asset_id, found.kind, found.name, words, found.parent, " ".join(words_of(found.parent)),
                    found.confidence, json.dumps(moments) if moments else None,
                ))  # fmt: skip
                if found.kind == "text":
                    text_rows.append((found_id, words))
                elif found.kind == "label" and words:
                    label_names.add(words)
        self._db.executemany(f"INSERT INTO asset VALUES ({', '.join('?' * 21)})", asset_rows)  # noqa: S608
        self._db.executemany("INSERT INTO failed VALUES (?, ?)", failed_rows)
        self._db.executemany("INSERT INTO found VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", found_rows)
        if self.fts:
            self._db.executemany("INSERT INTO text_fts (rowid, words) VALUES (?, ?)", text_rows)
            if self._label_names is None:
                self._label_names = {row[0] for row in self._db.execute("SELECT words FROM label_name")}
            new = [(words,) for words in sorted(label_names - self._label_names)]
            self._db.executemany("INSERT INTO label_name VALUES (?)", new)
            self._db.executemany("INSERT INTO label_name_fts (words) VALUES (?)", new)
            self._label_names.update(label_names)

    # ------------------------------------------------------------------ searching
    # How many of the newest assets (by the sort) are tested one by one before every match is looked for.
    WINDOW = 1000

    def search(self, tree: Node, limit: int, sort: str = DEFAULT_SORT) -> Page:
        """The first `limit` matching assets in `sort` order, with their evidence.

        A query that matches many assets (`kind:image`) is answered fastest by walking the sort's index and
        testing each asset until `limit` match; one that matches few (`label:rocket text:exit`) by finding its
        matches through their own indexes and sorting them. Which one a query is, SQLite's planner cannot tell
        from its statistics, so the walk is tried first over a window of the newest assets, each tested on its
        own (the probe compiler): when more than `limit` match there, those are the first in the whole order
        (every asset outside the window comes later); otherwise every match is found and sorted."""
        if sort not in SORTS:
            raise ValueError(f"sort by one of {', '.join(SORTS)}, not {sort!r}")
        with self._lock:
            rows = self._matching(tree, sort, limit + 1)
            ids = [row[0] for row in rows[:limit]]
            assets = self._assets(ids)
        hits = []
        for row_id in ids:
            asset = assets[row_id]
            evidence = matches(tree, asset)
            hits.append(Hit(asset, tuple(dict.fromkeys(evidence or []))))
        return Page(hits, len(rows) > limit)

    def _matching(self, tree: Node, sort: str, wanted: int) -> list[Any]:
        where = self._compiler.where(tree)
        if sort == "confidence":
            score = self._compiler.score(tree)
            sql = (
                f"SELECT a.id, {score.sql} AS score FROM asset a WHERE {where.sql}"  # noqa: S608 (see _assets)
                " ORDER BY score IS NULL, score DESC, a.key LIMIT ?"
            )
            return self._db.execute(sql, [*score.params, *where.params, wanted]).fetchall()
        order = _ORDERS[sort]
        probe = self._probe.where(tree)
        newest = f"SELECT * FROM asset ORDER BY {order} LIMIT ?"  # noqa: S608 (see _assets)
        # The outer ORDER BY only sorts the window's matches: SQL promises no order from a subquery.
        sql = f"SELECT a.id FROM ({newest}) a WHERE {probe.sql} ORDER BY {order} LIMIT ?"  # noqa: S608 (see _assets)
        rows = self._db.execute(sql, [self.WINDOW, *probe.params, wanted]).fetchall()
        if len(rows) >= wanted:
            return rows
        most = self._db.execute("SELECT max(id) FROM asset").fetchone()[0]
        if most is None or most <= self.WINDOW:  # the window held every asset (no id is above max(id))
            return rows
        # Few match: find them through their own indexes ("+" keeps the planner off the sort's index), then sort.
        unindexed = ", ".join("+" + term.strip() for term in order.split(","))
        sql = f"SELECT a.id FROM asset a WHERE {where.sql} ORDER BY {unindexed} LIMIT ?"  # noqa: S608 (see _assets)
        return self._db.execute(sql, [*where.params, wanted]).fetchall()

    def explain(self, tree: Node, sort: str = DEFAULT_SORT) -> list[str]:
        """SQLite's query plan for finding every match and sorting (for anyone tuning the indexes)."""
        where = self._compiler.where(tree)
        sql = f"EXPLAIN QUERY PLAN SELECT a.id FROM asset a WHERE {where.sql} ORDER BY {_ORDERS[sort]} LIMIT 20"  # noqa: S608
        return [row[3] for row in self._db.execute(sql, where.params)]

    def _assets(self, ids: list[int]) -> dict[int, Asset]:
        """The facts of the assets with these row ids, read back from the index.

        The SQL here and in search() is joined from fixed fragments and placeholders only (S608 is silenced on
        those lines): every value, the user's included, is a parameter."""
        if not ids:
            return {}
        marks = ", ".join("?" * len(ids))
        found: dict[int, list[Found]] = {row_id: [] for row_id in ids}
        failed: dict[int, list[str]] = {row_id: [] for row_id in ids}
        for row_id, feature in self._db.execute(f"SELECT asset, feature FROM failed WHERE asset IN ({marks})", ids):  # noqa: S608
            failed[row_id].append(feature)
        query = f"SELECT asset, kind, name, parent, confidence, moments FROM found WHERE asset IN ({marks})"  # noqa: S608
        for row_id, kind, name, parent, confidence, moments in self._db.execute(query + " ORDER BY id", ids):
            at = tuple(Moment(*m) for m in json.loads(moments)) if moments else ()
            found[row_id].append(Found(kind, name, parent, confidence, at))
        assets = {}
        cursor = self._db.cursor()
        cursor.row_factory = sqlite3.Row
        for row in cursor.execute(f"SELECT * FROM asset WHERE id IN ({marks})", ids):  # noqa: S608
            assets[row["id"]] = _asset(row, tuple(found[row["id"]]), tuple(sorted(failed[row["id"]])))
        return assets


def _asset(row: Any, found: tuple[Found, ...], failed: tuple[str, ...]) -> Asset:
    shots = tuple(Shot(*s) for s in json.loads(row["shots"])) if row["shots"] else ()
    return Asset(
        key=row["key"],
        bucket=row["bucket"],
        asset_id=row["asset_id"],
        version_id=row["version_id"],
        kind=row["kind"],
        format=row["format"],
        status=row["status"],
        reason=row["reason"],
        uploaded=row["uploaded"],
        analyzed=row["analyzed"],
        duration=row["duration"],
        faces=row["faces"],
        failed=failed,
        moderation_ran=bool(row["moderation_ran"]),
        review=row["review"],
        taken=row["taken"],
        camera=row["camera"],
        lat=row["lat"],
        lon=row["lon"],
        found=found,
        shots=shots,
    )
