from tortoise import fields
from tortoise.models import Model

from server.models.fields import UtcDatetimeField


class CommissionRuleRecord(Model):
    """A stored override of the program rates (server.domain.commissions.rules.CommissionRule).

    Editable; every change is audited with its before/after. Commissions keep their own
    snapshot of the rule that applied, so an edit never changes a commission already made.
    `value` is a percent for `percent` rules and an amount per unit for `fixed` rules: four
    decimals and sixteen integer digits hold both.
    """

    id = fields.BigIntField(primary_key=True)
    program = fields.ForeignKeyField("models.Program", related_name="commission_rules")
    name = fields.CharField(max_length=128, default="")
    kind = fields.CharField(max_length=16)  # percent | fixed
    value = fields.DecimalField(max_digits=20, decimal_places=4)
    level = fields.SmallIntField(null=True)  # None = every level the program pays
    product_id = fields.CharField(max_length=64, null=True)
    category = fields.CharField(max_length=64, null=True)
    campaign = fields.CharField(max_length=64, null=True)
    site = fields.ForeignKeyField(
        "models.Site", related_name="commission_rules", null=True, on_delete=fields.RESTRICT
    )
    tier = fields.CharField(max_length=64, null=True)
    promoter = fields.ForeignKeyField(
        "models.Promoter", related_name="commission_rules", null=True, on_delete=fields.RESTRICT
    )
    valid_from = UtcDatetimeField(null=True)
    valid_to = UtcDatetimeField(null=True)
    cap_per_line = fields.DecimalField(max_digits=18, decimal_places=2, null=True)
    priority = fields.IntField(default=0)
    enabled = fields.BooleanField(default=True)
    created_at = UtcDatetimeField(auto_now_add=True)
    updated_at = UtcDatetimeField(auto_now=True)

    class Meta:
        table = "commission_rules"
        indexes = (("program_id", "enabled", "id"),)


class PeriodCapRecord(Model):
    """A stored per-promoter day/month earnings cap (server.domain.commissions.rules.PeriodCap)."""

    id = fields.BigIntField(primary_key=True)
    program = fields.ForeignKeyField("models.Program", related_name="period_caps")
    period = fields.CharField(max_length=8)  # day | month
    amount = fields.DecimalField(max_digits=18, decimal_places=2)
    tier = fields.CharField(max_length=64, null=True)
    promoter = fields.ForeignKeyField(
        "models.Promoter", related_name="period_caps", null=True, on_delete=fields.RESTRICT
    )
    enabled = fields.BooleanField(default=True)
    created_at = UtcDatetimeField(auto_now_add=True)
    updated_at = UtcDatetimeField(auto_now=True)

    class Meta:
        table = "commission_period_caps"
        indexes = (("program_id", "enabled", "id"),)
