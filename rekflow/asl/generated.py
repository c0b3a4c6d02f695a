"""Which file in statemachines/ each definition is written to, and how."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rekflow import PROJECT_ROOT
from rekflow.asl import media_analysis, review

STATEMACHINES = PROJECT_ROOT / "statemachines"
DEFINITIONS: dict[Path, Callable[[], dict[str, Any]]] = {
    STATEMACHINES / "media_analysis.asl.json": media_analysis.definition,
    STATEMACHINES / "image_analysis_express.asl.json": media_analysis.image_express_definition,
    STATEMACHINES / "review.asl.json": review.definition,
}


def render(definition: dict[str, Any]) -> str:
    return json.dumps(definition, indent=2, ensure_ascii=False) + "\n"


def stale() -> list[Path]:
    """The committed definitions that differ from what the generator writes now."""
    return [
        path
        for path, build in DEFINITIONS.items()
        if not path.exists() or path.read_text(encoding="utf-8") != render(build())
    ]
