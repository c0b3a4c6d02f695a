"""The review page of `rekflow serve` (issue 20): GET /review lists the reviews waiting in the results folder, oldest
first, each with its image, flagged labels and moderation findings, and Approve/Reject; POST /api/review decides one
(changes_state: routes.dispatch lets it through only past the CSRF guard).

A decision goes through rekflow.commands.review.decide_local, as `rekflow review approve|reject` does: the review
workflow resumed on a local stack. Over a stack the page is not offered: `rekflow review --stack` decides there.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from rekflow.commands.review import (
    DECISIONS,
    ReviewClosed,
    ReviewError,
    UnknownAsset,
    decide_local,
    decided_local,
    list_local,
    reviews_folder,
)
from rekflow.commands.serve.app import App
from rekflow.commands.serve.http import Request, Response
from rekflow.commands.serve.library import FolderLibrary

# One decision at a time: each runs a local stack on moto, whose mock is the process's own.
_deciding = threading.Lock()


def page(app: App, request: Request) -> Response:
    if not isinstance(app.library, FolderLibrary):
        return Response.text(404, "the review page serves a results folder; on a stack, use rekflow review --stack")
    output = app.library.output
    html = app.page("review.html", pending=pending_cards(app), decided=decided_local(output))
    return Response(200, "text/html; charset=utf-8", html.encode())


def pending_cards(app: App) -> list[dict[str, Any]]:
    """The reviews waiting in a results folder, oldest first, as the pending.html cards show them; none on a stack."""
    if not isinstance(app.library, FolderLibrary):
        return []
    output = app.library.output
    return [
        _card(output, review.asset_id, review.key, review.labels, review.superseded) for review in list_local(output)
    ]


def _card(output: Path, asset_id: str, key: str, labels: list[str], superseded: bool) -> dict[str, Any]:
    copy = reviews_folder(output) / f"{asset_id}.document.json"
    document = json.loads(copy.read_bytes()) if copy.exists() else {}
    findings = document.get("features", {}).get("moderation", {}).get("labels", [])
    return {
        "asset": asset_id,
        "key": key,
        "labels": labels,
        "findings": [f"{f['Name']} {float(f['Confidence']):.0f}%" for f in findings],
        "superseded": superseded,
        # The analysed file, served by /media only while the folder's index holds the key at this version.
        "media": "/media?" + urlencode({"key": key, "asset": asset_id}),
    }


def decide(app: App, request: Request) -> Response:
    if not isinstance(app.library, FolderLibrary):
        return Response.json(404, {"error": {"message": "no review page on a stack: use rekflow review --stack"}})
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return Response.json(400, {"error": {"message": "a JSON object: asset, decision, note"}})
    asset, decision, note = body.get("asset"), body.get("decision"), body.get("note") or None
    if not isinstance(asset, str) or decision not in DECISIONS or (note is not None and not isinstance(note, str)):
        return Response.json(400, {"error": {"message": f"asset and decision ({' or '.join(DECISIONS)}) please"}})
    with _deciding:
        try:
            event = decide_local(app.library.output, asset, decision, note)
        except UnknownAsset as unknown:
            return Response.json(404, {"error": {"message": str(unknown)}})
        except ReviewClosed as closed:
            return Response.json(409, {"error": {"message": str(closed)}})
        except ReviewError as error:
            return Response.json(500, {"error": {"message": str(error)}})
    return Response.json(200, event)
