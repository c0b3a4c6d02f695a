"""The review page of `rekflow serve` (GET /review) in headless Chromium, over a folder `rekflow analyze` left two
flagged photos in: approve one and reject the other from the page, then check the documents, the folder's index and
the Media Reviewed events; cross-site and tokenless posts are refused. The page's screenshot is written to the test's
folder."""

from __future__ import annotations

import contextlib
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rekflow.commands.review.folder import list_local, reviews_folder
from rekflow.commands.serve.library import FolderLibrary
from rekflow.commands.serve.server import make_server
from tests.conftest import schema_validator
from tests.functional.test_report import headless_chromium
from tests.functional.test_review import FLAGGED, flagged_folder  # noqa: F401 (a fixture)
from tests.functional.test_search_review import keys


@contextlib.contextmanager
def serving(folder: Path) -> Iterator[str]:
    """`rekflow serve --output folder` on a free port: its URL."""
    library = FolderLibrary(folder)
    server = make_server(library, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        library.index.close()


@pytest.fixture
def page_url(flagged_folder: Path) -> Iterator[str]:  # noqa: F811
    with serving(flagged_folder) as url:
        yield url


@pytest.fixture
def flagged_heic_and_video(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An iPhone HEIC photo and a video the fixture backend flags (a video: at each of its 3 seconds), analysed by
    `rekflow analyze`: their reviews wait in the folder."""
    from rekflow.cli import main
    from rekflow.media.samples import iphone_heic, sample_video
    from rekflow.vision import fixture

    monkeypatch.setattr(fixture, "MODERATION_LABELS", FLAGGED["ModerationLabels"])
    media = tmp_path / "media"
    media.mkdir()
    (media / "photo.heic").write_bytes(iphone_heic())
    (media / "clip.mp4").write_bytes(sample_video())
    output = tmp_path / "results"
    argv = ["analyze", "--json", "--backend", "fixture", "--concurrency", "1", "--output", str(output), str(media)]
    assert main(argv) == 0
    return output


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    driver = headless_chromium(tmp_path / "chromium-profile", "--window-size=1100,900")
    try:
        yield driver
    finally:
        driver.quit()


def _decide_on_page(browser: Any, key: str, button: str, note: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    card = browser.find_element(By.CSS_SELECTOR, f'.review[data-key="{key}"]')
    card.find_element(By.CSS_SELECTOR, ".note").send_keys(note)
    card.find_element(By.CSS_SELECTOR, f"button.{button}").click()
    # The decision runs the review workflow on a local stack, then the page comes back without the card.
    WebDriverWait(browser, 120).until(expected_conditions.staleness_of(card))


def test_approve_and_reject_from_the_page(browser, page_url, flagged_folder, tmp_path, capsys):  # noqa: F811
    from selenium.webdriver.common.by import By

    # GIVEN the page lists both waiting reviews, oldest first, each with its image and findings
    browser.get(page_url + "/review")
    cards = browser.find_elements(By.CSS_SELECTOR, "#pending .review")
    assert [c.get_attribute("data-key") for c in cards] == ["first.jpg", "second.jpg"]
    for card in cards:
        image = card.find_element(By.TAG_NAME, "img")
        assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", image) > 0
        assert "Violence 91%" in card.text
    assert [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"] == []
    screenshot = tmp_path / "review-page.png"
    browser.save_screenshot(str(screenshot))
    print(f"review page screenshot: {screenshot}")

    # WHEN one is approved and the other rejected from the page
    _decide_on_page(browser, "first.jpg", "approved", "a toy gun")
    _decide_on_page(browser, "second.jpg", "rejected", "real violence")

    # THEN nothing waits, both are listed as decided, and the folder records each decision and its event
    assert browser.find_elements(By.CSS_SELECTOR, "#pending .review") == []
    decided = browser.find_element(By.ID, "decided").text
    assert "first.jpg: APPROVED" in decided and "second.jpg: REJECTED" in decided
    # and the object's readability after each decision, as the local S3 answered a reader (MediaBucketPolicy)
    lines = {line.split(":")[0]: line for line in decided.splitlines()}
    assert lines["first.jpg"].endswith("· readable")
    assert lines["second.jpg"].endswith("· unreadable to readers (HoldFlaggedMedia)")
    assert list_local(flagged_folder) == []
    for key, decision, note in (("first.jpg", "APPROVED", "a toy gun"), ("second.jpg", "REJECTED", "real violence")):
        document = json.loads((flagged_folder / f"{key}.json").read_text())
        schema_validator("results-document.schema.json").validate(document)
        assert (document["review"]["decision"], document["review"]["note"]) == (decision, note)
        (record,) = [
            json.loads(p.read_text())
            for p in reviews_folder(flagged_folder).glob("*.json")
            if not p.name.endswith(".document.json") and json.loads(p.read_text())["key"] == key
        ]
        schema_validator("media-reviewed-event.schema.json").validate(record["event"])
        assert record["event"]["decision"] == decision
    browser.save_screenshot(str(tmp_path / "review-page-decided.png"))
    # AND search follows the page's decisions at once (the folder's index is updated with each decided document)
    assert keys(capsys, flagged_folder, "review:approved") == ["first.jpg"]
    assert keys(capsys, flagged_folder, "review:rejected") == ["second.jpg"]
    assert keys(capsys, flagged_folder, "review:pending") == []


def test_the_library_page_shows_the_waiting_reviews_on_top(browser, page_url, flagged_folder, tmp_path):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    # GIVEN the search page (the library's browse view) over the folder with two reviews waiting
    browser.get(page_url + "/")
    WebDriverWait(browser, 30).until(lambda b: b.find_element(By.TAG_NAME, "body").get_attribute("data-answered") == "")

    # THEN the waiting reviews come first, each with Approve and Reject, and every asset is browsed below them
    cards = browser.find_elements(By.CSS_SELECTOR, "#reviews .review")
    assert [c.get_attribute("data-key") for c in cards] == ["first.jpg", "second.jpg"]
    hits = browser.find_element(By.ID, "hits")
    assert cards[-1].location["y"] < hits.location["y"]
    assert "2 asset(s)" in browser.find_element(By.ID, "summary").text
    browser.save_screenshot(str(tmp_path / "library-page-reviews.png"))

    # WHEN one is approved from there, THEN it leaves the top and its document records the decision
    _decide_on_page(browser, "first.jpg", "approved", "from the library page")
    remaining = browser.find_elements(By.CSS_SELECTOR, "#reviews .review")
    assert [c.get_attribute("data-key") for c in remaining] == ["second.jpg"]
    document = json.loads((flagged_folder / "first.jpg.json").read_text())
    assert (document["review"]["decision"], document["review"]["note"]) == ("APPROVED", "from the library page")


def _post(url: str, data: dict[str, str], headers: dict[str, str]) -> int:
    request = urllib.request.Request(  # noqa: S310 (the test's own server on 127.0.0.1)
        url + "/api/review", data=json.dumps(data).encode(), method="POST", headers=headers
    )
    try:
        with urllib.request.urlopen(request) as answer:  # noqa: S310
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return int(refused.code)


def test_cross_site_and_tokenless_decisions_are_refused(page_url, flagged_folder):  # noqa: F811
    asset = list_local(flagged_folder)[0].asset_id
    page = urllib.request.urlopen(page_url + "/review").read().decode()  # noqa: S310
    token = page.split('name="csrf-token" content="')[1].split('"')[0]
    decision = {"asset": asset, "decision": "APPROVED"}
    # another site's page sending the right token, and this origin without it, are both refused
    assert _post(page_url, decision, {"Origin": "http://evil.example", "X-CSRF-Token": token}) == 403
    assert _post(page_url, decision, {"Origin": page_url, "X-CSRF-Token": "guess"}) == 403
    assert len(list_local(flagged_folder)) == 2
    # and the same request from the page's origin with its token decides
    assert _post(page_url, decision, {"Origin": page_url, "X-CSRF-Token": token}) == 200
    assert len(list_local(flagged_folder)) == 1


def _loaded(browser: Any, picture: Any) -> bool:
    return bool(browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", picture))


def test_each_card_shows_what_was_flagged(browser, flagged_heic_and_video, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with serving(flagged_heic_and_video) as url:
        # GIVEN the review page over a flagged HEIC photo and a flagged video
        browser.get(url + "/review")
        photo = browser.find_element(By.CSS_SELECTOR, '.review[data-key="photo.heic"]')
        video = browser.find_element(By.CSS_SELECTOR, '.review[data-key="clip.mp4"]')

        # THEN the photo shows its preview (a JPEG made from the HEIC: an <img> of the file itself shows nothing)
        # and its moderation labels with their confidence
        preview = photo.find_element(By.CSS_SELECTOR, "img.preview")
        WebDriverWait(browser, 60).until(lambda b: _loaded(b, preview))
        assert [li.text for li in photo.find_elements(By.CSS_SELECTOR, ".findings li")] == [
            "Violence 91%",
            "Weapons 75% (Violence)",
        ]

        # AND the video shows each flagged moment: its frame, its time and the labels found then
        moments = video.find_elements(By.CSS_SELECTOR, "figure.moment")
        assert [m.find_element(By.TAG_NAME, "time").text for m in moments] == ["00:00", "00:01", "00:02"]
        for moment in moments:
            WebDriverWait(browser, 60).until(lambda b, m=moment: _loaded(b, m.find_element(By.TAG_NAME, "img")))
            assert "Violence 91%, Weapons 75% (Violence)" in moment.text
        assert video.find_elements(By.CSS_SELECTOR, "img.preview") == []
        assert [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"] == []
        screenshot = tmp_path / "review-page-moments.png"
        browser.save_screenshot(str(screenshot))
        print(f"review page screenshot: {screenshot}")


def test_a_video_from_a_moments_second_shows_that_frame(browser, flagged_heic_and_video):
    """Over a stack a flagged moment is the signed video with `#t=SECONDS` (stack_reviews.py), as pending.html
    writes it: Chromium must show the frame at that second from preload="metadata". The folder's /media stands in
    for S3 (a browser test cannot reach S3 by https here)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with serving(flagged_heic_and_video) as url:
        browser.get(url + "/review")
        card = browser.find_element(By.CSS_SELECTOR, '.review[data-key="clip.mp4"]')
        media = card.find_element(By.LINK_TEXT, "open").get_attribute("href")
        # the element as pending.html renders a stack's moment
        video = browser.execute_script(
            "const v = document.createElement('video'); v.preload = 'metadata'; v.muted = true;"
            "v.src = arguments[0] + '#t=2'; document.body.append(v); return v;",
            media,
        )
        # HAVE_CURRENT_DATA (2) at 2 s: the frame there is decoded. Under load Chromium reports HAVE_CURRENT_DATA
        # at 0 s before the fragment's seek lands (seen in a full run), so the wait is for both.
        shown = "return [arguments[0].readyState >= 2 && arguments[0].currentTime, arguments[0].videoWidth]"
        WebDriverWait(browser, 60).until(lambda b: b.execute_script(shown, video)[0] == 2)
        assert browser.execute_script(shown, video) == [2, 640]
