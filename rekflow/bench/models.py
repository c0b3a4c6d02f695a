"""`make bench`: speed and memory of the local vision backend and of whole executions, side by side.

Reports model load time, ms per image for each feature, ms per whole image execution with the
local models and with the fixture backend (the ratio is the cost of the models inside the
workflow), the same for the 7-second sample video (five jobs, one frame a second), and peak
RSS. Then the same photo as a phone takes it (12 MP) side by side with a 1 MP copy: ms per
feature and per whole execution. Targets (2-core CPU): four features under 500 ms per sample
photo after warm-up and at most 1 s for a 12 MP photo; peak RSS under 1.5 GiB.
"""

from __future__ import annotations

import resource
import statistics
import sys
import time

from rekflow.local import malloc
from rekflow.local.runtime import LocalRuntime
from rekflow.media.phone_photos import PHONE_SIZE, astronauts_photo
from rekflow.media.samples import SAMPLES, sample_video
from rekflow.vision.local import LocalModelsBackend, forget_faces

PHOTOS = [s for s in SAMPLES if s.name.endswith(".jpg") and s.expected_status == "SUCCEEDED"] + [
    s for s in SAMPLES if s.name.startswith("shop sign")
]
REQUESTS = {
    "DetectLabels": {"MinConfidence": 70},
    "DetectModerationLabels": {"MinConfidence": 70},
    "DetectText": {},
    "DetectFaces": {},
}
ROUNDS = 3
# The 12 MP comparison: the same scene (astronauts on coffee) at about 1 MP and at a phone's 4000x3000.
SIZES = {"1 MP": (1152, 864), "12 MP": PHONE_SIZE}


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


def bench_sizes() -> dict[str, float]:
    """ms per feature (wall, and CPU over all threads) for one scene at each of SIZES, side by side; the four
    features run in turn on each photo, sharing its decoded pixels and faces as the workflow's branches do."""
    backend = LocalModelsBackend(lambda: None)
    photos = {name: astronauts_photo(size) for name, size in SIZES.items()}
    for data in photos.values():  # warm-up: models loaded, first-call allocations done
        for operation, params in REQUESTS.items():
            backend.handle(operation, {"Image": {"Bytes": data}, **params})
    order = ("DetectFaces", "DetectLabels", "DetectModerationLabels", "DetectText")
    times: dict[str, dict[str, list[tuple[float, float]]]] = {name: {op: [] for op in order} for name in SIZES}
    for _ in range(ROUNDS):
        for name, data in photos.items():
            forget_faces()
            for operation in order:
                wall, cpu = time.perf_counter(), time.process_time()
                backend.handle(operation, {"Image": {"Bytes": data}, **REQUESTS[operation]})
                times[name][operation].append((time.perf_counter() - wall, time.process_time() - cpu))

    medians = {
        n: {
            op: (statistics.median(w for w, _ in times[n][op]), statistics.median(c for _, c in times[n][op]))
            for op in order
        }
        for n in SIZES
    }
    medians = {
        n: {**by_op, "four features": (sum(w for w, _ in by_op.values()), sum(c for _, c in by_op.values()))}
        for n, by_op in medians.items()
    }
    print(
        f"\nper feature, one photo (wall, CPU; median of {ROUNDS}; JPEG of "
        + ", ".join(f"{len(photos[n]) / 1e6:.1f} MB" for n in SIZES)
        + ")"
    )
    print(" " * 28 + "".join(f"{f'{n} {w}x{h}':>24}" for n, (w, h) in SIZES.items()))
    for row in (*order, "four features"):
        print(
            f"{row:<27} "
            + "".join(f"{medians[n][row][0] * 1000:10.0f} ms {medians[n][row][1] * 1000:8.0f} ms" for n in SIZES)
        )
    return {n: medians[n]["four features"][0] for n in SIZES}


def bench_executions(backend: str, photos: dict[str, bytes] | None = None) -> float:
    with LocalRuntime(backend) as runtime:
        photos = photos or {s.name: s.make() for s in PHOTOS}
        uploads = [runtime.upload(data, name) for name, data in photos.items()]
        runtime.run(runtime.object_created_event(uploads[0]), name="warm-up")
        times: list[float] = []
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
        assert result.status == "SUCCEEDED" and result.output is not None, result.output
        assert result.output["status"] == "SUCCEEDED", result.output
        return time.perf_counter() - t


def main(only_sizes: bool = False) -> None:
    malloc.limit_arenas()  # as `rekflow analyze` does
    if only_sizes:  # python -m rekflow.bench sizes: the 12 MP comparison alone
        bench_sizes()
        for name, size in SIZES.items():
            execution = bench_executions("local", {f"{name}.jpg": astronauts_photo(size)})
            print(f"whole image execution, {name:<5} local   {_ms(execution)} (four features in parallel)")
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS                              {peak_mib:8.1f} MiB")
        return
    print(f"rekflow bench: {len(PHOTOS)} sample images, {ROUNDS} rounds\n")
    bench_features()
    local = bench_executions("local")
    fixture = bench_executions("fixture")
    print(f"\nwhole image execution, local models   {_ms(local)} (four features in parallel)")
    print(f"whole image execution, fixture        {_ms(fixture)}")
    print(f"ratio local / fixture                 {local / fixture:8.2f}x")
    bench_sizes()
    for name, size in SIZES.items():
        execution = bench_executions("local", {f"{name}.jpg": astronauts_photo(size)})
        print(f"whole image execution, {name:<5} local   {_ms(execution)} (four features in parallel)")
    video_local, video_fixture = bench_video("local"), bench_video("fixture")
    print(f"\nwhole video execution (7 s), local     {video_local:8.2f} s (five jobs, 1 frame/s)")
    print(f"whole video execution (7 s), fixture   {video_fixture:8.2f} s")
    print(f"ratio local / fixture                 {video_local / video_fixture:8.2f}x")
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"peak RSS                              {peak_kib / 1024:8.1f} MiB")


if __name__ == "__main__":
    main(sys.argv[1:] == ["sizes"])
