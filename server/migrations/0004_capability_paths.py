from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0003_touch_provenance')]

    initial = False

    operations = [
        ops.AlterModelOptions(
            name='CommissionRuleRecord',
            options={'table': 'commission_rules', 'app': 'models', 'indexes': [Index(fields=['program_id', 'enabled', 'id'])], 'pk_attr': 'id', 'table_description': 'A stored override of the program rates (server.domain.commissions.rules.CommissionRule).'},
        ),
        ops.AlterModelOptions(
            name='PeriodCapRecord',
            options={'table': 'commission_period_caps', 'app': 'models', 'indexes': [Index(fields=['program_id', 'enabled', 'id'])], 'pk_attr': 'id', 'table_description': 'A stored per-promoter day/month earnings cap (server.domain.commissions.rules.PeriodCap).'},
        ),
    ]
