"""A user's first command, as it starts: only the state machines a run needs are created, and the functions'
logs frame a cold start as Lambda's do (INIT_REPORT before START, REPORT with Max Memory Used and Init Duration)."""

from __future__ import annotations

import io
import json
import re
from typing import Any

from PIL import Image

from rekflow.cli import main
from rekflow.local.runtime import LocalRuntime, client

BACKFILL, MEDIA, IMAGE = "BackfillStateMachine", "MediaAnalysisStateMachine", "ImageAnalysisStateMachine"


def _machines() -> list[str]:
    return sorted(m["name"] for m in client("stepfunctions").list_state_machines()["stateMachines"])


def test_a_runtime_creates_a_state_machine_when_it_is_first_needed():
    with LocalRuntime("fixture", functions_in_process=True) as runtime:
        names = runtime.stack.state_machine_arns
        deployed = _machines()
        # GIVEN a fresh runtime: the machine S3's events start (and those the template's rules start), not the backfill
        assert runtime.template.state_machine_name(MEDIA) in deployed
        assert runtime.template.state_machine_name(BACKFILL) not in deployed
        # WHEN the backfill's ARN is asked for, THEN the machine is there to start
        arn = names[BACKFILL]
        assert runtime.template.state_machine_name(BACKFILL) in _machines()
        assert client("stepfunctions").describe_state_machine(stateMachineArn=arn)["name"] == (
            runtime.template.state_machine_name(BACKFILL)
        )


def test_the_express_entry_machine_brings_the_machine_it_hands_videos_to():
    with LocalRuntime(
        "fixture", functions_in_process=True, parameter_overrides={"ImageWorkflow": "EXPRESS"}
    ) as runtime:
        deployed = _machines()
        assert runtime.template.state_machine_name(IMAGE) in deployed  # the entry
        assert runtime.template.state_machine_name(MEDIA) in deployed  # named in its DefinitionSubstitutions
        assert runtime.template.state_machine_name(BACKFILL) not in deployed


def _log(path: Any) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("{")]


def test_a_cold_start_is_logged_before_start_and_reported_with_its_memory(tmp_path, capsys, monkeypatch):
    # GIVEN one photo, the functions in worker processes as by default
    monkeypatch.delenv("REKFLOW_FUNCTIONS_IN_PROCESS", raising=False)
    photo = tmp_path / "in" / "photo.jpg"
    photo.parent.mkdir()
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 120, 200)).save(buffer, "JPEG")
    photo.write_bytes(buffer.getvalue())
    out = tmp_path / "out"
    # WHEN it is analysed
    assert main(["analyze", "--json", "--backend", "fixture", "--output", str(out), str(photo)]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "SUCCEEDED"
    # THEN each function that ran logs its cold start first, then its invocation, as Lambda does
    for function in ("ValidateFunction", "BuildResultsFunction"):
        lines = _log(out / "logs" / f"{function}.log")
        assert re.fullmatch(r"INIT_REPORT Init Duration: \d+\.\d\d ms", lines[0]), lines
        assert lines[1].startswith("START RequestId: ")
        request = lines[1].split()[2]
        assert lines[-2] == f"END RequestId: {request}"
        fields = lines[-1].split("\t")
        assert fields[0] == f"REPORT RequestId: {request}"
        assert re.fullmatch(r"Duration: \d+\.\d\d ms", fields[1])
        assert re.fullmatch(r"Memory Size: \d+ MB", fields[2])
        assert re.fullmatch(r"Max Memory Used: [1-9]\d* MB", fields[3])
        assert fields[4] == lines[0].removeprefix("INIT_REPORT ")  # the same Init Duration
