"""What keeping execution records adds to a fixture execution's CPU: `rekflow analyze`'s record
of a clean run (no history), reading a history out of the local Step Functions, and the record
with the history (`--keep-history`, or a run that failed). Means over N sequential executions in
one local runtime, after five to warm it up.

    python -m rekflow.bench records [N]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

from rekflow.commands.executions.records import keep
from rekflow.commands.inputs import InputFile
from rekflow.local.runtime import LocalRuntime
from rekflow.media.samples import SAMPLES

WARM_UP = 5


def measure(executions: int) -> dict[str, float]:
    """Mean CPU milliseconds of each step, by step."""
    photo = next(s for s in SAMPLES if s.name == "cat.jpg").make()
    folder = Path(tempfile.mkdtemp(prefix="rekflow-bench-records-"))
    (folder / "cat.jpg").write_bytes(photo)
    args = argparse.Namespace(
        output=folder / "out", history_data=False, backend="fixture", video_fps=1.0, replay_of=None
    )
    totals = dict.fromkeys(("execution", "record, no history", "read the history", "record with the history"), 0.0)
    with LocalRuntime("fixture") as runtime:
        for number in range(WARM_UP + executions):
            upload = runtime.upload(photo, f"bench/{number}.jpg")
            event, item = runtime.object_created_event(upload), InputFile(folder / "cat.jpg", f"bench/{number}.jpg")
            marks = [time.process_time()]
            result = runtime.run(event)
            marks.append(time.process_time())
            keep(args, item, event, result)
            marks.append(time.process_time())
            _ = result.history
            marks.append(time.process_time())
            keep(argparse.Namespace(**{**vars(args), "history_data": True}), item, event, result)
            marks.append(time.process_time())
            runtime.forget_execution(result.arn)
            runtime.delete_upload(upload)
            if number >= WARM_UP:
                for step, before, after in zip(totals, marks, marks[1:], strict=False):
                    totals[step] += after - before
    return {step: 1000 * total / executions for step, total in totals.items()}


def main() -> None:
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    executions = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    for step, milliseconds in measure(executions).items():
        print(f"{step:24s} {milliseconds:7.1f} ms CPU (mean of {executions})")


if __name__ == "__main__":
    main()
