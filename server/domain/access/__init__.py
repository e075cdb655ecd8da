"""Pure rules of access: login throttling and signed server-to-server requests."""
