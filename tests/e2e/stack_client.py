"""Drives a running stack over real HTTP the way its users do: staff, promoters in the
mini-program, and the merchant's store with signed S2S requests.

Each method is one step a scenario can chain; it asserts the status a working stack answers
with and returns the JSON. The money scenario (orders, settlement, withdrawals) adds its
steps here as those features land.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx

from tests.s2s_client import encode_json, sign_request

JOB_DEADLINE_SECONDS = 60.0
POLL_SECONDS = 0.5


@dataclass(frozen=True)
class Promoter:
    id: int
    program_id: int
    headers: dict[str, str]
    invite_code: str


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

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=15)

    def close(self) -> None:
        self.http.close()

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
        identity = f"stack-{secrets.token_hex(4)}"
        login = ok(self.http.post("/mp/v1/auth/login", json={"code": f"{identity}#1"}))
        headers = {"authorization": f"Bearer {login['access_token']}"}
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
        return Promoter(promoter_id, program_id, headers, me["invite_code"])

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
            timestamp=int(time.time()),
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
