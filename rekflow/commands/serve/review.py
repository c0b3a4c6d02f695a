"""The review page of `rekflow serve` (issue 20): GET /review lists the reviews waiting, oldest first, each with what
was flagged (flagged.py: a photo's preview and moderation labels, a video's flagged moments) and Approve/Reject, then
the latest decisions; POST /api/review decides one (changes_state: routes.dispatch lets it through only past the
CSRF guard).

The reviews are the library's: a results folder's (folder_reviews.py: decided through the review workflow resumed
on a local stack) or a deployed stack's (stack_reviews.py: decided with SendTaskSuccess, as the user).
"""

from __future__ import annotations

import json
import threading
from typing import Any

from rekflow.commands.review.common import DECISIONS, ReviewClosed, ReviewError, ReviewNotWaitingYet, UnknownAsset
from rekflow.commands.serve.app import App, Reviews
from rekflow.commands.serve.folder_reviews import FolderReviews
from rekflow.commands.serve.http import Request, Response
from rekflow.commands.serve.library import FolderLibrary, StackLibrary
from rekflow.commands.serve.stack_reviews import AwsRefused, StackReviews

_making = threading.Lock()


def reviews_of(app: App) -> Reviews:
    """The library's reviews, made once (a stack's find its table on first use)."""
    with _making:
        if app.reviews is None:
            if isinstance(app.library, FolderLibrary):
                app.reviews = FolderReviews(app.library)
            elif isinstance(app.library, StackLibrary):
                app.reviews = StackReviews.for_stack(app.library.stack)
            else:
                raise TypeError(f"no reviews for {app.library.where}")
        return app.reviews


def page(app: App, request: Request) -> Response:
    reviews = reviews_of(app)
    try:
        pending, more = reviews.pending()
        decided = reviews.decided()
    except ReviewError as error:
        return Response.text(502, f"{app.library.where}: {error}")
    html = app.page("review.html", pending=[card.view() for card in pending], more=more, decided=decided)
    return Response(200, "text/html; charset=utf-8", html.encode())


def pending_cards(app: App) -> tuple[list[dict[str, Any]], int, str | None]:
    """The search page's top: the reviews waiting as pending.html shows them, how many more, and why none could be
    read (the search page still serves)."""
    try:
        pending, more = reviews_of(app).pending()
    except ReviewError as error:
        return [], 0, str(error)
    return [card.view() for card in pending], more, None


def decide(app: App, request: Request) -> Response:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return Response.json(400, {"error": {"message": "a JSON object: asset, decision, note"}})
    asset, decision, note = body.get("asset"), body.get("decision"), body.get("note") or None
    if not isinstance(asset, str) or decision not in DECISIONS or (note is not None and not isinstance(note, str)):
        return Response.json(400, {"error": {"message": f"asset and decision ({' or '.join(DECISIONS)}) please"}})
    try:
        event = reviews_of(app).decide(asset, decision, note)
    except UnknownAsset as unknown:
        return Response.json(404, {"error": {"message": str(unknown)}})
    except ReviewClosed as closed:
        return Response.json(409, {"error": {"message": str(closed)}})
    except ReviewNotWaitingYet as early:  # the review's execution is between its first states and its wait
        return Response.json(503, {"error": {"message": str(early)}})
    except AwsRefused as refused:
        return Response.json(502, {"error": {"message": f"{app.library.where}: {refused}"}})
    except ReviewError as error:
        return Response.json(500, {"error": {"message": str(error)}})
    return Response.json(200, event)
