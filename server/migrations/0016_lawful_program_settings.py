"""Programs lose settings the law or the payment rail rule out, each change logged and
audited: an entry fee or deposit (`program.entry_fee_removed`) and WeChat withdrawals in a
currency other than CNY (`program.wechat_withdrawals_removed`). docs/program-settings.md."""

import json
import logging
from datetime import UTC, datetime

from tortoise import migrations
from tortoise.migrations import operations as ops

from server.domain.money import CURRENCY_EXPONENTS, read_decimal
from server.domain.programs.lawful import ENTRY_FEE_KEYS, wechat_currency_problem
from server.domain.programs.settings import default_methods

log = logging.getLogger("fenxiao.migrations")


def _json(stored: object) -> dict:
    value = json.loads(stored) if isinstance(stored, str | bytes) else stored
    return dict(value) if isinstance(value, dict) else {}


def _without_fee(requirements: dict) -> tuple[dict, dict]:
    """(requirements without entry-fee keys, the non-zero fees removed)."""
    fees = {key: requirements[key] for key in ENTRY_FEE_KEYS if key in requirements}
    charged = {key: str(v) for key, v in fees.items() if v is not None and read_decimal(v) != 0}
    kept = {key: v for key, v in requirements.items() if key not in ENTRY_FEE_KEYS}
    return kept, charged


def _payable(currency: str, rules: dict) -> dict | None:
    """The withdrawal rules without WeChat when the currency cannot use it, else None."""
    if currency not in CURRENCY_EXPONENTS:
        return None  # not a currency this code pays in at all: nothing to decide here
    methods = rules.get("methods")
    methods = list(methods) if isinstance(methods, list) else list(default_methods(None))
    if not wechat_currency_problem(currency, methods):
        return None
    kept = [method for method in methods if method != "wechat"]
    return {**rules, "methods": kept or list(default_methods(currency))}


async def _audit(conn, mark: str, program_id: int, action: str, details: dict) -> None:
    await conn.execute_query(
        "INSERT INTO audit_log (actor_kind, actor_id, action, target_kind, target_id,"
        " program_id, details, request_id, at)"
        f" VALUES ({mark}, NULL, {mark}, {mark}, {mark}, {mark}, {mark}, NULL, {mark})",
        ["system", action, "program", program_id, program_id, json.dumps(details),
         datetime.now(UTC)],
    )  # fmt: skip


async def remove_unlawful_settings(apps, schema_editor) -> None:
    conn = schema_editor.client
    mark = "%s" if conn.capabilities.dialect == "mysql" else "?"
    rows = await conn.execute_query_dict(
        "SELECT id, currency, requirements, withdrawal_rules FROM programs ORDER BY id"
    )
    for row in rows:
        program_id = int(row["id"])
        requirements = _json(row["requirements"])
        kept, charged = _without_fee(requirements)
        rules = _json(row["withdrawal_rules"])
        payable = _payable(row["currency"], rules)
        if kept == requirements and payable is None:
            continue
        await conn.execute_query(
            f"UPDATE programs SET requirements = {mark}, withdrawal_rules = {mark},"
            f" updated_at = {mark} WHERE id = {mark}",
            [json.dumps(kept), json.dumps(payable or rules), datetime.now(UTC), program_id],
        )
        if charged:
            details = {"changes": {"requirements": {"before": requirements, "after": kept}}}
            await _audit(conn, mark, program_id, "program.entry_fee_removed", details)
            log.warning(
                "program %s asked applicants for an entry fee %s: removed (《禁止传销条例》第七条)",
                program_id,
                charged,
            )
        if payable is not None:
            change = {"before": rules.get("methods"), "after": payable["methods"]}
            details = {"changes": {"withdrawal_rules.methods": change}}
            await _audit(conn, mark, program_id, "program.wechat_withdrawals_removed", details)
            log.warning(
                "program %s pays in %s, which WeChat transfers do not: methods now %s",
                program_id,
                row["currency"],
                payable["methods"],
            )


class Migration(migrations.Migration):
    dependencies = [("models", "0015_withdrawal_deductions")]

    initial = False

    operations = [
        ops.RunPython(remove_unlawful_settings, reverse_code=ops.RunPython.noop),
    ]
