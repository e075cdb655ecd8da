from tortoise import migrations
from tortoise.migrations import operations as ops
from server.models.fields import UtcDatetimeField
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0021_report_buyers')]

    initial = False

    operations = [
        ops.CreateModel(
            name='SpendRecord',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program_id', fields.BigIntField()),
                ('day', fields.DateField()),
                ('promoter_id', fields.BigIntField(null=True)),
                ('channel_id', fields.BigIntField(null=True)),
                ('utm_campaign', fields.CharField(null=True, max_length=64)),
                ('amount', fields.DecimalField(max_digits=18, decimal_places=2)),
                ('currency', fields.CharField(max_length=3)),
                ('note', fields.CharField(default='', max_length=255)),
                ('created_by', fields.BigIntField(null=True)),
                ('created_at', UtcDatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'spend_records', 'app': 'models', 'indexes': [Index(fields=['program_id', 'day'])], 'pk_attr': 'id', 'table_description': 'Money the merchant spent on one local day for a sub-account, a channel or a campaign'},
            bases=['Model'],
        ),
    ]
