"""`rekflow review serve`: the review page over a results folder, on 127.0.0.1 only (the standard library's
http.server). `rekflow serve` (rekflow/commands/serve/, issue 18) is being built beside it with a route table for
pages like this one; once it lands, ReviewPage's page, media and decision become its routes and this server goes.

The page lists the reviews waiting (oldest first) with each upload's image and its moderation findings, and an
Approve and a Reject button; below, the reviews decided. A decision goes through rekflow.commands.review.decide_local,
as `rekflow review approve|reject` does. There is no hosted UI: whoever can reach 127.0.0.1 on this machine is the
local user who decides.

Cross-site requests cannot decide (https://cheatsheetseries.owasp.org/cheatsheets/Cross-Site_Request_Forgery_Prevention_Cheat_Sheet.html):
a decision is a POST carrying the server's random token (a hidden field of the page, never a cookie), from a page of
this origin (the Origin header, and Sec-Fetch-Site when the browser sends it), to this host by name (the Host header:
a DNS-rebound name is refused). The page loads nothing from elsewhere (Content-Security-Policy).
"""

from __future__ import annotations

import hmac
import html
import json
import secrets
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from rekflow.commands.review import DECISIONS, ReviewError, decide_local, list_local, reviews_folder
from rekflow.media import sources as media_sources

HOST = "127.0.0.1"
MEDIA_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".gif": "image/gif"}
STYLE = """
body{font-family:sans-serif;margin:1.5em;color:#222}h1{font-size:1.4em}
.card{display:inline-block;vertical-align:top;width:300px;margin:0 1em 1em 0;padding:.6em;border:1px solid #bbb}
.card img{max-width:100%;display:block;margin-bottom:.4em}.labels{color:#a00}.error{color:#a00;font-weight:bold}
form{display:inline}button{margin:.3em .3em 0 0}input[name=note]{width:95%}
"""


class ReviewPage:
    """What the server shows and does, over one results folder."""

    def __init__(self, output: Path, decide: Callable[..., dict[str, Any]] = decide_local) -> None:
        self.output = output
        self.token = secrets.token_urlsafe(32)
        self.decide = decide
        self._deciding = threading.Lock()  # one local stack at a time: moto's mock is the process's

    def html(self, nonce: str, message: str = "") -> str:
        pending = list_local(self.output)
        cards = "".join(self._card(review.asset_id, review.key, review.labels, review.superseded) for review in pending)
        decided = "".join(
            f"<li>{html.escape(r['key'])}: {html.escape(r['status'])} by "
            f"{html.escape(str(r.get('decision', {}).get('reviewer')))}</li>"
            for r in self._records()
            if r["status"] in DECISIONS
        )
        note = f'<p class="error">{html.escape(message)}</p>' if message else ""
        report = '<p><a href="/report.html">The report: every document</a></p>' if self._report().exists() else ""
        return (
            f'<!doctype html><html><head><meta charset="utf-8"><title>rekflow reviews</title>'
            f'<style nonce="{nonce}">{STYLE}</style></head><body><h1>Waiting for review ({len(pending)})</h1>{note}'
            f'<div id="pending">{cards or "<p>Nothing waits.</p>"}</div>'
            f'<h2>Decided</h2><ul id="decided">{decided}</ul>{report}</body></html>'
        )

    def _records(self) -> list[dict[str, Any]]:
        folder = reviews_folder(self.output)
        if not folder.is_dir():
            return []
        return [
            json.loads(path.read_bytes())
            for path in sorted(folder.glob("*.json"))
            if not path.name.endswith(".document.json")
        ]

    def _card(self, asset_id: str, key: str, labels: list[str], superseded: bool) -> str:
        document = self.document(asset_id)
        found = document.get("features", {}).get("moderation", {}).get("labels", [])
        findings = ", ".join(f"{html.escape(f['Name'])} {float(f['Confidence']):.0f}%" for f in found)
        image = f'<img src="/media/{asset_id}" alt="{html.escape(key)}">' if self.media(asset_id) else ""
        later = "<p>A newer version of this key waits for review too.</p>" if superseded else ""
        buttons = "".join(
            f'<form method="post" action="/decide"><input type="hidden" name="csrf" value="{self.token}">'
            f'<input type="hidden" name="asset" value="{asset_id}"><input type="hidden" name="decision" '
            f'value="{decision}"><input name="note" placeholder="note (optional)" maxlength="1000">'
            f'<button type="submit" class="{decision.lower()}">{label}</button></form>'
            for decision, label in (("APPROVED", "Approve"), ("REJECTED", "Reject"))
        )
        return (
            f'<div class="card" data-asset="{asset_id}" data-key="{html.escape(key)}">{image}'
            f'<b>{html.escape(key)}</b>{later}<div class="labels">{html.escape(", ".join(labels))}</div>'
            f"<div>{findings}</div>{buttons}</div>"
        )

    def document(self, asset_id: str) -> dict[str, Any]:
        path = reviews_folder(self.output) / f"{asset_id}.document.json"
        return dict(json.loads(path.read_bytes())) if path.exists() else {}

    def media(self, asset_id: str) -> Path | None:
        """The uploaded file behind a review (the folder's index of sources), and only that."""
        record = reviews_folder(self.output) / f"{asset_id}.json"
        if len(asset_id) != 64 or not all(c in "0123456789abcdef" for c in asset_id) or not record.exists():
            return None
        path = media_sources.read(self.output).get(json.loads(record.read_bytes())["key"])
        return path if path is not None and path.suffix.lower() in MEDIA_TYPES and path.is_file() else None

    def _report(self) -> Path:
        from rekflow.commands import REPORT_PAGE_NAME

        return self.output / REPORT_PAGE_NAME

    def decide_form(self, form: dict[str, str]) -> str:
        """Decide from the page's form; '' when done, else why not."""
        if form.get("decision") not in DECISIONS or not form.get("asset"):
            return "not a decision"
        with self._deciding:
            try:
                self.decide(self.output, form["asset"], form["decision"], form.get("note") or None)
            except ReviewError as refused:
                return str(refused)
        return ""


def handler_for(page: ReviewPage, port: Callable[[], int]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "rekflow"

        def log_message(self, format: str, *args: Any) -> None:  # quiet: the terminal shows the URL only
            return

        def _origin(self) -> str:
            return f"http://{HOST}:{port()}"

        def _host_ok(self) -> bool:
            return self.headers.get("Host") in (f"{HOST}:{port()}", f"localhost:{port()}")

        def _send(self, status: HTTPStatus, body: bytes, content_type: str, nonce: str = "") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header(
                "Content-Security-Policy",
                f"default-src 'none'; img-src 'self'; style-src 'nonce-{nonce}'; form-action 'self'; "
                "frame-ancestors 'none'; base-uri 'none'",
            )
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _page(self, message: str = "", status: HTTPStatus = HTTPStatus.OK) -> None:
            nonce = secrets.token_urlsafe(16)
            self._send(status, page.html(nonce, message).encode(), "text/html; charset=utf-8", nonce)

        def do_GET(self) -> None:
            if not self._host_ok():
                self._send(HTTPStatus.MISDIRECTED_REQUEST, b"", "text/plain")
            elif self.path in ("/", "/?"):
                self._page()
            elif self.path.startswith("/media/") and (media := page.media(self.path.removeprefix("/media/"))):
                self._send(HTTPStatus.OK, media.read_bytes(), MEDIA_TYPES[media.suffix.lower()])
            elif self.path == "/report.html" and page._report().exists():
                self._send(HTTPStatus.OK, page._report().read_bytes(), "text/html; charset=utf-8")
            else:
                self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(min(length, 65536)).decode()).items()}
            same_origin = self.headers.get("Origin", self._origin()) == self._origin()
            same_site = self.headers.get("Sec-Fetch-Site", "same-origin") == "same-origin"
            token_ok = hmac.compare_digest(form.get("csrf", ""), page.token)
            if self.path != "/decide" or not (self._host_ok() and same_origin and same_site and token_ok):
                self._send(HTTPStatus.FORBIDDEN, b"refused: not a request from the review page", "text/plain")
                return
            refused = page.decide_form(form)
            if refused:
                self._page(refused, HTTPStatus.CONFLICT)
                return
            self.send_response(HTTPStatus.SEE_OTHER)
            self.send_header("Location", "/")
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


def make_server(output: Path, port: int = 0) -> ThreadingHTTPServer:
    """The review page's server on 127.0.0.1 (port 0: any free port; server.server_address says which)."""
    page = ReviewPage(output)
    holder: list[ThreadingHTTPServer] = []
    server = ThreadingHTTPServer((HOST, port), handler_for(page, lambda: holder[0].server_address[1]))
    holder.append(server)
    return server
