"""The primary image of a HEIF/HEIC/AVIF file, read from its boxes in pure Python: no decoder sees the bytes.

A HEIF file (ISO/IEC 23008-12) is an ISO-BMFF box sequence (ISO/IEC 14496-12): `ftyp` names the brands,
`meta` holds the items. In `meta`: `pitm` names the primary item, `iinf` lists the items (`infe`: id, type
such as hvc1, av01 or grid, and the hidden flag), `iref` links them (thumbnails `thmb`, auxiliary images
`auxl`, grid tiles `dimg`), and `iprp` holds the properties (`ipco`, in order) and which item has which
(`ipma`, 1-based indexes into `ipco`). The size of an item is its `ispe` property; `clap` crops it and
`irot` turns it (90 or 270 degrees swap the sides), in the order `ipma` lists them, as libheif applies
them (libheif/context.cc, interpret_heif_file_images); `imir` mirrors it. An AVIF image sequence (brand
avis) may have no `meta` at all: its size is then its first track's `tkhd`.

Every length is checked against the bytes that hold it, nesting and box and item counts are capped, and
anything malformed ends in HeifBoxError, never another exception.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

# Reads `length` bytes at `offset`; returns fewer at the end of the object.
ReadAt = Callable[[int, int], bytes]

# The item types libheif makes an image of (image-items/image_item.cc, alloc_for_infe_box).
IMAGE_ITEM_TYPES = {
    "hvc1", "av01", "avc1", "vvc1", "jpeg", "j2k1", "unci", "mski", "grid", "iovl", "iden", "tili", "lhv1", "mime",
}  # fmt: skip
MAX_TOP_LEVEL_BOXES = 1024  # ftyp, meta, mdat, free... a real file has a handful
MAX_META_BYTES = 8 * 1024 * 1024  # metadata lives in mdat or idat; a meta box of megabytes of item lists is hostile
MAX_MOOV_BYTES = 8 * 1024 * 1024
MAX_BOXES = 20_000  # boxes in one meta (ipco properties, iref references, infe entries)
MAX_ITEMS = 10_000  # items in iinf, entries in ipma and references in one iref box
MAX_EXTENTS = 65_536  # extents in iloc, all items together (libheif allows 32768 per item)
MAX_DEPTH = 8


class HeifBoxError(Exception):
    """The bytes are not a HEIF container this reader can follow; `truncated` when the container is whole but an
    item's data, where `iloc` places it, runs past the end of the file (libheif: "Unexpected end of file")."""

    def __init__(self, message: str, truncated: bool = False) -> None:
        super().__init__(message)
        self.truncated = truncated


@dataclass(frozen=True)
class HeifInfo:
    major_brand: str
    compatible_brands: tuple[str, ...]
    item_type: str  # the primary item's type: hvc1, av01, grid, ... ("" for a sequence without items)
    width: int  # as shown: after clap and irot, as libheif reports the image's size
    height: int
    stored_width: int  # the primary item's ispe
    stored_height: int
    rotation: int  # irot: degrees anticlockwise, 0, 90, 180 or 270
    mirror: int | None  # imir axis: 0 a vertical axis (left and right swap), 1 a horizontal one; None without
    transforms: tuple[str, ...]  # clap, irot and imir in the order they apply
    top_level_images: int  # images not hidden, not thumbnails, not auxiliary (alpha, depth): libheif's count
    sequence: bool  # the file has a track (moov): an image sequence
    exif: tuple[int, int] | None = None  # (offset, length) in the file of the Exif item describing the image shown


@dataclass(frozen=True)
class _Box:
    type: str
    start: int  # of the payload, in the buffer it was read from
    end: int


def _u8(data: bytes, offset: int, end: int) -> int:
    if offset + 1 > end:
        raise HeifBoxError(f"box ends at byte {end} inside a field at byte {offset}")
    return data[offset]


def _u16(data: bytes, offset: int, end: int) -> int:
    if offset + 2 > end:
        raise HeifBoxError(f"box ends at byte {end} inside a field at byte {offset}")
    return int.from_bytes(data[offset : offset + 2], "big")


def _u32(data: bytes, offset: int, end: int) -> int:
    if offset + 4 > end:
        raise HeifBoxError(f"box ends at byte {end} inside a field at byte {offset}")
    return int.from_bytes(data[offset : offset + 4], "big")


def _fourcc(raw: bytes) -> str:
    return raw.decode("latin-1")


def _header(raw: bytes, offset: int, limit: int) -> tuple[str, int, int]:
    """(type, header length, box length) of the box starting at `offset` of `raw`, which ends at `limit`.

    A length of 0 runs to the end of the enclosing box or file; 1 means a 64-bit length follows; anything
    shorter than the header itself is malformed (a reader that took it would never move on).
    """
    if len(raw) < 8:
        raise HeifBoxError(f"the bytes stop inside a box header at byte {offset}")
    length, kind = struct.unpack(">I4s", raw[:8])
    header = 8
    if length == 1:
        if len(raw) < 16:
            raise HeifBoxError(f"the bytes stop inside a box header at byte {offset}")
        (length,) = struct.unpack(">Q", raw[8:16])
        header = 16
    elif length == 0:
        length = limit - offset
    if kind == b"uuid":
        header += 16
    if length < header:
        raise HeifBoxError(f"box {_fourcc(kind)!r} at byte {offset} declares {length} bytes, less than its header")
    if offset + length > limit:
        raise HeifBoxError(
            f"box {_fourcc(kind)!r} at byte {offset} declares {length} bytes, past the end at byte {limit}"
        )
    return _fourcc(kind), header, length


class _Parser:
    """Walks the boxes of one in-memory buffer, counting every box against MAX_BOXES."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.boxes = 0

    def children(self, start: int, end: int, depth: int) -> list[_Box]:
        if depth > MAX_DEPTH:
            raise HeifBoxError(f"boxes nest more than {MAX_DEPTH} deep")
        found = []
        offset = start
        while offset < end:
            self.boxes += 1
            if self.boxes > MAX_BOXES:
                raise HeifBoxError(f"more than {MAX_BOXES} boxes")
            kind, header, length = _header(self.data[offset : min(offset + 32, end)], offset, end)
            found.append(_Box(kind, offset + header, offset + length))
            offset += length
        return found

    def full_box(self, box: _Box) -> tuple[int, int, int]:
        """(version, flags, offset of the payload after them) of a FullBox."""
        word = _u32(self.data, box.start, box.end)
        return word >> 24, word & 0xFFFFFF, box.start + 4


def _first(boxes: list[_Box], kind: str) -> _Box | None:
    return next((box for box in boxes if box.type == kind), None)


def _require(boxes: list[_Box], kind: str, where: str) -> _Box:
    box = _first(boxes, kind)
    if box is None:
        raise HeifBoxError(f"no {kind!r} box in {where}")
    return box


def read_heif(read_at: ReadAt, size: int) -> HeifInfo:
    """The primary image of the HEIF/AVIF file of `size` bytes that `read_at` reads.

    Reads the top-level box headers and the whole `meta` box (and, for an AVIF sequence without one, the
    `moov` box), never the image data in `mdat`.
    """
    top: dict[str, tuple[int, int, int]] = {}  # type -> (offset, header, length) of the first such box
    offset, count, first = 0, 0, ""
    while offset < size:
        count += 1
        if count > MAX_TOP_LEVEL_BOXES:
            raise HeifBoxError(f"more than {MAX_TOP_LEVEL_BOXES} top-level boxes")
        try:
            kind, header, length = _header(read_at(offset, 32), offset, size)
        except HeifBoxError:
            # A box after ftyp and meta that runs past the end is image data cut short: iloc says which item it
            # cuts (meta's own boxes are whole, as they were read).
            if not (first == "ftyp" and "meta" in top):
                raise
            break
        first = first or kind
        top.setdefault(kind, (offset, header, length))
        offset += length
    if first != "ftyp":
        raise HeifBoxError("the file does not start with an 'ftyp' box")
    ftyp = _read_box(read_at, top["ftyp"], 4096)
    if len(ftyp) < 8:
        raise HeifBoxError("the 'ftyp' box is shorter than its brand fields")
    major = _fourcc(ftyp[:4])
    compatible = tuple(_fourcc(ftyp[at : at + 4]) for at in range(8, len(ftyp) - 3, 4))
    sequence = "moov" in top
    if "meta" in top:
        meta = _read_box(read_at, top["meta"], MAX_META_BYTES)
        return _primary_image(meta, major, compatible, sequence, size)
    if sequence and {"avis", "msf1"} & {major, *compatible}:
        width, height = _track_size(_read_box(read_at, top["moov"], MAX_MOOV_BYTES))
        return HeifInfo(major, compatible, "", width, height, width, height, 0, None, (), 0, True)
    raise HeifBoxError("no 'meta' box: the file lists no images")


def parse_heif(data: bytes) -> HeifInfo:
    """read_heif over bytes in memory."""
    return read_heif(lambda offset, length: data[offset : offset + length], len(data))


def _read_box(read_at: ReadAt, where: tuple[int, int, int], cap: int) -> bytes:
    offset, header, length = where
    if length - header > cap:
        raise HeifBoxError(f"a {length}-byte box is over the {cap}-byte limit for one read here")
    payload = read_at(offset + header, length - header) if length > header else b""
    if len(payload) < length - header:
        raise HeifBoxError(f"the bytes stop inside the box at byte {offset}")
    return payload


def _primary_image(meta: bytes, major: str, compatible: tuple[str, ...], sequence: bool, size: int) -> HeifInfo:
    parser = _Parser(meta)
    version, _, start = parser.full_box(_Box("meta", 0, len(meta)))
    if version != 0:
        raise HeifBoxError(f"'meta' box version {version}")
    boxes = parser.children(start, len(meta), 1)
    primary = _pitm(parser, _require(boxes, "pitm", "'meta'"))
    items = _iinf(parser, _require(boxes, "iinf", "'meta'"))
    if primary not in items:
        raise HeifBoxError(f"the primary item {primary} is not in 'iinf'")
    item_type, hidden = items[primary]
    if item_type not in IMAGE_ITEM_TYPES:
        raise HeifBoxError(f"the primary item {primary} is a {item_type!r}, not an image")
    if hidden:
        raise HeifBoxError(f"the primary item {primary} is hidden")
    top_level = _top_level_images(parser, boxes, items)
    if primary not in top_level:
        # The primary item is itself the thumbnail or auxiliary image of another: libheif leaves it out of the
        # top-level images and pillow-heif shows the first of them (by item id), so that is the one sized here.
        if not top_level:
            raise HeifBoxError(f"the primary item {primary} is a thumbnail or auxiliary image, and nothing else is")
        primary = top_level[0]
        item_type = items[primary][0]
    iprp = _require(boxes, "iprp", "'meta'")
    iprp_boxes = parser.children(iprp.start, iprp.end, 2)
    ipco = _require(iprp_boxes, "ipco", "'iprp'")
    properties = parser.children(ipco.start, ipco.end, 3)
    associations: dict[int, list[int]] = {}
    for ipma in (box for box in iprp_boxes if box.type == "ipma"):
        for item, indexes in _ipma(parser, ipma):
            associations.setdefault(item, indexes)  # the first entry for an item counts, as in libheif
    if primary not in associations:
        raise HeifBoxError(f"the primary item {primary} has no properties")
    chosen = []
    for index in associations[primary]:
        if index > len(properties):
            raise HeifBoxError(f"'ipma' names property {index}; 'ipco' holds {len(properties)}")
        if index:
            chosen.append(properties[index - 1])
    stored = None
    for prop in chosen:
        if prop.type == "ispe":
            _, _, at = parser.full_box(prop)
            stored = (_u32(meta, at, prop.end), _u32(meta, at + 4, prop.end))
    if stored is None:
        raise HeifBoxError(f"the primary item {primary} has no 'ispe' (size) property")
    if 0 in stored:
        raise HeifBoxError(f"the primary item's 'ispe' gives a zero side: {stored[0]}x{stored[1]}")
    width, height = stored
    rotation, mirror, transforms = 0, None, []
    for prop in chosen:
        if prop.type == "clap":
            width, height = _clap(meta, prop)
        elif prop.type == "irot":
            turn = (_u8(meta, prop.start, prop.end) & 3) * 90
            rotation = (rotation + turn) % 360
            if turn in (90, 270):
                width, height = height, width
        elif prop.type == "imir":
            mirror = _u8(meta, prop.start, prop.end) & 1
        else:
            continue
        transforms.append(prop.type)
    iloc = _first(boxes, "iloc")
    exif = None
    if iloc is not None:
        # What libheif reads when pillow-heif opens the file: the image shown, its grid tiles, its Exif and XMP.
        wanted = {primary, *_references(parser, boxes, primary, "dimg")}
        described = [source for source, targets in _iref(parser, boxes, "cdsc") if primary in targets]
        wanted.update(described)
        placed = _check_extents(parser, iloc, size, wanted)
        exif = next(
            (placed[item] for item in described if items.get(item, ("",))[0] == "Exif" and item in placed), None
        )
    return HeifInfo(
        major,
        compatible,
        item_type,
        width,
        height,
        *stored,
        rotation,
        mirror,
        tuple(transforms),
        len(top_level),
        sequence,
        exif,
    )


def _pitm(parser: _Parser, box: _Box) -> int:
    version, _, at = parser.full_box(box)
    return _u16(parser.data, at, box.end) if version == 0 else _u32(parser.data, at, box.end)


def _iinf(parser: _Parser, box: _Box) -> dict[int, tuple[str, bool]]:
    """Item id -> (item type, hidden) for each `infe` (versions 2 and 3 carry a type; 0 and 1 do not)."""
    version, _, at = parser.full_box(box)
    count = _u16(parser.data, at, box.end) if version == 0 else _u32(parser.data, at, box.end)
    if count > MAX_ITEMS:
        raise HeifBoxError(f"'iinf' lists {count} items, over {MAX_ITEMS}")
    at += 2 if version == 0 else 4
    items: dict[int, tuple[str, bool]] = {}
    for infe in parser.children(at, box.end, 2):
        if infe.type != "infe":
            continue
        infe_version, flags, at = parser.full_box(infe)
        if infe_version > 3:
            raise HeifBoxError(f"'infe' version {infe_version}")
        if infe_version < 2:
            items.setdefault(_u16(parser.data, at, infe.end), ("", False))
            continue
        if infe_version == 2:
            item, at = _u16(parser.data, at, infe.end), at + 2
        else:
            item, at = _u32(parser.data, at, infe.end), at + 4
        if at + 6 > infe.end:
            raise HeifBoxError("an 'infe' box ends inside its item type")
        items.setdefault(item, (_fourcc(parser.data[at + 2 : at + 6]), bool(flags & 1)))
    return items


def _ipma(parser: _Parser, box: _Box) -> list[tuple[int, list[int]]]:
    """(item id, 1-based ipco indexes in order) for each entry; 0 stands for no property."""
    version, flags, at = parser.full_box(box)
    if version > 1:
        raise HeifBoxError(f"'ipma' version {version}")
    data, end = parser.data, box.end
    count = _u32(data, at, end)
    if count > MAX_ITEMS:
        raise HeifBoxError(f"'ipma' has {count} entries, over {MAX_ITEMS}")
    at += 4
    entries = []
    wide = flags & 1
    for _ in range(count):
        if version == 0:
            item, at = _u16(data, at, end), at + 2
        else:
            item, at = _u32(data, at, end), at + 4
        associations, at = _u8(data, at, end), at + 1
        indexes = []
        for _ in range(associations):
            if wide:
                indexes.append(_u16(data, at, end) & 0x7FFF)
                at += 2
            else:
                indexes.append(_u8(data, at, end) & 0x7F)
                at += 1
        entries.append((item, indexes))
    return entries


def _check_extents(parser: _Parser, box: _Box, size: int, wanted: set[int]) -> dict[int, tuple[int, int]]:
    """Raise (truncated) when the data of a `wanted` item, as `iloc` places it in this file, runs past its last
    byte. Other items (a second image, a thumbnail) are not for Validate: libheif opens such a file, and
    make_proxy decodes the image shown. Returns (offset, length) in the file of each wanted item stored as one
    extent there (construction method 0, no data reference)."""
    version, _, at = parser.full_box(box)
    if version > 2:
        raise HeifBoxError(f"'iloc' version {version}")
    data, end = parser.data, box.end
    sizes = _u16(data, at, end)
    offset_size, length_size, base_size = sizes >> 12, (sizes >> 8) & 0xF, (sizes >> 4) & 0xF
    index_size = sizes & 0xF if version else 0
    if not {offset_size, length_size, base_size, index_size} <= {0, 4, 8}:
        raise HeifBoxError("'iloc' field sizes other than 0, 4 or 8 bytes")
    count, at = (_u16(data, at + 2, end), at + 4) if version < 2 else (_u32(data, at + 2, end), at + 6)
    if count > MAX_ITEMS:
        raise HeifBoxError(f"'iloc' places {count} items, over {MAX_ITEMS}")

    def number(at: int, width: int) -> int:
        if at + width > end:
            raise HeifBoxError(f"'iloc' ends inside a field at byte {at}")
        return int.from_bytes(data[at : at + width], "big")

    extents = 0
    placed: dict[int, tuple[int, int]] = {}
    for _ in range(count):
        item_width = 4 if version == 2 else 2
        item, at = number(at, item_width), at + item_width
        method = 0
        if version:
            method, at = number(at, 2) & 0xF, at + 2
        reference, at = number(at, 2), at + 2
        base, at = number(at, base_size), at + base_size
        extent_count, at = number(at, 2), at + 2
        extents += extent_count
        if extents > MAX_EXTENTS:
            raise HeifBoxError(f"'iloc' has more than {MAX_EXTENTS} extents")
        for _ in range(extent_count):
            at += index_size
            start, at = base + number(at, offset_size), at + offset_size
            length, at = number(at, length_size), at + length_size
            if method == 0 and reference == 0 and item in wanted and start + length > size:
                raise HeifBoxError(
                    f"item {item}'s data runs to byte {start + length}, past the end of the file at byte {size}",
                    truncated=True,
                )
            if method == 0 and reference == 0 and item in wanted and extent_count == 1:
                placed.setdefault(item, (start, length))
    return placed


def _clap(data: bytes, box: _Box) -> tuple[int, int]:
    """The clean aperture's width and height, rounded as libheif rounds them (Fraction::round)."""
    width_n, width_d, height_n, height_d = (_u32(data, box.start + 4 * i, box.end) for i in range(4))
    _u32(data, box.start + 28, box.end)  # the offsets are not needed for the size, but must be there
    if not (0 < width_d < 2**31 and 0 < height_d < 2**31 and width_n < 2**31 and height_n < 2**31):
        raise HeifBoxError("'clap' has a zero denominator or a value out of range")
    width, height = (width_n + width_d // 2) // width_d, (height_n + height_d // 2) // height_d
    if width <= 0 or height <= 0:
        raise HeifBoxError("'clap' crops the image to nothing")
    return width, height


def _iref(parser: _Parser, meta_boxes: list[_Box], kind: str) -> list[tuple[int, list[int]]]:
    """(from item, to items) of each reference of type `kind` in iref (dimg: a grid's tiles, in order; cdsc: a
    metadata item describing images; thmb, auxl: a thumbnail or auxiliary image of images)."""
    iref = _first(meta_boxes, "iref")
    if iref is None:
        return []
    version, _, at = parser.full_box(iref)
    if version > 1:
        raise HeifBoxError(f"'iref' version {version}")
    read, width = (_u16, 2) if version == 0 else (_u32, 4)
    found: list[tuple[int, list[int]]] = []
    total = 0
    for reference in parser.children(at, iref.end, 2):
        if reference.type != kind:
            continue
        source = read(parser.data, reference.start, reference.end)
        at = reference.start + width
        count = _u16(parser.data, at, reference.end)
        total += count
        if total > MAX_ITEMS:
            raise HeifBoxError(f"more than {MAX_ITEMS} {kind!r} references")
        found.append((source, [read(parser.data, at + 2 + width * i, reference.end) for i in range(count)]))
    return found


def _references(parser: _Parser, meta_boxes: list[_Box], source: int, kind: str) -> list[int]:
    """The items `source` refers to with references of type `kind`."""
    return [target for start, targets in _iref(parser, meta_boxes, kind) if start == source for target in targets]


def _top_level_images(parser: _Parser, meta_boxes: list[_Box], items: dict[int, tuple[str, bool]]) -> list[int]:
    """Image items, by id, that are not hidden and not a thumbnail or auxiliary image of another (`thmb` and `auxl`
    references start at them): libheif's top-level images, those pillow-heif opens."""
    dependent = {source for kind in ("thmb", "auxl") for source, _ in _iref(parser, meta_boxes, kind)}
    return sorted(
        item
        for item, (kind, hidden) in items.items()
        if kind in IMAGE_ITEM_TYPES and not hidden and item not in dependent
    )


def _track_size(moov: bytes) -> tuple[int, int]:
    """Width and height of the first track with a visual size (tkhd: 16.16 fixed-point, at its end)."""
    parser = _Parser(moov)
    for trak in parser.children(0, len(moov), 1):
        if trak.type != "trak":
            continue
        tkhd = _first(parser.children(trak.start, trak.end, 2), "tkhd")
        if tkhd is None:
            continue
        version, _, _ = parser.full_box(tkhd)
        at = tkhd.start + (88 if version == 1 else 76)  # after version, times, track id, layer, volume and matrix
        width, height = _u32(moov, at, tkhd.end) >> 16, _u32(moov, at + 4, tkhd.end) >> 16
        if width and height:
            return width, height
    raise HeifBoxError("no track with a size in 'moov'")
