"""The staff leaderboard counts a program's opt-outs from an index, not a scan of every promoter."""

from tortoise import migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0033_bonus_award_program_index")]

    initial = False

    operations = [
        ops.AddIndex(
            model_name="Promoter", index=Index(fields=["program_id", "leaderboard_opt_out"])
        ),
    ]
