"""Coupon abuse: referral codes used where they are not authorized, hoarded, or spiking."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from server.domain.fraud.findings import AnomalyKind, Finding, SubjectKind, ratio_score
from server.domain.fraud.thresholds import FraudThresholds

OFF_SITE_SCORE = 70
INACTIVE_CHANNEL_SCORE = 60


@dataclass(frozen=True, kw_only=True)
class CodeUse:
    """One order placed with a referral code."""

    order_id: int
    code_id: int
    code: str
    promoter_id: int
    order_site_id: int | None
    # None: the promoter has no site grants (authorized everywhere).
    authorized_site_ids: frozenset[int] | None
    channel_active: bool = True


@dataclass(frozen=True, kw_only=True)
class BuyerCodeUse:
    buyer_key: str
    code_id: int
    promoter_id: int
    order_id: int


@dataclass(frozen=True, kw_only=True)
class CodeRate:
    code_id: int
    code: str
    promoter_id: int
    window_uses: int
    history_uses: int
    window_order_ids: tuple[int, ...] = ()


def detect_off_site_codes(uses: Iterable[CodeUse]) -> list[Finding]:
    """One finding per code used outside its authorization, listing the orders."""
    by_code: dict[int, list[tuple[CodeUse, str]]] = defaultdict(list)
    for use in uses:
        if not use.channel_active:
            by_code[use.code_id].append((use, "channel_inactive"))
        elif (
            use.authorized_site_ids is not None
            and use.order_site_id is not None
            and use.order_site_id not in use.authorized_site_ids
        ):
            by_code[use.code_id].append((use, "site_not_authorized"))
    findings = []
    for code_id, found in sorted(by_code.items()):
        first = found[0][0]
        reasons = sorted({reason for _, reason in found})
        score = OFF_SITE_SCORE if "site_not_authorized" in reasons else INACTIVE_CHANNEL_SCORE
        findings.append(
            Finding(
                kind=AnomalyKind.COUPON_OFF_SITE,
                subject_kind=SubjectKind.CODE,
                subject_id=str(code_id),
                score=score,
                promoter_id=first.promoter_id,
                evidence={
                    "code": first.code,
                    "reasons": reasons,
                    "uses": [
                        {"order_id": use.order_id, "site_id": use.order_site_id, "reason": why}
                        for use, why in found
                    ],
                    "authorized_site_ids": sorted(first.authorized_site_ids or ()),
                },
                order_ids=tuple(sorted({use.order_id for use, _ in found})),
            )
        )
    return findings


def detect_many_codes(uses: Iterable[BuyerCodeUse], thresholds: FraudThresholds) -> list[Finding]:
    """One finding per buyer who redeemed too many distinct codes in the window."""
    by_buyer: dict[str, list[BuyerCodeUse]] = defaultdict(list)
    for use in uses:
        by_buyer[use.buyer_key].append(use)
    findings = []
    for buyer_key, found in sorted(by_buyer.items()):
        codes = {use.code_id for use in found}
        score = ratio_score(len(codes), thresholds.codes_per_buyer)
        if not score:
            continue
        findings.append(
            Finding(
                kind=AnomalyKind.COUPON_MANY_CODES,
                subject_kind=SubjectKind.BUYER,
                subject_id=buyer_key,
                score=score,
                evidence={
                    "distinct_codes": len(codes),
                    "threshold": thresholds.codes_per_buyer,
                    "code_ids": sorted(codes),
                    "promoter_ids": sorted({use.promoter_id for use in found}),
                },
                order_ids=tuple(sorted({use.order_id for use in found})),
                promoter_ids=tuple(sorted({use.promoter_id for use in found})),
            )
        )
    return findings


def detect_code_rate_spikes(
    rates: Iterable[CodeRate], thresholds: FraudThresholds
) -> list[Finding]:
    """One finding per code used far above its usual rate."""
    window_days = thresholds.scan_window_hours / 24
    findings = []
    for rate in sorted(rates, key=lambda r: r.code_id):
        if rate.window_uses < thresholds.min_code_uses:
            continue
        per_day = max(rate.history_uses / thresholds.history_days, 1.0)
        usual = per_day * window_days
        score = ratio_score(rate.window_uses / usual, thresholds.code_rate_multiplier)
        if not score:
            continue
        findings.append(
            Finding(
                kind=AnomalyKind.COUPON_RATE_SPIKE,
                subject_kind=SubjectKind.CODE,
                subject_id=str(rate.code_id),
                score=score,
                promoter_id=rate.promoter_id,
                evidence={
                    "code": rate.code,
                    "window_uses": rate.window_uses,
                    "usual_uses_per_window": round(usual, 2),
                    "history_uses": rate.history_uses,
                    "history_days": thresholds.history_days,
                    "multiplier": thresholds.code_rate_multiplier,
                },
                order_ids=rate.window_order_ids,
            )
        )
    return findings
