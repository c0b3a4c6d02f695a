"""What a photo says about itself: capture time, camera make and model, GPS position, from its Exif.

The Exif block is found in the headers Validate reads anyway (a JPEG's APP1 segment, a PNG's eXIf chunk, a
HEIF's Exif item, a WebP's EXIF chunk) and parsed by Pillow's TIFF directory reader
(`PIL.Image.Exif`, TiffImagePlugin.ImageFileDirectory_v2): pure Python, no pixel is decoded, and it is in the
package already for the GIF, TIFF and BMP headers. Only the fields below are read, and only the Exif and GPS
sub-directories are followed (no maker notes).

Tags (Exif 2.32, CIPA DC-008, and the TIFF 6.0 tags it reuses):
- 0x010F Make and 0x0110 Model (IFD0);
- 0x9003 DateTimeOriginal with 0x9011 OffsetTimeOriginal, else 0x9004 DateTimeDigitized with 0x9012
  OffsetTimeDigitized (Exif IFD). IFD0's 0x0132 DateTime is when the file was last changed, not taken: unused;
- 0x0001/0x0002 GPSLatitudeRef/GPSLatitude and 0x0003/0x0004 GPSLongitudeRef/GPSLongitude (GPS IFD),
  degrees, minutes and seconds as three rationals.

Metadata never decides a verdict: a block that does not parse gives no metadata, and the upload is judged
as before.
"""

from __future__ import annotations

import math
import re
import struct
import warnings
from typing import Any

from PIL import Image

from media_format import PNG_SIGNATURE, ReadAt, head_first

MAX_EXIF_BYTES = 256 * 1024  # a JPEG's APP1 holds at most 65,533; a HEIF's Exif item of megabytes is not a camera's
MAX_JPEG_SEGMENTS = 64  # APPn segments before the frame header; Exif is the first or second in practice
# Where a JPEG's Exif can no longer come: the frame headers (SOFn), start of scan, end of image, and what is not a
# length-prefixed marker. APPn, COM, DQT and DHT before the frame are stepped over.
STOP_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF, 0xDA, 0xD9, 0xFF}
STOP_MARKERS |= {0x00, 0x01, 0xD8, *range(0xD0, 0xD8)}
MAX_TEXT = 64  # characters kept of Make and Model
MAKE, MODEL = 0x010F, 0x0110
EXIF_IFD, GPS_IFD = 0x8769, 0x8825
TIMES = ((0x9003, 0x9011), (0x9004, 0x9012))  # (date and time, its UTC offset): original, then digitized
GPS_LAT_REF, GPS_LAT, GPS_LON_REF, GPS_LON = 1, 2, 3, 4
EXIF_DATE = re.compile(r"^(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
EXIF_OFFSET = re.compile(r"^[+-]\d{2}:\d{2}$")
# What Pillow's directory reader raises on a malformed block (bad offsets, counts, types, short data).
PARSE_ERRORS = (ValueError, OSError, SyntaxError, EOFError, struct.error, KeyError, TypeError, IndexError)


def metadata_from_exif(block: bytes, store_gps: bool) -> dict[str, Any]:
    """`takenAt`, `camera` and (with `store_gps`) `gps` from an Exif block (a TIFF structure, with or without the
    "Exif\\0\\0" prefix); only the fields found are present, so a block without any gives {}."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Possibly corrupt EXIF data": the fields that parse still count
            exif = Image.Exif()
            exif.load(block[:MAX_EXIF_BYTES])
            ifd0 = dict(exif.items())
            found: dict[str, Any] = {}
            taken = _taken_at(exif.get_ifd(EXIF_IFD)) if EXIF_IFD in ifd0 else None
            if taken:
                found["takenAt"] = taken
            camera = {name: text for name, tag in (("make", MAKE), ("model", MODEL)) if (text := _text(ifd0.get(tag)))}
            if camera:
                found["camera"] = camera
            gps = _position(exif.get_ifd(GPS_IFD)) if store_gps and GPS_IFD in ifd0 else None
            if gps:
                found["gps"] = gps
            return found
    except PARSE_ERRORS:
        return {}


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if not isinstance(value, str):
        return None
    text = " ".join(value.replace("\x00", " ").split())[:MAX_TEXT]
    return text if text and text.isprintable() else None  # bytes of another field, or of no field: not a name


def _taken_at(exif_ifd: dict[int, Any]) -> str | None:
    """ISO 8601 local time as the camera wrote it, with its UTC offset where the camera recorded one."""
    for date_tag, offset_tag in TIMES:
        date = _text(exif_ifd.get(date_tag))
        found = EXIF_DATE.match(date or "")
        if not found:
            continue
        year, month, day, hour, minute, second = (int(part) for part in found.groups())
        if not (1 <= month <= 12 and 1 <= day <= 31 and hour <= 23 and minute <= 59 and second <= 60 and year):
            continue
        stamp = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{min(second, 59):02d}"
        offset = _text(exif_ifd.get(offset_tag)) or ""
        return stamp + offset if EXIF_OFFSET.match(offset) else stamp
    return None


def _position(gps_ifd: dict[int, Any]) -> dict[str, float] | None:
    """Decimal degrees (6 places, about 0.1 m), or None when either coordinate is missing or impossible."""
    lat = _degrees(gps_ifd.get(GPS_LAT), gps_ifd.get(GPS_LAT_REF), "N", "S", 90)
    lon = _degrees(gps_ifd.get(GPS_LON), gps_ifd.get(GPS_LON_REF), "E", "W", 180)
    if lat is None or lon is None or lat == lon == 0:
        return None  # 0, 0 ("null island", in the Gulf of Guinea) is what devices write without a fix
    return {"lat": lat, "lon": lon}


def _degrees(parts: Any, ref: Any, positive: str, negative: str, limit: int) -> float | None:
    hemisphere = _text(ref)
    if hemisphere not in (positive, negative) or not isinstance(parts, tuple) or len(parts) != 3:
        return None
    try:
        degrees, minutes, seconds = (float(part) for part in parts)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    value = degrees + minutes / 60 + seconds / 3600
    if not math.isfinite(value) or min(degrees, minutes, seconds) < 0 or value > limit:
        return None
    return round(-value if hemisphere == negative else value, 6)


def jpeg_exif(read_at: ReadAt, head: bytes) -> bytes | None:
    """The Exif block of a JPEG's first APP1 "Exif" segment before its frame header, or None."""
    read = head_first(head, read_at)
    offset = 2
    for _ in range(MAX_JPEG_SEGMENTS):
        marker = read(offset, 4)
        if len(marker) < 4 or marker[0] != 0xFF or marker[1] in STOP_MARKERS:
            return None  # a frame header, a scan, or bytes that are no segment: Exif comes before them
        (length,) = struct.unpack(">H", marker[2:4])
        if marker[1] == 0xE1 and length > 8:
            payload = read(offset + 4, length - 2)
            if payload.startswith(b"Exif\x00\x00"):
                return payload[6:]
        offset += 2 + length
    return None


def png_exif(head: bytes) -> bytes | None:
    """A PNG's eXIf chunk (PNG 1.5 extensions; before IDAT) among the bytes already read, or None."""
    offset = len(PNG_SIGNATURE)
    while offset + 8 <= len(head):
        length, kind = struct.unpack(">I4s", head[offset : offset + 8])
        if kind in (b"eXIf", b"IDAT"):
            return head[offset + 8 : offset + 8 + length] if kind == b"eXIf" else None
        offset += 12 + length
    return None


def heif_exif(read_at: ReadAt, where: tuple[int, int] | None) -> bytes | None:
    """A HEIF Exif item's block (ISO/IEC 23008-12 A.2.1: a 32-bit offset to the TIFF header, then the data)."""
    if where is None or where[1] <= 4 or where[1] > MAX_EXIF_BYTES:
        return None
    item = read_at(*where)
    (skip,) = struct.unpack(">I", item[:4]) if len(item) >= 4 else (len(item),)
    return item[4 + skip :] or None
