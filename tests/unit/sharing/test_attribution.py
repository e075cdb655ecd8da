from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from server.domain.errors import ValidationFailed
from server.domain.sharing.attribution import (
    BindAction,
    BindingSnapshot,
    CouponTouch,
    Touch,
    attribute_order,
    binding_expires_at,
    commission_window_refusal,
    decide_binding,
    visit_reached_by,
    within_commission_window,
)

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
CUSTOMER = 500
WINDOW = 30


def _binding(promoter_id: int = 1, **changes: Any) -> BindingSnapshot:
    values: dict[str, Any] = {
        "promoter_id": promoter_id,
        "promoter_status": "approved",
        "bound_at": T0,
        "expires_at": T0 + timedelta(days=WINDOW),
        "bind_mode": "first_touch",
    }
    return BindingSnapshot(**{**values, **changes})


def _touch(promoter_id: int = 2, *, at: datetime | None = None, **changes: Any) -> Touch:
    values: dict[str, Any] = {
        "promoter_id": promoter_id,
        "promoter_user_id": 1000 + promoter_id,
        "promoter_status": "approved",
        "source": "link",
        "at": at or T0 + timedelta(days=1),
    }
    return Touch(**{**values, **changes})


def _decide(mode: str, existing: BindingSnapshot | None, touch: Touch):  # type: ignore[no-untyped-def]
    return decide_binding(
        bind_mode=mode,
        customer_user_id=CUSTOMER,
        existing=existing,
        touch=touch,
        attribution_window_days=WINDOW,
    )


# ---------------------------------------------------------------- windows


def test_a_binding_lasts_the_attribution_window_and_zero_means_forever() -> None:
    assert binding_expires_at(T0, 30) == T0 + timedelta(days=30)
    assert binding_expires_at(T0, 0) is None
    binding = _binding(expires_at=binding_expires_at(T0, 30))
    assert binding.is_live(T0 + timedelta(days=30) - timedelta(microseconds=1))
    assert not binding.is_live(T0 + timedelta(days=30))


def test_the_commission_window_boundary_itself_is_outside() -> None:
    end = T0 + timedelta(days=7)
    assert within_commission_window(
        bound_at=T0, placed_at=end - timedelta(microseconds=1), commission_window_days=7
    )
    assert not within_commission_window(bound_at=T0, placed_at=end, commission_window_days=7)
    assert (
        commission_window_refusal(bound_at=T0, placed_at=end, commission_window_days=7)
        == "outside_commission_window"
    )
    assert within_commission_window(
        bound_at=T0, placed_at=T0 + timedelta(days=9999), commission_window_days=0
    )


# ---------------------------------------------------------------- bind modes


def test_first_touch_keeps_the_existing_unexpired_binding() -> None:
    decision = _decide("first_touch", _binding(1), _touch(2))
    assert (decision.action, decision.reason, decision.promoter_id) == (
        BindAction.KEEP,
        "first_touch_keeps_existing",
        1,
    )
    assert not decision.writes


def test_first_touch_binds_a_customer_nobody_holds() -> None:
    touch = _touch(2)
    decision = _decide("first_touch", None, touch)
    assert (decision.action, decision.reason, decision.promoter_id) == (
        BindAction.BIND,
        "first_binding",
        2,
    )
    assert decision.bound_at == touch.at
    assert decision.expires_at == touch.at + timedelta(days=WINDOW)


def test_first_touch_binds_again_once_the_old_binding_expired() -> None:
    decision = _decide("first_touch", _binding(1), _touch(2, at=T0 + timedelta(days=WINDOW)))
    assert (decision.action, decision.reason, decision.promoter_id) == (
        BindAction.BIND,
        "previous_binding_expired",
        2,
    )


def test_last_touch_the_newest_touch_wins() -> None:
    decision = _decide("last_touch", _binding(1), _touch(2))
    assert (decision.action, decision.reason) == (BindAction.REBIND, "last_touch_rebinds")
    assert (decision.promoter_id, decision.replaced_promoter_id) == (2, 1)


def test_last_touch_by_the_same_promoter_renews_the_binding() -> None:
    touch = _touch(1, at=T0 + timedelta(days=20))
    decision = _decide("last_touch", _binding(1), touch)
    assert (decision.action, decision.bound_at) == (BindAction.RENEW, touch.at)
    assert decision.writes


def test_a_touch_older_than_the_binding_changes_nothing() -> None:
    decision = _decide("last_touch", _binding(1), _touch(2, at=T0 - timedelta(hours=1)))
    assert (decision.action, decision.reason, decision.promoter_id) == (
        BindAction.KEEP,
        "touch_predates_binding",
        1,
    )


def test_on_register_binds_only_at_registration() -> None:
    at_signup = _decide("on_register", None, _touch(2, at_registration=True))
    assert (at_signup.action, at_signup.reason) == (BindAction.BIND, "bound_at_registration")
    later = _decide("on_register", None, _touch(2))
    assert (later.action, later.reason, later.promoter_id) == (
        BindAction.IGNORE,
        "not_at_registration",
        None,
    )


def test_on_register_later_touches_never_rebind() -> None:
    decision = _decide("on_register", _binding(1), _touch(2))
    assert (decision.action, decision.promoter_id) == (BindAction.KEEP, 1)


@pytest.mark.parametrize("mode", ["first_touch", "last_touch", "on_register"])
def test_a_promoter_can_never_bind_themself(mode: str) -> None:
    own = _touch(2, promoter_user_id=CUSTOMER, at_registration=True)
    decision = _decide(mode, None, own)
    assert (decision.action, decision.reason, decision.promoter_id) == (
        BindAction.IGNORE,
        "self_binding",
        None,
    )


@pytest.mark.parametrize("status", ["suspended", "disabled", "applied"])
def test_a_promoter_who_is_not_approved_binds_no_one(status: str) -> None:
    decision = _decide("last_touch", None, _touch(2, promoter_status=status))
    assert (decision.action, decision.reason) == (BindAction.IGNORE, "promoter_not_active")


def test_a_binding_to_a_disabled_promoter_no_longer_holds_the_customer() -> None:
    decision = _decide("first_touch", _binding(1, promoter_status="disabled"), _touch(2))
    assert (decision.action, decision.reason, decision.promoter_id) == (
        BindAction.BIND,
        "previous_promoter_inactive",
        2,
    )


def test_an_unknown_bind_mode_is_refused_with_a_code() -> None:
    with pytest.raises(ValidationFailed) as caught:
        _decide("random", None, _touch(2))
    assert caught.value.code == "invalid_bind_mode"


# ---------------------------------------------------------------- link versus coupon


def _coupon(promoter_id: int = 2, **changes: Any) -> CouponTouch:
    values: dict[str, Any] = {
        "code": "SPRING",
        "promoter_id": promoter_id,
        "promoter_user_id": 1000 + promoter_id,
        "promoter_status": "approved",
    }
    return CouponTouch(**{**values, **changes})


PLACED = T0 + timedelta(days=2)


def _attribute(policy: str = "coupon_wins", **kwargs: Any):  # type: ignore[no-untyped-def]
    values: dict[str, Any] = {"binding": _binding(1), "coupon": _coupon(2)}
    return attribute_order(
        policy=policy, buyer_user_id=CUSTOMER, placed_at=PLACED, **{**values, **kwargs}
    )


def test_by_default_the_coupon_typed_at_checkout_wins_over_the_binding() -> None:
    outcome = _attribute()
    assert (outcome.promoter_id, outcome.source, outcome.reason) == (2, "coupon", "coupon_wins")
    assert outcome.attributed_at == PLACED
    evidence = json.loads(json.dumps(outcome.evidence))
    assert evidence["binding"]["promoter_id"] == 1
    assert evidence["binding"]["bind_mode"] == "first_touch"
    assert evidence["coupon"]["code"] == "SPRING"
    assert evidence["winner"] == "coupon"


def test_a_program_may_let_the_binding_win() -> None:
    outcome = _attribute("binding_wins")
    assert (outcome.promoter_id, outcome.source, outcome.reason) == (1, "binding", "binding_wins")
    assert outcome.attributed_at == T0


def test_a_coupon_of_the_buyers_own_profile_is_ignored() -> None:
    outcome = _attribute(coupon=_coupon(2, promoter_user_id=CUSTOMER))
    assert (outcome.promoter_id, outcome.reason) == (1, "binding_only")
    assert outcome.evidence["coupon"]["ignored_because"] == "self_referral"


def test_an_expired_binding_leaves_the_coupon_alone() -> None:
    outcome = _attribute(binding=_binding(1, expires_at=PLACED))
    assert (outcome.promoter_id, outcome.reason) == (2, "coupon_only")
    assert outcome.evidence["binding"]["ignored_because"] == "binding_expired"


def test_a_coupon_of_the_bound_promoter_agrees() -> None:
    outcome = _attribute("binding_wins", coupon=_coupon(1))
    assert (outcome.promoter_id, outcome.reason) == (1, "binding_and_coupon_agree")


def test_no_binding_and_no_usable_coupon_attributes_nobody() -> None:
    outcome = _attribute(binding=None, coupon=_coupon(2, promoter_status="suspended"))
    assert (outcome.promoter_id, outcome.source, outcome.attributed_at) == (None, "none", None)
    assert outcome.evidence["coupon"]["ignored_because"] == "promoter_not_active"


@pytest.mark.parametrize("status", ["suspended", "disabled"])
def test_a_bound_promoter_not_approved_is_still_credited_and_forfeits_level_one(
    status: str,
) -> None:
    outcome = _attribute(binding=_binding(1, promoter_status=status), coupon=None)
    assert (outcome.promoter_id, outcome.source, outcome.reason) == (
        1,
        "binding",
        "bound_promoter_forfeits",
    )
    assert outcome.attributed_at == T0
    assert outcome.evidence["binding"]["forfeits_because"] == "promoter_not_active"


@pytest.mark.parametrize("policy", ["coupon_wins", "binding_wins"])
def test_a_usable_coupon_wins_over_a_binding_whose_promoter_is_not_approved(policy: str) -> None:
    outcome = _attribute(policy, binding=_binding(1, promoter_status="suspended"))
    assert (outcome.promoter_id, outcome.reason) == (2, "coupon_only")
    assert outcome.evidence["binding"]["ignored_because"] == "promoter_not_active"


def test_a_binding_of_a_suspended_promoter_outside_its_window_credits_nobody() -> None:
    binding = _binding(1, promoter_status="suspended", expires_at=PLACED)
    outcome = _attribute(binding=binding, coupon=None)
    assert (outcome.promoter_id, outcome.reason) == (None, "no_attribution")
    assert outcome.evidence["binding"]["ignored_because"] == "binding_expired"


def test_an_unknown_conflict_policy_is_refused_with_a_code() -> None:
    with pytest.raises(ValidationFailed) as caught:
        _attribute("whoever_pays_more")
    assert caught.value.code == "invalid_conflict_policy"


@pytest.mark.parametrize("scene", [1011, 1012, 1013, 1025, 1031, 1032, 1047, 1048, 1049])
def test_a_visit_launched_by_scanning_a_code_reached_its_link_by_qr(scene: int) -> None:
    assert visit_reached_by(stated=None, launch_scene=scene) == "qr"


@pytest.mark.parametrize("scene", [None, 1001, 1007, 1008, 1036, 1044])
def test_a_visit_launched_any_other_way_opened_its_link(scene: int | None) -> None:
    assert visit_reached_by(stated=None, launch_scene=scene) == "link"


def test_what_the_page_states_wins_over_the_launch_scene() -> None:
    assert visit_reached_by(stated="qr", launch_scene=1007) == "qr"
    assert visit_reached_by(stated="code", launch_scene=1047) == "code"
