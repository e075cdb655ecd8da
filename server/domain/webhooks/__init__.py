"""Outgoing webhooks as pure rules: event types and their payloads, the retry schedule,
Standard Webhooks signatures and which endpoint addresses may be called."""
