from tortoise import migrations
from tortoise.migrations import operations as ops
from server.models.fields import UtcDatetimeField
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0016_lawful_program_settings')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AgreementAcceptance',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program_id', fields.BigIntField()),
                ('promoter', fields.ForeignKeyField('models.Promoter', source_field='promoter_id', db_constraint=True, to_field='id', related_name='agreement_acceptances', on_delete=OnDelete.RESTRICT)),
                ('version', fields.CharField(max_length=32)),
                ('accepted_at', UtcDatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'agreement_acceptances', 'app': 'models', 'unique_together': (('promoter', 'version'),), 'pk_attr': 'id', 'table_description': 'A promoter accepting one version of the program agreement, with the time (append-only).'},
            bases=['Model'],
        ),
    ]
