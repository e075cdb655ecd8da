from tortoise import fields
from tortoise.models import Model

from server.models.fields import UtcDatetimeField


class Commission(Model):
    """One commission: an order line, a beneficiary and a level (0 = self-purchase rebate).

    `amount` is what the line earns now (after refunds), `original_amount` what it earned
    when the order was paid, `settled_amount` what has been credited to the ledger. The
    explanation and the rule snapshot make every cent reproducible.
    """

    id = fields.BigIntField(primary_key=True)
    program = fields.ForeignKeyField("models.Program", related_name="commissions")
    order = fields.ForeignKeyField("models.Order", related_name="commissions")
    order_line = fields.ForeignKeyField("models.OrderLine", related_name="commissions")
    promoter = fields.ForeignKeyField("models.Promoter", related_name="commissions")
    level = fields.SmallIntField()
    currency = fields.CharField(max_length=3)
    # pending | approved | settled | paid | rejected | reversed
    status = fields.CharField(max_length=16)
    kind = fields.CharField(max_length=16)  # percent | fixed
    rate = fields.DecimalField(max_digits=9, decimal_places=4, null=True)
    fixed_per_unit = fields.DecimalField(max_digits=18, decimal_places=2, null=True)
    quantity = fields.IntField()
    line_amount = fields.DecimalField(max_digits=18, decimal_places=2)
    base_amount = fields.DecimalField(max_digits=18, decimal_places=2)
    rule_id = fields.BigIntField(null=True)
    rule_source = fields.CharField(max_length=16)  # program_level | self_rebate | rule
    amount = fields.DecimalField(max_digits=18, decimal_places=2)
    original_amount = fields.DecimalField(max_digits=18, decimal_places=2)
    settled_amount = fields.DecimalField(max_digits=18, decimal_places=2, default=0)
    # The domain CommissionLine as JSON: refunds recompute from it, never from rules of today.
    snapshot = fields.JSONField(default=dict)
    explanation = fields.JSONField(default=dict)
    upline_snapshot = fields.JSONField(default=list)
    # Set while an open anomaly holds the commission (not approved, not settled).
    # Tier benefits at order time: a shorter freeze (days) and approval without staff.
    freeze_days = fields.SmallIntField(null=True)
    auto_approve = fields.BooleanField(default=False, db_default=False)
    # The program's rule-set version the commission was computed under (docs/rule-sets.md).
    rule_set_version = fields.IntField(null=True)
    hold_reason = fields.CharField(max_length=64, null=True)
    unlock_at = UtcDatetimeField(null=True)
    reject_reason = fields.CharField(max_length=512, null=True)
    payout_id = fields.BigIntField(null=True)
    created_at = UtcDatetimeField(auto_now_add=True)
    approved_at = UtcDatetimeField(null=True)
    settled_at = UtcDatetimeField(null=True)
    paid_at = UtcDatetimeField(null=True)
    updated_at = UtcDatetimeField(auto_now=True)

    class Meta:
        table = "commissions"
        unique_together = (("order_line", "level"),)
        indexes = (
            ("status", "unlock_at", "id"),
            ("promoter_id", "status", "id"),
            ("program_id", "created_at"),
            ("order_id", "level"),
            # Own settled commissions in a window (the tier job).
            ("program_id", "settled_at"),
        )


class CommissionChange(Model):
    """Append-only history of a commission: every status move and amount change, and why."""

    id = fields.BigIntField(primary_key=True)
    commission = fields.ForeignKeyField("models.Commission", related_name="changes")
    action = fields.CharField(max_length=16)
    from_status = fields.CharField(max_length=16, null=True)
    to_status = fields.CharField(max_length=16)
    amount_before = fields.DecimalField(max_digits=18, decimal_places=2)
    amount_after = fields.DecimalField(max_digits=18, decimal_places=2)
    reason = fields.CharField(max_length=512, null=True)
    order_event_id = fields.BigIntField(null=True)
    actor_kind = fields.CharField(max_length=16)  # staff | system
    actor_id = fields.BigIntField(null=True)
    at = UtcDatetimeField(auto_now_add=True)

    class Meta:
        table = "commission_changes"
