"""The query tree compiled to SQLite SQL over the index's tables (index.py): a condition on the asset row `a`.

Every value travels as a parameter; nothing the user typed is spliced into the SQL text. Each condition is 0
or 1, never NULL (an asset without a capture time is 0 for `taken:`), so `-` (SQL NOT) means what the
reference evaluator means by it. Text and free words use the FTS5 tables when the index has them, and an
`instr` scan over the stored words otherwise: both find words one after another, as the reference does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rekflow.search.query import (
    And,
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
from rekflow.search.reference import positive_leaves

# The asset's columns that a term compares directly, by field.
_COLUMNS = {"kind": "a.kind", "format": "a.format", "status": "a.status", "reason": "a.reason"}
_DATES = {"uploaded": "a.uploaded", "analyzed": "a.analyzed", "taken": "a.taken"}
_NUMBERS = {"faces": "a.faces", "duration": "a.duration"}
_OPS = {"=": "=", ">=": ">=", "<=": "<=", ">": ">", "<": "<"}


@dataclass
class Compiled:
    sql: str
    params: list[object] = field(default_factory=list)


class SqliteCompiler:
    """`fts`: the index has the FTS5 tables. `probe`: the condition is tested on few assets, one by one (the
    newest of a sort's index): each finding is then looked up by its asset, and text matched by `instr` on the
    finding's own words, where finding every match first (FTS5, IN lists) would cost more than the few rows."""

    def __init__(self, fts: bool, probe: bool = False) -> None:
        self.fts = fts and not probe
        self.probe = probe

    def where(self, node: Node) -> Compiled:
        params: list[object] = []
        return Compiled(self._node(node, params), params)

    def score(self, node: Node) -> Compiled:
        """The highest confidence among the findings the query's positive terms name (`--sort confidence`)."""
        params: list[object] = []
        leaves = positive_leaves(node)
        if not leaves:
            return Compiled("NULL")
        conditions = " OR ".join(f"({self._row(leaf, params)})" for leaf in leaves)
        score = f"(SELECT max(f.confidence) FROM found f WHERE f.asset = a.id AND ({conditions}))"  # noqa: S608
        return Compiled(score, params)

    # ------------------------------------------------------------------ the tree
    def _node(self, node: Node, params: list[object]) -> str:
        if isinstance(node, MatchAll):
            return "1"
        if isinstance(node, And):
            return self._and(node, params)
        if isinstance(node, Or):
            return " OR ".join(f"({self._node(child, params)})" for child in node.children)
        if isinstance(node, Not):
            return f"NOT ({self._node(node.child, params)})"
        if isinstance(node, Free):
            return self._found_in(node, params)
        return self._term(node, params)

    def _and(self, node: And, params: list[object]) -> str:
        """Terms whose matches are a set of asset ids (findings, failed features) are intersected as id sets
        before any asset row is read: at a million assets, `label:cat text:"open daily"` read 50,000 asset rows
        for the Cat label's matches alone when SQLite drove the query from that one list."""
        sets: list[tuple[str, list[object]]] = []
        others: list[tuple[str, list[object]]] = []
        for child in node.children:
            own: list[object] = []
            subquery = None if self.probe else self._id_set(child, own)
            if subquery is not None:
                sets.append((subquery, own))
            else:
                others.append((f"({self._node(child, own)})", own))
        if len(sets) > 1:
            others.insert(
                0, ("a.id IN (" + " INTERSECT ".join(sql for sql, _ in sets) + ")", [p for _, ps in sets for p in ps])
            )
        else:
            others = [(f"a.id IN ({sql})", ps) for sql, ps in sets] + others
        for _, own in others:
            params.extend(own)
        return " AND ".join(sql for sql, _ in others)

    def _id_set(self, node: Node, params: list[object]) -> str | None:
        """The SELECT of the asset ids a term matches, where it is one (findings, failed features)."""
        if isinstance(node, Free) or (
            isinstance(node, Term) and node.field in ("label", "text", "moderation") and node.value != "no"
        ):
            return f"SELECT f.asset FROM found f WHERE {self._row(node, params)}"  # noqa: S608
        if isinstance(node, Term) and node.field == "failed":
            params.append(node.value)
            return "SELECT asset FROM failed WHERE feature = ?"
        return None

    def _term(self, term: Term, params: list[object]) -> str:
        field_, value = term.field, term.value
        if field_ in ("label", "text"):
            return self._found_in(term, params)
        if field_ == "moderation":
            if value == "no":
                flagged = self._found_in(Term("moderation", "=", "yes", term.confidence), params)
                return f"a.moderation_ran = 1 AND NOT ({flagged})"
            return self._found_in(term, params)
        if field_ in _COLUMNS:
            params.append(value)
            return f"{_COLUMNS[field_]} IS ?"  # IS: 0, not NULL, where the asset has no reason
        if field_ == "review":
            if value in ("yes", "no"):
                return f"a.review IS {'NOT ' if value == 'yes' else ''}NULL"
            params.append(value)
            # `= ?` (not IS ?) lets the partial index asset_review answer; the IS NOT NULL keeps the condition 0,
            # never NULL, where the asset has no review.
            return "a.review IS NOT NULL AND a.review = ?"
        if field_ == "failed":
            params.append(value)
            if self.probe:
                return "EXISTS (SELECT 1 FROM failed WHERE feature = ? AND asset = a.id)"
            return "a.id IN (SELECT asset FROM failed WHERE feature = ?)"
        if field_ == "path":
            prefix = str(value)
            params.extend([prefix, len(prefix), prefix])
            # The range lets the key's index find the first candidate; substr decides.
            return "a.key >= ? AND substr(a.key, 1, ?) = ?"
        if field_ == "camera":
            params.append(f" {value} ")
            return "instr(' ' || a.camera_words || ' ', ?) > 0"
        if field_ in _NUMBERS:
            column = _NUMBERS[field_]
            return f"{column} IS NOT NULL AND {_compare(column, term.op, value, params)}"
        if field_ in _DATES:
            column = _DATES[field_]
            start, end = date_interval(term.op, value)  # type: ignore[arg-type]
            parts = [f"{column} IS NOT NULL"]
            if start is not None:
                parts.append(f"{column} >= ?")
                params.append(start)
            if end is not None:
                parts.append(f"{column} < ?")
                params.append(end)
            return " AND ".join(parts)
        if field_ == "near":
            assert isinstance(value, Near)
            params.extend([value.lat, value.lon, value.km])
            return "a.lat IS NOT NULL AND a.lon IS NOT NULL AND distance_km(?, ?, a.lat, a.lon) <= ?"
        raise ValueError(f"no such field: {field_}")

    # ------------------------------------------------------------------ findings
    def _found_in(self, leaf: Term | Free, params: list[object]) -> str:
        """The asset has a finding (label, moderation label, line) the term names."""
        if self.probe:
            return f"EXISTS (SELECT 1 FROM found f WHERE f.asset = a.id AND ({self._row(leaf, params)}))"  # noqa: S608
        return f"a.id IN (SELECT f.asset FROM found f WHERE {self._row(leaf, params)})"  # noqa: S608

    def _row(self, leaf: Term | Free, params: list[object]) -> str:
        """A finding `f` that the term names: the same test as reference._names."""
        if isinstance(leaf, Free):
            label = self._words_in("label", leaf.words, params)
            text = self._words_in("text", leaf.words, params)
            return f"({label}) OR ({text})"
        value = str(leaf.value)
        if leaf.field == "label":
            params.append(value)
            condition = "f.kind = 'label' AND f.words = ?"
        elif leaf.field == "text":
            condition = self._words_in("text", value, params)
        elif value == "yes":
            condition = "f.kind = 'moderation'"
        else:
            params.extend([value, value])
            condition = "f.kind = 'moderation' AND (f.words = ? OR f.parent_words = ?)"
        if leaf.confidence is not None:
            condition += " AND " + _compare("f.confidence", leaf.confidence.op, leaf.confidence.value, params)
        return condition

    def _words_in(self, kind: str, words: str, params: list[object]) -> str:
        """A finding of `kind` whose words hold `words` one after another."""
        if not self.fts:
            params.append(f" {words} ")
            return f"f.kind = '{kind}' AND instr(' ' || f.words || ' ', ?) > 0"
        # An FTS5 phrase: the words are letters and digits only (query.words_of), so quoting them is enough.
        params.append('"' + words + '"')
        if kind == "text":
            return "f.kind = 'text' AND f.id IN (SELECT rowid FROM text_fts WHERE text_fts MATCH ?)"
        # Label names are few (thousands, whatever the library's size): find the names, then their findings.
        return "f.kind = 'label' AND f.words IN (SELECT words FROM label_name_fts WHERE label_name_fts MATCH ?)"


def _compare(column: str, op: str, value: object, params: list[object]) -> str:
    if isinstance(value, Range):
        params.extend([value.low, value.high])
        return f"{column} BETWEEN ? AND ?"
    params.append(value)
    return f"{column} {_OPS[op]} ?"
