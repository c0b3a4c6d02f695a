"""`rekflow review list|show|approve|reject`: moderation reviews, offline on a results folder (--output, as
`rekflow analyze` left it) or on a deployed stack (--stack NAME, with the reviewer's own AWS credentials; the stack's
ReviewerPolicy output is what they need). The review page is `rekflow serve`'s /review. docs/guides/review.md."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from rekflow.commands import EXIT_FAILED, EXIT_OK, EXIT_USAGE

DEFAULT_OUTPUT = Path("rekflow-results")  # analyze's default results folder


def register(commands: Any) -> None:
    """Add `review` and its actions to rekflow's subcommands."""
    review = commands.add_parser("review", help="list, show, approve or reject the uploads flagged for review")
    actions = review.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="the reviews waiting for a decision, oldest first")
    _where(listing)
    listing.add_argument("--json", action="store_true", help="one JSON object per review")
    listing.set_defaults(func=_list)
    show = actions.add_parser("show", help="an asset's moderation findings and its review's history")
    show.add_argument("asset", metavar="ASSET", help="asset id (or a unique prefix of one) or object key")
    _where(show)
    show.set_defaults(func=_show)
    for name, decision in (("approve", "APPROVED"), ("reject", "REJECTED")):
        decide = actions.add_parser(name, help=f"decide the asset's review: {decision}")
        decide.add_argument("asset", metavar="ASSET", help="asset id (or a unique prefix of one) or object key")
        decide.add_argument("--note", help="why, kept with the decision (at most 1,000 characters)")
        _where(decide)
        decide.set_defaults(func=_decide, decision=decision)


def _where(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help="the results folder (default rekflow-results)"
    )
    where.add_argument("--stack", metavar="NAME", help="a deployed stack, with your AWS credentials")


def _stack(args: argparse.Namespace) -> Any:
    import boto3

    from rekflow.commands.review.stack import DeployedStack

    return DeployedStack.named(args.stack, boto3.client("cloudformation"))


def _run(args: argparse.Namespace, work: Any) -> int:
    from rekflow.commands import results_folder
    from rekflow.commands.review.common import ReviewClosed, ReviewError, UnknownAsset

    err = Console(file=sys.stderr)
    if not args.stack and not results_folder.found(args.output, err):
        return EXIT_USAGE
    try:
        return int(work())
    except (UnknownAsset, ReviewClosed) as refused:
        err.print(f"[red]rekflow: {refused}[/red]", highlight=False)
        return EXIT_USAGE if isinstance(refused, UnknownAsset) else EXIT_FAILED
    except ReviewError as error:
        err.print(f"[red]rekflow: {error}[/red]", highlight=False)
        return EXIT_FAILED


def _list(args: argparse.Namespace) -> int:
    def work() -> int:
        from rekflow.commands.review.common import now
        from rekflow.commands.review.folder import list_local
        from rekflow.commands.review.stack import list_stack

        if args.stack:
            import boto3

            pending = list_stack(_stack(args), boto3.client("dynamodb"))
        else:
            pending = list_local(args.output)
        if args.json:
            for review in pending:
                print(json.dumps(review.row(), ensure_ascii=False))
            return EXIT_OK
        clock = now()
        for review in pending:
            flag = "  (superseded by a newer version)" if review.superseded else ""
            if review.deadline and clock >= review.deadline:
                flag += f"  (timed out at {review.deadline}: its timeout action acts at the next decision)"
            labels = ", ".join(review.labels) or "-"
            print(f"{review.started_at}  {review.asset_id[:12]}  {review.key}  [{labels}]{flag}")
        print(f"{len(pending)} review(s) waiting", file=sys.stderr)
        return EXIT_OK

    return _run(args, work)


def _show(args: argparse.Namespace) -> int:
    def work() -> int:
        from rekflow.commands.review.folder import show_local
        from rekflow.commands.review.stack import show_stack

        if args.stack:
            import boto3

            shown = show_stack(_stack(args), boto3.client("dynamodb"), boto3.client("s3"), args.asset)
        else:
            shown = show_local(args.output, args.asset)
        print(json.dumps(shown, indent=2, ensure_ascii=False))
        return EXIT_OK

    return _run(args, work)


def _decide(args: argparse.Namespace) -> int:
    if args.note and len(args.note) > 1000:
        Console(file=sys.stderr).print("[red]rekflow: --note holds at most 1,000 characters[/red]")
        return EXIT_USAGE

    def work() -> int:
        from rekflow.commands.review.folder import decide_local, find_local, said_of_hold
        from rekflow.commands.review.stack import decide_stack

        if args.stack:
            import boto3

            sent = decide_stack(
                _stack(args),
                boto3.client("dynamodb"),
                boto3.client("stepfunctions"),
                boto3.client("sts"),
                args.asset,
                args.decision,
                args.note,
            )
        else:
            sent = decide_local(args.output, args.asset, args.decision, args.note)
            hold = find_local(args.output, str(sent["assetId"])).get("object")  # the record, as the decision left it
            if hold:
                print(f"rekflow: {said_of_hold(hold)}", file=sys.stderr)
        print(json.dumps(sent, ensure_ascii=False))
        return EXIT_OK

    return _run(args, work)
