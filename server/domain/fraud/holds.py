"""How far fraud review stops a promoter's money: the program's choice of hold scope."""

from __future__ import annotations

from enum import StrEnum


class FraudHoldScope(StrEnum):
    """What an open anomaly naming a promoter holds (a manual hold always holds the promoter)."""

    # Every commission, withdrawal and payout of the promoter waits for staff.
    PROMOTER = "promoter"
    # Only the commissions the anomaly links wait; the rest of the promoter's money moves.
    ANOMALY_COMMISSIONS = "anomaly_commissions"


DEFAULT_FRAUD_HOLD_SCOPE = FraudHoldScope.PROMOTER
