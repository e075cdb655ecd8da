"""End-to-end smoke against the production-shaped stack (`make stack-test`).

Skipped unless STACK_URL points at a running stack; `deploy/stack.py test` sets it, with
STACK_ADMIN_USERNAME / STACK_ADMIN_PASSWORD (the bootstrap admin) and STACK_LOG_DIR (where
the stack's logs are, for the log checks). Every test builds its own program, so they run
in any order and against a stack that has served earlier runs.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.stack_client import StackClient, ok

STACK_URL = os.environ.get("STACK_URL", "")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.stack,
    pytest.mark.skipif(not STACK_URL, reason="needs a running stack: `make stack-test`"),
]

EXPIRY_JOB = "expire_stale_applications"


@pytest.fixture(scope="module")
def stack() -> Iterator[StackClient]:
    client = StackClient(STACK_URL)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="module")
def login_request_id() -> str:
    return f"stack-login-{secrets.token_hex(6)}"


@pytest.fixture(scope="module")
def staff(stack: StackClient, login_request_id: str) -> dict[str, str]:
    return stack.staff_headers(
        os.environ["STACK_ADMIN_USERNAME"],
        os.environ["STACK_ADMIN_PASSWORD"],
        request_id=login_request_id,
    )


def test_the_stack_is_live_and_ready_on_its_database_and_broker(stack: StackClient) -> None:
    assert ok(stack.http.get("/healthz")) == {"status": "ok"}
    assert ok(stack.http.get("/readyz")) == {
        "status": "ready",
        "checks": {"database": "ok", "broker": "ok"},
    }


def test_a_promoter_signs_up_through_wechat_and_is_approved(
    stack: StackClient, staff: dict[str, str]
) -> None:
    program = stack.create_program(staff)
    alice = stack.onboard_promoter(staff, program["id"])
    bob = stack.onboard_promoter(staff, program["id"], invite_code=alice.invite_code)
    team = ok(stack.http.get(f"/mp/v1/programs/{program['id']}/team", headers=alice.headers))
    assert team["total"] == 1
    assert bob.id != alice.id


def test_the_store_reaches_the_stack_with_a_signed_request(
    stack: StackClient, staff: dict[str, str]
) -> None:
    program = stack.create_program(staff)
    key = stack.create_api_key(staff, program["id"])
    pinged = ok(stack.signed_post(key, f"/admin/v1/programs/{program['id']}/s2s/ping", {}))
    assert pinged == {"ok": True, "program_id": program["id"], "key_id": key.key_id}
    replay_refused = stack.http.post(f"/admin/v1/programs/{program['id']}/s2s/ping", json={})
    assert replay_refused.status_code == 401


def test_a_job_triggered_by_an_admin_runs_on_the_celery_worker(
    stack: StackClient, staff: dict[str, str]
) -> None:
    run = stack.run_job(staff, EXPIRY_JOB)
    assert run["dispatched"]["runner"] == "celery"
    assert (run["runner"], run["status"]) == ("celery", "succeeded"), run
    assert "expired" in run["result"]

    # The worker shares the web server's metrics directory: its job counter is scraped too.
    metrics = stack.http.get("/metrics").text
    assert f'fenxiao_job_runs_total{{name="{EXPIRY_JOB}",status="succeeded"}}' in metrics
    assert 'fenxiao_http_requests_total{method="POST",route="/admin/v1/auth/login"' in metrics


def test_the_web_log_is_json_lines_without_credentials(
    stack: StackClient, staff: dict[str, str], login_request_id: str
) -> None:
    log_dir = os.environ.get("STACK_LOG_DIR")
    if not log_dir:
        pytest.skip("STACK_LOG_DIR not set: the stack's logs are not on this machine")
    text = (Path(log_dir) / "web.log").read_text(errors="replace")
    entries = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    (login,) = [e for e in entries if e.get("request_id") == login_request_id and e.get("route")]
    assert (login["method"], login["route"], login["status"]) == (
        "POST",
        "/admin/v1/auth/login",
        200,
    )
    assert isinstance(login["latency_ms"], int | float)
    token = staff["authorization"].removeprefix("Bearer ")
    assert token not in text
    assert os.environ["STACK_ADMIN_PASSWORD"] not in text
