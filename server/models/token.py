from tortoise import fields
from tortoise.models import Model

from server.models.fields import UtcDatetimeField


class RefreshToken(Model):
    """The id of a refresh token, rotated on use, so a replayed refresh token is refused."""

    id = fields.BigIntField(primary_key=True)
    jti = fields.CharField(max_length=64, unique=True)
    # The jti of the sign-in's first refresh token: reuse or logout revokes the whole family.
    family = fields.CharField(max_length=64, null=True, db_index=True)
    subject_kind = fields.CharField(max_length=16)  # "user" | "staff"
    subject_id = fields.BigIntField()
    expires_at = UtcDatetimeField()
    used_at = UtcDatetimeField(null=True)
    revoked_at = UtcDatetimeField(null=True)
    created_at = UtcDatetimeField(auto_now_add=True)

    class Meta:
        table = "refresh_tokens"
        indexes = (("subject_kind", "subject_id"),)
