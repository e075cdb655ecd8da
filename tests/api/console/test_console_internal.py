"""Internal programs in the console: sub-accounts created (once per form), given links and
codes, disabled; spend recorded one entry at a time or from a CSV (a bad row refuses the
file, naming each problem); ROI per sub-account and campaign."""

from __future__ import annotations

import re

from sanic import Sanic

from server.models import Promoter, SpendRecord
from server.services.reports.rollups import refresh_reports
from tests.api.console.client import signed_in
from tests.order_builders import shop

KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')


async def test_staff_create_a_sub_account_once_and_give_it_a_link_and_a_code(app: Sanic) -> None:
    own = await shop(kind="internal")
    console = await signed_in(app, "staff", username="sub_staff")
    page = await console.get(f"/console/sub-accounts?program_id={own.id}")
    key = KEY.search(page.text).group(1)
    form = {"name": "地推一组", "idempotency_key": key}
    first = await console.post(f"/console/sub-accounts?program_id={own.id}", form)
    again = await console.post(f"/console/sub-accounts?program_id={own.id}", form)
    assert first.status_code == again.status_code == 303, first.text
    assert first.headers["location"] == again.headers["location"]
    (sub,) = await Promoter.filter(program_id=own.id)
    assert (sub.real_name, sub.status) == ("地推一组", "approved")
    listed = await console.get(f"/console/sub-accounts?program_id={own.id}")
    assert listed.status_code == 200 and "地推一组" in listed.text

    await console.get(f"/console/sub-accounts/{sub.id}")
    linked = await console.post(
        f"/console/sub-accounts/{sub.id}/links",
        {"utm_source": "poster", "utm_campaign": "spring"},
    )
    assert linked.status_code == 303, linked.text
    coded = await console.post(f"/console/sub-accounts/{sub.id}/codes", {"kind": "referral"})
    assert coded.status_code == 303, coded.text
    shown = await console.get(f"/console/sub-accounts/{sub.id}")
    assert "spring" in shown.text and "poster" in shown.text
    assert shown.text.count("<code>") >= 3  # short code, URL, path, code

    refused = await console.post(f"/console/sub-accounts/{sub.id}/disable", {})
    assert refused.status_code == 422
    disabled = await console.post(f"/console/sub-accounts/{sub.id}/disable", {"reason": "停了"})
    assert disabled.status_code == 303
    assert (await Promoter.get(id=sub.id)).status == "disabled"
    await console.close()


async def test_finance_read_sub_accounts_but_change_none(app: Sanic) -> None:
    shop_program, own = await shop(), await shop(kind="internal")
    console = await signed_in(app, "finance", username="sub_fin")
    page = await console.get(f"/console/sub-accounts?program_id={shop_program.id}")
    assert page.status_code == 200 and 'id="not-internal"' in page.text
    listed = await console.get(f"/console/sub-accounts?program_id={own.id}")
    assert listed.status_code == 200 and 'id="new-sub-account"' not in listed.text
    refused = await console.post(f"/console/sub-accounts?program_id={own.id}", {"name": "x"})
    assert refused.status_code == 403
    assert not await Promoter.filter(program_id=own.id).exists()
    await console.close()


async def test_a_sub_account_name_is_shown_as_text(app: Sanic) -> None:
    own = await shop(kind="internal")
    console = await signed_in(app, "staff", username="sub_xss")
    await console.get(f"/console/sub-accounts?program_id={own.id}")
    created = await console.post(
        f"/console/sub-accounts?program_id={own.id}", {"name": "<script>alert(1)</script>"}
    )
    assert created.status_code == 303, created.text
    shown = await console.get(created.headers["location"])
    assert "<script>alert(1)</script>" not in shown.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown.text
    await console.close()


async def test_spend_one_entry_and_a_csv_all_or_none_then_roi(app: Sanic) -> None:
    own = await shop(kind="internal")
    console = await signed_in(app, "staff", username="spend_staff")
    page = await console.get(f"/console/spend?program_id={own.id}")
    key = KEY.search(page.text).group(1)
    entry = {"day": "2026-03-02", "amount": "5.00", "utm_campaign": "spring",
             "idempotency_key": key}  # fmt: skip
    for _ in range(2):  # a double submit records once
        recorded = await console.post(f"/console/spend?program_id={own.id}", entry)
        assert recorded.status_code == 303, recorded.text
    assert await SpendRecord.filter(program_id=own.id).count() == 1

    bad = "day,amount,utm_campaign\n2026-03-03,1.00,spring\n2026-13-01,-4,spring\n"
    refused = await console.post(
        f"/console/spend/import?program_id={own.id}",
        files={"file": ("spend.csv", bad.encode(), "text/csv")},
    )
    assert refused.status_code == 422
    assert "row 3.day" in refused.text and "row 3.amount" in refused.text
    assert await SpendRecord.filter(program_id=own.id).count() == 1
    good = "day,amount,utm_campaign,note\n2026-03-03,2.50,spring,flyers\n"
    imported = await console.post(
        f"/console/spend/import?program_id={own.id}",
        files={"file": ("spend.csv", good.encode(), "text/csv")},
    )
    assert imported.status_code == 303, imported.text
    listed = await console.get(f"/console/spend?program_id={own.id}")
    assert "flyers" in listed.text and "¥2.50" in listed.text

    await refresh_reports()
    roi = await console.get(
        f"/console/roi?program_id={own.id}&preset=custom&from=2026-03-01&to=2026-03-05"
    )
    assert roi.status_code == 200
    assert 'id="roi-utm_campaign"' in roi.text and "¥7.50" in roi.text
    await console.close()
