"""Nothing pays for recruiting alone (《禁止传销条例》第七条): promoters who join through an
invite code earn their upline nothing until a sale is made."""

from __future__ import annotations

import pytest

from server.models import Commission, LedgerEntry, Promoter, PromoterBalance
from server.services.promoters.onboarding import apply_to_program
from tests.order_builders import customer, promoter, shop

pytestmark = pytest.mark.usefixtures("db")


async def test_an_upline_with_recruits_and_no_sale_has_earned_nothing() -> None:
    program = await shop(recruitment_mode="open", self_rebate_enabled=True, self_rebate_rate="3")
    recruiter = await promoter(program)
    await Promoter.filter(id=recruiter.id).update(invite_code="RECRUIT1")
    for _ in range(5):
        joined = await apply_to_program(
            user_id=(await customer("Newcomer")).id,
            program_id=program.id,
            real_name=None,
            phone=None,
            agreement_version=None,
            invite_code="RECRUIT1",
        )
        assert joined["promoter"]["status"] == "approved"

    assert await Promoter.filter(parent_id=recruiter.id).count() == 5
    assert await Commission.all().count() == 0
    assert await LedgerEntry.all().count() == 0
    assert await PromoterBalance.filter(promoter_id=recruiter.id).count() == 0
