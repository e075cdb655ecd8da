"""Self-referral: a commission earned on one's own purchase outside the level-0 rebate
(the buyer's own profile or identity at level ≥ 1, or a rebate the program switched off).
"""

from __future__ import annotations

from dataclasses import dataclass

from server.domain.fraud.findings import AnomalyKind, Finding, SubjectKind
from server.domain.fraud.identity import Identity, shared_signals, signals_score

DOUBLE_PAID_SCORE = 100


@dataclass(frozen=True, kw_only=True)
class Beneficiary:
    promoter_id: int
    level: int
    identity: Identity


@dataclass(frozen=True, kw_only=True)
class PaidOrderFacts:
    """A paid order as the self-referral rule reads it."""

    order_id: int
    buyer: Identity
    buyer_promoter_id: int | None
    self_rebate_enabled: bool
    beneficiaries: tuple[Beneficiary, ...]


def detect_self_referral(facts: PaidOrderFacts) -> list[Finding]:
    """At most one finding on the order, naming every beneficiary involved and why."""
    involved: list[dict[str, object]] = []
    score = 0
    for beneficiary in sorted(facts.beneficiaries, key=lambda b: (b.level, b.promoter_id)):
        if beneficiary.level == 0:
            legitimate = (
                facts.self_rebate_enabled and beneficiary.promoter_id == facts.buyer_promoter_id
            )
            if not legitimate:
                involved.append(
                    {"promoter_id": beneficiary.promoter_id, "level": 0, "rule": "rebate_not_due"}
                )
                score = max(score, DOUBLE_PAID_SCORE)
            continue
        if facts.buyer_promoter_id is not None and (
            beneficiary.promoter_id == facts.buyer_promoter_id
        ):
            involved.append(
                {
                    "promoter_id": beneficiary.promoter_id,
                    "level": beneficiary.level,
                    "rule": "self_purchase_paid_above_level_0",
                }
            )
            score = max(score, DOUBLE_PAID_SCORE)
            continue
        signals = shared_signals(facts.buyer, beneficiary.identity)
        if signals:
            involved.append(
                {
                    "promoter_id": beneficiary.promoter_id,
                    "level": beneficiary.level,
                    "rule": "buyer_shares_identity",
                    "signals": list(signals),
                }
            )
            score = max(score, signals_score(signals))
    if not involved:
        return []
    ranked = sorted(involved, key=lambda item: (item["level"] == 0, item["level"]))
    subject_promoter = int(str(ranked[0]["promoter_id"]))
    return [
        Finding(
            kind=AnomalyKind.SELF_REFERRAL,
            subject_kind=SubjectKind.ORDER,
            subject_id=str(facts.order_id),
            score=score,
            promoter_id=subject_promoter,
            evidence={"order_id": facts.order_id, "beneficiaries": involved},
            order_ids=(facts.order_id,),
        )
    ]
