"""Two drafts published at the same moment (MariaDB, where transactions really run side by
side): one goes live, the other is refused with a coded 409, and the live records are the
winner's alone."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from server.domain.errors import Conflict
from server.models import CommissionRuleRecord, Program
from server.services.programs.commission_rules import create_rule
from server.services.programs.rule_sets import create_draft, edit_draft, publish_draft
from tests.order_builders import ADMIN, shop

pytestmark = pytest.mark.mysql


async def test_of_two_drafts_published_at_once_one_wins_and_the_other_is_a_409(
    wide_pool: None,
) -> None:
    program = await shop()
    rule, _ = await create_rule(
        program_id=program.id, document={"kind": "percent", "value": "8"}, actor=ADMIN
    )
    drafts = []
    for value in ("12", "15"):
        draft, _ = await create_draft(program_id=program.id, actor=ADMIN)
        await edit_draft(
            version_id=draft.id,
            kind="commission_rule",
            key=rule.id,
            changes={"value": value},
            actor=ADMIN,
        )
        drafts.append(draft)

    outcomes = await asyncio.gather(
        *(publish_draft(version_id=draft.id, actor=ADMIN) for draft in drafts),
        return_exceptions=True,
    )

    won = [outcome for outcome in outcomes if not isinstance(outcome, BaseException)]
    lost = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    assert len(won) == 1 and len(lost) == 1, outcomes
    assert isinstance(lost[0], Conflict) and lost[0].code == "rule_set_draft_stale"
    winner, live = won[0]
    assert (await Program.get(id=program.id)).rule_set_version == winner.number == live
    expected = Decimal("12") if winner.id == drafts[0].id else Decimal("15")
    assert (await CommissionRuleRecord.get(id=rule.id)).value == expected
