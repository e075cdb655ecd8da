"""The commission life cycle as a table of allowed transitions."""

from __future__ import annotations

from enum import StrEnum

from server.domain.state_machine import StateMachine


class CommissionStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    SETTLED = "settled"
    PAID = "paid"
    REJECTED = "rejected"
    REVERSED = "reversed"


_C = CommissionStatus

COMMISSION_LIFECYCLE: StateMachine[CommissionStatus] = StateMachine(
    name="commission",
    transitions={
        "approve": (frozenset({_C.PENDING}), _C.APPROVED),
        "reject": (frozenset({_C.PENDING, _C.APPROVED}), _C.REJECTED),
        "settle": (frozenset({_C.APPROVED}), _C.SETTLED),
        "pay": (frozenset({_C.SETTLED}), _C.PAID),
        "reverse": (frozenset({_C.PENDING, _C.APPROVED, _C.SETTLED, _C.PAID}), _C.REVERSED),
    },
)

# Counted in a promoter's "pending" balance: earned but not yet in the ledger.
UNSETTLED_STATUSES = frozenset({_C.PENDING, _C.APPROVED})
# Already credited to the ledger: a reduction here is a clawback entry.
IN_LEDGER_STATUSES = frozenset({_C.SETTLED, _C.PAID})
