from tortoise import fields
from tortoise.models import Model

from server.models.fields import UtcDatetimeField


class S2SClick(Model):
    """A click id a store reported through the S2S API, kept so the same click is recorded
    once. The visit itself is written by the visit buffer (see server.services.sharing.visits).
    """

    id = fields.BigIntField(primary_key=True)
    program_id = fields.BigIntField()
    click_id = fields.CharField(max_length=128)
    # sha256 of the click as sent: a reused id with other content is refused.
    fingerprint = fields.CharField(max_length=64)
    occurred_at = UtcDatetimeField()
    created_at = UtcDatetimeField(auto_now_add=True)

    class Meta:
        table = "s2s_clicks"
        unique_together = (("program_id", "click_id"),)
