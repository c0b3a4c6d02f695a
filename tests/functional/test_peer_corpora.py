"""`rekflow analyze` over test images nobody here wrote: Pillow 11.3.0's and pillow-heif 1.8.1's (issue 19 item 5).

The corpora are the image folders of the two sdists, fetched by `make corpora` (scripts/peer_corpora.py, sha256
pinned). `make test` analyses a subset that reaches every decoder path (`subset`): the smallest file of each
format family (fuzzer crash, timeout and oom files, truncated, broken, invalid, bad and empty ones apart from
the rest), plus the files named in issue 19. `make corpus` (REKFLOW_CORPUS=whole) analyses every
file and prints the figures: rows by status, wall time, peak RSS.

Each run is `rekflow analyze --json` in a process of its own, once with the fixture backend and once with the
local one (the real decoders and models, where crashes live). Held: exit status 0 (a crash of the CLI would be
negative), one row per file, no FAILED row, a reason code and a message on every REJECTED one.
"""

from __future__ import annotations

import collections
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from media_format import sniff
from tests.corpora import PILLOW_HEIF_IMAGES, PILLOW_IMAGES, corpus

WHOLE = os.environ.get("REKFLOW_CORPUS") == "whole"
KIND = re.compile(r"crash|timeout|oom|ossfuzz|truncat|broken|corrupt|invalid|bad|empty")
# Named in issue 19: the HEIC whose Exif item type is not UTF-8 (pi-heif 1.4.0 died on it), the APNGs whose
# frame sequence is broken, and the fax page whose text was over the payload limit.
NAMED = (
    "pillow-heif/heif_special/invalid_metadata_type.heic",
    "pillow/apng/chunk_no_fctl.png",
    "pillow/apng/syntax_num_frames_zero.png",
    "pillow/pport_g4.tif",
)
REASON = re.compile(r"^[A-Z_]+$")
RUN_SECONDS = 3000  # the whole corpus with the local models takes about 10 minutes on 2 cores


def corpus_files() -> dict[str, Path]:
    """key as `rekflow analyze` names it (relative to the folder laid out below) -> the file."""
    files: dict[str, Path] = {}
    for name, root in (("pillow", corpus(PILLOW_IMAGES)), ("pillow-heif", corpus(PILLOW_HEIF_IMAGES))):
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root)
            if path.is_file() and not any(part.startswith(".") for part in relative.parts):
                files[f"{name}/{relative.as_posix()}"] = path
    return files


def subset(files: dict[str, Path], backend: str) -> dict[str, Path]:
    """The named files and one file of each family: for the fixture backend, families by (corpus and folder,
    extension, kind); for the local one, by (format as Validate sniffs it, damaged or not) among the formats that
    reach a decoder or a model. The rest are refused by Validate's header readers, which are the
    same code whichever backend runs, and the local models' time goes to the files that reach them."""
    families: dict[tuple[str, ...], list[str]] = {}
    for key, path in files.items():
        found = KIND.search(path.name.lower())
        if backend == "fixture":
            family: tuple[str, ...] = (key.rsplit("/", 1)[0], path.suffix.lower(), found.group(0) if found else "")
        else:
            with path.open("rb") as head:
                sniffed = sniff(head.read(64))
            if not (sniffed.supported or sniffed.convertible) or sniffed.media_type != "image":
                continue
            family = (sniffed.format, "damaged" if found else "")
        families.setdefault(family, []).append(key)
    chosen = set(NAMED)
    for family, keys in families.items():
        keys.sort(key=lambda key: (files[key].stat().st_size, key))
        # The smallest damaged file; of the whole ones, for the local models, a middle-sized one: the smallest
        # whole file of a format is often a degenerate one (a 1x1 image, a declared pixel bomb).
        typical = backend == "local" and family[-1] == ""
        chosen.add(keys[len(keys) // 2] if typical else keys[0])
    return {key: files[key] for key in sorted(chosen)}


def lay_out(files: dict[str, Path], folder: Path) -> None:
    """Links to the corpus files, named by key, so that one `rekflow analyze` reads them all."""
    for key, path in files.items():
        link = folder / key
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(path)


def analyze(folder: Path, output: Path, backend: str) -> tuple[int, list[dict], float, str]:
    command = [sys.executable, "-c", "import sys; from rekflow.cli import main; sys.exit(main(sys.argv[1:]))"]
    command += ["analyze", "--json", "--backend", backend, "--output", str(output), str(folder)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=RUN_SECONDS, check=False)  # noqa: S603
    seconds = time.perf_counter() - started
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return done.returncode, rows, seconds, done.stderr[-4000:]


@pytest.mark.parametrize("backend", ["fixture", pytest.param("local", marks=pytest.mark.models)])
def test_rekflow_analyze_over_pillow_s_and_pillow_heif_s_test_images(tmp_path, backend):
    files = corpus_files()
    chosen = files if WHOLE else subset(files, backend)
    lay_out(chosen, tmp_path / "corpus")
    code, rows, seconds, stderr = analyze(tmp_path / "corpus", tmp_path / "out", backend)

    assert code == 0, f"rekflow analyze exited {code}:\n{stderr}"
    keys = [row["key"] for row in rows]
    assert sorted(keys) == sorted(chosen), "one row per file"
    by_key = {row["key"]: row for row in rows}
    failed = {key: row["message"] for key, row in by_key.items() if row["status"] == "FAILED"}
    assert not failed, failed
    unexplained = [
        key
        for key, row in by_key.items()
        if row["status"] == "REJECTED" and not (REASON.match(row["reason"] or "") and row["message"])
    ]
    assert not unexplained, "a REJECTED row without a reason code and a message"
    # pillow-heif 1.8.1 decodes the HEIC that crashed pi-heif 1.4.0 (a 16x16 image; its Exif item is ignored).
    assert by_key[NAMED[0]]["status"] == "SUCCEEDED", by_key[NAMED[0]]
    # The APNGs' frame sequences are broken after the first frame, which is what is analysed; had a Detect* call
    # answered InvalidImageFormatException, the branches would catch it (PARTIAL), never FAILED.
    for key in NAMED[1:3]:
        assert by_key[key]["status"] in ("SUCCEEDED", "PARTIAL"), by_key[key]
    assert by_key[NAMED[3]]["status"] == "SUCCEEDED", by_key[NAMED[3]]

    # A PARTIAL result is a SUCCEEDED row with "partial" (some features failed, as Rekognition answered them).
    statuses = collections.Counter(row["status"] + (" (partial)" if row.get("partial") else "") for row in rows)
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest process of the run
    print(
        f"\npeer corpora ({'whole' if WHOLE else 'subset'}, {backend} backend): {len(rows)} files, "
        f"{dict(sorted(statuses.items()))}, {seconds:.0f} s, peak RSS {peak_mib:.0f} MiB "
        f"(reasons: {dict(collections.Counter(row['reason'] for row in rows if row['reason']).most_common())})"
    )
