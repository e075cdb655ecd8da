"""Pure rules of tiers and incentives: who qualifies on their own results, what a tier or a
boost does to a commission, and when a milestone bonus is due."""
