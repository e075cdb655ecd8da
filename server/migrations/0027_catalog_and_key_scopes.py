"""The store's catalog (categories, products, pushes) and scoped API keys: every existing key
keeps the write scopes it could use before, so no store breaks."""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops

from server.models.fields import UtcDatetimeField

# What a key could do before scopes existed: order events, clicks, reserved coupon codes.
LEGACY_SCOPES = "events:write clicks:write catalog:write"


async def grant_legacy_scopes(apps, schema_editor) -> None:
    await schema_editor.client.execute_query(
        f"UPDATE api_keys SET scopes = '{LEGACY_SCOPES}' WHERE scopes IS NULL OR scopes = ''"
    )


class Migration(migrations.Migration):
    dependencies = [("models", "0026_rule_set_versions")]

    initial = False

    operations = [
        ops.AddField(
            model_name="ApiKey",
            name="scopes",
            field=fields.CharField(null=True, max_length=255),
        ),
        ops.RunPython(grant_legacy_scopes, reverse_code=ops.RunPython.noop),
        ops.CreateModel(
            name="CatalogCategory",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("program", fields.ForeignKeyField("models.Program", source_field="program_id", db_constraint=True, to_field="id", related_name="catalog_categories", on_delete=OnDelete.CASCADE)),
                ("external_id", fields.CharField(max_length=64)),
                ("name", fields.CharField(max_length=128)),
                ("updated_at", UtcDatetimeField(auto_now=False, auto_now_add=False)),
                ("synced_at", UtcDatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={"table": "catalog_categories", "app": "models", "unique_together": (("program", "external_id"),), "pk_attr": "id", "table_description": "A category of the store: rules and reports name it by external_id, the id in the store."},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="CatalogProduct",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("program", fields.ForeignKeyField("models.Program", source_field="program_id", db_constraint=True, to_field="id", related_name="catalog_products", on_delete=OnDelete.CASCADE)),
                ("external_id", fields.CharField(max_length=64)),
                ("name", fields.CharField(max_length=255)),
                ("category_id", fields.CharField(null=True, max_length=64)),
                ("price", fields.DecimalField(max_digits=18, decimal_places=2)),
                ("currency", fields.CharField(max_length=3)),
                ("status", fields.CharField(max_length=16)),
                ("updated_at", UtcDatetimeField(auto_now=False, auto_now_add=False)),
                ("synced_at", UtcDatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={"table": "catalog_products", "app": "models", "unique_together": (("program", "external_id"),), "pk_attr": "id", "table_description": "A product of the store: order lines and rules name it by external_id."},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="CatalogPush",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("program", fields.ForeignKeyField("models.Program", source_field="program_id", db_constraint=True, to_field="id", related_name="catalog_pushes", on_delete=OnDelete.CASCADE)),
                ("key_id", fields.CharField(max_length=64)),
                ("result", fields.JSONField(default=dict)),
                ("created_at", UtcDatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={"table": "catalog_pushes", "app": "models", "pk_attr": "id", "table_description": "One accepted catalog push and its answer, which an Idempotency-Key replays."},
            bases=["Model"],
        ),
    ]
