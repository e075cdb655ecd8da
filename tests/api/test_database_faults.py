"""The database connection killed from MariaDB's side in the middle of a use case's transaction:
the request gets a clear 503, nothing of the use case is saved, and the same request succeeds
when sent again (the pool hands out a live connection)."""

from __future__ import annotations

from typing import Any

import pytest

import server.services.promoters.status_changes as promoters_service
from server.models import AuditLog, Promoter, PromoterClosure, PromoterStatusChange
from tests.api.conftest import Api
from tests.api.test_promoter_onboarding import apply, login, new_program
from tests.conftest import _mysql_admin

pytestmark = pytest.mark.mysql


async def test_a_connection_killed_mid_transaction_saves_nothing_and_a_retry_succeeds(
    mp_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    program = await new_program("review")
    upline_token, _ = await login(mp_api, "upline")
    staff = await mp_api.staff_token("staff")
    upline_id = (await apply(mp_api, program, upline_token)).json["promoter"]["id"]
    assert (
        await mp_api.post(f"/admin/v1/promoters/{upline_id}/approve", token=staff)
    ).status == 200
    code = (await Promoter.get(id=upline_id)).invite_code
    token, _ = await login(mp_api, "member")
    promoter_id = (await apply(mp_api, program, token, invite_code=code)).json["promoter"]["id"]
    history_before = await PromoterStatusChange.filter(promoter_id=promoter_id).count()
    audit_before = await AuditLog.all().count()

    original = promoters_service.record_action
    killed: list[int] = []

    async def kill_then_audit(**kwargs: Any) -> Any:
        # The approval has already written the status, the closure rows and the history in
        # this transaction; the server now drops the connection under it.
        connection = kwargs["using_db"]
        [row] = await connection.execute_query_dict("SELECT CONNECTION_ID() AS id")
        killed.append(row["id"])
        await _mysql_admin(f"KILL CONNECTION {row['id']}")
        return await original(**kwargs)

    monkeypatch.setattr(promoters_service, "record_action", kill_then_audit)
    failed = await mp_api.post(f"/admin/v1/promoters/{promoter_id}/approve", token=staff)

    assert killed
    assert failed.status == 503, failed.text
    assert failed.json["error"]["code"] == "database_unavailable"
    assert "retry with the same Idempotency-Key" in failed.json["error"]["message"]
    promoter = await Promoter.get(id=promoter_id)
    assert promoter.status == "applied" and promoter.invite_code is None
    assert await PromoterClosure.filter(descendant_id=promoter_id).count() == 0
    assert await PromoterStatusChange.filter(promoter_id=promoter_id).count() == history_before
    assert await AuditLog.all().count() == audit_before

    monkeypatch.setattr(promoters_service, "record_action", original)
    retried = await mp_api.post(f"/admin/v1/promoters/{promoter_id}/approve", token=staff)

    assert retried.status == 200, retried.text
    assert (await Promoter.get(id=promoter_id)).status == "approved"
    assert await PromoterClosure.filter(descendant_id=promoter_id).count() == 1
