"""What operators see: one JSON access line per request without secrets or PII, readiness that
names the failing dependency, and Prometheus metrics."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from sanic import Request, Sanic
from sanic.response import HTTPResponse

from jobs.recorded import run_recorded
from server import db, metrics
from server.app import create_app
from server.auth import public
from server.config import Settings
from server.http import render
from server.logging_setup import JsonFormatter, RequestContextFilter
from server.metrics import count_event, count_job_run
from server.models import PromoterBalance
from server.services.sharing import links as share_links
from tests.api.conftest import Api
from tests.s2s_client import s2s_post
from tests.service.sharing.test_share_support import make_program, make_promoter

SHOP: dict[str, Any] = {
    "name": "Observed shop",
    "currency": "CNY",
    "max_levels": 2,
    "level_rates": ["10", "5"],
}
PHONE = "13800138000"
OPENID = "o-very-private-openid"


class AccessLines:
    """The JSON lines the access logger wrote during a test."""

    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    def all(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line]

    def raw(self) -> str:
        return self.stream.getvalue()

    def for_request(self, request_id: str) -> list[dict[str, Any]]:
        return [line for line in self.all() if line.get("request_id") == request_id]


@pytest.fixture
def access_lines() -> Iterator[AccessLines]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestContextFilter())
    logger = logging.getLogger("fenxiao.access")
    saved_level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield AccessLines(stream)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved_level)


async def _program(api: Api, admin: str) -> int:
    response = await api.post("/admin/v1/programs", token=admin, json=SHOP)
    assert response.status == 201, response.text
    return response.json["id"]


async def test_a_request_writes_one_json_access_line_with_the_route_pattern(
    api: Api, access_lines: AccessLines
) -> None:
    admin = await api.staff_token("admin", username="obs_admin")
    program_id = await _program(api, admin)
    response = await api.get(
        f"/admin/v1/programs/{program_id}",
        token=admin,
        headers={"x-request-id": "req-program-read-1"},
    )
    assert response.status == 200
    assert response.headers["x-request-id"] == "req-program-read-1"

    (line,) = access_lines.for_request("req-program-read-1")
    assert line["logger"] == "fenxiao.access"
    assert line["level"] == "INFO"
    assert line["method"] == "GET"
    assert line["route"] == "/admin/v1/programs/<program_id:int>"
    assert line["status"] == 200
    assert line["program_id"] == program_id
    assert isinstance(line["latency_ms"], int | float) and line["latency_ms"] >= 0
    assert line["timestamp"].endswith("+00:00")
    assert line["message"] == "GET /admin/v1/programs/<program_id:int> 200"
    assert admin not in access_lines.raw()


async def test_the_access_line_of_a_signed_request_holds_no_signature_token_or_pii(
    api: Api, access_lines: AccessLines
) -> None:
    admin = await api.staff_token("admin", username="obs_keys")
    program_id = await _program(api, admin)
    key = (
        await api.post(
            f"/admin/v1/programs/{program_id}/api-keys", token=admin, json={"name": "store"}
        )
    ).json
    response = await s2s_post(
        api,
        f"/admin/v1/programs/{program_id}/s2s/ping",
        key_id=key["key_id"],
        secret=key["secret"],
        json_body={"phone": PHONE, "openid": OPENID},
    )
    assert response.status == 200, response.text
    request_id = response.headers["x-request-id"]

    (line,) = access_lines.for_request(request_id)
    assert line["route"] == "/admin/v1/programs/<program_id:int>/s2s/ping"
    assert line["program_id"] == program_id
    written = access_lines.raw()
    for secret_or_pii in (key["secret"], PHONE, OPENID, admin, "X-Fenxiao-Signature"):
        assert secret_or_pii not in written
    assert not any(name in written.lower() for name in ("authorization", "signature"))


async def test_an_unknown_path_is_logged_without_its_raw_path(
    api: Api, access_lines: AccessLines
) -> None:
    response = await api.get("/no/such/thing/12345", headers={"x-request-id": "req-unmatched"})
    assert response.status == 404
    (line,) = access_lines.for_request("req-unmatched")
    assert line["route"] == "<unmatched>"
    assert line["status"] == 404
    assert "12345" not in access_lines.raw()


async def test_a_request_id_that_is_not_a_plain_token_is_replaced(api: Api) -> None:
    response = await api.get("/healthz", headers={"x-request-id": 'evil"\nid'})
    assert response.status == 200
    assert response.headers["x-request-id"] != 'evil"\nid'
    assert response.headers["x-request-id"].isalnum()


async def test_a_line_logged_while_serving_a_request_carries_that_requests_id(
    no_app_registry: None, settings: Settings
) -> None:
    application = create_app(settings=settings, manage_db=False)
    application.config.TOUCHUP = False  # as in the client-address test below
    handler_log = logging.getLogger("fenxiao.test.handler")

    @application.get("/test/logs-a-line")
    @public
    async def logs_a_line(request: Request) -> HTTPResponse:
        handler_log.warning("inside the handler")
        return render({})

    stream = io.StringIO()
    capture = logging.StreamHandler(stream)
    capture.setFormatter(JsonFormatter())
    capture.addFilter(RequestContextFilter())
    handler_log.addHandler(capture)
    try:
        _, given = await application.asgi_client.get(
            "/test/logs-a-line", headers={"x-request-id": "req-from-caller"}
        )
        _, minted = await application.asgi_client.get("/test/logs-a-line")
    finally:
        handler_log.removeHandler(capture)

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["request_id"] for line in lines] == [
        "req-from-caller",
        minted.headers["x-request-id"],
    ]
    assert given.headers["x-request-id"] == "req-from-caller"
    assert len(minted.headers["x-request-id"]) == 32


async def test_readiness_names_an_unreachable_broker(app: Sanic, api: Api) -> None:
    # Port 1 on loopback: nothing listens, the connection is refused at once.
    app.ctx.settings = dataclasses.replace(
        app.ctx.settings, celery_broker_url="redis://127.0.0.1:1/0"
    )
    response = await api.get("/readyz")
    assert response.status == 503
    error = response.json["error"]
    assert error["code"] == "not_ready"
    assert error["fields"] == {"database": "ok", "broker": "unreachable"}
    assert "broker" in error["message"]


async def test_readiness_names_an_unreachable_database_while_liveness_stays_up(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refused() -> None:
        raise ConnectionRefusedError("database down")

    monkeypatch.setattr(db, "ping", refused)
    ready = await api.get("/readyz")
    assert ready.status == 503
    assert ready.json["error"]["fields"] == {"database": "unreachable", "broker": "not_configured"}
    assert (await api.get("/healthz")).status == 200


def _samples(exposition: str, name: str) -> list[str]:
    return [line for line in exposition.splitlines() if line.startswith(name + "{")]


async def test_metrics_count_requests_by_route_method_and_status(api: Api) -> None:
    admin = await api.staff_token("admin", username="obs_metrics")
    program_id = await _program(api, admin)
    await api.get(f"/admin/v1/programs/{program_id}", token=admin)
    count_event("paid", "applied")
    count_job_run("expire_stale_applications", "succeeded")

    response = await api.get("/metrics")
    assert response.status == 200
    assert response.content_type.startswith("text/plain")
    text = response.text
    route = 'route="/admin/v1/programs/<program_id:int>"'
    requests = _samples(text, "fenxiao_http_requests_total")
    assert any(route in s and 'method="GET"' in s and 'status="200"' in s for s in requests)
    latency = _samples(text, "fenxiao_http_request_duration_seconds_bucket")
    assert any(route in s for s in latency)
    assert not any(f"/{program_id}" in s for s in requests)
    events = _samples(text, "fenxiao_order_events_total")
    assert any('type="paid"' in s and 'outcome="applied"' in s for s in events)
    jobs = _samples(text, "fenxiao_job_runs_total")
    assert any('name="expire_stale_applications"' in s and 'status="succeeded"' in s for s in jobs)
    assert "# TYPE fenxiao_commissions gauge" in text
    backlog = _samples(text, "fenxiao_order_event_inbox")
    assert any('status="queued"' in s for s in backlog)


async def test_the_ledger_drift_gauge_shows_what_the_last_reconcile_run_found(
    api: Api, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def drift_samples() -> Any:
        # The database gauges are re-read at most every 15 s: read them now.
        monkeypatch.setattr(metrics._DatabaseCounts, "read_at", None)
        return api.get("/metrics")

    assert "fenxiao_ledger_drift_accounts{" not in (await drift_samples()).text
    await run_recorded("reconcile_ledger", runner="inprocess", settings=settings)
    clean = _samples((await drift_samples()).text, "fenxiao_ledger_drift_accounts")
    program = await make_program()
    promoter = await make_promoter(program)
    # A cached balance no ledger entry explains.
    await PromoterBalance.create(
        promoter_id=promoter.id, program_id=program.id, currency="CNY", available="5.00"
    )
    await run_recorded("reconcile_ledger", runner="inprocess", settings=settings)
    drifted = _samples((await drift_samples()).text, "fenxiao_ledger_drift_accounts")

    assert clean == ['fenxiao_ledger_drift_accounts{job="reconcile_ledger"} 0.0']
    assert drifted == ['fenxiao_ledger_drift_accounts{job="reconcile_ledger"} 1.0']


async def test_metrics_require_the_metrics_token_when_one_is_set(app: Sanic, api: Api) -> None:
    app.ctx.settings = dataclasses.replace(app.ctx.settings, metrics_token="scrape-" + "t" * 32)
    refused = await api.get("/metrics")
    assert refused.status == 401
    assert refused.json["error"]["code"] == "metrics_token_required"
    wrong = await api.get("/metrics", headers={"authorization": "Bearer nope"})
    assert wrong.status == 401
    allowed = await api.get("/metrics", token="scrape-" + "t" * 32)
    assert allowed.status == 200
    assert "fenxiao_http_requests_total" in allowed.text


@pytest.mark.parametrize(
    ("real_ip_header", "proxies_count", "expected"),
    [(None, 0, ""), ("X-Real-IP", 0, "203.0.113.7"), (None, 1, "198.51.100.2")],
)
async def test_the_client_address_comes_from_proxy_headers_only_when_configured(
    no_app_registry: None,
    settings: Settings,
    real_ip_header: str | None,
    proxies_count: int,
    expected: str,
) -> None:
    configured = dataclasses.replace(
        settings, real_ip_header=real_ip_header, proxies_count=proxies_count
    )
    application = create_app(settings=configured, manage_db=False)
    # Sanic's start-up rewrites its HTTP class in place once per process; the session's app
    # already did, and a second rewrite of the rewritten code fails.
    application.config.TOUCHUP = False

    @application.get("/test/client-address")
    @public
    async def client_address(request: Request) -> HTTPResponse:
        return render({"remote_addr": request.remote_addr})

    _, response = await application.asgi_client.get(
        "/test/client-address",
        headers={"X-Real-IP": "203.0.113.7", "X-Forwarded-For": "10.9.9.9, 198.51.100.2"},
    )
    assert response.json == {"remote_addr": expected}


async def test_a_recorded_visit_is_counted_but_not_logged_while_a_refused_one_is_logged(
    app: Sanic, api: Api, access_lines: AccessLines
) -> None:
    program = await make_program()
    promoter = await make_promoter(program)
    link, _ = await share_links.create_link(user_id=promoter.user_id, program_id=program.id)
    accepted = await api.post(
        "/mp/v1/visits",
        json={"short_code": link.short_code},
        headers={"x-request-id": "req-visit-ok", "user-agent": "Mozilla/5.0 MicroMessenger"},
    )
    refused = await api.post(
        "/mp/v1/visits", json={"short_code": "NOSUCH"}, headers={"x-request-id": "req-visit-404"}
    )
    await app.ctx.visit_buffer.flush()

    assert (accepted.status, refused.status) == (202, 404)
    assert access_lines.for_request("req-visit-ok") == []
    (line,) = access_lines.for_request("req-visit-404")
    assert (line["route"], line["status"]) == ("/mp/v1/visits", 404)
    metrics = (await api.get("/metrics")).text
    counted = _samples(metrics, "fenxiao_http_requests_total")
    assert any('route="/mp/v1/visits"' in s and 'status="202"' in s for s in counted)
