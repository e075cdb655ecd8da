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

ROLES = {"staff": N_("Staff"), "finance": N_("Finance"), "admin": N_("Admin")}

LABELS = {
    "promoter_status": PROMOTER_STATUS,
    "promoter_actions": PROMOTER_ACTIONS,
    "roles": ROLES,
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
    "illegal_transition": N_("This is not allowed in the record's current state."),
}
