from tortoise import fields
from tortoise.models import Model

from server.models.fields import UtcDatetimeField


class JobRun(Model):
    """One execution of a background job, whichever runner (Celery or in-process) ran it."""

    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=64, db_index=True)
    runner = fields.CharField(max_length=16)  # celery | inprocess
    status = fields.CharField(max_length=16)  # running | succeeded | failed
    result = fields.JSONField(default=dict)
    error = fields.TextField(null=True)
    started_at = UtcDatetimeField(auto_now_add=True)
    finished_at = UtcDatetimeField(null=True)

    class Meta:
        table = "job_runs"
