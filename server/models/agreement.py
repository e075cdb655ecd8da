from tortoise import fields
from tortoise.models import Model

from server.models.fields import UtcDatetimeField


class AgreementAcceptance(Model):
    """A promoter accepting one version of the program agreement, with the time (append-only).

    The promoter row keeps the version accepted last in agreement_version.
    """

    id = fields.BigIntField(primary_key=True)
    program_id = fields.BigIntField()
    promoter = fields.ForeignKeyField(
        "models.Promoter", related_name="agreement_acceptances", on_delete=fields.RESTRICT
    )
    version = fields.CharField(max_length=32)
    accepted_at = UtcDatetimeField()

    class Meta:
        table = "agreement_acceptances"
        unique_together = (("promoter", "version"),)
