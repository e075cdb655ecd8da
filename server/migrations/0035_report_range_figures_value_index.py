"""A kept range's complete row and totals are found by value, not by walking its values."""

from tortoise import migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0034_promoter_leaderboard_opt_out_index")]

    initial = False

    operations = [
        ops.AddIndex(
            model_name="ReportRangeFigures",
            index=Index(fields=["program_id", "dimension", "days", "value", "bucket"]),
        ),
    ]
