"""`rekflow executions`, `history`, `redrive` and `replay`: on a local run's results folder
(--output, as `rekflow analyze` left it) or on a deployed stack (--stack NAME)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import botocore.session
from rich.console import Console

from rekflow.cli.tables import executions_table, history_table, print_table
from rekflow.commands.executions.aws import AwsError, DeployedStack, NotRedrivable
from rekflow.commands.executions.history import failing_state, json_events
from rekflow.commands.executions.records import ExecutionNotFound, LocalExecutions

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2  # as `rekflow analyze`'s
Command = Callable[[argparse.Namespace], int]


def execution_statuses() -> list[str]:
    """ListExecutions' statusFilter values, from botocore's model of Step Functions."""
    model = botocore.session.get_session().get_service_model("stepfunctions")
    return list(model.shape_for("ExecutionStatus").enum)


def register(commands: Any) -> None:
    """Add the four commands to rekflow's subparsers, and `--history-data` to `analyze` (call after it)."""
    analyze = commands.choices["analyze"]
    analyze.add_argument(
        "--history-data",
        action="store_true",
        help="keep the states' inputs and outputs in every execution's history (OUTPUT/executions/); by default "
        "only FAILED, TIMED_OUT, ABORTED and partial executions keep them, a clean one's results being its document",
    )
    # Its name before every history was kept; it kept them whole, as --history-data does.
    analyze.add_argument("--keep-history", action="store_true", dest="history_data", help=argparse.SUPPRESS)
    analyze.set_defaults(replay_of=None)
    default_output = analyze.get_default("output")

    listing = _add(
        commands,
        "executions",
        _executions,
        default_output,
        "list executions: status, object, failing state (newest first)",
    )
    listing.add_argument("--status", choices=execution_statuses(), help="only executions with this status")
    listing.add_argument("--limit", type=int, default=100, help="at most this many, newest first (default 100)")
    listing.add_argument("--json", action="store_true", help="one JSON object per execution")

    history = _add(commands, "history", _history, default_output, "an execution's events: state, time, attempt, error")
    history.add_argument("name", metavar="NAME", help="execution name (or a prefix of it locally, or an ARN)")
    history.add_argument("--json", action="store_true", help='print {"events": [...]} in GetExecutionHistory\'s shape')

    redrive = _add(
        commands,
        "redrive",
        _redrive,
        default_output,
        "resume a FAILED, TIMED_OUT or ABORTED execution at the state that failed (AWS only)",
    )
    redrive.add_argument("name", metavar="NAME")

    replay = _add(
        commands,
        "replay",
        _replay,
        default_output,
        "start a new execution with the same input (locally: the same file uploaded again)",
    )
    replay.add_argument("name", metavar="NAME")
    replay.add_argument(
        "--backend",
        choices=["local", "fixture", "aws"],
        help="locally: the vision backend (default: the one the execution ran with)",
    )
    replay.add_argument(
        "--video-fps",
        type=float,
        help="locally: frames per second of video the local models look at (default: the execution's)",
    )
    replay.add_argument("--aws-bucket", metavar="NAME", help="locally, with --backend aws: as for analyze")
    replay.add_argument("--logs", action="store_true", help="locally: also show the functions' logs on stderr")
    replay.add_argument("--json", action="store_true", help="locally: print the analyze --json line")


def _add(commands: Any, name: str, func: Command, default_output: Path, summary: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(name, help=summary, description=summary)
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--output", type=Path, default=default_output, help=f"a local run's results folder (default {default_output})"
    )
    where.add_argument("--stack", metavar="NAME", help="a deployed stack: its state machine, with your AWS credentials")
    parser.set_defaults(func=_reporting_errors(func))
    return parser


def _reporting_errors(func: Command) -> Command:
    """A missing execution or a refused AWS call is one line on stderr, not a traceback."""

    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except ExecutionNotFound as error:
            _err(f"rekflow: {error}")
            return EXIT_USAGE
        except AwsError as error:
            _err(f"rekflow: {error}")
            return EXIT_FAILED

    return run


def _executions(args: argparse.Namespace) -> int:
    if args.stack:
        summaries = DeployedStack.find(args.stack).summaries(args.status, args.limit)
        where = f"stack {args.stack}"
    else:
        summaries = LocalExecutions(args.output).summaries(args.status)[: args.limit]
        where = f"{args.output}/"
    if args.json:
        for summary in summaries:
            print(json.dumps(summary.as_json(), ensure_ascii=False))
        return EXIT_OK
    print_table(executions_table(summaries, where))
    if any(s.failed_state for s in summaries):
        place = f"--stack {args.stack}" if args.stack else f"--output {args.output}"
        Console().print(
            f"Read one: rekflow history NAME {place}; rerun it: rekflow redrive NAME --stack STACK "
            f"(AWS) or rekflow replay NAME {place}",
            highlight=False,
            soft_wrap=True,
        )
    return EXIT_OK


def _history(args: argparse.Namespace) -> int:
    if args.stack:
        stack = DeployedStack.find(args.stack)
        name, events = stack.describe(args.name)["name"], stack.history(args.name)
    else:
        local = LocalExecutions(args.output)
        record = local.find(args.name)
        name = record["name"]
        kept = local.history(name)
        if kept is None:
            _err(
                f"rekflow: the history of {name} was not kept: it ran before rekflow kept every execution's history. "
                f"`rekflow replay {name} --output {args.output}` runs the same file again, history and all; "
                "`rekflow executions` shows its status."
            )
            return EXIT_FAILED
        events = kept
        if not record.get("historyData", True) and not args.json:
            _err(
                f"rekflow: {name} succeeded, so its history was kept without the states' inputs and outputs: "
                f"what it produced is its results document ({args.output}/{record['key']}.json). "
                "`rekflow analyze --history-data` keeps them."
            )
    if args.json:
        print(json.dumps({"events": json_events(events)}, ensure_ascii=False, indent=2))
    else:
        print_table(history_table(name, events))
    return EXIT_OK


def _redrive(args: argparse.Namespace) -> int:
    if not args.stack:
        record = LocalExecutions(args.output).find(args.name)
        name = record["name"]
        _err(
            f"rekflow: redrive needs AWS. Step Functions' RedriveExecution resumes an execution under the same "
            f"ARN at the state that failed{_at(record.get('failedState'))}, keeping the results of the states "
            f"and Parallel branches that succeeded; the local runtime (moto) has no RedriveExecution, and rekflow "
            f"does not imitate one.\n"
            f"  On a deployed stack:  rekflow redrive {name} --stack STACK\n"
            f"  Here, from the start, as a new execution of the same file:  rekflow replay {name} "
            f"--output {args.output}"
        )
        return EXIT_USAGE
    stack = DeployedStack.find(args.stack)
    try:
        failed = failing_state(stack.history(args.name))
        redriven_at = stack.redrive(args.name)
    except NotRedrivable as refusal:
        _err(
            f"rekflow: {refusal}\n  A new execution from the start, with the same input: "
            f"rekflow replay {args.name} --stack {args.stack}"
        )
        return EXIT_FAILED
    print(
        f"Redriven {args.name} at {redriven_at.isoformat()}: it resumes{_at(failed)} under the same ARN.\n"
        f"Follow it: rekflow history {args.name} --stack {args.stack}"
    )
    return EXIT_OK


def _replay(args: argparse.Namespace) -> int:
    if args.stack:
        new_arn = DeployedStack.find(args.stack).replay(args.name)
        print(
            f"Replayed {args.name} as {new_arn.rsplit(':', 1)[1]} ({new_arn}): a new execution from the start "
            f"with the same input.\nIf a run of this object version has recorded its summary already, the replay "
            f'stops at "Already recorded" (unless that run\'s claim lapsed unannounced: RecordClaimSeconds); '
            f"to finish a failed run, redrive it: rekflow redrive {args.name} --stack {args.stack}"
        )
        return EXIT_OK
    from rekflow.commands.replay import replay_locally  # it runs `rekflow analyze`, which imports this

    return replay_locally(args)


def _at(state: str | None) -> str:
    return f" ({state!r})" if state else ""


def _err(message: str) -> None:
    Console(file=sys.stderr).print(message, markup=False, highlight=False, soft_wrap=True)
