"""The program's bonus awards newest first: an index instead of a scan of every award."""

from tortoise import migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0032_report_range_figures")]

    initial = False

    operations = [
        ops.AddIndex(model_name="BonusAward", index=Index(fields=["program_id", "id"])),
    ]
