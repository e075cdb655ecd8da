"""The store's catalog, pushed over signed S2S: categories and products by the store's ids."""

from tortoise import fields
from tortoise.models import Model

from server.models.fields import UtcDatetimeField


class CatalogCategory(Model):
    """A category of the store: rules and reports name it by external_id, the id in the store."""

    id = fields.BigIntField(primary_key=True)
    program = fields.ForeignKeyField("models.Program", related_name="catalog_categories")
    external_id = fields.CharField(max_length=64)
    name = fields.CharField(max_length=128)
    # The store's own time of its last change: an older push never overwrites a newer one.
    updated_at = UtcDatetimeField()
    synced_at = UtcDatetimeField()

    class Meta:
        table = "catalog_categories"
        unique_together = (("program", "external_id"),)


class CatalogProduct(Model):
    """A product of the store: order lines and rules name it by external_id."""

    id = fields.BigIntField(primary_key=True)
    program = fields.ForeignKeyField("models.Program", related_name="catalog_products")
    external_id = fields.CharField(max_length=64)
    name = fields.CharField(max_length=255)
    category_id = fields.CharField(max_length=64, null=True)
    price = fields.DecimalField(max_digits=18, decimal_places=2)
    currency = fields.CharField(max_length=3)
    # active | inactive
    status = fields.CharField(max_length=16)
    updated_at = UtcDatetimeField()
    synced_at = UtcDatetimeField()

    class Meta:
        table = "catalog_products"
        unique_together = (("program", "external_id"),)


class CatalogPush(Model):
    """One accepted catalog push and its answer, which an Idempotency-Key replays."""

    id = fields.BigIntField(primary_key=True)
    program = fields.ForeignKeyField("models.Program", related_name="catalog_pushes")
    key_id = fields.CharField(max_length=64)
    result = fields.JSONField(default=dict)
    created_at = UtcDatetimeField(auto_now_add=True)

    class Meta:
        table = "catalog_pushes"
