"""The promoter life cycle: applied → approved | rejected, approved ⇄ suspended, → disabled."""

from __future__ import annotations

from enum import StrEnum

from server.domain.state_machine import StateMachine


class PromoterStatus(StrEnum):
    APPLIED = "applied"
    APPROVED = "approved"
    REJECTED = "rejected"
    SUSPENDED = "suspended"
    DISABLED = "disabled"
    EXPIRED = "expired"


_S = PromoterStatus

PROMOTER_LIFECYCLE: StateMachine[PromoterStatus] = StateMachine(
    name="promoter",
    transitions={
        "approve": (frozenset({_S.APPLIED}), _S.APPROVED),
        "reject": (frozenset({_S.APPLIED}), _S.REJECTED),
        # Applications nobody reviewed within the program's window lapse (a job does this).
        "expire": (frozenset({_S.APPLIED}), _S.EXPIRED),
        "suspend": (frozenset({_S.APPROVED}), _S.SUSPENDED),
        "reinstate": (frozenset({_S.SUSPENDED}), _S.APPROVED),
        "disable": (frozenset({_S.APPLIED, _S.APPROVED, _S.SUSPENDED}), _S.DISABLED),
    },
)

# Statuses that still occupy the one-profile-per-program slot: a rejected or expired
# applicant may apply again, and the old profile stays as history. A disabled one may not:
# onboarding refuses their WeChat identity, unionid and phone in that program.
LIVE_STATUSES = frozenset({_S.APPLIED, _S.APPROVED, _S.SUSPENDED})
# Only these may be an upline, share, bind customers and earn.
ACTIVE_STATUSES = frozenset({_S.APPROVED})
