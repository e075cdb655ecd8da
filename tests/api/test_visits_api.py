from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from sanic import Sanic

from server import clock, db
from server.app import create_app
from server.config import Settings
from server.domain.errors import ServiceUnavailable
from server.models import Binding, Order, Program, Promoter, ShareLink, User, Visit
from server.services.orders.events import ingest_order_event
from server.services.sharing import codes as share_codes
from server.services.sharing import links as share_links
from server.services.sharing.visit_buffer import PendingVisit, VisitBuffer
from tests.api.conftest import Api, ApiResponse
from tests.order_builders import line, paid, shop
from tests.service.sharing.test_share_support import (
    approve_pending_codes,
    make_program,
    make_promoter,
)
from tests.wechat_fixtures import promoter_login

WECHAT_UA = "Mozilla/5.0 (iPhone) MicroMessenger/8.0.44 NetType/WIFI"
MP_REFERER = "https://servicewechat.com/wx-standin-appid/3/page-frame.html"


@pytest.fixture(autouse=True)
async def fresh_visit_state(app: Sanic) -> AsyncIterator[VisitBuffer]:
    """Each test starts with no cached link answers; its visits are written before the
    database is wiped."""
    app.ctx.visit_targets.clear()
    buffer: VisitBuffer = app.ctx.visit_buffer
    yield buffer
    await buffer.flush()
    app.ctx.visit_targets.clear()


async def _sharing_promoter(program: Program) -> tuple[Promoter, str]:
    promoter = await make_promoter(program)
    link, _ = await share_links.create_link(user_id=promoter.user_id, program_id=program.id)
    return promoter, link.short_code


async def _customer(api: Api, identity: str) -> tuple[int, str]:
    login = await promoter_login(api, identity, nickname=identity.title())
    return login["user"]["id"], login["access_token"]


async def _mini_program_visit(api: Api, token: str, body: dict[str, Any]) -> ApiResponse:
    """A visit sent by a logged-in customer from inside the mini-program."""
    return await api.post(
        "/mp/v1/visits",
        token=token,
        json=body,
        headers={"user-agent": WECHAT_UA, "referer": MP_REFERER},
    )


async def test_an_anonymous_h5_visit_is_accepted_and_recorded(
    mp_api: Api, fresh_visit_state: VisitBuffer
) -> None:
    program = await make_program()
    alice, short_code = await _sharing_promoter(program)

    response = await mp_api.post(
        "/mp/v1/visits",
        json={"short_code": short_code, "visitor_id": "abc", "utm_source": "moments"},
        headers={"user-agent": WECHAT_UA},
    )

    assert response.status == 202 and response.json == {"accepted": True}
    await fresh_visit_state.flush()
    visit = await Visit.get()
    assert (visit.promoter_id, visit.source, visit.customer_user_id) == (alice.id, "h5", None)
    assert visit.utm_source == "moments" and visit.is_bot is False
    assert visit.ip_hash == hashlib.sha256(b"test-salt\x00127.0.0.1").hexdigest()


async def test_a_logged_in_mini_program_visit_binds_the_customer_and_staff_see_it(
    mp_api: Api, fresh_visit_state: VisitBuffer
) -> None:
    program = await make_program()
    alice, short_code = await _sharing_promoter(program)
    customer_id, token = await _customer(mp_api, "carol")

    response = await _mini_program_visit(mp_api, token, {"short_code": short_code})
    assert response.status == 202
    await fresh_visit_state.flush()

    visit = await Visit.get()
    assert (visit.source, visit.customer_user_id) == ("mp", customer_id)
    staff = await mp_api.staff_token("staff")
    listed = await mp_api.get(
        f"/admin/v1/programs/{program.id}/bindings",
        token=staff,
        params={"customer_user_id": customer_id},
    )
    assert listed.status == 200, listed.text
    [binding] = listed.json["items"]
    assert binding["promoter_id"] == alice.id and binding["visit_id"] == visit.id
    assert binding["state"] == "active" and binding["source"] == "visit"
    refused = await mp_api.get(f"/admin/v1/programs/{program.id}/bindings", token=token)
    assert refused.status == 403


async def test_an_order_after_a_scanned_share_code_names_the_visit_link_and_scan_as_its_reason(
    mp_api: Api, fresh_visit_state: VisitBuffer
) -> None:
    program = await shop()
    alice, short_code = await _sharing_promoter(program)
    customer_id, token = await _customer(mp_api, "carol")
    # 1047: the mini-program was opened by scanning its code (wx.getLaunchOptionsSync).
    scanned = await _mini_program_visit(
        mp_api, token, {"short_code": short_code, "launch_scene": 1047}
    )
    assert scanned.status == 202
    await fresh_visit_state.flush()
    visit = await Visit.get()
    link = await ShareLink.get(short_code=short_code)
    assert visit.reached_by == "qr"

    buyer = await User.get(id=customer_id)
    recorded = await ingest_order_event(
        program_id=program.id,
        payload=paid("SCAN-1", line("L1", "100.00"), buyer=buyer, placed_at=clock.now()),
        appid=buyer.appid,
    )

    assert recorded.outcome.status_code == 200, recorded.outcome.body
    order = await Order.get(program_id=program.id, external_id="SCAN-1")
    assert order.attributed_promoter_id == alice.id
    evidence = order.attribution["attribution"]["binding"]
    assert {key: evidence[key] for key in ("visit_id", "share_link_id", "reached_by")} == {
        "visit_id": visit.id,
        "share_link_id": link.id,
        "reached_by": "qr",
    }
    assert evidence["source"] == "visit" and evidence["bind_mode"] == program.bind_mode
    assert evidence["attribution_window_days"] == program.attribution_window_days


async def test_a_visit_says_how_it_reached_the_link_scan_stated_or_opened(
    mp_api: Api, fresh_visit_state: VisitBuffer
) -> None:
    program = await make_program()
    _, short_code = await _sharing_promoter(program)
    bodies = [
        {"short_code": short_code, "launch_scene": 1011},  # a QR code scanned
        {"short_code": short_code, "launch_scene": 1007},  # a chat's share card tapped
        {"short_code": short_code, "reached_by": "qr", "launch_scene": 1007},
        {"short_code": short_code},
    ]
    for body in bodies:
        answer = await mp_api.post("/mp/v1/visits", json=body, headers={"user-agent": WECHAT_UA})
        assert answer.status == 202, answer.text
    refused = await mp_api.post(
        "/mp/v1/visits", json={"short_code": short_code, "reached_by": "fax"}
    )
    await fresh_visit_state.flush()

    assert refused.status == 422
    assert await Visit.all().order_by("id").values_list("reached_by", flat=True) == [
        "qr",
        "link",
        "qr",
        "link",
    ]


async def test_a_bad_token_on_a_visit_only_makes_it_anonymous(
    mp_api: Api, fresh_visit_state: VisitBuffer
) -> None:
    program = await make_program()
    _, short_code = await _sharing_promoter(program)

    response = await mp_api.post(
        "/mp/v1/visits",
        token="not-a-jwt",
        json={"short_code": short_code},
        headers={"user-agent": WECHAT_UA},
    )

    assert response.status == 202
    await fresh_visit_state.flush()
    assert (await Visit.get()).customer_user_id is None
    assert await Binding.all().count() == 0


async def test_unknown_and_inactive_links_answer_404_and_nothing_is_promised(
    mp_api: Api, fresh_visit_state: VisitBuffer
) -> None:
    program = await make_program()
    alice, short_code = await _sharing_promoter(program)

    unknown = await mp_api.post("/mp/v1/visits", json={"short_code": "zzzzzzzz"})
    unknown_code = await mp_api.post(
        "/mp/v1/visits", json={"program_id": program.id, "code": "NOBODY"}
    )
    nothing = await mp_api.post("/mp/v1/visits", json={"visitor_id": "x"})
    alice.status = "suspended"
    await alice.save()
    inactive = await mp_api.post("/mp/v1/visits", json={"short_code": short_code})

    assert (unknown.status, unknown.json["error"]["code"]) == (404, "link_not_found")
    assert (unknown_code.status, unknown_code.json["error"]["code"]) == (404, "code_not_found")
    assert (nothing.status, nothing.json["error"]["code"]) == (422, "visit_target_required")
    assert (inactive.status, inactive.json["error"]["code"]) == (404, "link_inactive")
    assert fresh_visit_state.pending == 0


async def test_a_full_visit_buffer_answers_503_and_accepts_again_once_drained(
    mp_api: Api, fresh_visit_state: VisitBuffer
) -> None:
    program = await make_program()
    _, short_code = await _sharing_promoter(program)
    limit = fresh_visit_state.max_pending_rows
    fresh_visit_state.max_pending_rows = fresh_visit_state.pending
    try:
        full = await mp_api.post("/mp/v1/visits", json={"short_code": short_code})
    finally:
        fresh_visit_state.max_pending_rows = limit
    accepted = await mp_api.post("/mp/v1/visits", json={"short_code": short_code})

    assert full.status == 503 and full.json["error"]["code"] == "visits_backpressure"
    assert accepted.status == 202
    await fresh_visit_state.flush()
    assert await Visit.all().count() == 1


async def test_registering_through_a_code_binds_the_customer_in_on_register_programs(
    mp_api: Api, fresh_visit_state: VisitBuffer
) -> None:
    program = await make_program()
    program.bind_mode = "on_register"
    await program.save()
    alice, short_code = await _sharing_promoter(program)
    await share_codes.create_code(
        user_id=alice.user_id, program_id=program.id, kind="referral", code="ALICE-REG"
    )
    await approve_pending_codes(program.id)
    customer_id, token = await _customer(mp_api, "carol")
    await mp_api.post("/mp/v1/visits", token=token, json={"short_code": short_code})
    await fresh_visit_state.flush()
    assert await Binding.all().count() == 0  # a visit alone does not bind in on_register

    path = f"/mp/v1/programs/{program.id}/register"
    registered = await mp_api.post(path, token=token, json={"code": "alice-reg"})
    again = await mp_api.post(path, token=token, json={"short_code": short_code})
    anonymous = await mp_api.post(path, json={"code": "alice-reg"})
    both = await mp_api.post(path, token=token, json={"code": "x", "short_code": "y"})

    assert registered.status == 200, registered.text
    assert registered.json["action"] == "bind" and registered.json["bound"] is True
    assert "promoter_id" not in registered.json
    assert again.status == 200 and again.json["action"] == "keep"
    assert anonymous.status == 401
    assert both.status == 422 and both.json["error"]["code"] == "referral_required"
    binding = await Binding.get()
    assert (binding.promoter_id, binding.customer_user_id, binding.source) == (
        alice.id,
        customer_id,
        "register",
    )


async def test_visits_acknowledged_before_shutdown_are_written_and_later_ones_refused(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []

    async def open_db(url: str) -> None:
        events.append("open database")

    async def close_db() -> None:
        events.append("close database")

    async def ping() -> None:
        return None

    async def writer(rows: Sequence[PendingVisit]) -> None:
        events.append(f"write {len(rows)}")

    monkeypatch.setattr(db, "init_db", open_db)
    monkeypatch.setattr(db, "close_db", close_db)
    monkeypatch.setattr(db, "ping", ping)
    monkeypatch.setattr("server.app.new_visit_buffer", lambda: VisitBuffer(writer=writer))
    registry = dict(Sanic._app_registry)
    Sanic._app_registry.clear()
    try:
        app = create_app(settings=dataclasses.replace(settings, celery_broker_url="memory://"))
        app.asgi = True
        # The run's first app already rewrote Sanic's hot paths; a second rewrite fails.
        app.config.TOUCHUP = False
        await app._startup()
        await app._server_event("init", "before")
        await app._server_event("init", "after")
        buffer: VisitBuffer = app.ctx.visit_buffer
        buffer.offer(_pending())  # answered 2xx while serving
        buffer.offer(_pending())
        await app._server_event("shutdown", "before")
        written_when_shutdown_began = list(events)
        # While connections drain, a visit is refused (503), never acknowledged and dropped.
        with pytest.raises(ServiceUnavailable):
            buffer.offer(_pending())
        await app._server_event("shutdown", "after")
    finally:
        Sanic._app_registry.clear()
        Sanic._app_registry.update(registry)

    assert events[0] == "open database" and events[-1] == "close database"
    assert written_when_shutdown_began == ["open database", "write 2"]
    assert sum(int(event.split()[1]) for event in events if event.startswith("write")) == 2


def _pending() -> PendingVisit:
    return PendingVisit(
        program_id=1,
        promoter_id=1,
        channel_id=None,
        code_id=None,
        site_id=None,
        share_link_id=None,
        customer_user_id=None,
        customer_external_id=None,
        utm_source=None,
        utm_medium=None,
        utm_campaign=None,
        visitor_hash=None,
        ip_hash=None,
        ua_hash=None,
        is_bot=False,
        source="h5",
        reached_by="link",
        at=clock.now(),
    )


async def test_a_short_code_longer_than_any_link_is_refused_with_422_not_a_500(
    mp_api: Api, fresh_visit_state: VisitBuffer
) -> None:
    program = await make_program()
    token = (await promoter_login(mp_api, "carol"))["access_token"]
    too_long = "x" * 17  # share links' short codes are at most 16 characters

    visit = await mp_api.post("/mp/v1/visits", json={"short_code": too_long})
    registered = await mp_api.post(
        f"/mp/v1/programs/{program.id}/register", token=token, json={"short_code": too_long}
    )

    for response in (visit, registered):
        assert response.status == 422, response.text
        assert response.json["error"]["fields"] == {
            "short_code": "String should have at most 16 characters"
        }
    assert fresh_visit_state.pending == 0
