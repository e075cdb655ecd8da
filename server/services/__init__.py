"""Use cases: one transaction each, built from domain rules and models."""
