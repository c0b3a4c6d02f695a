"""`rekflow backfill`: analyse what is already stored, with the BackfillStateMachine of template.yaml.

    rekflow backfill FOLDER [--output DIR] [--backend local|fixture|aws] [--rekognition-tps N] [--json]
    rekflow backfill s3://BUCKET/PREFIX --stack NAME [--json]

A FOLDER runs offline: its files go into the local runtime's media bucket (keyed by their path in the folder,
as `rekflow analyze` keys them, and starting nothing: a bucket's own uploads would start MediaAnalysis), then
the backfill state machine runs on the local runtime and the documents land in --output. An s3:// prefix runs
the deployed stack's backfill, with your AWS credentials, and reports its progress until it ends.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from rekflow.commands import results_folder
from rekflow.commands.backfill import BACKFILL_STATE_MACHINE, BackfillReport, Progress, follow, run_local, start

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DEFAULT_OUTPUT = Path("rekflow-results")
LISTED_PROBLEMS = 20  # rejected and failed objects named under the table; --json lists every object


def register(commands: Any) -> None:
    """Add `backfill` to rekflow's subcommands (`commands` is the parser's add_subparsers() object)."""
    backfill = commands.add_parser("backfill", help="analyse the objects already stored under a prefix, once each")
    backfill.add_argument(
        "source",
        metavar="FOLDER|s3://BUCKET/PREFIX",
        help="a folder (run offline) or a prefix of a deployed stack's media bucket",
    )
    backfill.add_argument("--stack", metavar="NAME", help="with s3://: the deployed stack whose backfill runs")
    backfill.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help="with a FOLDER: folder for the full results (default rekflow-results)",
    )
    backfill.add_argument(
        "--backend",
        choices=["local", "fixture", "aws"],
        default="local",
        help="with a FOLDER: the vision backend, as for rekflow analyze (default local)",
    )
    backfill.add_argument(
        "--rekognition-tps",
        type=int,
        metavar="N",
        help="with a FOLDER: template.yaml's RekognitionTps, the analyses run at once",
    )
    backfill.add_argument("--json", action="store_true", help="print one JSON object per object instead of a table")
    backfill.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    err = Console(file=sys.stderr, soft_wrap=True)  # whole lines: names and ARNs stay greppable
    if args.source.startswith("s3://"):
        if args.stack is None:
            err.print("[red]rekflow: a backfill of s3://… needs --stack NAME (the deployed stack)[/red]")
            return EXIT_USAGE
        if args.rekognition_tps is not None or args.output != DEFAULT_OUTPUT or args.backend != "local":
            err.print(
                "[red]rekflow: --output, --backend and --rekognition-tps go with a FOLDER; a deployed "
                "backfill uses the stack's settings[/red]"
            )
            return EXIT_USAGE
        try:
            report = _run_deployed(args.source, args.stack, err)
        except DeployedStackError as error:
            err.print(f"[red]rekflow: {error}[/red]", highlight=False)
            return EXIT_USAGE
        return _report(report, args, err, documents=None)
    if args.stack is not None:
        err.print("[red]rekflow: --stack goes with an s3:// prefix; a FOLDER runs offline[/red]")
        return EXIT_USAGE
    folder = Path(args.source)
    if not folder.is_dir():
        err.print(f"[red]rekflow: no such folder: {folder}[/red]")
        return EXIT_USAGE
    return _run_folder(folder, args, err)


def _run_folder(folder: Path, args: argparse.Namespace, err: Console) -> int:
    from rekflow.commands import analysis, inputs
    from rekflow.local.function_logs import FunctionLogs, function_by_logical_id
    from rekflow.local.runtime import LocalRuntime, make_backend
    from rekflow.vision.aws import AwsSetupError

    items = inputs.collect_reported([folder], args.output, err, "no files to backfill")
    if not items:
        return EXIT_OK
    try:
        backend = make_backend(args.backend)
    except AwsSetupError as error:
        err.print(f"[red]rekflow: {error}[/red]")
        return EXIT_USAGE
    overrides = {"RekognitionTps": str(args.rekognition_tps)} if args.rekognition_tps is not None else {}
    args.output.mkdir(parents=True, exist_ok=True)
    with (
        FunctionLogs(args.output / "logs") as logs,
        LocalRuntime(backend, parameter_overrides=overrides, log_level=analysis.FUNCTION_LOG_LEVEL) as runtime,
    ):
        logs.attach(function_by_logical_id(runtime))
        for item in items:
            runtime.upload(item.path.read_bytes(), item.key)
        err.print(f"rekflow: backfilling {len(items)} object(s) on the local runtime", highlight=False)
        report = run_local(runtime, "", _say_progress(err))
        documents = _write_documents(report, runtime, args.output, err)
    return _report(report, args, err, documents)


class DeployedStackError(Exception):
    """The stack, its resources or the caller's AWS setup do not allow this backfill."""


def _run_deployed(source: str, stack: str, err: Console) -> BackfillReport:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, _, prefix = source.removeprefix("s3://").partition("/")

    def physical_id(logical_id: str) -> str:
        try:
            detail = boto3.client("cloudformation").describe_stack_resource(
                StackName=stack, LogicalResourceId=logical_id
            )
        except (BotoCoreError, ClientError) as error:
            raise DeployedStackError(f"cannot find {logical_id} of stack {stack}: {error}") from error
        return str(detail["StackResourceDetail"]["PhysicalResourceId"])

    media_bucket = physical_id("MediaBucket")
    if bucket != media_bucket:
        # The backfill may list and read the stack's media bucket only (its role, template.yaml).
        raise DeployedStackError(f"{bucket} is not the media bucket of stack {stack} (that is {media_bucket})")
    sfn = boto3.client("stepfunctions")
    execution_arn = start(sfn, physical_id(BACKFILL_STATE_MACHINE), prefix)
    err.print(f"rekflow: backfill started: {execution_arn}", highlight=False)
    return follow(sfn, boto3.client("s3"), execution_arn, _say_progress(err))


def _say_progress(err: Console) -> Any:
    def say(progress: Progress) -> None:
        err.print(
            f"rekflow: {progress.succeeded + progress.failed}/{progress.total} object(s) done, "
            f"{progress.failed} failed, {progress.running} running",
            highlight=False,
        )

    return say


def _write_documents(report: BackfillReport, runtime: Any, output: Path, err: Console) -> dict[str, Path]:
    """Each analysed object's results document, at OUTPUT/<key>.json as `rekflow analyze` writes it, indexed."""
    written = {}
    index = results_folder.open_index_or_say(output, err)
    try:
        for result in report.objects:
            if result.results_key and result.outcome != "already analysed":
                path, _ = results_folder.write_results(runtime, output, result.key, result.results_key, index)
                written[result.key] = path
    finally:
        if index is not None:
            index.close()
    return written


def _report(report: BackfillReport, args: argparse.Namespace, err: Console, documents: dict[str, Path] | None) -> int:
    if args.json:
        for result in report.objects:
            line = {
                "key": result.key,
                "outcome": result.outcome,
                "status": result.status,
                "reason": result.reason,
                "execution": result.execution,
                "error": result.error,
                "cause": result.cause,
            }
            if documents is not None:
                line["results"] = str(documents[result.key]) if result.key in documents else None
            print(json.dumps(line, ensure_ascii=False))
    else:
        _print_summary(report, args.output if documents is not None else None)
    if report.status != "SUCCEEDED":
        err.print(
            f"[red]rekflow: the backfill ended {report.status}: {report.error}: {report.cause}[/red]", highlight=False
        )
    return EXIT_OK if report.succeeded else EXIT_FAILED


def _print_summary(report: BackfillReport, output: Path | None) -> None:
    console = Console(soft_wrap=True)  # an ARN or an S3 location stays on one line, to copy
    table = Table(title="rekflow backfill")
    table.add_column("outcome")
    table.add_column("objects", justify="right")
    for outcome, count in report.counts().items():
        table.add_row(outcome, str(count))
    console.print(table)
    problems = [r for r in report.objects if r.outcome in ("rejected", "failed")]
    for result in problems[:LISTED_PROBLEMS]:
        why = result.reason if result.outcome == "rejected" else f"{result.error} (execution {result.execution})"
        console.print(f"  {result.outcome}: {result.key}: {why}", highlight=False, markup=False)
    if len(problems) > LISTED_PROBLEMS:
        console.print(f"  and {len(problems) - LISTED_PROBLEMS} more (--json lists every object)")
    console.print(f"Backfill execution: {report.execution_arn}", highlight=False)
    if report.manifest:
        console.print(f"Map Run results: {report.manifest}", highlight=False)
    if output is not None:
        console.print(f"Full results: {output}/", highlight=False)
