"""The search query language: every tree renders to text that parses back to it, and a bad query is a
QueryError that points at the bad token (nothing else escapes the parser)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rekflow.search.query import (
    And,
    Confidence,
    Free,
    MatchAll,
    Near,
    Not,
    Or,
    QueryError,
    Range,
    Term,
    date_interval,
    parse,
    render,
)
from tests.search_strategies import trees


@settings(max_examples=400, deadline=None)
@given(trees)
def test_a_rendered_tree_parses_back_to_itself(tree: object) -> None:
    assert parse(render(tree)) == tree  # type: ignore[arg-type]


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from('ab :|-()"><=.,0123456789labeltxfcsonr'), max_size=30))
def test_any_text_parses_or_says_where_it_is_wrong(text: str) -> None:
    try:
        tree = parse(text)
    except QueryError as error:
        assert 0 <= error.position <= len(text)
        assert str(error).splitlines()[-1] == "  " + " " * error.position + "^"
    else:
        assert parse(render(tree)) == tree


def test_the_done_when_query() -> None:
    assert parse('label:Cat text:"open daily"') == And((Term("label", "=", "cat"), Term("text", "=", "open daily")))


def test_or_within_a_field_is_the_same_tree_as_or_between_terms() -> None:
    assert (
        parse("label:cat|dog")
        == parse("label:cat | label:dog")
        == Or((Term("label", "=", "cat"), Term("label", "=", "dog")))
    )


def test_and_binds_tighter_than_a_free_standing_bar() -> None:
    assert parse("cat dog | rocket") == Or((And((Free("cat"), Free("dog"))), Free("rocket")))
    assert parse("cat (dog | rocket)") == And((Free("cat"), Or((Free("dog"), Free("rocket")))))


def test_confidence_applies_to_every_value_of_the_term_before_it() -> None:
    bound = Confidence(">=", 90.0)
    assert parse("-label:cat|dog confidence:>=90") == Not(
        Or((Term("label", "=", "cat", bound), Term("label", "=", "dog", bound)))
    )
    assert parse("text:open confidence:80..95").confidence == Confidence("..", Range(80.0, 95.0))  # type: ignore[union-attr]


def test_values_of_each_kind() -> None:
    assert parse("faces:>=3") == Term("faces", ">=", 3)
    assert parse("faces:2..5") == Term("faces", "..", Range(2, 5))
    assert parse("duration:<10.5") == Term("duration", "<", 10.5)
    assert parse("uploaded:2026-11") == Term("uploaded", "=", "2026-11")
    assert parse("analyzed:2026-11-01..2026-11-30") == Term("analyzed", "..", Range("2026-11-01", "2026-11-30"))
    assert parse("near:48.85,2.35") == Term("near", "=", Near(48.85, 2.35, 1.0))
    assert parse("format:jpg kind:VIDEO status:partial failed:Labels") == And(
        (
            Term("format", "=", "JPEG"),
            Term("kind", "=", "video"),
            Term("status", "=", "PARTIAL"),
            Term("failed", "=", "labels"),
        )
    )
    assert parse('path:"Holiday 2026/"') == Term("path", "=", "Holiday 2026/")
    assert parse("review:Pending|APPROVED -review:no") == And(
        (Or((Term("review", "=", "pending"), Term("review", "=", "approved"))), Not(Term("review", "=", "no")))
    )
    assert parse("   ") == MatchAll()


def test_dates_are_periods() -> None:
    assert date_interval("=", "2026-11") == ("2026-11-01T00:00:00", "2026-12-01T00:00:00")
    assert date_interval(">", "2026-12-31") == ("2027-01-01T00:00:00", None)
    assert date_interval("<=", "2026") == (None, "2027-01-01T00:00:00")
    assert date_interval("..", Range("2026-11-01", "2026-11-30")) == ("2026-11-01T00:00:00", "2026-12-01T00:00:00")


@pytest.mark.parametrize(
    ("query", "position", "token"),
    [
        ("label:cat colour:red", 10, "colour:red"),
        ("label:cat faces:many", 16, "many"),
        ("faces:3 confidence:>=90", 8, "confidence:>=90"),
        ("label:cat confidence:>=120", 21, ">=120"),
        ('text:"open daily', 5, '"open daily'),
        ("(cat dog", 0, "("),
        ("cat )", 4, ")"),
        ("cat |", 4, "|"),
        ("label:", 6, ""),
        ("label:cat|", 10, ""),
        ("uploaded:2026-02-30", 9, "2026-02-30"),
        ("uploaded:2026-12..2026-01", 9, "2026-12..2026-01"),
        ("kind:audio", 5, "audio"),
        ("failed:colours", 7, "colours"),
        ("review:maybe", 7, "maybe"),
        ("near:91,0", 5, "91,0"),
        ("()", 1, ")"),
        ("!!!", 0, "!!!"),
    ],
)
def test_a_bad_query_points_at_its_bad_token(query: str, position: int, token: str) -> None:
    with pytest.raises(QueryError) as raised:
        parse(query)
    assert (raised.value.position, raised.value.token) == (position, token)
    assert str(raised.value).endswith("\n  " + query + "\n  " + " " * position + "^")


def test_the_documented_grammar_is_the_parsers() -> None:
    from rekflow import PROJECT_ROOT
    from rekflow.search import query

    docstring = query.__doc__ or ""
    grammar = docstring[docstring.index("    query ") : docstring.index("\nA date is")].rstrip()
    page = (PROJECT_ROOT / "docs" / "reference" / "search-syntax.md").read_text(encoding="utf-8")
    documented = page[page.index("```ebnf\n") + len("```ebnf\n") :]
    documented = documented[: documented.index("```")].rstrip()
    assert documented == "\n".join(line.removeprefix("    ") for line in grammar.splitlines())
