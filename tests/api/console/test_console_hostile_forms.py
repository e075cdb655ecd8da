"""Every console form answers hostile input with a coded 4xx page, never a 500."""

from __future__ import annotations

import re

from sanic import Sanic

from tests.api.console.client import signed_in
from tests.api.test_role_matrix import console_routes
from tests.order_builders import promoter, shop

HOSTILE = "\x00<script>alert(1)</script>'\"%s{{7*7}}" + "长" * 600
FIELDS = (
    "action", "reason", "note", "ids", "program_id", "promoter_id", "amount", "reference",
    "text", "username", "password", "roles", "display_name", "is_active", "name", "currency",
    "recruitment_mode", "max_levels", "level_rates", "freeze_days", "time_zone", "kind",
    "value", "level", "product_id", "category", "priority", "quantity", "buyer_promoter_id",
    "domain", "market", "reason_code", "memo", "idempotency_key", "new_parent_id", "lift",
    "suspend_promoter", "back", "self_rebate_rate", "bind_mode",
)  # fmt: skip


async def test_hostile_forms_never_break_a_console_route(app: Sanic) -> None:
    program = await shop()
    member = await promoter(program, status="applied")
    console = await signed_in(app, "admin", "staff", "finance", username="hostile_admin")
    await console.get("/console/promoters")
    failures = []
    checked = 0
    for method, path, _ in console_routes(app):
        if method != "POST" or path.endswith(("login", "logout")):
            continue
        url = re.sub(r"<promoter_id:int>", str(member.id), "/" + path.lstrip("/"))
        url = re.sub(r"<[a-z_]+:int>", str(program.id), url)
        url = re.sub(r"<action:str>", "approve", url)
        checked += 1
        for form in ({name: HOSTILE for name in FIELDS}, {}):
            response = await console.post(f"{url}?program_id={program.id}", form)
            if response.status_code >= 500 or "<script>alert(1)" in response.text:
                failures.append(f"POST {url} -> {response.status_code}")
    assert checked >= 15
    assert failures == []
    await console.close()
