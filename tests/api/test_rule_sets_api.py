"""Rule-set versions over HTTP: staff make a draft, edit it with field errors shown, simulate
it and publish it (once per key); finance reads and simulates but never publishes; a direct
edit through the old routes is a version of its own."""

from __future__ import annotations

from datetime import UTC, datetime

from server.models import CommissionRuleRecord
from tests.api.conftest import Api
from tests.order_builders import bind, chain, customer, line, paid, send_ok, shop

PLACED = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


async def test_staff_draft_simulate_and_publish_a_rate_change(api: Api) -> None:
    program = await shop()
    _top, nearest = await chain(program, 2)
    buyer = await customer()
    await bind(program, nearest, user=buyer, at=datetime(2026, 2, 20, tzinfo=UTC))
    await send_ok(program, paid("A-1", line("L1", "100.00"), buyer=buyer, placed_at=PLACED))
    staff, finance = await api.staff_token("staff"), await api.staff_token("finance")

    refused = await api.post(
        f"/admin/v1/programs/{program.id}/rule-set/drafts", token=finance, json={}
    )
    assert refused.status == 403
    made = await api.post(
        f"/admin/v1/programs/{program.id}/rule-set/drafts",
        token=staff,
        json={"note": "summer rates"},
        headers={"Idempotency-Key": "draft-1"},
    )
    assert made.status == 201, made.text
    draft = made.json
    assert (draft["status"], draft["based_on"], draft["live"]) == ("draft", 1, False)

    invalid = await api.patch(
        f"/admin/v1/rule-set-versions/{draft['id']}",
        token=staff,
        json={"kind": "commission_rule", "changes": {"kind": "percent", "value": "abc"}},
    )
    assert invalid.status == 422
    assert "value" in invalid.json["error"]["fields"]
    edited = await api.patch(
        f"/admin/v1/rule-set-versions/{draft['id']}",
        token=staff,
        json={"kind": "commission_rule", "changes": {"kind": "percent", "value": "20", "level": 1}},
    )
    assert edited.status == 200, edited.text
    assert edited.json["document"]["commission_rule"][0]["key"] == -1

    simulated = await api.post(
        f"/admin/v1/rule-set-versions/{draft['id']}/simulations",
        token=finance,
        json={"start": "2026-03-02", "end": "2026-03-02"},
    )
    assert simulated.status == 200, simulated.text
    assert simulated.json["totals"] == {
        "paid": "15.00",
        "simulated": "25.00",
        "difference": "10.00",
    }
    # No milestone bonus in the program: the bonus part is there, empty.
    assert simulated.json["bonuses"] == {
        "totals": {
            "paid": "0.00",
            "simulated": "0.00",
            "difference": "0.00",
            "awards_paid": 0,
            "awards_simulated": 0,
        },
        "awards": [],
    }
    too_long = await api.post(
        f"/admin/v1/rule-set-versions/{draft['id']}/simulations",
        token=finance,
        json={"start": "2026-01-01", "end": "2026-12-31"},
    )
    assert too_long.status == 422
    assert too_long.json["error"]["code"] == "simulation_too_large"

    refused = await api.post(
        f"/admin/v1/rule-set-versions/{draft['id']}/publish", token=finance, json={}
    )
    assert refused.status == 403
    published = await api.post(
        f"/admin/v1/rule-set-versions/{draft['id']}/publish",
        token=staff,
        json={},
        headers={"Idempotency-Key": "publish-1"},
    )
    assert published.status == 200, published.text
    assert (published.json["status"], published.json["live"]) == ("published", True)
    again = await api.post(
        f"/admin/v1/rule-set-versions/{draft['id']}/publish",
        token=staff,
        json={},
        headers={"Idempotency-Key": "publish-1"},
    )
    assert again.status == 200
    assert again.headers.get("Idempotent-Replayed") == "true"

    detail = await api.get(f"/admin/v1/rule-set-versions/{draft['id']}", token=finance)
    assert detail.status == 200
    assert detail.json["changes"]["commission_rule"][0]["change"] == "added"
    listed = await api.get(f"/admin/v1/programs/{program.id}/rule-set/versions", token=finance)
    assert [(v["number"], v["status"]) for v in listed.json["items"]] == [
        (2, "published"),
        (1, "published"),
    ]


async def test_a_direct_edit_through_the_rule_routes_publishes_a_version(api: Api) -> None:
    program = await shop()
    staff = await api.staff_token("staff")
    draft = await api.post(f"/admin/v1/programs/{program.id}/rule-set/drafts", token=staff, json={})

    created = await api.post(
        f"/admin/v1/programs/{program.id}/commission-rules",
        token=staff,
        json={"kind": "percent", "value": "7"},
    )
    assert created.status == 201
    stale = await api.post(
        f"/admin/v1/rule-set-versions/{draft.json['id']}/publish", token=staff, json={}
    )

    assert stale.status == 409
    assert stale.json["error"]["code"] == "rule_set_draft_stale"
    listed = await api.get(f"/admin/v1/programs/{program.id}/rule-set/versions", token=staff)
    assert listed.json["live"] == 3
    assert await CommissionRuleRecord.filter(program_id=program.id).count() == 1
