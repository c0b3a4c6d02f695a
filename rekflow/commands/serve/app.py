"""What every route handler is given besides its request: the library it serves, the CSRF guard and the pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jinja2

from rekflow.commands.serve.csrf import CsrfGuard
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


@dataclass
class App:
    library: Library
    guard: CsrfGuard
    hosts: frozenset[str] = frozenset()  # the Host headers the server answers (server.py: no DNS rebinding)
    templates: jinja2.Environment = field(default_factory=_environment)

    def page(self, template: str, **values: Any) -> str:
        return self.templates.get_template(template).render(
            where=self.library.where, csrf_token=self.guard.token, **values
        )
