"""A request and a response as the route handlers see them: no socket, so a unit test calls a handler directly."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # without the query string, percent-decoded
    query: Mapping[str, list[str]] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)  # by lower-case name
    body: bytes = b""

    @classmethod
    def of(
        cls, method: str, path: str, query_string: str = "", headers: Mapping[str, str] | None = None, body: bytes = b""
    ) -> Request:
        return cls(
            method,
            path,
            parse_qs(query_string, keep_blank_values=True),
            {name.lower(): value for name, value in (headers or {}).items()},
            body,
        )

    def arg(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Response:
    status: int
    content_type: str = "text/plain; charset=utf-8"
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # A file sent in chunks instead of `body` (media: a video may be large): yields its bytes.
    stream: Iterator[bytes] | None = None

    @classmethod
    def json(cls, status: int, data: Any) -> Response:
        return cls(status, "application/json", json.dumps(data, ensure_ascii=False).encode())

    @classmethod
    def text(cls, status: int, text: str) -> Response:
        return cls(status, body=text.encode())

    @classmethod
    def redirect(cls, location: str) -> Response:
        return cls(302, headers={"Location": location})

    def json_body(self) -> Any:
        return json.loads(self.body)
