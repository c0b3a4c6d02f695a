"""`rekflow serve`: open the library (a results folder or a stack), bind 127.0.0.1 and serve until Ctrl-C."""

from __future__ import annotations

import argparse
import sys

from rekflow.commands import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from rekflow.commands.serve.library import FolderLibrary, Library, StackLibrary
from rekflow.commands.serve.server import NotLoopback, loopback_address, make_server, serve_until_interrupted, url_of
from rekflow.search.index import IndexUnusable


def serve(args: argparse.Namespace) -> int:
    try:
        loopback_address(args.host)
    except NotLoopback as error:
        print(f"rekflow: {error}", file=sys.stderr)
        return EXIT_USAGE
    library = open_library(args)
    if library is None:
        return EXIT_USAGE
    try:
        server = make_server(library, args.host, args.port)
    except OSError as error:  # the port is taken
        print(f"rekflow: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return EXIT_FAILED
    print(f"rekflow: searching {library.where} at {url_of(server)} (Ctrl-C stops)", file=sys.stderr, flush=True)
    serve_until_interrupted(server)
    return EXIT_OK


def open_library(args: argparse.Namespace) -> Library | None:
    if args.stack:
        from rekflow.search.athena import SearchFailed  # boto3 only when a stack is served

        try:
            return StackLibrary.for_stack(args.stack)
        except SearchFailed as error:
            print(f"rekflow: stack {args.stack}: {error}", file=sys.stderr)
            return None
    if not args.output.is_dir():
        print(f"rekflow: no results folder {args.output}/ (rekflow analyze writes one)", file=sys.stderr)
        return None
    try:
        return FolderLibrary(args.output)
    except IndexUnusable as error:
        print(f"rekflow: {error}", file=sys.stderr)
        return None
