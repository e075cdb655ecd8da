from __future__ import annotations

import pytest

from server.auth import Principal
from server.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from server.models import AuditLog, Channel, ShareCode
from server.services.sharing import channels as share_service
from server.services.sharing import codes as share_codes
from tests.service.sharing.test_share_support import (
    approve_pending_codes,
    make_program,
    make_promoter,
    make_user,
)

pytestmark = pytest.mark.usefixtures("db")

STAFF = Principal(kind="staff", id=1, roles=frozenset({"staff"}))


async def test_only_an_approved_promoter_may_create_a_channel() -> None:
    program = await make_program()
    for status in ("applied", "suspended", "disabled"):
        promoter = await make_promoter(program, status=status)
        with pytest.raises(Forbidden) as refused:
            await share_service.create_channel(
                user_id=promoter.user_id, program_id=program.id, name="video"
            )
        assert refused.value.code == "promoter_not_active"
    stranger = await make_user()
    with pytest.raises(NotFound) as missing:
        await share_service.create_channel(user_id=stranger.id, program_id=program.id, name="v")
    assert missing.value.code == "promoter_not_found"


async def test_a_channel_name_is_unique_per_promoter_whatever_the_case() -> None:
    program = await make_program()
    alice = await make_promoter(program)
    bob = await make_promoter(program)
    await share_service.create_channel(user_id=alice.user_id, program_id=program.id, name="Video")
    with pytest.raises(Conflict) as taken:
        await share_service.create_channel(
            user_id=alice.user_id, program_id=program.id, name="video"
        )
    assert taken.value.code == "channel_exists"
    # Another promoter may use the same name.
    await share_service.create_channel(user_id=bob.user_id, program_id=program.id, name="Video")


async def test_a_channel_can_be_renamed_and_deactivated_but_not_onto_a_sibling_name() -> None:
    program = await make_program()
    alice = await make_promoter(program)
    video = await share_service.create_channel(
        user_id=alice.user_id, program_id=program.id, name="video"
    )
    await share_service.create_channel(user_id=alice.user_id, program_id=program.id, name="blog")
    with pytest.raises(Conflict):
        await share_service.update_channel(
            user_id=alice.user_id, program_id=program.id, channel_id=video.id, name="BLOG"
        )
    renamed = await share_service.update_channel(
        user_id=alice.user_id,
        program_id=program.id,
        channel_id=video.id,
        name="douyin",
        is_active=False,
    )
    assert (renamed.name, renamed.is_active) == ("douyin", False)
    stored = await Channel.get(id=video.id)
    assert (stored.name, stored.is_active) == ("douyin", False)


async def test_codes_are_unique_per_program_case_insensitively_across_promoters() -> None:
    program = await make_program()
    alice = await make_promoter(program)
    bob = await make_promoter(program)
    await share_codes.create_code(
        user_id=alice.user_id, program_id=program.id, kind="referral", code="Summer-24"
    )
    with pytest.raises(Conflict) as taken:
        await share_codes.create_code(
            user_id=bob.user_id, program_id=program.id, kind="voucher", code="sUMMER-24"
        )
    assert taken.value.code == "code_taken"
    other_program = await make_program("Autumn")
    carol = await make_promoter(other_program)
    await share_codes.create_code(
        user_id=carol.user_id, program_id=other_program.id, kind="referral", code="summer-24"
    )


async def test_a_code_may_not_reuse_a_promoters_invite_code() -> None:
    program = await make_program()
    await make_promoter(program, invite_code="ALICE2024")
    bob = await make_promoter(program)
    with pytest.raises(Conflict) as taken:
        await share_codes.create_code(
            user_id=bob.user_id, program_id=program.id, kind="referral", code="alice2024"
        )
    assert taken.value.code == "code_taken"
    code = await share_codes.create_code(
        user_id=bob.user_id, program_id=program.id, kind="referral", code="BOB-OK"
    )
    with pytest.raises(Conflict):
        await share_codes.add_alias(
            user_id=bob.user_id, program_id=program.id, code_id=code.id, alias="Alice2024"
        )


async def test_a_malformed_custom_code_is_refused() -> None:
    program = await make_program()
    alice = await make_promoter(program)
    for text in ("ab", "-dash-first", "has space", "x" * 33, "emoji😀"):
        with pytest.raises(ValidationFailed) as refused:
            await share_codes.create_code(
                user_id=alice.user_id, program_id=program.id, kind="referral", code=text
            )
        assert refused.value.code == "invalid_code"
    assert await ShareCode.all().count() == 0


async def test_a_generated_code_is_unambiguous_and_resolves() -> None:
    program = await make_program()
    alice = await make_promoter(program)
    code = await share_codes.create_code(
        user_id=alice.user_id, program_id=program.id, kind="voucher"
    )
    assert len(code.code) == 8 and not set(code.code) & set("01OIL")
    resolved = await share_codes.resolve_code(program_id=program.id, code=code.code.lower())
    assert resolved is not None
    assert (resolved.promoter_id, resolved.kind, resolved.code_id) == (alice.id, "voucher", code.id)


async def test_an_alias_resolves_to_its_code_with_the_codes_channel() -> None:
    program = await make_program()
    alice = await make_promoter(program)
    channel = await share_service.create_channel(
        user_id=alice.user_id, program_id=program.id, name="podcast"
    )
    code = await share_codes.create_code(
        user_id=alice.user_id,
        program_id=program.id,
        kind="referral",
        code="POD-ALICE",
        channel_id=channel.id,
    )
    alias = await share_codes.add_alias(
        user_id=alice.user_id, program_id=program.id, code_id=code.id, alias="alicepod"
    )
    # An alias of the alias still points at the real code.
    second = await share_codes.add_alias(
        user_id=alice.user_id, program_id=program.id, code_id=alias.id, alias="ap-2"
    )
    assert second.alias_of_id == code.id
    await approve_pending_codes(program.id)
    resolved = await share_codes.resolve_code(program_id=program.id, code=" ALICEPOD ")
    assert resolved is not None
    assert resolved.code_id == code.id and resolved.code == "POD-ALICE"
    assert resolved.channel_id == channel.id and resolved.promoter_id == alice.id
    assert resolved.matched_code_id == alias.id


async def test_a_deactivated_code_and_its_aliases_no_longer_resolve_and_stay_reserved() -> None:
    program = await make_program()
    alice = await make_promoter(program)
    bob = await make_promoter(program)
    code = await share_codes.create_code(
        user_id=alice.user_id, program_id=program.id, kind="referral", code="GONE-1"
    )
    await share_codes.add_alias(
        user_id=alice.user_id, program_id=program.id, code_id=code.id, alias="gone-alias"
    )
    await share_codes.deactivate_code(user_id=alice.user_id, program_id=program.id, code_id=code.id)
    assert await share_codes.resolve_code(program_id=program.id, code="gone-1") is None
    assert await share_codes.resolve_code(program_id=program.id, code="GONE-ALIAS") is None
    with pytest.raises(Conflict):
        await share_codes.create_code(
            user_id=bob.user_id, program_id=program.id, kind="referral", code="gone-1"
        )


async def test_codes_of_a_promoter_who_is_no_longer_approved_do_not_resolve() -> None:
    program = await make_program()
    alice = await make_promoter(program)
    await share_codes.create_code(
        user_id=alice.user_id, program_id=program.id, kind="referral", code="SUSP-1"
    )
    alice.status = "suspended"
    await alice.save()
    assert await share_codes.resolve_code(program_id=program.id, code="SUSP-1") is None
    assert await share_codes.resolve_code(program_id=program.id, code="NOPE-NOPE") is None


async def test_a_suspended_promoter_can_neither_create_codes_nor_aliases() -> None:
    program = await make_program()
    alice = await make_promoter(program)
    code = await share_codes.create_code(
        user_id=alice.user_id, program_id=program.id, kind="referral", code="BEFORE"
    )
    alice.status = "suspended"
    await alice.save()
    with pytest.raises(Forbidden):
        await share_codes.create_code(
            user_id=alice.user_id, program_id=program.id, kind="referral", code="AFTER"
        )
    with pytest.raises(Forbidden):
        await share_codes.add_alias(
            user_id=alice.user_id, program_id=program.id, code_id=code.id, alias="after-alias"
        )


async def test_a_promoter_cannot_tie_a_code_to_another_promoters_channel() -> None:
    program = await make_program()
    alice = await make_promoter(program)
    bob = await make_promoter(program)
    bobs = await share_service.create_channel(
        user_id=bob.user_id, program_id=program.id, name="bob"
    )
    with pytest.raises(NotFound) as missing:
        await share_codes.create_code(
            user_id=alice.user_id, program_id=program.id, kind="referral", channel_id=bobs.id
        )
    assert missing.value.code == "channel_not_found"


async def test_a_promoter_holds_at_most_the_programs_quota_of_active_codes() -> None:
    program = await make_program()
    program.sharing_rules = {"max_codes_per_promoter": 2}
    await program.save()
    alice = await make_promoter(program)
    first = await share_codes.create_code(
        user_id=alice.user_id, program_id=program.id, kind="referral"
    )
    await share_codes.add_alias(
        user_id=alice.user_id, program_id=program.id, code_id=first.id, alias="cap-alias"
    )
    with pytest.raises(ValidationFailed) as capped:
        await share_codes.create_code(user_id=alice.user_id, program_id=program.id, kind="referral")
    assert capped.value.code == "quota_exceeded"
    assert capped.value.fields == {"quota": "codes", "limit": 2}
    # Withdrawing a code frees its slots (the code and its alias).
    await share_codes.deactivate_code(
        user_id=alice.user_id, program_id=program.id, code_id=first.id
    )
    await share_codes.create_code(user_id=alice.user_id, program_id=program.id, kind="referral")


async def test_staff_deactivation_is_audited_and_lists_filter_by_promoter_and_text() -> None:
    program = await make_program()
    alice = await make_promoter(program)
    bob = await make_promoter(program)
    code = await share_codes.create_code(
        user_id=alice.user_id, program_id=program.id, kind="referral", code="ALICE-VIP"
    )
    await share_codes.create_code(
        user_id=bob.user_id, program_id=program.id, kind="referral", code="BOB-VIP"
    )
    by_text = await share_codes.list_program_codes(program_id=program.id, q="vip")
    assert {c.code for c in by_text} == {"ALICE-VIP", "BOB-VIP"}
    by_promoter = await share_codes.list_program_codes(program_id=program.id, promoter_id=bob.id)
    assert [c.code for c in by_promoter] == ["BOB-VIP"]

    await share_codes.deactivate_code_by_staff(code_id=code.id, actor=STAFF, request_id="r1")
    assert await share_codes.resolve_code(program_id=program.id, code="ALICE-VIP") is None
    entry = await AuditLog.get(action="share_code.deactivate")
    assert (entry.actor_kind, entry.target_id, entry.program_id) == ("staff", code.id, program.id)


async def test_a_promoter_lists_only_their_own_codes_with_aliases() -> None:
    program = await make_program()
    alice = await make_promoter(program)
    bob = await make_promoter(program)
    code = await share_codes.create_code(
        user_id=alice.user_id, program_id=program.id, kind="referral", code="MINE-1"
    )
    await share_codes.add_alias(
        user_id=alice.user_id, program_id=program.id, code_id=code.id, alias="mine-alias"
    )
    await share_codes.create_code(
        user_id=bob.user_id, program_id=program.id, kind="referral", code="THEIRS-1"
    )
    listed = await share_codes.list_codes(user_id=alice.user_id, program_id=program.id)
    bodies = [share_codes.serialize_code(c) for c in listed]
    assert [b["code"] for b in bodies] == ["MINE-1"]
    assert [a["code"] for a in bodies[0]["aliases"]] == ["mine-alias"]
