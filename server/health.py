"""Probes: `/healthz` says the process is up (liveness, nothing outside the process),
`/readyz` that it can serve (database and broker; a 503 names what failed).
"""

from __future__ import annotations

import asyncio
import logging

from sanic import Request, Sanic
from sanic.response import HTTPResponse

from server import db
from server.auth import public
from server.config import Settings
from server.http import render

log = logging.getLogger("fenxiao.health")

CHECK_TIMEOUT_SECONDS = 2.0
OK = "ok"
UNREACHABLE = "unreachable"
NOT_CONFIGURED = "not_configured"


def _forget_outcome(check: asyncio.Future[None]) -> None:
    if not check.cancelled():
        check.exception()


async def _bounded(check: asyncio.Task[None], name: str) -> str:
    try:
        # Shielded: cancelling a database round trip half-way can wedge its pooled
        # connection; a slow check is abandoned, not interrupted.
        await asyncio.wait_for(asyncio.shield(check), timeout=CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        log.warning("readiness: %s did not answer within %ss", name, CHECK_TIMEOUT_SECONDS)
        check.add_done_callback(_forget_outcome)
        return UNREACHABLE
    except asyncio.CancelledError:
        # The request was cancelled (a server stopping): the check ends on its own, unheard.
        check.add_done_callback(_forget_outcome)
        raise
    except Exception as exc:
        log.warning("readiness: %s unreachable: %s", name, type(exc).__name__)
        return UNREACHABLE
    return OK


def _ping_broker(url: str) -> None:
    # kombu speaks every broker Celery does; its Redis channel pings on connect.
    from kombu import Connection

    options = {
        "socket_connect_timeout": CHECK_TIMEOUT_SECONDS,
        "socket_timeout": CHECK_TIMEOUT_SECONDS,
        "max_retries": 0,
    }
    with Connection(
        url, connect_timeout=CHECK_TIMEOUT_SECONDS, transport_options=options
    ) as connection:
        connection.ensure_connection(
            max_retries=1, interval_start=0, interval_step=0, timeout=CHECK_TIMEOUT_SECONDS
        )


async def readiness(settings: Settings) -> dict[str, str]:
    """Each dependency's state: `ok`, `unreachable` or `not_configured`."""
    database = asyncio.ensure_future(db.ping())
    checks = {"database": _bounded(database, "database")}
    if settings.celery_broker_url:
        broker = asyncio.ensure_future(asyncio.to_thread(_ping_broker, settings.celery_broker_url))
        checks["broker"] = _bounded(broker, "broker")
    results = await asyncio.gather(*checks.values())
    states = dict(zip(checks, results, strict=True))
    states.setdefault("broker", NOT_CONFIGURED)
    return states


def install_health_routes(app: Sanic) -> None:
    """GET /healthz (liveness) and GET /readyz (readiness)."""

    @app.get("/healthz")
    @public
    async def healthz(request: Request) -> HTTPResponse:
        """Liveness: the process serves requests. Touches no dependency."""
        return render({"status": "ok"})

    @app.get("/readyz")
    @public
    async def readyz(request: Request) -> HTTPResponse:
        """Readiness: the database answers and, with Celery, so does the broker."""
        states = await readiness(request.app.ctx.settings)
        failed = sorted(name for name, state in states.items() if state == UNREACHABLE)
        if failed:
            return render(
                {
                    "error": {
                        "code": "not_ready",
                        "message": f"unavailable: {', '.join(failed)}",
                        "fields": states,
                    }
                },
                status=503,
            )
        return render({"status": "ready", "checks": states})
