from tortoise import fields
from tortoise.models import Model

from server.models.fields import UtcDatetimeField


class RuleSetVersion(Model):
    """A numbered version of the rule set of a program: its rules, period caps, tiers, boosts
    and milestone bonuses as one JSON document (docs/rule-sets.md).

    The live version is the one `programs.rule_set_version` names; staff edit a `draft`,
    simulate it and publish it. Published versions are never changed again.
    """

    id = fields.BigIntField(primary_key=True)
    program = fields.ForeignKeyField("models.Program", related_name="rule_set_versions")
    number = fields.IntField()
    # draft | published | discarded
    status = fields.CharField(max_length=16)
    # The live version number this draft was made from (None for a version made by the
    # migration or a direct edit's own).
    based_on = fields.IntField(null=True)
    # {"commission_rule": [row, …], "period_cap": […], "tier": […], "boost": […],
    #  "milestone_bonus": […]}: each row the record's stored settings (id None until published).
    document = fields.JSONField(default=dict)
    note = fields.CharField(max_length=255, default="")
    created_by = fields.BigIntField(null=True)
    published_by = fields.BigIntField(null=True)
    created_at = UtcDatetimeField(auto_now_add=True)
    published_at = UtcDatetimeField(null=True)
    updated_at = UtcDatetimeField(auto_now=True)

    class Meta:
        table = "rule_set_versions"
        unique_together = (("program", "number"),)
        indexes = (("program_id", "status", "number"),)
