"""The fraud scans over real rows: what they must find, what they must leave alone, and that
finding the same thing twice opens one anomaly."""

from __future__ import annotations

from datetime import datetime, timedelta

from jobs.recorded import run_recorded
from server import clock
from server.config import Settings
from server.models import (
    Anomaly,
    AnomalyLink,
    JobRun,
    Program,
    Promoter,
    ShareCode,
    Visit,
    Withdrawal,
)
from server.services.access.sealing import sealed_account_number
from server.services.fraud.scans import scan_for_fraud
from tests.order_builders import (
    T0,
    bind,
    commissions_of,
    customer,
    line,
    order_of,
    paid,
    promoter,
    refunded,
    send_ok,
    shop,
    unique,
)

UNTIL = T0 + timedelta(hours=1)


async def scan(program: Program) -> dict:  # type: ignore[type-arg]
    return await scan_for_fraud(until=UNTIL, program_ids=[program.id])


async def kinds() -> list[str]:
    return sorted(await Anomaly.all().values_list("kind", flat=True))


async def add_visits(
    program: Program,
    owner: Promoter,
    count: int,
    *,
    ip: str = "ip-1",
    device: str | None = None,
    every: timedelta = timedelta(minutes=6),
    is_bot: bool = False,
) -> None:
    await Visit.bulk_create(
        [
            Visit(
                program_id=program.id,
                promoter_id=owner.id,
                ip_hash=ip,
                visitor_hash=device or unique("device"),
                is_bot=is_bot,
                source="h5",
                at=T0 - every * i,
            )
            for i in range(count)
        ]
    )


async def test_many_visits_from_one_ip_open_one_click_flood_however_often_scanned(db: str) -> None:
    program = await shop()
    me = await promoter(program)
    await add_visits(program, me, 200)

    first = await scan(program)
    second = await scan(program)

    assert await kinds() == ["click_flood"]
    [anomaly] = await Anomaly.all()
    assert (anomaly.subject_kind, anomaly.promoter_id, anomaly.source) == (
        "promoter",
        me.id,
        "scan",
    )
    assert anomaly.evidence["visits"] == 200
    assert await AnomalyLink.filter(anomaly_id=anomaly.id, target_kind="visit").count() == 50
    assert first["anomalies"] == 1 and second["anomalies"] == 1


async def test_a_family_sharing_one_wifi_ip_below_the_threshold_is_not_flagged(db: str) -> None:
    program = await shop()
    me = await promoter(program)
    for phone in ("mum", "dad", "kid"):
        await add_visits(program, me, 8, device=phone, every=timedelta(minutes=20))

    summary = await scan(program)

    assert summary["findings"] == 0
    assert await Anomaly.all().count() == 0


async def test_visits_at_an_inhuman_rate_are_flagged(db: str) -> None:
    program = await shop()
    me = await promoter(program)
    await add_visits(program, me, 40, device="script", every=timedelta(seconds=1))

    await scan(program)

    assert "inhuman_visit_rate" in await kinds()


async def test_traffic_mostly_from_bots_is_flagged(db: str) -> None:
    program = await shop()
    me = await promoter(program)
    await add_visits(program, me, 30, ip="crawler", is_bot=True, every=timedelta(minutes=30))
    await add_visits(program, me, 10, ip="people", every=timedelta(minutes=30))

    await scan(program)

    [anomaly] = await Anomaly.all()
    assert anomaly.kind == "bot_traffic"
    assert anomaly.evidence["bot_visits"] == 30


async def test_a_high_refund_rate_holds_the_promoters_remaining_commissions(db: str) -> None:
    program = await shop()
    me = await promoter(program)
    buyer = await customer()
    await bind(program, me, user=buyer)
    for n in range(10):
        await send_ok(
            program, paid(f"R-{n}", line(), buyer=buyer, placed_at=T0 - timedelta(hours=n))
        )
    for n in range(5):
        await send_ok(program, refunded(f"R-{n}", full=True))

    await scan(program)

    refund = await Anomaly.get(kind="refund_rate")
    assert refund.evidence["refund_rate_percent"] == 50.0
    kept = await commissions_of(program, "R-9")
    assert kept[("L1", 1)].hold_reason is not None
    gone = await commissions_of(program, "R-0")
    assert gone[("L1", 1)].status == "reversed"


async def test_orders_right_after_binding_are_flagged_for_the_promoter(db: str) -> None:
    program = await shop()
    me = await promoter(program)
    for n in range(6):
        buyer = await customer()
        await bind(program, me, user=buyer, at=T0 - timedelta(seconds=20))
        await send_ok(program, paid(f"Q-{n}", line(), buyer=buyer))

    await scan(program)

    [anomaly] = await Anomaly.all()
    assert anomaly.kind == "orders_right_after_binding"
    assert anomaly.evidence["quick_orders"] == 6


async def test_one_buyer_spreading_orders_over_many_codes_and_promoters_is_flagged(
    db: str,
) -> None:
    program = await shop()
    buyer = await customer()
    codes = []
    for _ in range(3):
        owner = await promoter(program)
        code = unique("CODE").upper()
        await ShareCode.create(
            program=program, promoter=owner, kind="referral", code=code, normalized=code
        )
        codes.append(code)
    for n in range(6):
        body = paid(f"C-{n}", line(), buyer=buyer, coupon_code=codes[n % 3])
        await send_ok(program, body)

    await scan(program)

    assert await kinds() == ["coupon_many_codes", "repeat_buyer"]
    repeat = await Anomaly.get(kind="repeat_buyer")
    assert repeat.subject_id == f"user:{buyer.id}"
    assert repeat.evidence["orders"] == 6


async def test_several_accounts_on_one_device_buying_through_many_promoters_are_flagged(
    db: str,
) -> None:
    program = await shop()
    for n in range(3):
        owner = await promoter(program)
        buyer = await customer()
        await Visit.create(
            program_id=program.id,
            promoter_id=owner.id,
            customer_user_id=buyer.id,
            visitor_hash="one-phone",
            source="mp",
            at=T0 - timedelta(hours=2),
        )
        await bind(program, owner, user=buyer)
        for k in range(2):
            await send_ok(program, paid(f"DV-{n}-{k}", line(), buyer=buyer))

    await scan(program)

    [anomaly] = await Anomaly.all()
    assert (anomaly.kind, anomaly.subject_id) == ("repeat_buyer", "device:one-phone")
    assert anomaly.evidence["orders"] == 6


async def test_an_upline_sharing_a_phone_with_their_downline_is_flagged(db: str) -> None:
    program = await shop()
    parent = await promoter(program)
    child = await promoter(program, parent)
    await Promoter.filter(id__in=[parent.id, child.id]).update(phone="13800000000")
    buyer = await customer()
    await bind(program, child, user=buyer)
    await send_ok(program, paid("H-1", line(), buyer=buyer))

    await scan(program)

    [anomaly] = await Anomaly.all()
    assert anomaly.kind == "hierarchy_shared_identity"
    assert anomaly.promoter_id == child.id
    assert anomaly.evidence["members"] == [parent.id, child.id]
    order = await order_of(program, "H-1")
    assert await AnomalyLink.filter(anomaly_id=anomaly.id, target_kind="order").values_list(
        "target_id", flat=True
    ) == [order.id]
    held = await commissions_of(program, "H-1")
    assert all(c.hold_reason == f"anomaly:{anomaly.id}" for c in held.values())


async def withdrew_to(owner: Promoter, account_number: str) -> None:
    """The promoter once asked for a bank withdrawal to this account."""
    await Withdrawal.create(
        program_id=owner.program_id,  # type: ignore[attr-defined]
        promoter_id=owner.id,
        user_id=owner.user_id,  # type: ignore[attr-defined]
        currency="CNY",
        amount="10.00",
        fee="0.00",
        tax="0.00",
        net="10.00",
        method="bank",
        **sealed_account_number(account_number),
        status="requested",
        idempotency_key=unique("idem"),
        request_fingerprint="x",
        origin="request",
        created_at=clock.now(),
        updated_at=clock.now(),
    )


async def test_an_upline_paid_to_the_same_bank_account_as_their_downline_is_flagged(
    db: str,
) -> None:
    program = await shop()
    parent = await promoter(program)
    middle = await promoter(program, parent)
    child = await promoter(program, middle)
    await withdrew_to(parent, "6222 0000 1111")
    await withdrew_to(child, "622200001111")  # spaces do not hide the same account
    await withdrew_to(middle, "6222 9999 9999")

    await scan(program)

    [anomaly] = await Anomaly.all()
    assert anomaly.evidence["members"] == [parent.id, child.id]
    assert anomaly.evidence["links"][0]["signals"] == ["payout_account"]
    assert "00001111" not in str(anomaly.evidence)  # sealed numbers stay out of findings


async def test_strangers_in_one_tree_and_ordinary_orders_are_not_flagged(db: str) -> None:
    program = await shop()
    parent = await promoter(program)
    child = await promoter(program, parent)
    await Promoter.filter(id=parent.id).update(phone="13800000000")
    await Promoter.filter(id=child.id).update(phone="13900000000")
    for n in range(3):
        buyer = await customer()
        await bind(program, child, user=buyer)
        await send_ok(program, paid(f"N-{n}", line(), buyer=buyer))

    summary = await scan(program)

    assert summary["findings"] == 0


async def test_a_buyer_sharing_a_phone_with_their_promoter_is_a_self_referral(db: str) -> None:
    program = await shop()
    me = await promoter(program)
    buyer = await customer()
    await Promoter.filter(id=me.id).update(phone="13800000000")
    await promoter(program, user=buyer, status="applied")
    await Promoter.filter(user_id=buyer.id).update(phone="13800000000")
    await bind(program, me, user=buyer)
    await send_ok(program, paid("P-1", line(), buyer=buyer))
    assert await Anomaly.all().count() == 0  # the inline rules do not know phones

    await scan(program)

    [anomaly] = await Anomaly.all()
    assert (anomaly.kind, anomaly.subject_kind) == ("self_referral", "order")
    assert anomaly.evidence["beneficiaries"][0]["signals"] == ["phone"]


async def test_a_buyer_paid_out_to_their_promoters_bank_account_is_a_self_referral(
    db: str,
) -> None:
    program = await shop()
    me = await promoter(program)
    buyer = await customer()
    profile = await promoter(program, user=buyer, status="suspended")
    await withdrew_to(me, "6222 1234")
    await withdrew_to(profile, "6222 1234")
    await bind(program, me, user=buyer)
    await send_ok(program, paid("W-1", line(), buyer=buyer))

    await scan(program)

    [anomaly] = await Anomaly.all()
    assert anomaly.kind == "self_referral"
    assert anomaly.evidence["beneficiaries"][0]["signals"] == ["payout_account"]


async def test_the_scan_runs_as_a_recorded_job(db: str, settings: Settings) -> None:
    await shop()

    outcome = await run_recorded("scan_for_fraud", runner="inprocess", settings=settings)

    run = await JobRun.filter(name="scan_for_fraud").get()
    assert run.status == "succeeded"
    assert outcome["programs"] >= 1


async def referred_orders(program: Program, me: Promoter, times: list[datetime]) -> None:
    for at in times:
        buyer = await customer()
        await bind(program, me, user=buyer, at=at - timedelta(days=2))
        await send_ok(program, paid(unique("V"), line(), buyer=buyer, placed_at=at))


async def test_a_sudden_burst_far_above_a_promoters_usual_days_is_a_velocity_spike(
    db: str,
) -> None:
    program = await shop()
    me = await promoter(program)
    since = UNTIL - timedelta(hours=24)
    await referred_orders(program, me, [since - timedelta(days=d, hours=3) for d in range(7)])
    await referred_orders(program, me, [UNTIL - timedelta(minutes=5 * n + 1) for n in range(12)])

    await scan(program)

    [spike] = await Anomaly.filter(kind="velocity_spike")
    assert spike.evidence["window_orders"] == 12
    assert spike.evidence["usual_orders_per_window"] == 1.0


async def test_the_usual_level_counts_the_whole_day_just_before_the_window(db: str) -> None:
    # 60 orders in the 24 hours before the window, on the window's own UTC calendar date: a
    # baseline by calendar day would drop them and call the 12 orders that follow a spike.
    program = await shop()
    me = await promoter(program)
    since = UNTIL - timedelta(hours=24)
    assert (since - timedelta(hours=8)).date() == since.date()
    await referred_orders(program, me, [since - timedelta(minutes=8 * n + 1) for n in range(60)])
    await referred_orders(program, me, [UNTIL - timedelta(minutes=5 * n + 1) for n in range(12)])

    await scan(program)

    assert await Anomaly.filter(kind="velocity_spike").count() == 0
