"""Renders every error in DESIGN.md's shape: {"error": {"code", "message", "fields"}}."""

from __future__ import annotations

import logging

from sanic import Request, Sanic
from sanic.exceptions import RequestCancelled, SanicException
from sanic.response import HTTPResponse
from tortoise.exceptions import DBConnectionError

from server.domain.errors import FenxiaoError
from server.http import DB_INTEGER_MAX, render

# MySQL client errors meaning the connection to the server is gone: can't connect, server
# gone away, lost during a query, and the server killed the connection or is shutting down.
# A connection lost during COMMIT may have committed, so the answer cannot say "nothing saved".
_CONNECTION_LOST_CODES = frozenset({2003, 2006, 2013, 1053, 1927, 4031})

log = logging.getLogger("fenxiao.errors")

# Stable codes for the framework's own errors (route not found, wrong method, body too big…).
# Not an HTTP status a client ever receives: the one nginx logs for a client that left.
CLIENT_CLOSED_REQUEST = 499

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


def is_connection_lost(exc: BaseException) -> bool:
    """True when a database error only says the connection died (the client may retry)."""
    if isinstance(exc, DBConnectionError):
        return True
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        args = getattr(cause, "args", ())
        if args and isinstance(args[0], int) and args[0] in _CONNECTION_LOST_CODES:
            return True
        if isinstance(args[0] if args else None, BaseException):
            cause = args[0]
        else:
            cause = cause.__cause__ or cause.__context__
    return False


def _has_path_id_out_of_range(request: Request) -> bool:
    """True when an integer in the URL path is wider than any database column holds."""
    return any(
        isinstance(value, int) and not -DB_INTEGER_MAX - 1 <= value <= DB_INTEGER_MAX
        for value in (request.match_info or {}).values()
    )


def install_error_handlers(app: Sanic) -> None:
    @app.exception(FenxiaoError)
    async def on_fenxiao_error(request: Request, exc: FenxiaoError) -> HTTPResponse:
        response = render(exc.to_dict(), status=exc.status_code)
        retry_after = exc.fields.get("retry_after_seconds")
        if exc.status_code == 429 and isinstance(retry_after, int):
            response.headers["retry-after"] = str(retry_after)
        return response

    @app.exception(RequestCancelled)
    async def on_client_gone(request: Request, exc: RequestCancelled) -> HTTPResponse:
        # The client closed the connection before its answer (mid-body, say): nginx's 499.
        # Nobody reads this response; it is what the access log and the metrics record.
        return _error(CLIENT_CLOSED_REQUEST, "client_closed_request", "the client went away")

    @app.exception(SanicException)
    async def on_sanic_error(request: Request, exc: SanicException) -> HTTPResponse:
        status = exc.status_code or 500
        if status >= 500:
            log.exception("framework error on %s %s", request.method, request.path)
            return _error(status, "internal_error", "internal server error")
        return _error(status, _SANIC_CODES.get(status, "bad_request"), str(exc) or "bad request")

    @app.exception(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> HTTPResponse:
        if isinstance(exc, OverflowError) and _has_path_id_out_of_range(request):
            # No row can have that id (SQLite refuses to even compare it): not found.
            return _error(404, "not_found", "no such resource")
        # A connection the database server dropped mid-transaction surfaces from the driver
        # (often as the failed rollback, with the lost query as its context).
        if is_connection_lost(exc):
            log.warning("database connection lost on %s %s: %s", request.method, request.path, exc)
            return _error(
                503,
                "database_unavailable",
                "the database connection was lost and the request may or may not have been"
                " saved: retry with the same Idempotency-Key",
            )
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _error(500, "internal_error", "internal server error")
