"""End-to-end tests against the production-shaped stack (`make stack-test`): a smoke of each
part, then the whole money story of issue 6 over real HTTP.

Skipped unless STACK_URL points at a running stack; `deploy/stack.py test` sets it, with
STACK_ADMIN_USERNAME / STACK_ADMIN_PASSWORD (the bootstrap admin), STACK_LOG_DIR (where
the stack's logs are, for the log checks) and STACK_CLOCK_FILE (the stack's shared clock
offset, which the money scenario moves past the freeze window). Every test builds its own
program, so they run in any order and against a stack that has served earlier runs.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.stack_client import Promoter, StackClient, ok

STACK_URL = os.environ.get("STACK_URL", "")
STACK_CLOCK_FILE = os.environ.get("STACK_CLOCK_FILE", "")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.stack,
    pytest.mark.skipif(not STACK_URL, reason="needs a running stack: `make stack-test`"),
]

EXPIRY_JOB = "expire_stale_applications"


@pytest.fixture(scope="module")
def stack() -> Iterator[StackClient]:
    client = StackClient(
        STACK_URL,
        clock_file=Path(STACK_CLOCK_FILE) if STACK_CLOCK_FILE else None,
        wechat_url=os.environ.get("STACK_WECHAT_URL") or None,
    )
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


@pytest.fixture
def log_in_staff(stack: StackClient) -> Callable[[], dict[str, str]]:
    """A fresh back-office login (the admin is staff and finance): tokens issued before the
    clock moved days ahead have expired."""
    return lambda: stack.staff_headers(
        os.environ["STACK_ADMIN_USERNAME"], os.environ["STACK_ADMIN_PASSWORD"]
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


# ---------------------------------------------------------------------------- the money story

FREEZE_DAYS = 7
ORDER_AMOUNT = "100.00"
# L1 10 %, L2 5 % of 100.00: C is nearest the customer, then B. A, above B in the tree,
# earns nothing: at most two promoters earn on one order line (MAX_COMMISSION_LEVELS).
EXPECTED = {"C": "10.00", "B": "5.00", "A": "0.00"}
# Shorter than the access-token lifetime: the tokens of the start of the story still work.
BROWSING = timedelta(minutes=5)


def _money(wallet: dict[str, Any]) -> dict[str, str]:
    keys = ("pending", "available", "on_hold", "paid", "carried_forward")
    return {key: wallet[key] for key in keys}


def _wallet(pending: str = "0.00", available: str = "0.00", **others: str) -> dict[str, str]:
    return {
        "pending": pending,
        "available": available,
        "on_hold": others.get("on_hold", "0.00"),
        "paid": others.get("paid", "0.00"),
        "carried_forward": others.get("carried_forward", "0.00"),
    }


@pytest.fixture
def clock_restored(stack: StackClient) -> Iterator[None]:
    if stack.clock_file is None:
        pytest.skip("STACK_CLOCK_FILE not set: the stack's clock cannot be moved from here")
    try:
        yield
    finally:
        stack.set_clock_offset(timedelta(0))


def _wallets(stack: StackClient, team: dict[str, Promoter]) -> dict[str, dict[str, str]]:
    return {name: _money(stack.wallet(promoter)) for name, promoter in team.items()}


def _run_succeeded(stack: StackClient, staff: dict[str, str], job: str) -> dict[str, Any]:
    run = stack.run_job(staff, job)
    assert (run["runner"], run["status"]) == ("celery", "succeeded"), run
    return run["result"]


def test_a_referred_order_pays_two_levels_a_withdrawal_and_a_late_refund_claws_back(
    stack: StackClient,
    staff: dict[str, str],
    log_in_staff: Callable[[], dict[str, str]],
    clock_restored: None,
) -> None:
    # Staff set up a two-level program (the lawful default); the store gets its signing key.
    program = stack.create_program(
        staff,
        max_levels=2,
        level_rates=["10", "5"],
        freeze_days=FREEZE_DAYS,
        attribution_window_days=30,
        withdrawal_rules={"minimum": "1.00", "methods": ["wechat"]},
        auto_approve_rules={"enabled": True},
    )
    store = stack.create_api_key(staff, program["id"])

    # Promoters log in through WeChat and apply, each with the invite code of the one above.
    a = stack.onboard_promoter(staff, program["id"])
    b = stack.onboard_promoter(staff, program["id"], invite_code=a.invite_code)
    c = stack.onboard_promoter(staff, program["id"], invite_code=b.invite_code)
    team = {"A": a, "B": b, "C": c}
    depth_two = ok(
        stack.http.get(f"/mp/v1/programs/{program['id']}/team/levels/2", headers=a.headers)
    )
    assert [member["id"] for member in depth_two["items"]] == [c.id]

    # A customer opens C's shared link (the short code of C's QR code) in the mini-program.
    link = stack.share_link(c)
    customer = stack.wechat_login()
    stack.visit(customer, link["short_code"])
    binding = stack.wait_for_binding(staff, program["id"], customer.user_id)
    assert (binding["promoter_id"], binding["state"]) == (c.id, "active"), binding

    # The customer browses for a while (an order a moment after the visit looks like a
    # scripted conversion, which the fraud checks hold), pays, and the order completes.
    stack.advance_clock(BROWSING)
    order_id = f"stack-order-{program['id']}"
    paid = stack.post_order_event(
        store,
        "order.paid",
        {
            "external_id": order_id,
            "currency": "CNY",
            "placed_at": stack.now().isoformat(),
            "buyer": {"openid": customer.openid},
            "lines": [
                {
                    "line_ref": "1",
                    "product_id": "tea-gift-box",
                    "quantity": 1,
                    "unit_price": ORDER_AMOUNT,
                    "amount": ORDER_AMOUNT,
                }
            ],
        },
    )
    assert paid["status"] == "applied", paid
    stack.post_order_event(
        store,
        "order.completed",
        {"external_id": order_id, "completed_at": stack.now().isoformat()},
    )
    frozen = {name: _wallet(pending=EXPECTED[name]) for name in team}
    assert _wallets(stack, team) == frozen

    # Inside the freeze window the jobs settle nothing.
    _run_succeeded(stack, staff, "approve_due_commissions")
    _run_succeeded(stack, staff, "settle_due_commissions")
    assert _wallets(stack, team) == frozen

    # Past the freeze window, beat's jobs (triggered now, run by the Celery worker) approve
    # and settle: the commissions become available.
    stack.advance_clock(timedelta(days=FREEZE_DAYS, hours=1))
    staff = log_in_staff()
    team = {name: stack.log_in_again(promoter) for name, promoter in team.items()}
    _run_succeeded(stack, staff, "approve_due_commissions")
    settled = _run_succeeded(stack, staff, "settle_due_commissions")
    assert settled["settled"] >= 2, settled
    assert _wallets(stack, team) == {name: _wallet(available=EXPECTED[name]) for name in team}

    # C withdraws everything; finance approves and pays through WeChat Pay (the stand-in).
    c = team["C"]
    withdrawal = stack.request_withdrawal(c, EXPECTED["C"])
    assert withdrawal["status"] == "requested", withdrawal
    assert _money(stack.wallet(c)) == _wallet(on_hold=EXPECTED["C"])
    approved = stack.finance_action(staff, withdrawal["id"], "approve")
    assert approved["status"] == "approved", approved
    paid_out = stack.finance_action(staff, withdrawal["id"], "pay")
    assert paid_out["status"] == "paid", paid_out
    transfer = stack.standin_transfer(paid_out["out_bill_no"])
    assert (transfer["openid"], transfer["amount_fen"], transfer["state"]) == (
        c.openid,
        1000,
        "SUCCESS",
    )
    assert _money(stack.wallet(c)) == _wallet(paid=EXPECTED["C"])
    mine = ok(stack.http.get(f"/mp/v1/programs/{program['id']}/withdrawals", headers=c.headers))
    assert [(w["id"], w["status"]) for w in mine["items"]] == [(withdrawal["id"], "paid")]
    _run_succeeded(stack, staff, "send_notifications")
    told = stack.standin_messages(c.openid)
    assert [m["template_id"] for m in told] == ["stack-withdrawal-paid"], told

    # Afterwards the customer returns everything: every commission is clawed back. What C
    # was already paid is carried forward (later earnings pay it back); A and B are at zero.
    refunded = stack.post_order_event(
        store,
        "order.refunded",
        {"external_id": order_id, "refund_id": "refund-1", "full": True},
    )
    assert refunded["status"] == "applied", refunded
    commissions = ok(
        stack.http.get("/admin/v1/commissions", headers=staff, params={"program_id": program["id"]})
    )
    assert sorted(
        (row["level"], row["promoter_id"], row["status"]) for row in commissions["items"]
    ) == [
        (1, c.id, "reversed"),
        (2, b.id, "reversed"),
    ]
    assert _wallets(stack, team) == {
        "A": _wallet(),
        "B": _wallet(),
        "C": _wallet(paid=EXPECTED["C"], carried_forward=EXPECTED["C"]),
    }
    assert stack.available_ledger_total(staff, c.id) == f"-{EXPECTED['C']}"
    for name in ("A", "B"):
        assert stack.available_ledger_total(staff, team[name].id) == "0.00"

    # Every cached balance agrees with the ledger entries.
    reconciled = _run_succeeded(stack, staff, "reconcile_ledger")
    assert (reconciled["balanced"], reconciled["drift_count"]) == (True, 0), reconciled
    anomalies = ok(
        stack.http.get("/admin/v1/anomalies", headers=staff, params={"program_id": program["id"]})
    )
    assert anomalies["items"] == [], "an honest customer's order raised no fraud anomaly"
