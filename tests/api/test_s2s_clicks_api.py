"""The store records server-side clicks through the signed S2S API; they become visits and bind
customers like the mini-program's own visits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sanic import Sanic

from server import clock
from server.models import Binding, Promoter, User, Visit
from server.services.access.api_keys import create_api_key
from server.services.sharing import links as share_links
from server.services.sharing.channels import create_channel
from server.services.sharing.codes import create_code
from server.services.sharing.visit_buffer import VisitBuffer
from tests.api.conftest import Api
from tests.order_builders import ADMIN, customer, promoter, shop
from tests.s2s_client import encode_json, s2s_post, sign_request
from tests.service.sharing.test_share_support import approve_pending_codes

CLICKS = "/admin/v1/s2s/clicks"
BATCH = "/admin/v1/s2s/clicks/batch"
BROWSER = "Mozilla/5.0 (iPhone) Safari/604.1"


@pytest.fixture(autouse=True)
async def buffer(app: Sanic) -> AsyncIterator[VisitBuffer]:
    app.ctx.visit_targets.clear()
    visit_buffer: VisitBuffer = app.ctx.visit_buffer
    yield visit_buffer
    await visit_buffer.flush()
    app.ctx.visit_targets.clear()


async def _store(api: Api, **settings: Any) -> dict[str, Any]:
    """A program with two sharing promoters (Alice's link, Bob's voucher code) and a key."""
    program = await shop(**settings)
    alice, bob = await promoter(program), await promoter(program)
    link, _ = await share_links.create_link(
        user_id=alice.user_id,  # type: ignore[attr-defined]
        program_id=program.id,
    )
    await create_code(
        user_id=bob.user_id,  # type: ignore[attr-defined]
        program_id=program.id,
        kind="voucher",
        code="BOB10",
    )
    await approve_pending_codes(program.id)
    issued = await create_api_key(
        program_id=program.id, name="store", actor=ADMIN, settings=api.app.ctx.settings
    )
    return {
        "program": program,
        "alice": alice,
        "bob": bob,
        "short_code": link.short_code,
        "key_id": issued.api_key.key_id,
        "secret": issued.secret,
    }


def _click(**fields: Any) -> dict[str, Any]:
    return {"user_agent": BROWSER, "occurred_at": clock.now().isoformat(), **fields}


async def _post(api: Api, store: dict[str, Any], body: Any, path: str = CLICKS) -> Any:
    return await s2s_post(api, path, key_id=store["key_id"], secret=store["secret"], json_body=body)


def _error(response: Any) -> tuple[int, str]:
    return response.status, response.json["error"]["code"]


async def test_a_signed_click_is_recorded_as_an_s2s_visit_and_binds_the_stores_customer(
    api: Api, buffer: VisitBuffer
) -> None:
    store = await _store(api)
    at = clock.now() - timedelta(hours=2)
    response = await _post(
        api,
        store,
        _click(
            short_code=store["short_code"],
            customer={"external_id": "crm-42"},
            utm_source="newsletter",
            ip="203.0.113.9",
            occurred_at=at.isoformat(),
        ),
    )

    assert response.status == 202, response.text
    assert response.json == {"accepted": True, "duplicate": False, "click_id": None}
    await buffer.flush()
    visit = await Visit.get()
    assert (visit.source, visit.promoter_id, visit.customer_external_id) == (
        "s2s",
        store["alice"].id,
        "crm-42",
    )
    assert visit.utm_source == "newsletter" and visit.is_bot is False
    assert visit.at == at.replace(microsecond=visit.at.microsecond)
    assert visit.ip_hash is not None and "203.0.113.9" not in visit.ip_hash
    binding = await Binding.get(customer_external_id="crm-42")
    assert (binding.promoter_id, binding.source, binding.visit_id) == (  # type: ignore[attr-defined]
        store["alice"].id,
        "visit",
        visit.id,
    )
    assert visit.reached_by == binding.reached_by == "link"
    assert binding.share_link_id == visit.share_link_id is not None


@pytest.mark.parametrize(("bind_mode", "winner"), [("first_touch", "alice"), ("last_touch", "bob")])
async def test_clicks_bind_a_known_user_by_the_programs_bind_mode(
    api: Api, buffer: VisitBuffer, bind_mode: str, winner: str
) -> None:
    store = await _store(api, bind_mode=bind_mode)
    carol = await customer("Carol")
    now = clock.now()
    first = _click(
        short_code=store["short_code"],
        customer={"openid": carol.openid},
        occurred_at=(now - timedelta(minutes=10)).isoformat(),
    )
    second = _click(code="bob10", customer={"openid": carol.openid}, occurred_at=now.isoformat())
    assert (await _post(api, store, first)).status == 202
    await buffer.flush()
    assert (await _post(api, store, second)).status == 202
    await buffer.flush()

    binding = await Binding.get(customer_user_id=carol.id, ended_at=None)
    assert binding.promoter_id == store[winner].id  # type: ignore[attr-defined]
    visits = Visit.filter(customer_user_id=carol.id, source="s2s").order_by("id")
    assert await visits.values_list("reached_by", flat=True) == ["link", "code"]


async def test_a_promoter_invite_code_and_a_channel_name_credit_that_promoter(
    api: Api, buffer: VisitBuffer
) -> None:
    store = await _store(api)
    bob: Promoter = store["bob"]
    bob_user = await User.get(id=bob.user_id)  # type: ignore[attr-defined]
    channel = await create_channel(user_id=bob_user.id, program_id=store["program"].id, name="tv")
    response = await _post(api, store, _click(invite_code=bob.invite_code, channel="tv"))
    unknown_channel = await _post(api, store, _click(invite_code=bob.invite_code, channel="x"))

    assert response.status == 202, response.text
    assert _error(unknown_channel) == (422, "channel_not_found")
    await buffer.flush()
    visit = await Visit.get()
    assert (visit.promoter_id, visit.channel_id, visit.code_id) == (bob.id, channel.id, None)


async def test_the_same_click_id_records_one_visit_and_another_click_under_it_is_refused(
    api: Api, buffer: VisitBuffer
) -> None:
    store = await _store(api)
    click = _click(click_id="clk-1", code="BOB10", customer={"external_id": "crm-7"})

    first = await _post(api, store, click)
    again = await _post(api, store, click)
    other = await _post(api, store, {**click, "code": "nosuch", "short_code": None})
    reused = await _post(api, store, {**click, "utm_campaign": "spring"})

    assert first.status == 202 and first.json["duplicate"] is False
    assert again.status == 200 and again.json["duplicate"] is True
    assert again.headers["x-fenxiao-replayed"] == "true"
    assert _error(other)[0] == 404
    assert _error(reused) == (409, "click_id_reused")
    await buffer.flush()
    assert await Visit.filter(customer_external_id="crm-7").count() == 1


async def test_a_click_too_far_in_the_future_or_too_old_is_refused(api: Api) -> None:
    store = await _store(api)
    now = clock.now()
    future = _click(code="BOB10", occurred_at=(now + timedelta(minutes=6)).isoformat())
    skewed = _click(code="BOB10", occurred_at=(now + timedelta(minutes=4)).isoformat())
    old = _click(code="BOB10", occurred_at=(now - timedelta(days=31)).isoformat())
    naive = _click(code="BOB10", occurred_at="2026-03-01T10:00:00")

    assert _error(await _post(api, store, future)) == (422, "occurred_at_out_of_range")
    assert (await _post(api, store, skewed)).status == 202
    refused_old = await _post(api, store, old)
    assert _error(refused_old) == (422, "occurred_at_out_of_range")
    assert refused_old.json["error"]["fields"] == {"occurred_at": "at most 30 days old"}
    assert _error(await _post(api, store, naive)) == (422, "invalid_timestamp")


async def test_unknown_instruments_and_another_programs_link_are_404_with_a_code(
    api: Api, buffer: VisitBuffer
) -> None:
    store = await _store(api)
    other_store = await _store(api)

    assert _error(await _post(api, store, _click(code="NOSUCH"))) == (404, "code_not_found")
    assert _error(await _post(api, store, _click(short_code="zzzzzz"))) == (404, "link_not_found")
    assert _error(await _post(api, store, _click(invite_code="NOBODY"))) == (
        404,
        "invite_code_not_found",
    )
    foreign = await _post(api, store, _click(short_code=other_store["short_code"]))
    assert _error(foreign) == (404, "link_not_found")
    both = await _post(api, store, _click(code="BOB10", short_code=store["short_code"]))
    assert _error(both) == (422, "click_target_required")
    await buffer.flush()
    assert await Visit.all().count() == 0


async def test_a_short_code_longer_than_any_link_is_a_422_not_a_500(api: Api) -> None:
    store = await _store(api)

    response = await _post(api, store, _click(short_code="x" * 20))

    assert response.status == 422
    assert "short_code" in response.json["error"]["fields"]


async def test_a_forged_signature_is_401_and_a_replayed_request_is_409(api: Api) -> None:
    store = await _store(api)
    forged = await s2s_post(
        api, CLICKS, key_id=store["key_id"], secret="x" * 43, json_body=_click(code="BOB10")
    )
    assert _error(forged) == (401, "s2s_signature_invalid")

    body = encode_json(_click(code="BOB10"))
    headers = sign_request(
        key_id=store["key_id"], secret=store["secret"], method="POST", path=CLICKS, body=body
    )
    headers["content-type"] = "application/json"
    first = await api.post(CLICKS, content=body, headers=headers)
    replay = await api.post(CLICKS, content=body, headers=headers)
    assert first.status == 202, first.text
    assert _error(replay) == (409, "s2s_replayed")


async def test_a_batch_answers_each_click_in_order_and_records_the_good_ones(
    api: Api, buffer: VisitBuffer
) -> None:
    store = await _store(api)
    repeated = _click(click_id="b-1", code="BOB10", customer={"external_id": "crm-1"})
    clicks = [
        repeated,
        _click(click_id="b-2", code="NOSUCH"),
        repeated,
        _click(short_code=store["short_code"], customer={"external_id": "crm-2"}),
    ]

    response = await _post(api, store, {"clicks": clicks}, path=BATCH)

    assert response.status == 200, response.text
    body = response.json
    assert (body["accepted"], body["duplicates"], body["refused"]) == (2, 1, 1)
    assert [result["status"] for result in body["results"]] == [202, 404, 200, 202]
    assert body["results"][1]["error"]["code"] == "code_not_found"
    assert body["results"][2]["duplicate"] is True
    await buffer.flush()
    assert await Visit.filter(source="s2s").count() == 2
    too_many = await _post(api, store, {"clicks": [clicks[0]] * 501}, path=BATCH)
    assert too_many.status == 422
