"""Pure rules of promoters: applying, the status life cycle and the tree."""
