"""Fixture-backend throughput of whole image executions, `concurrency` at a time, in both ways of running
the functions: in worker processes of their own (rekflow.local.sandbox, the default) and in this process
(REKFLOW_FUNCTIONS_IN_PROCESS=1), side by side.

The marginal rate between a small and a large batch cancels the runtime's start-up: photos per
second = (large - small) / (time(large) - time(small)), each batch on a fresh local stack. Beside it,
the CPU seconds per photo (marginal too) of this process and of the functions' workers, and each
function's cold starts (Init Duration, as Lambda's REPORT line gives it) in the large batch.
Target on 2 cores: at least 10 photos/s with the functions in worker processes (aim: 20).

    python -m rekflow.bench throughput [CONCURRENCY] [SMALL] [LARGE]
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from rekflow.local import malloc
from rekflow.local.runtime import LocalRuntime
from rekflow.media.samples import SAMPLES

PHOTO = next(s for s in SAMPLES if s.name == "cat.jpg")
TARGET, AIM = 10.0, 20.0
MODES = {"worker processes": False, "in process": True}


@dataclass
class Batch:
    seconds: float
    cpu_seconds: float  # this process's
    worker_cpu_seconds: float  # the functions' worker processes'
    cold_starts_ms: dict[str, list[float]] = field(default_factory=dict)


def batch(photos: int, concurrency: int, in_process: bool) -> Batch:
    with LocalRuntime("fixture", functions_in_process=in_process) as runtime:
        data = PHOTO.make()
        uploads = [runtime.upload(data, f"throughput/{number}.jpg") for number in range(photos)]

        def run(upload: Any) -> str:
            result = runtime.run(runtime.object_created_event(upload))
            runtime.forget_execution(result.arn)
            return result.status

        workers_before = runtime.sandboxes.cpu_seconds() if runtime.sandboxes else 0.0
        cpu_before, started = time.process_time(), time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            statuses = list(pool.map(run, uploads))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_before
        workers = (runtime.sandboxes.cpu_seconds() - workers_before) if runtime.sandboxes else 0.0
        cold_starts = {k: list(v) for k, v in runtime.sandboxes.cold_starts.items()} if runtime.sandboxes else {}
    assert statuses == ["SUCCEEDED"] * photos, statuses
    return Batch(elapsed, cpu, workers, cold_starts)


def marginal(concurrency: int, small: int, large: int, in_process: bool) -> dict[str, Any]:
    """Photos per second and CPU per photo, marginal between a batch of `small` and one of `large`."""
    first, second = batch(small, concurrency, in_process), batch(large, concurrency, in_process)
    extra = large - small
    return {
        "seconds": (first.seconds, second.seconds),
        "rate": extra / (second.seconds - first.seconds),
        "cpu_ms": 1000 * (second.cpu_seconds - first.cpu_seconds) / extra,
        "worker_cpu_ms": 1000 * (second.worker_cpu_seconds - first.worker_cpu_seconds) / extra,
        "cold_starts_ms": second.cold_starts_ms,
    }


def main() -> None:
    malloc.limit_arenas()
    concurrency = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    small = int(sys.argv[2]) if len(sys.argv) > 2 else 60
    large = int(sys.argv[3]) if len(sys.argv) > 3 else 120
    os.environ.pop("REKFLOW_FUNCTIONS_IN_PROCESS", None)  # each mode is chosen here
    results = {mode: marginal(concurrency, small, large, in_process) for mode, in_process in MODES.items()}
    print(
        f"fixture backend, concurrency {concurrency}, marginal between {small} and {large} photos "
        f"({os.cpu_count()} CPUs)"
    )
    print(f"{'':<34}" + "".join(f"{mode:>18}" for mode in results))
    rows: tuple[tuple[str, Callable[[dict[str, Any]], str]], ...] = (
        (f"{small} photos (s)", lambda r: f"{r['seconds'][0]:.1f}"),
        (f"{large} photos (s)", lambda r: f"{r['seconds'][1]:.1f}"),
        ("photos/s", lambda r: f"{r['rate']:.2f}"),
        ("CPU ms per photo, this process", lambda r: f"{r['cpu_ms']:.0f}"),
        ("CPU ms per photo, workers", lambda r: f"{r['worker_cpu_ms']:.0f}"),
    )
    for label, cell in rows:
        print(f"{label:<34}" + "".join(f"{cell(r):>18}" for r in results.values()))
    workers = results["worker processes"]
    verdict = "met" if workers["rate"] >= TARGET else "NOT met"
    print(f"target {TARGET:.0f} photos/s (aim {AIM:.0f}) with worker processes: {verdict}")
    print(f"cold starts in the {large}-photo batch (Init Duration: count, median, max):")
    for function, times in sorted(workers["cold_starts_ms"].items()):
        print(f"  {function:<26} {len(times):3d}  {statistics.median(times):7.0f} ms  {max(times):7.0f} ms")


if __name__ == "__main__":
    main()
