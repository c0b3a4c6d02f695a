"""GET /thumbnail and GET /media: a results folder's analysed files, found only through what the library knows
(FolderLibrary.known_file: the key in the index at that version, its recorded file, its size unchanged). A
stack's media never pass through here: the page fetches them from S3 by presigned URL.

/media answers byte ranges (RFC 9110, section 14: https://www.rfc-editor.org/rfc/rfc9110#section-14): a
browser's <video> asks for ranges to seek, and Chromium needs them to start a video at `#t=` without reading
it all."""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Iterator
from pathlib import Path

from rekflow.commands.serve.app import App
from rekflow.commands.serve.http import Request, Response
from rekflow.commands.serve.library import FolderLibrary, MediaFile

CHUNK = 256 * 1024
_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


def _known(app: App, request: Request) -> MediaFile | None:
    if not isinstance(app.library, FolderLibrary):
        return None
    return app.library.known_file(request.arg("key"), request.arg("asset"))


def thumbnail(app: App, request: Request) -> Response:
    found = _known(app, request)
    if found is None or not isinstance(app.library, FolderLibrary):
        return Response.text(404, "no such analysed file")
    try:
        at = max(0.0, float(request.arg("at", "0")))
    except ValueError:
        return Response.text(400, "at: seconds")
    try:
        jpeg = app.library.thumbnail(found, at)
    except (OSError, ValueError, RuntimeError) as error:  # NoPreview, NoFrame, Pillow's file errors
        return Response.text(404, f"no thumbnail: {error}")
    return Response(200, "image/jpeg", jpeg, {"Cache-Control": "private, max-age=300"})


def media(app: App, request: Request) -> Response:
    found = _known(app, request)
    if found is None:
        return Response.text(404, "no such analysed file")
    size = found.path.stat().st_size
    kind = mimetypes.guess_type(found.path.name)[0] or "application/octet-stream"
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, max-age=300"}
    wanted = request.headers.get("range")
    if wanted is None:
        headers["Content-Length"] = str(size)
        return Response(200, kind, headers=headers, stream=_chunks(found.path, 0, size))
    span = _span(wanted, size)
    if span is None:
        return Response(416, headers={"Content-Range": f"bytes */{size}"})
    start, end = span
    headers |= {"Content-Range": f"bytes {start}-{end - 1}/{size}", "Content-Length": str(end - start)}
    return Response(206, kind, headers=headers, stream=_chunks(found.path, start, end))


def _span(header: str, size: int) -> tuple[int, int] | None:
    """[start, end) of one `bytes=` range, or None when it is not satisfiable (several ranges are not served)."""
    match = _RANGE.match(header.strip())
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.groups()
    if first == "":  # the last N bytes
        start, end = max(0, size - int(last)), size
    else:
        start, end = int(first), min(size, int(last) + 1) if last else size
    return (start, end) if start < end else None


def _chunks(path: Path, start: int, end: int) -> Iterator[bytes]:
    with path.open("rb") as file:
        file.seek(start)
        left = end - start
        while left > 0:
            chunk = file.read(min(CHUNK, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk
