"""Drives a running stack over real HTTP the way its users do: staff, promoters in the
mini-program, and the merchant's store with signed S2S requests.

Each method is one step a scenario can chain; it asserts the status a working stack answers
with and returns the JSON. Time on the stack is the wall clock plus the offset in its clock
file (FENXIAO_CLOCK_FILE, server/clock.py): `advance_clock` moves every process of the stack
at once, and everything the client dates or signs uses the stack's time, as a store whose
clock agreed with the server's would.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from server.clock import CLOCK_FILE_REREAD_SECONDS, read_clock_file, write_clock_file
from server.integrations.wechat_standin_protocol import openid_for
from tests.s2s_client import encode_json, sign_request

JOB_DEADLINE_SECONDS = 60.0
POLL_SECONDS = 0.5
WAIT_DEADLINE_SECONDS = 30.0
# The stack's WeChat app: the buyer's openid the store sends is the one of this app.
STANDIN_APPID = "wx-standin-appid"
MINI_PROGRAM_HEADERS = {
    "user-agent": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) "
        "NetType/WIFI Language/zh_CN miniProgram/" + STANDIN_APPID
    ),
    "referer": f"https://servicewechat.com/{STANDIN_APPID}/1/page-frame.html",
}


@dataclass(frozen=True)
class MiniProgramUser:
    """Someone logged in to the mini-program through the WeChat stand-in."""

    identity: str
    user_id: int
    headers: dict[str, str]

    @property
    def openid(self) -> str:
        return openid_for(self.identity, appid=STANDIN_APPID)


@dataclass(frozen=True)
class Promoter:
    id: int
    program_id: int
    headers: dict[str, str]
    invite_code: str
    identity: str

    @property
    def openid(self) -> str:
        return openid_for(self.identity, appid=STANDIN_APPID)


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    secret: str


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url}: {response.status_code} "
        f"{response.text[:500]}"
    )
    return response.json() if response.content else None


class StackClient:
    """An httpx client on STACK_URL plus the steps of the end-to-end scenarios."""

    def __init__(
        self, base_url: str, *, clock_file: Path | None = None, wechat_url: str | None = None
    ) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=15)
        self.clock_file = clock_file
        # The WeChat stand-in's control paths show what WeChat received (transfers, messages).
        self.wechat_url = wechat_url
        self._logins = 0

    def close(self) -> None:
        self.http.close()

    # ------------------------------------------------------------------ the stack's clock

    def clock_offset(self) -> timedelta:
        return read_clock_file(self.clock_file) if self.clock_file else timedelta(0)

    def now(self) -> datetime:
        """The stack's time."""
        return datetime.now(UTC) + self.clock_offset()

    def set_clock_offset(self, offset: timedelta) -> None:
        """Move the clock of every process of the stack; returns once they all see it."""
        assert self.clock_file is not None, "the stack's clock file is unknown (STACK_CLOCK_FILE)"
        write_clock_file(self.clock_file, offset)
        # Each process re-reads the file at most this often; then all of them agree.
        time.sleep(CLOCK_FILE_REREAD_SECONDS * 3)

    def advance_clock(self, delta: timedelta) -> None:
        self.set_clock_offset(self.clock_offset() + delta)

    # ------------------------------------------------------------------ people

    def staff_headers(
        self, username: str, password: str, *, request_id: str | None = None
    ) -> dict[str, str]:
        """Log a staff account in; the bearer headers for its later calls."""
        extra = {"x-request-id": request_id} if request_id else {}
        tokens = ok(
            self.http.post(
                "/admin/v1/auth/login",
                headers=extra,
                json={"username": username, "password": password},
            )
        )
        return {"authorization": f"Bearer {tokens['access_token']}"}

    def create_program(self, staff: dict[str, str], **overrides: Any) -> dict[str, Any]:
        body = {
            "name": f"Stack shop {secrets.token_hex(3)}",
            "currency": "CNY",
            "recruitment_mode": "review",
            "max_levels": 2,
            "level_rates": ["10", "5"],
            **overrides,
        }
        return ok(self.http.post("/admin/v1/programs", headers=staff, json=body), 201)

    def onboard_promoter(
        self, staff: dict[str, str], program_id: int, *, invite_code: str | None = None
    ) -> Promoter:
        """WeChat login (through the stand-in), apply, staff approves: an approved promoter."""
        user = self.wechat_login()
        identity, headers = user.identity, user.headers
        body: dict[str, Any] = {"real_name": identity.title(), "phone": "13800138000"}
        if invite_code:
            body["invite_code"] = invite_code
        application = ok(
            self.http.post(
                f"/mp/v1/programs/{program_id}/applications", headers=headers, json=body
            ),
            201,
        )
        promoter_id = application["promoter"]["id"]
        assert application["promoter"]["status"] == "applied"
        ok(self.http.post(f"/admin/v1/promoters/{promoter_id}/approve", headers=staff, json={}))
        me = ok(self.http.get(f"/mp/v1/programs/{program_id}/me", headers=headers))
        assert me["status"] == "approved"
        return Promoter(promoter_id, program_id, headers, me["invite_code"], identity)

    def wechat_login(self, identity: str | None = None) -> MiniProgramUser:
        """Log in to the mini-program as `identity` (a new person when None); each login
        uses a fresh wx.login() code, as the mini-program does."""
        identity = identity or f"stack-{secrets.token_hex(4)}"
        self._logins += 1
        code = f"{identity}#{self._logins}-{secrets.token_hex(3)}"
        login = ok(self.http.post("/mp/v1/auth/login", json={"code": code}))
        headers = {"authorization": f"Bearer {login['access_token']}"}
        return MiniProgramUser(identity, login["user"]["id"], headers)

    def log_in_again(self, promoter: Promoter) -> Promoter:
        """The same promoter with a fresh token (after the clock moved past the old one)."""
        return replace(promoter, headers=self.wechat_login(promoter.identity).headers)

    def create_api_key(self, staff: dict[str, str], program_id: int) -> ApiKey:
        created = ok(
            self.http.post(
                f"/admin/v1/programs/{program_id}/api-keys",
                headers=staff,
                json={"name": f"store-{secrets.token_hex(3)}"},
            ),
            201,
        )
        return ApiKey(created["key_id"], created["secret"])

    def signed_post(self, key: ApiKey, path: str, body: Any) -> httpx.Response:
        """POST `body` as JSON, signed like the merchant's store signs it."""
        raw = encode_json(body)
        headers = sign_request(
            key_id=key.key_id,
            secret=key.secret,
            method="POST",
            path=path,
            body=raw,
            timestamp=int(self.now().timestamp()),
        )
        headers["content-type"] = "application/json"
        return self.http.post(path, content=raw, headers=headers)

    def latest_job_run_id(self, staff: dict[str, str], name: str) -> int:
        page = ok(
            self.http.get("/admin/v1/jobs/runs", headers=staff, params={"name": name, "limit": 1})
        )
        return page["items"][0]["id"] if page["items"] else 0

    def run_job(self, staff: dict[str, str], name: str) -> dict[str, Any]:
        """Trigger `name` now and wait for the run it caused to end; returns that run."""
        before = self.latest_job_run_id(staff, name)
        dispatched = ok(self.http.post(f"/admin/v1/jobs/{name}/run", headers=staff, json={}), 202)
        deadline = time.monotonic() + JOB_DEADLINE_SECONDS
        while time.monotonic() < deadline:
            page = ok(
                self.http.get(
                    "/admin/v1/jobs/runs", headers=staff, params={"name": name, "limit": 10}
                )
            )
            ended = [
                run for run in page["items"] if run["id"] > before and run["status"] != "running"
            ]
            if ended:
                return {**ended[-1], "dispatched": dispatched}
            time.sleep(POLL_SECONDS)
        raise AssertionError(f"no run of {name} ended within {JOB_DEADLINE_SECONDS:.0f}s")

    # ------------------------------------------------------------------ sharing and visits

    def share_link(self, promoter: Promoter) -> dict[str, Any]:
        """The promoter's share link (its short code is the scene of the link's QR code)."""
        response = self.http.post(
            f"/mp/v1/programs/{promoter.program_id}/links", headers=promoter.headers, json={}
        )
        assert response.status_code in (200, 201), response.text
        return response.json()

    def visit(self, customer: MiniProgramUser, short_code: str) -> None:
        """The customer opens the shared page in the mini-program (logged in)."""
        body = {"short_code": short_code, "visitor_id": customer.identity}
        # What WeChat's mini-program runtime sends: a script's user agent counts as a bot,
        # and a bot's visit never binds anyone.
        headers = {**customer.headers, **MINI_PROGRAM_HEADERS}
        ok(self.http.post("/mp/v1/visits", headers=headers, json=body), 202)

    def wait_for_binding(
        self, staff: dict[str, str], program_id: int, customer_user_id: int
    ) -> dict[str, Any]:
        """The customer's binding, once the buffered visit that makes it has been written."""
        deadline = time.monotonic() + WAIT_DEADLINE_SECONDS
        while time.monotonic() < deadline:
            page = ok(
                self.http.get(
                    f"/admin/v1/programs/{program_id}/bindings",
                    headers=staff,
                    params={"customer_user_id": customer_user_id},
                )
            )
            if page["items"]:
                return page["items"][0]
            time.sleep(POLL_SECONDS)
        raise AssertionError(f"no binding for user {customer_user_id} in {WAIT_DEADLINE_SECONDS}s")

    # ------------------------------------------------------------------ the store

    def post_order_event(
        self, key: ApiKey, event_type: str, order: dict[str, Any]
    ) -> dict[str, Any]:
        """The store posts one signed order event, dated now on the stack's clock."""
        event = {
            "event_id": f"evt-{secrets.token_hex(8)}",
            "type": event_type,
            "occurred_at": self.now().isoformat(),
            "order": order,
        }
        response = self.signed_post(key, "/admin/v1/s2s/events", event)
        assert response.status_code in (200, 201, 202), response.text
        return response.json()

    # ------------------------------------------------------------------ money

    def wallet(self, promoter: Promoter) -> dict[str, Any]:
        return ok(
            self.http.get(f"/mp/v1/programs/{promoter.program_id}/wallet", headers=promoter.headers)
        )

    def available_ledger_total(self, staff: dict[str, str], promoter_id: int) -> str:
        """The balance after the newest `available` ledger entry (negative when carried)."""
        page = ok(
            self.http.get(
                f"/admin/v1/promoters/{promoter_id}/ledger",
                headers=staff,
                params={"account": "available", "limit": 1},
            )
        )
        return page["items"][0]["balance_after"] if page["items"] else "0.00"

    def request_withdrawal(self, promoter: Promoter, amount: str) -> dict[str, Any]:
        body = {
            "amount": amount,
            "method": "wechat",
            "idempotency_key": f"stack-{secrets.token_hex(8)}",
        }
        return ok(
            self.http.post(
                f"/mp/v1/programs/{promoter.program_id}/withdrawals",
                headers=promoter.headers,
                json=body,
            ),
            201,
        )

    def finance_action(
        self, finance: dict[str, str], withdrawal_id: int, action: str
    ) -> dict[str, Any]:
        """approve or pay (the transfer goes to WeChat Pay, here the stand-in)."""
        return ok(
            self.http.post(
                f"/admin/v1/withdrawals/{withdrawal_id}/{action}", headers=finance, json={}
            )
        )

    # ------------------------------------------------------------------ what WeChat received

    def _standin(self, action: str) -> Any:
        assert self.wechat_url is not None, "the stand-in's URL is unknown (STACK_WECHAT_URL)"
        return ok(httpx.get(f"{self.wechat_url}/__standin__/{action}", timeout=15))

    def standin_transfer(self, out_bill_no: str) -> dict[str, Any]:
        """The WeChat Pay transfer the stand-in received under `out_bill_no`."""
        transfers = self._standin("transfers")["transfers"]
        assert out_bill_no in transfers, f"WeChat Pay never received transfer {out_bill_no}"
        return transfers[out_bill_no]

    def standin_messages(self, openid: str) -> list[dict[str, Any]]:
        """The subscribe messages WeChat delivered to `openid`."""
        messages = self._standin("messages")["messages"]
        return [message for message in messages if message["touser"] == openid]
