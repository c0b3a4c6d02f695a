"""`rekflow analyze PATH...`: run the MediaAnalysis workflow offline on files and folders."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from rekflow.commands import EXIT_OK, EXIT_USAGE, analysis, inputs, results_folder


def register(commands: Any) -> None:
    """Add `analyze` to rekflow's subcommands (`commands` is the parser's add_subparsers() object)."""
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


def analyze(args: argparse.Namespace) -> int:
    # Bound to the stderr of now: while the functions run, sys.stderr routes their writes to their logs.
    err = Console(file=sys.stderr)
    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        err.print(f"[red]rekflow: no such file or folder: {', '.join(missing)}[/red]")
        return EXIT_USAGE
    # A file analysed from one of these folders before and deleted since leaves the results and the index.
    results_folder.forget_deleted_files(args.output, [p for p in args.paths if p.is_dir()], err)
    items = inputs.collect_reported(args.paths, args.output, err, "no files to analyse")
    if not items:
        return EXIT_OK
    return analysis.analyze_items(items, args)
