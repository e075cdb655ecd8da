"""Click floods, inhuman visit rates, bot traffic and conversions with no dwell."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from server.domain.fraud.findings import AnomalyKind
from server.domain.fraud.thresholds import FraudThresholds
from server.domain.fraud.traffic import (
    Conversion,
    PromoterTraffic,
    VisitGroup,
    detect_bot_traffic,
    detect_click_floods,
    detect_no_dwell,
)

T = FraudThresholds()
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def group(visits: int, minutes: float, kind: str = "ip") -> VisitGroup:
    return VisitGroup(
        promoter_id=4,
        key_kind=kind,
        key_hash="h",
        visits=visits,
        first_at=T0,
        last_at=T0 + timedelta(minutes=minutes),
    )


def test_a_family_sharing_one_wifi_ip_below_the_threshold_is_not_flagged() -> None:
    # Five phones at home opening the promoter's link a few times over an evening.
    assert detect_click_floods([group(25, 240)], T) == []


def test_many_visits_from_one_ip_are_a_click_flood() -> None:
    [finding] = detect_click_floods([group(T.visits_per_ip, 24 * 60)], T)
    assert finding.kind == AnomalyKind.CLICK_FLOOD
    assert finding.detail == "ip:h"
    assert finding.score == 50


def test_many_visits_from_one_device_are_a_click_flood() -> None:
    [finding] = detect_click_floods([group(T.visits_per_device, 24 * 60, kind="device")], T)
    assert finding.evidence["threshold"] == T.visits_per_device


def test_visits_at_an_inhuman_rate_are_flagged_even_below_the_flood_count() -> None:
    [finding] = detect_click_floods([group(40, 1)], T)
    assert finding.kind == AnomalyKind.INHUMAN_VISIT_RATE
    assert finding.evidence["visits_per_minute"] == 40


def test_a_short_burst_below_the_rate_floor_is_not_flagged() -> None:
    assert detect_click_floods([group(T.min_rate_visits - 1, 0)], T) == []


def test_traffic_mostly_from_known_bots_is_flagged() -> None:
    [finding] = detect_bot_traffic([PromoterTraffic(promoter_id=4, visits=100, bot_visits=60)], T)
    assert finding.kind == AnomalyKind.BOT_TRAFFIC
    assert finding.evidence["bot_share_percent"] == 60.0


def test_a_few_crawler_visits_among_real_ones_are_not_flagged() -> None:
    rows = [
        PromoterTraffic(promoter_id=4, visits=1000, bot_visits=50),
        PromoterTraffic(promoter_id=5, visits=10, bot_visits=T.min_bot_visits - 11),
    ]
    assert detect_bot_traffic(rows, T) == []


def conversion(seconds: float, source: str = "visit") -> Conversion:
    return Conversion(
        order_id=3,
        promoter_id=4,
        touch_source=source,
        touched_at=T0,
        placed_at=T0 + timedelta(seconds=seconds),
        visit_id=11,
    )


def test_an_order_paid_instantly_after_its_visit_has_no_dwell() -> None:
    [finding] = detect_no_dwell(conversion(0.5), T)
    assert finding.kind == AnomalyKind.NO_DWELL
    assert finding.order_ids == (3,)
    assert finding.visit_ids == (11,)


def test_a_customer_who_reads_the_page_before_buying_is_not_flagged() -> None:
    assert detect_no_dwell(conversion(T.min_dwell_seconds + 40), T) == []


def test_a_binding_by_code_is_not_judged_on_dwell() -> None:
    assert detect_no_dwell(conversion(0, source="code"), T) == []
