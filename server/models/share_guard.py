from tortoise import fields
from tortoise.models import Model

from server.models.fields import UtcDatetimeField


class ReservedCode(Model):
    """A coupon code of the store itself that no promoter code may take or credit.

    Registered over S2S; `normalized` is the upper-cased text, as share codes compare.
    """

    id = fields.BigIntField(primary_key=True)
    program = fields.ForeignKeyField("models.Program", related_name="reserved_codes")
    code = fields.CharField(max_length=64)
    normalized = fields.CharField(max_length=64)
    note = fields.CharField(max_length=128, null=True)
    # The S2S key that registered it (its key id, fxk_...).
    registered_by = fields.CharField(max_length=64, null=True)
    created_at = UtcDatetimeField(auto_now_add=True)

    class Meta:
        table = "reserved_codes"
        unique_together = (("program", "normalized"),)


class WxacodeCallWindow(Model):
    """How many new mini-program codes a promoter caused in the current window (all workers)."""

    id = fields.BigIntField(primary_key=True)
    promoter = fields.OneToOneField("models.Promoter", related_name="wxacode_window")
    started_at = UtcDatetimeField()
    calls = fields.IntField(default=0)

    class Meta:
        table = "wxacode_call_windows"
