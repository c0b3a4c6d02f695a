"""The search page (GET /) and its API (GET /api/search?q=&limit=&sort=): the query language of `rekflow search`,
parsed once into a tree that the library's engine runs."""

from __future__ import annotations

from rekflow.commands.serve import review
from rekflow.commands.serve.app import App
from rekflow.commands.serve.hits import hit_view
from rekflow.commands.serve.http import Request, Response
from rekflow.search.engine import DEFAULT_LIMIT, DEFAULT_SORT, SORTS
from rekflow.search.query import QueryError, parse

MAX_LIMIT = 200  # hits a page asks for at most (each image's document is read for its boxes)


def page(app: App, request: Request) -> Response:
    # The reviews waiting come first, above the browse view (issue 20: a reviewer's page is the library's page).
    pending, more, reviews_error = review.pending_cards(app)
    html = app.page(
        "search.html",
        query=request.arg("q"),
        sorts=SORTS,
        sort=request.arg("sort", DEFAULT_SORT),
        pending=pending,
        more=more,
        reviews_error=reviews_error,
    )
    return Response(200, "text/html; charset=utf-8", html.encode())


def api_search(app: App, request: Request) -> Response:
    """200 with the hits; 400 with the parser's message, position and token for a bad query (nothing is run)."""
    text, sort = request.arg("q"), request.arg("sort", DEFAULT_SORT)
    try:
        tree = parse(text)
    except QueryError as error:
        return Response.json(
            400,
            {
                "error": {
                    "message": str(error),
                    "problem": error.problem,
                    "token": error.token,
                    "position": error.position,
                    "query": error.query,
                }
            },
        )
    if sort not in SORTS:
        return Response.json(400, {"error": {"message": f"sort is one of {', '.join(SORTS)}, not {sort!r}"}})
    try:
        limit = int(request.arg("limit", str(DEFAULT_LIMIT)))
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        return Response.json(400, {"error": {"message": f"limit is a whole number from 1 to {MAX_LIMIT}"}})
    try:
        page = app.library.search(tree, limit, sort)
    except Exception as error:
        from rekflow.search.athena import SearchFailed  # boto3 only when a stack is served

        if not isinstance(error, SearchFailed):
            raise
        return Response.json(502, {"error": {"message": f"{app.library.where}: {error}"}})
    return Response.json(
        200, {"query": text, "hits": [hit_view(hit, tree, app.library) for hit in page.hits], "more": page.more}
    )
