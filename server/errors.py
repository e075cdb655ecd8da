"""Renders every error in DESIGN.md's shape: {"error": {"code", "message", "fields"}}."""

from __future__ import annotations

import logging

from sanic import Request, Sanic
from sanic.exceptions import SanicException
from sanic.response import HTTPResponse

from server.domain.errors import FenxiaoError
from server.http import render

log = logging.getLogger("fenxiao.errors")

# Stable codes for the framework's own errors (route not found, wrong method, body too big…).
_SANIC_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "route_not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "payload_too_large",
    416: "range_not_satisfiable",
    503: "service_unavailable",
}


def _error(status: int, code: str, message: str) -> HTTPResponse:
    return render({"error": {"code": code, "message": message}}, status=status)


def install_error_handlers(app: Sanic) -> None:
    @app.exception(FenxiaoError)
    async def on_fenxiao_error(request: Request, exc: FenxiaoError) -> HTTPResponse:
        return render(exc.to_dict(), status=exc.status_code)

    @app.exception(SanicException)
    async def on_sanic_error(request: Request, exc: SanicException) -> HTTPResponse:
        status = exc.status_code or 500
        if status >= 500:
            log.exception("framework error on %s %s", request.method, request.path)
            return _error(status, "internal_error", "internal server error")
        return _error(status, _SANIC_CODES.get(status, "bad_request"), str(exc) or "bad request")

    @app.exception(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> HTTPResponse:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _error(500, "internal_error", "internal server error")
