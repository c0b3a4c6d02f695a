"""Uploads as phones and cameras make them, through the whole workflow: an analysable copy first, then the analysis.

Each format is made here (pillow-heif, Pillow, the ffmpeg in imageio-ffmpeg). The `models` tests run the real
local models on the copy; the others use the fixture backend for the paths around the conversion.
"""

from __future__ import annotations

import io
import struct
from functools import cache

import pytest
from PIL import Image

from rekflow.media import photographs, samples
from tests.conftest import schema_validator, task_errors

VIDEO_SIZE = (320, 176)  # sides that are multiples of 16, as the encoders want


def mediaconvert(runtime):
    """The runtime's local MediaConvert (rekflow.local.mediaconvert), installed by its Router."""
    return runtime._router.mediaconvert


def cat(size: tuple[int, int] = (320, 240)) -> Image.Image:
    return photographs.bundled_photo("chelsea").resize(size)


def saved(image: Image.Image, fmt: str, **options: object) -> bytes:
    import pillow_heif

    pillow_heif.register_heif_opener()
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def heic_photo() -> bytes:
    """Held in portrait: the pixels stored sideways and turned by the file (pillow-heif writes EXIF 6 as irot)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return saved(
        cat().transpose(Image.Transpose.ROTATE_90), "HEIF", exif=exif.tobytes(), enc_params={"preset": "ultrafast"}
    )


def webp_with_alpha() -> bytes:
    image = cat().convert("RGBA")
    image.putalpha(255)
    image.paste((0, 0, 0, 0), (0, 0, 40, 240))  # a transparent strip: flattened onto white
    return saved(image, "WEBP")


def animated_gif() -> bytes:
    first = cat().convert("P", palette=Image.Palette.ADAPTIVE)
    rest = [Image.new("RGB", (320, 240), colour).convert("P") for colour in ("black", "white")]
    return saved(first, "GIF", save_all=True, append_images=rest, duration=100)


@cache
def upload(kind: str) -> tuple[str, bytes]:
    made = {
        "heic": lambda: ("camera roll/IMG_0001.HEIC", heic_photo()),
        "webp": lambda: ("web/cat.webp", webp_with_alpha()),
        "tiff": lambda: ("scans/cat.tif", saved(cat(), "TIFF", compression="tiff_lzw")),
        "gif": lambda: ("chat/cat.gif", animated_gif()),
        "hevc-mp4": lambda: ("camera roll/IMG_0002.mp4", samples.phone_video("hevc", "mp4", 2.0, VIDEO_SIZE)),
        "vp9-webm": lambda: ("recordings/screen.webm", samples.phone_video("vp9", "webm", 2.0, VIDEO_SIZE)),
        "prores-mov": lambda: ("camera/A001.mov", samples.phone_video("prores", "mov", 2.0, VIDEO_SIZE)),
    }
    return made[kind]()


IMAGES = ("heic", "webp", "tiff", "gif")
VIDEOS = ("hevc-mp4", "vp9-webm", "prores-mov")


def analyse(runtime, kind: str):
    key, data = upload(kind)
    result = runtime.run(runtime.object_created_event(runtime.upload(data, key)), timeout=180)
    assert result.status == "SUCCEEDED", result.cause
    return result, runtime.results_document(result.output["resultsKey"])


@pytest.mark.models
@pytest.mark.parametrize("kind", IMAGES + VIDEOS)
def test_each_format_is_converted_and_the_local_models_find_the_cat_in_the_copy(make_runtime, kind):
    runtime = make_runtime("local", Features="labels")
    result, document = analyse(runtime, kind)
    assert result.output["status"] == "SUCCEEDED"
    schema_validator("results-document.schema.json").validate(document)
    key, data = upload(kind)
    assert (document["object"]["key"], document["object"]["size"]) == (key, len(data))  # the upload itself
    proxy = document["proxy"]
    assert proxy["key"].startswith("proxies/") and proxy["key"] != key
    labels = {label["Name"] for label in document["features"]["labels"].get("labels", [])}
    if kind in VIDEOS:
        assert (proxy["format"], proxy["video"]["codec"]) == ("MP4", "H.264")
        assert proxy["conversion"]["by"] == "AWS Elemental MediaConvert" and proxy["conversion"]["jobId"]
        body = runtime.results_document(document["features"]["labels"]["resultsLocation"].split("/", 3)[3])
        labels = {item["Label"]["Name"] for item in body["items"]}
    else:
        assert (proxy["format"], proxy["width"], proxy["height"]) == ("JPEG", 320, 240)  # the HEIC turned upright
        assert proxy["conversion"]["by"].startswith("AWS Lambda: Pillow")
    assert labels & {"Cat", "Animal", "Mammal"}, labels


def test_an_iphone_photo_takes_two_more_states_and_is_reported_as_the_upload_it_is(runtime):
    result, document = analyse(runtime, "heic")
    entered = result.states_entered()
    assert entered[:4] == [
        "Validate object",
        "What kind of media is it?",
        "Convert image to JPEG",
        "What kind of media is it?",
    ]
    assert len(entered) == 14  # the twelve of a JPEG, and the conversion with the second pass through the Choice
    schema_validator("results-document.schema.json").validate(document)
    assert (document["object"]["format"], document["object"]["width"], document["object"]["height"]) == (
        "HEIC",
        320,
        240,
    )
    steps = document["proxy"]["conversion"]["steps"]
    assert steps == ["HEIF transform (orientation 6) applied by libheif", "JPEG quality 90"]
    (item,) = runtime.summary_items()
    assert (item["Key"], item["Format"]) == ("camera roll/IMG_0001.HEIC", "HEIC")
    (event,) = runtime.analyzed_events()
    assert event["detail"]["key"] == "camera roll/IMG_0001.HEIC"


def test_the_copy_is_named_by_the_upload_and_a_rerun_writes_the_same_one(runtime):
    key, data = upload("webp")
    event = runtime.object_created_event(runtime.upload(data, key))
    first = runtime.results_document(runtime.run(event).output["resultsKey"])
    second = runtime.run(event)
    assert second.output["duplicate"] is True  # the same object version: one record
    proxy = first["proxy"]
    assert proxy["key"] == f"proxies/{first['assetId']}/proxy.jpg"


def test_a_corrupt_heic_is_refused_with_its_reason(runtime):
    heic = heic_photo()
    corrupt = runtime.run(runtime.object_created_event(runtime.upload(heic.replace(b"meta", b"junk", 1), "a.heic")))
    assert (corrupt.output["status"], corrupt.output["reason"]) == ("REJECTED", "CORRUPT")
    assert "Convert image to JPEG" not in corrupt.states_entered()
    cut = runtime.run(runtime.object_created_event(runtime.upload(heic[: len(heic) - 500], "b.heic")))
    assert (cut.output["status"], cut.output["reason"]) == ("REJECTED", "TRUNCATED"), cut.output["message"]


def test_data_only_decoding_finds_cut_short_is_refused_by_the_conversion(runtime, monkeypatch):
    # A JPEG over Rekognition's byte limit goes to the conversion without the walk to its end marker; decoding
    # finds it cut short, and the conversion answers as Validate would.
    monkeypatch.setattr(runtime.function("ValidateFunction").module, "MAX_IMAGE_BYTES", 1000)
    whole = saved(cat(), "JPEG", quality=95)
    result = runtime.run(runtime.object_created_event(runtime.upload(whole[: len(whole) // 2], "big.jpg")))
    assert (result.output["status"], result.output["reason"]) == ("REJECTED", "TRUNCATED"), result.output["message"]
    assert "Convert image to JPEG" in result.states_entered()
    document = runtime.results_document(result.output["resultsKey"])
    assert "proxy" not in document and document["features"] == {}


def test_an_over_long_video_is_refused_before_any_conversion(make_runtime):
    runtime = make_runtime(MaxVideoDurationSeconds="1")
    key, data = upload("hevc-mp4")
    result = runtime.run(runtime.object_created_event(runtime.upload(data, key)))
    assert (result.output["status"], result.output["reason"]) == ("REJECTED", "TOO_LONG")
    assert "over the 1 s limit" in result.output["message"]
    assert mediaconvert(runtime).requests == []


def test_a_video_mediaconvert_cannot_decode_is_recorded_with_its_error(make_runtime):
    runtime = make_runtime(Features="labels")
    data = bytearray(samples.phone_video("hevc", "mov", 1.0, (64, 48)))
    offset = 0
    while offset < len(data):  # the movie header intact (Validate accepts it), the coded pictures zeroed
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if kind == b"mdat":
            data[offset + 8 : offset + size] = bytes(size - 8)
        offset += size
    result = runtime.run(runtime.object_created_event(runtime.upload(bytes(data), "broken.mov")))
    assert result.status == "SUCCEEDED", result.cause
    assert (result.output["status"], result.output["reason"]) == ("REJECTED", "CONVERSION_FAILED")
    assert "in ERROR 1010: Unable to open input file" in result.output["message"]
    assert task_errors(result) == ["States.TaskFailed"]
    assert {"Did the conversion job fail?", "Read the failed job", "Video conversion refused"} <= set(
        result.states_entered()
    )


def test_throttled_conversion_is_retried_and_a_refused_one_fails_the_execution_by_name(make_runtime):
    runtime = make_runtime(Features="labels")
    key, data = upload("vp9-webm")
    mediaconvert(runtime).fail_next("TooManyRequestsException", 429)
    throttled = runtime.run(runtime.object_created_event(runtime.upload(data, key)))
    assert throttled.output["status"] == "SUCCEEDED"
    assert task_errors(throttled) == ["MediaConvert.TooManyRequestsException"]

    mediaconvert(runtime).fail_next("ForbiddenException", 403)
    refused = runtime.run(runtime.object_created_event(runtime.upload(data, "other/screen.webm")))
    assert (refused.status, refused.error) == ("FAILED", "MediaConvert.ForbiddenException")
    assert refused.states_entered()[-1] == "Conversion could not run"


def test_express_converts_images_itself_and_hands_videos_to_media_analysis(make_runtime):
    runtime = make_runtime(ImageWorkflow="EXPRESS", Features="labels")
    image, _ = analyse(runtime, "gif")
    assert "imageanalysis" in image.arn.lower() and "Convert image to JPEG" in image.states_entered()
    key, data = upload("prores-mov")
    express = runtime.wait(runtime.start(runtime.object_created_event(runtime.upload(data, key))))
    assert express.states_entered()[-1] == "Hand video to MediaAnalysis"
    standard = runtime.wait(express.output["handedOverTo"], timeout=120)
    assert standard.status == "SUCCEEDED", standard.cause
    assert "Convert video to H.264" in standard.states_entered()


def test_an_analysable_copy_in_the_bucket_starts_no_analysis(runtime):
    _, document = analyse(runtime, "tiff")
    copy = runtime.upload(b"not analysed", document["proxy"]["key"])
    with pytest.raises(ValueError, match="does not match"):
        runtime.start(runtime.object_created_event(copy))
    assert len(runtime.summary_items()) == 1
