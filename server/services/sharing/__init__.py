"""Sharing: channels, links, codes, QR images, visits and server-side clicks,
bindings, and who an order is attributed to."""
