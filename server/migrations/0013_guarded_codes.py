from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from server.models.fields import UtcDatetimeField
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0012_order_channel')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ReservedCode',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.ForeignKeyField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='reserved_codes', on_delete=OnDelete.CASCADE)),
                ('code', fields.CharField(max_length=64)),
                ('normalized', fields.CharField(max_length=64)),
                ('note', fields.CharField(null=True, max_length=128)),
                ('registered_by', fields.CharField(null=True, max_length=64)),
                ('created_at', UtcDatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'reserved_codes', 'app': 'models', 'unique_together': (('program', 'normalized'),), 'pk_attr': 'id', 'table_description': 'A coupon code of the store itself that no promoter code may take or credit.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WxacodeCallWindow',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('promoter', fields.OneToOneField('models.Promoter', source_field='promoter_id', db_constraint=True, to_field='id', related_name='wxacode_window', on_delete=OnDelete.CASCADE)),
                ('started_at', UtcDatetimeField(auto_now=False, auto_now_add=False)),
                ('calls', fields.IntField(default=0)),
            ],
            options={'table': 'wxacode_call_windows', 'app': 'models', 'pk_attr': 'id', 'table_description': 'How many new mini-program codes a promoter caused in the current window (all workers).'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Program',
            name='sharing_rules',
            field=fields.JSONField(null=True, default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AddField(
            model_name='ShareCode',
            name='review_status',
            field=fields.CharField(default='approved', db_default='approved', max_length=16),
        ),
        ops.AddField(
            model_name='ShareCode',
            name='reviewed_at',
            field=UtcDatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
