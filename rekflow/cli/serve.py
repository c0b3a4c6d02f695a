"""`rekflow serve [--output DIR | --stack NAME] [--port N]`: a local search page on 127.0.0.1."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

DEFAULT_PORT = 8765


def register(commands: Any) -> None:
    """Add `serve` to rekflow's subcommands."""
    page = commands.add_parser(
        "serve",
        help="open a local search page (http://127.0.0.1:PORT/) over a results folder or a deployed stack",
        description="A search page with the query language of `rekflow search`: thumbnails with the boxes of "
        "what matched, and a video's player at each matching moment. It listens on 127.0.0.1 only: anyone "
        "who reached it could read every analysed file, and over a stack media signed with your credentials.",
    )
    where = page.add_mutually_exclusive_group()
    where.add_argument(
        "--output", type=Path, default=Path("rekflow-results"), help="the results folder (default rekflow-results)"
    )
    where.add_argument(
        "--stack",
        metavar="NAME",
        help="search a deployed stack with Athena, media by presigned URLs (your AWS credentials: AWS_PROFILE, "
        "AWS_REGION)",
    )
    page.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}; 0 picks a free one")
    page.add_argument(
        "--host",
        default="127.0.0.1",
        help="a loopback address only (127.0.0.1, ::1, localhost); any other is refused, since the page serves "
        "every analysed file without asking who is reading",
    )
    page.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    from rekflow.commands.serve.command import serve

    return serve(args)
