"""`make bench`: speed and memory of the local vision backend and of whole executions, side by side.

Reports model load time, ms per image for each feature, ms per whole image execution with the
local models and with the fixture backend (the ratio is the cost of the models inside the
workflow), the same for the 7-second sample video (five jobs, one frame a second), and peak
RSS. Targets (2-core CPU): four features under 500 ms per photo after warm-up; peak RSS under
1.5 GiB.
"""

from __future__ import annotations

import resource
import statistics
import time

from rekflow import malloc
from rekflow.local.runtime import LocalRuntime
from rekflow.samples import SAMPLES, sample_video
from rekflow.vision.local import LocalModelsBackend, forget_faces

PHOTOS = [s for s in SAMPLES if s.name.endswith(".jpg") and s.expected_status == "SUCCEEDED"] + \
         [s for s in SAMPLES if s.name.startswith("shop sign")]
REQUESTS = {"DetectLabels": {"MinConfidence": 70}, "DetectModerationLabels": {"MinConfidence": 70},
            "DetectText": {}, "DetectFaces": {}}
ROUNDS = 3


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def bench_features() -> float:
    backend = LocalModelsBackend(lambda: None)
    images = {s.name: s.make() for s in PHOTOS}
    started = time.perf_counter()
    for operation in REQUESTS:
        backend.handle(operation, {"Image": {"Bytes": images[PHOTOS[0].name]}, **REQUESTS[operation]})
    print(f"model load + first call     {_ms(time.perf_counter() - started)}")
    total = 0.0
    for operation, params in REQUESTS.items():
        times = []
        for _ in range(ROUNDS):
            for data in images.values():
                forget_faces()
                t = time.perf_counter()
                backend.handle(operation, {"Image": {"Bytes": data}, **params})
                times.append(time.perf_counter() - t)
        total += statistics.median(times)
        print(f"{operation:<27} {_ms(statistics.median(times))} per image (median of {len(times)})")
    print(f"four features, one by one   {_ms(total)} per image")
    return total


def bench_executions(backend: str) -> float:
    with LocalRuntime(backend) as runtime:
        uploads = [runtime.upload(s.make(), s.name) for s in PHOTOS]
        runtime.run(runtime.object_created_event(uploads[0]), name="warm-up")
        times = []
        for _ in range(ROUNDS):
            for number, upload in enumerate(uploads):
                forget_faces()
                t = time.perf_counter()
                result = runtime.run(runtime.object_created_event(upload), name=f"bench-{len(times)}-{number}")
                assert result.status == "SUCCEEDED", result.cause
                times.append(time.perf_counter() - t)
    return statistics.median(times)


def bench_video(backend: str) -> float:
    """Seconds for one whole video execution (video executions are long; one run each is enough)."""
    with LocalRuntime(backend) as runtime:
        upload = runtime.upload(sample_video(), "bench.mp4")
        t = time.perf_counter()
        result = runtime.run(runtime.object_created_event(upload))
        assert result.status == "SUCCEEDED" and result.output["status"] == "SUCCEEDED", result.output
        return time.perf_counter() - t


def main() -> None:
    malloc.limit_arenas()  # as `rekflow analyze` does
    print(f"rekflow bench: {len(PHOTOS)} sample images, {ROUNDS} rounds\n")
    bench_features()
    local = bench_executions("local")
    fixture = bench_executions("fixture")
    print(f"\nwhole image execution, local models   {_ms(local)} (four features in parallel)")
    print(f"whole image execution, fixture        {_ms(fixture)}")
    print(f"ratio local / fixture                 {local / fixture:8.2f}x")
    video_local, video_fixture = bench_video("local"), bench_video("fixture")
    print(f"\nwhole video execution (7 s), local     {video_local:8.2f} s (five jobs, 1 frame/s)")
    print(f"whole video execution (7 s), fixture   {video_fixture:8.2f} s")
    print(f"ratio local / fixture                 {video_local / video_fixture:8.2f}x")
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"peak RSS                              {peak_kib / 1024:8.1f} MiB")


if __name__ == "__main__":
    main()
