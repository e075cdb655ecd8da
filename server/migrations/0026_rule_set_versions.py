"""Rule-set versions (docs/rule-sets.md): the versions table, the program's live version and
the version each commission was computed under. Every existing commission was computed under
today's configuration, which becomes version 1 of its program: the row itself is written from
the live records the first time the program's versions are read or changed."""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from server.models.fields import UtcDatetimeField


async def name_version_one(apps, schema_editor) -> None:
    conn = schema_editor.client
    await conn.execute_query(
        "UPDATE commissions SET rule_set_version = 1 WHERE rule_set_version IS NULL"
    )


class Migration(migrations.Migration):
    dependencies = [("models", "0025_sealed_personal_data")]

    initial = False

    operations = [
        ops.CreateModel(
            name='RuleSetVersion',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.ForeignKeyField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='rule_set_versions', on_delete=OnDelete.CASCADE)),
                ('number', fields.IntField()),
                ('status', fields.CharField(max_length=16)),
                ('based_on', fields.IntField(null=True)),
                ('document', fields.JSONField(default=dict)),
                ('note', fields.CharField(default='', max_length=255)),
                ('created_by', fields.BigIntField(null=True)),
                ('published_by', fields.BigIntField(null=True)),
                ('created_at', UtcDatetimeField(auto_now=False, auto_now_add=True)),
                ('published_at', UtcDatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('updated_at', UtcDatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'rule_set_versions', 'app': 'models', 'unique_together': (('program', 'number'),), 'indexes': [Index(fields=['program_id', 'status', 'number'])], 'pk_attr': 'id', 'table_description': 'A numbered version of the rule set of a program: its rules, period caps, tiers, boosts'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Program',
            name='rule_set_version',
            field=fields.IntField(default=1, db_default=1),
        ),
        ops.AddField(
            model_name='Commission',
            name='rule_set_version',
            field=fields.IntField(null=True),
        ),
        ops.RunPython(name_version_one, reverse_code=ops.RunPython.noop),
    ]
