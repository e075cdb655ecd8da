"""Running the service: job bookkeeping, the notification outbox and operational
counts for /metrics."""
