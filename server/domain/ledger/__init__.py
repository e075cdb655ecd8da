"""Pure ledger arithmetic: postings, adjustments and monthly statements."""
