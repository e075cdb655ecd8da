"""The pure sharing rules: custom-code modes, quotas, QR sizes and the WeChat call window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.domain.errors import IllegalTransition, TooManyRequests, ValidationFailed
from server.domain.sharing.qr import CallWindow, admit_call, checked_qr_size
from server.domain.sharing.rules import (
    CODE_REVIEW,
    CodeReview,
    SharingRules,
    check_quota,
    review_of_new_code,
    sharing_rule_errors,
    sharing_rules_from,
)

T0 = datetime(2026, 3, 1, 16, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def test_chosen_text_waits_for_review_or_is_refused_and_drawn_codes_count_at_once() -> None:
    assert review_of_new_code(mode="reviewed", chosen=True) == CodeReview.PENDING
    assert review_of_new_code(mode="reviewed", chosen=False) == CodeReview.APPROVED
    assert review_of_new_code(mode="generated", chosen=False) == CodeReview.APPROVED
    with pytest.raises(ValidationFailed) as refused:
        review_of_new_code(mode="generated", chosen=True, field="alias")
    assert refused.value.code == "custom_codes_disabled" and "alias" in refused.value.fields


def test_only_a_pending_code_is_approved_or_rejected() -> None:
    assert CODE_REVIEW.target(CodeReview.PENDING, "approve") == CodeReview.APPROVED
    assert CODE_REVIEW.target(CodeReview.PENDING, "reject") == CodeReview.REJECTED
    for decided in (CodeReview.APPROVED, CodeReview.REJECTED):
        with pytest.raises(IllegalTransition):
            CODE_REVIEW.target(decided, "approve")


def test_a_quota_refuses_the_creation_that_would_pass_its_limit() -> None:
    check_quota(instrument="links", count=1, limit=2)
    with pytest.raises(ValidationFailed) as refused:
        check_quota(instrument="links", count=2, limit=2)
    assert (refused.value.code, refused.value.fields) == (
        "quota_exceeded",
        {"quota": "links", "limit": 2},
    )


def test_stored_rules_fall_back_to_defaults_key_by_key() -> None:
    assert sharing_rules_from(None) == SharingRules()
    rules = sharing_rules_from({"custom_codes": "generated", "max_links_per_promoter": "9"})
    assert rules.custom_codes == "generated"
    assert rules.max_links_per_promoter == SharingRules().max_links_per_promoter
    errors = sharing_rule_errors(
        SharingRules(custom_codes="open", max_codes_per_promoter=0), prefix="sharing_rules."
    )
    assert set(errors) == {"sharing_rules.custom_codes", "sharing_rules.max_codes_per_promoter"}


@pytest.mark.parametrize("width", [280, 430, 860, 1280])
def test_the_four_qr_sizes_are_accepted(width: int) -> None:
    assert checked_qr_size(width) == width


@pytest.mark.parametrize("width", [0, 279, 281, 300, 1281, 2048, -430])
def test_any_other_qr_size_is_refused(width: int) -> None:
    with pytest.raises(ValidationFailed) as refused:
        checked_qr_size(width)
    assert refused.value.fields == {"width": [280, 430, 860, 1280]}


def test_the_call_window_admits_the_limit_then_says_when_to_retry() -> None:
    window = CallWindow()
    for _ in range(3):
        window = admit_call(window, limit=3, period=MINUTE, now=T0)
    assert window == CallWindow(T0, 3)
    with pytest.raises(TooManyRequests) as refused:
        admit_call(window, limit=3, period=MINUTE, now=T0 + timedelta(seconds=20.5))
    assert refused.value.fields["retry_after_seconds"] == 40
    # The window ends exactly one period after it started: a new one begins.
    assert admit_call(window, limit=3, period=MINUTE, now=T0 + MINUTE) == CallWindow(T0 + MINUTE, 1)
