"""The size of a Photoshop document or a JPEG 2000 image, read from its header in pure Python: no decoder sees it.

- PSD (Adobe Photoshop File Formats Specification, "File Header Section"): "8BPS", version 1, 6 reserved bytes,
  channels (u16), height and width (u32), depth (u16: 1, 8, 16 or 32) and colour mode (u16). make_proxy converts
  the composite image Photoshop stores after the layers, as Pillow reads it, so only the (mode, depth) pairs
  Pillow's PSD reader takes are accepted here; the rest are refused with what they are.
- JPEG 2000 (ISO/IEC 15444-1): a JP2 file (Annex I) is a box sequence starting with the signature box
  "jP  \\r\\n\\x87\\n"; its "jp2h" header box holds "ihdr" with height and width (u32) and the component count. A
  raw codestream starts SOC (FF4F) then SIZ (FF51), whose Xsiz/Ysiz minus XOsiz/YOsiz is the image's size (A.5.1).
  These are the sizes Pillow's JPEG 2000 reader reports before OpenJPEG decodes anything.
"""

from __future__ import annotations

import struct

from media_format import MediaFormatError, ReadAt

# (colour mode, depth) -> (name, channels needed): the pairs Pillow's PsdImagePlugin reads (its MODES), less
# Multichannel (7: Pillow shows one channel of several) and Lab (9: Pillow cannot turn Lab into RGB unaided).
PSD_MODES = {
    (0, 1): ("bitmap", 1),
    (0, 8): ("bitmap", 1),
    (1, 8): ("grayscale", 1),
    (2, 8): ("indexed", 1),
    (3, 8): ("RGB", 3),
    (4, 8): ("CMYK", 4),
    (8, 8): ("duotone", 1),
}
PSD_MODE_NAMES = {
    0: "bitmap",
    1: "grayscale",
    2: "indexed",
    3: "RGB",
    4: "CMYK",
    7: "multichannel",
    8: "duotone",
    9: "Lab",
}
JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
J2K_SOC_SIZ = b"\xff\x4f\xff\x51"
MAX_JP2_BOXES = 64  # signature, ftyp, jp2h come first in a conforming file; a reader of JPX may meet a few more


def psd_size(head: bytes) -> tuple[int, int]:
    """Width and height of a PSD (version 1) from its 26-byte header; UNSUPPORTED_FORMAT for a mode or depth
    the conversion cannot show, CORRUPT for a header that breaks the format."""
    if len(head) < 26:
        raise MediaFormatError("TRUNCATED", "The PSD ends inside its 26-byte header.")
    version, channels, height, width, depth, mode = struct.unpack(">H6xHIIHH", head[4:26])
    if version != 1:
        raise MediaFormatError("CORRUPT", f"The PSD header gives version {version}.")
    if not 1 <= channels <= 56:
        raise MediaFormatError("CORRUPT", f"The PSD header gives {channels} channels (1 to 56 are allowed).")
    if (mode, depth) not in PSD_MODES:
        what = f"a {depth}-bit {PSD_MODE_NAMES.get(mode, f'mode-{mode}')} Photoshop document"
        raise MediaFormatError(
            "UNSUPPORTED_FORMAT",
            f"{what} is not one rekflow converts (8-bit bitmap, grayscale, indexed, RGB, CMYK or duotone, or "
            "1-bit bitmap): save a flattened 8-bit RGB copy, or export a JPEG or PNG.",
        )
    name, needed = PSD_MODES[(mode, depth)]
    if channels < needed:
        raise MediaFormatError("CORRUPT", f"The PSD is {name} with {channels} channels; it needs {needed}.")
    return width, height


def jpeg2000_size(read_at: ReadAt, head: bytes) -> tuple[int, int]:
    """Width and height of a JP2 file (its ihdr box) or a raw JPEG 2000 codestream (its SIZ segment)."""
    if head.startswith(J2K_SOC_SIZ):
        return _siz_size(head[4:])
    if not head.startswith(JP2_SIGNATURE):
        raise MediaFormatError("CORRUPT", "The file starts neither a JP2 signature box nor a JPEG 2000 codestream.")
    offset = len(JP2_SIGNATURE)
    for _ in range(MAX_JP2_BOXES):
        length, kind, header = _box(read_at, offset)
        if kind == b"jp2h":
            return _ihdr_size(read_at(offset + header, min(length - header, 4096)))
        if kind == b"jp2c":
            raise MediaFormatError("CORRUPT", "The JP2 file reaches its codestream without a 'jp2h' header box.")
        offset += length
    raise MediaFormatError("CORRUPT", f"The JP2 file has no 'jp2h' header box in its first {MAX_JP2_BOXES} boxes.")


def _box(read_at: ReadAt, offset: int) -> tuple[int, bytes, int]:
    """(length, type, header length) of the box at `offset` (ISO/IEC 15444-1 I.4)."""
    raw = read_at(offset, 16)
    if len(raw) < 8:
        raise MediaFormatError("TRUNCATED", f"The JP2 file ends inside a box header at byte {offset}.")
    length, kind = struct.unpack(">I4s", raw[:8])
    header = 8
    if length == 1:
        if len(raw) < 16:
            raise MediaFormatError("TRUNCATED", f"The JP2 file ends inside a box header at byte {offset}.")
        (length,), header = struct.unpack(">Q", raw[8:16]), 16
    if length == 0 and kind != b"jp2c":
        raise MediaFormatError("CORRUPT", f"The JP2 box {kind!r} at byte {offset} claims the rest of the file.")
    if 0 < length < header:
        raise MediaFormatError("CORRUPT", f"The JP2 box at byte {offset} is shorter than its header.")
    return length, kind, header


def _ihdr_size(jp2h: bytes) -> tuple[int, int]:
    at = 0
    while at + 8 <= len(jp2h):
        length, kind = struct.unpack(">I4s", jp2h[at : at + 8])
        if kind == b"ihdr":
            if length < 22 or at + 22 > len(jp2h):
                raise MediaFormatError("CORRUPT", "The JP2 'ihdr' box is shorter than its 14 bytes.")
            height, width, components = struct.unpack(">IIH", jp2h[at + 8 : at + 18])
            if not 1 <= components <= 16384:
                raise MediaFormatError("CORRUPT", f"The JP2 'ihdr' gives {components} components.")
            return width, height
        if length < 8:
            break
        at += length
    raise MediaFormatError("CORRUPT", "The JP2 'jp2h' box has no 'ihdr' (image header) box.")


def _siz_size(siz: bytes) -> tuple[int, int]:
    if len(siz) < 2 + 2 + 16:
        raise MediaFormatError("TRUNCATED", "The JPEG 2000 codestream ends inside its SIZ segment.")
    xsiz, ysiz, xosiz, yosiz = struct.unpack(">IIII", siz[4:20])
    if xosiz >= xsiz or yosiz >= ysiz:
        raise MediaFormatError("CORRUPT", "The JPEG 2000 SIZ segment gives an image offset past its size.")
    return xsiz - xosiz, ysiz - yosiz
