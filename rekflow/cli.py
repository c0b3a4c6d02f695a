"""rekflow command line: run the MediaAnalysis workflow offline on files and folders.

rekflow analyze [--json] [--logs] [--backend local|fixture|aws] [--aws-bucket NAME] [--video-fps N]
                [--output DIR] [--concurrency N] PATH...
rekflow samples DIR
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from rekflow import malloc, media_sources
from rekflow.backfill_command import register as register_backfill
from rekflow.executions import keep as keep_execution
from rekflow.executions import register as register_executions
from rekflow.features import NAMES
from rekflow.local.function_logs import FunctionLogs, function_by_logical_id
from rekflow.local.runtime import ExecutionResult, LocalRuntime, make_backend
from rekflow.report import register as register_report
from rekflow.samples import write_samples
from rekflow.vision.aws import AwsSetupError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
# The functions log at the level template.yaml's Globals give them; their logs go to <output>/logs/.
FUNCTION_LOG_LEVEL = "INFO"


@dataclass(frozen=True)
class InputFile:
    path: Path
    key: str  # the object key it is uploaded under: its path relative to the folder given


@dataclass
class Skipped:
    """What a folder held that is not analysed."""

    results: int = 0  # files in the results folder (--output): an earlier run's documents and logs
    hidden: dict[str, int] = field(default_factory=dict)  # a hidden file or folder: the files in it

    def describe(self, output: Path) -> str | None:
        """One line for stderr, or None when nothing was skipped."""
        parts = []
        if self.results:
            parts.append(f"{self.results} file(s) in the results folder {output}/")
        if self.hidden:
            names = sorted(self.hidden)
            shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
            parts.append(f"{sum(self.hidden.values())} hidden file(s) ({shown})")
        return f"rekflow: skipped {' and '.join(parts)}" if parts else None


def collect(paths: list[Path], output: Path | None = None) -> tuple[list[InputFile], Skipped]:
    """Every file under the given files and folders, in a stable order. In a folder, the results
    folder `output` and hidden files and folders (a name starting with '.') are skipped; a file
    named on the command line is always analysed."""
    found: list[InputFile] = []
    skipped = Skipped()
    results_folder = output.resolve() if output is not None else None
    for root in paths:
        if root.is_file():
            found.append(InputFile(root, root.name))
            continue
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            relative = path.relative_to(root)
            if results_folder is not None and path.resolve().is_relative_to(results_folder):
                skipped.results += 1
                continue
            hidden = next((i for i, part in enumerate(relative.parts) if part.startswith(".")), None)
            if hidden is not None:
                # Named by the hidden entry itself: a folder's files count once, under "photos/.thumbs/".
                name = "/".join(relative.parts[: hidden + 1]) + ("/" if hidden < len(relative.parts) - 1 else "")
                skipped.hidden[name] = skipped.hidden.get(name, 0) + 1
                continue
            found.append(InputFile(path, relative.as_posix()))
    return found, skipped


def collect_reported(paths: list[Path], output: Path, err: Console, nothing: str) -> list[InputFile]:
    """collect(), saying on `err` what was skipped, and `nothing` when no file is left."""
    items, skipped = collect(paths, output)
    said = skipped.describe(output)
    if said:
        err.print(said, markup=False, highlight=False, soft_wrap=True)
    if not items:
        err.print(f"[yellow]rekflow: {nothing}[/yellow]")
    return items


def report(item: InputFile, result: ExecutionResult, results_path: Path | None) -> dict[str, Any]:
    """One line of --json output for a file."""
    output = result.output or {}
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
    return line


def analyze(args: argparse.Namespace) -> int:
    # Bound to the stderr of now: while the functions run, sys.stderr routes their writes to their logs.
    err = Console(file=sys.stderr)
    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        err.print(f"[red]rekflow: no such file or folder: {', '.join(missing)}[/red]")
        return EXIT_USAGE
    items = collect_reported(args.paths, args.output, err, "no files to analyse")
    if not items:
        return EXIT_OK
    return analyze_items(items, args)


def analyze_items(items: list[InputFile], args: argparse.Namespace) -> int:
    """Run the workflow on `items` and print the results: `analyze` once it has found the files."""
    err = Console(file=sys.stderr)
    if args.aws_bucket and args.backend != "aws":
        err.print("[red]rekflow: --aws-bucket goes with --backend aws[/red]")
        return EXIT_USAGE
    try:
        backend = make_backend(args.backend, video_frames_per_second=args.video_fps, aws_bucket=args.aws_bucket)
    except AwsSetupError as error:
        err.print(f"[red]rekflow: {error}[/red]")
        return EXIT_USAGE
    args.output.mkdir(parents=True, exist_ok=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    # Outermost the progress display: in a terminal it wraps sys.stdout and sys.stderr to print
    # above itself, and the functions' writes must meet the logs' routing first. The logs close
    # after the runtime, which may invoke a function from a poller until it stops.
    with (
        Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as progress,
        FunctionLogs(args.output / "logs", _echo_to(err) if args.logs else None) as logs,
        LocalRuntime(backend, log_level=FUNCTION_LOG_LEVEL) as runtime,
    ):
        logs.attach(function_by_logical_id(runtime))
        finished = _run_all(runtime, items, args, progress)
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
    runtime: LocalRuntime, items: list[InputFile], args: argparse.Namespace, progress: Progress
) -> list[Finished]:
    def one(item: InputFile) -> Finished:
        upload = runtime.upload(item.path.read_bytes(), item.key)
        event = runtime.object_created_event(upload)
        try:
            result = runtime.run(event)
        finally:
            # The local S3 keeps objects in memory; the file is on disk, so the copy can go.
            runtime.delete_upload(upload)
        keep_execution(args, item, event, result)  # for `rekflow executions`, `history`, `replay`
        runtime.forget_execution(result.arn)  # the local Step Functions would keep it, ~1 MB each
        results_path, document = None, None
        if result.output and result.output.get("resultsKey"):
            results_path = args.output / f"{item.key}.json"
            results_path.parent.mkdir(parents=True, exist_ok=True)
            document = runtime.results_document(result.output["resultsKey"])
            results_path.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")
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
    table = Table(title="rekflow analyze", show_lines=True)
    for column in ("file", "status", *NAMES):
        # A reason code (NOT_MEDIA, TOO_MANY_PIXELS) is read whole or not at all: never folded.
        table.add_column(column, overflow="fold", no_wrap=column == "status")
    for line, findings in finished:
        status = line["status"] + (" (partial)" if line.get("partial") else "")
        if line["reason"]:
            status += f"\n{line['reason']}"
        if line.get("proxy"):
            status += f"\nvia {line['proxy']['format']} copy"
        table.add_row(line["key"], status, *findings)
    Console().print(table)
    Console().print(f"Full results: {output}/")
    Console().print(f"Lambda functions' logs: {output / 'logs'}/")


def _findings(document: dict[str, Any] | None) -> list[str]:
    """What each feature found, in a few words per cell."""
    features = (document or {}).get("features", {})

    def cell(name: str, describe: Any) -> str:
        result = features.get(name)
        if not result:
            return ""
        if result["status"] != "SUCCEEDED":
            return result["status"] + (f"\n{result.get('error', '')}" if result["status"] == "FAILED" else "")
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


def samples(args: argparse.Namespace) -> int:
    for path in write_samples(args.folder):
        print(path)
    return EXIT_OK


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="rekflow", description=__doc__.splitlines()[0])
    commands = top.add_subparsers(dest="command", required=True)
    run = commands.add_parser("analyze", help="run the MediaAnalysis workflow offline on files and folders")
    run.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    run.add_argument("--json", action="store_true", help="print one JSON object per file instead of a table")
    run.add_argument(
        "--backend",
        choices=["local", "fixture", "aws"],
        default="local",
        help="local: real open-source models (default); fixture: canned answers, instant; "
        "aws: Amazon Rekognition with your AWS credentials (billed to your account)",
    )
    run.add_argument(
        "--aws-bucket",
        metavar="NAME",
        help="with --backend aws: an S3 bucket of yours that videos and images over 5 MB are "
        "copied to for Rekognition (under rekflow-staging/, deleted when analysed)",
    )
    run.add_argument(
        "--video-fps", type=float, default=1.0, help="frames per second of video the local models look at (default 1)"
    )
    run.add_argument("--output", type=Path, default=Path("rekflow-results"), help="folder for the full results")
    run.add_argument("--concurrency", type=int, default=4, help="executions run at once (default 4)")
    run.add_argument(
        "--logs",
        action="store_true",
        help="also show the Lambda functions' logs on stderr (always written to OUTPUT/logs/)",
    )
    run.set_defaults(func=analyze)
    make = commands.add_parser("samples", help="write the bundled sample media into a folder")
    make.add_argument("folder", type=Path)
    make.set_defaults(func=samples)
    register_report(commands)
    register_backfill(commands)
    register_executions(commands)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    malloc.limit_arenas()
    # moto logs each failing state with its whole parse tree; the report already names the error.
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
