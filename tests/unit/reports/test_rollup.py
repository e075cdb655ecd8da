"""The pure rollup: which row each fact lands in, by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from server.domain.periods import zone
from server.domain.reports.ranges import local_hour_start
from server.domain.reports.rollup import (
    BindingFact,
    CommissionFact,
    Dimension,
    LineFact,
    OrderFact,
    Touch,
    VisitCount,
    order_touch,
    roll_up,
)

D = Decimal
AT = datetime(2026, 3, 2, 10, 20, tzinfo=UTC)
HOUR = datetime(2026, 3, 2, 10, tzinfo=UTC)
KOLKATA = zone("Asia/Kolkata")


def _bucket(moment: datetime) -> datetime:
    return local_hour_start(moment, zone("Asia/Shanghai"))


def test_an_order_splits_by_line_and_credits_commissions_to_their_beneficiary() -> None:
    order = OrderFact(
        paid_at=AT,
        total=D("150.00"),
        refunded=D("20.00"),
        cancelled=False,
        touch=Touch(promoter_id=7, site_id=2),
        lines=(
            LineFact(product_id="TEA", category="drinks", amount=D("100.00"), refunded=D("20.00")),
            LineFact(product_id="CUP", category=None, amount=D("50.00"), refunded=D(0)),
        ),
        commissions=(
            CommissionFact(
                line_index=0,
                promoter_id=8,
                level=2,
                status="pending",
                amount=D("4.00"),
                original_amount=D("5.00"),
            ),
        ),
    )
    rows = roll_up(bucket_of=_bucket, orders=[order]).rows
    assert rows[(HOUR, "all", "*")]["net_sales"] == D("130.00")
    assert rows[(HOUR, "site", "2")]["refunds"] == D("20.00")
    assert rows[(HOUR, "product", "TEA")]["net_sales"] == D("80.00")
    assert rows[(HOUR, "category", "drinks")]["orders"] == 1
    assert (HOUR, "category", "") not in rows  # a line without a category is in the totals only
    # The order is promoter 7's; the level-2 commission is promoter 8's.
    assert rows[(HOUR, "promoter", "7")]["orders"] == 1
    assert rows[(HOUR, "promoter", "7")]["commission_amount_pending"] == 0
    assert rows[(HOUR, "promoter", "8")]["commission_amount_pending"] == D("4.00")
    assert rows[(HOUR, "level", "2")]["commissions_pending"] == 1


def test_bots_count_apart() -> None:
    # Never as unique visitors either: tests/service/reports/test_rollups.py (the database
    # writes the unique visitors from the visits).
    counted = [(False, 2), (True, 1)]
    rollup = roll_up(
        bucket_of=_bucket,
        visit_counts=[
            VisitCount(
                bucket=HOUR, dimension=Dimension.UTM_SOURCE, value="wechat", is_bot=bot, count=n
            )
            for bot, n in counted
        ],
    )
    row = rollup.rows[(HOUR, "utm_source", "wechat")]
    assert (row["visits"], row["bot_visits"]) == (2, 1)


def test_an_order_takes_its_touch_from_the_attribution_that_won() -> None:
    by_code = {"attribution": {"winner": "coupon", "coupon": {"code": "SPRING"}}}
    by_link = {
        "attribution": {"winner": "binding", "binding": {"channel_id": 4, "reached_by": "qr"}}
    }
    visit = Touch(utm_source="poster", utm_campaign=None)
    coupon = order_touch(by_code, promoter_id=1, site_id=None, campaign="spring", visit=None)
    link = order_touch(by_link, promoter_id=1, site_id=3, campaign="spring", visit=visit)
    assert (coupon.reached_by, coupon.channel_id, coupon.utm_campaign) == ("code", None, "spring")
    assert (link.reached_by, link.channel_id, link.utm_source) == ("qr", 4, "poster")
    assert link.utm_campaign == "spring"  # the visit had none: the store's campaign


def test_buckets_follow_the_local_hour_in_a_half_hour_zone() -> None:
    moment = datetime(2026, 3, 2, 10, 10, tzinfo=UTC)  # 15:40 in Kolkata
    rollup = roll_up(
        bucket_of=lambda m: local_hour_start(m, KOLKATA),
        bindings=[BindingFact(bound_at=moment, touch=Touch())],
    )
    assert list(rollup.rows) == [(datetime(2026, 3, 2, 9, 30, tzinfo=UTC), "all", "*")]
