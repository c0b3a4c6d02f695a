"""`make bench-folder`: memory of `rekflow analyze` on a folder of many images.

Writes IMAGES distinct photos (crops of the bundled samples at 320 to 1024 px, or with SIZE
`12mp` at 4000x3000 as a phone takes them: grain, and every fourth one stored sideways with an
EXIF orientation), runs the command in this process on them with the real models, and samples
the resident set size every half second. Reports RSS once a tenth of the files are done and at
the end, side by side: memory is bounded when the end is not far above the tenth.

    python -m rekflow.bench folder [IMAGES] [BACKEND] [SIZE]    # SIZE: small (default) or 12mp
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from rekflow import cli
from rekflow.local import malloc
from rekflow.media.phone_photos import PHONE_SIZE, encode_jpeg
from rekflow.media.samples import SAMPLES

SAMPLE_SECONDS = 0.5
SIZES = ("small", "12mp")


def rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def write_photos(folder: Path, count: int, size: str = "small") -> None:
    """`count` different JPEGs: random crops of the sample photos, resized (to 12 MP phone photos with `12mp`)."""
    rng = np.random.default_rng(1000)
    photos = [
        Image.open(io.BytesIO(s.make())).convert("RGB")
        for s in SAMPLES
        if s.name.endswith(".jpg") and s.expected_status == "SUCCEEDED"
    ]
    for number in range(count):
        photo = photos[rng.integers(len(photos))]
        width, height = photo.size
        left, top = int(rng.integers(width // 4)), int(rng.integers(height // 4))
        crop = photo.crop((left, top, left + width * 3 // 4, top + height * 3 // 4))
        if size == "12mp":
            # Stretched to 4000x3000; every fourth one a 3000x4000 portrait stored sideways with EXIF
            # orientation 6 (turn 90° clockwise to view), as a phone held upright stores it.
            sideways = number % 4 == 3
            photo_12mp = crop.resize(PHONE_SIZE[::-1] if sideways else PHONE_SIZE, Image.Resampling.BICUBIC)
            if sideways:
                photo_12mp = photo_12mp.transpose(Image.Transpose.ROTATE_90)
            data = encode_jpeg(photo_12mp, rng, orientation=6 if sideways else 1)
            (folder / f"photo-{number:04d}.jpg").write_bytes(data)
            continue
        side = int(rng.integers(320, 1025))
        crop.resize((side, side * crop.height // crop.width)).save(folder / f"photo-{number:04d}.jpg", quality=90)


def main(count: int = 1000, backend: str = "local", size: str = "small") -> None:
    if size not in SIZES:
        raise SystemExit(f"SIZE is one of {', '.join(SIZES)}, not {size!r}")
    malloc.limit_arenas()  # before the sampler thread; `rekflow analyze` itself does it too
    with tempfile.TemporaryDirectory(prefix="rekflow-bench-folder-") as scratch:
        photos, output = Path(scratch) / "photos", Path(scratch) / "results"
        photos.mkdir()
        # Made in a child process: twenty 12 MP images decoded and encoded here would leave their freed memory
        # in this process's heap, and the RSS below would measure the bench's photo making, not rekflow.
        maker = multiprocessing.get_context("spawn").Process(target=write_photos, args=(photos, count, size))
        maker.start()
        maker.join()
        if maker.exitcode != 0:
            raise SystemExit(f"making the photos failed (exit {maker.exitcode})")
        megabytes = sum(p.stat().st_size for p in photos.iterdir()) / 1e6
        samples: list[tuple[int, float]] = []  # (files done, RSS MiB)
        done = threading.Event()

        def sample() -> None:
            while not done.wait(SAMPLE_SECONDS):
                finished = sum(1 for _ in output.glob("*.json")) if output.exists() else 0
                samples.append((finished, rss_mib()))

        sampler = threading.Thread(target=sample, daemon=True)
        started = time.perf_counter()
        sampler.start()
        with open(os.devnull, "w", encoding="utf-8") as quiet, contextlib.redirect_stdout(quiet):
            exit_code = cli.main(["analyze", "--json", "--backend", backend, "--output", str(output), str(photos)])
        done.set()
        sampler.join()
        seconds = time.perf_counter() - started
    tenth = next((rss for finished, rss in samples if finished >= count // 10), samples[0][1])
    end = samples[-1][1]
    print(
        f"rekflow analyze on {count} {size} photos ({megabytes / count:.1f} MB each), backend {backend}: "
        f"exit {exit_code}, {seconds:.0f} s "
        f"({seconds / count * 1000:.0f} ms per photo)"
    )
    print(f"RSS after {count // 10:>4} photos   {tenth:8.1f} MiB")
    print(f"RSS after {count:>4} photos   {end:8.1f} MiB")
    print(f"peak RSS                {max(rss for _, rss in samples):8.1f} MiB")
    print(
        f"growth, last 90%        {(end - tenth) / (count - count // 10) * 100:8.1f} MiB per 100 photos "
        f"(end / tenth {end / tenth:.2f}x)"
    )


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 1000,
        sys.argv[2] if len(sys.argv) > 2 else "local",
        sys.argv[3] if len(sys.argv) > 3 else "small",
    )
