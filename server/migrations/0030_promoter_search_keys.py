"""Promoter search keys: the name and phone as staff search them, each indexed per program
(server/domain/promoters/search.py), filled in for every existing promoter."""

from tortoise import migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from server.domain.promoters.search import name_key, phone_digits, phone_reversed
from server.models.fields import SearchKeyField

BATCH = 1000


async def fill_search_keys(apps, schema_editor) -> None:
    conn = schema_editor.client
    mark = "%s" if conn.capabilities.dialect == "mysql" else "?"
    last = 0
    while True:
        rows = await conn.execute_query_dict(
            f"SELECT id, real_name, phone FROM promoters WHERE id > {mark}"
            f" AND (real_name IS NOT NULL OR phone IS NOT NULL) ORDER BY id LIMIT {BATCH}",
            [last],
        )
        if not rows:
            return
        for row in rows:
            await conn.execute_query(
                f"UPDATE promoters SET name_key = {mark}, phone_digits = {mark},"
                f" phone_reversed = {mark} WHERE id = {mark}",
                [
                    name_key(row["real_name"]),
                    phone_digits(row["phone"]),
                    phone_reversed(row["phone"]),
                    row["id"],
                ],
            )
        last = rows[-1]["id"]


class Migration(migrations.Migration):
    dependencies = [("models", "0029_promotion_tools")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Promoter",
            name="name_key",
            field=SearchKeyField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name="Promoter",
            name="phone_digits",
            field=SearchKeyField(null=True, max_length=32),
        ),
        ops.AddField(
            model_name="Promoter",
            name="phone_reversed",
            field=SearchKeyField(null=True, max_length=32),
        ),
        ops.AddIndex(
            model_name="Promoter",
            index=Index(fields=["program_id", "name_key", "status"]),
        ),
        ops.AddIndex(
            model_name="Promoter",
            index=Index(fields=["program_id", "phone_digits", "status"]),
        ),
        ops.AddIndex(
            model_name="Promoter",
            index=Index(fields=["program_id", "phone_reversed", "status"]),
        ),
        ops.RunPython(fill_search_keys, reverse_code=ops.RunPython.noop),
    ]
