"""scripts/peer_corpora.py: a sdist whose sha256 differs from the pin is refused with a message naming it (pip's
--require-hashes, offline against a local folder of files), and only the image folder is unpacked, safely."""

from __future__ import annotations

import importlib.util
import io
import tarfile
from pathlib import Path

import pytest

from rekflow import PROJECT_ROOT

SPEC = importlib.util.spec_from_file_location("peer_corpora", PROJECT_ROOT / "scripts" / "peer_corpora.py")
assert SPEC and SPEC.loader
peer_corpora = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(peer_corpora)


def sdist(folder: Path, members: dict[str, bytes]) -> Path:
    path = folder / "pillow-11.3.0.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_a_sdist_whose_hash_differs_from_the_pin_is_refused(tmp_path, capfd):
    index = tmp_path / "index"
    index.mkdir()
    sdist(index, {"pillow-11.3.0/setup.py": b"", "pillow-11.3.0/Tests/images/a.png": b"x"})
    pinned = (("pillow", "11.3.0", "0" * 64, "Tests/images", "pillow"),)
    with pytest.raises(SystemExit, match=r"pillow==11\.3\.0 with sha256 0{64}"):
        peer_corpora.fetch(tmp_path / "corpora", pinned, ("--no-index", "--find-links", str(index)))
    assert "DO NOT MATCH THE HASHES" in capfd.readouterr().err
    assert not (tmp_path / "corpora" / "pillow" / "Tests").exists()


def test_only_the_image_folder_is_unpacked_and_nothing_outside_it(tmp_path):
    archive = sdist(
        tmp_path,
        {
            "pillow-11.3.0/setup.py": b"print('not unpacked')",
            "pillow-11.3.0/Tests/images/a.png": b"x",
            "pillow-11.3.0/Tests/images/sub/b.heic": b"y",
            "pillow-11.3.0/Tests/images/../../../escape.txt": b"z",
        },
    )
    with pytest.raises(tarfile.OutsideDestinationError):
        peer_corpora._unpack(archive, "Tests/images", tmp_path / "out")
    safe = sdist(tmp_path, {"pillow-11.3.0/setup.py": b"", "pillow-11.3.0/Tests/images/sub/b.heic": b"y"})
    peer_corpora._unpack(safe, "Tests/images", tmp_path / "out2")
    assert [p.relative_to(tmp_path / "out2").as_posix() for p in (tmp_path / "out2").rglob("*") if p.is_file()] == [
        "Tests/images/sub/b.heic"
    ]
