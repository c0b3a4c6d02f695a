"""A read-only, seekable file over ranged reads, for header parsers that want a file object.

Pillow and ebmlite read a format's header from a file object and seek where the format says
(a TIFF's IFD, a Matroska segment's Tracks). Over this object each read is a ranged GET of at
least `block` bytes, so parsing a header costs a few requests, not a download of the object.
"""

from __future__ import annotations

import io

from media_format import ReadAt, head_first


class RangedFile(io.RawIOBase):
    """The object's bytes, read on demand through `read_at`; `size` is the object's length."""

    def __init__(self, read_at: ReadAt, size: int, head: bytes = b"") -> None:
        super().__init__()
        self._read_at, self._size = head_first(head, read_at), size  # the bytes already read cost no request
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        wanted = min(len(buffer), self._size - self._position)
        if wanted <= 0:
            return 0
        data = self._read_at(self._position, wanted)
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)


def ranged_file(read_at: ReadAt, size: int, head: bytes = b"", block: int = 256 * 1024) -> io.BufferedReader:
    """RangedFile buffered in `block`-byte reads: parsers read a few bytes at a time."""
    return io.BufferedReader(RangedFile(read_at, size, head), buffer_size=block)
