from tortoise import fields
from tortoise.models import Model

from server.models.fields import UtcDatetimeField


class Anomaly(Model):
    """A fraud finding staff review: open, then confirmed or dismissed once.

    `fingerprint` names the thing found (kind, subject and what tells findings on one subject
    apart). `open_key` is "<program_id>:<fingerprint>" while the anomaly is open and NULL
    once decided: its unique index makes a second open anomaly for the same thing
    impossible, so a scan finding it again adds to the open one instead of duplicating it.
    """

    id = fields.BigIntField(primary_key=True)
    program = fields.ForeignKeyField("models.Program", related_name="anomalies")
    kind = fields.CharField(max_length=32)
    subject_kind = fields.CharField(max_length=16)  # promoter | order | visit | code | buyer
    subject_id = fields.CharField(max_length=160)
    promoter_id = fields.BigIntField(null=True)
    score = fields.SmallIntField()
    evidence = fields.JSONField(default=dict)
    source = fields.CharField(max_length=16)  # inline | scan
    status = fields.CharField(max_length=16, default="open")  # open | confirmed | dismissed
    fingerprint = fields.CharField(max_length=255)
    open_key = fields.CharField(max_length=64, null=True, unique=True)
    decided_by = fields.BigIntField(null=True)
    decided_at = UtcDatetimeField(null=True)
    note = fields.CharField(max_length=512, null=True)
    suspended_promoter = fields.BooleanField(default=False)
    created_at = UtcDatetimeField(auto_now_add=True)
    updated_at = UtcDatetimeField(auto_now=True)

    class Meta:
        table = "anomalies"
        indexes = (
            ("program_id", "status", "id"),
            ("promoter_id", "status", "id"),
            ("program_id", "kind", "id"),
            ("program_id", "fingerprint"),
        )


class AnomalyLink(Model):
    """A row an anomaly concerns: a commission (held while the anomaly is open), an order or
    a visit. Plain id columns: visits are written in bulk without foreign keys."""

    id = fields.BigIntField(primary_key=True)
    anomaly = fields.ForeignKeyField("models.Anomaly", related_name="links")
    target_kind = fields.CharField(max_length=16)  # commission | order | visit
    target_id = fields.BigIntField()

    class Meta:
        table = "anomaly_links"
        unique_together = (("anomaly", "target_kind", "target_id"),)
        indexes = (("target_kind", "target_id"),)
