"""review: `rekflow review list` over N pending reviews in a results folder (target: under 1 s at 10,000).

python -m rekflow.bench review [N]

Writes N review records shaped as `rekflow analyze` keeps them (commands/review/folder.py, keep_pending: the review's
input, the summary item as DynamoDB JSON, about 2 KB each; their document copies and the folder's documents of their
keys, whose heads listing reads to tell a key analysed again; a line each in the folder's index),
then times the command itself as a user runs it (a new process: start, imports, listing, printing), side by side
with the same command over an empty folder (the start alone), median of 5 runs each.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rekflow.commands.review.common import PENDING
from rekflow.commands.review.folder import REVIEWS_FOLDER, index_review, list_local

TARGET_SECONDS = 1.0
RUNS = 5


def record(n: int, started: datetime) -> dict[str, Any]:
    asset_id = f"{n:064x}"
    key = f"uploads/{n // 1000:03d}/photo-{n:06d}.jpg"
    labels = ["Violence", "Weapons"] if n % 2 else ["Explicit"]
    detail: dict[str, Any] = {
        "schemaVersion": "1.0",
        "assetId": asset_id,
        "status": "SUCCEEDED",
        "reason": None,
        "bucket": "rekflow-local-mediabucket",
        "key": key,
        "versionId": f"v{n:031d}",
        "resultsLocation": f"s3://rekflow-local-resultsbucket/results/{asset_id}.json",
        "needsReview": True,
        "topLabels": ["Person", "Outdoors", "Crowd"],
        "features": {name: {"status": "SUCCEEDED", "count": 3} for name in ("labels", "moderation", "text", "faces")},
    }
    return {
        "assetId": asset_id,
        "key": key,
        "versionId": detail["versionId"],
        "status": PENDING,
        "startedAt": (started + timedelta(seconds=n)).isoformat(),
        "labels": labels,
        "escalations": 0,
        "input": detail,
        "item": {
            "AssetId": {"S": asset_id},
            "Key": {"S": key},
            "VersionId": {"S": detail["versionId"]},
            "Status": {"S": "SUCCEEDED"},
            "ModerationLabels": {"L": [{"S": label} for label in labels]},
            "TopLabels": {"L": [{"S": label} for label in detail["topLabels"]]},
            "ResultsLocation": {"S": detail["resultsLocation"]},
            "NeedsReview": {"BOOL": True},
        },
        "document": f"{key}.json",
    }


def make_folder(root: Path, count: int) -> Path:
    folder = root / REVIEWS_FOLDER
    folder.mkdir(parents=True)
    started = datetime(2026, 12, 1, tzinfo=UTC)
    for n in range(count):
        made = record(n, started)
        (folder / f"{made['assetId']}.json").write_text(json.dumps(made, indent=2), encoding="utf-8")
        document = json.dumps({"schemaVersion": "1.0", "assetId": made["assetId"], "object": {"key": made["key"]}})
        (folder / f"{made['assetId']}.document.json").write_text(document, encoding="utf-8")
        folder_document = root / made["document"]  # the folder's document of the key
        folder_document.parent.mkdir(parents=True, exist_ok=True)
        folder_document.write_text(document, encoding="utf-8")
        index_review(root, made)
    return root


def time_command(output: Path) -> tuple[float, float]:
    """Median wall and CPU seconds (user + system, of the child process) of the command."""
    runs, cpu = [], []
    for _ in range(RUNS):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.perf_counter()
        subprocess.run(  # noqa: S603 (rekflow's own console script, beside this interpreter)
            [str(Path(sys.executable).parent / "rekflow"), "review", "list", "--json", "--output", str(output)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        runs.append(time.perf_counter() - began)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(runs), statistics.median(cpu)


def main(count: int) -> None:
    with tempfile.TemporaryDirectory(prefix="rekflow-bench-review-") as scratch:
        full = make_folder(Path(scratch) / "full", count)
        empty = Path(scratch) / "empty"
        empty.mkdir()
        began = time.perf_counter()
        listed = list_local(full)
        in_process = time.perf_counter() - began
        assert len(listed) == count
        (with_reviews, with_cpu), (start_only, start_cpu) = time_command(full), time_command(empty)
    load = os.getloadavg()[0]
    print(f"rekflow review list over {count:,} pending reviews (median of {RUNS} new processes; load {load:.1f})")
    share = with_reviews / TARGET_SECONDS
    print(f"  whole command        {with_reviews:6.3f} s, CPU {with_cpu:.3f} s ({share:.2f} of the 1 s target)")
    print(f"  empty folder (start) {start_only:6.3f} s, CPU {start_cpu:.3f} s")
    print(f"  listing alone        {in_process:6.3f} s in process ({in_process / count * 1e6:.0f} µs per review)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
