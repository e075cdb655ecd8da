"""Personal numbers are sealed at rest (server/services/access/sealing.py, docs/design/access.md):
promoter tax ids and withdrawal bank account numbers are encrypted, each account number gets
its keyed hash for matching, and each request fingerprint (it names the account) is hashed."""

import os

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

from server.services.access.sealing import SEALED_PREFIX, keyed_hash, seal, sealed_account_number

PLAIN_FINGERPRINT = "amount="  # how every fingerprint written before sealing begins


class _Widened(ops.AlterField):
    """A longer VARCHAR on MariaDB; on SQLite, which does not enforce lengths, only the model
    state changes (its table rebuild would trip the foreign keys of the rows that reference it)."""

    async def database_forward(self, app_label, old_state, new_state, state_editor=None) -> None:
        if state_editor is not None and state_editor.client.capabilities.dialect == "mysql":
            await super().database_forward(app_label, old_state, new_state, state_editor)

    async def database_backward(self, app_label, old_state, new_state, state_editor=None) -> None:
        if state_editor is not None and state_editor.client.capabilities.dialect == "mysql":
            await super().database_backward(app_label, old_state, new_state, state_editor)


def _require_a_lasting_key() -> None:
    # Without it, the development key derives from JWT_SECRET, which `server.cli` makes up
    # per run when unset: what this run sealed, no later server could open.
    if not os.environ.get("S2S_KEY_ENCRYPTION_KEY"):
        raise RuntimeError(
            "set S2S_KEY_ENCRYPTION_KEY (and keep it for the server) before this upgrade: it "
            "encrypts the stored tax ids and bank account numbers"
        )


async def require_a_lasting_key(apps, schema_editor) -> None:
    """Refuse, before any column changes, when there is something to seal but no lasting key."""
    [found] = await schema_editor.client.execute_query_dict(
        "SELECT (SELECT COUNT(*) FROM promoters WHERE tax_id IS NOT NULL AND tax_id <> '')"
        " + (SELECT COUNT(*) FROM withdrawals) AS n"
    )
    if int(found["n"]):
        _require_a_lasting_key()


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
        ops.RunPython(require_a_lasting_key, reverse_code=ops.RunPython.noop),
        _Widened(
            model_name="Promoter",
            name="tax_id",
            field=fields.CharField(null=True, max_length=255),
        ),
        _Widened(
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
