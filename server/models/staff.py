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


class StaffProgram(Model):
    """A program a staff or finance account is limited to (an account with none sees all)."""

    id = fields.BigIntField(primary_key=True)
    staff = fields.ForeignKeyField("models.StaffUser", related_name="program_links")
    program = fields.ForeignKeyField("models.Program", related_name="staff_links")
    created_at = UtcDatetimeField(auto_now_add=True)

    class Meta:
        table = "staff_programs"
        unique_together = (("staff", "program"),)
