"""Programs paying more levels than MAX_COMMISSION_LEVELS keep only their nearest levels;
each one changed is logged and audited (`program.levels_capped`). docs/lawful-levels.md."""

import json
import logging
from datetime import UTC, datetime

from tortoise import migrations
from tortoise.migrations import operations as ops

from server.config import commission_level_cap
from server.domain.programs.levels import capped_levels

log = logging.getLogger("fenxiao.migrations")


def _rates(stored: object) -> list[object]:
    value = json.loads(stored) if isinstance(stored, str | bytes) else stored
    return list(value) if isinstance(value, list) else []


async def cap_program_levels(apps, schema_editor) -> None:
    conn = schema_editor.client
    mark = "%s" if conn.capabilities.dialect == "mysql" else "?"
    cap = commission_level_cap()
    rows = await conn.execute_query_dict(
        f"SELECT id, max_levels, level_rates FROM programs WHERE max_levels > {mark} ORDER BY id",
        [cap],
    )
    for row in rows:
        before = {"max_levels": int(row["max_levels"]), "level_rates": _rates(row["level_rates"])}
        capped = capped_levels(before["max_levels"], before["level_rates"], cap)
        if capped is None:
            continue
        after = {"max_levels": capped.max_levels, "level_rates": capped.level_rates}
        now = datetime.now(UTC)
        await conn.execute_query(
            f"UPDATE programs SET max_levels = {mark}, level_rates = {mark}, updated_at = {mark}"
            f" WHERE id = {mark}",
            [after["max_levels"], json.dumps(after["level_rates"]), now, row["id"]],
        )
        details = {"changes": {key: {"before": before[key], "after": after[key]} for key in after}}
        details["max_commission_levels"] = cap
        await conn.execute_query(
            "INSERT INTO audit_log (actor_kind, actor_id, action, target_kind, target_id,"
            " program_id, details, request_id, at)"
            f" VALUES ({mark}, NULL, {mark}, {mark}, {mark}, {mark}, {mark}, NULL, {mark})",
            [
                "system",
                "program.levels_capped",
                "program",
                row["id"],
                row["id"],
                json.dumps(details),
                now,
            ],
        )
        log.warning(
            "program %s paid %s levels, above MAX_COMMISSION_LEVELS=%s: now levels %s (rates %s)",
            row["id"],
            before["max_levels"],
            cap,
            after["max_levels"],
            after["level_rates"],
        )


class Migration(migrations.Migration):
    dependencies = [("models", "0007_utc_instants")]

    initial = False

    operations = [
        ops.RunPython(cap_program_levels, reverse_code=ops.RunPython.noop),
    ]
