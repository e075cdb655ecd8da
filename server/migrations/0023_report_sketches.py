from tortoise import migrations
from tortoise.migrations import operations as ops
from server.models.fields import UtcDatetimeField
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0022_spend_records')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ReportSketch',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program_id', fields.BigIntField()),
                ('day', UtcDatetimeField(auto_now=False, auto_now_add=False)),
                ('dimension', fields.CharField(max_length=16)),
                ('value', fields.CharField(max_length=64)),
                ('registers', fields.TextField(unique=False)),
            ],
            options={'table': 'report_sketches', 'app': 'models', 'unique_together': (('program_id', 'day', 'dimension', 'value'),), 'indexes': [Index(fields=['program_id', 'dimension', 'day'])], 'pk_attr': 'id', 'table_description': 'Unique visitors of one program, local day and dimension value as a HyperLogLog sketch'},
            bases=['Model'],
        ),
    ]
