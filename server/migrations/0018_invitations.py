from tortoise import migrations
from tortoise.migrations import operations as ops
from server.models.fields import UtcDatetimeField
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0017_agreement_acceptances')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Invitation',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.ForeignKeyField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='invitations', on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharField(max_length=8)),
                ('code', fields.CharField(max_length=64)),
                ('max_uses', fields.IntField()),
                ('uses', fields.IntField(default=0)),
                ('note', fields.CharField(default='', max_length=128)),
                ('expires_at', UtcDatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_by', fields.BigIntField()),
                ('created_at', UtcDatetimeField(auto_now=False, auto_now_add=False)),
                ('revoked_by', fields.BigIntField(null=True)),
                ('revoked_at', UtcDatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'invitations', 'app': 'models', 'unique_together': (('program', 'code'),), 'pk_attr': 'id', 'table_description': 'A staff invitation to join a program: a typed code or a link token, usable max_uses'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='InvitationRedemption',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('invitation', fields.ForeignKeyField('models.Invitation', source_field='invitation_id', db_constraint=True, to_field='id', related_name='redemptions', on_delete=OnDelete.RESTRICT)),
                ('promoter', fields.ForeignKeyField('models.Promoter', source_field='promoter_id', db_constraint=True, to_field='id', related_name='invitation_redemptions', on_delete=OnDelete.RESTRICT)),
                ('redeemed_at', UtcDatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'invitation_redemptions', 'app': 'models', 'pk_attr': 'id', 'table_description': "A promoter profile created with an invitation (one row per use)."},
            bases=['Model'],
        ),
    ]
