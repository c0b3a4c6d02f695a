"""The SQL compiled for Athena (rekflow.search.sql): golden files, and the contract with the template's tables.

tests/unit/golden/athena_search.sql holds the Athena SQL of a set of queries; a change to the compiler shows up
as a diff there, to be read and kept on purpose:

    REKFLOW_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/unit/test_search_sql.py

Whether that SQL finds the right assets is tests/functional/test_search_differential.py's job (it runs the same
compiler's SQL in DuckDB against the reference evaluator).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import sqlglot

from rekflow.search.query import parse
from rekflow.search.sql import RESULT_COLUMNS, Tables, compile_search, double
from tests.search_duckdb import IndexStandIn, projection, stream_routing, table_columns

GOLDEN = Path(__file__).parent / "golden" / "athena_search.sql"
DATABASE = "rekflow_dev_search"
QUERIES = (
    "",
    "label:cat",
    'label:cat text:"open daily"',
    'text:"open daily"',
    "rocket",
    "moderation:yes",
    "moderation:no confidence:>=80",
    "moderation:suggestive|violence",
    "faces:>=3",
    "faces:2..4 kind:image",
    "kind:video duration:>60 label:person",
    "status:REJECTED reason:CORRUPT",
    "failed:labels | failed:text",
    "uploaded:2026-11",
    "uploaded:>=2026-11-20 analyzed:<2026-12",
    "taken:2025..2026-06 camera:canon",
    "near:48.8584,2.2945,2",
    'path:"photos/2026/"',
    "format:jpg | format:heic",
    "-label:person (dog | cat)",
    "label:cat confidence:90..100 -moderation:yes",
    "review:pending",
    "-review:no",
    "review:approved|rejected kind:video",
)


# A few queries again with each other --sort (the golden file above them is --sort path).
SORTED = (('label:cat text:"open daily"', "confidence"), ("moderation:yes", "analyzed"), ("faces:>=1", "taken"))


def golden_text() -> str:
    parts = []
    for query, sort in (*((q, "path") for q in QUERIES), *SORTED):
        sql = compile_search(parse(query), Tables.athena(DATABASE), limit=20, sort=sort)
        parts.append(f"-- rekflow search {query!r} --sort {sort}\n{sql};\n")
    return "\n".join(parts)


def test_the_athena_sql_is_the_golden_one():
    text = golden_text()
    if os.environ.get("REKFLOW_UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
    assert GOLDEN.read_text(encoding="utf-8") == text, (
        "the compiled Athena SQL changed: read the diff, then REKFLOW_UPDATE_GOLDEN=1 to keep it"
    )


@pytest.mark.parametrize(("query", "sort"), [*((q, "path") for q in QUERIES), *SORTED])
def test_the_athena_sql_parses_as_trino(query, sort):
    # sqlglot's Trino dialect (Athena engine version 3 is Trino): a syntax check, not an execution.
    sql = compile_search(parse(query), Tables.athena(DATABASE), limit=20, sort=sort)
    assert sqlglot.parse_one(sql, read="trino", error_level=sqlglot.ErrorLevel.RAISE) is not None


@pytest.mark.parametrize("query", QUERIES)
def test_athena_and_duckdb_get_the_same_sql_but_the_table_names(query):
    tree = parse(query)
    athena = compile_search(tree, Tables.athena(DATABASE))
    plain = compile_search(tree, Tables.plain())
    assert athena.replace(f'"{DATABASE}".', "").replace('"assets"', "assets").replace('"found"', "found") == plain


def test_a_date_bounded_query_reads_only_its_days_of_found():
    sql = compile_search(parse("uploaded:2026-11 label:cat"), Tables.athena(DATABASE))
    assert "f.day >= '2026-11-01' AND f.day < '2026-12-01'" in sql
    # Not bounded as a whole (an OR), so no partition filter: it would change the answer.
    assert "f.day" not in compile_search(parse("uploaded:2026-11 | label:cat"), Tables.athena(DATABASE))


def test_doubles_are_written_so_that_neither_engine_reads_a_decimal():
    assert double(90) == "90.0E0"
    assert double(0.1) == "0.1E0"
    assert double(1e-05) == "1E-05"
    assert float(double(2.2945)) == 2.2945


def test_the_sql_names_only_columns_the_tables_have():
    columns = {name for table in table_columns().values() for name, _ in table}
    for query in QUERIES:
        sql = compile_search(parse(query), Tables.athena(DATABASE))
        used = set(re.findall(r"\b[af]\.([a-z_]+)", sql))
        assert used <= columns, (query, used - columns)
    assert set(RESULT_COLUMNS) <= {name for name, _ in table_columns()["assets"]}


def test_the_projection_writes_exactly_the_template_columns():
    module = projection()
    tables = table_columns()
    assert list(module.ASSET_COLUMNS) == [name for name, _ in tables["assets"]]
    assert list(module.FOUND_COLUMNS) == [name for name, _ in tables["found"]]


def test_firehose_routes_each_row_as_the_index_needs():
    module = projection()
    expression, keys = stream_routing()
    index = IndexStandIn()
    route = index.route
    document_rows = {**dict.fromkeys(module.ASSET_COLUMNS), "bucket": "b", "object_key": "k", "deleted": False}
    found_row = dict.fromkeys(module.FOUND_COLUMNS, "x")
    assert route.input_value(document_rows).first()["operation"] == "update"
    assert route.input_value(document_rows).first()["destinationTableName"] == "assets"
    assert route.input_value(module.deletion("b", "k")).first() == {
        "destinationDatabaseName": "rekflow_search_local",
        "destinationTableName": "assets",
        "operation": "delete",
    }
    assert route.input_value(found_row).first()["destinationTableName"] == "found"
    assert route.input_value(found_row).first()["operation"] == "insert"
    assert keys == {"assets": ["bucket", "object_key"], "found": []}
    assert "${" not in expression
