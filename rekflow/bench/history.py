"""What keeping every execution's history costs per 1,000 photos, side by side with keeping none.

`rekflow analyze --backend fixture --json` over N photos three times, each on a fresh local stack
into a fresh results folder: without histories (each execution's record only, as a clean run was
kept before every history was), as by default (every history, a clean one's without the events'
inputs and outputs), and with --history-data (every history whole). Printed per 1,000 photos: the
wall time, this process's CPU (where the workflow's interpreter and the records run; the functions
run in processes of their own), the CPU spent
keeping the records and histories (measured in the threads that keep them), and what the results
folder and its executions/ hold on disk, in bytes and in the blocks the file system allocates.

    python -m rekflow.bench history [N]     (default 1000)
"""

from __future__ import annotations

import contextlib
import gzip
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rekflow import cli
from rekflow.commands import analysis
from rekflow.commands.executions import records
from rekflow.media.samples import SAMPLES

MODES = ("no history", "by default", "--history-data")
PHOTOGRAPHS = ("astronaut.jpg", "cat.jpg", "coffee.jpg", "rocket.jpg")


def photos(folder: Path, count: int) -> Path:
    """`count` photos, the bundled photographs in turn, each under a name of its own."""
    made = {name: sample.make() for sample in SAMPLES if (name := sample.name) in PHOTOGRAPHS}
    inputs = folder / "photos"
    inputs.mkdir()
    for number in range(count):
        name = PHOTOGRAPHS[number % len(PHOTOGRAPHS)]
        (inputs / f"{number:05d}-{name}").write_bytes(made[name])
    return inputs


@contextlib.contextmanager
def _replaced(owner: Any, name: str, value: Any) -> Iterator[None]:
    original = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, original)


def _timed(keep: Callable[..., None], spent: list[float]) -> Callable[..., None]:
    """`keep`, adding the CPU of the thread that calls it to spent[0]."""
    lock = threading.Lock()

    def timed(*args: Any) -> None:
        before = time.thread_time()
        keep(*args)
        with lock:
            spent[0] += time.thread_time() - before

    return timed


def _disk(folder: Path) -> tuple[int, int]:
    """(bytes, bytes allocated in blocks) of the files under folder."""
    stats = [path.stat() for path in folder.rglob("*") if path.is_file()]
    return sum(s.st_size for s in stats), sum(s.st_blocks * 512 for s in stats)


def run(inputs: Path, output: Path, mode: str) -> dict[str, float]:
    argv = ["analyze", "--backend", "fixture", "--json", "--output", str(output), str(inputs)]
    args = cli.parser().parse_args(argv + (["--history-data"] if mode == "--history-data" else []))
    keeping = [0.0]
    no_history = _replaced(records, "keep_history", lambda *_: (None, None)) if mode == "no history" else None
    with (
        no_history or contextlib.nullcontext(),
        _replaced(analysis, "keep_execution", _timed(records.keep, keeping)),
        open(os.devnull, "w") as quiet,
        contextlib.redirect_stdout(quiet),
    ):
        wall, cpu = time.perf_counter(), time.process_time()
        code = args.func(args)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert code == 0, f"rekflow analyze exited {code}"
    folder = output / records.RECORDS_FOLDER
    files = folder.glob(records.HISTORIES_GLOB)
    histories = sum(len(gzip.decompress(path.read_bytes()).splitlines()) for path in files)
    assert histories == (0 if mode == "no history" else len(list(inputs.iterdir()))), histories
    kept = records.LocalExecutions(output)
    names = kept.names()
    # Reading one history back, as `rekflow history` does, three times (the names are random: anywhere in the file).
    reads = []
    for name in (names[0], names[len(names) // 2], names[-1]) if mode != "no history" else ():
        started = time.perf_counter()
        assert kept.history(name) is not None, name
        reads.append(time.perf_counter() - started)
    total, executions = _disk(output), _disk(output / records.RECORDS_FOLDER)
    return {
        "wall s": wall,
        "CPU s, this process": cpu,
        "CPU s, keeping records": keeping[0],
        "MB, results folder": total[0] / 1e6,
        "MB allocated, results folder": total[1] / 1e6,
        "MB, executions/": executions[0] / 1e6,
        "MB allocated, executions/": executions[1] / 1e6,
        # Not per 1,000 photos: the slowest of three reads, from a run of this many photos.
        "ms, reading one history": 1000 * max(reads, default=0.0),
    }


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    per_thousand = 1000 / count
    # In the working folder, as `rekflow analyze`'s default results folder is.
    with tempfile.TemporaryDirectory(prefix="rekflow-bench-history-", dir=".") as temporary:
        folder = Path(temporary)
        warm = folder / "warm-up"
        warm.mkdir()
        run(photos(warm, 8), warm / "out", "by default")  # imports, caches: paid by no mode below
        inputs = photos(folder, count)
        measured = {mode: run(inputs, folder / mode.strip("-"), mode) for mode in MODES}
    print(f"rekflow analyze --backend fixture, {count} photos, figures per 1,000 photos")
    print(f"{'':34s}" + "".join(f"{mode:>16s}" for mode in MODES) + f"{'default vs none':>18s}")
    for figure in measured[MODES[0]]:
        scale = 1.0 if figure.startswith("ms, reading") else per_thousand
        values = [measured[mode][figure] * scale for mode in MODES]
        change = f"{100 * (values[1] - values[0]) / values[0]:+.1f} %" if values[0] else ""
        print(f"{figure:34s}" + "".join(f"{value:16.2f}" for value in values) + f"{change:>18s}")
    keeping = [measured[mode]["CPU s, keeping records"] / count * 1000 for mode in MODES]
    print(
        f"keeping one execution: {keeping[0]:.2f} ms CPU without its history, {keeping[1]:.2f} ms with it, "
        f"{keeping[2]:.2f} ms with its data; reading one history: the slowest of three, from a run of {count}"
    )


if __name__ == "__main__":
    main()
