"""The peer corpora: the test images of Pillow's and pillow-heif's sdists, unpacked by `make corpora`
(scripts/peer_corpora.py, sha256 pinned) into .cache/corpora.

`make test` fetches them first and sets REKFLOW_DEPLOY_GATE=1 (CI sets CI), so a missing corpus fails the tests
that read it; a plain `pytest` on a checkout without them skips those tests, naming the target.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rekflow import PROJECT_ROOT

CORPORA = PROJECT_ROOT / ".cache" / "corpora"
PILLOW_IMAGES = CORPORA / "pillow" / "Tests" / "images"
PILLOW_HEIF_IMAGES = CORPORA / "pillow-heif" / "tests" / "images"


def corpus(folder: Path) -> Path:
    """`folder`, or a skip (plain pytest) / failure (`make test`, CI) naming `make corpora`."""
    if folder.is_dir():
        return folder
    message = f"{folder.relative_to(PROJECT_ROOT)} is missing: run `make corpora` (make test does it first)"
    if os.environ.get("REKFLOW_DEPLOY_GATE") == "1" or os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def pillow_image(name: str) -> bytes:
    return (corpus(PILLOW_IMAGES) / name).read_bytes()


def pillow_heif_image(name: str) -> bytes:
    return (corpus(PILLOW_HEIF_IMAGES) / name).read_bytes()
