"""A promoter the program disabled stays out: applying again to that program with the same
WeChat identity, unionid or phone is refused (403 applicant_disabled), not approved as a new
profile under their own former downline."""

from __future__ import annotations

import pytest

from server.auth import Principal
from server.domain.errors import Forbidden
from server.models import Promoter, User
from server.services.promoters.onboarding import create_promoter
from server.services.promoters.status_changes import change_promoter_status
from tests.service.promoters.test_promoters import STAFF, apply, new_program, new_user


async def _disabled(program, user: User, phone: str = "13812345678") -> Promoter:
    result = await apply(program, user, phone=phone)
    promoter_id = result["promoter"]["id"]
    await change_promoter_status(
        promoter_id=promoter_id, action="disable", reason="fake orders", actor=STAFF
    )
    return await Promoter.get(id=promoter_id)


async def test_a_disabled_promoter_cannot_reapply_with_the_same_wechat_identity(db: str) -> None:
    program = await new_program("open")
    user = await new_user()
    await _disabled(program, user)
    other_app = await User.create(appid="wx-other", openid=user.openid)

    for again in (user, other_app):
        with pytest.raises(Forbidden) as refused:
            await apply(program, again, phone="13900000000")
        assert (refused.value.status_code, refused.value.code) == (403, "applicant_disabled")
    assert await Promoter.filter(program_id=program.id).count() == 1


async def test_a_disabled_promoter_cannot_reapply_under_another_account_of_theirs(
    db: str,
) -> None:
    program = await new_program("open")
    first = await User.create(appid="wx", openid="o-first", unionid="u-same")
    await _disabled(program, first)
    same_union = await User.create(appid="wx", openid="o-second", unionid="u-same")
    same_phone = await new_user()

    with pytest.raises(Forbidden) as by_union:
        await apply(program, same_union)
    with pytest.raises(Forbidden) as by_phone:
        await apply(program, same_phone, phone="+8613812345678")

    assert by_union.value.code == by_phone.value.code == "applicant_disabled"
    assert await Promoter.filter(program_id=program.id).count() == 1


async def test_being_disabled_in_one_program_does_not_bar_another_or_a_stranger(
    db: str,
) -> None:
    program, elsewhere = await new_program("open"), await new_program("open")
    user = await new_user()
    await _disabled(program, user)

    joined = await apply(elsewhere, user, phone="13812345678")
    stranger = await apply(program, await new_user(), phone="13700000000")

    assert joined["promoter"]["status"] == stranger["promoter"]["status"] == "approved"


async def test_an_admin_cannot_bring_a_disabled_promoter_back_either(db: str) -> None:
    program = await new_program("open")
    user = await new_user()
    await _disabled(program, user)
    admin = Principal(kind="staff", id=1, roles=frozenset({"admin"}))

    with pytest.raises(Forbidden) as refused:
        await create_promoter(
            program_id=program.id,
            user_id=user.id,
            real_name=None,
            phone=None,
            parent_id=None,
            reason="second chance",
            actor=admin,
        )

    assert refused.value.code == "applicant_disabled"
