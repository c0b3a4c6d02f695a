"""The search query language: text in, one immutable tree out. Every engine compiles this tree; none parses text.

Grammar (EBNF; whitespace separates items and is otherwise ignored; docs/reference/search-syntax.md explains it):

    query       = [ or_expr ] ;
    or_expr     = and_expr { "|" and_expr } ;           (* a free-standing "|", between terms *)
    and_expr    = unary { unary } ;                     (* terms side by side: AND *)
    unary       = [ "-" ] atom ;                        (* "-" directly before the atom: NOT *)
    atom        = "(" or_expr ")" | field_term | free ;
    field_term  = field ":" alternatives [ confidence ] ;
    alternatives = value { "|" value } ;                (* no space around "|": OR within the field *)
    confidence  = "confidence:" ( comparison | range | bare ) ;   (* only after label:, moderation:, text: *)
    value       = quoted | comparison | range | bare ;
    comparison  = ( ">=" | "<=" | ">" | "<" ) bare ;    (* faces, duration, dates *)
    range       = bare ".." bare ;                      (* inclusive at both ends *)
    free        = quoted | bare ;                       (* matched against labels and text *)
    quoted      = '"' { any character but '"' } '"' ;
    bare        = { any character but space, '"', "(", ")", "|" } ;   (* at least one *)
    field       = "label" | "text" | "moderation" | "faces" | "kind" | "status" | "reason" | "failed"
                | "uploaded" | "analyzed" | "path" | "format" | "duration" | "taken" | "camera" | "near"
                | "review" ;

A date is YYYY, YYYY-MM or YYYY-MM-DD and stands for that whole year, month or day (UTC); `near:` takes
LAT,LON[,KM] (a radius in kilometres, 1 when left out). AND binds tighter than a free-standing `|`:
`cat dog | rocket` is `(cat dog) | rocket`.

The tree is canonical: AND and OR are flattened and have at least two children, `label:cat|dog` is the same
tree as `label:cat | label:dog`, words are lower-cased, and `render(tree)` writes text that parses back to the
same tree (tests/unit/test_search_query.py holds that as a property).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date
from typing import TypeAlias

from rekflow.features import NAMES as FEATURE_NAMES

# ---------------------------------------------------------------------------------------------- the tree


@dataclass(frozen=True)
class Range:
    """low..high, both included."""

    low: Scalar
    high: Scalar


@dataclass(frozen=True)
class Near:
    """Within km kilometres of (lat, lon)."""

    lat: float
    lon: float
    km: float


@dataclass(frozen=True)
class Confidence:
    """A bound on the confidence (0-100) of the label, moderation label or text line the term matched."""

    op: str
    value: float | Range


@dataclass(frozen=True)
class Term:
    """field op value: `op` is "=", one of COMPARISONS, or ".." (value is a Range)."""

    field: str
    op: str
    value: Value
    confidence: Confidence | None = None


@dataclass(frozen=True)
class Free:
    """Free words (one word, or a quoted phrase): found in a label's name or in a line of text."""

    words: str


@dataclass(frozen=True)
class Not:
    child: Node


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class MatchAll:
    """The empty query: every asset."""


Scalar: TypeAlias = str | int | float
Value: TypeAlias = str | int | float | Range | Near
Node: TypeAlias = Term | Free | Not | And | Or | MatchAll

# ---------------------------------------------------------------------------------------------- the fields

COMPARISONS = (">=", "<=", ">", "<")
TEXT_FIELDS = (
    "label", "text", "moderation", "kind", "status", "reason", "failed", "path", "format", "camera", "review",
)  # fmt: skip
NUMBER_FIELDS = {"faces": int, "duration": float}
DATE_FIELDS = ("uploaded", "analyzed", "taken")
FIELDS = (*TEXT_FIELDS, *NUMBER_FIELDS, *DATE_FIELDS, "near")
# The fields whose matches carry a confidence, so `confidence:` may follow them.
WITH_CONFIDENCE = ("label", "moderation", "text")
KINDS = ("image", "video", "other")
STATUSES = ("SUCCEEDED", "PARTIAL", "REJECTED", "SKIPPED")
# An asset's moderation review: waiting, decided either way (the document's review section), or never needed.
REVIEW_STATES = ("pending", "approved", "rejected")
# What `review:` takes: a state, `yes` (any of them) or `no` (no review was ever needed).
REVIEW_VALUES = (*REVIEW_STATES, "yes", "no")
# What people type for a format, and the name the results document writes.
FORMAT_ALIASES = {"JPG": "JPEG", "TIF": "TIFF", "HEIF": "HEIC", "MPEG4": "MP4"}
DEFAULT_NEAR_KM = 1.0

_WORD = re.compile(r"[^\W_]+")


def words_of(text: str) -> list[str]:
    """The words of a label name, a text line or a query, lower-cased: runs of letters and digits.

    Every engine splits text this way (the SQLite index's FTS5 tokenizer is set to agree: unicode61 with
    diacritics kept)."""
    return _WORD.findall(text.lower())


class QueryError(ValueError):
    """A query that cannot be parsed: where (0-based position), what, and the query with a caret under it."""

    def __init__(self, query: str, position: int, token: str, problem: str) -> None:
        self.query, self.position, self.token, self.problem = query, position, token, problem
        shown = f" {token!r}" if token else ""
        super().__init__(f"{problem}{shown} at position {position + 1}\n  {query}\n  {' ' * position}^")


# ---------------------------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class _Token:
    kind: str  # "(", ")", "|", "-", "field", "word", "phrase"
    text: str  # the token as written
    position: int
    field: str = ""  # for "field": the name before the colon
    value_at: int = 0  # for "field": where the value starts


_FIELD_PREFIX = re.compile(r"([A-Za-z]+):")
_BARE_END = re.compile(r'[\s"()]')


def parse(text: str) -> Node:
    """The tree of a query; raises QueryError pointing at the first bad token."""
    return _Parser(text).parse()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = self._lex()
        self.at = 0

    # ------------------------------------------------------------------ lexing
    def _lex(self) -> list[_Token]:
        text, i, tokens = self.text, 0, []
        while i < len(text):
            c = text[i]
            if c.isspace():
                i += 1
            elif c in "()|":
                tokens.append(_Token(c, c, i))
                i += 1
            elif c == "-" and i + 1 < len(text) and not text[i + 1].isspace() and text[i + 1] not in ")|":
                tokens.append(_Token("-", c, i))
                i += 1
            elif c == '"':
                end = self._closing_quote(i)
                tokens.append(_Token("phrase", text[i : end + 1], i))
                i = end + 1
            else:
                field = _FIELD_PREFIX.match(text, i)
                if field:
                    end = self._value_end(field.end())
                    tokens.append(_Token("field", text[i:end], i, field.group(1).lower(), field.end()))
                else:
                    stop = _BARE_END.search(text, i)
                    end_at = stop.start() if stop else len(text)
                    # A bare word stops at "|" too: `cat|dog` without a field is two words OR-ed.
                    bar = text.find("|", i, end_at)
                    end_at = bar if bar >= 0 else end_at
                    tokens.append(_Token("word", text[i:end_at], i))
                    i = end_at
                    continue
                i = end
        return tokens

    def _closing_quote(self, start: int) -> int:
        end = self.text.find('"', start + 1)
        if end < 0:
            raise QueryError(self.text, start, self.text[start:], "a quote that is never closed:")
        return end

    def _value_end(self, i: int) -> int:
        """Where a field's alternatives end: at a space or a parenthesis outside quotes."""
        while i < len(self.text):
            c = self.text[i]
            if c == '"':
                i = self._closing_quote(i) + 1
            elif c.isspace() or c in "()":
                return i
            else:
                i += 1
        return i

    # ------------------------------------------------------------------ grammar
    def parse(self) -> Node:
        if not self.tokens:
            return MatchAll()
        node = self._or()
        if self.at < len(self.tokens):
            token = self.tokens[self.at]
            raise QueryError(self.text, token.position, token.text, "unexpected")
        return node

    def _peek(self) -> _Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def _or(self) -> Node:
        children = [self._and()]
        while (token := self._peek()) and token.kind == "|":
            self.at += 1
            following = self._peek()
            if following is None or following.kind in ")|":
                raise QueryError(self.text, token.position, "|", "nothing after")
            children.append(self._and())
        return or_(*children)

    def _and(self) -> Node:
        children = []
        while (token := self._peek()) and token.kind not in ")|":
            children.append(self._unary())
        if not children:
            token = self._peek()
            where = token.position if token else len(self.text)
            raise QueryError(self.text, where, token.text if token else "", "a term expected before")
        return and_(*children)

    def _unary(self) -> Node:
        token = self.tokens[self.at]
        if token.kind == "-":
            self.at += 1
            return Not(self._atom())
        return self._atom()

    def _atom(self) -> Node:
        token = self._peek()
        if token is None:
            raise QueryError(self.text, len(self.text), "", "a term expected at the end")
        self.at += 1
        if token.kind == "(":
            if (inner := self._peek()) and inner.kind == ")":
                raise QueryError(self.text, inner.position, ")", "empty parentheses:")
            node = self._or()
            closing = self._peek()
            if closing is None or closing.kind != ")":
                raise QueryError(self.text, token.position, "(", "a parenthesis that is never closed:")
            self.at += 1
            return node
        if token.kind in ")|-":
            raise QueryError(self.text, token.position, token.text, "unexpected")
        if token.kind == "phrase" or token.kind == "word":
            return self._free(token)
        return self._field_term(token)

    def _free(self, token: _Token) -> Node:
        raw = token.text[1:-1] if token.kind == "phrase" else token.text
        words = words_of(raw)
        if not words:
            raise QueryError(self.text, token.position, token.text, "no letters or digits to search for in")
        return Free(" ".join(words))

    def _field_term(self, token: _Token) -> Node:
        field = token.field
        if field == "confidence":
            raise QueryError(
                self.text,
                token.position,
                token.text,
                "confidence: follows a label:, moderation: or text: term;",
            )
        if field not in FIELDS:
            raise QueryError(self.text, token.position, token.text, f"unknown field (fields: {', '.join(FIELDS)}):")
        terms = [self._term(field, raw, at) for raw, at in self._alternatives(token)]
        confidence = self._confidence(token)
        if confidence is not None:
            terms = [Term(t.field, t.op, t.value, confidence) for t in terms]
        return or_(*terms)

    def _alternatives(self, token: _Token) -> list[tuple[str, int]]:
        """A field's values split at "|" (outside quotes), each with where it starts."""
        text, i, end = self.text, token.value_at, token.position + len(token.text)
        alternatives, start = [], i
        while i <= end:
            if i < end and text[i] == '"':
                i = self._closing_quote(i) + 1
                continue
            if i == end or text[i] == "|":
                if i == start:
                    raise QueryError(self.text, start, text[start:end], f"{token.field}: needs a value here")
                alternatives.append((text[start:i], start))
                start = i + 1
            i += 1
        return alternatives

    def _confidence(self, token: _Token) -> Confidence | None:
        following = self._peek()
        if following is None or following.kind != "field" or following.field != "confidence":
            return None
        self.at += 1
        if token.field not in WITH_CONFIDENCE:
            raise QueryError(
                self.text,
                following.position,
                following.text,
                f"confidence: cannot follow {token.field}:",
            )
        alternatives = self._alternatives(following)
        if len(alternatives) > 1:
            raise QueryError(self.text, following.value_at, following.text, "confidence: takes one bound, not")
        raw, at = alternatives[0]
        op, value = self._numeric(raw, at, float, "confidence")
        for bound in (value.low, value.high) if isinstance(value, Range) else (value,):
            if not 0 <= float(bound) <= 100:
                raise QueryError(self.text, at, raw, "a confidence is between 0 and 100, not")
        return Confidence(op, value if isinstance(value, Range) else float(value))

    # ------------------------------------------------------------------ values
    def _term(self, field: str, raw: str, at: int) -> Term:
        if field in NUMBER_FIELDS:
            return Term(field, *self._numeric(raw, at, NUMBER_FIELDS[field], field))
        if field in DATE_FIELDS:
            return Term(field, *self._dates(raw, at, field))
        if field == "near":
            return Term(field, "=", self._near(raw, at))
        return Term(field, "=", self._text_value(field, raw, at))

    def _unquote(self, raw: str, at: int, field: str) -> str:
        value = raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] == '"' else raw
        if '"' in value:
            raise QueryError(self.text, at, raw, f"{field}: a quote inside a value:")
        if not value.strip():
            raise QueryError(self.text, at, raw, f"{field}: needs a value, not")
        return value

    def _text_value(self, field: str, raw: str, at: int) -> str:
        value = self._unquote(raw, at, field)
        if field == "path":
            return value  # a key prefix, as S3 spells it: case and spaces kept
        if field in ("text", "label", "camera", "moderation"):
            words = words_of(value)
            if not words:
                raise QueryError(self.text, at, raw, f"{field}: no letters or digits in")
            return " ".join(words)
        if field == "kind":
            if value.lower() not in KINDS:
                raise QueryError(self.text, at, raw, f"kind: is one of {', '.join(KINDS)}, not")
            return value.lower()
        if field == "status":
            if value.upper() not in STATUSES:
                raise QueryError(self.text, at, raw, f"status: is one of {', '.join(STATUSES)}, not")
            return value.upper()
        if field == "review":
            if value.lower() not in REVIEW_VALUES:
                raise QueryError(self.text, at, raw, f"review: is one of {', '.join(REVIEW_VALUES)}, not")
            return value.lower()
        if field == "failed":
            if value.lower() not in FEATURE_NAMES:
                raise QueryError(self.text, at, raw, f"failed: takes a feature ({', '.join(FEATURE_NAMES)}), not")
            return value.lower()
        if field == "format":
            return FORMAT_ALIASES.get(value.upper(), value.upper())
        if not _REASON.fullmatch(value.upper()):
            raise QueryError(self.text, at, raw, "reason: takes a reason code (NOT_MEDIA, TOO_LONG), not")
        return value.upper()

    def _split_comparison(self, raw: str) -> tuple[str, str, int]:
        for op in COMPARISONS:  # ">=" before ">"
            if raw.startswith(op):
                return op, raw[len(op) :], len(op)
        return "=", raw, 0

    def _numeric(self, raw: str, at: int, kind: type, field: str) -> tuple[str, int | float | Range]:
        op, rest, skip = self._split_comparison(raw)
        if op == "=" and ".." in rest:
            low_text, high_text = rest.split("..", 1)
            low = self._number(low_text, at, kind, field)
            high = self._number(high_text, at + len(low_text) + 2, kind, field)
            if low > high:
                raise QueryError(self.text, at, raw, f"{field}: a range from high to low:")
            return "..", Range(low, high)
        return op, self._number(rest, at + skip, kind, field)

    def _number(self, raw: str, at: int, kind: type, field: str) -> int | float:
        try:
            value = kind(raw)
        except ValueError:
            what = "a whole number" if kind is int else "a number"
            raise QueryError(self.text, at, raw, f"{field}: takes {what}, not") from None
        if kind is float and not math.isfinite(value):
            raise QueryError(self.text, at, raw, f"{field}: takes a finite number, not")
        if value < 0:
            raise QueryError(self.text, at, raw, f"{field}: cannot be negative:")
        return value  # type: ignore[no-any-return]

    def _dates(self, raw: str, at: int, field: str) -> tuple[str, str | Range]:
        op, rest, skip = self._split_comparison(raw)
        if op == "=" and ".." in rest:
            low_text, high_text = rest.split("..", 1)
            low = self._period(low_text, at, field)
            high = self._period(high_text, at + len(low_text) + 2, field)
            if period_bounds(low)[0] > period_bounds(high)[0]:
                raise QueryError(self.text, at, raw, f"{field}: a range from late to early:")
            return "..", Range(low, high)
        return op, self._period(rest, at + skip, field)

    def _period(self, raw: str, at: int, field: str) -> str:
        if not _PERIOD.fullmatch(raw):
            raise QueryError(self.text, at, raw, f"{field}: takes YYYY, YYYY-MM or YYYY-MM-DD, not")
        parts = [int(p) for p in raw.split("-")]
        try:
            date(parts[0], *[*parts[1:], 1, 1][:2])
        except ValueError:
            raise QueryError(self.text, at, raw, f"{field}: no such date:") from None
        return raw

    def _near(self, raw: str, at: int) -> Near:
        parts = raw.split(",")
        try:
            numbers = [float(p) for p in parts]
        except ValueError:
            numbers = []
        if len(numbers) not in (2, 3) or not all(math.isfinite(n) for n in numbers):
            raise QueryError(self.text, at, raw, "near: takes LAT,LON or LAT,LON,KM, not")
        lat, lon, km = (*numbers, DEFAULT_NEAR_KM)[:3]
        if not (-90 <= lat <= 90 and -180 <= lon <= 180 and km > 0):
            raise QueryError(self.text, at, raw, "near: latitude -90..90, longitude -180..180, radius over 0:")
        return Near(lat, lon, km)


_REASON = re.compile(r"[A-Z_]+")
_PERIOD = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?")


def period_bounds(period: str) -> tuple[str, str]:
    """The first instant of a period and the first one after it, as 'YYYY-MM-DDTHH:MM:SS' (compared as text)."""
    parts = [int(p) for p in period.split("-")]
    start = date(parts[0], *[*parts[1:], 1, 1][:2])
    if len(parts) == 1:
        end = date(start.year + 1, 1, 1)
    elif len(parts) == 2:
        end = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    else:
        end = date.fromordinal(start.toordinal() + 1)
    return f"{start.isoformat()}T00:00:00", f"{end.isoformat()}T00:00:00"


def date_interval(op: str, value: str | Range) -> tuple[str | None, str | None]:
    """A date term as [start, end): None where unbounded. Every engine compares timestamps against these."""
    if isinstance(value, Range):
        return period_bounds(str(value.low))[0], period_bounds(str(value.high))[1]
    start, end = period_bounds(value)
    return {"=": (start, end), ">=": (start, None), ">": (end, None), "<": (None, start), "<=": (None, end)}[op]


def number_matches(op: str, value: int | float | Range, number: float) -> bool:
    """Whether `number` satisfies op value (the reference semantics of faces:, duration:, confidence:)."""
    if isinstance(value, Range):
        return float(value.low) <= number <= float(value.high)
    bound = float(value)
    return {
        "=": number == bound,
        ">=": number >= bound,
        "<=": number <= bound,
        ">": number > bound,
        "<": number < bound,
    }[op]


# ---------------------------------------------------------------------------------------------- building


def and_(*children: Node) -> Node:
    """AND of children, flattened; one child is itself."""
    flat: list[Node] = []
    for child in children:
        flat.extend(child.children if isinstance(child, And) else (child,))
    return flat[0] if len(flat) == 1 else And(tuple(flat))


def or_(*children: Node) -> Node:
    """OR of children, flattened; one child is itself."""
    flat: list[Node] = []
    for child in children:
        flat.extend(child.children if isinstance(child, Or) else (child,))
    return flat[0] if len(flat) == 1 else Or(tuple(flat))


# ---------------------------------------------------------------------------------------------- rendering


def render(node: Node) -> str:
    """Query text that parses back to `node`."""
    if isinstance(node, MatchAll):
        return ""
    if isinstance(node, Or):
        return " | ".join(_grouped(child, Or) for child in node.children)
    if isinstance(node, And):
        return " ".join(_grouped(child, And) for child in node.children)
    if isinstance(node, Not):
        inner = render(node.child)
        return f"-({inner})" if isinstance(node.child, (And, Or, Not)) else f"-{inner}"
    if isinstance(node, Free):
        return _quoted(node.words) if " " in node.words or _needs_quotes(node.words) else node.words
    text = f"{node.field}:{_render_value(node.op, node.value)}"
    if node.confidence:
        text += f" confidence:{_render_value(node.confidence.op, node.confidence.value)}"
    return text


def _grouped(child: Node, parent: type) -> str:
    # An OR inside an AND needs parentheses (AND binds tighter); an AND inside an OR does not.
    text = render(child)
    return f"({text})" if isinstance(child, Or) and parent is And else text


def _render_value(op: str, value: Value) -> str:
    if isinstance(value, Range):
        return f"{_scalar(value.low)}..{_scalar(value.high)}"
    if isinstance(value, Near):
        return f"{_scalar(value.lat)},{_scalar(value.lon)},{_scalar(value.km)}"
    return ("" if op == "=" else op) + _scalar(value)


def _scalar(value: Scalar) -> str:
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, int):
        return str(value)
    return _quoted(value) if _needs_quotes(value) else value


def _needs_quotes(value: str) -> bool:
    return (
        not value
        or any(c.isspace() or c in '()|"' for c in value)
        or value[0] in "-<>"
        or ".." in value
        or bool(_FIELD_PREFIX.match(value))
    )


def _quoted(value: str) -> str:
    return f'"{value}"'
