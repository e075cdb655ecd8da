"""The ledger: postings, balances and reconciliation, adjustments, statements."""
