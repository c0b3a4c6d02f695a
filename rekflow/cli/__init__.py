"""rekflow command line: run the MediaAnalysis workflow offline on files and folders.

One module per command, each with a `register(commands)` that adds its parser; the work behind
each command lives in rekflow/commands/, which never imports this package.

rekflow analyze [--json] [--logs] [--backend local|fixture|aws] [--aws-bucket NAME] [--video-fps N]
                [--output DIR] [--concurrency N] PATH...
rekflow samples DIR
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import logging
import os
import sys
from typing import NoReturn

from rekflow.cli import analyze, backfill, executions, report, review, samples, search, serve
from rekflow.local import malloc, timings


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="rekflow", description=(__doc__ or "").splitlines()[0])
    commands = top.add_subparsers(dest="command", required=True)
    analyze.register(commands)
    samples.register(commands)
    report.register(commands)
    backfill.register(commands)
    executions.register(commands)  # after analyze: it adds analyze's --history-data
    search.register(commands)
    review.register(commands)
    serve.register(commands)
    return top


def main(argv: list[str] | None = None) -> int:
    timings.mark("cli")
    args = parser().parse_args(argv)
    malloc.limit_arenas()
    # moto logs each failing state with its whole parse tree; the report already names the error.
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    code = int(args.func(args))
    timings.mark("answered")
    if argv is None:  # the command line itself (`rekflow ...`), not a caller that goes on
        _exit_now(code)
    return code


def _exit_now(code: int) -> NoReturn:
    """Exit as the interpreter would, less its teardown: the exit handlers run and the streams are flushed,
    but the thousands of modules a local run imported (moto's services, botocore's models) are not torn
    down one by one, which took a fifth of `rekflow analyze`'s CPU on one photo (0.4 s of 2). Every file
    rekflow writes is closed by then (results, logs, execution records)."""
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
