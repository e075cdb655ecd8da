from typing import Any

from tortoise import fields
from tortoise.models import Model

from server.domain.promoters.search import name_key, phone_digits, phone_reversed
from server.models.fields import SearchKeyField, UtcDatetimeField


class Promoter(Model):
    """A user profile in one program. Never deleted: status carries its history."""

    id = fields.BigIntField(primary_key=True)
    program = fields.ForeignKeyField("models.Program", related_name="promoters")
    user = fields.ForeignKeyField("models.User", related_name="promoters")
    status = fields.CharField(max_length=16, db_index=True)
    real_name = fields.CharField(max_length=64, null=True)
    phone = fields.CharField(max_length=32, null=True)
    # Search keys kept beside the name and phone on every save, so staff search is indexed.
    name_key = SearchKeyField(max_length=64, null=True)
    phone_digits = SearchKeyField(max_length=32, null=True)
    phone_reversed = SearchKeyField(max_length=32, null=True)
    # Shown on statements: the legal name and tax id the promoter is paid under.
    legal_name = fields.CharField(max_length=128, null=True)
    # Sealed at rest (server/services/access/sealing.py): ciphertext, never the plain number.
    tax_id = fields.CharField(max_length=255, null=True)
    agreement_version = fields.CharField(max_length=32, null=True)
    # The invite code of the upline the applicant named (kept even if the upline changes).
    applied_invite_code = fields.CharField(max_length=32, null=True)
    # Upline chosen at application; the hierarchy tables hold the live tree once approved.
    parent = fields.ForeignKeyField(
        "models.Promoter", related_name="children", null=True, on_delete=fields.RESTRICT
    )
    invite_code = fields.CharField(max_length=32, null=True)
    # The current tier code (server/domain/tiers); the job keeps it unless staff locked it.
    tier = fields.CharField(max_length=32, default="default")
    tier_locked = fields.BooleanField(default=False, db_default=False)
    tier_evaluated_at = UtcDatetimeField(null=True)
    # A promoter who opted out is never shown on the program leaderboard.
    leaderboard_opt_out = fields.BooleanField(default=False, db_default=False)
    reject_reason = fields.CharField(max_length=512, null=True)
    applied_at = UtcDatetimeField(auto_now_add=True)
    decided_at = UtcDatetimeField(null=True)
    updated_at = UtcDatetimeField(auto_now=True)

    class Meta:
        table = "promoters"
        unique_together = (("program", "invite_code"),)
        # Column names, not FK names: the migration schema editor does not map them.
        indexes = (
            ("program_id", "status", "id"),
            ("user_id", "program_id"),
            ("program_id", "name_key", "status"),
            ("program_id", "phone_digits", "status"),
            ("program_id", "phone_reversed", "status"),
            # The staff leaderboard counts opt-outs: a range of this index, not every promoter.
            ("program_id", "leaderboard_opt_out"),
        )

    async def save(self, *args: Any, **kwargs: Any) -> None:
        """Save, with the search keys derived from the name and phone being saved."""
        self.name_key = name_key(self.real_name)
        self.phone_digits = phone_digits(self.phone)
        self.phone_reversed = phone_reversed(self.phone)
        fields_saved = kwargs.get("update_fields")
        if fields_saved is not None and {"real_name", "phone"} & set(fields_saved):
            kwargs["update_fields"] = [*fields_saved, "name_key", "phone_digits", "phone_reversed"]
        await super().save(*args, **kwargs)


class PromoterStatusChange(Model):
    """Append-only history of promoter statuses."""

    id = fields.BigIntField(primary_key=True)
    promoter = fields.ForeignKeyField("models.Promoter", related_name="status_changes")
    from_status = fields.CharField(max_length=16, null=True)
    to_status = fields.CharField(max_length=16)
    action = fields.CharField(max_length=16)
    reason = fields.CharField(max_length=512, null=True)
    actor_kind = fields.CharField(max_length=16)  # staff | user | system
    actor_id = fields.BigIntField(null=True)
    at = UtcDatetimeField(auto_now_add=True)

    class Meta:
        table = "promoter_status_changes"


class PromoterSite(Model):
    """A site a promoter is authorized to promote."""

    id = fields.BigIntField(primary_key=True)
    promoter = fields.ForeignKeyField("models.Promoter", related_name="site_grants")
    site = fields.ForeignKeyField("models.Site", related_name="promoter_grants")
    granted_at = UtcDatetimeField(auto_now_add=True)

    class Meta:
        table = "promoter_sites"
        unique_together = (("promoter", "site"),)
