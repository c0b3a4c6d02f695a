"""What every route handler is given besides its request: the library it serves, the CSRF guard and the pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import jinja2

from rekflow.commands.serve.csrf import CsrfGuard
from rekflow.commands.serve.flagged import Card
from rekflow.commands.serve.library import Library

# The pages load only from this server (their script and style, thumbnails and media) and, over a stack, media
# from S3 by presigned https URLs; nothing inline, so an injected string cannot run as script.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https:; media-src 'self' https:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("rekflow.commands.serve", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


class Reviews(Protocol):
    """The moderation reviews of the library: a results folder's (folder_reviews.py) or a stack's (stack_reviews.py).
    Each method raises commands/review/common.py's ReviewError (UnknownAsset, ReviewClosed) with a message to show."""

    def pending(self) -> tuple[list[Card], int]:
        """The reviews waiting, oldest first, as cards, and how many more wait than are shown."""
        ...

    def decided(self) -> list[dict[str, Any]]:
        """The latest decisions, newest first: key, status, reviewer, note."""
        ...

    def decide(self, asset: str, decision: str, note: str | None) -> dict[str, Any]: ...


@dataclass
class App:
    library: Library
    guard: CsrfGuard
    hosts: frozenset[str] = frozenset()  # the Host headers the server answers (server.py: no DNS rebinding)
    reviews: Reviews | None = None  # made on first use (review.reviews_of): a stack's are found by their stack
    templates: jinja2.Environment = field(default_factory=_environment)

    def page(self, template: str, **values: Any) -> str:
        return self.templates.get_template(template).render(
            where=self.library.where, csrf_token=self.guard.token, **values
        )
