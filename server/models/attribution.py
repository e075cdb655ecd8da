from tortoise import fields
from tortoise.models import Model

from server.models.fields import UtcDatetimeField


class Visit(Model):
    """One click or scan of a referral instrument (append-only, high volume).

    Ids are plain columns, not foreign keys: visits are written in bulk by a background
    flusher, and every foreign key would add an index lookup and an index to maintain per row.
    Visitor, IP and user agent are salted SHA-256 hex digests, never the raw values.
    """

    id = fields.BigIntField(primary_key=True)
    program_id = fields.BigIntField()
    promoter_id = fields.BigIntField()
    channel_id = fields.BigIntField(null=True)
    code_id = fields.BigIntField(null=True)
    site_id = fields.BigIntField(null=True)
    share_link_id = fields.BigIntField(null=True)
    # The customer, when known: a mini-program user, or the store's own id (S2S clicks).
    customer_user_id = fields.BigIntField(null=True)
    customer_external_id = fields.CharField(max_length=128, null=True)
    utm_source = fields.CharField(max_length=64, null=True)
    utm_medium = fields.CharField(max_length=64, null=True)
    utm_campaign = fields.CharField(max_length=64, null=True)
    visitor_hash = fields.CharField(max_length=64, null=True)
    ip_hash = fields.CharField(max_length=64, null=True)
    ua_hash = fields.CharField(max_length=64, null=True)
    is_bot = fields.BooleanField(default=False)
    source = fields.CharField(max_length=8)  # mp | h5 | s2s
    # How the visitor reached the link or code: link | qr | code (domain TouchSource); NULL
    # on visits recorded before it was kept.
    reached_by = fields.CharField(max_length=8, null=True)
    # When the visitor arrived (the request time), not when the buffer wrote the row.
    at = UtcDatetimeField()

    class Meta:
        table = "visits"
        # Reports read per program and per promoter over a time range.
        indexes = (("program_id", "at"), ("promoter_id", "at"))


class Binding(Model):
    """A customer bound to a promoter in a program. Never deleted: a superseded or lapsed
    binding keeps its row with `ended_at` and `end_reason`, so the history stays readable.

    `active_key` is "<program_id>:<customer key>" until the binding ends (a lapsed binding
    keeps it until a later touch replaces it) and NULL after; its unique index makes a second
    open binding for the same customer impossible, whatever two workers do at the same moment.
    Decisions for one customer are serialized by locking their BindingCustomer row.
    """

    id = fields.BigIntField(primary_key=True)
    program = fields.ForeignKeyField("models.Program", related_name="bindings")
    promoter = fields.ForeignKeyField("models.Promoter", related_name="bindings")
    customer_user = fields.ForeignKeyField("models.User", related_name="bindings", null=True)
    customer_external_id = fields.CharField(max_length=128, null=True)
    # sha256 of "user:<id>" or "ext:<store's id>": the identity the binding belongs to, compared
    # exactly (MariaDB would compare the raw external id case-insensitively).
    customer_key = fields.CharField(max_length=64)
    active_key = fields.CharField(max_length=96, null=True, unique=True)
    source = fields.CharField(max_length=16)  # visit | code | register
    bind_mode = fields.CharField(max_length=16)  # the program's mode when it was made
    # Provenance of the touch that made the binding; `reached_by` is link | qr | code (NULL on
    # bindings made before it was recorded).
    channel_id = fields.BigIntField(null=True)
    code_id = fields.BigIntField(null=True)
    visit_id = fields.BigIntField(null=True)
    share_link_id = fields.BigIntField(null=True)
    reached_by = fields.CharField(max_length=8, null=True)
    bound_at = UtcDatetimeField()
    # None: the binding never lapses (attribution window of 0 days).
    expires_at = UtcDatetimeField(null=True)
    ended_at = UtcDatetimeField(null=True)
    end_reason = fields.CharField(max_length=32, null=True)  # superseded | expired
    replaced_by_id = fields.BigIntField(null=True)
    created_at = UtcDatetimeField(auto_now_add=True)

    class Meta:
        table = "bindings"
        indexes = (("program_id", "customer_key", "bound_at"), ("promoter_id", "bound_at"))


class BindingCustomer(Model):
    """One row per customer a program has ever tried to bind: the row every binding decision
    for that customer locks first, so concurrent touches are decided one after the other,
    and the pointer to the customer's open binding.

    Locking this row (which exists once created) instead of searching the bindings with a
    locking read avoids InnoDB gap locks, which deadlock concurrent inserts of other customers.
    """

    id = fields.BigIntField(primary_key=True)
    program_id = fields.BigIntField()
    customer_key = fields.CharField(max_length=64)
    open_binding_id = fields.BigIntField(null=True)

    class Meta:
        table = "binding_customers"
        unique_together = (("program_id", "customer_key"),)
