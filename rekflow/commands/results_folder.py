"""The one place results land in a results folder, and leave it.

`rekflow analyze`, `replay` (through analyze) and `backfill FOLDER` write each document through
`write_results`: the document at `<output>/<key>.json`, a video's feature results under
`<output>/video-results/<asset id>/` (what the document only summarises: every label's and line's timestamps),
and the search index updated (`index_document` for anyone else who writes a document, a review decision).

A file that was deleted leaves the folder the same way (`forget`): its document and video results are
removed, not marked. They describe an object version that no longer exists; a kept document would be found by
the report and brought back by `rekflow index --rebuild`. What ran is still in the execution records
(`<output>/executions/`, `rekflow executions`).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rich.console import Console

from rekflow.media import sources as media_sources
from rekflow.search.documents import (
    VIDEO_RESULTS,
    assets_in,
    document_path,
    is_results_document,
    read_video_results,
    video_results_path,
)
from rekflow.search.facts import asset_of
from rekflow.search.index import IndexOutdated, IndexUnusable, SearchIndex, index_path


def open_index(output: Path) -> SearchIndex:
    """The results folder's search index; made from the documents already there when it does not exist yet (a
    folder analysed before the index existed) or was written by an older rekflow (the documents are what it is made
    from: an upgrade needs no command), and only then."""
    exists = index_path(output).exists()
    try:
        index = SearchIndex.open(output)
    except IndexOutdated:
        return rebuild_index(output)
    if not exists:
        index.put_many(assets_in(output))
    return index


def rebuild_index(output: Path) -> SearchIndex:
    """The index made again from the documents, replacing the old one only once the new one is whole."""
    target = index_path(output)
    fresh = target.with_name(target.name + ".new")
    for leftover in _index_files(fresh):
        leftover.unlink(missing_ok=True)
    with SearchIndex.build(fresh, assets_in(output)):
        pass
    for old in _index_files(target):
        old.unlink(missing_ok=True)
    os.replace(fresh, target)
    return SearchIndex(target)


def _index_files(path: Path) -> list[Path]:
    # SQLite's write-ahead log and its shared-memory file go with the database (https://www.sqlite.org/wal.html).
    return [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]


def write_results(
    runtime: Any, output: Path, key: str, results_key: str, index: SearchIndex | None
) -> tuple[Path, dict[str, Any]]:
    """Write an analysed object's document (and a video's feature results) from the local runtime's results
    bucket into the results folder, and index it; the document and its path."""
    document = runtime.results_document(results_key)
    path = document_path(output, key)
    earlier = _document(path)
    if earlier is not None and earlier["assetId"] != document["assetId"]:  # the version this one replaces
        shutil.rmtree(output / VIDEO_RESULTS / earlier["assetId"], ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")
    for feature, result in (document.get("features") or {}).items():
        location = result.get("resultsLocation")
        if location:  # s3://<results bucket>/video-results/<asset id>/<feature>.json
            kept = video_results_path(output, document["assetId"], feature)
            kept.parent.mkdir(parents=True, exist_ok=True)
            found = runtime.results_document(location.removeprefix("s3://").partition("/")[2])
            kept.write_text(json.dumps(found, ensure_ascii=False), encoding="utf-8")
    if index is not None:
        index_document(index, output, document)
    return path, document


def found(output: Path, err: Console) -> bool:
    """Whether `output` is a results folder (a folder); where it is not, says so on stderr."""
    if output.is_dir():
        return True
    err.print(f"rekflow: no results folder {output}/ (rekflow analyze writes one)", highlight=False)
    return False


def open_index_or_say(output: Path, err: Console) -> SearchIndex | None:
    """open_index, or None after saying on `err` why the index is left alone (the documents are still written)."""
    try:
        return open_index(output)
    except IndexUnusable as error:
        err.print(f"rekflow: the search index is not updated: {error}", markup=False, highlight=False, soft_wrap=True)
        return None


def forget_deleted_files(output: Path, folders: list[Path], err: Console) -> list[str]:
    """forget_deleted, saying on `err` which keys left the results folder."""
    if not folders or not (output / media_sources.INDEX_NAME).is_file():
        return []
    index = open_index_or_say(output, err)
    if index is None:
        return []
    with index:
        gone = forget_deleted(output, folders, index)
    if gone:
        shown = ", ".join(gone[:5]) + (f" and {len(gone) - 5} more" if len(gone) > 5 else "")
        err.print(
            f"rekflow: {len(gone)} file(s) deleted since they were analysed left the results: {shown}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    return gone


def index_document(index: SearchIndex, output: Path, document: dict[str, Any]) -> None:
    """Put a results document written into `output` into its index (replacing its key's earlier one)."""
    index.put(asset_of(document, read_video_results(output, document)))


def forget(output: Path, key: str, index: SearchIndex) -> bool:
    """Take an object key out of the results folder: its document, a video's feature results, its index rows.
    Whether there was anything to take."""
    path = document_path(output, key)
    removed = index.remove(key)
    document = _document(path)
    if document is not None:
        path.unlink()
        shutil.rmtree(output / VIDEO_RESULTS / document["assetId"], ignore_errors=True)
        removed = True
    return removed


def _document(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if is_results_document(data) else None


def keys_under(output: Path, paths: Iterable[Path]) -> dict[Path, list[str]]:
    """For each path (a file or a folder, there or deleted): the keys analysed from it, by the record of
    which file each key came from; a path no file was recorded for is taken as a key itself."""
    recorded = media_sources.read(output)
    found: dict[Path, list[str]] = {}
    for path in paths:
        target = path.resolve()
        keys = sorted(key for key, file in recorded.items() if file == target or file.is_relative_to(target))
        if not keys and document_path(output, path.as_posix()).is_file():
            keys = [path.as_posix()]
        found[path] = keys
    return found


def forget_deleted(output: Path, folders: Iterable[Path], index: SearchIndex) -> list[str]:
    """The keys analysed from files under these folders whose files are gone, forgotten; which they were."""
    recorded = media_sources.read(output)
    roots = [folder.resolve() for folder in folders]
    gone = sorted(
        key for key, file in recorded.items() if any(file.is_relative_to(root) for root in roots) and not file.exists()
    )
    return [key for key in gone if forget(output, key, index)]
