from tortoise import migrations
from tortoise.migrations import operations as ops
from server.models.fields import UtcDatetimeField
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [("models", "0030_promoter_search_keys")]

    initial = False

    operations = [
        ops.CreateModel(
            name='ReportSpanRollup',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program_id', fields.BigIntField()),
                ('bucket', UtcDatetimeField(auto_now=False, auto_now_add=False)),
                ('dimension', fields.CharField(max_length=16)),
                ('value', fields.CharField(max_length=64)),
                ('days', fields.SmallIntField()),
                ('visits', fields.IntField(default=0)),
                ('bot_visits', fields.IntField(default=0)),
                ('bindings', fields.IntField(default=0)),
                ('orders', fields.IntField(default=0)),
                ('gmv', fields.DecimalField(default=0, max_digits=18, decimal_places=2)),
                ('refunds', fields.DecimalField(default=0, max_digits=18, decimal_places=2)),
                ('net_sales', fields.DecimalField(default=0, max_digits=18, decimal_places=2)),
                ('commissions_pending', fields.IntField(default=0)),
                ('commissions_approved', fields.IntField(default=0)),
                ('commissions_settled', fields.IntField(default=0)),
                ('commissions_paid', fields.IntField(default=0)),
                ('commissions_rejected', fields.IntField(default=0)),
                ('commissions_reversed', fields.IntField(default=0)),
                ('commission_amount_pending', fields.DecimalField(default=0, max_digits=18, decimal_places=2)),
                ('commission_amount_approved', fields.DecimalField(default=0, max_digits=18, decimal_places=2)),
                ('commission_amount_settled', fields.DecimalField(default=0, max_digits=18, decimal_places=2)),
                ('commission_amount_paid', fields.DecimalField(default=0, max_digits=18, decimal_places=2)),
                ('commission_amount_rejected', fields.DecimalField(default=0, max_digits=18, decimal_places=2)),
                ('commission_amount_reversed', fields.DecimalField(default=0, max_digits=18, decimal_places=2)),
            ],
            options={'table': 'report_span_rollups', 'app': 'models', 'unique_together': (('program_id', 'bucket', 'days', 'dimension', 'value'),), 'indexes': [Index(fields=['program_id', 'dimension', 'bucket', 'days'])], 'pk_attr': 'id', 'table_description': 'The same figures per aligned span of local days (server/domain/reports/spans.py):'},
            bases=['_RollupColumns'],
        ),
        ops.CreateModel(
            name='ReportSpanSketch',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program_id', fields.BigIntField()),
                ('day', UtcDatetimeField(auto_now=False, auto_now_add=False)),
                ('days', fields.SmallIntField()),
                ('dimension', fields.CharField(max_length=16)),
                ('value', fields.CharField(max_length=64)),
                ('registers', fields.TextField(unique=False)),
            ],
            options={'table': 'report_span_sketches', 'app': 'models', 'unique_together': (('program_id', 'day', 'days', 'dimension', 'value'),), 'indexes': [Index(fields=['program_id', 'dimension', 'day', 'days'])], 'pk_attr': 'id', 'table_description': 'The unique visitor sketch of an aligned span of local days: the union of its halves.'},
            bases=['Model'],
        ),
    ]
