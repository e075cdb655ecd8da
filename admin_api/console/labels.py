"""Names of statuses and actions shown in the console, as msgids for the catalog."""

from __future__ import annotations


def N_(message: str) -> str:
    """Marks a msgid for extraction; translated where it is shown."""
    return message


PROMOTER_STATUS = {
    "applied": N_("Applied"),
    "approved": N_("Approved"),
    "rejected": N_("Rejected"),
    "suspended": N_("Suspended"),
    "disabled": N_("Disabled"),
    "expired": N_("Expired"),
}

PROMOTER_ACTIONS = {
    "approve": N_("Approve"),
    "reject": N_("Reject"),
    "suspend": N_("Suspend"),
    "reinstate": N_("Reinstate"),
    "disable": N_("Disable"),
}

ORDER_STATUS = {
    "paid": N_("Paid"),
    "completed": N_("Completed"),
    "cancelled": N_("Cancelled"),
    "refunded": N_("Refunded"),
}

COMMISSION_STATUS = {
    "pending": N_("Pending"),
    "approved": N_("Approved"),
    "settled": N_("Settled"),
    "paid": N_("Paid"),
    "rejected": N_("Rejected"),
    "reversed": N_("Reversed"),
}

WITHDRAWAL_STATUS = {
    "requested": N_("Requested"),
    "approved": N_("Approved"),
    "rejected": N_("Rejected"),
    "paying": N_("Paying"),
    "paid": N_("Paid"),
    "failed": N_("Failed"),
    "released": N_("Released"),
}

WITHDRAWAL_ACTIONS = {
    "approve": N_("Approve"),
    "reject": N_("Reject"),
    "pay": N_("Pay through WeChat Pay"),
    "retry": N_("Retry the transfer"),
    "resolve": N_("Ask how the transfer ended"),
    "release": N_("Release to the promoter"),
    "mark_paid": N_("Mark paid"),
}

ANOMALY_STATUS = {
    "open": N_("Open"),
    "confirmed": N_("Confirmed"),
    "dismissed": N_("Dismissed"),
    "any": N_("Any"),
}

ANOMALY_KINDS = {
    "self_referral": N_("Self-referral"),
    "coupon_off_site": N_("Coupon used off its site"),
    "coupon_many_codes": N_("Many coupon codes"),
    "coupon_rate_spike": N_("Coupon rate spike"),
    "click_flood": N_("Click flood"),
    "inhuman_visit_rate": N_("Inhuman visit rate"),
    "bot_traffic": N_("Bot traffic"),
    "no_dwell_conversion": N_("Orders with no dwell time"),
    "repeat_buyer": N_("Repeat buyer"),
    "orders_from_one_address": N_("Orders from one address"),
    "orders_from_one_device": N_("Orders from one device"),
    "orders_right_after_binding": N_("Orders right after binding"),
    "refund_rate": N_("High refund rate"),
    "velocity_spike": N_("Velocity spike"),
    "hierarchy_shared_identity": N_("Shared identity in the tree"),
}

DISPUTE_STATUS = {
    "open": N_("Open"),
    "awaiting_promoter": N_("Awaiting the promoter"),
    "resolved_accepted": N_("Accepted"),
    "resolved_rejected": N_("Rejected"),
}

RULE_SOURCES = {
    "program_level": N_("The program's level rate"),
    "self_rebate": N_("The program's self-purchase rebate"),
    "rule": N_("Commission rule"),
}

RULE_SET_STATUS = {
    "draft": N_("Draft"),
    "published": N_("Published"),
    "discarded": N_("Discarded"),
}

ROLES = {"staff": N_("Staff"), "finance": N_("Finance"), "admin": N_("Admin")}

WEBHOOK_STATUS = {"enabled": N_("Enabled"), "disabled": N_("Disabled")}

DELIVERY_STATUS = {
    "pending": N_("Waiting to send"),
    "succeeded": N_("Delivered"),
    "failed": N_("Delivery failed"),
}

# Notices after a change (the query string names one; no free text is reflected).
NOTICES = {"done": N_("Saved."), "published": N_("Published: new orders use this version.")}

LABELS = {
    "promoter_status": PROMOTER_STATUS,
    "promoter_actions": PROMOTER_ACTIONS,
    "roles": ROLES,
    "order_status": ORDER_STATUS,
    "commission_status": COMMISSION_STATUS,
    "rule_sources": RULE_SOURCES,
    "rule_set_status": RULE_SET_STATUS,
    "withdrawal_status": WITHDRAWAL_STATUS,
    "withdrawal_actions": WITHDRAWAL_ACTIONS,
    "anomaly_status": ANOMALY_STATUS,
    "anomaly_kinds": ANOMALY_KINDS,
    "dispute_status": DISPUTE_STATUS,
    "webhook_status": WEBHOOK_STATUS,
    "delivery_status": DELIVERY_STATUS,
}

SIGN_IN_FAILED = N_("Sign-in failed.")
REQUEST_FAILED = N_("The request could not be done.")

# What staff read for the coded errors they will meet; the code is shown beside it.
ERROR_MESSAGES = {
    "invalid_credentials": N_("Wrong username or password."),
    "account_disabled": N_("This account is disabled."),
    "too_many_login_attempts": N_("Too many failed sign-ins: wait and try again."),
    "csrf_failed": N_("The form has expired: reload the page and try again."),
    "role_forbidden": N_("Your role may not do this."),
    "program_not_found": N_("No such program."),
    "promoter_not_found": N_("No such promoter."),
    "validation_failed": N_("Some values are not valid."),
    "rule_set_draft_stale": N_("Another version went live since this draft was made."),
    "simulation_too_large": N_("Too many days or orders to simulate at once."),
    "order_not_found": N_("No such order."),
    "no_rows_chosen": N_("Tick at least one row."),
    "reason_required": N_("A reason is required."),
    "commission_review_refused": N_("Some of the chosen commissions cannot be decided now."),
    "withdrawal_not_found": N_("No such withdrawal."),
    "promoter_on_hold": N_("The promoter is on fraud hold: decide the review first."),
    "anomaly_not_found": N_("No such anomaly."),
    "note_required": N_("A note is required."),
    "username_taken": N_("This username is taken."),
    "weak_password": N_("The password is too short (at least 10 characters)."),
    "invalid_roles": N_("Choose at least one role."),
    "adjustment_upload_invalid": N_("The upload was refused: nothing was applied."),
    "file_required": N_("Choose a CSV file."),
    "dispute_not_found": N_("No such dispute."),
    "payout_batch_not_found": N_("No such payout batch."),
    "illegal_transition": N_("This is not allowed in the record's current state."),
    "webhook_url_refused": N_("This endpoint URL is not allowed (https, public addresses)."),
    "invalid_event_types": N_("Choose at least one event."),
    "webhook_endpoint_not_found": N_("No such webhook endpoint."),
    "webhook_delivery_not_found": N_("No such webhook delivery."),
    "webhook_endpoint_disabled": N_("The endpoint is disabled: enable it first."),
    "webhook_endpoint_deleted": N_("This webhook endpoint was deleted."),
    "program_not_internal": N_("Sub-accounts belong to internal programs."),
    "sub_account_not_found": N_("No such sub-account."),
    "invalid_spend": N_("This spend entry is not valid."),
    "invalid_spend_csv": N_("The file was refused: nothing was recorded."),
    "unknown_spend_target": N_("The sub-account or channel is not in this program."),
    "milestone_bonus_not_found": N_("No such milestone bonus."),
    "boost_not_found": N_("No such boost."),
    "period_cap_not_found": N_("No such period cap."),
}
