"""Attribution: windows, bind-mode decisions and the link-versus-coupon policy.

The rules in prose: docs/design/sharing.md ("The pure rules").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from server.domain.errors import ValidationFailed
from server.domain.programs.settings import BindMode, ConflictPolicy
from server.domain.promoters.status import ACTIVE_STATUSES


class TouchSource(StrEnum):
    """How the customer reached the promoter's instrument (kept on visits and bindings)."""

    LINK = "link"  # a share link opened (H5 or mini-program page)
    QR = "qr"  # a wxacode or plain QR code scanned
    CODE = "code"  # a referral or voucher code typed


# WeChat launch scenes (`wx.getLaunchOptionsSync().scene`) of a scanned code: a QR code
# (1011 camera, 1012 long-pressed image, 1013 from the album), a barcode (1025, 1031,
# 1032) and a mini-program code (1047, 1048, 1049).
SCANNED_LAUNCH_SCENES = frozenset({1011, 1012, 1013, 1025, 1031, 1032, 1047, 1048, 1049})


def visit_reached_by(*, stated: str | None, launch_scene: int | None) -> TouchSource:
    """How a visit reached its link or code: as the page states it, else as the
    mini-program's launch scene shows (a scan), else an opened link."""
    if stated is not None:
        return TouchSource(stated)
    if launch_scene in SCANNED_LAUNCH_SCENES:
        return TouchSource.QR
    return TouchSource.LINK


class BindAction(StrEnum):
    BIND = "bind"  # a new binding (the customer had no live one)
    REBIND = "rebind"  # a live binding to another promoter is replaced
    RENEW = "renew"  # the same promoter's binding restarts at the touch
    KEEP = "keep"  # the live binding stays; the touch does not move it
    IGNORE = "ignore"  # the touch cannot bind at all; nothing changes


DEFAULT_CONFLICT_POLICY = ConflictPolicy.COUPON_WINS


class AttributionSource(StrEnum):
    BINDING = "binding"
    COUPON = "coupon"
    NONE = "none"


# ---------------------------------------------------------------- windows


def binding_expires_at(bound_at: datetime, attribution_window_days: int) -> datetime | None:
    """When a binding made at `bound_at` stops holding the customer (None = never)."""
    return bound_at + timedelta(days=attribution_window_days) if attribution_window_days else None


def commission_window_end(bound_at: datetime, commission_window_days: int) -> datetime | None:
    """The first instant at which orders through this binding no longer earn (None = never)."""
    return bound_at + timedelta(days=commission_window_days) if commission_window_days else None


def commission_window_refusal(
    *, bound_at: datetime, placed_at: datetime, commission_window_days: int
) -> str | None:
    """Why an order earns nothing through a binding (`order_before_binding`,
    `outside_commission_window`), or None when it is inside the window."""
    if placed_at < bound_at:
        return "order_before_binding"
    end = commission_window_end(bound_at, commission_window_days)
    if end is not None and placed_at >= end:
        return "outside_commission_window"
    return None


def within_commission_window(
    *, bound_at: datetime, placed_at: datetime, commission_window_days: int
) -> bool:
    """True when an order placed at `placed_at` may earn through a binding made at `bound_at`."""
    refusal = commission_window_refusal(
        bound_at=bound_at, placed_at=placed_at, commission_window_days=commission_window_days
    )
    return refusal is None


# ---------------------------------------------------------------- binding decisions


@dataclass(frozen=True, kw_only=True)
class BindingSnapshot:
    """A customer's current binding as stored (expires_at None = never)."""

    promoter_id: int
    promoter_status: str
    bound_at: datetime
    expires_at: datetime | None
    bind_mode: str | None = None

    def is_live(self, at: datetime) -> bool:
        """Holds the customer at `at`: started, not expired, promoter still approved."""
        return self.promoter_status in ACTIVE_STATUSES and self.in_window(at)

    def in_window(self, at: datetime) -> bool:
        """Started and not expired at `at`, whatever the promoter's status."""
        return self.bound_at <= at and (self.expires_at is None or at < self.expires_at)

    def to_evidence(self) -> dict[str, Any]:
        return {
            "promoter_id": self.promoter_id,
            "promoter_status": self.promoter_status,
            "bound_at": self.bound_at.isoformat(),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "bind_mode": self.bind_mode,
        }


@dataclass(frozen=True, kw_only=True)
class Touch:
    """A visit, scan or typed code that names a promoter, at time `at`.

    `at_registration` is True only for the touch that came with the customer's sign-up;
    `source` (a `TouchSource`) is kept for the binding record and does not sway the decision.
    """

    promoter_id: int
    promoter_user_id: int
    promoter_status: str
    source: str
    at: datetime
    at_registration: bool = False


@dataclass(frozen=True, kw_only=True)
class BindingDecision:
    """What a touch does to a customer's binding.

    `promoter_id`, `bound_at` and `expires_at` describe the binding that holds the customer
    after the decision (all None when none does); `replaced_promoter_id` is set on a rebind.
    """

    action: BindAction
    reason: str
    promoter_id: int | None
    bound_at: datetime | None
    expires_at: datetime | None
    replaced_promoter_id: int | None = None

    @property
    def writes(self) -> bool:
        """True when a binding row must be written (bind, rebind or renew)."""
        return self.action in {BindAction.BIND, BindAction.REBIND, BindAction.RENEW}


def _unchanged(action: BindAction, reason: str, live: BindingSnapshot | None) -> BindingDecision:
    return BindingDecision(
        action=action,
        reason=reason,
        promoter_id=live.promoter_id if live else None,
        bound_at=live.bound_at if live else None,
        expires_at=live.expires_at if live else None,
    )


def _bound_to_touch(
    action: BindAction,
    reason: str,
    touch: Touch,
    window_days: int,
    replaced: BindingSnapshot | None = None,
) -> BindingDecision:
    return BindingDecision(
        action=action,
        reason=reason,
        promoter_id=touch.promoter_id,
        bound_at=touch.at,
        expires_at=binding_expires_at(touch.at, window_days),
        replaced_promoter_id=replaced.promoter_id if replaced else None,
    )


def _fresh_bind_reason(existing: BindingSnapshot | None) -> str:
    if existing is None:
        return "first_binding"
    if existing.promoter_status not in ACTIVE_STATUSES:
        return "previous_promoter_inactive"
    return "previous_binding_expired"


def decide_binding(
    *,
    bind_mode: str,
    customer_user_id: int,
    existing: BindingSnapshot | None,
    touch: Touch,
    attribution_window_days: int,
) -> BindingDecision:
    """Apply the program's bind mode to a new touch (rules in the module docstring)."""
    if bind_mode not in {mode.value for mode in BindMode}:
        raise ValidationFailed(
            f"unknown bind mode {bind_mode!r}",
            code="invalid_bind_mode",
            fields={"bind_mode": "must be one of " + ", ".join(mode.value for mode in BindMode)},
        )
    live = existing if existing is not None and existing.is_live(touch.at) else None
    if touch.promoter_user_id == customer_user_id:
        return _unchanged(BindAction.IGNORE, "self_binding", live)
    if touch.promoter_status not in ACTIVE_STATUSES:
        return _unchanged(BindAction.IGNORE, "promoter_not_active", live)
    if existing is not None and touch.at < existing.bound_at:
        # A late-delivered touch never undoes a binding made after it.
        return _unchanged(BindAction.KEEP, "touch_predates_binding", existing)

    if bind_mode == BindMode.ON_REGISTER:
        if live is not None:
            same = live.promoter_id == touch.promoter_id
            reason = "already_bound" if same else "on_register_keeps_existing"
            return _unchanged(BindAction.KEEP, reason, live)
        if not touch.at_registration:
            return _unchanged(BindAction.IGNORE, "not_at_registration", None)
        return _bound_to_touch(
            BindAction.BIND, "bound_at_registration", touch, attribution_window_days
        )

    if live is None:
        reason = _fresh_bind_reason(existing)
        return _bound_to_touch(BindAction.BIND, reason, touch, attribution_window_days)

    if bind_mode == BindMode.FIRST_TOUCH:
        same = live.promoter_id == touch.promoter_id
        reason = "already_bound" if same else "first_touch_keeps_existing"
        return _unchanged(BindAction.KEEP, reason, live)

    # last_touch: the newest touch wins, even over a live binding.
    if live.promoter_id == touch.promoter_id:
        return _bound_to_touch(
            BindAction.RENEW, "last_touch_renews", touch, attribution_window_days
        )
    return _bound_to_touch(
        BindAction.REBIND, "last_touch_rebinds", touch, attribution_window_days, live
    )


# ---------------------------------------------------------------- order attribution


@dataclass(frozen=True, kw_only=True)
class CouponTouch:
    """The coupon or referral code the buyer typed at checkout, resolved to its promoter."""

    code: str
    promoter_id: int
    promoter_user_id: int
    promoter_status: str

    def to_evidence(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "promoter_id": self.promoter_id,
            "promoter_status": self.promoter_status,
        }


@dataclass(frozen=True, kw_only=True)
class OrderAttribution:
    """Which promoter an order is attributed to, through what, and why.

    `attributed_at` is the start of the commission window for this order: the binding's
    `bound_at` when the binding wins, the order time when the coupon wins (a code typed at
    checkout is a referral made at that moment). `evidence` is JSON-safe.
    """

    promoter_id: int | None
    source: AttributionSource
    reason: str
    attributed_at: datetime | None
    evidence: dict[str, Any] = field(default_factory=dict)


def _coupon_refusal(coupon: CouponTouch, buyer_user_id: int) -> str | None:
    if coupon.promoter_user_id == buyer_user_id:
        return "self_referral"
    if coupon.promoter_status not in ACTIVE_STATUSES:
        return "promoter_not_active"
    return None


def _binding_refusal(binding: BindingSnapshot, placed_at: datetime) -> str | None:
    if placed_at < binding.bound_at:
        return "order_before_binding"
    return None if binding.in_window(placed_at) else "binding_expired"


def attribute_order(
    *,
    policy: str,
    buyer_user_id: int,
    binding: BindingSnapshot | None,
    coupon: CouponTouch | None,
    placed_at: datetime,
) -> OrderAttribution:
    """Decide the order's promoter from the buyer's binding and the coupon typed at checkout.

    Reasons: `no_attribution`, `binding_only`, `coupon_only`, `binding_and_coupon_agree`
    (the coupon's promoter is the bound one: attributed through the coupon), `coupon_wins`,
    `binding_wins`, `bound_promoter_forfeits` (the bound promoter is not approved and no
    coupon credits the order). Refused candidates are listed in `evidence` with their reason.
    """
    if policy not in {member.value for member in ConflictPolicy}:
        raise ValidationFailed(
            f"unknown conflict policy {policy!r}",
            code="invalid_conflict_policy",
            fields={"policy": "must be one of " + ", ".join(p.value for p in ConflictPolicy)},
        )
    evidence: dict[str, Any] = {"policy": policy, "placed_at": placed_at.isoformat()}
    usable_binding = usable_coupon = forfeiting = None
    if binding is not None:
        evidence["binding"] = binding.to_evidence()
        if refusal := _binding_refusal(binding, placed_at):
            evidence["binding"]["ignored_because"] = refusal
        elif binding.promoter_status not in ACTIVE_STATUSES:
            forfeiting = binding
        else:
            usable_binding = binding
    if coupon is not None:
        evidence["coupon"] = coupon.to_evidence()
        if refusal := _coupon_refusal(coupon, buyer_user_id):
            evidence["coupon"]["ignored_because"] = refusal
        else:
            usable_coupon = coupon
    if forfeiting is not None and usable_coupon is not None:
        # The binding no longer holds the customer: the code typed now is the referral.
        evidence["binding"]["ignored_because"] = "promoter_not_active"
        forfeiting = None

    if forfeiting is not None:
        # Still the customer's referrer: that promoter forfeits level 1, the chain above earns.
        evidence["binding"]["forfeits_because"] = "promoter_not_active"
        usable_binding = forfeiting
        reason, source = "bound_promoter_forfeits", AttributionSource.BINDING
    elif usable_binding is None and usable_coupon is None:
        reason, source = "no_attribution", AttributionSource.NONE
    elif usable_coupon is None:
        reason, source = "binding_only", AttributionSource.BINDING
    elif usable_binding is None:
        reason, source = "coupon_only", AttributionSource.COUPON
    elif usable_binding.promoter_id == usable_coupon.promoter_id:
        reason, source = "binding_and_coupon_agree", AttributionSource.COUPON
    elif policy == ConflictPolicy.BINDING_WINS:
        reason, source = "binding_wins", AttributionSource.BINDING
    else:
        reason, source = "coupon_wins", AttributionSource.COUPON

    evidence["winner"] = source.value
    evidence["reason"] = reason
    if source == AttributionSource.BINDING and usable_binding is not None:
        promoter_id, attributed_at = usable_binding.promoter_id, usable_binding.bound_at
    elif source == AttributionSource.COUPON and usable_coupon is not None:
        promoter_id, attributed_at = usable_coupon.promoter_id, placed_at
    else:
        promoter_id, attributed_at = None, None
    evidence["attributed_at"] = attributed_at.isoformat() if attributed_at else None
    return OrderAttribution(
        promoter_id=promoter_id,
        source=source,
        reason=reason,
        attributed_at=attributed_at,
        evidence=evidence,
    )
