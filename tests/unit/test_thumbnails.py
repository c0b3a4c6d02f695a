"""Thumbnails of analysed media (rekflow.media.thumbnails), as the report and the pages show them.

A photo's: a HEIC shows in a process where no function has run (pillow-heif's opener is registered by the preview
itself, not left to MakeProxy's import), and pixels that do not decode are NoPreview, a ValueError that the report
and the page answer with "no thumbnail", never a crash.

A video's poster frame: one ffmpeg run that ends, and closes its pipes, before video_poster returns. The test suite
turns warnings into errors, and pytest reports a ResourceWarning from a pipe left open when it is collected;
imageio-ffmpeg's read_frames left two whenever ffmpeg exited first (its issue #61), which failed an unrelated test
in CI once. A small clip makes that the rule: its frame fits in the pipe's buffer, so ffmpeg has written it and
exited before the reader closes (40 warnings in 20 posters with read_frames).
"""

from __future__ import annotations

import gc
import subprocess
import sys
import warnings

import pytest

from rekflow.media.samples import iphone_heic, sample_video
from rekflow.media.thumbnails import PREVIEW_SIDE, NoPreview, image_preview, video_poster
from rekflow.vision.one_frame import NoFrame

SHOTS = [("black", 1.0), ("cat", 1.0)]


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("poster") / "clip.mp4"
    path.write_bytes(sample_video(shots=SHOTS))
    return path


@pytest.fixture(scope="module")
def small_clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("poster") / "small.mp4"
    path.write_bytes(sample_video(shots=SHOTS, size=(64, 48)))
    return path


def test_the_poster_is_the_frame_at_the_time_asked_for(clip):
    black, cat = video_poster(clip, 0.5), video_poster(clip, 1.5)
    assert max(black.width, black.height) == PREVIEW_SIDE
    assert black.uri.startswith("data:image/jpeg;base64,")
    # A black frame compresses to far fewer bytes than a photo of a cat.
    assert len(black.uri) * 3 < len(cat.uri)


def test_a_poster_leaves_no_pipe_open(small_clip):
    # A pipe collected open warns from its __del__, where pytest's unraisable-exception hook fails the test. (No
    # count of open descriptors: other tests' threads in this worker may open files meanwhile.)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        for _ in range(20):
            video_poster(small_clip, 1.5)
        gc.collect()


def test_a_time_past_the_end_is_no_frame(clip):
    with pytest.raises(NoFrame, match=r"clip\.mp4"):
        video_poster(clip, 60)


def test_a_file_that_is_not_a_video_is_no_frame(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_bytes(b"not a video at all")
    with pytest.raises(NoFrame, match=r"notes\.mp4"):
        video_poster(path, 0)


# In a process of its own: this one has pillow-heif's opener registered already (the sample HEIC is made with it).
SHOW_HEIC = """
import sys
from rekflow.media.thumbnails import image_preview
preview = image_preview(open(sys.argv[1], "rb").read(), "HEIC")
print(preview.width, preview.height)
"""


def test_a_heic_photo_has_a_preview_in_a_process_where_no_function_ran(tmp_path):
    path = tmp_path / "IMG_0001.HEIC"
    path.write_bytes(iphone_heic(size=(400, 300)))
    shown = subprocess.run(  # noqa: S603
        [sys.executable, "-c", SHOW_HEIC, str(path)], capture_output=True, text=True, check=False, timeout=120
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.split() == ["320", "240"]  # upright, as the analysis saw it (its file's own transform)


def test_a_photo_whose_pixels_do_not_decode_is_no_preview():
    with pytest.raises(NoPreview, match=r"unsupported image format"):
        image_preview(b"\xff\xd8\xff\xe0 not really a JPEG", "JPEG")
