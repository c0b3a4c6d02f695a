"""Validate's HEIF/AVIF box reader: real files from pillow-heif, files built box by box, and broken ones."""

from __future__ import annotations

import contextlib
import io
import random
import struct
from functools import cache

import pytest
from heif_boxes import HeifBoxError, parse_heif, read_heif
from PIL import Image

from rekflow.media import samples


def box(kind: bytes, payload: bytes = b"") -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def full(kind: bytes, payload: bytes = b"", version: int = 0, flags: int = 0) -> bytes:
    return box(kind, struct.pack(">I", version << 24 | flags) + payload)


def infe(item: int, kind: bytes, hidden: bool = False) -> bytes:
    return full(b"infe", struct.pack(">HH", item, 0) + kind + b"\x00", version=2, flags=int(hidden))


def ispe(width: int, height: int) -> bytes:
    return full(b"ispe", struct.pack(">II", width, height))


def ipma(entries: list[tuple[int, list[int]]]) -> bytes:
    body = struct.pack(">I", len(entries))
    for item, indexes in entries:
        body += struct.pack(">HB", item, len(indexes)) + bytes(indexes)
    return full(b"ipma", body)


def heif(meta_boxes: list[bytes], brand: bytes = b"heic", mdat: bytes = b"\x00" * 16) -> bytes:
    ftyp = box(b"ftyp", brand + b"\x00\x00\x00\x00" + b"mif1" + brand)
    return ftyp + full(b"meta", b"".join(meta_boxes)) + box(b"mdat", mdat)


def grid_file() -> bytes:
    """A 2x1 grid of two hidden 64x48 HEVC tiles, 128x48 as shown: the grid item's own ispe gives its size."""
    return heif(
        [
            full(b"hdlr", b"\x00" * 4 + b"pict" + b"\x00" * 13),
            full(b"pitm", struct.pack(">H", 3)),
            full(b"iinf", struct.pack(">H", 3) + infe(1, b"hvc1", True) + infe(2, b"hvc1", True) + infe(3, b"grid")),
            full(b"iref", box(b"dimg", struct.pack(">HHHH", 3, 2, 1, 2))),
            box(b"iprp", box(b"ipco", ispe(64, 48) + ispe(128, 48)) + ipma([(1, [1]), (2, [1]), (3, [2])])),
        ]
    )


@cache
def encoded(size: tuple[int, int] = (64, 48), orientation: int = 1) -> bytes:
    import pillow_heif

    pillow_heif.register_heif_opener()
    exif = Image.Exif()
    if orientation != 1:
        exif[0x0112] = orientation
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(buffer, "HEIF", exif=exif.tobytes(), enc_params={"preset": "ultrafast"})
    return buffer.getvalue()


def test_an_iphone_style_heic_gives_its_brand_item_and_size_as_shown():
    info = parse_heif(samples.iphone_heic((320, 240)))
    assert (info.major_brand, info.item_type) == ("heic", "hvc1")
    assert "mif1" in info.compatible_brands
    # Stored sideways (240x320) and turned by irot: shown 320x240, as libheif reports it.
    assert (info.stored_width, info.stored_height, info.width, info.height) == (240, 320, 320, 240)
    assert (info.rotation, info.transforms, info.top_level_images) == (270, ("irot",), 1)


def test_an_upright_heic_has_no_transform():
    info = parse_heif(encoded())
    assert (info.width, info.height, info.rotation, info.mirror) == (64, 48, 0, None)
    assert info.transforms in ((), ("clap",))  # x265 codes whole blocks; clap crops them back to 64x48


def test_a_mirrored_heic_says_which_axis():
    info = parse_heif(encoded(orientation=2))  # pillow-heif writes EXIF orientation 2 as imir
    assert info.mirror is not None and "imir" in info.transforms
    assert (info.width, info.height) == (64, 48)


def test_a_grid_is_sized_by_the_grid_items_ispe():
    info = parse_heif(grid_file())
    assert (info.item_type, info.width, info.height, info.top_level_images) == ("grid", 128, 48, 1)


def test_an_avif_is_read_the_same_way():
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48)).save(buffer, "AVIF")
    info = parse_heif(buffer.getvalue())
    assert (info.major_brand, info.item_type, info.width, info.height) == ("avif", "av01", 64, 48)


def test_reading_costs_the_box_headers_and_the_meta_box_not_the_image_data():
    data = samples.iphone_heic((320, 240))
    reads = []

    def read_at(offset: int, length: int) -> bytes:
        reads.append((offset, length))
        return data[offset : offset + length]

    read_heif(read_at, len(data))
    assert sum(length for _, length in reads) < 2000 < len(data)


def test_data_cut_short_is_truncated_and_a_cut_container_is_not():
    data = encoded()
    with pytest.raises(HeifBoxError) as cut:
        parse_heif(data[:-10])
    assert cut.value.truncated
    with pytest.raises(HeifBoxError) as broken:
        parse_heif(data[:100])
    assert not broken.value.truncated


def test_every_truncation_ends_in_the_specific_error():
    data = encoded()
    for length in range(len(data)):
        with contextlib.suppress(HeifBoxError):
            parse_heif(data[:length])


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "ftyp"),
        (b"\x00\x00\x00\x18ftypheic", "past the end"),  # a box length beyond the end
        (box(b"ftyp", b"heic\x00\x00\x00\x00") + struct.pack(">I", 4) + b"free", "less than its header"),  # loops
        (box(b"ftyp", b"heic\x00\x00\x00\x00") + struct.pack(">I4sQ", 1, b"meta", 8), "less than its header"),
        (box(b"ftyp", b"heic\x00\x00\x00\x00") + struct.pack(">I4sI", 1, b"meta", 0), "box header"),  # size 1, cut
        (box(b"ftyp", b"heic\x00\x00\x00\x00") + struct.pack(">I4s", 0, b"mdat"), "no 'meta'"),  # size 0: to the end
        (box(b"ftyp", b"he"), "brand"),
        (box(b"free") + box(b"ftyp", b"heic\x00\x00\x00\x00"), "ftyp"),
        (heif([full(b"pitm", struct.pack(">H", 1))]), "'iinf'"),
        (heif([full(b"pitm", struct.pack(">H", 9)), full(b"iinf", struct.pack(">H", 1) + infe(1, b"hvc1"))]), "9"),
        (
            heif(
                [
                    full(b"pitm", struct.pack(">H", 1)),
                    full(b"iinf", struct.pack(">H", 1) + infe(1, b"hvc1")),
                    box(b"iprp", box(b"ipco", ispe(64, 48)) + ipma([(1, [5])])),
                ]
            ),
            "property 5",
        ),
        (
            heif(
                [
                    full(b"pitm", struct.pack(">H", 1)),
                    full(b"iinf", struct.pack(">H", 1) + infe(1, b"hvc1")),
                    box(b"iprp", box(b"ipco", ispe(0, 48)) + ipma([(1, [1])])),
                ]
            ),
            "zero",
        ),
        (
            heif(
                [
                    full(b"pitm", struct.pack(">H", 1)),
                    full(b"iinf", struct.pack(">H", 1) + infe(1, b"Exif")),
                    box(b"iprp", box(b"ipco", ispe(8, 8)) + ipma([(1, [1])])),
                ]
            ),
            "not an image",
        ),
        (
            heif(
                [
                    full(b"pitm", struct.pack(">H", 1)),
                    full(b"iinf", struct.pack(">H", 1) + infe(1, b"hvc1")),
                    box(b"iprp", box(b"ipco", ispe(8, 8)) + full(b"ipma", struct.pack(">I", 10**6))),
                ]
            ),
            "entries",
        ),
        (heif([full(b"iinf", struct.pack(">H", 0) + struct.pack(">I", 0) + b"infe")]), "pitm"),
    ],
    ids=[
        "empty",
        "length-past-end",
        "length-under-header",
        "largesize-under-header",
        "largesize-cut",
        "length-0-runs-to-end",
        "short-ftyp",
        "ftyp-not-first",
        "no-iinf",
        "primary-not-listed",
        "property-index-past-ipco",
        "zero-ispe",
        "primary-not-an-image",
        "ipma-count-over-cap",
        "length-0-inside-meta",
    ],
)
def test_malformed_boxes_end_in_the_specific_error(data, says):
    with pytest.raises(HeifBoxError) as error:
        parse_heif(data)
    assert says in str(error.value)


def test_nesting_and_box_counts_are_capped():
    many = full(b"iinf", struct.pack(">H", 0) + box(b"free") * 25_000)
    with pytest.raises(HeifBoxError, match="more than"):
        parse_heif(heif([full(b"pitm", struct.pack(">H", 1)), many]))
    with pytest.raises(HeifBoxError, match="top-level"):
        parse_heif(box(b"ftyp", b"heic\x00\x00\x00\x00") + box(b"free") * 2000)


def test_random_damage_never_raises_anything_else():
    rng = random.Random(1)  # noqa: S311 - a repeatable damage pattern, not a secret
    originals = [encoded(), samples.iphone_heic((96, 64)), grid_file()]
    for _ in range(3000):
        data = bytearray(rng.choice(originals))
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(min(len(data), 700))] = rng.randrange(256)
        with contextlib.suppress(HeifBoxError):
            parse_heif(bytes(data))
