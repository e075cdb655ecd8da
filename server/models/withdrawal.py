from tortoise import fields
from tortoise.models import Model

from server.models.fields import UtcDatetimeField


class Withdrawal(Model):
    """A payout to one promoter: asked for by the promoter or made by a payout batch.

    The whole amount is on hold from creation until the withdrawal is paid (fee, tax and net
    leave the ledger), rejected or released (the amount goes back to available). Bank account
    numbers are sealed at rest and shown plain only on a detail for finance (audited).
    """

    id = fields.BigIntField(primary_key=True)
    program_id = fields.BigIntField()
    promoter_id = fields.BigIntField()
    user_id = fields.BigIntField()
    currency = fields.CharField(max_length=3)
    amount = fields.DecimalField(max_digits=18, decimal_places=2)
    fee = fields.DecimalField(max_digits=18, decimal_places=2)
    tax = fields.DecimalField(max_digits=18, decimal_places=2)
    net = fields.DecimalField(max_digits=18, decimal_places=2)
    # How the fee and the withheld tax were reached: base, rates, exact figures, rounding.
    # Null on withdrawals older than the explanation.
    deductions = fields.JSONField(null=True)
    method = fields.CharField(max_length=16)  # wechat | bank | offline
    openid = fields.CharField(max_length=128, null=True)
    real_name = fields.CharField(max_length=64, null=True)
    bank_name = fields.CharField(max_length=128, null=True)
    account_name = fields.CharField(max_length=128, null=True)
    # Sealed (server/services/access/sealing.py); the keyed hash matches equal accounts.
    account_number = fields.CharField(max_length=255, null=True)
    account_number_hash = fields.CharField(max_length=64, null=True)
    # requested | approved | rejected | paying | paid | failed | released
    status = fields.CharField(max_length=16)
    # sending | processing | unknown | succeeded | failed (the provider transfer)
    transfer_phase = fields.CharField(max_length=16, null=True)
    idempotency_key = fields.CharField(max_length=64)
    # The keyed hash of the request (it names the bank account), to compare replays.
    request_fingerprint = fields.CharField(max_length=512)
    origin = fields.CharField(max_length=16)  # request | batch
    batch_id = fields.BigIntField(null=True)
    provider = fields.CharField(max_length=32, null=True)
    out_bill_no = fields.CharField(max_length=64, null=True, unique=True)
    provider_reference = fields.CharField(max_length=128, null=True)
    failure_code = fields.CharField(max_length=64, null=True)
    failure_message = fields.CharField(max_length=512, null=True)
    # Set while WeChat Pay waits for the promoter to accept the transfer in the mini-program.
    user_confirmation = fields.JSONField(null=True)
    attempts = fields.IntField(default=0)
    reject_reason = fields.CharField(max_length=512, null=True)
    release_reason = fields.CharField(max_length=512, null=True)
    offline_reference = fields.CharField(max_length=128, null=True)
    approved_by = fields.BigIntField(null=True)
    decided_by = fields.BigIntField(null=True)
    paid_by = fields.BigIntField(null=True)
    created_at = UtcDatetimeField()
    approved_at = UtcDatetimeField(null=True)
    decided_at = UtcDatetimeField(null=True)
    transfer_started_at = UtcDatetimeField(null=True)
    paid_at = UtcDatetimeField(null=True)
    updated_at = UtcDatetimeField()

    class Meta:
        table = "withdrawals"
        unique_together = (("promoter_id", "idempotency_key"),)
        indexes = (
            ("program_id", "status", "id"),
            ("promoter_id", "created_at"),
            ("status", "transfer_started_at"),
            ("batch_id", "id"),
        )


class WithdrawalChange(Model):
    """Append-only history of a withdrawal: every status move and transfer outcome."""

    id = fields.BigIntField(primary_key=True)
    withdrawal_id = fields.BigIntField(db_index=True)
    action = fields.CharField(max_length=32)
    from_status = fields.CharField(max_length=16, null=True)
    to_status = fields.CharField(max_length=16)
    reason = fields.CharField(max_length=512, null=True)
    details = fields.JSONField(default=dict)
    actor_kind = fields.CharField(max_length=16)  # staff | user | system
    actor_id = fields.BigIntField(null=True)
    at = UtcDatetimeField()

    class Meta:
        table = "withdrawal_changes"


class PayoutBatch(Model):
    """Payouts a program schedule (or finance by hand) created together, one per promoter."""

    id = fields.BigIntField(primary_key=True)
    program_id = fields.BigIntField()
    currency = fields.CharField(max_length=3)
    trigger = fields.CharField(max_length=16)  # manual | monthly | threshold
    # Idempotency of the schedule, e.g. monthly:2026-11 (one batch per program and period).
    period_key = fields.CharField(max_length=64)
    created_by = fields.BigIntField(null=True)
    withdrawal_count = fields.IntField(default=0)
    total_amount = fields.DecimalField(max_digits=18, decimal_places=2, default=0)
    # Promoters the batch would have paid but left out while on fraud hold (null: older rows).
    held_promoter_ids = fields.JSONField(default=list, null=True)
    created_at = UtcDatetimeField()
    completed_at = UtcDatetimeField(null=True)
    # When the last of its payouts ended with at least one paid (payout_batch.paid).
    paid_at = UtcDatetimeField(null=True)

    class Meta:
        table = "payout_batches"
        unique_together = (("program_id", "period_key"),)
        indexes = (("program_id", "id"),)


class PayoutItem(Model):
    """What one withdrawal covers: part or all of a commission, an adjustment entry, or (with
    a negative amount) a carried-forward clawback. The items of a withdrawal add up to its
    amount."""

    id = fields.BigIntField(primary_key=True)
    withdrawal_id = fields.BigIntField(db_index=True)
    kind = fields.CharField(max_length=16)  # commission | adjustment | unattributed
    commission_id = fields.BigIntField(null=True, db_index=True)
    ledger_entry_id = fields.BigIntField(null=True, db_index=True)
    amount = fields.DecimalField(max_digits=18, decimal_places=2)
    created_at = UtcDatetimeField()

    class Meta:
        table = "payout_items"
