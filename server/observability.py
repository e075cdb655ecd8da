"""Request ids, one structured access line per request, request metrics, and /metrics."""

from __future__ import annotations

import hmac
import logging
import random
import re
import time
from typing import Any

from sanic import Request, Sanic
from sanic.response import HTTPResponse, raw

from server.auth import public
from server.domain.errors import Unauthorized
from server.logging_setup import current_request_id
from server.metrics import CONTENT_TYPE, observe_request, render_metrics

access_log = logging.getLogger("fenxiao.access")

REQUEST_ID_HEADER = "x-request-id"
# A caller's request id is echoed into logs: accept only a plain token, else mint one.
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
UNMATCHED_ROUTE = "<unmatched>"
# Probes hit these every few seconds; their lines are DEBUG so they don't drown the log.
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})
# Path parameters worth a field of their own in the access line (ids, never codes or names).
PATH_ID_FIELDS = ("program_id", "promoter_id")


def log_failures_only(request: Request) -> None:
    """Called by high-volume routes: a success gets no access line, only metrics."""
    # A line per success costs visit recording about a third of its throughput.
    request.ctx.log_failures_only = True


def _request_id(headers: Any) -> str:
    given = headers.get(REQUEST_ID_HEADER)
    if given and _VALID_REQUEST_ID.fullmatch(given):
        return given
    # 128 random bits in hex, as uuid4().hex, without a UUID or a system call per request:
    # the id tells requests apart in logs, it guards nothing, so it needs no secure source.
    return f"{random.getrandbits(128):032x}"


# Stamped here, not in a request middleware: with none, Sanic skips its middleware runner
# for every request (a tenth of a visit's CPU).
class TracedRequest(Request):
    """A request that carries its id and start time from the moment Sanic creates it."""

    __slots__ = ("started_at",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.started_at = time.perf_counter()
        request_id = _request_id(self.headers)
        self.ctx.request_id = request_id
        current_request_id.set(request_id)


def _route_of(request: Request) -> str:
    return request.uri_template or UNMATCHED_ROUTE


def _access_fields(request: Request, status: int, latency_ms: float) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "request_id": request.ctx.request_id,
        "method": request.method,
        "route": _route_of(request),
        "status": status,
        "latency_ms": latency_ms,
    }
    params = request.match_info or {}
    for name in PATH_ID_FIELDS:
        if isinstance(params.get(name), int):
            fields[name] = params[name]
    caller = getattr(request.ctx, "s2s", None)
    if "program_id" not in fields and isinstance(getattr(caller, "program_id", None), int):
        fields["program_id"] = caller.program_id
    principal = getattr(request.ctx, "principal", None)
    if principal is not None:
        fields["subject"] = principal.subject
    return fields


def install_observability(app: Sanic) -> None:
    """Request ids, the access log and request metrics for every request of `app`."""
    # Sanic creates requests of this class from the server's start on.
    app.request_class = TracedRequest
    app.ctx.stopping = False

    # Sanic closes only idle keep-alive connections when it stops: a client sending request
    # after request kept its connection, and the worker, for the whole graceful timeout.
    @app.before_server_stop
    async def close_connections_after_their_response(app: Sanic) -> None:
        app.ctx.stopping = True

    @app.on_response(priority=-1000)
    async def finish_request(request: Request, response: HTTPResponse) -> None:
        response.headers[REQUEST_ID_HEADER] = request.ctx.request_id
        seconds = time.perf_counter() - request.started_at
        status = response.status
        route = _route_of(request)
        observe_request(method=request.method, route=route, status=status, seconds=seconds)
        if status >= 400 or not getattr(request.ctx, "log_failures_only", False):
            latency_ms = round(seconds * 1000, 2)
            fields = _access_fields(request, status, latency_ms)
            level = logging.DEBUG if route in QUIET_ROUTES and status < 500 else logging.INFO
            access_log.log(level, "%s %s %s", request.method, route, status, extra=fields)
        # Sanic serves a keep-alive connection's requests in one task: forget this id.
        current_request_id.set(None)
        if request.app.ctx.stopping and request.stream is not None:
            request.stream.keep_alive = False


def install_metrics_route(app: Sanic) -> None:
    """GET /metrics in Prometheus text format; Bearer METRICS_TOKEN when that is set."""

    @app.get("/metrics")
    @public
    async def metrics(request: Request) -> HTTPResponse:
        """Prometheus metrics of every worker of this host."""
        expected = request.app.ctx.settings.metrics_token
        if expected:
            scheme, _, given = (request.headers.get("authorization") or "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                given.strip().encode(), expected.encode()
            ):
                raise Unauthorized("metrics need the METRICS_TOKEN", code="metrics_token_required")
        return raw(await render_metrics(), content_type=CONTENT_TYPE)
