from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0002_money_out')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Binding',
            name='reached_by',
            field=fields.CharField(null=True, max_length=8),
        ),
        ops.AddField(
            model_name='Binding',
            name='share_link_id',
            field=fields.BigIntField(null=True),
        ),
        ops.AddField(
            model_name='Visit',
            name='reached_by',
            field=fields.CharField(null=True, max_length=8),
        ),
    ]
