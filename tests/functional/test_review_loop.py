"""Issue 20's "done when", offline with the local models: `make demo`'s samples plus a generated flagged photo and
video go through the whole review loop, from the page and from the CLI.

`rekflow analyze` (the real models, so nothing is flagged by decree: the samples must come out clean and the
stand-ins flagged) → both wait, held → the clip is approved on the review page in Chromium and the photo rejected
with `rekflow review reject` → each decision is recorded in the folder's document, announced (the Media Reviewed
event's detail, checked against its schema), and the object version's readability follows it, as the local S3
answers a reader under the template's MediaBucketPolicy. The page's screenshot goes to the test's folder.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from rekflow.cli import main
from rekflow.commands.review.folder import reviews_folder
from rekflow.commands.serve.library import FolderLibrary
from rekflow.commands.serve.server import make_server
from rekflow.media.flagged import flagged_png, flagged_video
from rekflow.media.samples import SAMPLES, write_samples
from tests.conftest import schema_validator
from tests.functional.test_report import headless_chromium

PHOTO, CLIP = "flagged stand-in.png", "flagged clip.mp4"


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _shown(capsys: pytest.CaptureFixture[str], output: Path, key: str) -> dict:
    code, out, err = _cli(capsys, "review", "show", key, "--output", str(output))
    assert code == 0, err
    return dict(json.loads(out))


def _approve_on_the_page(output: Path, key: str, screenshot: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    library = FolderLibrary(output)
    server = make_server(library, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    browser = headless_chromium(screenshot.parent / "chromium-profile", "--window-size=1100,1000")
    try:
        browser.get(f"http://127.0.0.1:{server.server_address[1]}/review")
        cards = browser.find_elements(By.CSS_SELECTOR, "#pending .review")
        assert sorted(card.get_attribute("data-key") for card in cards) == [CLIP, PHOTO]
        for image in browser.find_elements(By.CSS_SELECTOR, "#pending .review img"):
            assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", image) > 0
        browser.save_screenshot(str(screenshot))
        card = browser.find_element(By.CSS_SELECTOR, f'.review[data-key="{key}"]')
        card.find_element(By.CSS_SELECTOR, ".note").send_keys("a colour field, nothing more")
        card.find_element(By.CSS_SELECTOR, "button.approved").click()
        WebDriverWait(browser, 120).until(expected_conditions.staleness_of(card))
        assert [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"] == []
    finally:
        browser.quit()
        server.shutdown()
        server.server_close()
        library.index.close()


@pytest.mark.models
def test_done_when_the_demo_samples_and_a_flagged_photo_and_clip_go_through_the_review_loop(tmp_path, capsys):
    # GIVEN make demo's samples and the two stand-ins the local moderation model flags, analysed with the local models
    media, output = tmp_path / "media", tmp_path / "results"
    write_samples(media)
    (media / PHOTO).write_bytes(flagged_png("explicit"))
    (media / CLIP).write_bytes(flagged_video())
    code, out, err = _cli(capsys, "analyze", "--output", str(output), str(media))
    assert code == 0, err
    assert f"2 upload(s) flagged and held, waiting for review: rekflow review list --output {output}" in out

    # THEN exactly the stand-ins wait (none of the samples is flagged), each held: a reader is refused
    code, out, _ = _cli(capsys, "review", "list", "--json", "--output", str(output))
    waiting = {json.loads(line)["key"]: json.loads(line) for line in out.splitlines()}
    assert code == 0 and set(waiting) == {PHOTO, CLIP}, f"{len(SAMPLES)} samples + 2 stand-ins: {sorted(waiting)}"
    assert all(review["labels"] for review in waiting.values())
    for key in (PHOTO, CLIP):
        assert _shown(capsys, output, key)["object"]["readable"] is False

    # WHEN the clip is approved on the review page, and the photo rejected from the CLI
    _approve_on_the_page(output, CLIP, tmp_path / "review-page.png")
    print(f"review page screenshot: {tmp_path / 'review-page.png'}")
    code, out, err = _cli(capsys, "review", "reject", PHOTO, "--note", "explicit", "--output", str(output))
    assert code == 0, err
    assert "unreadable to readers (rekflow-review=REJECTED; denied by HoldFlaggedMedia)" in err

    # THEN each decision is recorded in the folder's document and its review record, announced, and the object's
    # readability follows it; nothing waits any more
    for key, decision, readable in ((CLIP, "APPROVED", True), (PHOTO, "REJECTED", False)):
        document = json.loads((output / f"{key}.json").read_text(encoding="utf-8"))
        schema_validator("results-document.schema.json").validate(document)
        assert document["review"]["decision"] == decision and document["review"]["labels"]
        record = json.loads((reviews_folder(output) / f"{document['assetId']}.json").read_text(encoding="utf-8"))
        schema_validator("media-reviewed-event.schema.json").validate(record["event"])
        assert (record["event"]["key"], record["event"]["decision"]) == (key, decision)
        shown = _shown(capsys, output, key)
        assert shown["object"]["readable"] is readable
        assert shown["object"]["tags"] == {"rekflow-review": decision}
    code, out, _ = _cli(capsys, "review", "list", "--json", "--output", str(output))
    assert code == 0 and out == ""
