"""Which file on disk each results document was made from: an index beside the documents.

A results document names the object it describes by bucket and key, and the key is the file's path
relative to the folder `rekflow analyze` was given (or its bare name), so the document alone cannot
lead back to the file. `rekflow analyze` records key -> absolute path here after each run, and
`rekflow report` reads it to make thumbnails.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

# Not "*.json": every document is "<key>.json", so any name ending in .json could one day be a document's.
INDEX_NAME = "sources.jsonl"


def record(output: Path, sources: Iterable[tuple[str, Path]]) -> Path:
    """Add key -> file to the index in `output`, replacing earlier entries for the same keys.
    The index is rewritten whole through a temporary file, so a reader never sees half of it."""
    index = read(output)
    index.update({key: path.resolve() for key, path in sources})
    target = output / INDEX_NAME
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=output, prefix=".sources-", delete=False) as file:
        for key in sorted(index):
            file.write(json.dumps({"key": key, "file": str(index[key])}, ensure_ascii=False) + "\n")
    os.replace(file.name, target)
    return target


def read(output: Path) -> dict[str, Path]:
    """key -> file from the index in `output`; empty when there is none yet."""
    target = output / INDEX_NAME
    if not target.is_file():
        return {}
    entries = (json.loads(line) for line in target.read_text(encoding="utf-8").splitlines() if line.strip())
    return {entry["key"]: Path(entry["file"]) for entry in entries}
