from __future__ import annotations

from server.config import Settings
from tests.api.conftest import Api
from tests.api.test_team_api import promoter_token
from tests.ledger_checks import make_commission
from tests.service.promoters.test_hierarchy import new_program, new_promoter


async def test_a_dispute_goes_from_promoter_to_staff_and_is_accepted_by_finance(
    api: Api, settings: Settings
) -> None:
    program = await new_program()
    me = await new_promoter(program)
    commission = await make_commission(program, me, amount="8.00")
    mine = promoter_token(settings, me.user_id)  # type: ignore[attr-defined]
    base = f"/mp/v1/programs/{program.id}/disputes"
    staff, finance = await api.staff_token("staff"), await api.staff_token("finance")

    opened = await api.post(
        base, token=mine, json={"commission_id": commission.id, "text": "rate is wrong"}
    )
    assert opened.status == 201, opened.text
    dispute_id = opened.json["id"]
    queue = await api.get("/admin/v1/disputes", token=staff, params={"status": "open"})
    assert [d["id"] for d in queue.json["items"]] == [dispute_id]
    replied = await api.post(
        f"/admin/v1/disputes/{dispute_id}/messages", token=staff, json={"text": "looking"}
    )
    assert replied.json["status"] == "awaiting_promoter"
    staff_accepting = await api.post(
        f"/admin/v1/disputes/{dispute_id}/accept",
        token=staff,
        json={"amount": "2.00", "currency": "CNY", "reason": "ok"},
    )
    assert staff_accepting.status == 403
    accepted = await api.post(
        f"/admin/v1/disputes/{dispute_id}/accept",
        token=finance,
        json={"amount": "2.00", "currency": "CNY", "reason": "rate corrected"},
    )
    assert accepted.status == 200, accepted.text
    assert accepted.json["adjustment"]["amount"] == "2.00"

    thread = await api.get(f"{base}/{dispute_id}", token=mine)
    assert thread.json["status"] == "resolved_accepted"
    assert [(m["author"], m["body"]) for m in thread.json["messages"]] == [
        ("promoter", "rate is wrong"),
        ("staff", "looking"),
        ("staff", "rate corrected"),
    ]
    wallet = await api.get(f"/mp/v1/programs/{program.id}/wallet", token=mine)
    assert wallet.json["available"] == "2.00"


async def test_a_promoter_can_neither_read_nor_answer_another_promoters_dispute(
    api: Api, settings: Settings
) -> None:
    program = await new_program()
    me, other = await new_promoter(program), await new_promoter(program)
    commission = await make_commission(program, me)
    opened = await api.post(
        f"/mp/v1/programs/{program.id}/disputes",
        token=promoter_token(settings, me.user_id),  # type: ignore[attr-defined]
        json={"commission_id": commission.id, "text": "hello"},
    )
    intruder = promoter_token(settings, other.user_id)  # type: ignore[attr-defined]
    url = f"/mp/v1/programs/{program.id}/disputes/{opened.json['id']}"

    read = await api.get(url, token=intruder)
    reply = await api.post(f"{url}/messages", token=intruder, json={"text": "hi"})
    listed = await api.get(f"/mp/v1/programs/{program.id}/disputes", token=intruder)
    disputed = await api.post(
        f"/mp/v1/programs/{program.id}/disputes",
        token=intruder,
        json={"commission_id": commission.id, "text": "mine"},
    )

    assert (read.status, read.json["error"]["code"]) == (404, "dispute_not_found")
    assert reply.status == 404
    assert listed.json["items"] == []
    assert disputed.status == 404


async def test_staff_reject_with_a_reason_and_the_dispute_is_closed(
    api: Api, settings: Settings
) -> None:
    program = await new_program()
    me = await new_promoter(program)
    mine = promoter_token(settings, me.user_id)  # type: ignore[attr-defined]
    opened = await api.post(
        f"/mp/v1/programs/{program.id}/disputes",
        token=mine,
        json={"external_order_id": "SO-9", "text": "no commission for this order"},
    )
    staff = await api.staff_token("staff")

    rejected = await api.post(
        f"/admin/v1/disputes/{opened.json['id']}/reject",
        token=staff,
        json={"reason": "the order was placed before binding"},
    )
    late = await api.post(
        f"/mp/v1/programs/{program.id}/disputes/{opened.json['id']}/messages",
        token=mine,
        json={"text": "but..."},
    )

    assert rejected.status == 200, rejected.text
    assert rejected.json["resolution_reason"] == "the order was placed before binding"
    assert (late.status, late.json["error"]["code"]) == (409, "dispute_illegal_transition")
