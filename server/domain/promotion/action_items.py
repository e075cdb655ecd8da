"""What a promoter must do next, from facts the caller gathered: each item has a stable code,
what to do, and the parameters the mini-program needs to do it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ACCEPT_AGREEMENT = "accept_agreement"
ADD_TAX_PROFILE = "add_tax_profile"
CONFIRM_TRANSFER = "confirm_transfer"
READ_ANNOUNCEMENTS = "read_announcements"
CREATE_SHARE_LINK = "create_share_link"


@dataclass(frozen=True, kw_only=True)
class PromoterFacts:
    """What the action items are computed from (the caller reads it from the database)."""

    required_agreement: str | None
    accepted_agreement: str | None
    # The tax profile fields the program requires before a withdrawal and the promoter lacks.
    missing_tax_profile: tuple[str, ...] = ()
    # Withdrawals WeChat Pay holds until the promoter accepts them: id → confirmation package.
    transfers_to_confirm: dict[int, dict[str, Any]] = field(default_factory=dict)
    unread_announcements: int = 0
    share_links: int = 0


@dataclass(frozen=True)
class ActionItem:
    code: str
    action: str  # what to do, in English; the mini-program shows its own text per code
    params: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "action": self.action, "params": self.params}


def action_items(facts: PromoterFacts) -> list[ActionItem]:
    """The promoter's open items, most blocking first (money waits on the first ones)."""
    items: list[ActionItem] = []
    for withdrawal_id, confirmation in sorted(facts.transfers_to_confirm.items()):
        items.append(
            ActionItem(
                CONFIRM_TRANSFER,
                "accept the WeChat Pay transfer of this withdrawal",
                {"withdrawal_id": withdrawal_id, "confirmation": confirmation},
            )
        )
    if facts.required_agreement and facts.accepted_agreement != facts.required_agreement:
        items.append(
            ActionItem(
                ACCEPT_AGREEMENT,
                "accept the program's current agreement to withdraw and make new links",
                {"version": facts.required_agreement},
            )
        )
    if facts.missing_tax_profile:
        items.append(
            ActionItem(
                ADD_TAX_PROFILE,
                "add your legal name and tax id: withdrawals are refused until then",
                {"missing": list(facts.missing_tax_profile)},
            )
        )
    if facts.share_links == 0:
        items.append(ActionItem(CREATE_SHARE_LINK, "make your first share link", {}))
    if facts.unread_announcements:
        items.append(
            ActionItem(
                READ_ANNOUNCEMENTS,
                "read the program's new announcements",
                {"unread": facts.unread_announcements},
            )
        )
    return items
