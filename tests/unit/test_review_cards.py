"""What a waiting review's card shows was flagged (rekflow/commands/serve/flagged.py): a moment's time as mm:ss, a
video's moderation items grouped by moment in time order with the labels highest first, the first MOMENTS_SHOWN of
them and how many more, and the card as pending.html renders it."""

from __future__ import annotations

from rekflow.commands.review.common import Pending
from rekflow.commands.serve.app import App
from rekflow.commands.serve.csrf import CsrfGuard
from rekflow.commands.serve.flagged import MOMENTS_SHOWN, Pictures, card_of, clock, moments_shown
from rekflow.commands.serve.library import StackLibrary


def item(millis: int, name: str, confidence: float, parent: str = "") -> dict:
    return {"Timestamp": millis, "ModerationLabel": {"Name": name, "Confidence": confidence, "ParentName": parent}}


def video_document(labels: list[dict]) -> dict:
    return {
        "assetId": "a" * 64,
        "object": {"bucket": "media", "key": "clip.mp4", "versionId": "v1", "mediaType": "video", "format": "MP4"},
        "features": {"moderation": {"status": "SUCCEEDED", "labels": labels}},
    }


def test_a_moment_reads_as_minutes_and_seconds():
    assert [clock(s) for s in (0, 9, 61, 1.5, 3725, 59.96)] == ["00:00", "00:09", "01:01", "00:01.5", "62:05", "01:00"]


def test_a_videos_moments_are_its_first_ones_in_time_order_with_their_labels_highest_first():
    # GIVEN 12 flagged moments, out of order, the one at 2 s with two labels
    items = [item(second * 1000, "Violence", 90.0 - second) for second in reversed(range(12))]
    items.append(item(2000, "Weapons", 95.0, "Violence"))

    # WHEN they are shown, each pictured at its second
    shown, more = moments_shown(items, lambda seconds: (f"/thumbnail?at={seconds:g}", None))

    # THEN the first MOMENTS_SHOWN are, in time order, and the rest counted
    assert (len(shown), more) == (MOMENTS_SHOWN, 12 - MOMENTS_SHOWN)
    assert [m.time for m in shown] == [f"00:0{s}" for s in range(MOMENTS_SHOWN)]
    assert shown[2].labels == ["Weapons 95% (Violence)", "Violence 88%"]
    assert shown[7].thumbnail == "/thumbnail?at=7" and shown[7].video is None


def test_the_card_renders_the_moments_and_how_many_more(tmp_path):
    document = video_document([{"Name": "Violence", "Confidence": 91.0, "ParentName": ""}])
    review = Pending("a" * 64, "clip.mp4", "v1", "2026-12-02T10:00:00Z", ["Violence"])
    items = [item(second * 1000, "Violence", 91.0) for second in range(10)]
    pictures = Pictures(None, "/media?key=clip.mp4", lambda seconds: (None, f"https://s3/clip.mp4?sig#t={seconds:g}"))
    card = card_of(review, document, items, pictures)
    assert card.preview is None and card.more_moments == 2

    app = App(StackLibrary("here", None, None), CsrfGuard(frozenset()))
    html = app.page("review.html", pending=[card.view()], more=0, decided=[])
    assert html.count('<figure class="moment"') == MOMENTS_SHOWN
    assert 'src="https://s3/clip.mp4?sig#t=7"' in html and "<time>00:07</time> Violence 91%" in html
    assert "and 2 more flagged moments" in html and 'class="preview"' not in html


def test_a_video_without_its_moderation_results_says_so():
    review = Pending("a" * 64, "clip.mp4", "v1", "2026-12-02T10:00:00Z", ["Violence"])
    card = card_of(review, video_document([]), None, Pictures(None, None, lambda s: (None, None)))
    assert card.moments == [] and card.unreadable == "the video's moderation results were not kept"
