"""The query tree as SQL over the search index's two tables, for Athena (engine version 3, Trino) and for DuckDB.

One compiler writes both: the text differs only in how the tables are named, because it uses only constructs
that behave alike in Trino and DuckDB (checked offline by tests/functional/test_search_differential.py, which runs
this SQL in DuckDB against the reference evaluator, and by the Athena golden files in tests/unit/golden/):

- correlated EXISTS / NOT EXISTS over the child table (no UNNEST: sqlglot cannot write one UNNEST of rows that
  both accept, DESIGN.md "Search: evidence"); AND, OR, NOT over predicates that are never NULL, so NOT is
  two-valued as in the reference (a nullable column is tested with IS NOT NULL AND ..., or COALESCE);
- string equality, `||`, LIKE with `%` only around whole words (words are runs of letters and digits, so a
  word never holds `%` or `_`), substr(s, 1, n) = prefix (both count code points, as Python's str does);
- timestamps as 'YYYY-MM-DDTHH:MM:SS' text in UTC, compared as text (no time-zone types, which differ);
- numbers: doubles written with an exponent (`1.5E0`), a DOUBLE literal in both (a plain `1.5` is a DECIMAL
  in both, compared by other rules); integers as integers;
- the great-circle distance with the reference's own formula and operation order: sin, cos, radians, sqrt,
  asin, least.

Trino: https://trino.io/docs/current/functions/string.html (substr, LIKE), .../functions/math.html (asin,
radians, least in .../conditional.html); Athena engine version 3 is based on Trino
(https://docs.aws.amazon.com/athena/latest/ug/engine-versions-reference-0003.html).
"""

from __future__ import annotations

from dataclasses import dataclass

from rekflow.search.query import (
    And,
    Confidence,
    Free,
    MatchAll,
    Near,
    Node,
    Not,
    Or,
    Range,
    Term,
    date_interval,
)

# The columns a search returns, in this order (rekflow.search.athena reads them by position).
RESULT_COLUMNS = ("bucket", "object_key", "asset_id", "kind", "results_location")
EARTH_RADIUS_KM = 6371.0088  # the reference's (rekflow.search.facts.distance_km)


@dataclass(frozen=True)
class Tables:
    """How the two tables are named in the engine's SQL."""

    assets: str
    found: str

    @classmethod
    def athena(cls, database: str) -> Tables:
        return cls(f'"{database}"."assets"', f'"{database}"."found"')

    @classmethod
    def plain(cls) -> Tables:
        return cls("assets", "found")


# --sort (rekflow.search.engine.SORTS) as ORDER BY: the newest first for times, the best confidence first, A to Z
# for paths; an asset without the value last; ties by key. The same order as engine.sort_key.
SORTS = ("analyzed", "uploaded", "taken", "path", "confidence")


def compile_search(node: Node, tables: Tables, limit: int | None = None, sort: str = "path") -> str:
    """SELECT the matching assets (RESULT_COLUMNS, then best_confidence for that sort) in `sort` order."""
    if sort not in SORTS:
        raise ValueError(f"no such sort: {sort} (sorts: {', '.join(SORTS)})")
    compiler = _Compiler(tables, _upload_days(node))
    columns = ", ".join(f"a.{column}" for column in RESULT_COLUMNS)
    if sort == "path":
        order = "a.object_key, a.bucket"
    elif sort == "confidence":
        # The correlated subquery as an output column, ordered by its name: Trino decorrelates a scalar
        # subquery in the select list (an aggregation joined back), the form both engines take.
        columns += f", {compiler.best_confidence(node)} AS best_confidence"
        order = "best_confidence DESC NULLS LAST, a.object_key, a.bucket"
    else:
        order = f"a.{sort} DESC NULLS LAST, a.object_key, a.bucket"
    where = compiler.predicate(node)
    sql = f"SELECT {columns}\nFROM {tables.assets} AS a\nWHERE {where}\nORDER BY {order}"
    return sql if limit is None else f"{sql}\nLIMIT {int(limit)}"


def string(value: str) -> str:
    """A SQL string literal (both engines double a quote inside one)."""
    return "'" + value.replace("'", "''") + "'"


def double(value: float) -> str:
    """A DOUBLE literal: Python's shortest repr, with an exponent so that neither engine reads a DECIMAL."""
    text = repr(float(value)).upper()
    return text if "E" in text else f"{text}E0"


def number(value: int | float) -> str:
    return str(value) if isinstance(value, int) else double(value)


def _comparison(column: str, op: str, value: int | float | Range) -> str:
    if isinstance(value, Range):
        return f"{column} >= {number(value.low)} AND {column} <= {number(value.high)}"  # type: ignore[arg-type]
    return f"{column} {op} {number(value)}"


def _upload_days(node: Node) -> tuple[str | None, str | None]:
    """The upload days every match must fall in, from `uploaded:` terms the whole query is ANDed with: the
    child table is partitioned by that day, so a date-bounded query reads only those partitions."""
    conjuncts = node.children if isinstance(node, And) else (node,)
    first: str | None = None
    last: str | None = None  # exclusive
    for term in conjuncts:
        if isinstance(term, Term) and term.field == "uploaded":
            start, end = date_interval(term.op, term.value)  # type: ignore[arg-type]
            if start is not None and (first is None or start[:10] > first):
                first = start[:10]
            if end is not None and (last is None or end[:10] < last):
                last = end[:10]
    return first, last


class _Compiler:
    def __init__(self, tables: Tables, days: tuple[str | None, str | None]) -> None:
        self.tables = tables
        self.days = days

    def predicate(self, node: Node) -> str:
        if isinstance(node, MatchAll):
            return "TRUE"
        if isinstance(node, And):
            return "(" + " AND ".join(self.predicate(child) for child in node.children) + ")"
        if isinstance(node, Or):
            return "(" + " OR ".join(self.predicate(child) for child in node.children) + ")"
        if isinstance(node, Not):
            return f"NOT {self.predicate(node.child)}"
        if isinstance(node, Free):
            return self._exists("f.kind IN ('label', 'text')", _contains("f.words", node.words))
        return self._term(node)

    def _exists(self, *conditions: str, negated: bool = False) -> str:
        found = f"SELECT 1 FROM {self.tables.found} AS f WHERE {self._where(conditions)}"  # noqa: S608 - literals by string()
        return f"{'NOT ' if negated else ''}EXISTS ({found})"

    def _where(self, conditions: tuple[str, ...]) -> str:
        first, last = self.days
        pruning = [f"f.day >= {string(first)}"] if first else []
        pruning += [f"f.day < {string(last)}"] if last else []
        return " AND ".join(("f.doc_id = a.doc_id", *pruning, *conditions))

    def best_confidence(self, node: Node) -> str:
        """The highest confidence among the asset's findings that a label, moderation, text or free term outside
        any NOT names (rekflow.search.reference.best_confidence), NULL where none does."""
        named = [conditions for leaf in _positive_leaves(node) if (conditions := self._names(leaf)) is not None]
        if not named:
            return "CAST(NULL AS DOUBLE)"
        either = " OR ".join("(" + " AND ".join(conditions) + ")" for conditions in named)
        where = self._where((f"({either})",))
        return f"(SELECT max(f.confidence) FROM {self.tables.found} AS f WHERE {where})"  # noqa: S608 - as _exists

    def _names(self, leaf: Term | Free) -> list[str] | None:
        """The conditions under which a finding is one `leaf` names; None where it names none (moderation:no)."""
        if isinstance(leaf, Free):
            return ["f.kind IN ('label', 'text')", _contains("f.words", leaf.words)]
        value, kind = str(leaf.value), leaf.field
        conditions = [f"f.kind = {string(kind)}"]
        if leaf.confidence is not None:
            conditions.append(_confidence(leaf.confidence))
        if kind == "label":
            conditions.append(f"f.words = {string(value)}")
        elif kind == "text":
            conditions.append(_contains("f.words", value))
        elif value == "no":
            return None
        elif value != "yes":
            conditions.append(f"(f.words = {string(value)} OR f.parent_words = {string(value)})")
        return conditions

    def _term(self, term: Term) -> str:
        field, value = term.field, term.value
        if field in ("label", "text", "moderation"):
            return self._found(term)
        if field in ("kind", "format", "status"):
            return f"a.{field} = {string(str(value))}"
        if field == "reason":
            return f"COALESCE(a.reason, '') = {string(str(value))}"
        if field == "review":
            # The state is a found row of kind review (lambdas/search_index/projection.py); none: no review needed.
            reviewed = "f.kind = 'review'"
            if value == "yes":
                return self._exists(reviewed)
            if value == "no":
                return f"({self._exists(reviewed, negated=True)})"
            return self._exists(reviewed, f"f.words = {string(str(value))}")
        if field == "failed":
            return f"a.failed LIKE {string(f'%|{value}|%')}"
        if field == "path":
            prefix = str(value)
            return f"substr(a.object_key, 1, {len(prefix)}) = {string(prefix)}"
        if field == "camera":
            return _contains("a.camera", str(value))
        if field in ("faces", "duration"):
            return f"(a.{field} IS NOT NULL AND {_comparison(f'a.{field}', term.op, value)})"  # type: ignore[arg-type]
        if field in ("uploaded", "analyzed", "taken"):
            start, end = date_interval(term.op, value)  # type: ignore[arg-type]
            bounds = [f"a.{field} >= {string(start)}"] if start else []
            bounds += [f"a.{field} < {string(end)}"] if end else []
            return f"(a.{field} IS NOT NULL AND {' AND '.join(bounds)})"
        if field == "near":
            assert isinstance(value, Near)
            return f"(a.lat IS NOT NULL AND a.lon IS NOT NULL AND {_distance(value)} <= {double(value.km)})"
        raise ValueError(f"no such field: {field}")

    def _found(self, term: Term) -> str:
        conditions = self._names(term)
        if conditions is None:  # moderation:no: moderation ran and found nothing (within the confidence bound)
            names_any = self._names(Term("moderation", "=", "yes", term.confidence))
            assert names_any is not None
            return f"(a.moderation_ran AND {self._exists(*names_any, negated=True)})"
        return self._exists(*conditions)


def _positive_leaves(node: Node) -> list[Term | Free]:
    """The label, moderation, text and free terms not under a NOT (rekflow.search.reference.positive_leaves)."""
    if isinstance(node, (And, Or)):
        return [leaf for child in node.children for leaf in _positive_leaves(child)]
    if isinstance(node, Free) or (isinstance(node, Term) and node.field in ("label", "text", "moderation")):
        return [node]
    return []


def _contains(column: str, words: str) -> str:
    """`column` (space-joined words) holds `words` one after another."""
    return f"(' ' || {column} || ' ') LIKE {string(f'% {words} %')}"


def _confidence(bound: Confidence) -> str:
    return "(" + _comparison("f.confidence", bound.op, bound.value) + ")"


def _distance(near: Near) -> str:
    """facts.distance_km(near.lat, near.lon, a.lat, a.lon), term for term."""
    lat, lon = double(near.lat), double(near.lon)
    half_dp = f"sin((radians(a.lat) - radians({lat})) / 2)"
    half_dl = f"sin(radians(a.lon - {lon}) / 2)"
    a = f"{half_dp} * {half_dp} + cos(radians({lat})) * cos(radians(a.lat)) * ({half_dl} * {half_dl})"
    return f"2 * {double(EARTH_RADIUS_KM)} * asin(least(1.0E0, sqrt({a})))"
