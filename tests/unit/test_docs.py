"""The documentation site: its generated pages are current, it builds with `mkdocs build --strict` (so every
link between pages resolves), and the commands its guides show in `console` blocks run.

A runnable block is a fenced block of language `console` whose lines start with `$ rekflow `. Each page's
blocks run in order, in a folder of their own holding the sample media as `my-samples/`, in-process through
`rekflow.cli.main`, with `--backend fixture` added to the commands that take a backend (canned answers,
instant); `<name>` stands for the newest execution's name. Each must exit 0. Commands that need AWS belong
in `bash` blocks, which are not run.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rekflow import PROJECT_ROOT
from rekflow.cli import main
from rekflow.docs import check
from rekflow.media.samples import write_samples

DOCS = PROJECT_ROOT / "docs"
CONSOLE_BLOCK = re.compile(r"^```console\n(.*?)^```", re.MULTILINE | re.DOTALL)
TAKES_A_BACKEND = {"analyze", "backfill", "replay"}


def runnable_commands(page: Path) -> list[str]:
    commands = []
    for block in CONSOLE_BLOCK.findall(page.read_text(encoding="utf-8")):
        commands += [line.removeprefix("$ ") for line in block.splitlines() if line.startswith("$ rekflow ")]
    return commands


PAGES = sorted(page for page in DOCS.rglob("*.md") if runnable_commands(page))


def test_generated_pages_are_current():
    stale = check()
    assert not stale, f"stale: {[str(p.relative_to(PROJECT_ROOT)) for p in stale]}: run python -m rekflow.docs"


def test_site_builds_strictly(tmp_path):
    # In a subprocess: mkdocs and its plugins warn in ways pytest's filterwarnings=error would turn into errors.
    built = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": str(Path(sys.executable).parent), "HOME": str(tmp_path)},
        check=False,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    assert (tmp_path / "site" / "index.html").is_file()


def test_the_guides_show_runnable_commands():
    shown = {page.relative_to(DOCS).as_posix() for page in PAGES}
    assert {"getting-started/offline.md", "guides/operate.md", "guides/backfill.md"} <= shown


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("samples") / "my-samples"
    write_samples(folder)
    return folder


def _newest_execution(capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert main(["executions", "--json", "--limit", "1"]) == 0
    return json.loads(capsys.readouterr().out.splitlines()[0])["name"]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(DOCS).as_posix())
def test_console_commands_run(page, samples, tmp_path, monkeypatch, capsys):
    shutil.copytree(samples, tmp_path / "my-samples")
    monkeypatch.chdir(tmp_path)
    for command in runnable_commands(page):
        argv = shlex.split(command)[1:]
        if "<name>" in argv:
            argv = [_newest_execution(capsys) if word == "<name>" else word for word in argv]
        if argv[0] in TAKES_A_BACKEND and "--backend" not in argv:
            argv[1:1] = ["--backend", "fixture"]
        assert main(argv) == 0, f"{page.name}: {command}\n{capsys.readouterr().err[-2000:]}"
