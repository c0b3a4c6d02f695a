"""`rekflow search QUERY`, `rekflow index`, `rekflow forget PATH`: what they do once their arguments are parsed.

A search parses the query once (rekflow.search.query) and hands the tree to an engine: the results folder's
SQLite index (`--output`), or, for a deployed stack, the engine `open_engine` returns for `--stack`. The
hits are printed with their evidence: the label or line and its confidence, and for a video each moment it
was seen, in seconds, with the shot it falls in.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from rekflow.commands import EXIT_FAILED, EXIT_OK, EXIT_USAGE, results_folder
from rekflow.search.documents import document_path
from rekflow.search.engine import Engine, Page
from rekflow.search.facts import Asset, Moment
from rekflow.search.index import IndexUnusable, SearchIndex, index_path
from rekflow.search.query import QueryError, parse
from rekflow.search.reference import Evidence, Hit


# Engines for a deployed stack, by name: `--stack NAME` gives the stack to open_engine's factory.
# The Athena engine registers itself here (one seam: an Engine's search(tree, limit, sort)).
def _athena(args: argparse.Namespace) -> Engine:
    from rekflow.search.athena import AthenaEngine  # boto3's clients only when a stack is searched

    return AthenaEngine.for_stack(args.stack)


STACK_ENGINES: dict[str, Callable[[argparse.Namespace], Engine]] = {"athena": _athena}
SHOWN_MOMENTS = 12  # a video's moments listed per finding in the table; --json lists all


def search(args: argparse.Namespace) -> int:
    err = Console(file=sys.stderr)
    try:
        tree = parse(args.query)
    except QueryError as error:
        err.print(f"rekflow: {error}", markup=False, highlight=False)
        return EXIT_USAGE
    if args.limit < 1:
        err.print("rekflow: --limit is at least 1", markup=False, highlight=False)
        return EXIT_USAGE
    try:
        engine = open_engine(args, err)
        if engine is None:
            return EXIT_USAGE
        page = engine.search(tree, args.limit, args.sort)
    except Exception as error:
        from rekflow.search.athena import SearchFailed  # boto3 only when a stack is searched

        if not isinstance(error, SearchFailed):
            raise
        err.print(f"rekflow: stack {args.stack}: {error}", markup=False, highlight=False)
        return EXIT_FAILED
    if args.json:
        for hit in page.hits:
            # A stack's hit names its results document in S3 (the engine keeps where it read each).
            where = getattr(engine, "locations", {}).get(hit.asset.key)
            print(json.dumps(hit_json(hit, args.output, where), ensure_ascii=False))
    else:
        print_hits(page, args.output, f"stack {args.stack}" if getattr(args, "stack", None) else None)
    if page.more:
        err.print(f"rekflow: more assets match: showing the first {args.limit} (--limit)", highlight=False)
    return EXIT_OK


def open_engine(args: argparse.Namespace, err: Console) -> Engine | None:
    """The engine a search runs on: a deployed stack's, or the results folder's index (made once, from the
    documents there, when the folder has none yet)."""
    if getattr(args, "stack", None):
        factory = STACK_ENGINES.get("athena")
        if factory is None:
            err.print("rekflow: searching a deployed stack is not available in this version", highlight=False)
            return None
        return factory(args)
    if not results_folder.found(args.output, err):
        return None
    if not index_path(args.output).exists():
        err.print(f"rekflow: indexing the documents in {args.output}/ (once)", highlight=False)
    index = _opened_index(args.output, err)
    if index is None:
        return None
    if index.warning:
        err.print(f"rekflow: {index.warning}", markup=False, highlight=False, soft_wrap=True)
    return index


def _opened_index(output: Path, err: Console) -> SearchIndex | None:
    """The results folder's index, or None after saying on `err` why it cannot be used as it is."""
    try:
        return results_folder.open_index(output)
    except IndexUnusable as error:
        err.print(f"rekflow: {error}", markup=False, highlight=False)
        return None


def index_command(args: argparse.Namespace) -> int:
    err = Console(file=sys.stderr)
    if not results_folder.found(args.output, err):
        return EXIT_USAGE
    index = results_folder.rebuild_index(args.output) if args.rebuild else _opened_index(args.output, err)
    if index is None:
        return EXIT_USAGE
    with index:
        size = sum(path.stat().st_size for path in index.path.parent.glob(index.path.name + "*"))
        text = "FTS5" if index.fts else "no FTS5 (text is scanned)"
        print(f"{index.path}: {len(index)} asset(s), {size / 1e6:.1f} MB, {text}")
    return EXIT_OK


def forget_command(args: argparse.Namespace) -> int:
    err = Console(file=sys.stderr)
    if not results_folder.found(args.output, err):
        return EXIT_USAGE
    found = results_folder.keys_under(args.output, args.paths)
    unknown = [str(path) for path, keys in found.items() if not keys]
    if unknown:
        err.print(f"rekflow: nothing in {args.output}/ was analysed from {', '.join(unknown)}", highlight=False)
        return EXIT_USAGE
    index = _opened_index(args.output, err)
    if index is None:
        return EXIT_USAGE
    with index:
        for keys in found.values():
            for key in keys:
                if results_folder.forget(args.output, key, index):
                    print(f"forgot {key}")
    return EXIT_OK


# ---------------------------------------------------------------------------------------------- printing


def print_hits(page: Page, output: Path, where: str | None = None) -> None:
    """A block per asset: its key and what it is, then a line per piece of evidence. Plain lines, so the
    output reads the same in a terminal and through a pipe."""
    out = Console(highlight=False, soft_wrap=True)
    if not page.hits:
        out.print("no assets match")
        return
    for hit in page.hits:
        asset = hit.asset
        out.print(f"[bold]{escape(asset.key)}[/bold]  {escape(_describe(asset))}")
        for evidence in hit.evidence:
            out.print("  " + escape(describe_evidence(evidence, asset)))
    out.print(f"{len(page.hits)} asset(s){' (more match)' if page.more else ''}; documents in {where or f'{output}/'}")


def _describe(asset: Asset) -> str:
    parts = [asset.kind, asset.format]
    if asset.duration is not None:
        parts.append(_seconds(int(asset.duration * 1000)))
    parts.append(asset.status + (f" {asset.reason}" if asset.reason else ""))
    if asset.review:
        parts.append(f"review {asset.review}")
    parts.append(f"analysed {asset.analyzed.replace('T', ' ')} UTC")
    if asset.taken:
        parts.append(f"taken {asset.taken.replace('T', ' ')}")
    return ", ".join(parts)


def describe_evidence(evidence: Evidence, asset: Asset) -> str:
    """One line: what matched, its confidence, and for a video when, shot by shot."""
    name = f'"{evidence.name}"' if evidence.kind == "text" else evidence.name
    line = f"{evidence.kind} {name}"
    if evidence.confidence:
        line += f" {evidence.confidence:.1f}%"
    if evidence.moments:
        line += " at " + _moments(evidence.moments, asset)
    return line


def _moments(moments: tuple[Moment, ...], asset: Asset) -> str:
    shots = {shot.index: shot for shot in asset.shots}
    groups: dict[int | None, list[str]] = {}
    for moment in moments[:SHOWN_MOMENTS]:
        groups.setdefault(moment.shot, []).append(_seconds(moment.millis))
    parts = []
    for index, times in groups.items():
        shot = shots.get(index) if index is not None else None
        where = (
            f" (shot {shot.index + 1}, {_seconds(shot.start_millis)}-{_seconds(shot.end_millis)})"
            if shot is not None
            else ""
        )
        parts.append(", ".join(times) + where)
    more = len(moments) - SHOWN_MOMENTS
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def _seconds(millis: int) -> str:
    return f"{millis / 1000:g} s"


def hit_json(hit: Hit, output: Path, document: str | None = None) -> dict[str, Any]:
    """One line of `rekflow search --json`."""
    asset = hit.asset
    shots = {shot.index: shot for shot in asset.shots}

    def moment(m: Moment) -> dict[str, Any]:
        shot = shots.get(m.shot) if m.shot is not None else None
        where = (
            {"index": shot.index, "startSeconds": shot.start_millis / 1000, "endSeconds": shot.end_millis / 1000}
            if shot
            else None
        )
        return {"seconds": m.millis / 1000, "confidence": m.confidence, "shot": where}

    return {
        "key": asset.key,
        "kind": asset.kind,
        "format": asset.format,
        "status": asset.status,
        "reason": asset.reason,
        "review": asset.review,
        "analyzed": asset.analyzed,
        "uploaded": asset.uploaded,
        "taken": asset.taken,
        "durationSeconds": asset.duration,
        "document": document or str(document_path(output, asset.key)),
        "evidence": [
            {
                "kind": e.kind,
                "name": e.name,
                "confidence": e.confidence,
                "moments": [moment(m) for m in e.moments],
            }
            for e in hit.evidence
        ],
    }
