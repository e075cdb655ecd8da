from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0004_capability_paths')]

    initial = False

    operations = [
        ops.AddField(
            model_name='RefreshToken',
            name='family',
            field=fields.CharField(null=True, db_index=True, max_length=64),
        ),
    ]
