"""`rekflow report` over a real `rekflow analyze --backend fixture` run, opened in headless Chromium.

The fixture backend's canned answers are varied per image (by its size) so the page has several
statuses, labels, boxes in different places, a moderation flag and a failed feature to show.
"""

from __future__ import annotations

import html
import io
import json
import os
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from rekflow.cli import main
from rekflow.commands.report import CONTENT_SECURITY_POLICY, PAGE_NAME
from rekflow.media import sources as media_sources
from rekflow.vision.backend import RekognitionError
from rekflow.vision.fixture import FixtureBackend
from tests.conftest import jpeg_bytes, png_bytes, shared_stack, video_bytes

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
NO_BROWSER = (
    "no browser: Debian's chromium and chromium-driver are not installed (`make browser` installs them), "
    "so the report page was not rendered, nor its boxes and filters checked"
)


def browser_installable() -> bool:
    """Whether `make browser` could have installed them here: apt-get, run as root (the Makefile's own test)."""
    return shutil.which("apt-get") is not None and os.geteuid() == 0


def no_browser() -> None:
    """Without chromium and chromedriver: a failure under `make test` (REKFLOW_DEPLOY_GATE=1) or CI where `make
    browser` could have installed them, as the deploy gate fails on a missing tool; a skip, saying why, elsewhere
    (a plain pytest, or a machine without apt-get or root)."""
    gate = os.environ.get("REKFLOW_DEPLOY_GATE") == "1" or bool(os.environ.get("CI"))
    if gate and browser_installable():
        pytest.fail(f"{NO_BROWSER}; apt-get and root are here, so `make browser` should have installed them")
    pytest.skip(NO_BROWSER if gate else f"{NO_BROWSER} (a failure under make test where apt-get runs as root)")


# Boxes are placed in percentages of a thumbnail a few hundred pixels wide: within a pixel and a half.
PIXELS = 1.5
# Stored sizes that pick the canned answers below.
DOG_SIZE, FAILING_TEXT_SIZE = (400, 200), (300, 300)
DOG = {
    "Name": "Dog",
    "Confidence": 93.0,
    "Parents": [{"Name": "Animal"}],
    "Aliases": [],
    "Categories": [],
    "Instances": [{"BoundingBox": {"Width": 0.3, "Height": 0.4, "Left": 0.05, "Top": 0.5}, "Confidence": 90.0}],
}
WEAPON = {"Name": "Weapons", "ParentName": "Violence", "Confidence": 91.0, "TaxonomyLevel": 2}
DOG_FACE = {"BoundingBox": {"Width": 0.2, "Height": 0.35, "Left": 0.7, "Top": 0.1}, "Confidence": 98.0}


def _upright_portrait_jpeg() -> bytes:
    """360x240 pixels stored, EXIF Orientation 6 (turn 90° clockwise): 240x360 upright."""
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    Image.new("RGB", (360, 240), (40, 160, 90)).save(buffer, "JPEG", exif=exif.tobytes())
    return buffer.getvalue()


def _canned_per_image(patch: pytest.MonkeyPatch) -> None:
    labels, moderation = FixtureBackend.detect_labels, FixtureBackend.detect_moderation_labels
    text, faces = FixtureBackend.detect_text, FixtureBackend.detect_faces

    def size(image: Any) -> tuple[int, int]:
        return image.width, image.height

    def detect_labels(self: FixtureBackend, image: Any, params: dict[str, Any]) -> dict[str, Any]:
        return {"Labels": [DOG], "LabelModelVersion": "3.0"} if size(image) == DOG_SIZE else labels(self, image, params)

    def detect_moderation_labels(self: FixtureBackend, image: Any, params: dict[str, Any]) -> dict[str, Any]:
        if size(image) == DOG_SIZE:
            return {"ModerationLabels": [WEAPON], "ModerationModelVersion": "7.0"}
        return moderation(self, image, params)

    def detect_text(self: FixtureBackend, image: Any, params: dict[str, Any]) -> dict[str, Any]:
        if size(image) == FAILING_TEXT_SIZE:  # caught by "Detect text": the feature fails, the run is PARTIAL
            raise RekognitionError("InvalidParameterException", "Request has invalid parameters")
        return text(self, image, params)

    def detect_faces(self: FixtureBackend, image: Any, params: dict[str, Any]) -> dict[str, Any]:
        if size(image) == DOG_SIZE:
            return {"FaceDetails": [DOG_FACE], "OrientationCorrection": "ROTATE_0"}
        return faces(self, image, params)

    for name, method in (
        ("detect_labels", detect_labels),
        ("detect_moderation_labels", detect_moderation_labels),
        ("detect_text", detect_text),
        ("detect_faces", detect_faces),
    ):
        patch.setattr(FixtureBackend, name, method)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A results folder from `rekflow analyze --backend fixture` over six files, and its report."""
    # A module fixture is set up before the function fixture that closes the shared stack for tests without
    # `runtime` (conftest._one_local_stack_at_a_time): close it here, or `analyze` deploys a second stack beside a
    # shared one a `runtime` test on this worker left open (CreateTable: Table already exists).
    shared_stack.close()
    media = tmp_path_factory.mktemp("media")
    (media / "cat.jpg").write_bytes(jpeg_bytes(320, 240))
    (media / "dog.jpg").write_bytes(jpeg_bytes(*DOG_SIZE))
    (media / "text fails.png").write_bytes(png_bytes(*FAILING_TEXT_SIZE))
    (media / "portrait.jpg").write_bytes(_upright_portrait_jpeg())
    (media / "notes.txt").write_bytes(b"not a picture\n")
    (media / "tour.mp4").write_bytes(video_bytes())
    output = tmp_path_factory.mktemp("results")
    with pytest.MonkeyPatch.context() as patch:
        _canned_per_image(patch)
        assert main(["analyze", "--json", "--backend", "fixture", "--output", str(output), str(media)]) == 0
    assert main(["report", "--output", str(output)]) == 0
    return output


def _documents(results: Path) -> dict[str, dict[str, Any]]:
    """key -> results document, read as stored (not through the report's code)."""
    found = (json.loads(path.read_text(encoding="utf-8")) for path in results.glob("*.json"))
    return {document["object"]["key"]: document for document in found}


def _label_names(document: dict[str, Any]) -> set[str]:
    labels = document["features"].get("labels", {})
    return {label["Name"] for label in labels.get("labels", [])} if labels.get("status") == "SUCCEEDED" else set()


def test_analyze_records_each_file_and_the_page_forbids_every_load(results):
    documents = _documents(results)
    assert {doc["status"] for doc in documents.values()} == {"SUCCEEDED", "PARTIAL", "REJECTED"}
    assert documents["dog.jpg"]["moderationReview"]["labels"] == ["Weapons"]
    sources = media_sources.read(results)
    assert set(sources) == set(documents)
    assert all(path.is_file() and path.name == Path(key).name for key, path in sources.items())

    page = (results / PAGE_NAME).read_text(encoding="utf-8")
    policies = re.findall(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', page)
    assert [html.unescape(policy) for policy in policies] == [CONTENT_SECURITY_POLICY]
    assert "http://" not in page and "https://" not in page and "url(" not in page
    assert re.findall(r'(?:src|href)="(?!data:)[^"]*"', page) == []
    assert page.count('<img src="data:image/jpeg;base64,') == 5  # four photos and the video's poster frame


def test_report_says_why_a_card_has_no_thumbnail(results, tmp_path):
    copy = shutil.copytree(results, tmp_path / "results")
    moved = tmp_path / "moved"
    moved.mkdir()
    (moved / "cat.jpg").write_bytes(jpeg_bytes(32, 24))  # not the file that was analysed
    assert main(["report", "--output", str(copy), "--media", str(moved)]) == 0
    page = (copy / PAGE_NAME).read_text(encoding="utf-8")
    assert "<img" not in page
    assert f"no thumbnail: {moved / 'cat.jpg'} changed since it was analysed" in page
    assert f"no thumbnail: {moved / 'dog.jpg'} is gone" in page

    (copy / media_sources.INDEX_NAME).unlink()  # documents from before analyze recorded its files
    assert main(["report", "--output", str(copy)]) == 0
    page = (copy / PAGE_NAME).read_text(encoding="utf-8")
    assert page.count(f"not recorded in {media_sources.INDEX_NAME} (pass --media FOLDER)") == 5


def test_report_refuses_a_folder_without_documents(tmp_path, capsys):
    assert main(["report", "--output", str(tmp_path / "none")]) == 2
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "x.json").write_text("{}")
    (tmp_path / "other.json").write_text('{"schemaVersion": "1.0"}')
    assert main(["report", "--output", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "not a results document, left out" in err and "other.json" in err and "x.json" not in err
    assert f"no results documents in {tmp_path}/" in err


@pytest.mark.parametrize(
    ("gate", "installable", "outcome"),
    [("1", True, pytest.fail.Exception), ("1", False, pytest.skip.Exception), ("", True, pytest.skip.Exception)],
)
def test_a_missing_browser_fails_make_test_only_where_make_browser_could_install_it(
    monkeypatch, gate, installable, outcome
):
    monkeypatch.setenv("REKFLOW_DEPLOY_GATE", gate)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(sys.modules[__name__], "browser_installable", lambda: installable)
    with pytest.raises(outcome, match="no browser"):
        no_browser()


def headless_chromium(profile: Path, *flags: str, performance_log: bool = False) -> Any:
    """Debian's Chromium through its chromedriver, headless, with its profile in `profile`; `window.blocked` lists
    what a page's Content-Security-Policy blocked. Every browser test starts it here (the caller quits it)."""
    if not (CHROMIUM and CHROMEDRIVER):
        no_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1000",
        f"--user-data-dir={profile}",
        *flags,
    ):
        options.add_argument(flag)
    logs = {"browser": "ALL", "performance": "ALL"} if performance_log else {"browser": "ALL"}
    options.set_capability("goog:loggingPrefs", logs)
    # A driver path given to Service means Selenium Manager is never run (it would try to download one).
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    # Before any of the page's own script: record what its Content-Security-Policy blocks.
    driver.execute_cdp_cmd(
        "Page.addScriptToEvaluateOnNewDocument",
        {
            "source": (
                "window.blocked = []; document.addEventListener('securitypolicyviolation',"
                " (e) => window.blocked.push(e.effectiveDirective + ' ' + e.blockedURI));"
            )
        },
    )
    return driver


@pytest.fixture(scope="module")
def browser(results: Path) -> Iterator[Any]:
    driver = headless_chromium(results.parent / "chromium-profile", performance_log=True)
    try:
        driver.get_log("performance")  # drop what the browser's start-up tab requested (chrome:// pages)
        driver.get((results / PAGE_NAME).as_uri())
        yield driver
    finally:
        driver.quit()


def _card(browser: Any, key: str) -> Any:
    from selenium.webdriver.common.by import By

    return browser.find_element(By.CSS_SELECTOR, f'.card[data-key="{key}"]')


def _relative(element: Any, frame: Any) -> tuple[float, float, float, float]:
    """(left, top, width, height) of `element` in pixels from `frame`'s top-left corner."""
    outer, inner = frame.rect, element.rect
    return inner["x"] - outer["x"], inner["y"] - outer["y"], inner["width"], inner["height"]


def test_page_renders_every_document_and_each_thumbnail(browser, results):
    from selenium.webdriver.common.by import By

    documents = _documents(results)
    cards = browser.find_elements(By.CSS_SELECTOR, ".card")
    assert sorted(card.get_attribute("data-key") for card in cards) == sorted(documents)
    assert all(card.is_displayed() for card in cards)
    assert [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"] == []
    for key, document in documents.items():
        images = _card(browser, key).find_elements(By.TAG_NAME, "img")
        previewed = document["status"] in ("SUCCEEDED", "PARTIAL")
        assert len(images) == (1 if previewed else 0), key
        if previewed:
            assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", images[0])
    portrait = _card(browser, "portrait.jpg").find_element(By.TAG_NAME, "img")
    natural = browser.execute_script("return [arguments[0].naturalWidth, arguments[0].naturalHeight]", portrait)
    # Turned upright by its EXIF Orientation, as Rekognition sees it: 240x360 downscaled (to 213x320).
    assert abs(natural[0] / natural[1] - 240 / 360) < 0.01


def _document_boxes(document: dict[str, Any]) -> list[tuple[str, dict[str, float]]]:
    """(kind, BoundingBox) of each face, text line and label instance the document records."""
    features = document["features"]
    boxes = [("face", face["BoundingBox"]) for face in features["faces"].get("faces", [])]
    if features["text"]["status"] == "SUCCEEDED":
        boxes += [("text", d["Geometry"]["BoundingBox"]) for d in features["text"]["detections"] if d["Type"] == "LINE"]
    boxes += [
        ("label", instance["BoundingBox"]) for label in features["labels"]["labels"] for instance in label["Instances"]
    ]
    return boxes


@pytest.mark.parametrize("key", ["cat.jpg", "dog.jpg", "text fails.png", "portrait.jpg"])
def test_boxes_sit_where_the_document_says(browser, results, key):
    from selenium.webdriver.common.by import By

    document = _documents(results)[key]
    expected = _document_boxes(document)
    assert {kind for kind, _ in expected} >= ({"face", "label"} if key != "cat.jpg" else {"face", "text", "label"})
    card = _card(browser, key)
    thumbnail = card.find_element(By.TAG_NAME, "img")
    shown = card.find_elements(By.CSS_SELECTOR, ".box")
    assert len(shown) == len(expected)
    _, _, width, height = _relative(thumbnail, thumbnail)
    for element, (kind, box) in zip(shown, expected, strict=True):
        assert kind in element.get_attribute("class").split()
        left, top, box_width, box_height = _relative(element, thumbnail)
        want = (box["Left"] * width, box["Top"] * height, box["Width"] * width, box["Height"] * height)
        assert all(
            abs(got - wanted) <= PIXELS for got, wanted in zip((left, top, box_width, box_height), want, strict=True)
        ), (key, kind, box)


def test_moderation_flags_failures_and_the_shot_timeline_are_shown(browser, results):
    from selenium.webdriver.common.by import By

    documents = _documents(results)
    dog = _card(browser, "dog.jpg")
    assert "needs review" in dog.text
    assert [flag.text for flag in dog.find_elements(By.CSS_SELECTOR, ".review-flag")] == ["Weapons (Violence) 91%"]

    failed = documents["text fails.png"]["features"]["text"]
    row = _card(browser, "text fails.png").find_element(By.CSS_SELECTOR, 'tr[data-feature="text"]')
    assert row.find_element(By.CSS_SELECTOR, "td.FAILED").text == "FAILED"
    assert failed["error"] in row.text and failed["error"].startswith("Rekognition.InvalidParameterException")

    video = documents["tour.mp4"]
    duration, shots = video["object"]["video"]["durationMillis"], video["features"]["segments"]["shots"]
    timeline = _card(browser, "tour.mp4").find_element(By.CSS_SELECTOR, ".timeline")
    bars = timeline.find_elements(By.CSS_SELECTOR, ".shot")
    assert len(bars) == len(shots) >= 2
    _, _, width, _ = _relative(timeline, timeline)
    for bar, shot in zip(bars, shots, strict=True):
        left, _, bar_width, _ = _relative(bar, timeline)
        assert abs(left - shot["StartMillis"] / duration * width) <= PIXELS
        assert abs(bar_width - (shot["EndMillis"] - shot["StartMillis"]) / duration * width) <= PIXELS


def test_status_and_label_filters_hide_and_show_the_right_cards(browser, results):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    documents = _documents(results)
    status = Select(browser.find_element(By.ID, "status-filter"))
    label = Select(browser.find_element(By.ID, "label-filter"))

    def shown() -> set[str]:
        return {
            card.get_attribute("data-key")
            for card in browser.find_elements(By.CSS_SELECTOR, ".card")
            if card.is_displayed()
        }

    def expected(want_status: str, want_label: str) -> set[str]:
        return {
            key
            for key, doc in documents.items()
            if (not want_status or doc["status"] == want_status) and (not want_label or want_label in _label_names(doc))
        }

    for want_status, want_label in (
        ("REJECTED", ""),
        ("PARTIAL", ""),
        ("", "Dog"),
        ("SUCCEEDED", "Cat"),
        ("REJECTED", "Cat"),
        ("", ""),
    ):
        status.select_by_value(want_status)
        label.select_by_value(want_label)
        assert shown() == expected(want_status, want_label), (want_status, want_label)
        assert browser.find_element(By.ID, "shown").text == f"{len(shown())} of {len(documents)} shown"
    assert expected("REJECTED", "") == {"notes.txt"} and expected("", "Dog") == {"dog.jpg"}
    assert expected("SUCCEEDED", "Cat") == {"cat.jpg", "portrait.jpg", "tour.mp4"}


def test_the_page_loads_nothing_and_its_policy_blocks_any_load(browser, results):
    requested = [json.loads(entry["message"])["message"] for entry in browser.get_log("performance")]
    urls = [event["params"]["request"]["url"] for event in requested if event["method"] == "Network.requestWillBeSent"]
    assert (results / PAGE_NAME).as_uri() in urls
    assert [url for url in urls if not url.startswith(("file:", "data:"))] == []
    assert browser.execute_script("return window.blocked") == []
    # The policy is in force: a load the page does not make is refused (loopback, discard port: nothing leaves).
    from selenium.webdriver.support.ui import WebDriverWait

    browser.execute_script(
        "var probe = new Image(); probe.src = 'http://127.0.0.1:9/probe.png'; document.body.appendChild(probe);"
    )
    blocked = WebDriverWait(browser, 5).until(lambda driver: driver.execute_script("return window.blocked"))
    assert blocked == ["img-src http://127.0.0.1:9/probe.png"]
