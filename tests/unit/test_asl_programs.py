"""moto's parsed ASL programs kept on disk (rekflow.local.moto_patches.asl_programs): a program read back is the
program a parse makes, a file is read only from a private folder, a damaged one is parsed afresh, and the key
follows the definition."""

from __future__ import annotations

import enum
import os
from pathlib import Path
from typing import Any

import pytest
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

from rekflow import TEMPLATE_PATH
from rekflow.local.moto_patches import asl_programs, engine
from rekflow.local.stack import render_definition
from rekflow.local.template import Template

TEMPLATE = Template.load(TEMPLATE_PATH)


def _definition(logical_id: str = "BackfillStateMachine") -> str:
    return render_definition(TEMPLATE, logical_id)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache folder, and no program of this process's."""
    folder = tmp_path / "asl-programs"
    monkeypatch.setenv("REKFLOW_ASL_CACHE", str(folder))
    monkeypatch.setattr(asl_programs, "_programs", {})
    engine._load_integrations()  # what a parse imports, as under the local runtime
    return folder


class Parses:
    """AmazonStateLanguageParser.parse, counted."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, definition: str) -> Any:
        self.count += 1
        return AmazonStateLanguageParser.parse(definition)


def _shape(value: Any, seen: dict[int, int] | None = None) -> Any:
    """A program's object graph as plain data: types, values and the sharing between its nodes."""
    seen = {} if seen is None else seen
    if isinstance(value, (str, int, float, bool, type(None), enum.Enum)):
        return value
    if id(value) in seen:
        return ("shared", seen[id(value)])
    seen[id(value)] = len(seen)
    if isinstance(value, dict):
        return {repr(k): _shape(v, seen) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [type(value).__name__, *[_shape(v, seen) for v in value]]
    if isinstance(value, (set, frozenset)):
        return sorted(repr(v) for v in value)
    if hasattr(value, "__dict__"):
        return [type(value).__qualname__, _shape(vars(value), seen)]
    return repr(value)


@pytest.mark.parametrize("logical_id", ["MediaAnalysisStateMachine", "BackfillStateMachine"])
def test_a_program_read_back_is_the_program_a_parse_makes(cache, monkeypatch, logical_id):
    definition = _definition(logical_id)
    parses = Parses()
    written = asl_programs.program_of(definition, parses)
    # A new process (no program of its own) reads the file instead of parsing
    monkeypatch.setattr(asl_programs, "_programs", {})
    read = asl_programs.program_of(definition, parses)
    assert parses.count == 1 and read is not written
    assert _shape(read) == _shape(AmazonStateLanguageParser.parse(definition)[0])


def test_the_folder_and_its_files_are_private_to_the_user(cache):
    asl_programs.program_of(_definition(), Parses())
    (written,) = cache.glob("*.pickle")
    assert cache.stat().st_mode & 0o777 == 0o700
    assert written.stat().st_mode & 0o077 == 0  # mkstemp's 0600


@pytest.mark.parametrize("loosen", ["folder", "file"])
def test_a_program_others_could_have_written_is_not_read(cache, monkeypatch, loosen):
    definition = _definition()
    asl_programs.program_of(definition, Parses())
    (written,) = cache.glob("*.pickle")
    os.chmod(cache if loosen == "folder" else written, 0o777 if loosen == "folder" else 0o666)
    monkeypatch.setattr(asl_programs, "_programs", {})
    parses = Parses()
    asl_programs.program_of(definition, parses)
    assert parses.count == 1  # parsed, not unpickled


def test_a_damaged_file_is_parsed_afresh_and_written_again(cache, monkeypatch):
    definition = _definition()
    asl_programs.program_of(definition, Parses())
    (written,) = cache.glob("*.pickle")
    written.write_bytes(b"not a pickle")
    monkeypatch.setattr(asl_programs, "_programs", {})
    parses = Parses()
    program = asl_programs.program_of(definition, parses)
    assert parses.count == 1 and program is not None
    assert written.read_bytes() != b"not a pickle"


def test_the_key_follows_the_definition_and_the_cache_can_be_turned_off(cache, monkeypatch):
    definition = _definition()
    assert asl_programs.key(definition) != asl_programs.key(definition + " ")
    monkeypatch.setenv("REKFLOW_ASL_CACHE", "0")
    asl_programs.program_of(definition, Parses())
    assert not Path(cache).exists()


def test_loading_moto_s_integrations_does_not_import_moto_ec2():
    # In a fresh interpreter: importing every integration once imported all of moto.ec2 through moto.batch's
    # __init__; moto.batch's models still load when something asks for them.
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from rekflow.local.moto_patches import engine\n"
        "engine._load_integrations()\n"
        "print('moto.ec2' in sys.modules)\n"
        "import moto.batch\n"
        "print(type(moto.batch.batch_backends).__name__, 'moto.ec2' in sys.modules)\n"
    )
    finished = subprocess.run(  # noqa: S603 - this interpreter on the code above
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert finished.stdout.split() == ["False", "BackendDict", "True"]
