"""The admin reports over HTTP, with figures computed by hand: a day in Shanghai (+08:00)
against the day before, breakdowns, top promoters, the funnel and their CSV twins."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from tests.api.conftest import Api
from tests.order_builders import shop
from tests.report_builders import day_in_shanghai

# The day of tests.report_builders.day_in_shanghai: 2 March in Shanghai (+08:00).
DAY = {"from": "2026-03-02", "to": "2026-03-02"}


@pytest.fixture
async def staff(api: Api) -> str:
    return await api.staff_token("staff", username="reports_staff")


async def _get(api: Api, token: str, path: str, **params: Any) -> Any:
    return await api.get(path, token=token, params=params)


async def test_the_overview_of_a_day_shows_each_metric_beside_the_day_before(
    api: Api, staff: str
) -> None:
    program, _top, _nearest = await day_in_shanghai()
    response = await _get(api, staff, f"/admin/v1/programs/{program.id}/reports/overview", **DAY)
    assert response.status == 200, response.text
    body = response.json
    assert body["granularity"] == "hour"
    assert body["range"]["start"] == "2026-03-01T16:00:00+00:00"
    assert body["previous"]["from"] == "2026-03-01"
    totals = body["totals"]
    assert {k: totals[k] for k in ("visits", "bot_visits", "unique_visitors", "orders")} == {
        "visits": 4,
        "bot_visits": 1,
        "unique_visitors": 3,
        "orders": 1,
    }
    assert (totals["gmv"], totals["refunds"], totals["net_sales"]) == ("100.00", "20.00", "80.00")
    assert totals["commissions"] == "12.00"  # 8.00 + 4.00, both pending
    assert totals["commissions_by_status"]["pending"] == {"count": 2, "amount": "12.00"}
    assert totals["conversion_rate"] == "0.3333"  # 1 order ÷ 3 unique visitors
    assert totals["average_order_value"] == "80.00"
    assert totals["commission_cost_ratio"] == "0.1500"  # 12 ÷ 80
    assert totals["revenue_per_click"] == "20.00"  # 80 ÷ 4 visits, the bot left out
    assert totals["commission_per_click"] == "3.00"  # EPC: 12 ÷ 4
    before = body["previous_totals"]
    assert (before["visits"], before["unique_visitors"], before["bindings"]) == (1, 1, 1)
    assert before["conversion_rate"] == "0.0000"
    series = {point["label"]: point for point in body["series"]}
    assert len(series) == 24
    assert series["2026-03-02T00:00+08:00"]["visits"] == 1
    assert series["2026-03-02T18:00+08:00"]["visits"] == 3
    assert series["2026-03-02T18:00+08:00"]["unique_visitors"] == 2
    assert body["promoters"]["active"] == 1


async def test_a_week_is_daily_and_a_segment_narrows_every_figure(api: Api, staff: str) -> None:
    program, _top, _nearest = await day_in_shanghai()
    response = await _get(
        api,
        staff,
        f"/admin/v1/programs/{program.id}/reports/overview",
        **{"from": "2026-02-24", "to": "2026-03-02", "segment": "utm_source:wechat"},
    )
    body = response.json
    assert body["granularity"] == "day"
    assert [p["label"] for p in body["series"]][-2:] == ["2026-03-01", "2026-03-02"]
    assert (body["totals"]["visits"], body["totals"]["unique_visitors"]) == (2, 1)
    assert body["totals"]["orders"] == 0  # the order came through a binding with no UTM


async def test_breakdowns_split_by_utm_product_and_level(api: Api, staff: str) -> None:
    program, _top, _nearest = await day_in_shanghai()
    path = f"/admin/v1/programs/{program.id}/reports/breakdown"
    utm = (await _get(api, staff, path, dimension="utm_source", **DAY)).json
    assert [(i["value"], i["visits"], i["unique_visitors"]) for i in utm["items"]] == [
        ("wechat", 2, 1)
    ]
    category = (await _get(api, staff, path, dimension="category", **DAY)).json
    assert [(i["value"], i["orders"], i["net_sales"]) for i in category["items"]] == [
        ("tea", 1, "80.00")
    ]
    level = (await _get(api, staff, path, dimension="level", **DAY)).json
    assert {i["value"]: i["commissions"] for i in level["items"]} == {"1": "8.00", "2": "4.00"}
    tier = (await _get(api, staff, path, dimension="tier", **DAY)).json
    assert [(i["value"], i["commissions"]) for i in tier["items"]] == [("default", "12.00")]


async def test_top_promoters_rank_by_commissions_earned(api: Api, staff: str) -> None:
    program, top, nearest = await day_in_shanghai()
    path = f"/admin/v1/programs/{program.id}/reports/top-promoters"
    body = (await _get(api, staff, path, by="commissions", **DAY)).json
    assert [(i["rank"], i["promoter_id"], i["commissions"]) for i in body["items"]] == [
        (1, nearest.id, "8.00"),
        (2, top.id, "4.00"),
    ]
    by_conversion = (await _get(api, staff, path, by="conversion", **DAY)).json
    assert by_conversion["items"][0]["promoter_id"] == nearest.id
    assert by_conversion["items"][0]["conversion_rate"] == "0.3333"


async def test_the_funnel_runs_from_visits_to_settled_commissions(api: Api, staff: str) -> None:
    program, _top, _nearest = await day_in_shanghai()
    body = (await _get(api, staff, f"/admin/v1/programs/{program.id}/reports/funnel", **DAY)).json
    assert [(s["step"], s["count"]) for s in body["steps"]] == [
        ("visits", 4),
        ("unique_visitors", 3),
        ("bindings", 0),
        ("orders", 1),
        ("settled_commissions", 0),
    ]
    assert body["steps"][1]["rate_from_previous_step"] == "0.7500"
    assert body["steps"][3]["rate_from_previous_step"] is None  # after zero bindings


async def test_every_report_exports_as_csv_with_the_same_filters(api: Api, staff: str) -> None:
    program, _top, _nearest = await day_in_shanghai()
    base = f"/admin/v1/programs/{program.id}/reports"
    overview = await _get(api, staff, f"{base}/overview.csv", **DAY)
    assert overview.status == 200
    rows = list(csv.reader(io.StringIO(overview.text.removeprefix("\ufeff"))))
    assert rows[0][:3] == ["point", "visits", "bot_visits"]
    assert len(rows) == 1 + 24 + 2
    assert rows[-2][:2] == ["total", "4"]
    utm = await _get(api, staff, f"{base}/breakdown.csv", dimension="utm_source", **DAY)
    assert list(csv.reader(io.StringIO(utm.text.removeprefix("\ufeff"))))[1][:2] == ["wechat", "2"]
    for path, params in (
        ("top-promoters.csv", {"by": "net_sales"}),
        ("funnel.csv", {}),
    ):
        response = await _get(api, staff, f"{base}/{path}", **params, **DAY)
        assert response.status == 200 and response.content_type.startswith("text/csv")


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"preset": "fortnight"}, "invalid_preset"),
        ({"from": "2026-03-05", "to": "2026-03-01"}, "invalid_range"),
        ({"from": "2024-01-01", "to": "2026-03-01"}, "range_too_long"),
        ({"from": "0001-01-01", "to": "0001-01-01"}, "invalid_range"),
        ({"segment": "planet:mars"}, "invalid_segment"),
    ],
)
async def test_a_report_refuses_a_range_or_segment_it_cannot_read(
    api: Api, staff: str, params: dict[str, str], code: str
) -> None:
    program = await shop()
    response = await _get(api, staff, f"/admin/v1/programs/{program.id}/reports/overview", **params)
    assert response.status == 422
    assert response.json["error"]["code"] == code


async def test_a_report_of_a_missing_program_is_not_found(api: Api, staff: str) -> None:
    response = await _get(api, staff, "/admin/v1/programs/999999/reports/funnel")
    assert response.status == 404
