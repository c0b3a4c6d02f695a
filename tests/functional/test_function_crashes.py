"""A function whose process dies on an upload, through the real ASL: tried once more, then the asset is
REJECTED with CONVERSION_CRASHED and the error kept, not FAILED for a redrive to crash again.

MakeProxyFunction is the one that hands an upload's bytes to a native decoder. Here its code is a
handler made to segfault, to sleep past its Timeout, or to allocate past its MemorySize, each run in a
worker process of its own (rekflow.local.sandbox) as Lambda runs it.
"""

import io
from pathlib import Path

import pytest
from PIL import Image

from rekflow import TEMPLATE_PATH
from rekflow.local.runtime import LocalRuntime
from tests.conftest import Recorder

HANDLERS = Path(__file__).resolve().parent.parent / "unit" / "sandbox_handlers"
PROJECT = TEMPLATE_PATH.parent


def _template_with_make_proxy(tmp_path: Path, handler: str, memory_mb: int, timeout: int) -> Path:
    text = TEMPLATE_PATH.read_text(encoding="utf-8")
    old = "      CodeUri: lambdas/make_proxy/\n      Handler: app.handler\n"
    assert old in text and "      MemorySize: 2048\n      Timeout: 300\n" in text
    text = text.replace(old, f"      CodeUri: {HANDLERS}/\n      Handler: app.{handler}\n")
    text = text.replace(
        "      MemorySize: 2048\n      Timeout: 300\n", f"      MemorySize: {memory_mb}\n      Timeout: {timeout}\n"
    )
    # Every other path in the template is relative to the project: the copy's folder links to its folders.
    for folder in ("lambdas", "statemachines", "schemas"):
        (tmp_path / folder).symlink_to(PROJECT / folder)
    path = tmp_path / "template.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _bmp() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 40, 40)).save(buffer, "BMP")  # Rekognition reads no BMP: a copy is made
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("handler", "memory_mb", "timeout", "error"),
    [
        ("segfault", 2048, 300, "Runtime.ExitError"),
        ("sleep", 2048, 1, "Sandbox.Timedout"),
        ("allocate", 300, 300, "Runtime.OutOfMemory"),
    ],
)
def test_a_conversion_whose_process_dies_is_rejected_after_one_more_attempt(
    tmp_path, handler, memory_mb, timeout, error
):
    template = _template_with_make_proxy(tmp_path, handler, memory_mb, timeout)
    with LocalRuntime("fixture", template_path=template, retry_time_scale=0.01) as runtime:
        upload = runtime.upload(_bmp(), "scans/page.bmp")
        result = Recorder.record(runtime.run(runtime.object_created_event(upload)))  # the state coverage
        document = runtime.results_document(result.output["resultsKey"])
        history = result.history
    assert result.status == "SUCCEEDED"
    assert (result.output["status"], result.output["reason"]) == ("REJECTED", "CONVERSION_CRASHED")
    failures = [e["taskFailedEventDetails"] for e in history if e["type"] == "TaskFailed"]
    assert [f["error"] for f in failures] == [error, error]  # the first attempt and the one retry
    assert document["status"] == "REJECTED" and document["reason"] == "CONVERSION_CRASHED"
    assert error in document["message"]
