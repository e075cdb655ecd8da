"""Pure rules of payouts: withdrawals, payout schedules and disputes."""
