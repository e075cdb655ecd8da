"""Outgoing webhooks: endpoints and their secrets, the outbox written with each change, and
delivery with retries, attempt logs and replay."""
