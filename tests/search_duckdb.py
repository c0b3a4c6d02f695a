"""The search index on AWS, offline: the two Iceberg tables of template.yaml as DuckDB tables, rows applied as the
Firehose stream applies them, and the SQL compiled for Athena run on them.

Everything here is read from template.yaml, not restated: the columns and their types (the Glue tables' Iceberg
schemas), the routing of each row (the stream's MetadataExtractionQuery, run through jq itself) and the unique
keys an update or a delete replaces by (DestinationTableConfigurationList). moto's Athena answers canned rows
and Firehose's Iceberg destination does not run locally, so this is the stand-in the differential test uses.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from typing import Any

import duckdb
import jq

from rekflow import TEMPLATE_PATH
from rekflow.bench.search_cost import function_projection
from rekflow.local.template import Template
from rekflow.search.query import Node
from rekflow.search.sql import RESULT_COLUMNS, Tables, compile_search

ICEBERG_TO_DUCKDB = {"string": "VARCHAR", "long": "BIGINT", "int": "INTEGER", "double": "DOUBLE", "boolean": "BOOLEAN"}
TABLE_RESOURCES = {"assets": "SearchAssetsTable", "found": "SearchFoundTable"}
DATABASE = "rekflow_search_local"


@functools.cache
def _template() -> Template:
    return Template.load(TEMPLATE_PATH)


def table_columns(template: Template | None = None) -> dict[str, list[tuple[str, str]]]:
    """(column, Iceberg type) of each table, in schema order."""
    template = template or _template()
    found = {}
    for table, logical_id in TABLE_RESOURCES.items():
        props = template.resources[logical_id]["Properties"]
        schema = props["OpenTableFormatInput"]["IcebergInput"]["IcebergTableInput"]["Schema"]
        found[table] = [(field["Name"], field["Type"]) for field in sorted(schema["Fields"], key=lambda f: f["Id"])]
    return found


def stream_routing(template: Template | None = None) -> tuple[str, dict[str, list[str]]]:
    """The stream's JQ routing expression (the database name put in) and the unique keys of each table."""
    template = template or _template()
    stream = template.resources["SearchIndexStream"]["Properties"]["IcebergDestinationConfiguration"]
    (processor,) = stream["ProcessingConfiguration"]["Processors"]
    parameters = {p["ParameterName"]: p["ParameterValue"] for p in processor["Parameters"]}
    text, variables = parameters["MetadataExtractionQuery"]["Fn::Sub"], {"SearchDatabase": DATABASE}
    for name, value in variables.items():
        text = text.replace("${" + name + "}", value)
    keys = {}
    for entry in stream["DestinationTableConfigurationList"]:
        table = template.resources[entry["DestinationTableName"]["Ref"]]["Properties"]["Name"]
        keys[table] = list(entry.get("UniqueKeys", []))
    return text, keys


class IndexStandIn:
    """The two tables in an in-memory DuckDB, written as Firehose writes them, read with the compiled SQL."""

    def __init__(self) -> None:
        template = _template()
        self.columns = table_columns(template)
        expression, self.unique_keys = stream_routing(template)
        self.route = jq.compile(expression)
        self.db = duckdb.connect(":memory:")
        for table, columns in self.columns.items():
            body = ", ".join(f"{name} {ICEBERG_TO_DUCKDB[kind]}" for name, kind in columns)
            self.db.execute(f"CREATE TABLE {table} ({body})")

    def put(self, rows: Iterable[dict[str, Any]]) -> None:
        """Apply rows as Firehose does: route each by the template's JQ expression, then insert, update (delete
        by the table's unique keys, then insert) or delete. A row must hold exactly its table's columns. Rows are
        applied in order; inserts wait for the next delete of their table (or the end) and go in together."""
        pending: dict[str, list[list[Any]]] = {table: [] for table in self.columns}
        for row in rows:
            route = self.route.input_value(json.loads(json.dumps(row))).first()
            assert route["destinationDatabaseName"] == DATABASE
            table, operation = route["destinationTableName"], route["operation"]
            names = [name for name, _ in self.columns[table]]
            # Every column and no other: Firehose maps first-level fields to columns, and a record missing one
            # is reported to fail (lambdas/search_index/projection.py, deletion).
            assert sorted(row) == sorted(names), f"{table}'s columns are {names}, the row has {sorted(row)}"
            if operation in ("update", "delete"):
                keys = self.unique_keys[table]
                assert keys, f"{operation} on {table}, which has no unique keys"
                positions = [names.index(key) for key in keys]
                if any([held[i] for i in positions] == [row[key] for key in keys] for held in pending[table]):
                    self._insert(table, pending[table])  # the row it replaces goes in first
                where = " AND ".join(f"{key} = ?" for key in keys)
                self.db.execute(f"DELETE FROM {table} WHERE {where}", [row[key] for key in keys])  # noqa: S608
            if operation in ("insert", "update"):
                pending[table].append([row.get(name) for name in names])
        for table, values in pending.items():
            self._insert(table, values)

    def _insert(self, table: str, values: list[list[Any]]) -> None:
        if not values:
            return
        marks = "(" + ", ".join("?" for _ in values[0]) + ")"
        sql = f"INSERT INTO {table} VALUES " + ", ".join(marks for _ in values)  # noqa: S608
        self.db.execute(sql, [value for row in values for value in row])
        values.clear()

    def search(self, tree: Node, limit: int | None = None, sort: str = "path") -> list[dict[str, Any]]:
        rows = self.db.execute(compile_search(tree, Tables.plain(), limit, sort)).fetchall()
        return [dict(zip(RESULT_COLUMNS, row[: len(RESULT_COLUMNS)], strict=True)) for row in rows]

    def keys(self, tree: Node, sort: str = "path") -> list[str]:
        return [row["object_key"] for row in self.search(tree, sort=sort)]

    def count(self, table: str) -> int:
        return int(self.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608


def projection() -> Any:
    """SearchIndexFunction's projection module (lambdas/search_index/projection.py), as the function imports it."""
    return function_projection()
