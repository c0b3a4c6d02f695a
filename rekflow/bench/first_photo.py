"""A user's first command: `rekflow analyze` on one photo, from a fresh process to its answer, step by step.

Runs `rekflow analyze --backend B --output DIR photo.jpg` in a new process ROUNDS times per backend
(fixture, local) and prints the median of each step, from the marks the process writes with
REKFLOW_TIMINGS (rekflow.local.timings): Python's start-up and the CLI's imports, the CLI's own
work before the deploy (arguments, input files, the vision backend), the deploy, the execution
(upload, workflow, results written), the runtime's teardown, and the rest until the process has
exited (the table, the interpreter's exit). The functions' cold starts (the Init Duration their
logs report) happen during the deploy and the execution and are listed apart. Beside the wall
seconds, the rekflow process's own CPU seconds in each step (its workers' are not counted): on a
machine shared with other work the wall clock stretches, the CPU much less.

Targets, on 2 cores: at most 2 s in all with the fixture backend; with the local models, at most
1.5 s more than the models themselves take in a fresh process (imports, load, the four Detect* on
the photo, one after the other: measured here too).

    python -m rekflow.bench first-photo [ROUNDS]
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rekflow.local.timings import ENVIRONMENT_VARIABLE
from rekflow.media.samples import SAMPLES

PHOTO = next(s for s in SAMPLES if s.name == "cat.jpg")
FIXTURE_TARGET_S = 2.0
LOCAL_OVER_MODELS_TARGET_S = 1.5
# (step, the mark it starts at, the mark it ends at); None: the process's start, or its exit.
STEPS = (
    ("start-up and imports", None, "cli"),
    ("arguments, inputs, backend", "cli", "deploy started"),
    ("deploy", "deploy started", "deployed"),
    ("execution", "deployed", "closing"),
    ("teardown", "closing", "closed"),
    ("output and exit", "closed", None),
)
# The models alone in a fresh process: what the local backend's run cannot go below.
_MODELS_ONLY = """
import sys, time
started = time.time()
from rekflow.vision.local import LocalModelsBackend
backend = LocalModelsBackend(lambda: None)
image = {"Bytes": open(sys.argv[1], "rb").read()}
for operation in ("DetectLabels", "DetectModerationLabels", "DetectText", "DetectFaces"):
    backend.handle(operation, {"Image": image})
print(time.time() - started)
"""


def one_run(backend: str, photo: Path, folder: Path) -> dict[str, Any]:
    """Wall and CPU seconds of each step of one `rekflow analyze` in a fresh process (CPU: the rekflow
    process's own, not its workers'), and its cold starts."""
    marks_file = folder / "timings.json"
    environment = {**os.environ, ENVIRONMENT_VARIABLE: str(marks_file)}
    # The console script a user runs (its __main__ is a path, as a user's is).
    rekflow = str(Path(sys.executable).with_name("rekflow"))
    command = [rekflow, "analyze", "--backend", backend, "--output", str(folder / "out")]
    cpu_before = _children_cpu()
    started = time.time()
    finished = subprocess.run(  # noqa: S603 - this venv's rekflow on a photo made here
        [*command, str(photo)], env=environment, capture_output=True, text=True, check=False
    )
    ended = time.time()
    cpu_total = _children_cpu() - cpu_before
    if finished.returncode != 0:
        raise RuntimeError(f"rekflow analyze exited {finished.returncode}: {finished.stderr[-2000:]}")
    document = json.loads(marks_file.read_text(encoding="utf-8"))
    wall = {name: at for name, at, _ in document["marks"]}
    cpu = {name: used for name, _, used in document["marks"]}
    seconds = {step: (wall[end] if end else ended) - (wall[start] if start else started) for step, start, end in STEPS}
    seconds["total"] = ended - started
    cpu_seconds = {
        step: (cpu[end] if end else cpu_total) - (cpu[start] if start else 0.0) for step, start, end in STEPS
    }
    cpu_seconds["total"] = cpu_total
    return {"seconds": seconds, "cpu": cpu_seconds, "cold_starts_ms": document.get("cold_starts_ms", {})}


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def models_only_seconds(photo: Path) -> float:
    """The local models' imports, load and four Detect* calls on `photo`, in a fresh process."""
    finished = subprocess.run(  # noqa: S603 - this interpreter on this module's own code
        [sys.executable, "-c", _MODELS_ONLY, str(photo)], capture_output=True, text=True, check=True
    )
    return float(finished.stdout.strip().splitlines()[-1])


def measure(backend: str, rounds: int, photo: Path) -> dict[str, Any]:
    """Median wall and CPU seconds of each step over `rounds` runs, and the cold starts of the median run."""
    runs = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory(prefix="rekflow-first-photo-") as folder:
            runs.append(one_run(backend, photo, Path(folder)))
    middle = sorted(runs, key=lambda run: run["seconds"]["total"])[len(runs) // 2]
    return {
        kind: {step: statistics.median(run[kind][step] for run in runs) for step in runs[0][kind]}
        for kind in ("seconds", "cpu")
    } | {"cold_starts_ms": middle["cold_starts_ms"]}


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    with tempfile.TemporaryDirectory(prefix="rekflow-first-photo-") as folder:
        photo = Path(folder) / "photo.jpg"
        photo.write_bytes(PHOTO.make())
        results = {backend: measure(backend, rounds, photo) for backend in ("fixture", "local")}
        models = statistics.median(models_only_seconds(photo) for _ in range(rounds))
    print(f"rekflow analyze on one photo ({PHOTO.name}), fresh process, median of {rounds} (seconds)")
    print(f"{'step':<30}{'fixture':>10}{'local':>10}{'CPU: fixture':>14}{'local':>10}")
    for step in results["fixture"]["seconds"]:
        print(
            f"{step:<30}"
            + "".join(f"{results[b]['seconds'][step]:10.2f}" for b in results)
            + f"{results['fixture']['cpu'][step]:14.2f}{results['local']['cpu'][step]:10.2f}"
        )
    fixture_total = results["fixture"]["seconds"]["total"]
    local_total = results["local"]["seconds"]["total"]
    print(f"{'the models alone':<30}{'':>10}{models:10.2f}")
    print(f"fixture: {fixture_total:.2f} s (target at most {FIXTURE_TARGET_S:.1f} s)")
    print(
        f"local:   {local_total:.2f} s = the models' {models:.2f} s + {local_total - models:.2f} s "
        f"(target at most + {LOCAL_OVER_MODELS_TARGET_S:.1f} s)"
    )
    for backend, result in results.items():
        starts = ", ".join(
            f"{function} {' + '.join(f'{ms:.0f}' for ms in times)} ms"
            for function, times in sorted(result["cold_starts_ms"].items())
        )
        print(f"cold starts, {backend} (Init Duration): {starts or 'none (functions in process)'}")


if __name__ == "__main__":
    main()
