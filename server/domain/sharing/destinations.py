"""Where a share link opens the mini-program: a page path plus an optional query, checked so
it can only name a page of the app (no scheme, no host) and fits WeChat's limits."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl

from server.domain.errors import ValidationFailed

MAX_DESTINATION_LENGTH = 256
# Mini-program page paths: `pages/product/detail`, segments of letters, digits, '_' and '-'.
PAGE_PATTERN = re.compile(r"[A-Za-z0-9_-]+(?:/[A-Za-z0-9_-]+)*")
# The characters WeChat accepts in a URL Link query, without '#' (a fragment has no meaning
# in a mini-program query and would end an H5 URL's query early).
QUERY_PATTERN = re.compile(r"[A-Za-z0-9!$&'()*+,/:;=?@._~%-]*")
SCHEME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
# `scene` carries the link's short code into the mini-program; a destination cannot set it.
RESERVED_QUERY_KEYS = frozenset({"scene"})


@dataclass(frozen=True, slots=True)
class Destination:
    """A page of the mini-program (no leading slash, as WeChat wants it) and its query."""

    page: str
    query: str = ""

    def __str__(self) -> str:
        return f"{self.page}?{self.query}" if self.query else self.page


def _refuse(reason: str) -> ValidationFailed:
    return ValidationFailed(
        f"destination {reason}", code="invalid_destination", fields={"destination": reason}
    )


def parse_destination(raw: str) -> Destination:
    """`pages/x/y?id=1` (a leading '/' is dropped) or invalid_destination with the reason."""
    text = raw.strip()
    if not text:
        raise _refuse("is empty")
    if len(text) > MAX_DESTINATION_LENGTH:
        raise _refuse(f"is longer than {MAX_DESTINATION_LENGTH} characters")
    if text.startswith("//") or SCHEME_PATTERN.match(text) or "\\" in text:
        raise _refuse("must be a page of the mini-program, without a scheme or host")
    page, _, query = text.removeprefix("/").partition("?")
    if not PAGE_PATTERN.fullmatch(page):
        raise _refuse("page must be a path like pages/product/detail")
    if not QUERY_PATTERN.fullmatch(query):
        raise _refuse("query has characters WeChat does not accept")
    keys = {key for key, _ in parse_qsl(query, keep_blank_values=True)}
    if keys & RESERVED_QUERY_KEYS:
        raise _refuse("query must not set scene (it carries the link's short code)")
    return Destination(page=page, query=query)


def opening_query(destination: Destination | None, *, short_code: str) -> str:
    """The query the mini-program opens with: the destination's, then `scene=<short code>`."""
    scene = f"scene={short_code}"
    if destination is None or not destination.query:
        return scene
    return f"{destination.query}&{scene}"
