from tortoise import fields
from tortoise.models import Model

from server.models.fields import UtcDatetimeField


class ApiKey(Model):
    """A server-to-server key of a program: a public id and a secret kept encrypted at rest.

    The secret must be recoverable to verify HMACs, so it is Fernet-encrypted with
    S2S_KEY_ENCRYPTION_KEY rather than hashed.
    """

    id = fields.BigIntField(primary_key=True)
    program = fields.ForeignKeyField("models.Program", related_name="api_keys")
    key_id = fields.CharField(max_length=64, unique=True)
    name = fields.CharField(max_length=64)
    secret_encrypted = fields.CharField(max_length=512)
    # Space-separated scopes (server/domain/access/scopes.py), e.g. "events:write clicks:write".
    # NULL only for a key older than scopes, until the migration grants it the write scopes.
    scopes = fields.CharField(max_length=255, null=True)
    # The key this one replaced when created by a rotation (it keeps working until revoked).
    rotated_from = fields.CharField(max_length=64, null=True)
    created_by_staff_id = fields.BigIntField(null=True)
    created_at = UtcDatetimeField(auto_now_add=True)
    last_used_at = UtcDatetimeField(null=True)
    revoked_at = UtcDatetimeField(null=True)

    class Meta:
        table = "api_keys"


class S2SNonce(Model):
    """A nonce already used by a key. The unique pair is the atomic replay check."""

    id = fields.BigIntField(primary_key=True)
    api_key = fields.ForeignKeyField("models.ApiKey", related_name="nonces")
    nonce = fields.CharField(max_length=64)
    # The request's own timestamp: once it leaves the replay window the row can go.
    signed_at = UtcDatetimeField(db_index=True)
    seen_at = UtcDatetimeField(auto_now_add=True)

    class Meta:
        table = "s2s_nonces"
        unique_together = (("api_key", "nonce"),)
