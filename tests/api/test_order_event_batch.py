"""The drainer applies a batch of order.paid events together (one transaction, set-based
statements) with exactly the results of applying each one synchronously; what the set-based
path does not decide (another event of the same order, a coupon, a cap) is applied one by one
in the order received."""

from __future__ import annotations

import re
from typing import Any

import pytest

from server.models import (
    Anomaly,
    Commission,
    CommissionChange,
    Order,
    OrderEvent,
    OrderLine,
    QueuedOrderEvent,
    User,
)
from server.services.orders import batch as orders_batch
from server.services.orders import inbox
from server.services.orders import paid as orders_paid
from server.services.orders.inbox import drain_order_events
from tests.api.conftest import Api
from tests.order_builders import (
    APPID,
    bind,
    customer,
    line,
    paid,
    promoter,
    refunded,
    unique,
)
from tests.s2s_client import s2s_post

EVENTS = "/admin/v1/s2s/events"


@pytest.fixture
def batches(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, bool]]:
    """(events, applied together) of each set-based attempt the drainer made."""
    seen: list[tuple[int, bool]] = []
    original = inbox.apply_paid_batch

    async def spy(events: list[Any]) -> bool:
        result = await original(events)
        seen.append((len(events), result))
        return result

    monkeypatch.setattr(inbox, "apply_paid_batch", spy)
    return seen


async def _post(api: Api, store: dict[str, Any], body: dict[str, Any], *, queued: bool) -> Any:
    response = await s2s_post(
        api,
        EVENTS,
        key_id=store["key_id"],
        secret=store["secret"],
        json_body=body,
        extra_headers={"Prefer": "respond-async"} if queued else None,
    )
    assert response.status == (202 if queued else 200), response.text
    return response


def _plain(value: Any, external_id: str, order_id: int) -> Any:
    """The value with this order's own external and row ids blanked out."""
    if isinstance(value, dict):
        return {
            key: _plain(item, external_id, order_id)
            for key, item in value.items()
            if key not in {"event_id", "order_event_id"}
        }
    if isinstance(value, list | tuple):
        return [_plain(item, external_id, order_id) for item in value]
    if value == external_id:
        return "<external id>"
    return value


def _differences(left: Any, right: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    if isinstance(left, dict) and isinstance(right, dict):
        return [
            found
            for key in sorted(set(left) | set(right), key=str)
            for found in _differences(left.get(key), right.get(key), f"{path}.{key}")
        ]
    if isinstance(left, list) and isinstance(right, list) and len(left) == len(right):
        return [
            found
            for index, (a, b) in enumerate(zip(left, right, strict=True))
            for found in _differences(a, b, f"{path}[{index}]")
        ]
    return [] if left == right else [(path, left, right)]


async def _written(program_id: int, external_id: str) -> dict[str, Any]:
    """Everything applying the order.paid wrote, comparable between two orders."""
    order = await Order.get(program_id=program_id, external_id=external_id)
    lines = {row.id: row.line_ref for row in await OrderLine.filter(order_id=order.id)}
    commissions = await Commission.filter(order_id=order.id).order_by("order_line_id", "level")
    history = {
        c.id: [
            (
                h.action,
                h.from_status,
                h.to_status,
                h.amount_before,
                h.amount_after,
                re.sub(r"anomaly \d+", "anomaly <id>", h.reason or ""),
            )
            for h in await CommissionChange.filter(commission_id=c.id).order_by("id")
        ]
        for c in commissions
    }
    event = await OrderEvent.get(program_id=program_id, order_external_id=external_id)
    assert event.outcome["body"]["order"]["id"] == order.id
    event.outcome["body"]["order"]["id"] = "<order id>"
    skip = {"id", "order_id", "order_line_id", "created_at", "updated_at", "hold_reason"}
    return _plain(
        {
            "order": {
                key: value
                for key, value in dict(order).items()
                if key not in {"id", "external_id", "created_at", "updated_at"}
            },
            "lines": sorted(lines.values()),
            "commissions": [
                {
                    **{k: v for k, v in dict(c).items() if k not in skip},
                    "line": lines[c.order_line_id],  # type: ignore[attr-defined]
                    "held": c.hold_reason is not None,
                    "history": history[c.id],
                }
                for c in commissions
            ],
            "event": (event.status, event.error_code, event.outcome),
        },
        external_id,
        order.id,
    )


async def _buyers(store: dict[str, Any]) -> list[dict[str, Any]]:
    """Buyers of every kind: referred by a binding, a promoter (self purchase), a promoter's
    twin account (an inline fraud hold), unknown to the program, known by external id only."""
    program = store["program"]
    own = await customer("Pam")
    await promoter(program, store["nearest"], user=own)
    union = unique("union")
    me = await promoter(
        program,
        store["top"],
        user=await User.create(appid="other-app", openid=unique("o"), unionid=union),
    )
    twin = await User.create(appid=APPID, openid=unique("openid"), unionid=union)
    await bind(program, me, user=twin)
    return [
        {"buyer": store["buyer"]},
        {"buyer": own},
        {"buyer": twin},
        {"buyer": await customer("Stranger")},
        {"buyer_external_id": "shop-customer-7"},
    ]


async def test_a_drained_batch_writes_what_synchronous_deliveries_write(
    api: Api, store: dict[str, Any], batches: list[tuple[int, bool]]
) -> None:
    await _drained_matches_synchronous(api, store, batches)


async def test_with_interleaved_auto_increment_ids_a_batch_reads_its_ids_back(
    api: Api,
    store: dict[str, Any],
    batches: list[tuple[int, bool]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As on MySQL with innodb_autoinc_lock_mode = 2: a multi-row insert's ids are not known.
    async def unknown(*_args: object) -> None:
        return None

    monkeypatch.setattr(orders_paid, "inserted_ids", unknown)
    monkeypatch.setattr(orders_batch, "inserted_ids", unknown)
    await _drained_matches_synchronous(api, store, batches)


async def _drained_matches_synchronous(
    api: Api, store: dict[str, Any], batches: list[tuple[int, bool]]
) -> None:
    program = store["program"]
    kinds = await _buyers(store)
    lines = (line("A", "100.00"), line("B", "35.50", quantity=3, unit_price="11.84"))
    for index, buyer in enumerate(kinds):
        await _post(api, store, paid(f"Q-{index}", *lines, **buyer), queued=True)
        await _post(api, store, paid(f"S-{index}", *lines, **buyer), queued=False)

    assert (await drain_order_events())["applied"] == len(kinds)

    assert batches == [(len(kinds), True)]
    for index in range(len(kinds)):
        queued, direct = (
            await _written(program.id, f"Q-{index}"),
            await _written(program.id, f"S-{index}"),
        )
        assert _differences(queued, direct) == [], index
    assert await Anomaly.all().count() >= 1  # the twin's orders were held
    rows = await QueuedOrderEvent.filter(program_id=program.id).values_list(
        "status", "outcome_status_code"
    )
    assert rows == [("done", 200)] * len(kinds)


async def test_events_of_one_order_in_a_batch_apply_one_by_one_in_the_order_received(
    api: Api, store: dict[str, Any], batches: list[tuple[int, bool]]
) -> None:
    program, buyer = store["program"], store["buyer"]
    # The refund comes first: it is held until its order.paid arrives.
    await _post(api, store, refunded("Q-1", lines={"A": "40.00"}), queued=True)
    await _post(api, store, paid("Q-1", line("A", "100.00"), buyer=buyer), queued=True)
    await _post(api, store, paid("Q-2", line("A", "100.00"), buyer=buyer), queued=True)
    await _post(api, store, paid("Q-3", line("A", "100.00"), buyer=buyer), queued=True)

    assert (await drain_order_events())["applied"] == 4

    assert batches == [(2, True)]
    order = await Order.get(program_id=program.id, external_id="Q-1")
    assert order.refunded_amount == 40
    paid_event = await OrderEvent.get(program_id=program.id, order_external_id="Q-1",
                                      event_type="order.paid")  # fmt: skip
    assert [held["status"] for held in paid_event.outcome["body"]["held_events"]] == ["applied"]


async def test_an_event_id_already_applied_leaves_the_batch_to_the_one_by_one_path(
    api: Api, store: dict[str, Any], batches: list[tuple[int, bool]]
) -> None:
    program, buyer = store["program"], store["buyer"]
    first = paid("Q-1", line("A", "100.00"), buyer=buyer)
    await _post(api, store, first, queued=False)
    # The same event id under another order: a synchronous delivery already owns the id.
    clash = paid("Q-9", line("A", "100.00"), buyer=buyer, event_id=first["event_id"])
    await _post(api, store, clash, queued=True)
    await _post(api, store, paid("Q-2", line("A", "100.00"), buyer=buyer), queued=True)

    assert (await drain_order_events())["applied"] == 2

    assert batches == [(2, False)]
    assert not await Order.exists(program_id=program.id, external_id="Q-9")
    assert await Order.exists(program_id=program.id, external_id="Q-2")
    statuses = dict(
        await QueuedOrderEvent.filter(program_id=program.id).values_list(
            "order_external_id", "outcome_status_code"
        )
    )
    assert statuses == {"Q-9": 409, "Q-2": 200}
