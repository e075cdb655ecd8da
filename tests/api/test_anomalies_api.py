"""The anomaly review queue over HTTP: finance reads, staff decide, everything audited."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tortoise.transactions import in_transaction

from server import clock
from server.domain.fraud.findings import AnomalyKind, Finding, SubjectKind
from server.models import Anomaly, AuditLog, Commission, Program, Promoter, Visit
from server.services.fraud.anomalies import record_finding
from tests.api.conftest import Api
from tests.ledger_checks import make_commission
from tests.order_builders import shop
from tests.service.promoters.test_hierarchy import new_program, new_promoter

QUEUE = "/admin/v1/anomalies"


def finding(promoter: Promoter, order_id: int, *, kind: AnomalyKind, score: int) -> Finding:
    return Finding(
        kind=kind,
        subject_kind=SubjectKind.PROMOTER,
        subject_id=str(promoter.id),
        score=score,
        promoter_id=promoter.id,
        evidence={"why": kind.value},
        order_ids=(order_id,),
    )


async def open_anomaly(
    program: Program, promoter: Promoter, *, kind: AnomalyKind = AnomalyKind.REFUND_RATE, score=60
) -> tuple[Anomaly, Commission]:
    commission = await make_commission(program, promoter, status="pending")
    async with in_transaction() as conn:
        anomaly = await record_finding(
            conn=conn,
            program_id=program.id,
            finding=finding(promoter, commission.order_id, kind=kind, score=score),  # type: ignore[attr-defined]
            source="scan",
        )
    assert anomaly is not None
    return anomaly, commission


async def test_the_queue_filters_by_kind_program_status_score_and_promoter(api: Api) -> None:
    program, other = await new_program(), await new_program("other")
    me, you = await new_promoter(program), await new_promoter(program)
    low, _ = await open_anomaly(program, me, score=55)
    high, _ = await open_anomaly(program, you, kind=AnomalyKind.VELOCITY_SPIKE, score=90)
    elsewhere, _ = await open_anomaly(other, await new_promoter(other))
    token = await api.staff_token("finance")

    async def ids(**params: Any) -> list[int]:
        page = await api.get(QUEUE, token=token, params=params)
        assert page.status == 200, page.text
        return [item["id"] for item in page.json["items"]]

    assert await ids() == [elsewhere.id, high.id, low.id]
    assert await ids(program_id=program.id) == [high.id, low.id]
    assert await ids(kind="velocity_spike") == [high.id]
    assert await ids(min_score=80) == [high.id]
    assert await ids(max_score=60, program_id=program.id) == [low.id]
    assert await ids(promoter_id=me.id) == [low.id]
    assert await ids(status="dismissed") == []
    assert await ids(limit=1, cursor=high.id) == [low.id]
    refused = await api.get(QUEUE, token=token, params={"kind": "mind_reading"})
    assert refused.status == 422


async def test_the_detail_shows_evidence_and_linked_orders_and_commissions(api: Api) -> None:
    program = await new_program()
    me = await new_promoter(program)
    anomaly, commission = await open_anomaly(program, me)
    token = await api.staff_token("finance")

    response = await api.get(f"{QUEUE}/{anomaly.id}", token=token)

    assert response.status == 200, response.text
    body = response.json
    assert body["evidence"] == {"why": "refund_rate"}
    assert [o["id"] for o in body["orders"]] == [commission.order_id]  # type: ignore[attr-defined]
    assert [c["id"] for c in body["commissions"]] == [commission.id]
    assert body["commissions"][0]["hold_reason"] == f"anomaly:{anomaly.id}"
    assert body["linked_counts"]["commission"] == 1
    missing = await api.get(f"{QUEUE}/999999", token=token)
    assert (missing.status, missing.json["error"]["code"]) == (404, "anomaly_not_found")


async def test_finance_reads_but_cannot_decide(api: Api) -> None:
    program = await new_program()
    anomaly, _ = await open_anomaly(program, await new_promoter(program))
    token = await api.staff_token("finance")

    response = await api.post(f"{QUEUE}/{anomaly.id}/confirm", token=token, json={"note": "x"})

    assert response.status == 403
    assert (await Anomaly.get(id=anomaly.id)).status == "open"


async def test_staff_confirm_with_a_note_rejects_and_can_suspend(api: Api) -> None:
    program = await new_program()
    me = await new_promoter(program)
    anomaly, commission = await open_anomaly(program, me)
    token = await api.staff_token("staff")

    response = await api.post(
        f"{QUEUE}/{anomaly.id}/confirm",
        token=token,
        json={"note": "fake orders", "suspend_promoter": True},
    )

    assert response.status == 200, response.text
    [item] = response.json["items"]
    assert item["status"] == "confirmed"
    assert item["rejected_commission_ids"] == [commission.id]
    assert (await Commission.get(id=commission.id)).status == "rejected"
    assert (await Promoter.get(id=me.id)).status == "suspended"
    audit = await AuditLog.get(action="anomaly.confirm", target_id=anomaly.id)
    assert audit.details["note"] == "fake orders"
    again = await api.post(f"{QUEUE}/{anomaly.id}/dismiss", token=token, json={"note": "oops"})
    assert (again.status, again.json["error"]["code"]) == (409, "anomaly_already_decided")


async def test_a_note_is_required(api: Api) -> None:
    program = await new_program()
    anomaly, _ = await open_anomaly(program, await new_promoter(program))
    token = await api.staff_token("staff")

    response = await api.post(f"{QUEUE}/{anomaly.id}/dismiss", token=token, json={})

    assert response.status == 422
    assert "note" in response.json["error"]["fields"]


async def test_staff_dismiss_many_at_once_and_the_holds_are_released(api: Api) -> None:
    program = await new_program()
    me = await new_promoter(program)
    first, first_commission = await open_anomaly(program, me)
    second, second_commission = await open_anomaly(program, me, kind=AnomalyKind.VELOCITY_SPIKE)
    token = await api.staff_token("admin")

    response = await api.post(
        f"{QUEUE}/decisions",
        token=token,
        json={"ids": [first.id, second.id], "action": "dismiss", "note": "launch day"},
    )

    assert response.status == 200, response.text
    assert [i["status"] for i in response.json["items"]] == ["dismissed", "dismissed"]
    for commission in (first_commission, second_commission):
        assert (await Commission.get(id=commission.id)).hold_reason is None
    assert await AuditLog.filter(action="anomaly.dismiss").count() == 2


async def test_the_behaviour_page_excludes_bots_from_visits_and_conversion(api: Api) -> None:
    program = await new_program()
    me = await new_promoter(program)
    now = clock.now()
    await Visit.bulk_create(
        [
            Visit(
                program_id=program.id,
                promoter_id=me.id,
                visitor_hash=f"v{i % 4}",
                is_bot=i >= 8,
                source="h5",
                at=now - timedelta(minutes=i),
            )
            for i in range(20)
        ]
    )
    await open_anomaly(program, me)
    token = await api.staff_token("finance")

    response = await api.get(
        f"/admin/v1/promoters/{me.id}/behaviour", token=token, params={"days": 7}
    )

    assert response.status == 200, response.text
    body = response.json
    assert len(body["days"]) == 7
    assert body["totals"]["visits"] == 8
    assert body["totals"]["visitors"] == 4
    assert body["totals"]["bot_visits"] == 12
    assert body["totals"]["conversion_rate_percent"] == "0.0"
    assert [a["kind"] for a in body["open_anomalies"]] == ["refund_rate"]
    missing = await api.get("/admin/v1/promoters/999999/behaviour", token=token)
    assert missing.status == 404


async def test_an_admin_tunes_one_fraud_threshold_and_a_bad_one_is_refused(api: Api) -> None:
    program = await shop()
    token = await api.staff_token("admin")

    tuned = await api.patch(
        f"/admin/v1/programs/{program.id}",
        token=token,
        json={"fraud_thresholds": {"visits_per_ip": 500}},
    )
    refused = await api.patch(
        f"/admin/v1/programs/{program.id}",
        token=token,
        json={"fraud_thresholds": {"refund_rate_percent": 0}},
    )

    assert tuned.status == 200, tuned.text
    stored = await Program.get(id=program.id)
    assert stored.fraud_thresholds["visits_per_ip"] == 500
    assert stored.fraud_thresholds["refund_rate_percent"] == 40
    assert refused.status == 422
    assert "fraud_thresholds.refund_rate_percent" in refused.json["error"]["fields"]
