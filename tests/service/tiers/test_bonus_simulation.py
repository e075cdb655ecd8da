"""A simulation reports the milestone bonuses a rule-set version would award on the range's
orders (promoter, amount, the local day it unlocks) next to the awards paid: the live version
awards what the job paid, and a draft's changed and added bonuses award what the bonus rule
gives by hand on the same orders."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from server.services.commissions.simulation import simulate_version
from server.services.programs.rule_sets import create_draft, edit_draft, list_versions
from server.services.tiers.bonuses import pay_milestone_bonuses
from tests.order_builders import ADMIN, promoter, shop
from tests.service.tiers.builders import incentive, sale

pytestmark = pytest.mark.usefixtures("db")

# March in Shanghai: [1 March 00:00 +08:00, 1 April 00:00 +08:00).
MARCH = {
    "starts_at": datetime(2026, 2, 28, 16, 0, tzinfo=UTC),
    "ends_at": datetime(2026, 3, 31, 16, 0, tzinfo=UTC),
}


def _at(day: int) -> datetime:
    """10:00 in Shanghai on `day` March."""
    return datetime(2026, 3, day, 2, 0, tzinfo=UTC)


async def _campaign():  # type: ignore[no-untyped-def]
    """A live bonus (120.00 → 30.00) the job paid to `seller` on 5 March; `rival` fell short."""
    program = await shop()
    bonus = await incentive(
        program, "milestone_bonus", name="March", target_net_sales="120.00", amount="30.00", **MARCH
    )
    seller, rival = await promoter(program), await promoter(program)
    await sale(program, rival, "110.00", placed_at=_at(2))
    for day, amount in ((2, "80.00"), (3, "50.00"), (4, "40.00")):
        await sale(program, seller, amount, placed_at=_at(day))
    assert (await pay_milestone_bonuses(now=_at(5)))["awarded"] == 1
    return program, bonus, seller, rival


async def _live_version_id(program_id: int) -> int:
    listed = await list_versions(program_id=program_id)
    return next(item["id"] for item in listed["items"] if item["live"])


def _cumulated_reach(amounts: list[str], target: str) -> int | None:
    """By hand: the index of the sale at which cumulated own net sales reach the target."""
    total = Decimal(0)
    for index, amount in enumerate(amounts):
        total += Decimal(amount)
        if total >= Decimal(target):
            return index
    return None


async def test_the_live_version_awards_what_the_job_paid() -> None:
    program, bonus, seller, _rival = await _campaign()

    result = await simulate_version(
        version_id=await _live_version_id(program.id), start=date(2026, 3, 1), end=date(2026, 3, 31)
    )

    assert _cumulated_reach(["80.00", "50.00", "40.00"], "120.00") == 1  # the 3 March sale
    assert result["bonuses"]["awards"] == [
        {
            "bonus_id": bonus.id,
            "name": "March",
            "promoter_id": seller.id,
            "awarded_on": "2026-03-05",
            "unlocks_on": "2026-03-03",
            "order_id": result["bonuses"]["awards"][0]["order_id"],
            "net_sales": "130.00",
            "paid": "30.00",
            "simulated": "30.00",
            "difference": "0.00",
        }
    ]
    assert result["bonuses"]["totals"] == {
        "paid": "30.00",
        "simulated": "30.00",
        "difference": "0.00",
        "awards_paid": 1,
        "awards_simulated": 1,
    }


async def test_a_draft_awards_what_the_bonus_rule_gives_on_the_same_orders() -> None:
    program, bonus, seller, rival = await _campaign()
    draft, _ = await create_draft(program_id=program.id, actor=ADMIN)
    await edit_draft(
        version_id=draft.id,
        kind="milestone_bonus",
        key=bonus.id,
        changes={"target_net_sales": "200.00"},
        actor=ADMIN,
    )
    edited = await edit_draft(
        version_id=draft.id,
        kind="milestone_bonus",
        key=None,
        changes={
            "name": "First to 100",
            "target_net_sales": "100.00",
            "amount": "15.00",
            "max_awards": 1,
            **MARCH,
        },
        actor=ADMIN,
    )
    added = next(row for row in edited[0].document["milestone_bonus"] if row.get("id") is None)

    result = await simulate_version(
        version_id=draft.id, start=date(2026, 3, 1), end=date(2026, 3, 31)
    )

    # By hand: seller's 170.00 never reaches 200.00; for 100.00, rival reaches it with the
    # first sale (2 March, 110.00), seller with the second (3 March): one award, the earliest.
    assert _cumulated_reach(["80.00", "50.00", "40.00"], "200.00") is None
    assert _cumulated_reach(["110.00"], "100.00") == 0
    assert _cumulated_reach(["80.00", "50.00", "40.00"], "100.00") == 1
    rows = {(row["bonus_id"], row["promoter_id"]): row for row in result["bonuses"]["awards"]}
    assert set(rows) == {(bonus.id, seller.id), (int(added["key"]), rival.id)}
    changed = rows[(bonus.id, seller.id)]
    assert (changed["paid"], changed["simulated"], changed["unlocks_on"]) == ("30.00", "0.00", None)
    new = rows[(int(added["key"]), rival.id)]
    assert (new["paid"], new["simulated"], new["unlocks_on"], new["net_sales"]) == (
        "0.00",
        "15.00",
        "2026-03-02",
        "110.00",
    )
    assert result["bonuses"]["totals"] == {
        "paid": "30.00",
        "simulated": "15.00",
        "difference": "-15.00",
        "awards_paid": 1,
        "awards_simulated": 1,
    }
    assert result["totals"]["difference"] == "0.00"  # commissions are unchanged


async def test_only_the_ranges_orders_count_towards_a_target() -> None:
    program, bonus, seller, _rival = await _campaign()

    result = await simulate_version(
        version_id=await _live_version_id(program.id), start=date(2026, 3, 4), end=date(2026, 3, 4)
    )

    # Only the 40.00 of 4 March is re-run: the award paid is shown, nothing would unlock.
    (row,) = result["bonuses"]["awards"]
    assert (row["bonus_id"], row["promoter_id"]) == (bonus.id, seller.id)
    assert (row["paid"], row["simulated"], row["unlocks_on"]) == ("30.00", "0.00", None)
