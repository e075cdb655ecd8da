from tortoise import fields
from tortoise.models import Model

from server.models.fields import UtcDatetimeField


class Dispute(Model):
    """A promoter claim about a commission or about an order that earned nothing.

    Subject: `commission` (commission_id set) or `missing_order` (external_order_id set).
    Resolved by staff: accepted with an adjustment, or rejected with a reason.
    """

    id = fields.BigIntField(primary_key=True)
    program = fields.ForeignKeyField("models.Program", related_name="disputes")
    promoter = fields.ForeignKeyField("models.Promoter", related_name="disputes")
    subject_kind = fields.CharField(max_length=16)  # commission | missing_order
    commission_id = fields.BigIntField(null=True)
    external_order_id = fields.CharField(max_length=64, null=True)
    # open | answered | awaiting_staff | resolved_accepted | resolved_rejected
    status = fields.CharField(max_length=24)
    resolution_reason = fields.CharField(max_length=512, null=True)
    adjustment_id = fields.BigIntField(null=True)
    resolved_by = fields.BigIntField(null=True)
    opened_at = UtcDatetimeField(auto_now_add=True)
    updated_at = UtcDatetimeField(auto_now=True)
    resolved_at = UtcDatetimeField(null=True)

    class Meta:
        table = "disputes"
        indexes = (("program_id", "status", "id"), ("promoter_id", "id"))


class DisputeMessage(Model):
    """One message of a dispute thread, from the promoter or from staff. Append-only."""

    id = fields.BigIntField(primary_key=True)
    dispute = fields.ForeignKeyField("models.Dispute", related_name="messages")
    author_kind = fields.CharField(max_length=16)  # promoter | staff
    author_id = fields.BigIntField()
    body = fields.TextField()
    created_at = UtcDatetimeField(auto_now_add=True)

    class Meta:
        table = "dispute_messages"
