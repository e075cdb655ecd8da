"""Coded errors. Each class carries its HTTP status, like Sanic's own exception classes,
so that the web layer can render any of them without a lookup table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class FenxiaoError(Exception):
    """Base of every error the product raises on purpose."""

    status_code: ClassVar[int] = 400
    default_code: ClassVar[str] = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        fields: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.fields: dict[str, Any] = dict(fields or {})

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.fields:
            body["fields"] = self.fields
        return {"error": body}


class BadRequest(FenxiaoError):
    status_code = 400
    default_code = "bad_request"


class ValidationFailed(FenxiaoError):
    """The request is well-formed but its values break a rule."""

    status_code = 422
    default_code = "validation_failed"


class Unauthorized(FenxiaoError):
    status_code = 401
    default_code = "unauthorized"


class Forbidden(FenxiaoError):
    status_code = 403
    default_code = "forbidden"


class NotFound(FenxiaoError):
    status_code = 404
    default_code = "not_found"


class Conflict(FenxiaoError):
    status_code = 409
    default_code = "conflict"


class IllegalTransition(Conflict):
    """A state machine was asked for a move its table does not allow."""

    default_code = "illegal_transition"


class TooManyRequests(FenxiaoError):
    status_code = 429
    default_code = "rate_limited"


class UpstreamUnavailable(FenxiaoError):
    """A dependency (WeChat, payment provider) failed; nothing was written."""

    status_code = 502
    default_code = "upstream_unavailable"


class ServiceUnavailable(FenxiaoError):
    """We cannot take the request right now; nothing was promised, the client may retry."""

    status_code = 503
    default_code = "service_unavailable"
