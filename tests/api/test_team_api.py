from __future__ import annotations

from server.auth import Principal, encode_token
from server.config import Settings
from server.models import AuditLog, Program, Promoter, User
from tests.api.conftest import Api
from tests.service.promoters.test_hierarchy import new_program, new_promoter


def promoter_token(settings: Settings, user_id: int) -> str:
    principal = Principal(kind="user", id=user_id, roles=frozenset({"promoter"}))
    return encode_token(
        principal, secret=settings.jwt_secret, token_type="access", ttl_seconds=900
    ).token


async def team_of_three_levels(program: Program) -> tuple[Promoter, list[Promoter]]:
    root = await new_promoter(program, nickname="Root")
    kids = [await new_promoter(program, root, nickname=name) for name in ("张三丰", "Alice")]
    grandkid = await new_promoter(program, kids[0], nickname="Bob")
    return root, [*kids, grandkid]


async def test_a_promoter_sees_their_team_counted_by_level_and_in_total(
    api: Api, settings: Settings
) -> None:
    program = await new_program()
    root, _ = await team_of_three_levels(program)
    response = await api.get(
        f"/mp/v1/programs/{program.id}/team",
        token=promoter_token(settings, root.user_id),  # type: ignore[attr-defined]
    )
    assert response.status == 200, response.text
    assert response.json == {
        "promoter_id": root.id,
        "levels": [{"depth": 1, "members": 2}, {"depth": 2, "members": 1}],
        "total": 3,
    }


async def test_a_level_lists_members_newest_first_masked_and_without_personal_data(
    api: Api, settings: Settings
) -> None:
    program = await new_program()
    root, (zhang, alice, _) = await team_of_three_levels(program)
    token = promoter_token(settings, root.user_id)  # type: ignore[attr-defined]
    base = f"/mp/v1/programs/{program.id}/team/levels/1"
    first = await api.get(base, token=token, params={"limit": 1})
    assert first.status == 200, first.text
    [newest] = first.json["items"]
    assert set(newest) == {"id", "depth", "nickname", "joined_at", "team_size"}
    assert (newest["id"], newest["nickname"], newest["team_size"]) == (alice.id, "A****", 0)
    rest = await api.get(base, token=token, params={"cursor": first.json["next_cursor"]})
    assert [(m["id"], m["nickname"], m["team_size"]) for m in rest.json["items"]] == [
        (zhang.id, "张**", 1)
    ]
    assert rest.json["next_cursor"] is None
    openids = await User.filter(id__in=[zhang.user_id, alice.user_id]).values_list(  # type: ignore[attr-defined]
        "openid", flat=True
    )
    body = first.text + rest.text
    for secret in ("Real Name", "13812345678", "Alice", "张三丰", *openids):
        assert secret not in body


async def test_a_promoter_cannot_read_the_team_of_a_program_they_are_not_in(
    api: Api, settings: Settings
) -> None:
    mine, theirs = await new_program("mine"), await new_program("theirs")
    me, _ = await team_of_three_levels(mine)
    await team_of_three_levels(theirs)
    token = promoter_token(settings, me.user_id)  # type: ignore[attr-defined]
    for path in (f"/mp/v1/programs/{theirs.id}/team", f"/mp/v1/programs/{theirs.id}/team/levels/1"):
        response = await api.get(path, token=token)
        assert response.status == 404
        assert response.json["error"]["code"] == "promoter_not_found"


async def test_an_applicant_has_no_team_to_read_yet(api: Api, settings: Settings) -> None:
    program = await new_program()
    applicant = await new_promoter(program, status="applied")
    response = await api.get(
        f"/mp/v1/programs/{program.id}/team",
        token=promoter_token(settings, applicant.user_id),  # type: ignore[attr-defined]
    )
    assert response.status == 404


async def test_level_zero_and_oversized_pages_are_refused(api: Api, settings: Settings) -> None:
    program = await new_program()
    root, _ = await team_of_three_levels(program)
    token = promoter_token(settings, root.user_id)  # type: ignore[attr-defined]
    zero = await api.get(f"/mp/v1/programs/{program.id}/team/levels/0", token=token)
    assert (zero.status, zero.json["error"]["code"]) == (422, "invalid_depth")
    big = await api.get(
        f"/mp/v1/programs/{program.id}/team/levels/1", token=token, params={"limit": 101}
    )
    assert (big.status, big.json["error"]["code"]) == (422, "invalid_query")


async def test_staff_read_the_upline_and_team_and_move_a_subtree_with_an_audit_entry(
    api: Api,
) -> None:
    program = await new_program()
    root, (zhang, alice, bob) = await team_of_three_levels(program)
    token = await api.staff_token("staff", username="mover")
    upline = await api.get(f"/admin/v1/promoters/{bob.id}/upline", token=token)
    assert upline.status == 200, upline.text
    assert [(m["id"], m["depth"]) for m in upline.json["items"]] == [(zhang.id, 1), (root.id, 2)]
    assert upline.json["items"][0]["nickname"] == "张三丰"
    moved = await api.post(
        f"/admin/v1/promoters/{zhang.id}/move",
        token=token,
        json={"new_parent_id": alice.id, "reason": "merge teams"},
    )
    assert moved.status == 200, moved.text
    assert (moved.json["from_parent_id"], moved.json["to_parent_id"]) == (root.id, alice.id)
    assert moved.json["subtree_size"] == 2
    team = await api.get(f"/admin/v1/promoters/{root.id}/team", token=token, params={"depth": 3})
    assert team.json["levels"] == [
        {"depth": 1, "members": 1}, {"depth": 2, "members": 1}, {"depth": 3, "members": 1}
    ]  # fmt: skip
    assert [m["id"] for m in team.json["items"]] == [bob.id]
    whole = await api.get(f"/admin/v1/promoters/{root.id}/team", token=token)
    assert [m["id"] for m in whole.json["items"]] == [bob.id, alice.id, zhang.id]
    assert await AuditLog.filter(action="hierarchy.move", target_id=zhang.id).count() == 1


async def test_a_move_into_the_own_team_answers_409_and_a_missing_parent_422(api: Api) -> None:
    program = await new_program()
    root, (zhang, _, bob) = await team_of_three_levels(program)
    token = await api.staff_token("admin", username="boss")
    cycle = await api.post(
        f"/admin/v1/promoters/{zhang.id}/move",
        token=token,
        json={"new_parent_id": bob.id, "reason": "oops"},
    )
    assert (cycle.status, cycle.json["error"]["code"]) == (409, "hierarchy_cycle")
    missing = await api.post(
        f"/admin/v1/promoters/{zhang.id}/move", token=token, json={"reason": "oops"}
    )
    assert (missing.status, missing.json["error"]["fields"]) == (
        422, {"new_parent_id": "required"}
    )  # fmt: skip
    unknown = await api.get("/admin/v1/promoters/999999/team", token=token)
    assert (unknown.status, unknown.json["error"]["code"]) == (404, "promoter_not_found")
    assert (await Promoter.get(id=zhang.id)).parent_id == root.id  # type: ignore[attr-defined]


async def test_finance_may_read_the_tree_but_only_staff_may_move_it(
    api: Api, settings: Settings
) -> None:
    program = await new_program()
    root, (zhang, alice, _) = await team_of_three_levels(program)
    finance = await api.staff_token("finance", username="fin")
    assert (await api.get(f"/admin/v1/promoters/{root.id}/team", token=finance)).status == 200
    body = {"new_parent_id": alice.id, "reason": "x"}
    refused = await api.post(f"/admin/v1/promoters/{zhang.id}/move", token=finance, json=body)
    assert (refused.status, refused.json["error"]["code"]) == (403, "role_forbidden")
    user = await User.get(id=root.user_id)  # type: ignore[attr-defined]
    as_promoter = promoter_token(settings, user.id)
    assert (await api.get(f"/admin/v1/promoters/{root.id}/upline", token=as_promoter)).status == 403
    assert (await api.get(f"/admin/v1/promoters/{root.id}/upline")).status == 401
