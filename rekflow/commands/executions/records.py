"""Each execution of a local run, kept beside its results: <output>/executions/<name>.json.

A record holds what `executions`, `history` and `replay` need once the local runtime is gone:
the execution's name, status, dates, error, failing state, its input (the Object Created event)
and the file that was uploaded. Every execution's history (GetExecutionHistory's `events`) is kept
too, as on AWS, where a Standard execution keeps its history for 90 days
(https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html). A clean run's history
leaves out the events' input and output, as GetExecutionHistory does with includeExecutionData
false: what the run produced is its results document, and the data is most of what a history
weighs. An unsuccessful or partial run keeps them (they show what each state was given), and so
does every run with `rekflow analyze --history-data`.

The histories of one run go to one file, executions/histories-<run>.jsonl.gz: a line of compact
JSON per execution, as it ends, in one gzip stream. Two executions of one workflow share most of
their text, and deflate's 32 KB window reaches back into the previous line, so a clean image's
history costs about 1 to 1.5 KB there against 3.4 to 3.9 KB in a gzip file of its own (and a file of
its own takes a 4 KB block). Every 32 lines the stream starts a block that inflates on its own, and
the record keeps its block's offset, so reading a history inflates at most 32 of them, however long
the run. What it all costs per 1,000 photos: `python -m rekflow.bench history 1000`
(docs/guides/operate.md quotes it).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import tempfile
import threading
import uuid
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from rekflow.commands.executions.history import Event, failing_state, json_events
from rekflow.commands.executions.summary import UNSUCCESSFUL, ExecutionSummary, iso, outcome_of

if TYPE_CHECKING:
    from rekflow.commands.inputs import InputFile
    from rekflow.local.runtime import ExecutionResult

RECORDS_FOLDER = "executions"
HISTORIES_GLOB = "histories-*.jsonl.gz"
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
    log: HistoryLog | None = getattr(args, "history_log", None)
    with contextlib.nullcontext(log) if log is not None else HistoryLog(folder) as histories:
        record["historyFile"], record["historyAt"] = keep_history(histories, result, with_data)
    _write_whole(folder / f"{result.name}.json", json.dumps(record, ensure_ascii=False, indent=1).encode())


def keep_history(log: HistoryLog, result: ExecutionResult, with_data: bool) -> tuple[str, int]:
    """Add the execution's events to the run's history file, with their inputs and outputs or without; where."""
    events = json_events(result.history)
    if not with_data:
        events = [without_execution_data(event) for event in events]
    return log.write(result.name, events)


# Where reading may begin: a full flush every this many lines empties deflate's window, so a history is
# read from its block's start (at most this many lines) instead of the file's. It costs the block's first
# line its context: about 2 KB a block, 2 % of a run's histories.
LINES_PER_BLOCK = 32


class HistoryLog:
    """One run's histories: executions/histories-<run>.jsonl.gz, a gzip stream of one JSON line per execution
    ({"name": ..., "events": [...]}), written as each execution ends. Each line is flushed with Z_SYNC_FLUSH,
    which keeps deflate's window (the next line still compresses against this one) and leaves every line
    written so far readable if the run is stopped before close() ends the stream; every LINES_PER_BLOCK
    lines a Z_FULL_FLUSH starts a block that can be read on its own."""

    def __init__(self, folder: Path) -> None:
        # A name no other run takes, even one started into the same folder in the same second (by this
        # process, too: and "xb" below refuses to write over a file, should one have it all the same).
        started = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        self.path = folder / f"histories-{started}-{uuid.uuid4().hex[:12]}.jsonl.gz"
        self._raw: BinaryIO | None = None
        self._file: gzip.GzipFile | None = None
        self._lines = 0
        self._block_at = 0  # 0: the first block, read with the gzip header; else a raw deflate offset
        self._lock = threading.Lock()

    def write(self, name: str, events: list[Event]) -> tuple[str, int]:
        """Add a history; (the file's name, the offset its block starts at) for the execution's record."""
        line = json.dumps({"name": name, "events": events}, ensure_ascii=False, separators=(",", ":")) + "\n"
        with self._lock:
            if self._raw is None or self._file is None:
                self._raw = open(self.path, "xb")  # noqa: SIM115 - closed by close(), after the gzip stream
                # gzip's level 6: 2 % larger than level 9 for 60 % of its CPU.
                self._file = gzip.GzipFile(fileobj=self._raw, mode="wb", compresslevel=6, mtime=0)
            elif self._lines % LINES_PER_BLOCK == 0:
                self._file.flush(zlib.Z_FULL_FLUSH)
                self._block_at = self._raw.tell()
            self._file.write(line.encode())
            self._file.flush()  # zlib.Z_SYNC_FLUSH, and the file's own buffer
            self._lines += 1
            return self.path.name, self._block_at

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
            if self._raw is not None:
                self._raw.close()

    def __enter__(self) -> HistoryLog:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


@contextlib.contextmanager
def histories_of_run(args: argparse.Namespace) -> Iterator[None]:
    """While a run of `rekflow analyze` lasts, keep() adds every history to one file of the run's."""
    folder = args.output / RECORDS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    with HistoryLog(folder) as args.history_log:
        try:
            yield
        finally:
            del args.history_log


def _read_histories(path: Path, at: int) -> Iterator[bytes]:
    """The lines of a history file from the block at `at`, one per execution, read as far as they are asked
    for; a file still being written (or cut short when its run was stopped) up to its last flushed line."""
    # From the file's start, with gzip's header and trailer; from a block's, raw deflate (the gzip trailer
    # follows the stream's end, where decompression stops).
    stream = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS if at == 0 else -zlib.MAX_WBITS)
    pending = b""
    with open(path, "rb") as file:
        file.seek(at)
        while not stream.eof and (chunk := file.read(1 << 16)):
            *lines, pending = (pending + stream.decompress(chunk)).split(b"\n")
            yield from lines


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
        (a record written before every history was) or its history file is gone."""
        record = self._read(name) or {}
        if record.get("historyFile"):
            path = self.folder / record["historyFile"]
            starts = json.dumps({"name": name}, ensure_ascii=False, separators=(",", ":"))[:-1].encode() + b","
            lines = _read_histories(path, record.get("historyAt", 0)) if path.is_file() else iter(())
            found = next((line for line in lines if line.startswith(starts)), None)
            return list(json.loads(found)["events"]) if found is not None else None
        legacy = self.folder / f"{name}{_LEGACY_HISTORY_SUFFIX}"
        return list(json.loads(legacy.read_text(encoding="utf-8"))["events"]) if legacy.exists() else None


def _write_whole(path: Path, content: bytes) -> None:
    """Whole or not at all: a run stopped mid-write leaves no half record for `executions` to trip on."""
    with tempfile.NamedTemporaryFile("wb", dir=path.parent, suffix=".tmp", delete=False) as file:
        file.write(content)
    os.replace(file.name, path)
