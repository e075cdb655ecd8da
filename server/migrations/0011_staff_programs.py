from tortoise import migrations
from tortoise.migrations import operations as ops
from server.models.fields import UtcDatetimeField
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0010_fraud_holds')]

    initial = False

    operations = [
        ops.CreateModel(
            name='StaffProgram',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('staff', fields.ForeignKeyField('models.StaffUser', source_field='staff_id', db_constraint=True, to_field='id', related_name='program_links', on_delete=OnDelete.CASCADE)),
                ('program', fields.ForeignKeyField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='staff_links', on_delete=OnDelete.CASCADE)),
                ('created_at', UtcDatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'staff_programs', 'app': 'models', 'unique_together': (('staff', 'program'),), 'pk_attr': 'id', 'table_description': 'A program a staff or finance account is limited to (an account with none sees all).'},
            bases=['Model'],
        ),
    ]
