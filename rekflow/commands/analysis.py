"""What `rekflow analyze` does once its arguments are parsed: find the files, run the workflow on each
in a local runtime, write the documents and print a row per file.

`rekflow replay` and `rekflow backfill FOLDER` run the same pipeline, so it lives here, below the
command-line layer (rekflow/cli/) that parses and dispatches.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from rekflow.commands import EXIT_FAILED, EXIT_OK, EXIT_USAGE, results_folder
from rekflow.commands.executions.records import histories_of_run
from rekflow.commands.executions.records import keep as keep_execution
from rekflow.commands.inputs import InputFile
from rekflow.commands.listing import Column, Listing, print_table
from rekflow.commands.review.folder import LOCAL_PARAMETERS as REVIEW_PARAMETERS
from rekflow.commands.review.folder import keep_pending as keep_pending_review
from rekflow.features import NAMES
from rekflow.local.function_logs import FunctionLogs, function_by_logical_id
from rekflow.local.runtime import ExecutionResult, LocalRuntime, make_backend
from rekflow.media import sources as media_sources
from rekflow.search.index import SearchIndex

# The functions log at the level template.yaml's Globals give them; their logs go to <output>/logs/.
FUNCTION_LOG_LEVEL = "INFO"


def report(item: InputFile, result: ExecutionResult, results_path: Path | None) -> dict[str, Any]:
    """One line of --json output for a file."""
    output = result.output or {}
    reason: str | None
    if result.status != "SUCCEEDED":
        status, reason = "FAILED", result.error or result.status
    else:
        # A partial result (some features failed) still succeeded; its features say which failed.
        status = "SUCCEEDED" if output["status"] == "PARTIAL" else output["status"]
        reason = output.get("reason")
    line: dict[str, Any] = {
        "file": str(item.path),
        "key": item.key,
        "status": status,
        "reason": reason,
        "message": output.get("message") if status != "FAILED" else result.cause,
        "execution": result.name,
        "results": str(results_path) if results_path else None,
        "features": output.get("features", {}),
        "seconds": round(result.seconds, 3),
    }
    if output.get("status") == "PARTIAL":
        line["partial"] = True
    if output.get("needsReview"):
        line["needsReview"] = True
    return line


def analyze_items(items: list[InputFile], args: argparse.Namespace) -> int:
    """Run the workflow on `items` and print the results: `analyze` once it has found the files."""
    err = Console(file=sys.stderr)
    if args.aws_bucket and args.backend != "aws":
        err.print("[red]rekflow: --aws-bucket goes with --backend aws[/red]")
        return EXIT_USAGE
    try:
        backend = make_backend(args.backend, video_frames_per_second=args.video_fps, aws_bucket=args.aws_bucket)
    except Exception as error:
        # Imported here: rekflow.vision.aws brings OpenCV, a tenth of a second of every other backend's start.
        from rekflow.vision.aws import AwsSetupError

        if not isinstance(error, AwsSetupError):
            raise
        err.print(f"[red]rekflow: {error}[/red]")
        return EXIT_USAGE
    args.output.mkdir(parents=True, exist_ok=True)
    index = results_folder.open_index_or_say(args.output, err)  # each document is indexed as it is written
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    # Outermost the progress display: in a terminal it wraps sys.stdout and sys.stderr to print
    # above itself, and the functions' writes must meet the logs' routing first. The logs close
    # after the runtime, which may invoke a function from a poller until it stops.
    with (
        Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as progress,
        FunctionLogs(args.output / "logs", _echo_to(err) if args.logs else None) as logs,
        LocalRuntime(backend, parameter_overrides=REVIEW_PARAMETERS, log_level=FUNCTION_LOG_LEVEL) as runtime,
    ):
        logs.attach(function_by_logical_id(runtime))
        with histories_of_run(args):  # the run's histories in one file (records.py says why)
            finished = _run_all(runtime, items, args, progress, index)
    if index is not None:
        index.close()
    lines = [line for line, _ in finished]
    # `rekflow report` finds the file behind each document through this index.
    media_sources.record(args.output, ((line["key"], Path(line["file"])) for line in lines))
    if args.json:
        for line in lines:
            print(json.dumps(line, ensure_ascii=False))
    else:
        _print_table(finished, args.output)
    return EXIT_FAILED if any(line["status"] == "FAILED" for line in lines) else EXIT_OK


# (report line, the table's cells of findings): a folder's documents are on disk, not held here.
Finished = tuple[dict[str, Any], list[str]]


def _echo_to(err: Console) -> Callable[[str, str], None]:
    def echo(logical_id: str, line: str) -> None:
        err.out(f"[{logical_id}] {line}", highlight=False)

    return echo


def _run_all(
    runtime: LocalRuntime,
    items: list[InputFile],
    args: argparse.Namespace,
    progress: Progress,
    index: SearchIndex | None,
) -> list[Finished]:
    def one(item: InputFile) -> Finished:
        upload = runtime.upload(item.path.read_bytes(), item.key)
        event = runtime.object_created_event(upload)
        try:
            result = runtime.run(event)
            keep_execution(args, item, event, result)  # for `rekflow executions`, `history`, `replay`
            runtime.forget_execution(result.arn)  # the local Step Functions would keep it, ~1 MB each
            results_path, document = None, None
            if result.output and result.output.get("resultsKey"):
                results_path, document = results_folder.write_results(
                    runtime, args.output, item.key, result.output["resultsKey"], index
                )
            if results_path and result.output and result.output.get("needsReview"):
                # Its review waits for a decision (it holds the object version first): kept in the folder for
                # `rekflow review` (commands/review/folder.py).
                keep_pending_review(runtime, args.output, result.output["assetId"], results_path)
        finally:
            # The local S3 keeps objects in memory; the file is on disk, so the copy can go.
            runtime.delete_upload(upload)
        line = report(item, result, results_path)
        if document and "proxy" in document:  # analysed through an analysable copy: say which and how it was made
            proxy = document["proxy"]
            line["proxy"] = {"key": proxy["key"], "format": proxy["format"], "by": proxy["conversion"]["by"]}
        return line, _findings(document)

    task = progress.add_task("analysing", total=len(items))
    with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
        finished = []
        for done in pool.map(one, items):
            finished.append(done)
            progress.advance(task)
    return finished


def _print_table(finished: list[Finished], output: Path) -> None:
    # A reason code (NOT_MEDIA, TOO_MANY_PIXELS) is read whole or not at all: the status column never folds.
    columns = (
        Column("file", whole=False),
        Column("status", whole=True),
        *(Column(name, whole=False) for name in NAMES),
    )
    rows = []
    for line, findings in finished:
        status = line["status"] + (" (partial)" if line.get("partial") else "")
        if line["reason"]:
            status += f"\n{line['reason']}"
        if line.get("proxy"):
            status += f"\nvia {line['proxy']['format']} copy"
        if line.get("needsReview"):
            status += "\nwaits for review"
        rows.append((line["key"], status, *findings))
    print_table(Listing("rekflow analyze", columns, rows, lines_between_rows=True))
    print(f"Full results: {output}/")
    print(f"Lambda functions' logs: {output / 'logs'}/")
    waiting = sum(1 for line, _ in finished if line.get("needsReview"))
    if waiting:
        print(
            f"{waiting} upload(s) flagged and held, waiting for review: rekflow review list --output {output} "
            f"(or rekflow serve --output {output}, then /review)"
        )


def _findings(document: dict[str, Any] | None) -> list[str]:
    """What each feature found, in a few words per cell."""
    features = (document or {}).get("features", {})

    def cell(name: str, describe: Any) -> str:
        result = features.get(name)
        if not result:
            return ""
        status: str = result["status"]
        if status != "SUCCEEDED":
            return status + (f"\n{result.get('error', '')}" if result["status"] == "FAILED" else "")
        return str(describe(result)) or "-"

    def text_lines(r: dict[str, Any]) -> str:
        lines = r["lines"] if "lines" in r else [d["DetectedText"] for d in r["detections"] if d["Type"] == "LINE"]
        return " / ".join(lines)[:80]

    def faces(r: dict[str, Any]) -> str:
        if "framesWithFaces" in r:  # a video: faces are counted per analysed frame
            return f"{r['count']} face(s) in {r['framesWithFaces']} frame(s)" if r["count"] else "none"
        return f"{len(r['faces'])} face(s)" if r["faces"] else "none"

    def shots(r: dict[str, Any]) -> str:
        starts = ", ".join(s["Start"] for s in r["shots"][:8])
        cues = [f"{c['CueType']} {c['Start']}-{c['End']}" for c in r["technicalCues"][:3]]
        return "\n".join([f"{r['shotCount']} shot(s) from {starts}", *cues])

    describe = {
        "labels": lambda r: ", ".join(f"{x['Name']} {x['Confidence']:.0f}%" for x in r["labels"][:5]),
        "moderation": lambda r: (
            ", ".join(f"{x['Name']} {x['Confidence']:.0f}%" for x in r["labels"][:3]) or "nothing flagged"
        ),
        "text": text_lines,
        "faces": faces,
        "segments": shots,
    }
    return [cell(name, describe[name]) for name in NAMES]
