from tortoise import fields
from tortoise.models import Model

from server.models.fields import UtcDatetimeField


class Invitation(Model):
    """A staff invitation to join a program: a typed code or a link token, usable max_uses
    times until expires_at or until revoked (never deleted)."""

    id = fields.BigIntField(primary_key=True)
    program = fields.ForeignKeyField(
        "models.Program", related_name="invitations", on_delete=fields.RESTRICT
    )
    kind = fields.CharField(max_length=8)  # code | link
    code = fields.CharField(max_length=64)
    max_uses = fields.IntField()
    uses = fields.IntField(default=0)
    note = fields.CharField(max_length=128, default="")
    expires_at = UtcDatetimeField(null=True)
    created_by = fields.BigIntField()
    created_at = UtcDatetimeField()
    revoked_by = fields.BigIntField(null=True)
    revoked_at = UtcDatetimeField(null=True)

    class Meta:
        table = "invitations"
        unique_together = (("program", "code"),)


class InvitationRedemption(Model):
    """A promoter profile created with an invitation (one row per use)."""

    id = fields.BigIntField(primary_key=True)
    invitation = fields.ForeignKeyField(
        "models.Invitation", related_name="redemptions", on_delete=fields.RESTRICT
    )
    promoter = fields.ForeignKeyField(
        "models.Promoter", related_name="invitation_redemptions", on_delete=fields.RESTRICT
    )
    redeemed_at = UtcDatetimeField()

    class Meta:
        table = "invitation_redemptions"
