"""Each execution of a local run, kept beside its results: <output>/executions/<name>.json.

A record holds what `executions`, `history` and `replay` need once the local runtime is gone:
the execution's name, status, dates, error, failing state, its input (the Object Created event)
and the file that was uploaded. Every execution's history (GetExecutionHistory's `events`) goes
to <name>.history.json.gz, as on AWS, where a Standard execution keeps its history for 90 days:
compact JSON, gzipped, written once when the execution has ended. A clean run's history leaves out
the events' input and output, as GetExecutionHistory does with includeExecutionData false: what
the run produced is its results document, and the data is most of what a history weighs. An
unsuccessful or partial run keeps them (they show what each state was given), and so does every run
with `rekflow analyze --history-data`. What this costs per 1,000 photos: `python -m rekflow.bench
history 1000` (docs/guides/operate.md quotes it).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rekflow.commands.executions.history import Event, failing_state, json_events
from rekflow.commands.executions.summary import UNSUCCESSFUL, ExecutionSummary, iso, outcome_of

if TYPE_CHECKING:
    from rekflow.commands.inputs import InputFile
    from rekflow.local.runtime import ExecutionResult

RECORDS_FOLDER = "executions"
HISTORY_SUFFIX = ".history.json.gz"
# Before every history was kept, the few that were went uncompressed to <name>.history.json: still read.
_LEGACY_HISTORY_SUFFIX = ".history.json"
# An event's execution data: what GetExecutionHistory leaves out with includeExecutionData false
# (https://docs.aws.amazon.com/step-functions/latest/apireference/API_GetExecutionHistory.html); botocore's
# model has every one optional, so an event without them is still a valid event.
_EXECUTION_DATA = frozenset({"input", "inputDetails", "output", "outputDetails"})


class ExecutionNotFound(LookupError):
    pass


def data_worth_keeping(result: ExecutionResult) -> bool:
    """An unsuccessful or partial run: the states' inputs and outputs are what explain it."""
    return result.status in UNSUCCESSFUL or (result.output or {}).get("status") == "PARTIAL"


def without_execution_data(event: Event) -> Event:
    """The event as GetExecutionHistory gives it with includeExecutionData false."""
    return {
        key: {k: v for k, v in value.items() if k not in _EXECUTION_DATA} if key.endswith("EventDetails") else value
        for key, value in event.items()
    }


def keep(args: argparse.Namespace, item: InputFile, event: dict[str, Any], result: ExecutionResult) -> None:
    """Record one execution of `rekflow analyze` (or `rekflow replay`) under args.output.

    Call it before the runtime forgets the execution: the history is read from the runtime.
    """
    with_data = args.history_data or data_worth_keeping(result)
    outcome, reason = outcome_of(result.output)
    stat = item.path.stat()
    assert result.start_date is not None  # the runtime reads it from DescribeExecution, which always has it
    summary = ExecutionSummary(
        name=result.name,
        execution_arn=result.arn,
        status=result.status,
        start_date=iso(result.start_date),
        stop_date=iso(result.stop_date),
        key=item.key,
        outcome=outcome,
        reason=reason,
        # Only an unsuccessful execution has a failing state: a clean one's record needs no history.
        failed_state=failing_state(result.history) if result.status in UNSUCCESSFUL else None,
        error=result.error,
        cause=result.cause,
        replay_of=args.replay_of,
    )
    record = {
        **summary.as_json(),
        "input": event,
        # What a local replay uploads again, and how to tell whether it changed since.
        "file": str(item.path.resolve()),
        "fileSize": stat.st_size,
        "fileModified": datetime.fromtimestamp(stat.st_mtime, UTC).isoformat(),
        "backend": args.backend,
        "videoFps": args.video_fps,
        "historyKept": True,
        "historyData": with_data,
    }
    folder = args.output / RECORDS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    keep_history(folder, result, with_data)
    _write_whole(folder / f"{result.name}.json", json.dumps(record, ensure_ascii=False, indent=1).encode())


def keep_history(folder: Path, result: ExecutionResult, with_data: bool) -> None:
    """Write the execution's events to folder/<name>.history.json.gz, with their inputs and outputs or without."""
    events = json_events(result.history)
    if not with_data:
        events = [without_execution_data(event) for event in events]
    compact = json.dumps({"events": events}, ensure_ascii=False, separators=(",", ":")).encode()
    # gzip's level 6: 2 % larger than level 9 for 60 % of its CPU (about 1 ms for an image's 58 events).
    _write_whole(folder / f"{result.name}{HISTORY_SUFFIX}", gzip.compress(compact, compresslevel=6, mtime=0))


class LocalExecutions:
    """The records of every local run into one results folder."""

    def __init__(self, output: Path) -> None:
        self.output = output
        self.folder = output / RECORDS_FOLDER

    def names(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(
            p.name.removesuffix(".json")
            for p in self.folder.glob("*.json")
            if not p.name.endswith(_LEGACY_HISTORY_SUFFIX)
        )

    def find(self, name: str) -> dict[str, Any]:
        """The record of execution `name`, or of the one execution whose name starts with it."""
        names = self.names()
        matches = [name] if name in names else [n for n in names if n.startswith(name)]
        if len(matches) != 1:
            if not names:
                raise ExecutionNotFound(
                    f"no executions recorded in {self.folder}/: run `rekflow analyze --output {self.output}` first"
                )
            what = "matches several executions" if matches else "matches no execution"
            raise ExecutionNotFound(
                f"{name!r} {what} in {self.folder}/ (`rekflow executions --output {self.output}` lists them)"
            )
        record = self._read(matches[0])
        if record is None:
            raise ExecutionNotFound(f"{self.folder / matches[0]}.json is not an execution record")
        return record

    def summaries(self, status: str | None = None) -> list[ExecutionSummary]:
        """Newest first, as ListExecutions orders them."""
        found = []
        for name in self.names():
            record = self._read(name)
            if record is not None and (status is None or record["status"] == status):
                found.append(ExecutionSummary.from_json(record))
        return sorted(found, key=lambda s: s.start_date, reverse=True)

    def _read(self, name: str) -> dict[str, Any] | None:
        """The record, or None for another file: the results document of an object whose key starts
        with executions/ lands in this folder too."""
        record = json.loads((self.folder / f"{name}.json").read_text(encoding="utf-8"))
        is_record = isinstance(record, dict) and {"executionArn", "input", "status"} <= record.keys()
        return dict(record) if is_record else None

    def history(self, name: str) -> list[Event] | None:
        """The kept events of execution `name` (its full name), or None if its history was not kept
        (a record written before every history was)."""
        path = self.folder / f"{name}{HISTORY_SUFFIX}"
        if path.exists():
            return list(json.loads(gzip.decompress(path.read_bytes()))["events"])
        legacy = self.folder / f"{name}{_LEGACY_HISTORY_SUFFIX}"
        return list(json.loads(legacy.read_text(encoding="utf-8"))["events"]) if legacy.exists() else None


def _write_whole(path: Path, content: bytes) -> None:
    """Whole or not at all: a run stopped mid-write leaves no half record for `executions` to trip on."""
    with tempfile.NamedTemporaryFile("wb", dir=path.parent, suffix=".tmp", delete=False) as file:
        file.write(content)
    os.replace(file.name, path)
