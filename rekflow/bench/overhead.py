"""The local runtime's orchestration overhead over a folder, as a share of the model time, side by side.

The same photos, `concurrency` at a time, twice: through whole executions of the real ASL with the
local models (what `rekflow analyze` does), and through the local models alone (the four operations
per photo, nothing else). Overhead = (executions - models alone) / models alone, in wall time and
in CPU time. Issue 13's target: at most 25 %.

    python -m rekflow.bench overhead [PHOTOS] [CONCURRENCY]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rekflow.local import malloc
from rekflow.local.runtime import LocalRuntime
from rekflow.media.samples import SAMPLES
from rekflow.vision.backend import Backend
from rekflow.vision.local import forget_faces

REQUESTS: dict[str, dict[str, Any]] = {
    "DetectLabels": {"MinConfidence": 70, "MaxLabels": 25},
    "DetectModerationLabels": {"MinConfidence": 70},
    "DetectText": {"Filters": {"WordFilter": {"MinConfidence": 70}}},
    "DetectFaces": {"Attributes": ["DEFAULT"]},
}
ROUNDS = 2
# What issue 13 measured before the work on speed (2 cores, `rekflow analyze` on a folder of sample photos).
BEFORE = {
    "seconds per photo, real models": 2.1,
    "model seconds per photo": 0.38,
    "fixture photos/s at concurrency 10": 1.5,
    "seconds per lone fixture execution": 0.63,
}


def photos(count: int) -> list[tuple[str, bytes]]:
    made = [
        (s.name, s.make())
        for s in SAMPLES
        if s.expected_status == "SUCCEEDED" and s.name.endswith((".jpg", ".png")) and s.name != "blank.png"
    ]
    return [(f"{n}/{name}", data) for n in range(count // len(made) + 1) for name, data in made][:count]


def timed(
    run: Callable[[tuple[str, bytes]], None], items: list[tuple[str, bytes]], concurrency: int
) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process) to map `run` over `items`."""
    wall, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(run, items))
    return time.perf_counter() - wall, time.process_time() - cpu


def models_alone(backend: Backend, items: list[tuple[str, bytes]], concurrency: int) -> tuple[float, float]:
    def analyse(item: tuple[str, bytes]) -> None:
        # The four features of one photo in parallel, as the Parallel state runs them.
        with ThreadPoolExecutor(len(REQUESTS)) as features:
            list(features.map(lambda op: backend.handle(op, {"Image": {"Bytes": item[1]}, **REQUESTS[op]}), REQUESTS))

    return timed(analyse, items, concurrency)


def executions(runtime: LocalRuntime, items: list[tuple[str, bytes]], concurrency: int) -> tuple[float, float]:
    def analyse(item: tuple[str, bytes]) -> None:
        upload = runtime.upload(item[1], item[0])
        result = runtime.run(runtime.object_created_event(upload))
        assert result.status == "SUCCEEDED" and result.output is not None, result.cause
        assert result.output["status"] == "SUCCEEDED", result.cause
        runtime.delete_upload(upload)
        runtime.forget_execution(result.arn)

    return timed(analyse, items, concurrency)


def main(count: int = 24, concurrency: int = 4) -> None:
    malloc.limit_arenas()
    items = photos(count)
    with LocalRuntime("local") as runtime:
        backend = runtime.backend.inner
        # Warm-up of both paths (models loaded, ASL parsed), then ROUNDS of each, interleaved; the fastest round
        # of each is the one least disturbed by anything else on the machine.
        executions(runtime, items[:2], 2)
        models_alone(backend, items[:2], 2)
        alone_rounds, whole_rounds = [], []
        for _ in range(ROUNDS):
            forget_faces()
            alone_rounds.append(models_alone(backend, items, concurrency))
            forget_faces()
            whole_rounds.append(executions(runtime, items, concurrency))
        alone, whole = min(alone_rounds), min(whole_rounds)
    print(f"\nfolder of {count} photos, concurrency {concurrency}, real models (wall, CPU)")
    print(f"models alone                          {alone[0] / count:8.3f} s/photo {alone[1] / count:8.3f} s CPU/photo")
    print(f"whole executions                      {whole[0] / count:8.3f} s/photo {whole[1] / count:8.3f} s CPU/photo")
    print(
        f"orchestration overhead                {100 * (whole[0] - alone[0]) / alone[0]:8.1f} % of model wall "
        f"{100 * (whole[1] - alone[1]) / alone[1]:8.1f} % of model CPU  (target <= 25 %)"
    )
    before = BEFORE["seconds per photo, real models"]
    before_overhead = 100 * (before - BEFORE["model seconds per photo"]) / BEFORE["model seconds per photo"]
    print(
        f"before (issue 13)                     {before:8.3f} s/photo, overhead {before_overhead:.0f} % of model time"
    )


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
