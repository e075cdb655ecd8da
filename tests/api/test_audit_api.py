"""GET /admin/v1/audit: the audit log, read-only, filtered, newest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from server.auth import Principal
from server.models import AuditLog
from server.services.access.audit import record_action
from tests.api.conftest import Api

AUDIT = "/admin/v1/audit"
ALICE = Principal(kind="staff", id=501, roles=frozenset({"staff"}))
BOB = Principal(kind="staff", id=502, roles=frozenset({"finance"}))


async def seed() -> list[AuditLog]:
    """Four entries across two programs, two actors and two targets, oldest first."""
    return [
        await record_action(
            actor=ALICE,
            action="promoter.approve",
            target_kind="promoter",
            target_id=1,
            program_id=10,
        ),
        await record_action(
            actor=BOB,
            action="withdrawal.approve",
            target_kind="withdrawal",
            target_id=1,
            program_id=10,
        ),
        await record_action(
            actor=ALICE,
            action="promoter.suspend",
            target_kind="promoter",
            target_id=2,
            program_id=20,
            details={"reason": "odd refunds"},
        ),
        await record_action(
            actor=None,
            action="promoter.expire",
            target_kind="promoter",
            target_id=3,
            program_id=20,
        ),
    ]


async def ids_for(api: Api, token: str, **params: object) -> list[int]:
    response = await api.get(AUDIT, token=token, params=params)
    assert response.status == 200, response.text
    return [item["id"] for item in response.json["items"]]


async def test_entries_come_newest_first_and_filter_by_each_field(api: Api) -> None:
    token = await api.staff_token("staff")
    account_creation = await AuditLog.get(action="staff.create")
    entries = await seed()
    e = [entry.id for entry in entries]

    assert await ids_for(api, token) == [e[3], e[2], e[1], e[0], account_creation.id]
    assert await ids_for(api, token, program_id=20) == [e[3], e[2]]
    assert await ids_for(api, token, action="promoter.approve") == [e[0]]
    assert await ids_for(api, token, target_kind="promoter", target_id=1) == [e[0]]
    assert await ids_for(api, token, actor_kind="staff", actor_id=ALICE.id) == [e[2], e[0]]
    # The test account was bootstrapped with no acting staff: the system created it.
    assert await ids_for(api, token, actor_kind="system") == [e[3], account_creation.id]


async def test_entries_show_who_did_what_with_details(api: Api) -> None:
    await seed()
    token = await api.staff_token("admin")
    response = await api.get(AUDIT, token=token, params={"action": "promoter.suspend"})
    (entry,) = response.json["items"]
    assert entry["actor_kind"] == "staff" and entry["actor_id"] == ALICE.id
    assert entry["target_kind"] == "promoter" and entry["target_id"] == 2
    assert entry["details"] == {"reason": "odd refunds"}
    assert entry["at"]


async def test_the_time_window_includes_from_and_excludes_to(api: Api) -> None:
    entries = await seed()
    base = datetime(2024, 5, 1, tzinfo=UTC)
    for offset, entry in enumerate(entries):
        await AuditLog.filter(id=entry.id).update(at=base + timedelta(days=offset))
    token = await api.staff_token("staff")
    window = {"from": "2024-05-02T00:00:00+00:00", "to": "2024-05-04T00:00:00+00:00"}
    assert await ids_for(api, token, **window) == [entries[2].id, entries[1].id]


async def test_pages_follow_the_cursor_to_the_end(api: Api) -> None:
    entries = await seed()
    token = await api.staff_token("staff")
    first = await api.get(AUDIT, token=token, params={"program_id": 10, "limit": 1})
    assert [i["id"] for i in first.json["items"]] == [entries[1].id]
    second = await api.get(
        AUDIT,
        token=token,
        params={"program_id": 10, "limit": 1, "cursor": first.json["next_cursor"]},
    )
    assert [i["id"] for i in second.json["items"]] == [entries[0].id]
    last = await api.get(
        AUDIT,
        token=token,
        params={"program_id": 10, "limit": 1, "cursor": second.json["next_cursor"]},
    )
    assert last.json == {"items": [], "next_cursor": None}


async def test_a_target_id_without_its_kind_is_refused(api: Api) -> None:
    token = await api.staff_token("staff")
    response = await api.get(AUDIT, token=token, params={"target_id": 1})
    assert response.status == 422
    assert response.json["error"]["fields"] == {"target_kind": "required with target_id"}
    too_many = await api.get(AUDIT, token=token, params={"limit": 101})
    assert too_many.status == 422


async def test_back_office_roles_read_the_log_and_nobody_writes_through_it(api: Api) -> None:
    finance = await api.staff_token("finance")
    assert (await api.get(AUDIT, token=finance)).status == 200
    assert (await api.get(AUDIT)).status == 401
    refused = await api.post(AUDIT, token=finance, json={"action": "forged"})
    assert refused.status == 405
