"""The guard for server-to-server routes: `@s2s_signed` admits only requests signed with a
live API key of the program (docs/design/access.md).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from server.auth import Handler, Principal
from server.domain.access.signatures import (
    HEADER_KEY,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    SIGNED_REQUEST_HEADERS,
    S2SCaller,
    read_signed_headers,
)
from server.services.access.signed_requests import authenticate_signed_request

__all__ = ["S2S_OPENAPI_HEADERS", "S2SCaller", "is_s2s", "s2s_scope", "s2s_signed", "store_viewer"]

_HEADER_DESCRIPTIONS = {
    HEADER_KEY: "the API key id (fxk_…)",
    HEADER_TIMESTAMP: "unix time in whole seconds",
    HEADER_NONCE: "16-64 random characters from A-Z a-z 0-9 . _ ~ -, new per request",
    HEADER_SIGNATURE: "lowercase hex HMAC-SHA256 (docs/integration.md: signing)",
}
# For `@openapi.definition(parameter=S2S_OPENAPI_HEADERS)` on every signed route.
S2S_OPENAPI_HEADERS: list[dict[str, Any]] = [
    {"name": name, "schema": str, "location": "header", "required": True, "description": text}
    for name, text in _HEADER_DESCRIPTIONS.items()
]


def _path_and_query(request: Any) -> str:
    query = request.query_string
    return f"{request.path}?{query}" if query else request.path


def s2s_signed(
    handler: Handler | None = None,
    *,
    scope: str | None = None,
    handler_spends_nonce: Callable[[Any], bool] | None = None,
) -> Any:
    """Guard a route with the S2S signature and the key's `scope` (None: any live key, as
    the ping); sets `request.ctx.s2s` to an S2SCaller."""
    # Marked like `@requires` (`__roles__` empty: no JWT role is admitted) plus `__s2s__` and
    # `__s2s_scope__`, so the role-matrix and scope walks visit S2S routes too.

    def guard(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: Any, *args: Any, **kwargs: Any) -> Any:
            signed = read_signed_headers(
                {name: request.headers.get(name) for name in SIGNED_REQUEST_HEADERS}
            )
            program_id = kwargs.get("program_id")
            request.ctx.s2s = await authenticate_signed_request(
                headers=signed,
                method=request.method,
                path=_path_and_query(request),
                body=request.body or b"",
                program_id=program_id if isinstance(program_id, int) else None,
                settings=request.app.ctx.settings,
                scope=scope,
                spend_nonce=handler_spends_nonce is None or not handler_spends_nonce(request),
            )
            return await handler(request, *args, **kwargs)

        guarded.__roles__ = frozenset()  # type: ignore[attr-defined]
        guarded.__s2s__ = True  # type: ignore[attr-defined]
        guarded.__s2s_scope__ = scope  # type: ignore[attr-defined]
        return guarded

    return guard if handler is None else guard(handler)


def store_viewer(caller: S2SCaller) -> Principal:
    """The store as a reader of its program: scoped to it, with no role that reveals PII (a
    promoter's phone is masked as for finance)."""
    return Principal(kind="staff", id=0, roles=frozenset(), programs=frozenset({caller.program_id}))


def s2s_scope(handler: Any) -> str | None:
    """The scope a signed route requires (None for one any live key may call)."""
    return getattr(handler, "__s2s_scope__", None)


def is_s2s(handler: Any) -> bool:
    """True for a route guarded by `@s2s_signed`."""
    return getattr(handler, "__s2s__", False) is True
