from tortoise import fields
from tortoise.models import Model

from server.models.fields import UtcDatetimeField


class Program(Model):
    """A merchant distribution program and every setting that governs it.

    Rates are percents (10 = 10%) stored as decimal strings in JSON or DECIMAL columns;
    money settings are decimal strings in the program currency.
    """

    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=128)
    description = fields.TextField(default="")
    kind = fields.CharField(max_length=16, default="external")  # external | internal
    status = fields.CharField(max_length=16, default="active", db_index=True)  # active|archived
    currency = fields.CharField(max_length=3)
    recruitment_mode = fields.CharField(max_length=16, default="review")  # open|review|invite_only
    # {"real_name": bool, "phone": bool, "agreement_version": str|None}: never a fee or deposit
    requirements = fields.JSONField(default=dict)
    max_levels = fields.SmallIntField(default=2)
    level_rates = fields.JSONField(default=list)  # ["10", "5"]: percent per level 1..n
    self_rebate_enabled = fields.BooleanField(default=False)
    self_rebate_rate = fields.DecimalField(max_digits=7, decimal_places=4, default=0)
    bind_mode = fields.CharField(max_length=16, default="first_touch")
    attribution_window_days = fields.IntField(default=30)
    commission_window_days = fields.IntField(default=0)
    freeze_days = fields.IntField(default=7)
    # Days after payment the auto-completion job completes a paid order; null = off.
    auto_complete_days = fields.IntField(null=True)
    # {"minimum": "1.00", "fee_percent": "0", "fee_fixed": "0.00", "daily_cap": "...",
    #  "methods": ["wechat", "bank", "offline"]}
    withdrawal_rules = fields.JSONField(default=dict)
    # {"mode": "manual"} | {"mode": "monthly", "day": 5} | {"mode": "threshold", "threshold": "100"}
    payout_schedule = fields.JSONField(default=dict)
    auto_approve_rules = fields.JSONField(default=dict)
    # coupon_wins | binding_wins: who an order is credited to when link and coupon disagree.
    # The database default fills the programs that existed before the column (migrations).
    attribution_conflict_policy = fields.CharField(
        max_length=16, default="coupon_wins", db_default="coupon_wins"
    )
    # IANA name: where the program's days, weeks and months begin (caps, statements, payouts).
    time_zone = fields.CharField(max_length=64, default="Asia/Shanghai", db_default="Asia/Shanghai")
    # {"visits_per_ip": 200, ...}: server/domain/fraud/thresholds.py (missing keys = defaults)
    # Null on programs older than fraud review: every threshold at its default.
    fraud_thresholds = fields.JSONField(default=dict, null=True)
    # promoter | anomaly_commissions: what an open anomaly naming a promoter holds
    # (server/domain/fraud/holds.py); programs older than the setting hold the promoter.
    fraud_hold_scope = fields.CharField(max_length=24, default="promoter", db_default="promoter")
    # {"custom_codes": "reviewed", "max_links_per_promoter": 200, ...}:
    # server/domain/sharing/rules.py (missing keys = defaults, null on older programs).
    sharing_rules = fields.JSONField(default=dict, null=True)
    # Whether promoters see their rank in the program (docs/reports.md#promoter-dashboard).
    leaderboard_enabled = fields.BooleanField(default=False, db_default=False)
    # The live version of the program's rule set (docs/rule-sets.md): new commissions name it.
    rule_set_version = fields.IntField(default=1, db_default=1)
    created_at = UtcDatetimeField(auto_now_add=True)
    updated_at = UtcDatetimeField(auto_now=True)

    class Meta:
        table = "programs"


class Site(Model):
    """A domain / brand / market of a program that promoters may be authorized for."""

    id = fields.BigIntField(primary_key=True)
    program = fields.ForeignKeyField("models.Program", related_name="sites")
    domain = fields.CharField(max_length=255)
    name = fields.CharField(max_length=128, default="")
    market = fields.CharField(max_length=32, default="")
    is_active = fields.BooleanField(default=True)
    created_at = UtcDatetimeField(auto_now_add=True)

    class Meta:
        table = "sites"
        unique_together = (("program", "domain"),)
