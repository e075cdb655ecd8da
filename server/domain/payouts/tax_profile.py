"""The tax profile a program may require before any withdrawal: the promoter's legal name and
tax id (docs/program-settings.md#tax-profile-before-a-payout)."""

from __future__ import annotations

from server.domain.errors import ValidationFailed
from server.domain.programs.settings import WithdrawalRules

TAX_PROFILE_REQUIRED = "tax_profile_required"
TAX_PROFILE_FIELDS = ("legal_name", "tax_id")


def missing_tax_profile(
    rules: WithdrawalRules, *, legal_name: str | None, tax_id: str | None
) -> list[str]:
    """What of the tax profile the program requires and the promoter has not given."""
    if not rules.require_tax_profile:
        return []
    given = {"legal_name": bool((legal_name or "").strip()), "tax_id": bool(tax_id)}
    return [name for name in TAX_PROFILE_FIELDS if not given[name]]


def check_tax_profile(
    rules: WithdrawalRules, *, legal_name: str | None, tax_id: str | None
) -> None:
    """422 tax_profile_required naming each missing field, when the program requires them."""
    missing = missing_tax_profile(rules, legal_name=legal_name, tax_id=tax_id)
    if missing:
        raise ValidationFailed(
            "add your legal name and tax id before asking for a withdrawal",
            code=TAX_PROFILE_REQUIRED,
            fields={name: "required before a withdrawal" for name in missing},
        )
