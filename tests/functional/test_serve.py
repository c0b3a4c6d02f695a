"""`rekflow serve` over a real `rekflow analyze --backend fixture` run, used in headless Chromium as a person would:
type a query, see the cat's thumbnail with the box of its label drawn where the document says; see a bad query's
caret under the bad token; see a video's player start at the first moment of the match and seek to another.

Chromium and chromedriver are found, or the test skips (fails under `make test`) exactly as the report's test does.
The screenshot of the page is written to the test's output folder (serve-search.png).
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rekflow.cli import main
from rekflow.commands.serve.library import FolderLibrary
from rekflow.commands.serve.server import make_server, url_of
from rekflow.media.samples import write_samples
from tests.conftest import shared_stack
from tests.functional.test_report import PIXELS, headless_chromium

PICKED = ("space cat tour.mp4", "cat.jpg", "shop sign + hours 100% café.png", "notes.txt")
VIDEO = "space cat tour.mp4"
FIRST_CAT_MILLIS = 1000  # the video's Cat is kept from here on (see `results`)
BAD_QUERY = "label:cat (faces:>=x"


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The samples analysed with the fixture backend; the video's Cat then kept only from 1 s on, so that the
    player must start somewhere other than its first frame (and the index rebuilt from the documents)."""
    shared_stack.close()  # as test_report's module fixture: analyze deploys its own local stack
    every = tmp_path_factory.mktemp("every-sample")
    write_samples(every)
    media = tmp_path_factory.mktemp("media")
    for name in PICKED:
        shutil.copy(every / name, media / name)
    output = tmp_path_factory.mktemp("results")
    assert main(["analyze", "--json", "--backend", "fixture", "--output", str(output), str(media)]) == 0
    video = _document(output, VIDEO)
    labels_path = output / "video-results" / video["assetId"] / "labels.json"
    labels = json.loads(labels_path.read_text(encoding="utf-8"))
    cat_times = sorted({i["Timestamp"] for i in labels["items"] if i["Label"]["Name"] == "Cat"})
    assert cat_times[0] < FIRST_CAT_MILLIS < cat_times[-1], cat_times
    labels["items"] = [i for i in labels["items"] if i["Timestamp"] >= FIRST_CAT_MILLIS]
    labels_path.write_text(json.dumps(labels), encoding="utf-8")
    assert main(["index", "--rebuild", "--output", str(output)]) == 0
    return output


def _document(output: Path, key: str) -> dict[str, Any]:
    return dict(json.loads((output / f"{key}.json").read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def page(results: Path) -> Iterator[Any]:
    """Chromium on the search page of a server over `results` (on a free port of 127.0.0.1)."""
    driver = headless_chromium(results.parent / "serve-profile", "--autoplay-policy=no-user-gesture-required")
    library = FolderLibrary(results)
    server = make_server(library, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        driver.get(url_of(server))
        yield driver
    finally:
        driver.quit()
        server.shutdown()
        server.server_close()
        library.index.close()


def _search(driver: Any, query: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    box = driver.find_element(By.ID, "q")
    box.clear()
    box.send_keys(query, Keys.ENTER)
    WebDriverWait(driver, 20).until(lambda d: d.execute_script("return document.body.dataset.answered") == query)


def _card(driver: Any, key: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, f'.hit[data-key="{key}"]')


def _assert_placed(drawn: Any, picture: Any, box: dict[str, float]) -> None:
    """`drawn` sits over `picture` where the BoundingBox (ratios of the picture's width and height) says."""
    frame, inner = picture.rect, drawn.rect
    want = (box["Left"] * frame["width"], box["Top"] * frame["height"], box["Width"] * frame["width"],
            box["Height"] * frame["height"])  # fmt: skip
    got = (inner["x"] - frame["x"], inner["y"] - frame["y"], inner["width"], inner["height"])
    assert all(abs(g - w) <= PIXELS for g, w in zip(got, want, strict=True)), (got, want)


def _wait(driver: Any, script: str, *args: Any, timeout: float = 20) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(lambda d: d.execute_script(script, *args))


def test_the_page_opens_on_every_asset_and_a_file_without_a_picture_says_so(page, results):
    from selenium.webdriver.common.by import By

    page.get(page.current_url.split("?")[0])
    _wait(page, "return document.body.dataset.answered === ''")
    shown = {card.get_attribute("data-key") for card in page.find_elements(By.CSS_SELECTOR, ".hit")}
    assert shown == set(PICKED)
    assert _card(page, "notes.txt").find_elements(By.CSS_SELECTOR, ".no-preview")


def test_label_cat_shows_the_cat_with_its_box_and_the_video_at_its_first_cat(page, results, tmp_path_factory):
    from selenium.webdriver.common.by import By

    _search(page, "label:Cat")
    shown = [card.get_attribute("data-key") for card in page.find_elements(By.CSS_SELECTOR, ".hit")]
    assert {"cat.jpg", VIDEO} <= set(shown) and "notes.txt" not in shown  # the fixture sees a Cat in every picture

    # THEN the cat's thumbnail is loaded, with only its label's box, where the document puts it
    cat = _card(page, "cat.jpg")
    thumbnail = cat.find_element(By.CSS_SELECTOR, "img.thumb")
    assert _wait(page, "return arguments[0].complete && arguments[0].naturalWidth > 0", thumbnail)
    boxes = cat.find_elements(By.CSS_SELECTOR, ".box")
    (label,) = [b for b in _document(results, "cat.jpg")["features"]["labels"]["labels"] if b["Name"] == "Cat"]
    expected = [instance["BoundingBox"] for instance in label["Instances"]]
    assert [b.get_attribute("data-kind") for b in boxes] == ["label"] * len(expected) and expected
    _assert_placed(boxes[0], thumbnail, expected[0])
    assert "label Cat 97.5%" in cat.find_element(By.CSS_SELECTOR, ".evidence").text

    # AND the video's player starts at the first moment its Cat was seen (#t=), and each moment seeks
    video_card = _card(page, VIDEO)
    player = video_card.find_element(By.CSS_SELECTOR, "video")
    assert player.get_attribute("src").endswith(f"#t={FIRST_CAT_MILLIS / 1000:g}")
    # Under load Chromium has the metadata before the fragment's seek lands (seen in the review page's test), so
    # the wait is for the seek: an error ends it early, with its message.
    seeked = (
        "const v = arguments[0]; if (v.error) return v.error.message || 'error ' + v.error.code;"
        " return v.readyState >= 1 && !v.seeking && Math.abs(v.currentTime - arguments[1]) < 0.001"
    )
    assert _wait(page, seeked, player, FIRST_CAT_MILLIS / 1000) is True
    buttons = video_card.find_elements(By.CSS_SELECTOR, "button.moment")
    assert [float(b.get_attribute("data-seconds")) for b in buttons] == [1.0, 2.0]
    buttons[-1].click()
    assert _wait(page, "return !arguments[0].seeking && arguments[0].currentTime === 2", player)
    # AND the Cat's box in that frame is drawn over the player, where the video's label results put it
    holder = video_card.find_element(By.CSS_SELECTOR, ".frame")
    assert _wait(page, "return arguments[0].dataset.boxesAt === '2'", holder)
    items = json.loads(
        (results / "video-results" / _document(results, VIDEO)["assetId"] / "labels.json").read_text(encoding="utf-8")
    )["items"]
    (cat_at_2,) = [i["Label"] for i in items if i["Timestamp"] == 2000 and i["Label"]["Name"] == "Cat"]
    drawn = holder.find_elements(By.CSS_SELECTOR, ".box")
    assert [b.get_attribute("data-kind") for b in drawn] == ["label"] * len(cat_at_2["Instances"])
    _assert_placed(drawn[0], player, cat_at_2["Instances"][0]["BoundingBox"])

    screenshot = tmp_path_factory.mktemp("serve-screenshot") / "serve-search.png"
    assert page.save_screenshot(str(screenshot)) and screenshot.stat().st_size > 0
    print(f"screenshot: {screenshot}")  # where to find it, with pytest -s
    assert page.execute_script("return window.blocked") == []
    assert [entry for entry in page.get_log("browser") if entry["level"] == "SEVERE"] == []


def test_text_finds_the_shop_sign_with_its_line_boxed(page, results):
    from selenium.webdriver.common.by import By

    _search(page, 'text:"rekflow fixture" kind:image')  # the fixture's line (the local models read "OPEN DAILY")
    keys = [card.get_attribute("data-key") for card in page.find_elements(By.CSS_SELECTOR, ".hit")]
    sign = next(key for key in keys if key.startswith("shop sign"))
    boxes = _card(page, sign).find_elements(By.CSS_SELECTOR, ".box")
    lines = [
        d for d in _document(results, sign)["features"]["text"]["detections"] if d["Type"] == "LINE"
        and d["DetectedText"] == "REKFLOW FIXTURE"
    ]  # fmt: skip
    assert [b.get_attribute("data-kind") for b in boxes] == ["text"] * len(lines) and lines


def test_a_bad_query_shows_the_caret_under_the_bad_token(page):
    from selenium.webdriver.common.by import By

    _search(page, "label:Cat")
    _search(page, BAD_QUERY)
    error = page.find_element(By.ID, "error")
    assert error.is_displayed()
    *_, query_line, caret_line = error.text.splitlines()
    assert query_line.strip() == BAD_QUERY
    # The caret sits under the bad token ("x", where a number was wanted), in the page's monospace text
    assert caret_line.index("^") - query_line.index(BAD_QUERY) == BAD_QUERY.index("x")
    assert page.find_elements(By.CSS_SELECTOR, ".hit") == []
