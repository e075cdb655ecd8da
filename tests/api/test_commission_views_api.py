"""Commissions as promoters (their own, customers masked) and staff (everything) read them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from server.config import Settings
from server.models import Commission, CommissionChange, Program, Promoter, User
from tests.api.conftest import Api
from tests.api.test_team_api import promoter_token
from tests.service.commissions.test_commission_preview import (
    PLACED_AT,
    member,
    shop,
    stored_commission,
    stored_order,
)

SECRETS = ("buyer-openid", "Carol", "13812345678", "Real Name")


def chain_facts(kind: str, *promoters: Promoter) -> dict[str, Any]:
    """The parts of a stored explanation that name the chain (hidden from promoters)."""
    return {
        "attribution": {"chain": kind, "placed_at": PLACED_AT.isoformat(), "bound_at": None},
        "chain": [
            {"level": n, "promoter_id": p.id, "status": "approved", "tier": "default"}
            for n, p in enumerate(promoters, start=1)
        ],
        "beneficiary": {"level": 1, "promoter_id": promoters[0].id, "status": "approved"},
    }


@dataclass
class Shop:
    program: Program
    top: Promoter
    seller: Promoter
    boot_l1: Commission
    boot_l2: Commission
    hat_l1: Commission
    own_purchase_l1: Commission


async def shop_with_sales() -> Shop:
    program = await shop()
    top = await member(program, nickname="Topper")
    seller = await member(program, top, nickname="Sally")
    carol = await User.create(appid="wx", openid="buyer-openid", nickname="Carol")
    boots, boot_line = await stored_order(program, buyer=carol, product_id="BOOT")
    facts = chain_facts("referred", seller, top)
    boot_l1 = await stored_commission(boots, boot_line, seller, explanation=facts)
    boot_l2 = await stored_commission(
        boots, boot_line, top, level=2, amount="5.00", rate="5", explanation=facts
    )
    hats, hat_line = await stored_order(
        program,
        buyer=carol,
        product_id="HAT",
        amount="30.00",
        placed_at=PLACED_AT + timedelta(hours=1),
    )
    hat_l1 = await stored_commission(
        hats, hat_line, seller, amount="3.00", status="settled", explanation=facts
    )
    seller_user = await User.get(id=seller.user_id)  # type: ignore[attr-defined]
    own, own_line = await stored_order(program, buyer=seller_user, buyer_promoter_id=seller.id)
    own_purchase_l1 = await stored_commission(
        own, own_line, top, explanation=chain_facts("self_purchase", top)
    )
    return Shop(program, top, seller, boot_l1, boot_l2, hat_l1, own_purchase_l1)


def token_of(settings: Settings, promoter: Promoter) -> str:
    return promoter_token(settings, promoter.user_id)  # type: ignore[attr-defined]


async def test_a_promoter_lists_their_own_commissions_newest_first_with_filters(
    api: Api, settings: Settings
) -> None:
    sales = await shop_with_sales()
    token = token_of(settings, sales.seller)
    base = f"/mp/v1/programs/{sales.program.id}/commissions"
    everything = await api.get(base, token=token)
    assert everything.status == 200, everything.text
    assert [c["id"] for c in everything.json["items"]] == [sales.hat_l1.id, sales.boot_l1.id]
    first = await api.get(base, token=token, params={"limit": 1})
    rest = await api.get(base, token=token, params={"cursor": first.json["next_cursor"]})
    assert [c["id"] for c in first.json["items"] + rest.json["items"]] == [
        sales.hat_l1.id,
        sales.boot_l1.id,
    ]
    for params, expected in (
        ({"status": "settled"}, [sales.hat_l1.id]),
        ({"product_id": "BOOT"}, [sales.boot_l1.id]),
        ({"order_external_id": (await sales.hat_l1.order).external_id}, [sales.hat_l1.id]),
        ({"level": 2}, []),
        ({"to": PLACED_AT.isoformat()}, []),
    ):
        filtered = await api.get(base, token=token, params=params)
        assert [c["id"] for c in filtered.json["items"]] == expected, params
    item = everything.json["items"][1]
    assert (item["amount"], item["level"], item["line"]["product_id"], item["on_hold"]) == (
        "10.00",
        1,
        "BOOT",
        False,
    )
    bad = await api.get(base, token=token, params={"status": "paid-ish"})
    assert (bad.status, bad.json["error"]["code"]) == (422, "invalid_query")


async def test_the_detail_explains_the_figure_and_shows_the_refund_history(
    api: Api, settings: Settings
) -> None:
    sales = await shop_with_sales()
    commission = sales.boot_l1
    await CommissionChange.create(
        commission=commission,
        action="create",
        to_status="pending",
        amount_before=Decimal(0),
        amount_after=Decimal("10.00"),
        actor_kind="system",
    )
    await CommissionChange.create(
        commission=commission,
        action="refund",
        from_status="pending",
        to_status="pending",
        amount_before=Decimal("10.00"),
        amount_after=Decimal("6.00"),
        reason="partial refund",
        actor_kind="staff",
        actor_id=77,
        order_event_id=5,
    )
    response = await api.get(
        f"/mp/v1/programs/{sales.program.id}/commissions/{commission.id}",
        token=token_of(settings, sales.seller),
    )
    assert response.status == 200, response.text
    detail = response.json
    assert detail["explanation"]["formula"] == "10% × 100.00"
    assert detail["explanation"]["rule"] == {"source": "program_level", "id": None}
    assert detail["explanation"]["attribution"]["chain"] == "referred"
    assert "chain" not in detail["explanation"] and "beneficiary" not in detail["explanation"]
    assert [
        (h["action"], h["amount_before"], h["amount_after"], h["reason"]) for h in detail["history"]
    ] == [
        ("create", "0.00", "10.00", None),
        ("refund", "10.00", "6.00", "partial refund"),
    ]
    assert "actor_id" not in detail["history"][1] and "order_event_id" not in detail["history"][1]
    assert str(sales.top.id) not in {str(v) for v in detail["explanation"].values()}


async def test_customers_are_shown_to_promoters_only_masked_and_by_relation(
    api: Api, settings: Settings
) -> None:
    sales = await shop_with_sales()
    program_path = f"/mp/v1/programs/{sales.program.id}/commissions"
    seller_view = await api.get(program_path, token=token_of(settings, sales.seller))
    assert {c["customer"]["relation"] for c in seller_view.json["items"]} == {"direct_customer"}
    assert {c["customer"]["display_name"] for c in seller_view.json["items"]} == {"C****"}
    top_view = await api.get(program_path, token=token_of(settings, sales.top))
    customers = {c["id"]: c["customer"] for c in top_view.json["items"]}
    assert customers == {
        sales.boot_l2.id: {"relation": "team_customer", "display_name": None},
        sales.own_purchase_l1.id: {"relation": "team_member", "display_name": "S****"},
    }
    for path, token in (
        (program_path, token_of(settings, sales.top)),
        (f"{program_path}/{sales.boot_l2.id}", token_of(settings, sales.top)),
        (f"{program_path}/{sales.boot_l1.id}", token_of(settings, sales.seller)),
    ):
        text = (await api.get(path, token=token)).text
        assert not [secret for secret in SECRETS if secret in text], path


async def test_a_promoter_cannot_read_another_promoters_commission(
    api: Api, settings: Settings
) -> None:
    sales = await shop_with_sales()
    path = f"/mp/v1/programs/{sales.program.id}/commissions/{sales.boot_l1.id}"
    theirs = await api.get(path, token=token_of(settings, sales.top))
    assert (theirs.status, theirs.json["error"]["code"]) == (404, "commission_not_found")
    other_program = await shop(name="Elsewhere")
    outsider = await member(other_program)
    wrong_program = await api.get(
        f"/mp/v1/programs/{sales.program.id}/commissions", token=token_of(settings, outsider)
    )
    assert (wrong_program.status, wrong_program.json["error"]["code"]) == (
        404,
        "promoter_not_found",
    )
    staff = await api.staff_token("staff")
    assert (await api.get(path, token=staff)).status == 403


async def test_staff_list_every_commission_with_filters_and_read_the_full_detail(
    api: Api, settings: Settings
) -> None:
    sales = await shop_with_sales()
    await CommissionChange.create(
        commission=sales.boot_l2,
        action="reject",
        from_status="pending",
        to_status="rejected",
        amount_before=Decimal("5.00"),
        amount_after=Decimal("5.00"),
        reason="fake order",
        actor_kind="staff",
        actor_id=77,
    )
    finance = await api.staff_token("finance")
    everything = await api.get(
        "/admin/v1/commissions", token=finance, params={"program_id": sales.program.id}
    )
    assert everything.status == 200, everything.text
    assert [c["id"] for c in everything.json["items"]] == [
        sales.own_purchase_l1.id,
        sales.hat_l1.id,
        sales.boot_l2.id,
        sales.boot_l1.id,
    ]
    for params, expected in (
        ({"promoter_id": sales.top.id}, [sales.own_purchase_l1.id, sales.boot_l2.id]),
        ({"level": 2}, [sales.boot_l2.id]),
        ({"product_id": "HAT"}, [sales.hat_l1.id]),
        ({"order_id": sales.boot_l1.order_id}, [sales.boot_l2.id, sales.boot_l1.id]),  # type: ignore[attr-defined]
        ({"status": "settled", "limit": 1}, [sales.hat_l1.id]),
    ):
        filtered = await api.get("/admin/v1/commissions", token=finance, params=params)
        assert [c["id"] for c in filtered.json["items"]] == expected, params
    detail = await api.get(f"/admin/v1/commissions/{sales.boot_l2.id}", token=finance)
    assert detail.status == 200
    assert detail.json["explanation"]["chain"][1]["promoter_id"] == sales.top.id
    assert detail.json["order"]["buyer_user_id"] is not None
    assert [(h["action"], h["actor_id"]) for h in detail.json["history"]] == [("reject", 77)]
    missing = await api.get("/admin/v1/commissions/999999", token=finance)
    assert (missing.status, missing.json["error"]["code"]) == (404, "commission_not_found")
    promoter = await api.get("/admin/v1/commissions", token=token_of(settings, sales.top))
    assert promoter.status == 403
