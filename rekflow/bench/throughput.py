"""Fixture-backend throughput of whole image executions, `concurrency` at a time.

The marginal rate between a small and a large batch cancels the runtime's start-up: photos per
second = (large - small) / (time(large) - time(small)), each batch on a fresh local stack.
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor

from rekflow.local import malloc
from rekflow.local.runtime import LocalRuntime
from rekflow.media.samples import SAMPLES

PHOTO = next(s for s in SAMPLES if s.name == "cat.jpg")


def batch_seconds(photos: int, concurrency: int) -> float:
    with LocalRuntime("fixture") as runtime:
        data = PHOTO.make()
        uploads = [runtime.upload(data, f"throughput/{number}.jpg") for number in range(photos)]

        def run(upload: object) -> str:
            result = runtime.run(runtime.object_created_event(upload))  # type: ignore[arg-type]
            runtime.forget_execution(result.arn)
            return result.status

        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            statuses = list(pool.map(run, uploads))
        elapsed = time.perf_counter() - started
    assert statuses == ["SUCCEEDED"] * photos, statuses
    return elapsed


def throughput(concurrency: int = 10, small: int = 40, large: int = 80) -> float:
    """Photos per second, marginal between a batch of `small` and one of `large`."""
    seconds_small, seconds_large = batch_seconds(small, concurrency), batch_seconds(large, concurrency)
    print(
        f"fixture, concurrency {concurrency}: {small} photos {seconds_small:.1f} s, {large} photos "
        f"{seconds_large:.1f} s"
    )
    return (large - small) / (seconds_large - seconds_small)


def main() -> None:
    malloc.limit_arenas()
    concurrency = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    print(f"marginal throughput                   {throughput(concurrency):8.2f} photos/s")


if __name__ == "__main__":
    main()
