from tortoise import fields
from tortoise.models import Model

from server.models.fields import UtcDatetimeField


def _money() -> fields.DecimalField:
    return fields.DecimalField(max_digits=18, decimal_places=2, default=0)


class _RollupColumns(Model):
    """The additive figures of a rollup row (server/domain/reports/metrics.py)."""

    id = fields.BigIntField(primary_key=True)
    program_id = fields.BigIntField()
    bucket = UtcDatetimeField()
    dimension = fields.CharField(max_length=16)
    value = fields.CharField(max_length=64)
    visits = fields.IntField(default=0)
    bot_visits = fields.IntField(default=0)
    bindings = fields.IntField(default=0)
    orders = fields.IntField(default=0)
    gmv = _money()
    refunds = _money()
    net_sales = _money()
    commissions_pending = fields.IntField(default=0)
    commissions_approved = fields.IntField(default=0)
    commissions_settled = fields.IntField(default=0)
    commissions_paid = fields.IntField(default=0)
    commissions_rejected = fields.IntField(default=0)
    commissions_reversed = fields.IntField(default=0)
    commission_amount_pending = _money()
    commission_amount_approved = _money()
    commission_amount_settled = _money()
    commission_amount_paid = _money()
    commission_amount_rejected = _money()
    commission_amount_reversed = _money()

    class Meta:
        abstract = True


class ReportRollup(_RollupColumns):
    """Additive report figures of one program, local hour bucket and dimension value.

    Derived data: always equal to a recomputation from the raw rows of its bucket (docs/reports.md).
    `bucket` is the UTC start of a local hour of the program zone. The row of dimension all
    (value *) holds the totals. Money columns are in the program currency.
    """

    class Meta:
        table = "report_rollups"
        unique_together = (("program_id", "bucket", "dimension", "value"),)
        # Reports read one program and dimension over a range of buckets.
        indexes = (("program_id", "dimension", "bucket"),)


class ReportDailyRollup(_RollupColumns):
    """The same figures per local day (bucket is the UTC start of the day): the sum of the
    day hourly rows, so ranges of whole days read a 24th of the rows."""

    class Meta:
        table = "report_daily_rollups"
        unique_together = (("program_id", "bucket", "dimension", "value"),)
        indexes = (("program_id", "dimension", "bucket"),)


class ReportVisitor(Model):
    """A unique visitor of one local hour bucket under one touch: unique counts of any range
    and dimension are COUNT DISTINCT over these rows (they cannot be summed from rollups)."""

    id = fields.BigIntField(primary_key=True)
    program_id = fields.BigIntField()
    bucket = UtcDatetimeField()
    visitor_hash = fields.CharField(max_length=64)
    promoter_id = fields.BigIntField(null=True)
    site_id = fields.BigIntField(null=True)
    channel_id = fields.BigIntField(null=True)
    utm_source = fields.CharField(max_length=64, null=True)
    utm_medium = fields.CharField(max_length=64, null=True)
    utm_campaign = fields.CharField(max_length=64, null=True)
    reached_by = fields.CharField(max_length=8, null=True)

    class Meta:
        table = "report_visitors"
        indexes = (("program_id", "bucket"), ("promoter_id", "bucket"))


class ReportMark(Model):
    """An instant whose report bucket a committed write changed: the refresh job recomputes
    that bucket from raw rows and deletes the mark. Written in the writer own transaction."""

    id = fields.BigIntField(primary_key=True)
    program_id = fields.BigIntField()
    at = UtcDatetimeField()

    class Meta:
        table = "report_marks"


class ReportState(Model):
    """Per program: the row a refresh or rebuild locks first (one recomputation at a time),
    and when its rollups were last brought up to date."""

    id = fields.BigIntField(primary_key=True)
    program_id = fields.BigIntField(unique=True)
    refreshed_at = UtcDatetimeField(null=True)
    # Bumped whenever day rows change: a range's figures computed before a bump are not kept.
    generation = fields.BigIntField(default=0, db_default=0)

    class Meta:
        table = "report_states"


class ReportBuyer(Model):
    """A buyer of one local hour bucket under one touch, with their orders and net sales
    there: customer reports (new and returning buyers, repeat rate, LTV) read these rows."""

    id = fields.BigIntField(primary_key=True)
    program_id = fields.BigIntField()
    bucket = UtcDatetimeField()
    # sha256 of user:<id> or ext:<store customer id>, never the raw id.
    buyer_key = fields.CharField(max_length=64)
    orders = fields.IntField(default=0)
    net_sales = _money()
    promoter_id = fields.BigIntField(null=True)
    site_id = fields.BigIntField(null=True)
    channel_id = fields.BigIntField(null=True)
    utm_source = fields.CharField(max_length=64, null=True)
    utm_medium = fields.CharField(max_length=64, null=True)
    utm_campaign = fields.CharField(max_length=64, null=True)
    reached_by = fields.CharField(max_length=8, null=True)

    class Meta:
        table = "report_buyers"
        indexes = (("program_id", "bucket"), ("program_id", "buyer_key", "bucket"))


class SpendRecord(Model):
    """Money the merchant spent on one local day for a sub-account, a channel or a campaign
    (or the program as a whole when none is named): the spend of ROI (docs/reports.md)."""

    id = fields.BigIntField(primary_key=True)
    program_id = fields.BigIntField()
    # A calendar day of the program zone.
    day = fields.DateField()
    promoter_id = fields.BigIntField(null=True)
    channel_id = fields.BigIntField(null=True)
    utm_campaign = fields.CharField(max_length=64, null=True)
    amount = fields.DecimalField(max_digits=18, decimal_places=2)
    currency = fields.CharField(max_length=3)
    note = fields.CharField(max_length=255, default="")
    created_by = fields.BigIntField(null=True)
    created_at = UtcDatetimeField(auto_now_add=True)

    class Meta:
        table = "spend_records"
        indexes = (("program_id", "day"),)


class ReportSketch(Model):
    """Unique visitors of one program, local day and dimension value as a HyperLogLog sketch
    (server/domain/reports/sketch.py): a range of days merges its days sketches."""

    id = fields.BigIntField(primary_key=True)
    program_id = fields.BigIntField()
    # The UTC instant the local day begins.
    day = UtcDatetimeField()
    dimension = fields.CharField(max_length=16)
    value = fields.CharField(max_length=64)
    registers = fields.TextField()

    class Meta:
        table = "report_sketches"
        unique_together = (("program_id", "day", "dimension", "value"),)
        indexes = (("program_id", "dimension", "day"),)


class ReportSpanRollup(_RollupColumns):
    """The same figures per aligned span of local days (server/domain/reports/spans.py):
    `days` of 2 to 64 from `bucket`, the UTC start of its first day; the sum of its two
    halves, so a range of days reads a few rows per value instead of one per day."""

    days = fields.SmallIntField()

    class Meta:
        table = "report_span_rollups"
        unique_together = (("program_id", "bucket", "days", "dimension", "value"),)
        indexes = (("program_id", "dimension", "bucket", "days"),)


class ReportSpanSketch(Model):
    """The unique visitor sketch of an aligned span of local days: the union of its halves."""

    id = fields.BigIntField(primary_key=True)
    program_id = fields.BigIntField()
    # The UTC instant the span first local day begins.
    day = UtcDatetimeField()
    days = fields.SmallIntField()
    dimension = fields.CharField(max_length=16)
    value = fields.CharField(max_length=64)
    registers = fields.TextField()

    class Meta:
        table = "report_span_sketches"
        unique_together = (("program_id", "day", "days", "dimension", "value"),)
        indexes = (("program_id", "dimension", "day", "days"),)


class ReportRangeFigures(_RollupColumns):
    """The figures of one range of whole local days (bucket: the UTC start of its first day,
    `range_end` of its last) per dimension value, with its unique visitors: what a report answers,
    kept after its first read so the next reads one row per value. Deleted with any of its
    days (refresh or rebuild). A row of value "" marks the range and dimension complete."""

    range_end = UtcDatetimeField()
    days = fields.SmallIntField()
    unique_visitors = fields.IntField(default=0)
    # On the complete row: how many values had a visit, binding or order (active promoters).
    active_values = fields.IntField(default=0)

    class Meta:
        table = "report_range_figures"
        unique_together = (("program_id", "bucket", "days", "dimension", "value"),)
        # The second finds one value of a kept range (its complete row, the totals) without
        # walking the range's other values: reads filter `bucket` as a range, and the unique
        # key puts `bucket` before `dimension` and `value`.
        indexes = (
            ("program_id", "dimension", "bucket", "days", "net_sales"),
            ("program_id", "dimension", "days", "value", "bucket"),
        )
