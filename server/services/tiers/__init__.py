"""Use cases of tiers and incentives: configuration, the tier job, assignments, milestone
bonuses, boosts and the leaderboard."""
