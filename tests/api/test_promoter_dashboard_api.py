"""The promoter's own dashboard over HTTP: their figures only, their team, their rank when
the program shows a leaderboard, and their referred customers anonymized."""

from __future__ import annotations

from server.config import Settings
from server.models import Promoter
from tests.api.conftest import Api
from tests.api.test_team_api import promoter_token
from tests.report_builders import day_in_shanghai

DAY = {"from": "2026-03-02", "to": "2026-03-02"}


def _token(settings: Settings, promoter: Promoter) -> str:
    return promoter_token(settings, promoter.user_id)  # type: ignore[attr-defined]


async def test_a_promoter_sees_their_own_figures_trend_and_team(
    api: Api, settings: Settings
) -> None:
    program, top, nearest = await day_in_shanghai()
    path = f"/mp/v1/programs/{program.id}/dashboard"
    mine = await api.get(path, token=_token(settings, nearest), params=DAY)
    assert mine.status == 200, mine.text
    totals = mine.json["totals"]
    assert (totals["visits"], totals["unique_visitors"], totals["orders"]) == (4, 3, 1)
    assert totals["earnings"] == "8.00"  # level 1: 10% of the 80.00 left after the refund
    assert totals["earnings_by_status"]["pending"] == {"count": 1, "amount": "8.00"}
    assert "bot_visits" not in totals and "roi" not in totals
    assert mine.json["previous_totals"]["bindings"] == 1
    assert len(mine.json["trend"]) == 24
    assert mine.json["team"] == {"levels": [], "total": 0}
    assert mine.json["rank"] is None  # the program shows no leaderboard

    upline = (await api.get(path, token=_token(settings, top), params=DAY)).json
    assert (upline["totals"]["visits"], upline["totals"]["earnings"]) == (0, "4.00")
    assert upline["team"] == {"levels": [{"depth": 1, "members": 1}], "total": 1}


async def test_a_promoter_sees_their_rank_once_the_program_enables_leaderboards(
    api: Api, settings: Settings
) -> None:
    program, top, nearest = await day_in_shanghai()
    admin = await api.staff_token("admin", username="dashboard_admin")
    patched = await api.patch(
        f"/admin/v1/programs/{program.id}", token=admin, json={"leaderboard_enabled": True}
    )
    assert patched.status == 200, patched.text
    assert patched.json["leaderboard_enabled"] is True
    path = f"/mp/v1/programs/{program.id}/dashboard"
    first = (await api.get(path, token=_token(settings, nearest), params=DAY)).json
    assert first["rank"] == {"by": "net_sales", "rank": 1, "of": 2}
    second = (await api.get(path, token=_token(settings, top), params=DAY)).json
    assert second["rank"] == {"by": "net_sales", "rank": 2, "of": 2}


async def test_referred_customers_are_masked_and_carry_their_attribution_context(
    api: Api, settings: Settings
) -> None:
    program, _top, nearest = await day_in_shanghai()
    response = await api.get(
        f"/mp/v1/programs/{program.id}/dashboard/customers", token=_token(settings, nearest)
    )
    assert response.status == 200, response.text
    [customer] = response.json["items"]
    assert customer["customer"] == "C****"  # Carol, masked
    assert customer["bound_at"] == "2026-03-01T10:00:00+00:00"
    assert customer["expires_at"] == "2026-03-31T10:00:00+00:00"  # 30-day attribution window
    assert set(customer) >= {"site_id", "reached_by", "utm_source", "utm_campaign", "channel_id"}
    assert "openid" not in response.text and "phone" not in response.text
    assert response.json["next_cursor"] is None


async def test_someone_who_is_not_a_promoter_of_the_program_has_no_dashboard(
    api: Api, settings: Settings
) -> None:
    program, _top, _nearest = await day_in_shanghai()
    response = await api.get(
        f"/mp/v1/programs/{program.id}/dashboard", token=promoter_token(settings, 999_999)
    )
    assert response.status == 404
    assert response.json["error"]["code"] == "promoter_not_found"
