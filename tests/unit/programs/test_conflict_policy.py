"""The link-versus-coupon policy decides the same way every time, and says so in the evidence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from server.domain.programs.settings import ConflictPolicy
from server.domain.sharing.attribution import BindingSnapshot, CouponTouch, attribute_order

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
BUYER = 500
STATUSES = st.sampled_from(["approved", "suspended", "disabled"])


@given(
    policy=st.sampled_from(list(ConflictPolicy)),
    bound_to=st.integers(1, 4),
    bound_status=STATUSES,
    bound_days_ago=st.integers(0, 40),
    coupon_of=st.integers(1, 4),
    coupon_status=STATUSES,
)
def test_the_policy_alone_decides_a_disagreement_and_always_the_same_way(
    policy: ConflictPolicy,
    bound_to: int,
    bound_status: str,
    bound_days_ago: int,
    coupon_of: int,
    coupon_status: str,
) -> None:
    bound_at = T0 - timedelta(days=bound_days_ago)
    binding = BindingSnapshot(
        promoter_id=bound_to,
        promoter_status=bound_status,
        bound_at=bound_at,
        expires_at=bound_at + timedelta(days=30),
    )
    coupon = CouponTouch(
        code="C",
        promoter_id=coupon_of,
        promoter_user_id=1000 + coupon_of,
        promoter_status=coupon_status,
    )

    def decide():  # type: ignore[no-untyped-def]
        return attribute_order(
            policy=policy.value, buyer_user_id=BUYER, binding=binding, coupon=coupon, placed_at=T0
        )

    first, second = decide(), decide()
    assert first == second
    assert first.evidence["policy"] == policy.value

    in_window = bound_days_ago < 30
    binding_usable = bound_status == "approved" and in_window
    coupon_usable = coupon_status == "approved"
    if binding_usable and coupon_usable and bound_to != coupon_of:
        winner = coupon_of if policy == ConflictPolicy.COUPON_WINS else bound_to
        assert (first.promoter_id, first.reason) == (winner, policy.value)
    elif coupon_usable:
        assert first.promoter_id == coupon_of
    elif binding_usable:
        assert (first.promoter_id, first.reason) == (bound_to, "binding_only")
    elif in_window:
        # The bound promoter is not approved: credited, and forfeits level 1 (DESIGN.md).
        assert (first.promoter_id, first.reason) == (bound_to, "bound_promoter_forfeits")
    else:
        assert (first.promoter_id, first.reason) == (None, "no_attribution")
