"""`rekflow replay NAME --output DIR`: a recorded execution's file, run again from the start.

The local runtime lives as long as one command, so the object the execution read is gone: the
replay uploads the same file again, under the same key, to a fresh local stack (a new object
version, so a new version id in the event) and runs `rekflow analyze`'s pipeline on it. Nothing
of the earlier run is in that stack (no summary record, no claim, no video job), so unlike a
replay on AWS it never stops at "Already recorded".
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from rekflow.commands import EXIT_USAGE, analysis
from rekflow.commands.executions.records import LocalExecutions
from rekflow.commands.inputs import InputFile


def replay_locally(args: argparse.Namespace) -> int:
    err = Console(file=sys.stderr)
    executions = LocalExecutions(args.output)
    record = executions.find(args.name)
    path = Path(record["file"])
    if not path.is_file():
        err.print(
            f"rekflow: {path}, the file {record['name']} analysed, is gone; a local replay uploads it again",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        return EXIT_USAGE
    changed = changed_since(record, path)
    if changed:
        err.print(
            f"rekflow: {path} changed since {record['name']} ran ({changed}): the replay analyses it as it is now",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    before = set(executions.names())
    run = argparse.Namespace(
        output=args.output,
        backend=args.backend or record["backend"],
        video_fps=args.video_fps or record["videoFps"],
        aws_bucket=args.aws_bucket,
        logs=args.logs,
        json=args.json,
        concurrency=1,
        history_data=False,
        replay_of=record["name"],
    )
    code = analysis.analyze_items([InputFile(path, record["key"])], run)
    replayed_as = ", ".join(sorted(set(executions.names()) - before))
    err.print(
        f"rekflow: replayed {record['name']} as {replayed_as}: {record['key']} uploaded again from {path} "
        "(a new object version) to a fresh local stack",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    return code


def changed_since(record: dict[str, Any], path: Path) -> str | None:
    """What differs between the file now and the file the execution uploaded (size, modification time)."""
    stat = path.stat()
    differences = []
    if stat.st_size != record["fileSize"]:
        differences.append(f"{record['fileSize']} -> {stat.st_size} bytes")
    modified = datetime.fromtimestamp(stat.st_mtime, UTC).isoformat()
    if modified != record["fileModified"]:
        differences.append(f"modified {modified}")
    return ", ".join(differences) or None
