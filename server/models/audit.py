from tortoise import fields
from tortoise.models import Model

from server.models.fields import UtcDatetimeField


class AuditLog(Model):
    """Append-only record of every staff, finance and system action."""

    id = fields.BigIntField(primary_key=True)
    actor_kind = fields.CharField(max_length=16)  # staff | user | system
    actor_id = fields.BigIntField(null=True)
    action = fields.CharField(max_length=64, db_index=True)
    target_kind = fields.CharField(max_length=32)
    target_id = fields.BigIntField(null=True)
    program_id = fields.BigIntField(null=True, db_index=True)
    details = fields.JSONField(default=dict)
    request_id = fields.CharField(max_length=64, null=True)
    at = UtcDatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "audit_log"
        indexes = (("target_kind", "target_id"),)
