"""moto's parsed ASL programs, kept on disk across runs, keyed by everything that decides the parse.

moto parses a definition with its pure-Python ANTLR parser when a state machine is created (to validate
it) and when an execution starts (to run it): half a second for MediaAnalysis on this machine, a quarter
of `rekflow analyze`'s answer on one photo. engine.py already parses each definition once per process;
this keeps the program (the tree of evaluation components the interpreter runs, not ANTLR's parse tree)
from one run to the next, so a user's next command starts without parsing.

Safe because:
- the key is a SHA-256 of the definition's text, moto's and Python's versions, and the source of every
  module of rekflow's moto patches (engine.py's change the parse; mediaconvert_sync.py's class is in the
  program): any change to any of them is another file, and a file for an old key is never read;
- a program holds no per-execution state (that lives in each execution's Environment), which is why
  engine.py can share one parse across executions; its classes are pickled by reference, so it
  unpickles only against the same code, which the key pins;
- unpickling runs code, as importing a .pyc does: the folder is created private (0700) under the user's
  cache folder, and a file is read only when it and its folder belong to this user and nobody else can
  write to them; anything else, or a file that fails to load, is parsed afresh (and rewritten);
- files are written whole (a temporary file renamed over), so a concurrent run reads an old file or the
  new one, never half of one.

REKFLOW_ASL_CACHE=0 turns it off (every run parses); REKFLOW_ASL_CACHE=DIR puts it elsewhere.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import stat
import sys
import tempfile
import threading
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

_FORMAT = b"rekflow asl program 1"
_KEEP = 32  # files kept: a write past that removes the oldest (programs of old code or old definitions)
_programs: dict[str, Any] = {}  # by definition, for this process
_lock = threading.Lock()


def folder() -> Path | None:
    """Where programs are kept, or None when the cache is off."""
    setting = os.environ.get("REKFLOW_ASL_CACHE", "")
    if setting == "0":
        return None
    if setting:
        return Path(setting)
    cache_home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache_home) / "rekflow" / "asl-programs"


def _code_fingerprint() -> bytes:
    """Versions and sources that decide what a parse produces."""
    digest = hashlib.sha256(_FORMAT)
    digest.update(version("moto").encode())
    digest.update(sys.version.encode())
    # Every patch module: engine.py's patches change what a parse makes (the Preprocessor's literals, the
    # MediaConvert integration's class from mediaconvert_sync.py), and a program holds their objects.
    for source in sorted(Path(__file__).resolve().parent.glob("*.py")):
        digest.update(source.name.encode() + source.read_bytes())
    return digest.digest()


_fingerprint: bytes | None = None


def key(definition: str) -> str:
    global _fingerprint
    if _fingerprint is None:
        _fingerprint = _code_fingerprint()
    return hashlib.sha256(_fingerprint + definition.encode()).hexdigest()


def _private(path: Path) -> bool:
    """Owned by this user, and nobody else may write to it."""
    try:
        status = path.lstat()
    except OSError:
        return False
    return status.st_uid == os.getuid() and not status.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _read(where: Path, name: str) -> Any:
    path = where / f"{name}.pickle"
    if not (_private(where) and _private(path)):
        return None
    try:
        return pickle.loads(path.read_bytes())  # noqa: S301 - see the module's docstring
    except Exception:  # an unreadable or stale file: parsed afresh and written again
        return None


def _write(where: Path, name: str, program: Any) -> None:
    with contextlib.suppress(OSError, pickle.PicklingError, RecursionError, TypeError):
        where.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _private(where):
            return
        data = pickle.dumps(program, protocol=pickle.HIGHEST_PROTOCOL)
        handle, temporary = tempfile.mkstemp(dir=where, prefix=f".{name}.")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            os.replace(temporary, where / f"{name}.pickle")
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
        _prune(where)


def _prune(where: Path) -> None:
    files = sorted(where.glob("*.pickle"), key=lambda path: path.stat().st_mtime, reverse=True)
    for stale in files[_KEEP:]:
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()


def program_of(definition: str, parse: Callable[[str], tuple[Any, Any]]) -> Any:
    """The evaluation program of `definition`: this process's, the disk's, or `parse(definition)[0]`
    (which raises moto's parse errors as they are)."""
    with _lock:  # ten executions starting at once wait for one parse instead of making ten
        if definition in _programs:
            return _programs[definition]
        where = folder()
        name = key(definition) if where is not None else ""
        program = _read(where, name) if where is not None else None
        if program is None:
            program = parse(definition)[0]
            if where is not None:
                _write(where, name, program)
        if len(_programs) >= 16:
            _programs.clear()
        _programs[definition] = program
        return program
