"""Every statement the order event path sends is planned on an index: the inbox keeps 30 days
of applied rows and the commissions and ledger grow without end, so a scan of any of them
would slow every event as they fill (issue 22: a claim planned on the primary key took 0.78 s
at 186k applied rows)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from aiomysql.cursors import Cursor

from server.db import connection
from server.services.orders.inbox import CLAIM_INDEX, claim_query, drain_order_events
from tests.api.conftest import Api
from tests.order_builders import (
    T0,
    customer,
    line,
    paid,
    promoter,
    refunded,
    send_ok,
    settle_order,
)
from tests.s2s_client import s2s_post

EVENTS = "/admin/v1/s2s/events"
# The tables that grow with every event, and the lookups each event makes.
GROWING = {
    "order_event_inbox",
    "order_events",
    "orders",
    "order_lines",
    "commissions",
    "commission_changes",
    "ledger_entries",
    "bindings",
    "binding_customers",
    "promoter_balances",
    "users",
    "promoters",
    "promoter_closure",
}


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every SQL text sent through aiomysql while the test runs, parameters bound."""
    sent: list[str] = []
    original = Cursor.execute

    async def recording(self: Cursor, query: str, args: Any = None) -> Any:
        sent.append(query % self._escape_args(args, self._get_db()) if args else query)
        return await original(self, query, args)

    monkeypatch.setattr(Cursor, "execute", recording)
    yield sent


def _explainable(text: str) -> bool:
    head = text.lstrip().split(None, 1)[0].upper() if text.strip() else ""
    return head in {"SELECT", "UPDATE", "DELETE"} and "@@" not in text


def _scan(row: dict[str, Any]) -> bool:
    """A walk of a whole table or index for want of a usable index. The test tables are tiny:
    where an index would serve (it is among `possible_keys`), the optimizer may still walk a
    few rows whole, and does so or not by its statistics of the moment, so that is no finding;
    the inbox, the one table a scan has slowed, is filled to a running shop's size above and
    its claim's plan is pinned by the next test."""
    return row["type"] in ("index", "ALL") and not row["possible_keys"]


async def _scans(text: str) -> list[tuple[str, str]]:
    """(table, access type) of each growing table the statement's plan scans."""
    _, rows = await connection().execute_query("EXPLAIN " + text)
    return [(row["table"], row["type"]) for row in rows if row["table"] in GROWING and _scan(row)]


async def _applied_rows(program_id: int, key_id: str, count: int) -> None:
    """Applied inbox rows as a running shop keeps them: on a table of a few rows the planner
    walks whole indexes it would never walk on a real one."""
    conn = connection()
    await conn.execute_query(
        "INSERT INTO order_event_inbox (program_id, event_id, event_type, order_external_id,"
        " body_sha256, body, appid, api_key_id, nonce, status, attempts, received_at,"
        " processed_at) SELECT %s, CONCAT('old-', seq), 'order.paid', CONCAT('old-', seq), 'x',"
        " '{}', 'app', k.id, CONCAT('old-', seq), 'done', 1, UTC_TIMESTAMP(), UTC_TIMESTAMP()"
        f" FROM seq_1_to_{count} JOIN api_keys AS k ON k.key_id = %s",
        [program_id, key_id],
    )
    await conn.execute_query("ANALYZE TABLE order_event_inbox")


@pytest.mark.mysql
async def test_no_statement_of_the_event_path_scans_a_growing_table(
    api: Api, store: dict[str, Any], statements: list[str]
) -> None:
    program, buyer = store["program"], store["buyer"]
    await _applied_rows(program.id, store["key_id"], 5000)
    for number in range(3):
        await s2s_post(
            api,
            EVENTS,
            key_id=store["key_id"],
            secret=store["secret"],
            json_body=paid(f"Q-{number}", line("A", "100.00"), buyer=buyer),
            extra_headers={"Prefer": "respond-async"},
        )
    await drain_order_events()
    # A buyer who is a promoter (self purchase), a referred buyer, a refund before and after
    # settlement (the clawback posts to the ledger).
    buyer_promoter = await customer("Pam")
    await promoter(program, store["nearest"], user=buyer_promoter)
    await send_ok(program, paid("S-1", line("A", "50.00"), buyer=buyer_promoter))
    await send_ok(program, paid("R-1", line("A", "100.00"), line("B", "60.00"), buyer=buyer))
    await send_ok(program, refunded("R-1", lines={"B": "60.00"}))
    await settle_order(program, "R-1", completed_at=T0 + timedelta(days=2))
    await send_ok(program, refunded("R-1", lines={"A": "100.00"}, at=T0 + timedelta(days=60)))

    explained = {re.sub(r"\s+", " ", text) for text in statements if _explainable(text)}
    assert any("order_event_inbox" in text for text in explained)
    assert any("commissions" in text for text in explained)
    scans = {text[:160]: found for text in sorted(explained) if (found := await _scans(text))}
    assert scans == {}


async def test_the_claim_reads_the_inbox_on_its_status_index(db: str) -> None:
    conn = connection()
    query = claim_query(conn).replace("?", "%s") if conn.capabilities.dialect == "mysql" else ""
    if query:
        _, rows = await conn.execute_query("EXPLAIN " + query, ["queued", 32])
        assert [(row["key"], row["type"]) for row in rows] == [(CLAIM_INDEX, "ref")]
    else:
        _, rows = await conn.execute_query(
            "EXPLAIN QUERY PLAN " + claim_query(conn), ["queued", 32]
        )
        plan = " ".join(str(dict(row)["detail"]) for row in rows)
        assert f"USING COVERING INDEX {CLAIM_INDEX}" in plan
        assert "TEMP B-TREE" not in plan
