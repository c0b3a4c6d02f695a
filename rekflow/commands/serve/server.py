"""The HTTP server: the standard library's ThreadingHTTPServer (a thread per request: a video streaming does not
hold up a search), bound to a loopback address only, and answering only requests addressed to it by that name.

Why loopback only: the page shows every analysed file and, over a stack, signs S3 URLs with the user's own
credentials; anyone who could reach the port could read them. The Host check stops DNS rebinding (a site
whose name resolves to 127.0.0.1 would otherwise be same-origin with this server).
"""

from __future__ import annotations

import ipaddress
import socket
import sys
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

from rekflow.commands.serve.app import App
from rekflow.commands.serve.csrf import CsrfGuard
from rekflow.commands.serve.http import Request, Response
from rekflow.commands.serve.library import Library
from rekflow.commands.serve.routes import dispatch

MAX_BODY = 64 * 1024  # a request body at most (a decision and its note)


class NotLoopback(ValueError):
    """A host to bind that is not a loopback address."""


def loopback_address(host: str) -> str:
    """`host` as the address to bind, when it is a loopback address ("localhost" is 127.0.0.1, not whatever a
    hosts file says); NotLoopback for any other."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise NotLoopback(f"{host} is not an IP address: rekflow serve binds a loopback address only") from None
    if not address.is_loopback:
        raise NotLoopback(
            f"{host} is not a loopback address: rekflow serve binds 127.0.0.1 (or ::1) only, since anyone who "
            "reached the page could read every analysed file (and, over a stack, media signed with your credentials)"
        )
    return str(address)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    app: App


class _IPv6Server(_Server):
    address_family = socket.AF_INET6


def make_server(library: Library, host: str = "127.0.0.1", port: int = 0) -> _Server:
    """The server over `library`, bound (port 0: any free port) but not yet serving."""
    address = loopback_address(host)
    server_class = _IPv6Server if ":" in address else _Server
    server = server_class((address, port), _Handler)
    bound_port = server.server_address[1]
    shown = f"[{address}]" if ":" in address else address
    names = {f"{shown}:{bound_port}", f"localhost:{bound_port}"}
    server.app = App(library, CsrfGuard(frozenset(f"http://{name}" for name in names)), frozenset(names))
    return server


def serve_until_interrupted(server: ThreadingHTTPServer) -> None:
    """Serve until Ctrl-C, then close the socket (for every page's command: search, review)."""
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def url_of(server: _Server) -> str:
    address, port = server.server_address[:2]
    host = address.decode() if isinstance(address, bytes) else address
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._answer()

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def do_POST(self) -> None:
        self._answer()

    def _answer(self, head: bool = False) -> None:
        app = self.server.app
        if self.headers.get("Host", "") not in app.hosts:
            response = Response.text(421, "this server answers only as " + " or ".join(sorted(app.hosts)))
        else:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                response = Response.text(413, "request body too large")
            else:
                parts = urlsplit(self.path)
                method = "GET" if head else self.command
                body = self.rfile.read(length)
                request = Request.of(method, unquote(parts.path), parts.query, dict(self.headers), body)
                try:
                    response = dispatch(app, request)
                except Exception:  # a bug or an unreadable document: the page says so, the server goes on
                    traceback.print_exc(file=sys.stderr)
                    response = Response.json(500, {"error": {"message": "the server failed; its log says why"}})
        self._send(response, head)

    def _send(self, response: Response, head: bool) -> None:
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            if response.stream is None:
                self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if not head:
                for chunk in response.stream or [response.body]:
                    self.wfile.write(chunk)
        except (BrokenPipeError, ConnectionResetError):  # the browser stopped reading (a seek, a page left)
            self.close_connection = True
        finally:
            if response.stream is not None:
                response.stream.close()  # type: ignore[attr-defined]  # the file of a range not read to its end

    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per thumbnail is noise; errors reach the page
