from tortoise import fields
from tortoise.models import Model

from server.models.fields import UtcDatetimeField


class Notification(Model):
    """A WeChat subscribe message waiting in the outbox, sent later by the notifications job.

    `reference` makes enqueueing idempotent: the same business event never queues two messages.
    """

    id = fields.BigIntField(primary_key=True)
    user = fields.ForeignKeyField("models.User", related_name="notifications")
    program = fields.ForeignKeyField("models.Program", related_name="notifications")
    template = fields.CharField(max_length=64)  # a kind such as withdrawal_paid, not an id
    data = fields.JSONField(default=dict)
    reference = fields.CharField(max_length=128, unique=True)
    status = fields.CharField(max_length=16, default="pending")  # pending | sent | failed
    attempts = fields.IntField(default=0)
    last_error = fields.CharField(max_length=512, null=True)
    next_attempt_at = UtcDatetimeField()
    sent_at = UtcDatetimeField(null=True)
    created_at = UtcDatetimeField(auto_now_add=True)
    updated_at = UtcDatetimeField(auto_now=True)

    class Meta:
        table = "notifications"
        indexes = (("status", "next_attempt_at"),)
