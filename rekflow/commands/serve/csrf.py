"""The guard of state-changing routes (a review decision): a same-origin check and a CSRF token.

The server listens on 127.0.0.1, but any page the user opens can still send it a request: a form posted
cross-site, or a fetch with `mode: "no-cors"`. Two checks stop that, each enough on its own (OWASP's
"Verifying Origin With Standard Headers" and "Synchronizer Token Pattern":
https://cheatsheetseries.owasp.org/cheatsheets/Cross-Site_Request_Forgery_Prevention_Cheat_Sheet.html):
- the browser's Origin header must be this server's own origin (browsers send it on every POST, and a page
  cannot forge it); where it is missing, Sec-Fetch-Site must say same-origin;
- the request must carry the token in an X-CSRF-Token header. The page gets it in a <meta> tag; another site
  cannot read the page (the same-origin policy), and a custom header makes a cross-site fetch preflighted,
  which this server never allows (it sends no CORS headers).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

TOKEN_HEADER = "X-CSRF-Token"  # noqa: S105 (a header name, not a secret)


@dataclass(frozen=True)
class CsrfGuard:
    """One token per server start (the page is rendered with it); the origins the server answers as."""

    origins: frozenset[str]  # e.g. {"http://127.0.0.1:8765"}
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    def refusal(self, headers: Mapping[str, str]) -> str | None:
        """Why a state-changing request must be refused, or None when it may go on. `headers` by lower-case name."""
        origin = headers.get("origin")
        if origin is not None:
            if origin not in self.origins:
                return f"cross-origin request refused (Origin {origin})"
        elif headers.get("sec-fetch-site") != "same-origin":
            return "request refused: neither an Origin header nor Sec-Fetch-Site: same-origin"
        sent = headers.get(TOKEN_HEADER.lower(), "")
        if not hmac.compare_digest(sent.encode(), self.token.encode()):
            return f"request refused: missing or wrong {TOKEN_HEADER} header"
        return None
