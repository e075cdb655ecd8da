"""The anomaly life cycle: open → confirmed | dismissed, decided once by staff."""

from __future__ import annotations

from enum import StrEnum

from server.domain.state_machine import StateMachine


class AnomalyStatus(StrEnum):
    OPEN = "open"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"


ANOMALY_ACTIONS = frozenset({"confirm", "dismiss"})

ANOMALY_LIFECYCLE: StateMachine[AnomalyStatus] = StateMachine(
    name="anomaly",
    transitions={
        "confirm": (frozenset({AnomalyStatus.OPEN}), AnomalyStatus.CONFIRMED),
        "dismiss": (frozenset({AnomalyStatus.OPEN}), AnomalyStatus.DISMISSED),
    },
)


def anomaly_transition(current: str, action: str) -> AnomalyStatus:
    """The status `action` leads to; IllegalTransition (anomaly_illegal_transition) if none."""
    return ANOMALY_LIFECYCLE.target(AnomalyStatus(current), action)
