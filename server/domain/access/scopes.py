"""What an S2S API key may do: its scopes, checked by the route guard of each signed route."""

from __future__ import annotations

from server.domain.errors import Forbidden, ValidationFailed

EVENTS_WRITE = "events:write"
CLICKS_WRITE = "clicks:write"
CATALOG_WRITE = "catalog:write"
COMMISSIONS_READ = "commissions:read"
PROMOTERS_READ = "promoters:read"
REPORTS_READ = "reports:read"

SCOPES = (
    EVENTS_WRITE,
    CLICKS_WRITE,
    CATALOG_WRITE,
    COMMISSIONS_READ,
    PROMOTERS_READ,
    REPORTS_READ,
)
# What every key could do before keys had scopes (posting events, clicks, reserved codes).
WRITE_SCOPES = (EVENTS_WRITE, CLICKS_WRITE, CATALOG_WRITE)


def parse_scopes(raw: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Known scopes in the canonical order; 422 invalid_scope naming an unknown one."""
    unknown = sorted({scope for scope in raw if scope not in SCOPES})
    if unknown:
        raise ValidationFailed(
            "unknown API key scope",
            code="invalid_scope",
            fields={"scopes": f"unknown: {', '.join(unknown)}; known: {', '.join(SCOPES)}"},
        )
    if not raw:
        raise ValidationFailed(
            "a key needs at least one scope", code="invalid_scope", fields={"scopes": "required"}
        )
    return tuple(scope for scope in SCOPES if scope in raw)


def stored_scopes(text: str | None) -> tuple[str, ...]:
    """A key's scopes as stored (space-separated), unknown words dropped."""
    words = set((text or "").split())
    return tuple(scope for scope in SCOPES if scope in words)


def require_scope(granted: tuple[str, ...], needed: str) -> None:
    """Refuse a key without the route's scope (403 s2s_scope_missing, naming it)."""
    if needed not in granted:
        raise Forbidden(
            f"this API key lacks the scope {needed}",
            code="s2s_scope_missing",
            fields={"scope": needed},
        )
