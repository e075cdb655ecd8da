from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0005_refresh_token_family')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='Order',
            index=Index(fields=['program_id', 'status', 'paid_at']),
        ),
        ops.AddField(
            model_name='Program',
            name='auto_complete_days',
            field=fields.IntField(null=True),
        ),
    ]
