"""Capture time, camera and GPS position read by Validate from the Exif a photo carries (lambdas/validate/
file_metadata.py): on photos made here in each container, on real cameras' and phones' files from the peer
corpora, with StoreGpsLocation off, into the results document, and on damaged Exif blocks."""

from __future__ import annotations

import io
import json
import random

import boto3
import jsonschema
import pytest
from file_metadata import heif_exif, jpeg_exif, metadata_from_exif, png_exif
from image_probe import probe_image
from PIL import Image

from tests.conftest import schema_validator
from tests.corpora import pillow_heif_image, pillow_image

TAKEN = "2024-06-01T18:30:05+02:00"
CAMERA = {"make": "Apple", "model": "iPhone 15 Pro"}
GPS = {"lat": -33.8651, "lon": 151.2102}  # 33° 51' 54.36" S, 151° 12' 36.72" E
CONTAINERS = {"JPEG": "jpg", "PNG": "png", "TIFF": "tif", "HEIF": "heic", "WEBP": "webp"}


def exif_block(**overrides: object) -> bytes:
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = CAMERA["make"], CAMERA["model"]
    exif[0x8769] = {0x9003: "2024:06:01 18:30:05", 0x9011: "+02:00"}
    exif[0x8825] = {1: "S", 2: (33.0, 51.0, 54.36), 3: "E", 4: (151.0, 12.0, 36.72)}
    for tag, value in overrides.items():
        exif[int(tag)] = value
    return exif.tobytes()


def photo(container: str, exif: bytes | None = None) -> bytes:
    if container == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 60, 10)).save(buffer, container, exif=exif or exif_block())
    return buffer.getvalue()


def verdict_for(runtime, data: bytes, key: str) -> dict:
    event = runtime.object_created_event(runtime.upload(data, key))
    return runtime.function("ValidateFunction").module.validate_object(event["detail"], boto3.client("s3"))


@pytest.mark.parametrize("container", CONTAINERS)
def test_each_container_s_exif_gives_time_camera_and_position(runtime, container):
    verdict = verdict_for(runtime, photo(container), f"photo.{CONTAINERS[container]}")
    assert verdict["status"] == "ACCEPTED", verdict["message"]
    assert verdict["metadata"] == {"takenAt": TAKEN, "camera": CAMERA, "gps": GPS}


def test_store_gps_location_false_keeps_time_and_camera_only(make_runtime):
    runtime = make_runtime(StoreGpsLocation="false")
    for container, extension in CONTAINERS.items():
        assert verdict_for(runtime, photo(container), f"p.{extension}")["metadata"] == {
            "takenAt": TAKEN,
            "camera": CAMERA,
        }, container


@pytest.mark.parametrize("container", ["JPEG", "HEIF"])
def test_the_metadata_reaches_the_results_document_and_the_time_the_summary(runtime, container):
    # A JPEG is analysed as it is; a HEIC through its JPEG copy, which carries no Exif: the upload's metadata counts.
    upload = runtime.upload(photo(container), f"trip.{CONTAINERS[container]}")
    result = runtime.run(runtime.object_created_event(upload))
    assert result.status == "SUCCEEDED", result.cause
    document = runtime.results_document(result.output["resultsKey"])
    schema_validator("results-document.schema.json").validate(document)
    assert document["metadata"] == {"takenAt": TAKEN, "camera": CAMERA, "gps": GPS}
    assert ("proxy" in document) == (container == "HEIF")
    (item,) = runtime.summary_items()
    assert item["TakenAt"] == TAKEN and "gps" not in json.dumps(item, default=str).lower()
    (event,) = runtime.analyzed_events()
    assert "metadata" not in event["detail"] and "gps" not in json.dumps(event["detail"]).lower()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # A Canon compact camera: no UTC offset, no GPS.
        ("flower.jpg", {"takenAt": "2003-12-14T12:01:44", "camera": {"make": "Canon", "model": "Canon PowerShot S40"}}),
        # A Pixel 6 photo: offset and position.
        (
            "ultrahdr.jpg",
            {
                "takenAt": "2024-05-07T09:33:04+08:00",
                "camera": {"make": "Google", "model": "Pixel 6"},
                "gps": {"lat": 30.62765, "lon": 119.738767},
            },
        ),
        # A GPS directory without latitude and longitude (a placeholder value, an impossible date): neither counts.
        ("exif_gps.jpg", {"camera": {"make": "Make", "model": "XXX-XXX"}, "takenAt": "2099-09-29T10:10:10"}),
        # The GPS pointer is a string, not an offset (Pillow's "typeerror" case): no position, no exception.
        ("exif_gps_typeerror.jpg", {}),
    ],
)
def test_pillow_s_camera_jpegs(name, expected):
    data = pillow_image(name)
    block = jpeg_exif(lambda offset, length: data[offset : offset + length], data[:65536])
    assert metadata_from_exif(block or b"", store_gps=True) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "heif_other/pug.heic",
            {
                "takenAt": "2023-02-21T14:33:08+03:00",
                "camera": {"make": "Apple", "model": "iPhone 13 Pro"},
                "gps": {"lat": 44.850478, "lon": 34.976647},
            },
        ),
        (
            "heif_special/xiaomi.heic",
            {
                "takenAt": "2023-04-27T19:44:18",
                "camera": {"make": "Xiaomi", "model": "M2012K11AG"},
                "gps": {"lat": 47.227289, "lon": 39.699992},
            },
        ),
        (
            "heif_other/cat.hif",
            {"takenAt": "2020-09-14T11:09:34-05:00", "camera": {"make": "SONY", "model": "ILCE-7SM3"}},
        ),
        # Apple Vision Pro writes 0, 0 without a fix: no position rather than one in the Gulf of Guinea.
        ("heif_other/spatial_photo.heic", {"camera": {"make": "Apple", "model": "Apple Vision Pro"}}),
    ],
)
def test_pillow_heif_s_phone_and_camera_heics(name, expected):
    header = probe_image("HEIC", io.BytesIO(pillow_heif_image(name)))
    assert metadata_from_exif(header.exif or b"", store_gps=True) == expected


def test_make_and_model_that_are_not_text_are_left_out():
    # Pillow's pport_g4.tif: its Make is one byte 0x8C, a control character, not a name.
    header = probe_image("TIFF", io.BytesIO(pillow_image("pport_g4.tif")))
    assert metadata_from_exif(header.exif or b"", store_gps=True) == {
        "camera": {"model": "Photosmart Plus B210 series"}
    }


def test_offsets_dates_and_positions_that_cannot_be_are_dropped():
    bad = exif_block(
        **{"34665": {0x9003: "2024:13:01 25:00:00", 0x9004: "2024:06:01 18:30:05", 0x9012: "CEST"}},
        **{"34853": {1: "X", 2: (33.0, 51.0, 54.36), 3: "E", 4: (151.0, 12.0, 36.72)}},
    )
    assert metadata_from_exif(bad, store_gps=True) == {"takenAt": "2024-06-01T18:30:05", "camera": CAMERA}
    beyond = exif_block(**{"34853": {1: "N", 2: (91.0, 0.0, 0.0), 3: "E", 4: (1.0, 0.0, 0.0)}})
    assert "gps" not in metadata_from_exif(beyond, store_gps=True)


def test_where_each_container_keeps_its_exif_is_found():
    block = exif_block()
    tiff = block.removeprefix(b"Exif\x00\x00")  # the TIFF structure itself
    jpeg = photo("JPEG", block)
    assert jpeg_exif(lambda offset, length: jpeg[offset : offset + length], jpeg[:20]) == tiff
    # A writer that puts a table (DQT) or a comment before APP1: stepped over. A scan before it: no Exif.
    tables_first = jpeg[:2] + b"\xff\xdb\x00\x04\x00\x00" + b"\xff\xfe\x00\x03c" + jpeg[2:]
    assert jpeg_exif(lambda offset, length: tables_first[offset : offset + length], tables_first) == tiff
    scan_first = jpeg[:2] + b"\xff\xda\x00\x02" + jpeg[2:]
    assert jpeg_exif(lambda offset, length: scan_first[offset : offset + length], scan_first) is None
    assert png_exif(photo("PNG", block)) == tiff
    assert png_exif(pillow_image("hopper.png")) is None  # reaches IDAT without one
    item = (6).to_bytes(4, "big") + b"Exif\x00\x00" + tiff
    assert heif_exif(lambda offset, length: item[offset : offset + length], (0, len(item))) == tiff


def test_damaged_exif_never_raises_and_what_it_gives_fits_the_schema():
    shape = jsonschema.Draft7Validator(
        schema_validator("results-document.schema.json").schema["properties"]["metadata"]
    )
    block = exif_block()
    chance = random.Random(19)  # noqa: S311 (reproducible damage, not secrets)
    for _ in range(3000):
        damaged = bytearray(block)
        for _ in range(chance.randint(1, 8)):
            damaged[chance.randrange(len(damaged))] = chance.randrange(256)
        shape.validate(metadata_from_exif(bytes(damaged[: chance.randint(0, len(damaged))]), store_gps=True))
