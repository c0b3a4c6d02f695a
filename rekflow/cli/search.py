"""`rekflow search QUERY`, `rekflow index [--rebuild]` and `rekflow forget PATH...`: the results folder's
search index (the query language: docs/reference/search-syntax.md)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

DEFAULT_OUTPUT = Path("rekflow-results")  # analyze's default results folder
# Kept here, not imported: every command parses every command's arguments, and the engine's modules would
# slow each start. rekflow.search.engine.SORTS says the same (tests/unit/test_search_index.py holds them equal).
SORTS = ("analyzed", "uploaded", "taken", "path", "confidence")


def register(commands: Any) -> None:
    """Add `search`, `index` and `forget` to rekflow's subcommands."""
    find = commands.add_parser(
        "search",
        help="find analysed assets: labels, text, moderation, faces, dates... (docs/reference/search-syntax.md)",
    )
    find.add_argument(
        "query", metavar="QUERY", help="""e.g. 'label:cat text:"open daily"' or 'faces:>=3 -kind:video'"""
    )
    _output(find)
    find.add_argument("--json", action="store_true", help="print one JSON object per asset instead of text")
    find.add_argument("--limit", type=int, default=20, help="at most this many assets (default 20)")
    find.add_argument(
        "--sort",
        choices=SORTS,
        default="analyzed",
        help="analyzed, uploaded, taken: newest first; path: A to Z; confidence: highest first (default analyzed)",
    )
    find.add_argument(
        "--stack",
        metavar="NAME",
        help="search a deployed stack's index with Athena (your AWS credentials: AWS_PROFILE, AWS_REGION), "
        "not the results folder",
    )
    find.set_defaults(func=_search)

    index = commands.add_parser("index", help="show the results folder's search index, or make it again")
    _output(index)
    index.add_argument("--rebuild", action="store_true", help="make the index again from the results documents")
    index.set_defaults(func=_index)

    forget = commands.add_parser(
        "forget", help="take files (deleted or not) out of the results folder and its search index"
    )
    forget.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="a file or folder analysed, or a key")
    _output(forget)
    forget.set_defaults(func=_forget)


def _output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help="the results folder (default rekflow-results)"
    )


def _search(args: argparse.Namespace) -> int:
    from rekflow.commands.search import search

    return search(args)


def _index(args: argparse.Namespace) -> int:
    from rekflow.commands.search import index_command

    return index_command(args)


def _forget(args: argparse.Namespace) -> int:
    from rekflow.commands.search import forget_command

    return forget_command(args)
