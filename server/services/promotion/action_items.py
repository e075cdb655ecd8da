"""A promoter's action items, computed from what is stored: the agreement they must accept,
the tax profile the program requires before a withdrawal, WeChat Pay transfers waiting for
them, their first share link and unread announcements."""

from __future__ import annotations

from typing import Any

from server.domain.payouts.tax_profile import missing_tax_profile
from server.domain.payouts.withdrawals import WithdrawalStatus
from server.domain.promoters.agreements import required_version
from server.domain.promotion.action_items import PromoterFacts, action_items
from server.models import Program, ShareLink, Withdrawal
from server.services.programs.settings import settings_of
from server.services.promoters.queries import get_active_promoter
from server.services.promotion.announcements import unread_count


async def my_action_items(*, user_id: int, program_id: int) -> dict[str, Any]:
    """The caller's open action items in the program, most blocking first."""
    promoter = await get_active_promoter(user_id=user_id, program_id=program_id)
    program = await Program.get(id=program_id)
    rules = settings_of(program).withdrawal_rules
    waiting = await Withdrawal.filter(
        promoter_id=promoter.id,
        status=WithdrawalStatus.PAYING.value,
        user_confirmation__isnull=False,
    ).only("id", "user_confirmation")
    facts = PromoterFacts(
        required_agreement=required_version(program.requirements),
        accepted_agreement=promoter.agreement_version,
        missing_tax_profile=tuple(
            missing_tax_profile(rules, legal_name=promoter.legal_name, tax_id=promoter.tax_id)
        ),
        transfers_to_confirm={w.id: w.user_confirmation for w in waiting if w.user_confirmation},
        unread_announcements=await unread_count(promoter_id=promoter.id, program_id=program_id),
        share_links=await ShareLink.filter(promoter_id=promoter.id).count(),
    )
    items = [item.as_dict() for item in action_items(facts)]
    return {"promoter_id": promoter.id, "items": items}
