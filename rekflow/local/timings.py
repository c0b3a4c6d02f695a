"""Wall-clock marks of one process's run, for `python -m rekflow.bench first-photo`.

With REKFLOW_TIMINGS=FILE in its environment, a process records a mark at each step of a local run
(the CLI entered, the runtime deployed, the executions done, the runtime closed) and the cold starts
of its functions, and writes them to FILE as JSON when it exits. Without it, mark() and record()
do nothing, so they stay in the code paths at no cost.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
import time
from typing import Any

ENVIRONMENT_VARIABLE = "REKFLOW_TIMINGS"

_path = os.environ.get(ENVIRONMENT_VARIABLE)
_pid = os.getpid()  # a process forked from this one (a function's worker) inherits the marks but writes none
_lock = threading.Lock()
_marks: list[tuple[str, float, float]] = []
_records: dict[str, Any] = {}


def mark(step: str) -> None:
    """This moment (epoch seconds) and this process's CPU seconds so far, under `step`'s name."""
    if _path:
        with _lock:
            _marks.append((step, time.time(), time.process_time()))


def record(name: str, value: Any) -> None:
    """A value to report with the marks (JSON-serialisable): the last one recorded under `name` wins."""
    if _path:
        with _lock:
            _records[name] = value


def _write() -> None:
    if _path and os.getpid() == _pid:
        with _lock:
            document = {"marks": _marks, **_records}
        with open(_path, "w", encoding="utf-8") as file:
            json.dump(document, file)


atexit.register(_write)
