"""Tiers, boosts and bonuses over HTTP: staff configure and assign (audited), the back office
reads, a promoter sees their tier and progress, and may leave the leaderboard."""

from __future__ import annotations

from datetime import timedelta

from jobs.runner import wait_for_inprocess_jobs
from server import clock
from server.config import Settings
from server.models import AuditLog
from tests.api.conftest import Api
from tests.api.test_team_api import promoter_token
from tests.order_builders import customer, promoter, shop
from tests.service.tiers.builders import sale


async def test_staff_configure_a_tier_and_a_promoter_sees_their_progress_to_it(
    api: Api, settings: Settings
) -> None:
    program = await shop()
    staff, finance = await api.staff_token("staff"), await api.staff_token("finance")
    body = {
        "code": "silver",
        "name": "银牌",
        "rank": 1,
        "period_days": 30,
        "min_net_sales": "1000.00",
        "level_rates": {"1": "12"},
        "freeze_days": 3,
    }
    refused = await api.post(f"/admin/v1/programs/{program.id}/tiers", token=finance, json=body)
    assert refused.status == 403
    created = await api.post(f"/admin/v1/programs/{program.id}/tiers", token=staff, json=body)
    assert created.status == 201, created.text
    assert created.json["name"] == "银牌"
    team = await api.post(
        f"/admin/v1/programs/{program.id}/tiers",
        token=staff,
        json={"code": "gold", "min_recruits": 5},
    )
    assert team.status == 422  # recruit counts are no condition; a tier needs an own result
    user = await customer("Pat")
    seller = await promoter(program, user=user)
    await sale(program, seller, "400.00", placed_at=clock.now() - timedelta(hours=1))

    mine = await api.get(
        f"/mp/v1/programs/{program.id}/tier", token=promoter_token(settings, user.id)
    )

    assert mine.status == 200, mine.text
    view = mine.json
    assert view["tier"]["code"] == "default"
    assert view["next"]["tier"] == "silver"
    (condition,) = view["next"]["conditions"]
    assert (condition["current"], condition["missing"], condition["met"]) == (
        "400.00",
        "600.00",
        False,
    )
    assert view["next_evaluation_at"] is not None


async def test_staff_assign_a_locked_tier_audited_and_listed_in_the_history(api: Api) -> None:
    program = await shop()
    staff = await api.staff_token("staff")
    await api.post(
        f"/admin/v1/programs/{program.id}/tiers",
        token=staff,
        json={"code": "gold", "min_net_sales": "5000.00", "rank": 2},
    )
    seller = await promoter(program)

    assigned = await api.put(
        f"/admin/v1/promoters/{seller.id}/tier",
        token=staff,
        json={"tier": "gold", "lock": True, "reason": "key account"},
    )
    unknown = await api.put(
        f"/admin/v1/promoters/{seller.id}/tier",
        token=staff,
        json={"tier": "platinum", "reason": "typo"},
    )

    assert assigned.status == 200, assigned.text
    assert (assigned.json["tier"], assigned.json["tier_locked"]) == ("gold", True)
    assert unknown.status == 422
    history = await api.get(
        f"/admin/v1/promoters/{seller.id}/tier-history", token=await api.staff_token("finance")
    )
    (change,) = history.json["items"]
    assert (change["kind"], change["reason"], change["locked"]) == (
        "assignment",
        "key account",
        True,
    )
    assert await AuditLog.filter(action="promoter.tier_assign", target_id=seller.id).count() == 1


async def test_a_boost_and_a_bonus_are_refused_outside_their_limits(api: Api) -> None:
    program = await shop()
    staff = await api.staff_token("staff")
    window = {"starts_at": "2026-11-11T00:00:00+08:00", "ends_at": "2026-11-12T00:00:00+08:00"}

    too_big = await api.post(
        f"/admin/v1/programs/{program.id}/boosts",
        token=staff,
        json={"multiplier": "5", **window},
    )
    backwards = await api.post(
        f"/admin/v1/programs/{program.id}/milestone-bonuses",
        token=staff,
        json={
            "target_net_sales": "100.00",
            "amount": "10.00",
            "starts_at": window["ends_at"],
            "ends_at": window["starts_at"],
        },
    )
    fine = await api.post(
        f"/admin/v1/programs/{program.id}/boosts",
        token=staff,
        json={"multiplier": "1.5", "max_rate": "15", **window},
    )

    assert too_big.status == 422 and "multiplier" in too_big.json["error"]["fields"]
    assert backwards.status == 422 and "ends_at" in backwards.json["error"]["fields"]
    assert fine.status == 201, fine.text
    assert fine.json["starts_at"] == "2026-11-10T16:00:00+00:00"


async def test_a_promoter_who_opts_out_is_left_off_the_leaderboard(
    api: Api, settings: Settings
) -> None:
    program = await shop()
    shy_user, proud_user = await customer("Shy"), await customer("Proud")
    shy = await promoter(program, user=shy_user)
    proud = await promoter(program, user=proud_user)
    now = clock.now()
    await sale(program, shy, "900.00", placed_at=now - timedelta(minutes=5))
    await sale(program, proud, "100.00", placed_at=now - timedelta(minutes=5))
    shy_token = promoter_token(settings, shy_user.id)

    opted = await api.put(
        f"/mp/v1/programs/{program.id}/leaderboard/opt-out",
        token=shy_token,
        json={"opted_out": True},
    )
    board = await api.get(
        f"/mp/v1/programs/{program.id}/leaderboard",
        token=promoter_token(settings, proud_user.id),
    )

    assert opted.status == 200, opted.text
    items = board.json["items"]
    assert [(i["rank"], i["net_sales"], i["me"]) for i in items] == [(1, "100.00", True)]
    assert proud.id != shy.id

    finance = await api.staff_token("finance")
    staff_view = await api.get(f"/admin/v1/programs/{program.id}/leaderboard", token=finance)
    assert staff_view.status == 200, staff_view.text
    assert staff_view.json["opted_out"] == 1 and staff_view.json["enabled"] is False
    assert [(i["rank"], i["promoter_id"], i["net_sales"]) for i in staff_view.json["items"]] == [
        (1, proud.id, "100.00")
    ]


async def test_tier_and_incentive_routes_are_in_both_openapi_documents(api: Api) -> None:
    admin = (await api.get("/admin/v1/openapi.json")).json["paths"]
    mp = (await api.get("/mp/v1/openapi.json")).json["paths"]

    for path in (
        "/admin/v1/programs/{program_id}/tiers",
        "/admin/v1/promoters/{promoter_id}/tier",
        "/admin/v1/promoters/{promoter_id}/tier-history",
        "/admin/v1/programs/{program_id}/boosts",
        "/admin/v1/programs/{program_id}/milestone-bonuses",
        "/admin/v1/milestone-bonuses/{bonus_id}/awards",
        "/admin/v1/programs/{program_id}/bonus-awards",
        "/admin/v1/programs/{program_id}/leaderboard",
    ):
        assert path in admin, path
    assert "/mp/v1/programs/{program_id}/tier" in mp
    assert "/mp/v1/programs/{program_id}/incentives" in mp
    assert "/mp/v1/programs/{program_id}/leaderboard/opt-out" in mp


async def test_staff_list_a_programs_promoters_by_tier(api: Api) -> None:
    program = await shop()
    staff = await api.staff_token("staff")
    await api.post(
        f"/admin/v1/programs/{program.id}/tiers",
        token=staff,
        json={"code": "gold", "min_net_sales": "5000.00"},
    )
    gold, plain = await promoter(program), await promoter(program)
    await api.put(
        f"/admin/v1/promoters/{gold.id}/tier",
        token=staff,
        json={"tier": "gold", "reason": "launch partner"},
    )

    page = await api.get(f"/admin/v1/promoters?program_id={program.id}&tier=gold", token=staff)

    assert page.status == 200, page.text
    assert [item["id"] for item in page.json["items"]] == [gold.id]
    assert plain.id != gold.id


async def test_the_tier_job_runs_from_the_jobs_api_and_sets_the_next_evaluation(
    api: Api, settings: Settings
) -> None:
    program = await shop()
    staff = await api.staff_token("staff")
    await api.post(
        f"/admin/v1/programs/{program.id}/tiers",
        token=staff,
        json={"code": "silver", "min_net_sales": "100.00"},
    )
    user = await customer("Pat")
    seller = await promoter(program, user=user)
    await sale(program, seller, "100.00", placed_at=clock.now() - timedelta(hours=1))
    admin = await api.staff_token("admin", username="tier_admin")

    ran = await api.post("/admin/v1/jobs/evaluate_tiers/run", token=admin)
    assert ran.status == 202, ran.text
    await wait_for_inprocess_jobs()

    view = (
        await api.get(f"/mp/v1/programs/{program.id}/tier", token=promoter_token(settings, user.id))
    ).json
    assert view["tier"]["code"] == "silver"
    assert view["evaluated_at"] is not None
    assert view["next"] is None  # no tier above silver
    assert view["next_evaluation_at"] > view["evaluated_at"]


async def test_a_promoter_sees_live_boosts_and_their_progress_to_open_bonuses(
    api: Api, settings: Settings
) -> None:
    program = await shop()
    staff = await api.staff_token("staff")
    now = clock.now()
    live = {
        "starts_at": (now - timedelta(days=1)).isoformat(),
        "ends_at": (now + timedelta(days=1)).isoformat(),
    }
    await api.post(
        f"/admin/v1/programs/{program.id}/boosts",
        token=staff,
        json={"name": "周末加倍", "multiplier": "2", **live},
    )
    await api.post(
        f"/admin/v1/programs/{program.id}/boosts",
        token=staff,
        json={"name": "gold only", "multiplier": "3", "tier": "gold", **live},
    )
    await api.post(
        f"/admin/v1/programs/{program.id}/milestone-bonuses",
        token=staff,
        json={"name": "冲刺", "target_net_sales": "500.00", "amount": "50.00", **live},
    )
    user = await customer("Pat")
    seller = await promoter(program, user=user)
    await sale(program, seller, "120.00", placed_at=now - timedelta(hours=1))

    view = (
        await api.get(
            f"/mp/v1/programs/{program.id}/incentives", token=promoter_token(settings, user.id)
        )
    ).json

    assert [boost["name"] for boost in view["boosts"]] == ["周末加倍"]
    (bonus,) = view["milestone_bonuses"]
    assert (bonus["own_net_sales"], bonus["missing"], bonus["reached"], bonus["awarded"]) == (
        "120.00",
        "380.00",
        False,
        False,
    )
