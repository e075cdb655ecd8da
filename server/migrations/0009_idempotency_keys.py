from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

from server.models.fields import UtcDatetimeField

# The routes whose keys used to live on their own rows (server/idempotent.py names routes so).
WITHDRAWALS = "POST /mp/v1/programs/<program_id:int>/withdrawals"
ADJUSTMENTS = "POST /admin/v1/programs/<program_id:int>/adjustments"


async def copy_keys_from_their_rows(apps, schema_editor) -> None:
    """A retry of a request made before this release replays its record, never a second."""
    client = schema_editor.client
    rows = [
        (f"user:{row['user_id']}", WITHDRAWALS, row)
        for row in await client.execute_query_dict(
            "SELECT id, user_id, idempotency_key, created_at FROM withdrawals"
            " WHERE origin = 'request'"
        )
    ] + [
        (f"staff:{row['created_by']}", ADJUSTMENTS, row)
        for row in await client.execute_query_dict(
            "SELECT id, created_by, idempotency_key, created_at FROM adjustments"
            " WHERE batch_id IS NULL AND dispute_id IS NULL"
        )
    ]
    # Keys were unique per promoter or program, now per caller and route: a key one caller
    # used in two programs names no single record, so it is left out.
    uses: dict[tuple[str, str, str], list[dict]] = {}
    for subject, route, row in rows:
        uses.setdefault((subject, route, row["idempotency_key"]), []).append(row)
    mark = "%s" if client.capabilities.dialect == "mysql" else "?"
    insert = (
        "INSERT INTO idempotency_keys (subject, route, `key`, request_digest, resource_id,"
        f" created_at) VALUES ({mark}, {mark}, {mark}, NULL, {mark}, {mark})"
    )
    for (subject, route, key), found in uses.items():
        if len(found) == 1:
            await client.execute_insert(
                insert, [subject, route, key, found[0]["id"], found[0]["created_at"]]
            )


class Migration(migrations.Migration):
    dependencies = [('models', '0008_lawful_levels')]

    initial = False

    operations = [
        ops.CreateModel(
            name='IdempotencyRecord',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('subject', fields.CharField(max_length=64)),
                ('route', fields.CharField(max_length=128)),
                ('key', fields.CharField(max_length=128)),
                ('request_digest', fields.CharField(null=True, max_length=64)),
                ('resource_id', fields.BigIntField(null=True)),
                ('created_at', UtcDatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'idempotency_keys', 'app': 'models', 'unique_together': (('subject', 'route', 'key'),), 'pk_attr': 'id', 'table_description': 'One used idempotency key: written in the transaction of the record it created.'},
            bases=['Model'],
        ),
        ops.RunPython(copy_keys_from_their_rows),
    ]
