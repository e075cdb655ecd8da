from tortoise import fields
from tortoise.models import Model

from server.models.fields import UtcDatetimeField


class PromoterClosure(Model):
    """Closure table of the promoter tree: one row per (ancestor, descendant), depth ≥ 1.

    Upline chain = rows by descendant; a level of a team = rows by (ancestor, depth).
    """

    id = fields.BigIntField(primary_key=True)
    ancestor_id = fields.BigIntField()
    descendant_id = fields.BigIntField()
    depth = fields.IntField()

    class Meta:
        table = "promoter_closure"
        # Two indexes, each covering its reads (no row look-ups), and no third: every index
        # is rewritten for each of the thousands of links a subtree move replaces.
        # Upline chain (and link uniqueness): by descendant. One level of a team, newest
        # first: by (ancestor, depth).
        unique_together = (("descendant_id", "depth", "ancestor_id"),)
        indexes = (("ancestor_id", "depth", "descendant_id"),)


class TeamCount(Model):
    """Maintained count of members at each depth below a promoter (never counted on read)."""

    id = fields.BigIntField(primary_key=True)
    ancestor_id = fields.BigIntField()
    depth = fields.IntField()
    member_count = fields.IntField(default=0)

    class Meta:
        table = "team_counts"
        unique_together = (("ancestor_id", "depth"),)


class HierarchyMove(Model):
    """Audit of a subtree moved by staff."""

    id = fields.BigIntField(primary_key=True)
    program = fields.ForeignKeyField("models.Program", related_name="hierarchy_moves")
    promoter_id = fields.BigIntField()
    from_parent_id = fields.BigIntField(null=True)
    to_parent_id = fields.BigIntField(null=True)
    subtree_size = fields.IntField()
    actor_id = fields.BigIntField(null=True)
    reason = fields.CharField(max_length=512, default="")
    at = UtcDatetimeField(auto_now_add=True)

    class Meta:
        table = "hierarchy_moves"
