"""A video's poster frame: one ffmpeg run that ends, and closes its pipes, before video_poster returns.

The test suite turns warnings into errors, and pytest reports a ResourceWarning from a pipe left open when
it is collected; imageio-ffmpeg's read_frames left two whenever ffmpeg exited first (its issue #61), which
failed an unrelated test in CI once. A small clip makes that the rule: its frame fits in the pipe's buffer,
so ffmpeg has written it and exited before the reader closes (40 warnings in 20 posters with read_frames).
"""

from __future__ import annotations

import gc
import warnings

import pytest

from rekflow.media.samples import sample_video
from rekflow.media.thumbnails import PREVIEW_SIDE, video_poster
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
