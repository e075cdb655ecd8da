from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from server.models.fields import UtcDatetimeField
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0018_invitations')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CommissionBoostRecord',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.ForeignKeyField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='boosts', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(default='', max_length=128)),
                ('multiplier', fields.DecimalField(max_digits=6, decimal_places=4)),
                ('tier', fields.CharField(null=True, max_length=32)),
                ('starts_at', UtcDatetimeField(auto_now=False, auto_now_add=False)),
                ('ends_at', UtcDatetimeField(auto_now=False, auto_now_add=False)),
                ('max_rate', fields.DecimalField(null=True, max_digits=9, decimal_places=4)),
                ('enabled', fields.BooleanField(default=True)),
                ('created_at', UtcDatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', UtcDatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'commission_boosts', 'app': 'models', 'indexes': [Index(fields=['program_id', 'enabled', 'id'])], 'pk_attr': 'id', 'table_description': 'A time-bound boost: commissions on orders placed in [starts_at, ends_at) have their'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MilestoneBonusRecord',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.ForeignKeyField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='milestone_bonuses', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(default='', max_length=128)),
                ('target_net_sales', fields.DecimalField(max_digits=18, decimal_places=2)),
                ('amount', fields.DecimalField(max_digits=18, decimal_places=2)),
                ('tier', fields.CharField(null=True, max_length=32)),
                ('starts_at', UtcDatetimeField(auto_now=False, auto_now_add=False)),
                ('ends_at', UtcDatetimeField(auto_now=False, auto_now_add=False)),
                ('max_awards', fields.IntField(null=True)),
                ('awarded_count', fields.IntField(default=0)),
                ('enabled', fields.BooleanField(default=True)),
                ('created_at', UtcDatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', UtcDatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'milestone_bonuses', 'app': 'models', 'indexes': [Index(fields=['program_id', 'enabled', 'id'])], 'pk_attr': 'id', 'table_description': 'A one-time bonus paid to each promoter whose own net sales on orders placed in'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='BonusAward',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('bonus', fields.ForeignKeyField('models.MilestoneBonusRecord', source_field='bonus_id', db_constraint=True, to_field='id', related_name='awards', on_delete=OnDelete.RESTRICT)),
                ('promoter', fields.ForeignKeyField('models.Promoter', source_field='promoter_id', db_constraint=True, to_field='id', related_name='bonus_awards', on_delete=OnDelete.RESTRICT)),
                ('program_id', fields.BigIntField()),
                ('currency', fields.CharField(max_length=3)),
                ('amount', fields.DecimalField(max_digits=18, decimal_places=2)),
                ('explanation', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('ledger_reference', fields.CharField(max_length=128)),
                ('awarded_at', UtcDatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'bonus_awards', 'app': 'models', 'unique_together': (('bonus', 'promoter'),), 'pk_attr': 'id', 'table_description': 'A milestone bonus paid to one promoter: at most one per bonus and promoter, credited'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PromoterTierChange',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program_id', fields.BigIntField()),
                ('promoter', fields.ForeignKeyField('models.Promoter', source_field='promoter_id', db_constraint=True, to_field='id', related_name='tier_changes', on_delete=OnDelete.RESTRICT)),
                ('from_tier', fields.CharField(max_length=32)),
                ('to_tier', fields.CharField(max_length=32)),
                ('kind', fields.CharField(max_length=16)),
                ('source', fields.CharField(max_length=16)),
                ('locked', fields.BooleanField(default=False)),
                ('figures', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('reason', fields.CharField(null=True, max_length=512)),
                ('actor_id', fields.BigIntField(null=True)),
                ('at', UtcDatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'promoter_tier_changes', 'app': 'models', 'indexes': [Index(fields=['promoter_id', 'id']), Index(fields=['program_id', 'at'])], 'pk_attr': 'id', 'table_description': 'Append-only history of a promoter tier: each promotion, demotion or assignment with'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PromoterTierRecord',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.ForeignKeyField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='tiers', on_delete=OnDelete.CASCADE)),
                ('code', fields.CharField(max_length=32)),
                ('name', fields.CharField(default='', max_length=64)),
                ('rank', fields.IntField(default=1)),
                ('period_days', fields.SmallIntField(default=30)),
                ('min_net_sales', fields.DecimalField(null=True, max_digits=18, decimal_places=2)),
                ('min_settled_commissions', fields.DecimalField(null=True, max_digits=18, decimal_places=2)),
                ('min_paying_customers', fields.IntField(null=True)),
                ('level_rates', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('rate_multiplier', fields.DecimalField(null=True, max_digits=6, decimal_places=4)),
                ('freeze_days', fields.SmallIntField(null=True)),
                ('auto_approve', fields.BooleanField(default=False)),
                ('enabled', fields.BooleanField(default=True)),
                ('created_at', UtcDatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', UtcDatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'promoter_tiers', 'app': 'models', 'unique_together': (('program', 'code'),), 'pk_attr': 'id', 'table_description': 'A tier of a program (e.g. silver, gold): entry conditions on own results and benefits.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Commission',
            name='auto_approve',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name='Commission',
            name='freeze_days',
            field=fields.SmallIntField(null=True),
        ),
        ops.AddIndex(
            model_name='Commission',
            index=Index(fields=['program_id', 'settled_at']),
        ),
        ops.AddField(
            model_name='Promoter',
            name='leaderboard_opt_out',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name='Promoter',
            name='tier_evaluated_at',
            field=UtcDatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Promoter',
            name='tier_locked',
            field=fields.BooleanField(default=False, db_default=False),
        ),
    ]
