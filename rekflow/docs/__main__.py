"""`python -m rekflow.docs` rewrites the generated documentation pages; `--check` names each stale one, exit 1."""

from __future__ import annotations

import argparse
import sys

from rekflow import PROJECT_ROOT
from rekflow.docs import check, write


def main(argv: list[str] | None = None) -> int:
    arguments = argparse.ArgumentParser(prog="python -m rekflow.docs", description=__doc__)
    arguments.add_argument("--check", action="store_true", help="write nothing; exit 1 if a page is stale")
    args = arguments.parse_args(argv)
    if args.check:
        stale = check()
        for path in stale:
            print(f"stale: {path.relative_to(PROJECT_ROOT)} (run python -m rekflow.docs)", file=sys.stderr)
        return 1 if stale else 0
    for path in write():
        print(f"wrote {path.relative_to(PROJECT_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
