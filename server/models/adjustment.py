from tortoise import fields
from tortoise.models import Model

from server.models.fields import UtcDatetimeField


class AdjustmentBatch(Model):
    """A CSV upload of adjustments, applied all at once (a refused upload leaves no row).

    The SHA-256 of the file is unique per program: the same file cannot be applied twice.
    """

    id = fields.BigIntField(primary_key=True)
    program = fields.ForeignKeyField("models.Program", related_name="adjustment_batches")
    filename = fields.CharField(max_length=255)
    content_sha256 = fields.CharField(max_length=64)
    row_count = fields.IntField()
    currency = fields.CharField(max_length=3)
    total_amount = fields.DecimalField(max_digits=18, decimal_places=2)
    status = fields.CharField(max_length=16, default="applied")  # applied
    created_by = fields.BigIntField()
    created_at = UtcDatetimeField(auto_now_add=True)

    class Meta:
        table = "adjustment_batches"
        unique_together = (("program", "content_sha256"),)


class Adjustment(Model):
    """A manual credit or debit of a promoter available balance, posted to the ledger.

    `ledger_reference` is the reference of its ledger movement. `idempotency_key` (unique
    per program) makes a retried request return the first adjustment instead of a second.
    """

    id = fields.BigIntField(primary_key=True)
    program = fields.ForeignKeyField("models.Program", related_name="adjustments")
    promoter = fields.ForeignKeyField("models.Promoter", related_name="adjustments")
    currency = fields.CharField(max_length=3)
    amount = fields.DecimalField(max_digits=18, decimal_places=2)
    # bonus | correction | penalty | chargeback | goodwill | dispute_resolution | other
    reason_code = fields.CharField(max_length=32)
    memo = fields.CharField(max_length=255, default="")
    created_by = fields.BigIntField()
    batch = fields.ForeignKeyField("models.AdjustmentBatch", related_name="adjustments", null=True)
    dispute_id = fields.BigIntField(null=True)
    idempotency_key = fields.CharField(max_length=128)
    ledger_reference = fields.CharField(max_length=128, null=True)
    created_at = UtcDatetimeField(auto_now_add=True)

    class Meta:
        table = "adjustments"
        unique_together = (("program", "idempotency_key"),)
        indexes = (("program_id", "promoter_id", "id"), ("program_id", "reason_code", "id"))
