"""Coupon abuse: codes used off their sites or channels, hoarded, or far above their rate."""

from __future__ import annotations

from server.domain.fraud.coupon_abuse import (
    BuyerCodeUse,
    CodeRate,
    CodeUse,
    detect_code_rate_spikes,
    detect_many_codes,
    detect_off_site_codes,
)
from server.domain.fraud.findings import AnomalyKind, SubjectKind
from server.domain.fraud.thresholds import FraudThresholds

T = FraudThresholds()


def use(order_id: int, site: int | None, authorized: frozenset[int] | None, **kw) -> CodeUse:
    return CodeUse(
        order_id=order_id,
        code_id=5,
        code="SPRING",
        promoter_id=9,
        order_site_id=site,
        authorized_site_ids=authorized,
        **kw,
    )


def test_a_code_used_on_a_site_its_promoter_is_not_authorized_for_is_flagged() -> None:
    [finding] = detect_off_site_codes([use(1, 3, frozenset({1, 2})), use(2, 1, frozenset({1, 2}))])
    assert finding.kind == AnomalyKind.COUPON_OFF_SITE
    assert finding.subject_kind == SubjectKind.CODE
    assert finding.order_ids == (1,)
    assert finding.evidence["reasons"] == ["site_not_authorized"]


def test_a_code_of_a_promoter_with_no_site_grants_is_allowed_everywhere() -> None:
    assert detect_off_site_codes([use(1, 3, None), use(2, None, frozenset({1}))]) == []


def test_a_code_bound_to_a_switched_off_channel_is_flagged() -> None:
    [finding] = detect_off_site_codes([use(1, None, None, channel_active=False)])
    assert finding.evidence["reasons"] == ["channel_inactive"]


def buyer_uses(buyer: str, codes: int) -> list[BuyerCodeUse]:
    return [
        BuyerCodeUse(buyer_key=buyer, code_id=c, promoter_id=100 + c, order_id=c)
        for c in range(codes)
    ]


def test_one_buyer_redeeming_many_codes_is_flagged() -> None:
    [finding] = detect_many_codes(buyer_uses("user:1", T.codes_per_buyer), T)
    assert finding.subject_kind == SubjectKind.BUYER
    assert finding.subject_id == "user:1"
    assert finding.evidence["distinct_codes"] == T.codes_per_buyer


def test_a_buyer_reusing_one_or_two_codes_is_not_flagged() -> None:
    repeat = [
        BuyerCodeUse(buyer_key="user:2", code_id=1, promoter_id=1, order_id=i) for i in range(9)
    ]
    assert detect_many_codes(repeat + buyer_uses("user:3", T.codes_per_buyer - 1), T) == []


def test_a_code_used_far_above_its_usual_rate_is_flagged() -> None:
    # Usually 2 a day; 40 uses in one day is 20 times that.
    spike = CodeRate(code_id=5, code="X", promoter_id=9, window_uses=40, history_uses=56)
    [finding] = detect_code_rate_spikes([spike], T)
    assert finding.kind == AnomalyKind.COUPON_RATE_SPIKE
    assert finding.evidence["usual_uses_per_window"] == 2.0


def test_a_busy_code_at_its_usual_rate_is_not_flagged() -> None:
    steady = CodeRate(code_id=5, code="X", promoter_id=9, window_uses=30, history_uses=28 * 25)
    assert detect_code_rate_spikes([steady], T) == []


def test_a_spike_below_the_minimum_uses_is_not_flagged() -> None:
    small = CodeRate(
        code_id=5, code="X", promoter_id=9, window_uses=T.min_code_uses - 1, history_uses=0
    )
    assert detect_code_rate_spikes([small], T) == []
