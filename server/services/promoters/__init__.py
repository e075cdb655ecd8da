"""Promoters: applications and their expiry, the status life cycle, the tree, teams
and behaviour pages."""
