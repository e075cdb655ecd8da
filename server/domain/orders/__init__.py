"""Pure rules of order events: parsing, the inbox, the order life cycle and refunds."""
