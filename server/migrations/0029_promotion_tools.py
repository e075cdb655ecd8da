from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from server.models.fields import UtcDatetimeField
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [("models", "0028_webhooks")]

    initial = False

    operations = [
        ops.CreateModel(
            name='Announcement',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.ForeignKeyField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='announcements', on_delete=OnDelete.CASCADE)),
                ('title', fields.CharField(max_length=128)),
                ('body', fields.TextField(unique=False)),
                ('status', fields.CharField(default='draft', max_length=16)),
                ('notify', fields.BooleanField(default=False)),
                ('published_at', UtcDatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('archived_at', UtcDatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_by', fields.BigIntField(null=True)),
                ('created_at', UtcDatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', UtcDatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'announcements', 'app': 'models', 'indexes': [Index(fields=['program_id', 'status', 'published_at'])], 'pk_attr': 'id', 'table_description': 'A program announcement, which promoters read once it is published.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AnnouncementRead',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('announcement', fields.ForeignKeyField('models.Announcement', source_field='announcement_id', db_constraint=True, to_field='id', related_name='reads', on_delete=OnDelete.CASCADE)),
                ('promoter_id', fields.BigIntField()),
                ('read_at', UtcDatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'announcement_reads', 'app': 'models', 'unique_together': (('announcement', 'promoter_id'),), 'pk_attr': 'id', 'table_description': 'A promoter having read an announcement (first time only).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AnnouncementSubscription',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program_id', fields.BigIntField()),
                ('promoter_id', fields.BigIntField()),
                ('created_at', UtcDatetimeField(auto_now=False, auto_now_add=True)),
                ('used_at', UtcDatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('announcement_id', fields.BigIntField(null=True)),
            ],
            options={'table': 'announcement_subscriptions', 'app': 'models', 'indexes': [Index(fields=['program_id', 'used_at'])], 'pk_attr': 'id', 'table_description': 'A promoter consenting once to one announcement message (wx.requestSubscribeMessage).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Material',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.ForeignKeyField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='materials', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharField(max_length=16)),
                ('title', fields.CharField(max_length=128)),
                ('copy_text', fields.TextField(default='', unique=False)),
                ('destination', fields.CharField(null=True, max_length=255)),
                ('image_path', fields.CharField(null=True, max_length=255)),
                ('image_type', fields.CharField(null=True, max_length=32)),
                ('position', fields.IntField(default=0)),
                ('status', fields.CharField(default='draft', max_length=16)),
                ('published_at', UtcDatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', UtcDatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', UtcDatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'materials', 'app': 'models', 'indexes': [Index(fields=['program_id', 'status', 'position', 'id'])], 'pk_attr': 'id', 'table_description': 'A piece promoters share: an image, copy text, or a product page of the mini-program.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PosterTemplate',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.ForeignKeyField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='poster_templates', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=128)),
                ('version', fields.IntField(default=1)),
                ('image_path', fields.CharField(max_length=255)),
                ('image_sha256', fields.CharField(max_length=64)),
                ('content_type', fields.CharField(max_length=32)),
                ('width', fields.IntField()),
                ('height', fields.IntField()),
                ('layout', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('enabled', fields.BooleanField(default=True)),
                ('created_at', UtcDatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', UtcDatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'poster_templates', 'app': 'models', 'indexes': [Index(fields=['program_id', 'enabled', 'id'])], 'pk_attr': 'id', 'table_description': 'A background image staff uploaded and where the QR code and name go on it.'},
            bases=['Model'],
        ),
    ]
