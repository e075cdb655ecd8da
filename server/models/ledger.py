from tortoise import fields
from tortoise.models import Model

from server.models.fields import UtcDatetimeField


class LedgerEntry(Model):
    """Append-only posting to one of a promoter balance accounts (available, on_hold, paid).

    A movement between accounts is several entries sharing one `reference`. Entries are never
    updated or deleted: a correction is a new entry.
    """

    id = fields.BigIntField(primary_key=True)
    promoter_id = fields.BigIntField()
    program_id = fields.BigIntField()
    currency = fields.CharField(max_length=3)
    account = fields.CharField(max_length=16)  # available | on_hold | paid
    # settle | hold | release | pay | fee | tax | adjustment | clawback | bonus
    kind = fields.CharField(max_length=16)
    amount = fields.DecimalField(max_digits=18, decimal_places=2)
    balance_after = fields.DecimalField(max_digits=18, decimal_places=2)
    # Idempotency key of the movement, e.g. "commission:42:settle".
    reference = fields.CharField(max_length=128)
    commission_id = fields.BigIntField(null=True)
    withdrawal_id = fields.BigIntField(null=True)
    memo = fields.CharField(max_length=255, default="")
    created_at = UtcDatetimeField(auto_now_add=True)

    class Meta:
        table = "ledger_entries"
        unique_together = (("reference", "account"),)
        indexes = (("promoter_id", "currency", "account", "id"), ("commission_id",))


class PromoterBalance(Model):
    """Cached balances of one promoter in one currency, kept with the ledger in one transaction.

    Always equal to the sums of the entries (a reconcile job checks), never edited alone.
    """

    id = fields.BigIntField(primary_key=True)
    promoter_id = fields.BigIntField()
    program_id = fields.BigIntField()
    currency = fields.CharField(max_length=3)
    available = fields.DecimalField(max_digits=18, decimal_places=2, default=0)
    on_hold = fields.DecimalField(max_digits=18, decimal_places=2, default=0)
    paid = fields.DecimalField(max_digits=18, decimal_places=2, default=0)
    updated_at = UtcDatetimeField(auto_now=True)

    class Meta:
        table = "promoter_balances"
        unique_together = (("promoter_id", "currency"),)
