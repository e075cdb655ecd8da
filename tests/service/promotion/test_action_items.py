"""A promoter's action items appear and disappear with the state they are computed from."""

from __future__ import annotations

import pytest

from server.models import Program, Promoter, Withdrawal
from server.services.promoters.agreements import accept_agreement
from server.services.promotion import announcements
from server.services.promotion.action_items import my_action_items
from server.services.sharing.links import create_link
from tests.order_builders import ADMIN
from tests.withdrawal_builders import funded_promoter, rules_program, withdraw

pytestmark = pytest.mark.usefixtures("db")


async def _codes(promoter: Promoter) -> list[str]:
    found = await my_action_items(user_id=promoter.user_id, program_id=promoter.program_id)  # type: ignore[attr-defined]
    return [item["code"] for item in found["items"]]


async def test_a_new_agreement_version_asks_for_acceptance_until_accepted() -> None:
    program = await rules_program()
    promoter = await funded_promoter(program)
    await create_link(user_id=promoter.user_id, program_id=program.id)  # type: ignore[attr-defined]
    assert await _codes(promoter) == []

    await Program.filter(id=program.id).update(requirements={"agreement_version": "v2"})
    asked = await my_action_items(user_id=promoter.user_id, program_id=program.id)  # type: ignore[attr-defined]
    await accept_agreement(user_id=promoter.user_id, program_id=program.id, version="v2")  # type: ignore[attr-defined]

    assert asked["items"] == [
        {
            "code": "accept_agreement",
            "action": "accept the program's current agreement to withdraw and make new links",
            "params": {"version": "v2"},
        }
    ]
    assert await _codes(promoter) == []


async def test_a_program_requiring_the_tax_profile_asks_for_it_until_both_are_given() -> None:
    program = await rules_program(require_tax_profile=True)
    promoter = await funded_promoter(program)
    await create_link(user_id=promoter.user_id, program_id=program.id)  # type: ignore[attr-defined]

    missing = await my_action_items(user_id=promoter.user_id, program_id=program.id)  # type: ignore[attr-defined]
    await Promoter.filter(id=promoter.id).update(legal_name="王小明")
    half = await my_action_items(user_id=promoter.user_id, program_id=program.id)  # type: ignore[attr-defined]
    await Promoter.filter(id=promoter.id).update(tax_id="sealed-value")

    assert missing["items"][0]["params"] == {"missing": ["legal_name", "tax_id"]}
    assert half["items"][0]["params"] == {"missing": ["tax_id"]}
    assert await _codes(promoter) == []


async def test_a_program_not_requiring_it_never_asks_for_a_tax_id_even_if_it_withholds() -> None:
    program = await rules_program(tax_withholding_percent="20")
    promoter = await funded_promoter(program)

    assert "add_tax_profile" not in await _codes(promoter)


async def test_a_transfer_waiting_in_wechat_pay_asks_the_promoter_to_confirm_it() -> None:
    program = await rules_program()
    promoter = await funded_promoter(program, "50.00")
    await create_link(user_id=promoter.user_id, program_id=program.id)  # type: ignore[attr-defined]
    withdrawal = await withdraw(promoter, "10.00")
    package = {"mchId": "1900000109", "package": "affffddafdfafddffda=="}

    await Withdrawal.filter(id=withdrawal["id"]).update(status="paying", user_confirmation=package)
    waiting = await my_action_items(user_id=promoter.user_id, program_id=program.id)  # type: ignore[attr-defined]
    await Withdrawal.filter(id=withdrawal["id"]).update(status="paid", user_confirmation=None)

    assert waiting["items"] == [
        {
            "code": "confirm_transfer",
            "action": "accept the WeChat Pay transfer of this withdrawal",
            "params": {"withdrawal_id": withdrawal["id"], "confirmation": package},
        }
    ]
    assert await _codes(promoter) == []


async def test_no_link_yet_and_unread_announcements_are_items_until_done() -> None:
    program = await rules_program()
    promoter = await funded_promoter(program)
    draft = await announcements.create_announcement(
        program_id=program.id, title="hi", body="hello", notify=False, actor=ADMIN
    )
    await announcements.change_announcement_status(
        announcement_id=draft.id, action="publish", actor=ADMIN
    )

    before = await _codes(promoter)
    await create_link(user_id=promoter.user_id, program_id=program.id)  # type: ignore[attr-defined]
    await announcements.read_announcement(
        user_id=promoter.user_id,
        program_id=program.id,
        announcement_id=draft.id,  # type: ignore[attr-defined]
    )

    assert before == ["create_share_link", "read_announcements"]
    assert await _codes(promoter) == []
