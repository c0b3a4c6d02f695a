"""Each execution of a local run, kept beside its results: <output>/executions/<name>.json.

A record holds what `executions`, `history` and `replay` need once the local runtime is gone:
the execution's name, status, dates, error, failing state, its input (the Object Created event)
and the file that was uploaded. The history (GetExecutionHistory's `events`) goes to
<name>.history.json, only for the runs worth reading: FAILED, TIMED_OUT, ABORTED and PARTIAL
ones, or every run with `rekflow analyze --keep-history`. Reading a history costs about half an
execution's CPU again in moto (it serialises every event as a response), so a clean run of a big
folder does not pay it.
"""

from __future__ import annotations

import argparse
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
_HISTORY_SUFFIX = ".history.json"


class ExecutionNotFound(LookupError):
    pass


def history_worth_keeping(result: ExecutionResult) -> bool:
    return result.status in UNSUCCESSFUL or (result.output or {}).get("status") == "PARTIAL"


def keep(args: argparse.Namespace, item: InputFile, event: dict[str, Any], result: ExecutionResult) -> None:
    """Record one execution of `rekflow analyze` (or `rekflow replay`) under args.output.

    Call it before the runtime forgets the execution: the history is read from the runtime.
    """
    history = result.history if args.keep_history or history_worth_keeping(result) else None
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
        failed_state=failing_state(history) if history else None,
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
        "historyKept": history is not None,
    }
    folder = args.output / RECORDS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    if history is not None:
        _write_json(folder / f"{result.name}{_HISTORY_SUFFIX}", {"events": json_events(history)})
    _write_json(folder / f"{result.name}.json", record)


class LocalExecutions:
    """The records of every local run into one results folder."""

    def __init__(self, output: Path) -> None:
        self.output = output
        self.folder = output / RECORDS_FOLDER

    def names(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(
            p.name.removesuffix(".json") for p in self.folder.glob("*.json") if not p.name.endswith(_HISTORY_SUFFIX)
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
        """The kept events of execution `name` (its full name), or None if its history was not kept."""
        path = self.folder / f"{name}{_HISTORY_SUFFIX}"
        return list(json.loads(path.read_text(encoding="utf-8"))["events"]) if path.exists() else None


def _write_json(path: Path, value: Any) -> None:
    """Whole or not at all: a run stopped mid-write leaves no half record for `executions` to trip on."""
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, suffix=".tmp", delete=False) as file:
        json.dump(value, file, ensure_ascii=False, indent=1)
    os.replace(file.name, path)
