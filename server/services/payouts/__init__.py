"""Payouts: withdrawals, the payment provider gateway, payout batches, disputes and
finance exports."""
