"""Every datetime column becomes a UtcDatetimeField, and stored times become UTC instants.

The field class changes in the migration state only (same column type: no table rebuild).
The data step converts what was stored in another offset, where it can be known:

- SQLite kept each value as text with its offset ("2026-03-01 12:43:00+08:00", compared as
  text): every value not already "YYYY-MM-DD HH:MM:SS[.ffffff]+00:00" is rewritten as the same
  instant in UTC; a value with no offset is read as UTC, as the application always read it.
- MariaDB kept the wall time and dropped the offset. The times the store sent are recovered
  from the recorded order events (their payloads keep the text as sent): an order's
  `placed_at` and `paid_at` from its order.paid event, `completed_at` from order.completed
  (its commissions' `unlock_at` move by the same amount), `cancelled_at` from
  order.cancelled; a value is corrected only while it still equals the offset-dropped wall
  time. Commission rules' `valid_from`/`valid_to` are taken from the audit log, which recorded
  each time staff set as a UTC instant. Other columns were written from the server's own UTC
  clock and are already right; a binding made from a coupon code at an order's offset-dropped
  `placed_at` keeps its stored time (it is not recorded anywhere else).
"""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise import migrations
from tortoise.migrations import operations as ops

from server.models.fields import UtcDatetimeField

# Every datetime column at this migration (table → columns).
DATETIME_COLUMNS: dict[str, tuple[str, ...]] = {
    "adjustment_batches": ("created_at",),
    "adjustments": ("created_at",),
    "anomalies": ("created_at", "decided_at", "updated_at"),
    "api_keys": ("created_at", "last_used_at", "revoked_at"),
    "audit_log": ("at",),
    "bindings": ("bound_at", "created_at", "ended_at", "expires_at"),
    "channels": ("created_at",),
    "commission_changes": ("at",),
    "commission_period_caps": ("created_at", "updated_at"),
    "commission_rules": ("created_at", "updated_at", "valid_from", "valid_to"),
    "commissions": (
        "approved_at", "created_at", "paid_at", "settled_at", "unlock_at", "updated_at"
    ),
    "dispute_messages": ("created_at",),
    "disputes": ("opened_at", "resolved_at", "updated_at"),
    "hierarchy_moves": ("at",),
    "job_runs": ("finished_at", "started_at"),
    "ledger_entries": ("created_at",),
    "login_throttles": ("locked_until", "updated_at", "window_started_at"),
    "notifications": ("created_at", "next_attempt_at", "sent_at", "updated_at"),
    "order_event_inbox": ("claimed_until", "processed_at", "received_at"),
    "order_events": ("applied_at", "received_at"),
    "orders": (
        "cancelled_at", "completed_at", "created_at", "paid_at", "placed_at", "updated_at"
    ),
    "payout_batches": ("completed_at", "created_at"),
    "payout_items": ("created_at",),
    "programs": ("created_at", "updated_at"),
    "promoter_balances": ("updated_at",),
    "promoter_sites": ("granted_at",),
    "promoter_status_changes": ("at",),
    "promoters": ("applied_at", "decided_at", "updated_at"),
    "qr_images": ("created_at",),
    "refresh_tokens": ("created_at", "expires_at", "revoked_at", "used_at"),
    "s2s_clicks": ("created_at", "occurred_at"),
    "s2s_nonces": ("seen_at", "signed_at"),
    "share_codes": ("created_at",),
    "share_links": ("created_at",),
    "sites": ("created_at",),
    "staff_users": ("created_at", "last_login_at"),
    "users": ("created_at", "last_login_at"),
    "visits": ("at",),
    "withdrawal_changes": ("at",),
    "withdrawals": (
        "approved_at", "created_at", "decided_at", "paid_at", "transfer_started_at", "updated_at"
    ),
}
# SQLite text already in the one form every UTC value is written in (LIKE: _ = any char).
_CANONICAL_SQLITE = "____-__-__ __:__:__%+00:00"
# (event type, JSON path of the time in its payload, orders column).
_EVENT_TIMES = (
    ("order.paid", ("order", "placed_at"), "placed_at"),
    ("order.paid", ("occurred_at",), "paid_at"),
    ("order.completed", ("order", "completed_at"), "completed_at"),
    ("order.cancelled", ("occurred_at",), "cancelled_at"),
)
_RULE_TIMES = ("valid_from", "valid_to")
# UTC offsets in use lie within ±14 h.
_MAX_OFFSET = timedelta(hours=14)


class _FieldClassOnly(ops.AlterField):
    """Records the new field class; the column itself is unchanged (no table rebuild)."""

    async def database_forward(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def database_backward(self, *args: Any, **kwargs: Any) -> None:
        return None


def _parse(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text))
    except ValueError:
        return None


def _mysql_text(moment: datetime) -> str:
    """A naive UTC datetime as MariaDB DATETIME(6) text."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


async def _sqlite_to_utc(conn: Any) -> None:
    for table, columns in DATETIME_COLUMNS.items():
        for column in columns:
            rows = await conn.execute_query_dict(
                f'SELECT rowid AS row_id, "{column}" AS value FROM "{table}"'
                f' WHERE "{column}" IS NOT NULL AND "{column}" NOT LIKE ?',
                [_CANONICAL_SQLITE],
            )
            for row in rows:
                moment = _parse(row["value"])
                if moment is None:
                    continue
                if moment.utcoffset() is None:
                    moment = moment.replace(tzinfo=UTC)
                await conn.execute_query(
                    f'UPDATE "{table}" SET "{column}" = ? WHERE rowid = ?',
                    [moment.astimezone(UTC).isoformat(" "), row["row_id"]],
                )


def _sent_time(payload: Any, path: tuple[str, ...]) -> datetime | None:
    value: Any = json.loads(payload) if isinstance(payload, str | bytes) else payload
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    moment = _parse(value) if isinstance(value, str) else None
    if moment is None or moment.utcoffset() in (None, timedelta(0)):
        return None
    return moment


async def _mysql_orders_to_utc(conn: Any) -> None:
    for event_type, path, column in _EVENT_TIMES:
        events = await conn.execute_query_dict(
            "SELECT program_id, order_external_id, payload FROM order_events"
            " WHERE event_type = %s AND status = 'applied'",
            [event_type],
        )
        for event in events:
            sent = _sent_time(event["payload"], path)
            if sent is None:
                continue
            wall = sent.replace(tzinfo=None)
            instant = sent.astimezone(UTC).replace(tzinfo=None)
            order = [event["program_id"], event["order_external_id"], _mysql_text(wall)]
            where = " WHERE program_id = %s AND external_id = %s AND " + f"`{column}` = %s"
            if column == "completed_at":
                await conn.execute_query(
                    "UPDATE commissions SET unlock_at = unlock_at - INTERVAL %s MICROSECOND"
                    " WHERE unlock_at IS NOT NULL AND order_id IN (SELECT id FROM orders"
                    + where
                    + ")",
                    [(wall - instant) // timedelta(microseconds=1), *order],
                )
            await conn.execute_query(
                f"UPDATE orders SET `{column}` = %s" + where, [_mysql_text(instant), *order]
            )


async def _mysql_rules_to_utc(conn: Any) -> None:
    """Each rule's validity bounds as staff last set them, from the audit log."""
    entries = await conn.execute_query_dict(
        "SELECT target_id, details FROM audit_log WHERE target_kind = 'commission_rule'"
        " AND action IN ('commission_rule.create', 'commission_rule.update') ORDER BY id"
    )
    set_by_staff: dict[tuple[int, str], datetime | None] = {}
    for entry in entries:
        details = json.loads(entry["details"]) if isinstance(entry["details"], str) else {}
        before, after = details.get("before") or {}, details.get("after") or {}
        for name in _RULE_TIMES:
            # An update that left a bound alone recorded the stored (offset-dropped) value.
            if name in after and (not before or before.get(name) != after.get(name)):
                text = after.get(name)
                set_by_staff[(int(entry["target_id"]), name)] = _parse(text) if text else None
    for (rule_id, name), sent in set_by_staff.items():
        if sent is None or sent.utcoffset() is None:
            continue
        instant = sent.astimezone(UTC).replace(tzinfo=None)
        rows = await conn.execute_query_dict(
            f"SELECT `{name}` AS value FROM commission_rules WHERE id = %s", [rule_id]
        )
        stored = rows[0]["value"] if rows else None
        if isinstance(stored, datetime) and stored != instant:
            if abs(stored - instant) <= _MAX_OFFSET:
                await conn.execute_query(
                    f"UPDATE commission_rules SET `{name}` = %s WHERE id = %s",
                    [_mysql_text(instant), rule_id],
                )


async def stored_times_to_utc(apps: Any, schema_editor: Any) -> None:
    client = schema_editor.client
    async with client._in_transaction() as conn:
        if client.capabilities.dialect == "mysql":
            await _mysql_orders_to_utc(conn)
            await _mysql_rules_to_utc(conn)
        else:
            await _sqlite_to_utc(conn)


class Migration(migrations.Migration):
    dependencies = [("models", "0006_order_auto_completion")]

    initial = False

    operations = [
        _FieldClassOnly(
            model_name='Adjustment',
            name='created_at',
            field=UtcDatetimeField(auto_now=False, auto_now_add=True),
        ),
        _FieldClassOnly(
            model_name='AdjustmentBatch',
            name='created_at',
            field=UtcDatetimeField(auto_now=False, auto_now_add=True),
        ),
        _FieldClassOnly(
            model_name='Anomaly',
            name='created_at',
            field=UtcDatetimeField(auto_now=False, auto_now_add=True),
        ),
        _FieldClassOnly(
            model_name='Anomaly',
            name='decided_at',
            field=UtcDatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='Anomaly',
            name='updated_at',
            field=UtcDatetimeField(auto_now=True, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='ApiKey',
            name='created_at',
            field=UtcDatetimeField(auto_now=False, auto_now_add=True),
        ),
        _FieldClassOnly(
            model_name='ApiKey',
            name='last_used_at',
            field=UtcDatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='ApiKey',
            name='revoked_at',
            field=UtcDatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='AuditLog',
            name='at',
            field=UtcDatetimeField(db_index=True, auto_now=False, auto_now_add=True),
        ),
        _FieldClassOnly(
            model_name='Binding',
            name='bound_at',
            field=UtcDatetimeField(auto_now=False, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='Binding',
            name='created_at',
            field=UtcDatetimeField(auto_now=False, auto_now_add=True),
        ),
        _FieldClassOnly(
            model_name='Binding',
            name='ended_at',
            field=UtcDatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='Binding',
            name='expires_at',
            field=UtcDatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='Channel',
            name='created_at',
            field=UtcDatetimeField(auto_now=False, auto_now_add=True),
        ),
        _FieldClassOnly(
            model_name='Commission',
            name='approved_at',
            field=UtcDatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='Commission',
            name='created_at',
            field=UtcDatetimeField(auto_now=False, auto_now_add=True),
        ),
        _FieldClassOnly(
            model_name='Commission',
            name='paid_at',
            field=UtcDatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='Commission',
            name='settled_at',
            field=UtcDatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='Commission',
            name='unlock_at',
            field=UtcDatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='Commission',
            name='updated_at',
            field=UtcDatetimeField(auto_now=True, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='CommissionChange',
            name='at',
            field=UtcDatetimeField(auto_now=False, auto_now_add=True),
        ),
        _FieldClassOnly(
            model_name='CommissionRuleRecord',
            name='created_at',
            field=UtcDatetimeField(auto_now=False, auto_now_add=True),
        ),
        _FieldClassOnly(
            model_name='CommissionRuleRecord',
            name='updated_at',
            field=UtcDatetimeField(auto_now=True, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='CommissionRuleRecord',
            name='valid_from',
            field=UtcDatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='CommissionRuleRecord',
            name='valid_to',
            field=UtcDatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='Dispute',
            name='opened_at',
            field=UtcDatetimeField(auto_now=False, auto_now_add=True),
        ),
        _FieldClassOnly(
            model_name='Dispute',
            name='resolved_at',
            field=UtcDatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='Dispute',
            name='updated_at',
            field=UtcDatetimeField(auto_now=True, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='DisputeMessage',
            name='created_at',
            field=UtcDatetimeField(auto_now=False, auto_now_add=True),
        ),
        _FieldClassOnly(
            model_name='HierarchyMove',
            name='at',
            field=UtcDatetimeField(auto_now=False, auto_now_add=True),
        ),
        _FieldClassOnly(
            model_name='JobRun',
            name='finished_at',
            field=UtcDatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='JobRun',
            name='started_at',
            field=UtcDatetimeField(auto_now=False, auto_now_add=True),
        ),
        _FieldClassOnly(
            model_name='LedgerEntry',
            name='created_at',
            field=UtcDatetimeField(auto_now=False, auto_now_add=True),
        ),
        _FieldClassOnly(
            model_name='LoginThrottle',
            name='locked_until',
            field=UtcDatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='LoginThrottle',
            name='updated_at',
            field=UtcDatetimeField(auto_now=True, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='LoginThrottle',
            name='window_started_at',
            field=UtcDatetimeField(auto_now=False, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='Notification',
            name='created_at',
            field=UtcDatetimeField(auto_now=False, auto_now_add=True),
        ),
        _FieldClassOnly(
            model_name='Notification',
            name='next_attempt_at',
            field=UtcDatetimeField(auto_now=False, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='Notification',
            name='sent_at',
            field=UtcDatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='Notification',
            name='updated_at',
            field=UtcDatetimeField(auto_now=True, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='Order',
            name='cancelled_at',
            field=UtcDatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='Order',
            name='completed_at',
            field=UtcDatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='Order',
            name='created_at',
            field=UtcDatetimeField(auto_now=False, auto_now_add=True),
        ),
        _FieldClassOnly(
            model_name='Order',
            name='paid_at',
            field=UtcDatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='Order',
            name='placed_at',
            field=UtcDatetimeField(auto_now=False, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='Order',
            name='updated_at',
            field=UtcDatetimeField(auto_now=True, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='OrderEvent',
            name='applied_at',
            field=UtcDatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='OrderEvent',
            name='received_at',
            field=UtcDatetimeField(auto_now=False, auto_now_add=True),
        ),
        _FieldClassOnly(
            model_name='PayoutBatch',
            name='completed_at',
            field=UtcDatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='PayoutBatch',
            name='created_at',
            field=UtcDatetimeField(auto_now=False, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='PayoutItem',
            name='created_at',
            field=UtcDatetimeField(auto_now=False, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='PeriodCapRecord',
            name='created_at',
            field=UtcDatetimeField(auto_now=False, auto_now_add=True),
        ),
        _FieldClassOnly(
            model_name='PeriodCapRecord',
            name='updated_at',
            field=UtcDatetimeField(auto_now=True, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='Program',
            name='created_at',
            field=UtcDatetimeField(auto_now=False, auto_now_add=True),
        ),
        _FieldClassOnly(
            model_name='Program',
            name='updated_at',
            field=UtcDatetimeField(auto_now=True, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='Promoter',
            name='applied_at',
            field=UtcDatetimeField(auto_now=False, auto_now_add=True),
        ),
        _FieldClassOnly(
            model_name='Promoter',
            name='decided_at',
            field=UtcDatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='Promoter',
            name='updated_at',
            field=UtcDatetimeField(auto_now=True, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='PromoterBalance',
            name='updated_at',
            field=UtcDatetimeField(auto_now=True, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='PromoterSite',
            name='granted_at',
            field=UtcDatetimeField(auto_now=False, auto_now_add=True),
        ),
        _FieldClassOnly(
            model_name='PromoterStatusChange',
            name='at',
            field=UtcDatetimeField(auto_now=False, auto_now_add=True),
        ),
        _FieldClassOnly(
            model_name='QrImage',
            name='created_at',
            field=UtcDatetimeField(auto_now=False, auto_now_add=True),
        ),
        _FieldClassOnly(
            model_name='QueuedOrderEvent',
            name='claimed_until',
            field=UtcDatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='QueuedOrderEvent',
            name='processed_at',
            field=UtcDatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='QueuedOrderEvent',
            name='received_at',
            field=UtcDatetimeField(auto_now=False, auto_now_add=True),
        ),
        _FieldClassOnly(
            model_name='RefreshToken',
            name='created_at',
            field=UtcDatetimeField(auto_now=False, auto_now_add=True),
        ),
        _FieldClassOnly(
            model_name='RefreshToken',
            name='expires_at',
            field=UtcDatetimeField(auto_now=False, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='RefreshToken',
            name='revoked_at',
            field=UtcDatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='RefreshToken',
            name='used_at',
            field=UtcDatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='S2SClick',
            name='created_at',
            field=UtcDatetimeField(auto_now=False, auto_now_add=True),
        ),
        _FieldClassOnly(
            model_name='S2SClick',
            name='occurred_at',
            field=UtcDatetimeField(auto_now=False, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='S2SNonce',
            name='seen_at',
            field=UtcDatetimeField(auto_now=False, auto_now_add=True),
        ),
        _FieldClassOnly(
            model_name='S2SNonce',
            name='signed_at',
            field=UtcDatetimeField(db_index=True, auto_now=False, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='ShareCode',
            name='created_at',
            field=UtcDatetimeField(auto_now=False, auto_now_add=True),
        ),
        _FieldClassOnly(
            model_name='ShareLink',
            name='created_at',
            field=UtcDatetimeField(auto_now=False, auto_now_add=True),
        ),
        _FieldClassOnly(
            model_name='Site',
            name='created_at',
            field=UtcDatetimeField(auto_now=False, auto_now_add=True),
        ),
        _FieldClassOnly(
            model_name='StaffUser',
            name='created_at',
            field=UtcDatetimeField(auto_now=False, auto_now_add=True),
        ),
        _FieldClassOnly(
            model_name='StaffUser',
            name='last_login_at',
            field=UtcDatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='User',
            name='created_at',
            field=UtcDatetimeField(auto_now=False, auto_now_add=True),
        ),
        _FieldClassOnly(
            model_name='User',
            name='last_login_at',
            field=UtcDatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='Visit',
            name='at',
            field=UtcDatetimeField(auto_now=False, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='Withdrawal',
            name='approved_at',
            field=UtcDatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='Withdrawal',
            name='created_at',
            field=UtcDatetimeField(auto_now=False, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='Withdrawal',
            name='decided_at',
            field=UtcDatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='Withdrawal',
            name='paid_at',
            field=UtcDatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='Withdrawal',
            name='transfer_started_at',
            field=UtcDatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='Withdrawal',
            name='updated_at',
            field=UtcDatetimeField(auto_now=False, auto_now_add=False),
        ),
        _FieldClassOnly(
            model_name='WithdrawalChange',
            name='at',
            field=UtcDatetimeField(auto_now=False, auto_now_add=False),
        ),
        ops.RunPython(stored_times_to_utc),
    ]
