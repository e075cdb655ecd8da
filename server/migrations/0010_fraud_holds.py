from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from server.models.fields import UtcDatetimeField
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0009_idempotency_keys')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PromoterHold',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program_id', fields.BigIntField()),
                ('promoter', fields.ForeignKeyField('models.Promoter', source_field='promoter_id', db_constraint=True, to_field='id', related_name='holds', on_delete=OnDelete.RESTRICT)),
                ('reason', fields.CharField(max_length=512)),
                ('placed_by', fields.BigIntField()),
                ('placed_at', UtcDatetimeField(auto_now=False, auto_now_add=False)),
                ('lifted_by', fields.BigIntField(null=True)),
                ('lifted_at', UtcDatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('lift_reason', fields.CharField(null=True, max_length=512)),
                ('active_promoter_id', fields.BigIntField(null=True, unique=True)),
            ],
            options={'table': 'promoter_holds', 'app': 'models', 'indexes': [Index(fields=['promoter_id', 'id'])], 'pk_attr': 'id', 'table_description': 'A manual fraud hold staff put on a promoter, and its lifting (never deleted).'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='PayoutBatch',
            name='held_promoter_ids',
            field=fields.JSONField(null=True, default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AddField(
            model_name='Program',
            name='fraud_hold_scope',
            field=fields.CharField(default='promoter', db_default='promoter', max_length=24),
        ),
    ]
