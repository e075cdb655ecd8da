"""Use cases of reports: marking buckets that writes change, refreshing and rebuilding the
rollups from raw rows, and reading overviews, breakdowns, funnels and dashboards."""
