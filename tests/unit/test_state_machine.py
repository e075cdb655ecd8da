from __future__ import annotations

import pytest

from server.domain.errors import IllegalTransition
from server.domain.promoters.status import PROMOTER_LIFECYCLE, PromoterStatus


def test_an_illegal_move_raises_a_coded_error_naming_the_state() -> None:
    with pytest.raises(IllegalTransition) as err:
        PROMOTER_LIFECYCLE.target(PromoterStatus.REJECTED, "approve")
    assert err.value.code == "promoter_illegal_transition"
    assert err.value.fields == {"from": "rejected", "action": "approve"}
    assert err.value.status_code == 409


def test_an_unknown_action_is_refused() -> None:
    with pytest.raises(IllegalTransition) as err:
        PROMOTER_LIFECYCLE.target(PromoterStatus.APPROVED, "promote")
    assert err.value.code == "promoter_unknown_action"


def test_allowed_actions_follow_the_table() -> None:
    assert sorted(PROMOTER_LIFECYCLE.allowed_actions(PromoterStatus.SUSPENDED)) == [
        "disable",
        "reinstate",
    ]
