from tortoise import migrations
from tortoise.migrations import operations as ops
from server.models.fields import UtcDatetimeField
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0019_tiers_and_incentives')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ReportMark',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program_id', fields.BigIntField()),
                ('at', UtcDatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'report_marks', 'app': 'models', 'pk_attr': 'id', 'table_description': 'An instant whose report bucket a committed write changed: the refresh job recomputes'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ReportRollup',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program_id', fields.BigIntField()),
                ('bucket', UtcDatetimeField(auto_now=False, auto_now_add=False)),
                ('dimension', fields.CharField(max_length=16)),
                ('value', fields.CharField(max_length=64)),
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
            options={'table': 'report_rollups', 'app': 'models', 'unique_together': (('program_id', 'bucket', 'dimension', 'value'),), 'indexes': [Index(fields=['program_id', 'dimension', 'bucket'])], 'pk_attr': 'id', 'table_description': 'Additive report figures of one program, local hour bucket and dimension value.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ReportState',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program_id', fields.BigIntField(unique=True)),
                ('refreshed_at', UtcDatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'report_states', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Per program: the row a refresh or rebuild locks first (one recomputation at a time),'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ReportVisitor',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program_id', fields.BigIntField()),
                ('bucket', UtcDatetimeField(auto_now=False, auto_now_add=False)),
                ('visitor_hash', fields.CharField(max_length=64)),
                ('promoter_id', fields.BigIntField(null=True)),
                ('site_id', fields.BigIntField(null=True)),
                ('channel_id', fields.BigIntField(null=True)),
                ('utm_source', fields.CharField(null=True, max_length=64)),
                ('utm_medium', fields.CharField(null=True, max_length=64)),
                ('utm_campaign', fields.CharField(null=True, max_length=64)),
                ('reached_by', fields.CharField(null=True, max_length=8)),
            ],
            options={'table': 'report_visitors', 'app': 'models', 'indexes': [Index(fields=['program_id', 'bucket']), Index(fields=['promoter_id', 'bucket'])], 'pk_attr': 'id', 'table_description': 'A unique visitor of one local hour bucket under one touch: unique counts of any range'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Program',
            name='leaderboard_enabled',
            field=fields.BooleanField(default=False, db_default=False),
        ),
    ]
