from tortoise import fields
from tortoise.models import Model

from server.models.fields import UtcDatetimeField


class IdempotencyRecord(Model):
    """One used idempotency key: written in the transaction of the record it created.

    Unique per (caller, route, key), so of two concurrent requests with one key exactly one
    commits; `request_digest` tells a replay from another request (NULL: a key recorded
    before digests existed, which replays whatever is asked).
    """

    id = fields.BigIntField(primary_key=True)
    subject = fields.CharField(max_length=64)
    route = fields.CharField(max_length=128)
    key = fields.CharField(max_length=128)
    request_digest = fields.CharField(max_length=64, null=True)
    resource_id = fields.BigIntField(null=True)
    created_at = UtcDatetimeField()

    class Meta:
        table = "idempotency_keys"
        unique_together = (("subject", "route", "key"),)
