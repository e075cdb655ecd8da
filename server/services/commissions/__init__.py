"""Commissions: the engine's inputs and dry run, reads, staff review, auto-approval
and settlement."""
