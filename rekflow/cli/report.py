"""`rekflow report [--output DIR] [--media FOLDER]`: one self-contained HTML page over the stored results."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rekflow.commands import EXIT_OK, EXIT_USAGE, REPORT_PAGE_NAME
from rekflow.media import sources as media_sources


def register(commands: Any) -> None:
    """Add `report` to rekflow's subcommands (`commands` is the parser's add_subparsers() object)."""
    page = commands.add_parser("report", help="write one self-contained HTML page over the stored results")
    page.add_argument(
        "--output",
        type=Path,
        default=Path("rekflow-results"),
        help="the results folder `rekflow analyze --output` wrote (default rekflow-results); "
        f"the page is written there as {REPORT_PAGE_NAME}",
    )
    page.add_argument(
        "--media",
        type=Path,
        metavar="FOLDER",
        help="find each file for its thumbnail at FOLDER/<key> instead of where "
        f"`rekflow analyze` read it (recorded in OUTPUT/{media_sources.INDEX_NAME})",
    )
    page.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Imported here, not at the top: every command parses every command's arguments, and the page's makers
    # (Jinja, jsonschema, the thumbnails' decoders) would be a tenth of a second of `rekflow analyze`'s start.
    from rekflow.commands.report import find_documents, write_report

    if not args.output.is_dir():
        print(
            f"rekflow: no results folder {args.output}/ (run rekflow analyze --output {args.output} first)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if args.media is not None and not args.media.is_dir():
        print(f"rekflow: no such media folder: {args.media}", file=sys.stderr)
        return EXIT_USAGE
    documents, refused = find_documents(args.output)
    for path, why in refused[:5]:
        print(f"rekflow: not a results document, left out: {path} ({why})", file=sys.stderr)
    if len(refused) > 5:
        print(f"rekflow: and {len(refused) - 5} more files that are not results documents", file=sys.stderr)
    if not documents:
        print(
            f"rekflow: no results documents in {args.output}/ (run rekflow analyze --output {args.output} first)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    page = write_report(args.output, documents, args.media)
    print(page)
    return EXIT_OK
