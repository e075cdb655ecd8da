from tortoise import migrations
from tortoise.migrations import operations as ops
from server.models.fields import UtcDatetimeField
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0031_report_spans')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ReportRangeFigures',
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
                ('range_end', UtcDatetimeField(auto_now=False, auto_now_add=False)),
                ('days', fields.SmallIntField()),
                ('unique_visitors', fields.IntField(default=0)),
                ('active_values', fields.IntField(default=0)),
            ],
            options={'table': 'report_range_figures', 'app': 'models', 'unique_together': (('program_id', 'bucket', 'days', 'dimension', 'value'),), 'indexes': [Index(fields=['program_id', 'dimension', 'bucket', 'days', 'net_sales'])], 'pk_attr': 'id', 'table_description': 'The figures of one range of whole local days (bucket: the UTC start of its first day,'},
            bases=['_RollupColumns'],
        ),
        ops.AddField(
            model_name='ReportState',
            name='generation',
            field=fields.BigIntField(default=0, db_default=0),
        ),
    ]

