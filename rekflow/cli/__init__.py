"""rekflow command line: run the MediaAnalysis workflow offline on files and folders.

One module per command, each with a `register(commands)` that adds its parser; the work behind
each command lives in rekflow/commands/, which never imports this package.

rekflow analyze [--json] [--logs] [--backend local|fixture|aws] [--aws-bucket NAME] [--video-fps N]
                [--output DIR] [--concurrency N] PATH...
rekflow samples DIR
"""

from __future__ import annotations

import argparse
import logging
import sys

from rekflow.cli import analyze, backfill, executions, report, samples
from rekflow.local import malloc, timings


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="rekflow", description=(__doc__ or "").splitlines()[0])
    commands = top.add_subparsers(dest="command", required=True)
    analyze.register(commands)
    samples.register(commands)
    report.register(commands)
    backfill.register(commands)
    executions.register(commands)  # after analyze: it adds analyze's --history-data
    return top


def main(argv: list[str] | None = None) -> int:
    timings.mark("cli")
    args = parser().parse_args(argv)
    malloc.limit_arenas()
    # moto logs each failing state with its whole parse tree; the report already names the error.
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    code = int(args.func(args))
    timings.mark("answered")
    return code


if __name__ == "__main__":
    sys.exit(main())
