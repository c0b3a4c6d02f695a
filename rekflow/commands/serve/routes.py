"""Every route of `rekflow serve`, in one table, and the dispatcher that enforces the CSRF guard.

A later page adds its routes here. A route with `changes_state=True` (a POST that records a decision) is
refused with 403 unless csrf.CsrfGuard.refusal passes; GET routes must change nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

from rekflow.commands.serve import media, review, search
from rekflow.commands.serve.app import CONTENT_SECURITY_POLICY, App
from rekflow.commands.serve.http import Request, Response

Handler = Callable[[App, Request], Response]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    changes_state: bool = False


# The page's own script and style: a fixed list, so no request path ever names a file.
STATIC = {
    "search.js": "text/javascript; charset=utf-8",
    "search.css": "text/css; charset=utf-8",
    "review.js": "text/javascript; charset=utf-8",
    "review.css": "text/css; charset=utf-8",
}


def static(app: App, request: Request) -> Response:
    name = request.path.removeprefix("/static/")
    if name not in STATIC:
        return Response.text(404, "not found")
    body = resources.files("rekflow.commands.serve").joinpath("static", name).read_bytes()
    return Response(200, STATIC[name], body)


def no_icon(app: App, request: Request) -> Response:
    return Response(204)  # browsers ask for one on every page; a 404 would be logged as an error


ROUTES: list[Route] = [
    Route("GET", "/", search.page),
    Route("GET", "/api/search", search.api_search),
    Route("GET", "/thumbnail", media.thumbnail),
    Route("GET", "/media", media.media),
    Route("GET", "/review", review.page),
    Route("POST", "/api/review", review.decide, changes_state=True),
    *(Route("GET", f"/static/{name}", static) for name in STATIC),
    Route("GET", "/favicon.ico", no_icon),
]


def dispatch(app: App, request: Request, routes: list[Route] | None = None) -> Response:
    """The response to `request`: its route's, or 404/405; a state-changing route only past the guard."""
    table = ROUTES if routes is None else routes
    at_path = [route for route in table if route.path == request.path]
    if not at_path:
        response = Response.text(404, "not found")
    else:
        route = next((route for route in at_path if route.method == request.method), None)
        if route is None:
            response = Response.text(405, "method not allowed")
            response.headers["Allow"] = ", ".join(sorted({r.method for r in at_path}))
        elif route.changes_state and (refusal := app.guard.refusal(request.headers)) is not None:
            response = Response.json(403, {"error": {"message": refusal}})
        else:
            response = route.handler(app, request)
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response
