"""Write (or, with --check, compare) the generated definitions in statemachines/."""

from __future__ import annotations

import argparse
import sys

from rekflow.asl.generated import DEFINITIONS, render, stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rekflow.asl", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if a committed definition is out of date")
    args = parser.parse_args(argv)
    if args.check:
        for path in stale():
            print(f"{path} is out of date: run `python -m rekflow.asl`", file=sys.stderr)
        return 1 if stale() else 0
    for path, build in DEFINITIONS.items():
        path.write_text(render(build()), encoding="utf-8")
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
