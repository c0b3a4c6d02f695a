"""SMPTE timecodes and timestamps of video segments, as Rekognition writes them."""

from __future__ import annotations

import pytest

from rekflow.vision.models.segments import segment, timecode


@pytest.mark.parametrize(
    ("frame", "frame_rate", "expected"),
    [
        (0, 24, "00:00:00:00"),
        (49, 24, "00:00:02:01"),
        (25 * 3600, 25, "01:00:00:00"),
        # 29.97 fps drop-frame: labels ;00 and ;01 are skipped at each minute but every tenth.
        (1799, 30000 / 1001, "00:00:59;29"),
        (1800, 30000 / 1001, "00:01:00;02"),
        (17981, 30000 / 1001, "00:09:59;29"),
        (17982, 30000 / 1001, "00:10:00;00"),
        (107892, 30000 / 1001, "01:00:00;00"),  # an hour of 29.97 fps video is 107,892 frames
        (3600, 60000 / 1001, "00:01:00;04"),  # minute 0 has all 3,600 frames at 59.94 fps
        # A true 30 fps video keeps non-drop counting.
        (1800, 30, "00:01:00:00"),
    ],
)
def test_timecode(frame: int, frame_rate: float, expected: str) -> None:
    assert timecode(frame, frame_rate) == expected


def test_segment_timestamps_round_down_like_rekognition() -> None:
    # Frame 1 of 29.97 fps video starts at 33.3667 ms, reported as 33.
    shot = segment("SHOT", 1, 29, 30000 / 1001, {})
    assert (shot["StartTimestampMillis"], shot["EndTimestampMillis"]) == (33, 1001)
    assert shot["StartTimecodeSMPTE"] == "00:00:00;01"
    assert shot["DurationFrames"] == 29
    assert segment("SHOT", 48, 71, 24, {})["StartTimestampMillis"] == 2000
