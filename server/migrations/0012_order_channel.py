from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0011_staff_programs')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Order',
            name='channel_id',
            field=fields.BigIntField(null=True),
        ),
        ops.AddIndex(
            model_name='Order',
            index=Index(fields=['program_id', 'channel_id']),
        ),
    ]
