"""`make bench`: what search on AWS costs, per query and per month, at 10k, 1M and 10M assets.

The index's size is measured, not guessed: a generated library (rekflow.search.synthetic) goes through
SearchIndexFunction's own projection (lambdas/search_index/projection.py) into the two tables, which DuckDB writes
as zstd Parquet (what Firehose and the Glue compaction write for an Iceberg table is Parquet too, with their own
row groups: these sizes are an estimate of theirs). Athena bills the compressed bytes of the columns a query reads,
at least 10 MB a query; each typical query's columns are listed below and priced from the measured column sizes,
scaled by the number of assets. Everything else is a named price or a named assumption.

    python -m rekflow.bench search_cost [ASSETS_MEASURED]
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rekflow import PROJECT_ROOT
from rekflow.bench.cost import Price
from rekflow.search.synthetic import Library

_ATHENA = "https://aws.amazon.com/athena/pricing/"
_FIREHOSE = "https://aws.amazon.com/firehose/pricing/"
_GLUE = "https://aws.amazon.com/glue/pricing/"
_S3 = "https://aws.amazon.com/s3/pricing/"
_OPENSEARCH = "https://aws.amazon.com/opensearch-service/pricing/"
_READ_ON = "2026-12-02"
# $5 per TB of data scanned, rounded up to the megabyte, 10 MB at least per query; DDL and failed queries free,
# a cancelled query billed for what it scanned.
ATHENA_TB_SCANNED = Price(5.00, "TB scanned (Athena SQL)", _ATHENA, _READ_ON, verified=False)
ATHENA_MINIMUM_BYTES = 10 * 1024 * 1024
# Firehose into Apache Iceberg tables: per GB ingested, no 5 KB rounding per record.
FIREHOSE_ICEBERG_GB = Price(0.075, "GB ingested (Firehose to Iceberg tables)", _FIREHOSE, _READ_ON, verified=False)
# The Data Catalog's table optimizers (compaction, snapshot retention) bill DPU-hours while they run.
GLUE_OPTIMIZER_DPU_HOUR = Price(0.44, "DPU-hour (Glue Data Catalog table optimizers)", _GLUE, _READ_ON, verified=False)
S3_STANDARD_GB_MONTH = Price(0.023, "GB-month (S3 Standard, first 50 TB)", _S3, _READ_ON, verified=False)
S3_GET_PER_1000 = Price(0.0004, "1,000 GET requests (S3 Standard)", _S3, _READ_ON, verified=False)
# OpenSearch Serverless bills at least 1 OCU (0.5 indexing + 0.5 search, without standby replicas) while idle.
OPENSEARCH_SERVERLESS_OCU_HOUR = Price(0.24, "OCU-hour (OpenSearch Serverless)", _OPENSEARCH, _READ_ON, verified=False)
PRICES = [
    ATHENA_TB_SCANNED,
    FIREHOSE_ICEBERG_GB,
    GLUE_OPTIMIZER_DPU_HOUR,
    S3_STANDARD_GB_MONTH,
    S3_GET_PER_1000,
    OPENSEARCH_SERVERLESS_OCU_HOUR,
]

# Assumptions, not measurements (each figure below names the ones it uses).
SIZES = (10_000, 1_000_000, 10_000_000)
SEARCHES_PER_MONTH = 1_000  # editors' searches against the index
NEW_PER_MONTH = 0.05  # uploads a month, as a share of the library (each analysed once, so indexed once)
# Compaction: Glue's optimizer rewrites what a month's flushes wrote; assumed 1 DPU for 2 minutes a day per table
# at 10k and 1M assets, 10 minutes at 10M (the optimizers bill while they run, nothing while idle).
OPTIMIZER_MINUTES_A_DAY = {10_000: 2 * 2, 1_000_000: 2 * 2, 10_000_000: 2 * 10}
EVIDENCE_GETS_PER_SEARCH = 20  # a page's results documents, read for the evidence
HOURS_A_MONTH = 730
# Assets generated to measure the index: its bytes an asset were the same at 20,000 and 200,000 (189).
DEFAULT_MEASURED = 20_000

# The columns each typical query reads (rekflow/search/sql.py's SQL: the result columns and doc_id of assets, and
# of found the columns its EXISTS filters on), by table.
RESULT = ("bucket", "object_key", "asset_id", "kind", "results_location", "doc_id")
TYPICAL_QUERIES: dict[str, dict[str, tuple[str, ...]]] = {
    'label:cat text:"open daily"': {"assets": RESULT, "found": ("doc_id", "kind", "words")},
    "moderation:yes uploaded:2026-11 (one month's partition)": {
        "assets": (*RESULT, "uploaded"),
        "found": ("doc_id", "day", "kind", "words", "parent_words"),
    },
    "faces:>=3 kind:image": {"assets": (*RESULT, "faces")},
    "label:person confidence:>90 --sort confidence": {
        "assets": RESULT,
        "found": ("doc_id", "kind", "words", "confidence"),
    },
}
ONE_MONTH_SHARE = {"moderation:yes uploaded:2026-11 (one month's partition)": 1 / 12}


@dataclass(frozen=True)
class Measured:
    assets: int
    column_bytes: dict[tuple[str, str], int]  # (table, column) -> compressed bytes in Parquet
    json_bytes: int  # what the function sends Firehose (rows as JSON lines)

    def per_asset(self, table: str, columns: tuple[str, ...]) -> float:
        return sum(self.column_bytes[(table, column)] for column in columns) / self.assets

    @property
    def parquet_bytes_per_asset(self) -> float:
        return sum(self.column_bytes.values()) / self.assets


def function_projection() -> Any:
    """SearchIndexFunction's own projection module (lambdas/search_index/projection.py)."""
    path = PROJECT_ROOT / "lambdas" / "search_index" / "projection.py"
    spec = importlib.util.spec_from_file_location("search_index_projection", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def measure(assets: int) -> Measured:
    import json

    import duckdb

    projection = function_projection()
    project, ASSET_COLUMNS, FOUND_COLUMNS = projection.project, projection.ASSET_COLUMNS, projection.FOUND_COLUMNS

    json_bytes = 0
    db = duckdb.connect()
    types = {"doc_id": "BIGINT", "duration": "DOUBLE", "faces": "INTEGER", "moderation_ran": "BOOLEAN",
             "lat": "DOUBLE", "lon": "DOUBLE", "deleted": "BOOLEAN", "confidence": "DOUBLE"}  # fmt: skip
    sizes: dict[tuple[str, str], int] = {}
    with tempfile.TemporaryDirectory() as scratch:
        lines = {table: (Path(scratch) / f"{table}.jsonl").open("w", encoding="utf-8") for table in ("assets", "found")}
        for document, video in Library(seed=1).documents(assets):
            asset, found = project(document, video, f"s3://results/results/{document['assetId']}.json")
            for table, row in (("assets", asset), *(("found", f) for f in found)):
                line = json.dumps(row) + "\n"
                json_bytes += len(line)
                lines[table].write(line)
        for table, columns in (("assets", ASSET_COLUMNS), ("found", FOUND_COLUMNS)):
            lines[table].close()
            typed = "{" + ", ".join(f"'{c}': '{types.get(c, 'VARCHAR')}'" for c in columns) + "}"
            source = f"read_json('{Path(scratch) / f'{table}.jsonl'}', format='newline_delimited', columns={typed})"
            # Rows ordered by doc_id, as Firehose writes them (one analysis's rows together).
            path = Path(scratch) / f"{table}.parquet"
            copy = f"COPY (SELECT * FROM {source} ORDER BY doc_id) TO '{path}' (FORMAT parquet, COMPRESSION zstd)"  # noqa: S608
            db.execute(copy)  # our own scratch paths and constants
            for column, size in db.execute(
                f"SELECT path_in_schema, sum(total_compressed_size) FROM parquet_metadata('{path}') GROUP BY 1"  # noqa: S608
            ).fetchall():
                sizes[(table, column)] = int(size)
    return Measured(assets, sizes, json_bytes)


def query_cost(measured: Measured, assets: int, query: str) -> tuple[float, float]:
    """(bytes scanned, dollars) of one query over `assets` assets."""
    scanned = sum(measured.per_asset(table, columns) for table, columns in TYPICAL_QUERIES[query].items())
    if "found" in TYPICAL_QUERIES[query] and query in ONE_MONTH_SHARE:
        share = ONE_MONTH_SHARE[query]
        found = measured.per_asset("found", TYPICAL_QUERIES[query]["found"])
        scanned -= found * (1 - share)
    scanned *= assets
    billed = max(ATHENA_MINIMUM_BYTES, scanned)
    return scanned, billed / 1e12 * ATHENA_TB_SCANNED.usd


def monthly(measured: Measured, assets: int) -> dict[str, float]:
    stored_gb = measured.parquet_bytes_per_asset * assets / 1e9
    ingested_gb = measured.json_bytes / measured.assets * assets * NEW_PER_MONTH / 1e9
    queries = sum(query_cost(measured, assets, q)[1] for q in TYPICAL_QUERIES) / len(TYPICAL_QUERIES)
    return {
        "storage (Parquet in S3)": stored_gb * S3_STANDARD_GB_MONTH.usd,
        "ingestion (Firehose)": ingested_gb * FIREHOSE_ICEBERG_GB.usd,
        "compaction (Glue optimizers)": OPTIMIZER_MINUTES_A_DAY[assets] / 60 * 30 * GLUE_OPTIMIZER_DPU_HOUR.usd,
        f"{SEARCHES_PER_MONTH:,} searches (Athena, average typical query)": SEARCHES_PER_MONTH * queries,
        f"evidence ({EVIDENCE_GETS_PER_SEARCH} document GETs a search)": SEARCHES_PER_MONTH
        * EVIDENCE_GETS_PER_SEARCH
        / 1000
        * S3_GET_PER_1000.usd,
    }


def report(measured: Measured) -> None:
    print(
        f"search on AWS: index measured on {measured.assets:,} generated assets (SearchIndexFunction's projection, "
        f"zstd Parquet): {measured.parquet_bytes_per_asset:.0f} bytes an asset in Parquet, "
        f"{measured.json_bytes / measured.assets:.0f} bytes an asset sent to Firehose"
    )
    print(f"\n{'per query (Athena bills >= 10 MB)':<58}" + "".join(f"{n:>16,}" for n in SIZES))
    for query in TYPICAL_QUERIES:
        figures = [query_cost(measured, n, query) for n in SIZES]
        print(f"  {query:<56}" + "".join(f"{f'${usd:.5f}':>16}" for _, usd in figures))
        print(f"  {'  scanned':<56}" + "".join(f"{f'{scanned / 1e6:,.1f} MB':>16}" for scanned, _ in figures))
    print(f"\n{'per month':<58}" + "".join(f"{n:>16,}" for n in SIZES))
    months = [monthly(measured, n) for n in SIZES]
    for line in months[0]:
        print(f"  {line:<56}" + "".join(f"{f'${m[line]:,.2f}':>16}" for m in months))
    print(f"  {'total':<56}" + "".join(f"{f'${sum(m.values()):,.2f}':>16}" for m in months))
    idle = [m["storage (Parquet in S3)"] for m in months]
    print(f"  {'idle (no uploads, no searches): storage only':<56}" + "".join(f"{f'${usd:,.2f}':>16}" for usd in idle))
    idle_opensearch = 1 * HOURS_A_MONTH * OPENSEARCH_SERVERLESS_OCU_HOUR.usd
    print(f"  {'for comparison: OpenSearch Serverless idle, 1 OCU':<56}" + f"{f'${idle_opensearch:,.2f}':>16}" * 3)
    print(
        f"\nassumptions: {SEARCHES_PER_MONTH:,} searches a month; {NEW_PER_MONTH:.0%} of the library uploaded a month; "
        f"optimizers {', '.join(f'{m} DPU-minutes a day at {n:,}' for n, m in OPTIMIZER_MINUTES_A_DAY.items())}"
    )
    print(f"prices (us-east-1, read {_READ_ON}; * the rate table could not be read back, only the rule: check it)")
    for price in PRICES:
        print(f"  *${price.usd:g} per {price.per}  {price.source}")


def main() -> None:
    assets = int(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_MEASURED
    report(measure(assets))


if __name__ == "__main__":
    main()
