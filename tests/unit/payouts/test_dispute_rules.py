from __future__ import annotations

import pytest

from server.domain.errors import IllegalTransition, ValidationFailed
from server.domain.payouts.disputes import (
    DISPUTE_LIFECYCLE,
    DisputeStatus,
    SubjectKind,
    check_text,
    dispute_subject,
)

S = DisputeStatus


def test_staff_and_promoter_take_turns_until_a_resolution() -> None:
    status = S.OPEN
    status = DISPUTE_LIFECYCLE.target(status, "staff_reply")
    assert status is S.AWAITING_PROMOTER
    status = DISPUTE_LIFECYCLE.target(status, "promoter_reply")
    assert status is S.OPEN
    assert DISPUTE_LIFECYCLE.target(status, "accept") is S.RESOLVED_ACCEPTED
    assert DISPUTE_LIFECYCLE.target(S.AWAITING_PROMOTER, "reject") is S.RESOLVED_REJECTED


@pytest.mark.parametrize("resolved", [S.RESOLVED_ACCEPTED, S.RESOLVED_REJECTED])
@pytest.mark.parametrize("action", ["staff_reply", "promoter_reply", "accept", "reject"])
def test_a_resolved_dispute_takes_no_further_action(resolved: S, action: str) -> None:
    with pytest.raises(IllegalTransition) as refused:
        DISPUTE_LIFECYCLE.target(resolved, action)
    assert refused.value.code == "dispute_illegal_transition"


def test_a_dispute_names_exactly_one_subject() -> None:
    assert dispute_subject(commission_id=5, external_order_id=None).kind is SubjectKind.COMMISSION
    missing = dispute_subject(commission_id=None, external_order_id=" SO-1 ")
    assert (missing.kind, missing.external_order_id) == (SubjectKind.MISSING_ORDER, "SO-1")
    for commission_id, order in ((None, None), (5, "SO-1"), (None, "  ")):
        with pytest.raises(ValidationFailed) as refused:
            dispute_subject(commission_id=commission_id, external_order_id=order)
        assert refused.value.code == "invalid_dispute_subject"


def test_a_message_is_required_and_bounded() -> None:
    assert check_text("  hello ") == "hello"
    with pytest.raises(ValidationFailed) as empty:
        check_text("   ")
    assert empty.value.code == "text_required"
    with pytest.raises(ValidationFailed) as long:
        check_text("x" * 2001)
    assert long.value.code == "text_too_long"
