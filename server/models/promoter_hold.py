from tortoise import fields
from tortoise.models import Model

from server.models.fields import UtcDatetimeField


class PromoterHold(Model):
    """A manual fraud hold staff put on a promoter, and its lifting (never deleted).

    `active_promoter_id` is the promoter's id while the hold is in force and NULL once lifted:
    its unique index allows one hold in force per promoter, however requests race.
    """

    id = fields.BigIntField(primary_key=True)
    program_id = fields.BigIntField()
    promoter = fields.ForeignKeyField(
        "models.Promoter", related_name="holds", on_delete=fields.RESTRICT
    )
    reason = fields.CharField(max_length=512)
    placed_by = fields.BigIntField()
    placed_at = UtcDatetimeField()
    lifted_by = fields.BigIntField(null=True)
    lifted_at = UtcDatetimeField(null=True)
    lift_reason = fields.CharField(max_length=512, null=True)
    active_promoter_id = fields.BigIntField(null=True, unique=True)

    class Meta:
        table = "promoter_holds"
        indexes = (("promoter_id", "id"),)
