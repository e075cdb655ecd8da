"""Use cases of the tools that help promoters sell (docs/promotion-tools.md)."""
