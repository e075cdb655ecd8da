from tortoise import fields
from tortoise.models import Model

from server.models.fields import UtcDatetimeField


class PromoterTierRecord(Model):
    """A tier of a program (e.g. silver, gold): entry conditions on own results and benefits.

    Conditions are over the last `period_days` local days of the program, on the promoter own
    results only (never recruits or team volume). A null condition is not required.
    `level_rates` maps a level to a percent replacing the program rate at that level.
    """

    id = fields.BigIntField(primary_key=True)
    program = fields.ForeignKeyField("models.Program", related_name="tiers")
    code = fields.CharField(max_length=32)
    name = fields.CharField(max_length=64, default="")
    rank = fields.IntField(default=1)
    period_days = fields.SmallIntField(default=30)
    min_net_sales = fields.DecimalField(max_digits=18, decimal_places=2, null=True)
    min_settled_commissions = fields.DecimalField(max_digits=18, decimal_places=2, null=True)
    min_paying_customers = fields.IntField(null=True)
    level_rates = fields.JSONField(default=dict)
    rate_multiplier = fields.DecimalField(max_digits=6, decimal_places=4, null=True)
    freeze_days = fields.SmallIntField(null=True)
    auto_approve = fields.BooleanField(default=False)
    enabled = fields.BooleanField(default=True)
    created_at = UtcDatetimeField(auto_now_add=True)
    updated_at = UtcDatetimeField(auto_now=True)

    class Meta:
        table = "promoter_tiers"
        unique_together = (("program", "code"),)


class PromoterTierChange(Model):
    """Append-only history of a promoter tier: each promotion, demotion or assignment with
    the figures that justified it (job) or the staff member and reason (assignment)."""

    id = fields.BigIntField(primary_key=True)
    program_id = fields.BigIntField()
    promoter = fields.ForeignKeyField(
        "models.Promoter", related_name="tier_changes", on_delete=fields.RESTRICT
    )
    from_tier = fields.CharField(max_length=32)
    to_tier = fields.CharField(max_length=32)
    kind = fields.CharField(max_length=16)  # promotion | demotion | assignment
    source = fields.CharField(max_length=16)  # job | staff
    locked = fields.BooleanField(default=False)
    figures = fields.JSONField(default=dict)
    reason = fields.CharField(max_length=512, null=True)
    actor_id = fields.BigIntField(null=True)
    at = UtcDatetimeField()

    class Meta:
        table = "promoter_tier_changes"
        indexes = (("promoter_id", "id"), ("program_id", "at"))


class CommissionBoostRecord(Model):
    """A time-bound boost: commissions on orders placed in [starts_at, ends_at) have their
    rate multiplied, at most up to `max_rate` percent; every other cap still binds."""

    id = fields.BigIntField(primary_key=True)
    program = fields.ForeignKeyField("models.Program", related_name="boosts")
    name = fields.CharField(max_length=128, default="")
    multiplier = fields.DecimalField(max_digits=6, decimal_places=4)
    tier = fields.CharField(max_length=32, null=True)
    starts_at = UtcDatetimeField()
    ends_at = UtcDatetimeField()
    max_rate = fields.DecimalField(max_digits=9, decimal_places=4, null=True)
    enabled = fields.BooleanField(default=True)
    created_at = UtcDatetimeField(auto_now_add=True)
    updated_at = UtcDatetimeField(auto_now=True)

    class Meta:
        table = "commission_boosts"
        indexes = (("program_id", "enabled", "id"),)


class MilestoneBonusRecord(Model):
    """A one-time bonus paid to each promoter whose own net sales on orders placed in
    [starts_at, ends_at) reach `target_net_sales`; at most `max_awards` promoters when set."""

    id = fields.BigIntField(primary_key=True)
    program = fields.ForeignKeyField("models.Program", related_name="milestone_bonuses")
    name = fields.CharField(max_length=128, default="")
    target_net_sales = fields.DecimalField(max_digits=18, decimal_places=2)
    amount = fields.DecimalField(max_digits=18, decimal_places=2)
    tier = fields.CharField(max_length=32, null=True)
    starts_at = UtcDatetimeField()
    ends_at = UtcDatetimeField()
    max_awards = fields.IntField(null=True)
    awarded_count = fields.IntField(default=0)
    enabled = fields.BooleanField(default=True)
    created_at = UtcDatetimeField(auto_now_add=True)
    updated_at = UtcDatetimeField(auto_now=True)

    class Meta:
        table = "milestone_bonuses"
        indexes = (("program_id", "enabled", "id"),)


class BonusAward(Model):
    """A milestone bonus paid to one promoter: at most one per bonus and promoter, credited
    to the ledger under the reference bonus:<bonus>:<promoter>."""

    id = fields.BigIntField(primary_key=True)
    bonus = fields.ForeignKeyField(
        "models.MilestoneBonusRecord", related_name="awards", on_delete=fields.RESTRICT
    )
    promoter = fields.ForeignKeyField(
        "models.Promoter", related_name="bonus_awards", on_delete=fields.RESTRICT
    )
    program_id = fields.BigIntField()
    currency = fields.CharField(max_length=3)
    amount = fields.DecimalField(max_digits=18, decimal_places=2)
    explanation = fields.JSONField(default=dict)
    ledger_reference = fields.CharField(max_length=128)
    awarded_at = UtcDatetimeField()

    class Meta:
        table = "bonus_awards"
        unique_together = (("bonus", "promoter"),)
        # The program's awards, newest first (the admin list and its CSV).
        indexes = (("program_id", "id"),)
