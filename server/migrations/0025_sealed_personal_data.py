"""Personal numbers are sealed at rest (server/services/access/sealing.py, docs/design/access.md):
promoter tax ids and withdrawal bank account numbers are encrypted, each account number gets
its keyed hash for matching, and each request fingerprint (it names the account) is hashed."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

from server.services.access.sealing import SEALED_PREFIX, keyed_hash, seal, sealed_account_number

PLAIN_FINGERPRINT = "amount="  # how every fingerprint written before sealing begins


async def seal_personal_data(apps, schema_editor) -> None:
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
    rows = await conn.execute_query_dict(
        "SELECT id, account_number, request_fingerprint FROM withdrawals"
    )
    for row in rows:
        number, fingerprint = row["account_number"], str(row["request_fingerprint"])
        if number and not str(number).startswith(SEALED_PREFIX):
            sealed = sealed_account_number(str(number))
            await conn.execute_query(
                f"UPDATE withdrawals SET account_number = {mark}, account_number_hash = {mark}"
                f" WHERE id = {mark}",
                [sealed["account_number"], sealed["account_number_hash"], row["id"]],
            )
        if fingerprint.startswith(PLAIN_FINGERPRINT):
            await conn.execute_query(
                f"UPDATE withdrawals SET request_fingerprint = {mark} WHERE id = {mark}",
                [keyed_hash(fingerprint), row["id"]],
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
        ops.AlterField(
            model_name="Withdrawal",
            name="account_number",
            field=fields.CharField(null=True, max_length=255),
        ),
        ops.AddField(
            model_name="Withdrawal",
            name="account_number_hash",
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.RunPython(seal_personal_data, reverse_code=ops.RunPython.noop),
    ]
