from tortoise import migrations
from tortoise.migrations import operations as ops
from server.models.fields import UtcDatetimeField
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0020_reports')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ReportBuyer',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program_id', fields.BigIntField()),
                ('bucket', UtcDatetimeField(auto_now=False, auto_now_add=False)),
                ('buyer_key', fields.CharField(max_length=64)),
                ('orders', fields.IntField(default=0)),
                ('net_sales', fields.DecimalField(default=0, max_digits=18, decimal_places=2)),
                ('promoter_id', fields.BigIntField(null=True)),
                ('site_id', fields.BigIntField(null=True)),
                ('channel_id', fields.BigIntField(null=True)),
                ('utm_source', fields.CharField(null=True, max_length=64)),
                ('utm_medium', fields.CharField(null=True, max_length=64)),
                ('utm_campaign', fields.CharField(null=True, max_length=64)),
                ('reached_by', fields.CharField(null=True, max_length=8)),
            ],
            options={'table': 'report_buyers', 'app': 'models', 'indexes': [Index(fields=['program_id', 'bucket']), Index(fields=['program_id', 'buyer_key', 'bucket'])], 'pk_attr': 'id', 'table_description': 'A buyer of one local hour bucket under one touch, with their orders and net sales'},
            bases=['Model'],
        ),
    ]
