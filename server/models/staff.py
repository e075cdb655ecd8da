from tortoise import fields
from tortoise.models import Model

from server.models.fields import UtcDatetimeField


class StaffUser(Model):
    """A merchant staff, finance or admin account (username + argon2id password hash)."""

    id = fields.BigIntField(primary_key=True)
    username = fields.CharField(max_length=64, unique=True)
    password_hash = fields.CharField(max_length=255)
    display_name = fields.CharField(max_length=64, default="")
    # Subset of {"staff", "finance", "admin"}.
    roles = fields.JSONField(default=list)
    is_active = fields.BooleanField(default=True)
    created_at = UtcDatetimeField(auto_now_add=True)
    last_login_at = UtcDatetimeField(null=True)

    class Meta:
        table = "staff_users"
