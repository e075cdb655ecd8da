from tortoise import fields
from tortoise.models import Model

from server.models.fields import UtcDatetimeField


class Order(Model):
    """An order posted by the merchant store, unique per program by its external id."""

    id = fields.BigIntField(primary_key=True)
    program = fields.ForeignKeyField("models.Program", related_name="orders")
    external_id = fields.CharField(max_length=64)
    # paid | completed | cancelled | refunded (fully); partial refunds keep paid/completed.
    status = fields.CharField(max_length=16, db_index=True)
    currency = fields.CharField(max_length=3)
    total_amount = fields.DecimalField(max_digits=18, decimal_places=2)
    refunded_amount = fields.DecimalField(max_digits=18, decimal_places=2, default=0)
    buyer_user = fields.ForeignKeyField("models.User", related_name="orders", null=True)
    buyer_openid = fields.CharField(max_length=128, null=True)
    buyer_unionid = fields.CharField(max_length=128, null=True)
    buyer_external_id = fields.CharField(max_length=128, null=True)
    # The buyer as an approved promoter of the program at order time (self purchase).
    buyer_promoter_id = fields.BigIntField(null=True)
    coupon_code = fields.CharField(max_length=32, null=True)
    site_id = fields.BigIntField(null=True)
    campaign = fields.CharField(max_length=64, null=True)
    # The channel of the touch the order is credited through (NULL: none, or paid before
    # orders recorded it).
    channel_id = fields.BigIntField(null=True)
    # Salted hashes of the shipping address and device the store reported (never the raw
    # values): the fraud scan counts orders per address and per device across promoters.
    address_hash = fields.CharField(max_length=64, null=True)
    device_hash = fields.CharField(max_length=64, null=True)
    # Who the order is attributed to (level 1, or the buyer for a self purchase) and why.
    attributed_promoter_id = fields.BigIntField(null=True, db_index=True)
    attribution = fields.JSONField(default=dict)
    placed_at = UtcDatetimeField()
    paid_at = UtcDatetimeField(null=True)
    completed_at = UtcDatetimeField(null=True)
    cancelled_at = UtcDatetimeField(null=True)
    created_at = UtcDatetimeField(auto_now_add=True)
    updated_at = UtcDatetimeField(auto_now=True)

    class Meta:
        table = "orders"
        unique_together = (("program", "external_id"),)
        indexes = (
            ("program_id", "placed_at"),
            # The auto-completion job's scan: a program's paid orders by payment time.
            ("program_id", "status", "paid_at"),
            ("program_id", "address_hash"),
            ("program_id", "device_hash"),
            ("program_id", "channel_id"),
        )


class OrderLine(Model):
    """One line of an order: product, quantity, unit price, amount and what was refunded."""

    id = fields.BigIntField(primary_key=True)
    order = fields.ForeignKeyField("models.Order", related_name="lines")
    line_ref = fields.CharField(max_length=64)
    product_id = fields.CharField(max_length=64)
    category = fields.CharField(max_length=64, null=True)
    quantity = fields.IntField()
    unit_price = fields.DecimalField(max_digits=18, decimal_places=2)
    amount = fields.DecimalField(max_digits=18, decimal_places=2)
    refunded_amount = fields.DecimalField(max_digits=18, decimal_places=2, default=0)

    class Meta:
        table = "order_lines"
        unique_together = (("order", "line_ref"),)


class OrderEvent(Model):
    """A store event, idempotent by its event id: a replay returns the stored outcome."""

    id = fields.BigIntField(primary_key=True)
    program = fields.ForeignKeyField("models.Program", related_name="order_events")
    event_id = fields.CharField(max_length=128)
    event_type = fields.CharField(max_length=32)
    order_external_id = fields.CharField(max_length=64)
    body_sha256 = fields.CharField(max_length=64)
    # applied | pending (waits for order.paid) | rejected
    status = fields.CharField(max_length=16)
    outcome = fields.JSONField(default=dict)
    error_code = fields.CharField(max_length=64, null=True)
    payload = fields.JSONField(default=dict)
    received_at = UtcDatetimeField(auto_now_add=True)
    applied_at = UtcDatetimeField(null=True)

    class Meta:
        table = "order_events"
        unique_together = (("program", "event_id"),)
        indexes = (("program_id", "order_external_id", "status"),)


class OrderLock(Model):
    """One row per order external id the store of a program ever sent an event for.

    Every event of an order locks this row first, so the events of one order are applied one
    after the other even when they arrive together: a refund racing its order.paid either
    sees the order or is kept pending and then found by the paid event. A row lock on a row
    that exists, instead of a locking read of a missing order, avoids InnoDB gap locks (which
    deadlock concurrent inserts of other orders).
    """

    id = fields.BigIntField(primary_key=True)
    program_id = fields.BigIntField()
    external_id = fields.CharField(max_length=64)
    # Deliveries seen for this order; also tells the first delivery (count 1) from the others.
    event_count = fields.IntField(default=1)

    class Meta:
        table = "order_locks"
        unique_together = (("program_id", "external_id"),)


class QueuedOrderEvent(Model):
    """An order event accepted with `Prefer: respond-async`: stored before the 202, applied
    by a drainer (server/domain/orders/inbox.py has its life: queued → processing → done)."""

    id = fields.BigIntField(primary_key=True)
    program_id = fields.BigIntField()
    event_id = fields.CharField(max_length=128)
    event_type = fields.CharField(max_length=32)
    order_external_id = fields.CharField(max_length=64)
    body_sha256 = fields.CharField(max_length=64)
    # The validated body as canonical JSON text: the digest's own input, applied as it is.
    body = fields.TextField()
    # The mini-program appid buyers are matched with (the accepting server's setting).
    appid = fields.CharField(max_length=64)
    # The delivery's signing key and nonce: the row spends the nonce (server/s2s_auth.py).
    api_key = fields.ForeignKeyField(
        "models.ApiKey", related_name="queued_events", on_delete=fields.RESTRICT
    )
    nonce = fields.CharField(max_length=64)
    status = fields.CharField(max_length=16)
    attempts = fields.IntField(default=0)
    # The claim that holds it while `processing`, and until when (server/domain/orders/inbox.py).
    claim_token = fields.CharField(max_length=32, null=True, db_index=True)
    claimed_until = UtcDatetimeField(null=True)
    received_at = UtcDatetimeField(auto_now_add=True)
    processed_at = UtcDatetimeField(null=True)
    # The HTTP status applying it gave (200 applied, 202 held for its order.paid, 4xx refused).
    outcome_status_code = fields.IntField(null=True)
    # A refusal raised before an order event row could store it (e.g. an event id clash with
    # a synchronous delivery of another body): its error body.
    error = fields.JSONField(null=True)

    class Meta:
        table = "order_event_inbox"
        unique_together = (("program_id", "event_id"), ("api_key", "nonce"))
        # The drainer's oldest-first claim; the retention purge of done rows.
        indexes = (("status", "id"), ("status", "processed_at"))
