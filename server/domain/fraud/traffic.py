"""Click floods, inhuman rates, bot traffic and no-dwell conversions: visits no human sends."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from server.domain.fraud.findings import (
    MAX_LINKED_VISITS,
    MAX_SCORE,
    AnomalyKind,
    Finding,
    SubjectKind,
    ratio_score,
)
from server.domain.fraud.thresholds import FraudThresholds

NO_DWELL_SCORE = 80


@dataclass(frozen=True, kw_only=True)
class VisitGroup:
    """A promoter's visits in the window from one hashed IP (`key_kind` "ip") or device."""

    promoter_id: int
    key_kind: str  # ip | device
    key_hash: str
    visits: int
    first_at: datetime
    last_at: datetime
    sample_visit_ids: tuple[int, ...] = ()


@dataclass(frozen=True, kw_only=True)
class PromoterTraffic:
    promoter_id: int
    visits: int
    bot_visits: int
    sample_bot_visit_ids: tuple[int, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Conversion:
    """An order and the binding touch that attributed it."""

    order_id: int
    promoter_id: int
    touch_source: str  # visit | code | register
    touched_at: datetime
    placed_at: datetime
    visit_id: int | None = None


def _visits_per_minute(group: VisitGroup) -> float:
    minutes = max((group.last_at - group.first_at).total_seconds() / 60, 1.0)
    return group.visits / minutes


def detect_click_floods(groups: Iterable[VisitGroup], thresholds: FraudThresholds) -> list[Finding]:
    """A click-flood and an inhuman-rate finding per IP or device that crosses one."""
    findings = []
    for group in sorted(groups, key=lambda g: (g.promoter_id, g.key_kind, g.key_hash)):
        limit = thresholds.visits_per_ip if group.key_kind == "ip" else thresholds.visits_per_device
        evidence = {
            "key_kind": group.key_kind,
            "key_hash": group.key_hash,
            "visits": group.visits,
            "first_at": group.first_at.isoformat(),
            "last_at": group.last_at.isoformat(),
        }
        visit_ids = group.sample_visit_ids[:MAX_LINKED_VISITS]
        if score := ratio_score(group.visits, limit):
            findings.append(
                Finding(
                    kind=AnomalyKind.CLICK_FLOOD,
                    subject_kind=SubjectKind.PROMOTER,
                    subject_id=str(group.promoter_id),
                    score=score,
                    promoter_id=group.promoter_id,
                    detail=f"{group.key_kind}:{group.key_hash}",
                    evidence={**evidence, "threshold": limit},
                    visit_ids=visit_ids,
                )
            )
        rate = _visits_per_minute(group)
        fast = ratio_score(rate, thresholds.max_visits_per_minute)
        if group.visits >= thresholds.min_rate_visits and fast:
            findings.append(
                Finding(
                    kind=AnomalyKind.INHUMAN_VISIT_RATE,
                    subject_kind=SubjectKind.PROMOTER,
                    subject_id=str(group.promoter_id),
                    score=fast,
                    promoter_id=group.promoter_id,
                    detail=f"{group.key_kind}:{group.key_hash}",
                    evidence={
                        **evidence,
                        "visits_per_minute": round(rate, 2),
                        "threshold": thresholds.max_visits_per_minute,
                    },
                    visit_ids=visit_ids,
                )
            )
    return findings


def detect_bot_traffic(
    traffic: Iterable[PromoterTraffic], thresholds: FraudThresholds
) -> list[Finding]:
    """A finding per promoter whose traffic is mostly known bots."""
    findings = []
    for row in sorted(traffic, key=lambda t: t.promoter_id):
        if row.visits == 0 or row.bot_visits < thresholds.min_bot_visits:
            continue
        share = 100 * row.bot_visits / row.visits
        score = ratio_score(share, thresholds.bot_share_percent)
        if not score:
            continue
        findings.append(
            Finding(
                kind=AnomalyKind.BOT_TRAFFIC,
                subject_kind=SubjectKind.PROMOTER,
                subject_id=str(row.promoter_id),
                score=score,
                promoter_id=row.promoter_id,
                evidence={
                    "visits": row.visits,
                    "bot_visits": row.bot_visits,
                    "bot_share_percent": round(share, 1),
                    "threshold_percent": thresholds.bot_share_percent,
                },
                visit_ids=row.sample_bot_visit_ids[:MAX_LINKED_VISITS],
            )
        )
    return findings


def detect_no_dwell(conversion: Conversion, thresholds: FraudThresholds) -> list[Finding]:
    """A finding on the order when it converted faster than a person can from its visit."""
    if conversion.touch_source != "visit":
        return []
    dwell = (conversion.placed_at - conversion.touched_at).total_seconds()
    if not 0 <= dwell < thresholds.min_dwell_seconds:
        return []
    score = min(MAX_SCORE, NO_DWELL_SCORE + round(20 * (1 - dwell / thresholds.min_dwell_seconds)))
    return [
        Finding(
            kind=AnomalyKind.NO_DWELL,
            subject_kind=SubjectKind.ORDER,
            subject_id=str(conversion.order_id),
            score=score,
            promoter_id=conversion.promoter_id,
            evidence={
                "order_id": conversion.order_id,
                "visit_id": conversion.visit_id,
                "dwell_seconds": dwell,
                "threshold_seconds": thresholds.min_dwell_seconds,
            },
            order_ids=(conversion.order_id,),
            visit_ids=(conversion.visit_id,) if conversion.visit_id is not None else (),
        )
    ]
