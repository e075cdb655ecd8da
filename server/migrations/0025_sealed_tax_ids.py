"""Promoter tax ids are sealed at rest: the column widens to hold ciphertext and every stored
plain tax id is encrypted (server/services/access/sealing.py, docs/design/access.md)."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

from server.services.access.sealing import SEALED_PREFIX, seal


async def seal_tax_ids(apps, schema_editor) -> None:
    conn = schema_editor.client
    mark = "%s" if conn.capabilities.dialect == "mysql" else "?"
    rows = await conn.execute_query_dict(
        "SELECT id, tax_id FROM promoters WHERE tax_id IS NOT NULL AND tax_id <> ''"
    )
    for row in rows:
        if not str(row["tax_id"]).startswith(SEALED_PREFIX):
            await conn.execute_query(
                f"UPDATE promoters SET tax_id = {mark} WHERE id = {mark}",
                [seal(str(row["tax_id"])), row["id"]],
            )


class Migration(migrations.Migration):
    dependencies = [("models", "0024_report_daily_rollups")]

    initial = False

    operations = [
        ops.AlterField(
            model_name="Promoter",
            name="tax_id",
            field=fields.CharField(null=True, max_length=255),
        ),
        ops.RunPython(seal_tax_ids, reverse_code=ops.RunPython.noop),
    ]
