"""Order events from the store: the inbox and its drainer, paid / refunded /
completed / cancelled, and order reads."""
