"""`rekflow samples DIR`: write the bundled sample media (made in code) into a folder."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rekflow.commands import EXIT_OK


def register(commands: Any) -> None:
    """Add `samples` to rekflow's subcommands (`commands` is the parser's add_subparsers() object)."""
    make = commands.add_parser("samples", help="write the bundled sample media into a folder")
    make.add_argument("folder", type=Path)
    make.set_defaults(func=samples)


def samples(args: argparse.Namespace) -> int:
    from rekflow.media.samples import write_samples  # NumPy: imported by this command alone, not by every parse

    for path in write_samples(args.folder):
        print(path)
    return EXIT_OK
