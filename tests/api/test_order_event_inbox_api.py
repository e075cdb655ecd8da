"""A store may ask to be answered at once (`Prefer: respond-async`): the event is stored,
answered 202, applied by the drainer exactly as a synchronous delivery, and its outcome is
read back from GET /s2s/events/<event_id>."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

import pytest

from jobs.tasks import run_inbox_drain
from server import clock
from server.config import Settings
from server.models import Commission, Order, OrderEvent, QueuedOrderEvent
from server.services.access.api_keys import revoke_api_key
from server.services.operations.counts import queued_order_events_by_status
from server.services.orders.drainer import EventDrainer
from server.services.orders.inbox import (
    claim_events,
    drain_order_events,
    purge_done_events,
    requeue_expired,
)
from tests.api.conftest import Api
from tests.order_builders import ADMIN, line, paid, refunded
from tests.s2s_client import s2s_get, s2s_post

EVENTS = "/admin/v1/s2s/events"
ASYNC = {"Prefer": "respond-async"}


async def _post(
    api: Api,
    store: dict[str, Any],
    body: Any,
    headers: dict[str, str] | None = ASYNC,
    *,
    nonce: str | None = None,
) -> Any:
    return await s2s_post(
        api,
        EVENTS,
        key_id=store["key_id"],
        secret=store["secret"],
        json_body=body,
        nonce=nonce,
        extra_headers=headers,
    )


async def _status(api: Api, store: dict[str, Any], event_id: str) -> Any:
    return await s2s_get(
        api, f"{EVENTS}/{event_id}", key_id=store["key_id"], secret=store["secret"]
    )


async def test_an_async_delivery_is_answered_202_and_nothing_is_applied_before_the_drainer(
    api: Api, store: dict[str, Any]
) -> None:
    body = paid("A-1", line("A", "100.00"), buyer=store["buyer"])

    response = await _post(api, store, body)

    assert response.status == 202, response.text
    assert response.json["status"] == "queued"
    assert response.headers["preference-applied"] == "respond-async"
    assert response.headers["location"] == f"{EVENTS}/{body['event_id']}"
    assert not await Order.exists()
    status = await _status(api, store, body["event_id"])
    assert status.status == 200, status.text
    assert (status.json["state"], status.json["outcome"]) == ("queued", None)


async def test_the_drained_event_earns_what_a_synchronous_delivery_earns(
    api: Api, store: dict[str, Any]
) -> None:
    queued = paid("A-2", line("A", "100.00"), buyer=store["buyer"])
    direct = paid("A-3", line("A", "100.00"), buyer=store["buyer"])
    await _post(api, store, queued)
    sync_answer = await _post(api, store, direct, headers=None)

    assert (await drain_order_events())["applied"] == 1

    status = await _status(api, store, queued["event_id"])
    assert status.json["state"] == "processed"
    assert status.json["status_code"] == 200
    outcome = status.json["outcome"]
    assert outcome["commissions"] == sync_answer.json["commissions"]
    assert outcome["attribution"]["chain"] == sync_answer.json["attribution"]["chain"]
    amounts = sorted(str(c.amount) for c in await Commission.filter(order__external_id="A-2"))
    assert amounts == sorted(
        str(c.amount) for c in await Commission.filter(order__external_id="A-3")
    )
    row = await QueuedOrderEvent.get(event_id=queued["event_id"])
    assert (row.status, row.outcome_status_code) == ("done", 200)


async def test_an_async_replay_is_202_again_and_another_body_under_the_id_is_409(
    api: Api, store: dict[str, Any]
) -> None:
    body = paid("A-4", line("A", "100.00"), buyer=store["buyer"])
    await _post(api, store, body)

    again = await _post(api, store, body)
    other = dict(body, occurred_at=(clock.now() + timedelta(minutes=5)).isoformat())
    clash = await _post(api, store, other)

    assert again.status == 202 and again.headers.get("x-fenxiao-replayed") == "true"
    assert clash.status == 409, clash.text
    assert clash.json["error"]["code"] == "event_id_conflict"
    assert await QueuedOrderEvent.filter(event_id=body["event_id"]).count() == 1


async def test_an_async_request_sent_again_as_it_was_is_refused_as_a_replay(
    api: Api, store: dict[str, Any]
) -> None:
    body = paid("A-30", line("A", "100.00"), buyer=store["buyer"])
    nonce = "replayed-nonce-0001"
    first = await _post(api, store, body, nonce=nonce)
    assert first.status == 202, first.text

    again = await _post(api, store, body, nonce=nonce)
    other_event = await _post(
        api, store, paid("A-31", line("A", "100.00"), buyer=store["buyer"]), nonce=nonce
    )

    for response in (again, other_event):
        assert response.status == 409, response.text
        assert response.json["error"]["code"] == "s2s_replayed"
    assert await QueuedOrderEvent.filter(program_id=store["program"].id).count() == 1


async def test_an_async_delivery_signed_with_a_key_revoked_since_its_last_use_is_refused(
    api: Api, store: dict[str, Any]
) -> None:
    first = await _post(api, store, paid("A-32", line("A", "1.00"), buyer=store["buyer"]))
    assert first.status == 202  # the key's secret is now known to the worker
    await revoke_api_key(program_id=store["program"].id, key_id=store["key_id"], actor=ADMIN)

    response = await _post(api, store, paid("A-33", line("A", "1.00"), buyer=store["buyer"]))

    assert response.status == 401, response.text
    assert response.json["error"]["code"] == "s2s_key_invalid"
    assert not await QueuedOrderEvent.filter(order_external_id="A-33").exists()


async def test_a_synchronous_request_replayed_asynchronously_gets_its_first_outcome_only(
    api: Api, store: dict[str, Any]
) -> None:
    # The nonce of a synchronous delivery is spent in s2s_nonces, an async one's in the inbox
    # row; the event id still decides: the captured request never applies twice.
    body = paid("A-34", line("A", "100.00"), buyer=store["buyer"])
    nonce = "captured-nonce-0001"
    first = await _post(api, store, body, None, nonce=nonce)
    assert first.status == 200, first.text

    replayed = await _post(api, store, body, nonce=nonce)
    assert replayed.status == 202, replayed.text
    await drain_order_events()

    assert await Order.filter(external_id="A-34").count() == 1
    status = await _status(api, store, body["event_id"])
    assert status.json["outcome"] == first.json


async def test_an_invalid_async_event_is_refused_at_once_and_not_stored(
    api: Api, store: dict[str, Any]
) -> None:
    body = paid("A-5", line("A", "-1.00"), buyer=store["buyer"])

    response = await _post(api, store, body)

    assert response.status == 422, response.text
    assert not await QueuedOrderEvent.exists()


async def test_a_refusal_found_when_applying_is_the_events_outcome(
    api: Api, store: dict[str, Any]
) -> None:
    body = paid("A-6", line("A", "100.00"), buyer=store["buyer"], currency="USD")
    await _post(api, store, body)

    await drain_order_events()

    status = await _status(api, store, body["event_id"])
    assert status.json["state"] == "processed"
    assert status.json["status_code"] == 422
    assert status.json["outcome"]["error"]["code"] == "currency_mismatch"
    assert not await Order.filter(external_id="A-6").exists()


async def test_a_clash_with_an_earlier_synchronous_body_is_recorded_not_applied(
    api: Api, store: dict[str, Any]
) -> None:
    body = paid("A-7", line("A", "100.00"), buyer=store["buyer"])
    await _post(api, store, body, headers=None)
    other = paid("A-7b", line("A", "5.00"), buyer=store["buyer"], event_id=body["event_id"])
    assert (await _post(api, store, other)).status == 202

    await drain_order_events()

    status = await _status(api, store, body["event_id"])
    assert status.json["status_code"] == 409
    assert status.json["outcome"]["error"]["code"] == "event_id_conflict"
    assert not await Order.filter(external_id="A-7b").exists()


async def test_events_of_one_order_apply_in_the_order_received(
    api: Api, store: dict[str, Any]
) -> None:
    order = paid("A-8", line("A", "100.00"), buyer=store["buyer"])
    refund = refunded("A-8", full=True)
    await _post(api, store, order)
    await _post(api, store, refund)

    await drain_order_events()

    assert (await Order.get(external_id="A-8")).status == "refunded"
    refund_event = await OrderEvent.get(event_id=refund["event_id"])
    assert refund_event.status == "applied"


async def test_an_event_left_by_a_dead_drainer_is_applied_once_after_its_lease(
    api: Api, store: dict[str, Any]
) -> None:
    body = paid("A-9", line("A", "100.00"), buyer=store["buyer"])
    await _post(api, store, body)
    claimed = await claim_events()
    assert [c.event_id for c in claimed] == [body["event_id"]]
    # The drainer died holding it: nobody else may take it before the lease runs out.
    assert await claim_events() == []
    assert (await requeue_expired(now=clock.now()))["requeued"] == 0

    later = clock.now() + timedelta(minutes=5)
    assert (await requeue_expired(now=later))["requeued"] == 1
    assert (await drain_order_events())["applied"] == 1
    assert (await drain_order_events())["applied"] == 0

    assert await Order.filter(external_id="A-9").count() == 1
    assert (await QueuedOrderEvent.get(event_id=body["event_id"])).status == "done"


async def test_the_minute_job_applies_queued_events_where_no_drainer_runs(
    api: Api, store: dict[str, Any], api_settings: Settings
) -> None:
    # A Celery worker, say: nothing else would apply them.
    await _post(api, store, paid("A-20", line("A", "100.00"), buyer=store["buyer"]))

    summary = await run_inbox_drain(api_settings)

    assert summary["applied"] == 1
    assert await Order.filter(external_id="A-20").exists()


async def test_the_minute_job_in_a_server_worker_wakes_its_drainer_instead_of_applying(
    api: Api, store: dict[str, Any], api_settings: Settings
) -> None:
    await _post(api, store, paid("A-21", line("A", "100.00"), buyer=store["buyer"]))
    drainer = EventDrainer()
    try:
        with drainer.accepting():  # stores are being answered: applying would slow them
            drainer.start()
            summary = await run_inbox_drain(api_settings)
            assert summary["applied"] == 0
            assert summary["woke_drainer"] is True
        # Once the stores are answered, the drainer applies it.
        for _ in range(200):
            if await Order.filter(external_id="A-21").exists():
                break
            await asyncio.sleep(0.025)
        assert await Order.filter(external_id="A-21").count() == 1
    finally:
        await drainer.stop()
    # A stopped drainer is woken no more: the job applies again.
    await _post(api, store, paid("A-22", line("A", "100.00"), buyer=store["buyer"]))
    assert (await run_inbox_drain(api_settings))["applied"] == 1


async def test_the_status_of_an_unknown_event_is_404_and_needs_a_signature(
    api: Api, store: dict[str, Any]
) -> None:
    missing = await _status(api, store, "no-such-event")
    unsigned = await api.get(f"{EVENTS}/no-such-event")

    assert missing.status == 404 and missing.json["error"]["code"] == "event_not_found"
    assert unsigned.status == 401, unsigned.text


async def test_a_synchronous_delivery_is_readable_from_the_status_url_too(
    api: Api, store: dict[str, Any]
) -> None:
    body = paid("A-10", line("A", "100.00"), buyer=store["buyer"])
    await _post(api, store, body, headers=None)

    status = await _status(api, store, body["event_id"])

    assert (status.json["state"], status.json["status_code"]) == ("processed", 200)
    assert status.json["outcome"]["status"] == "applied"


async def test_the_backlog_gauge_counts_what_waits_and_not_what_is_done(
    api: Api, store: dict[str, Any]
) -> None:
    for n in range(3):
        await _post(api, store, paid(f"G-{n}", line("A", "10.00"), buyer=store["buyer"]))
    assert await queued_order_events_by_status() == {"queued": 3, "processing": 0}

    await drain_order_events(max_events=2)

    assert await queued_order_events_by_status() == {"queued": 1, "processing": 0}


async def test_applied_inbox_rows_are_forgotten_after_the_retention_and_replays_still_agree(
    api: Api, store: dict[str, Any]
) -> None:
    body = paid("P-1", line("A", "100.00"), buyer=store["buyer"])
    waiting = paid("P-2", line("A", "100.00"), buyer=store["buyer"])
    await _post(api, store, body)
    await drain_order_events()
    await _post(api, store, waiting)

    assert await purge_done_events(older_than=clock.now() - timedelta(days=1)) == 0
    assert await purge_done_events(older_than=clock.now() + timedelta(seconds=1)) == 1

    assert [row.event_id for row in await QueuedOrderEvent.all()] == [waiting["event_id"]]
    assert (await _status(api, store, body["event_id"])).json["status_code"] == 200
    await _post(api, store, body)
    await drain_order_events()
    assert await Order.filter(external_id="P-1").count() == 1
    replayed = await _status(api, store, body["event_id"])
    assert replayed.json["outcome"]["commissions"]["count"] >= 1


async def test_an_accepted_async_event_writes_no_access_line_but_a_synchronous_one_does(
    api: Api, store: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="fenxiao.access")
    queued = await _post(api, store, paid("L-1", line("A", "10.00"), buyer=store["buyer"]))
    direct = await _post(
        api, store, paid("L-2", line("A", "10.00"), buyer=store["buyer"]), headers=None
    )
    refused = await _post(api, store, {"event_id": "x", "type": "order.paid"})

    assert (queued.status, direct.status, refused.status) == (202, 200, 422)
    logged = [r.status for r in caplog.records if r.name == "fenxiao.access"]
    assert sorted(logged) == [200, 422]
