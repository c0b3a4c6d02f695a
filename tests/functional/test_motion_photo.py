"""A phone's motion photo (a JPEG with its video clip appended) through the whole workflow."""

from __future__ import annotations

from rekflow.vision.image_input import inspect
from tests.conftest import jpeg_bytes, schema_validator, video_bytes
from tests.unit.test_media_format import motion_photo_xmp, with_segment


def motion_photo() -> tuple[bytes, bytes]:
    clip = video_bytes()
    return with_segment(jpeg_bytes(320, 240), 0xE1, motion_photo_xmp(len(clip))) + clip, clip


def test_the_vision_backend_decodes_the_still_of_a_motion_photo():
    image = inspect(motion_photo()[0])
    assert (image.format, image.width, image.height) == ("JPEG", 320, 240)
    assert image.decode().size == (320, 240)


def test_motion_photo_is_analysed_as_its_still_image(runtime):
    # GIVEN a motion photo uploaded to the media bucket
    data, clip = motion_photo()
    upload = runtime.upload(data, "phone/MVIMG_20240101_120000.jpg")

    # WHEN S3's Object Created event starts the workflow
    result = runtime.run(runtime.object_created_event(upload))

    # THEN the still is analysed, and the document says a clip follows it
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["status"] == "SUCCEEDED"
    document = runtime.results_document(result.output["resultsKey"])
    schema_validator("results-document.schema.json").validate(document)
    assert document["status"] == "SUCCEEDED"
    assert (
        document["object"]
        | {
            "format": "JPEG",
            "width": 320,
            "height": 240,
            "size": len(data),
            "trailingBytes": len(clip),
            "motionPhoto": True,
        }
        == document["object"]
    )
