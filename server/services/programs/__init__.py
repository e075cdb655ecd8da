"""Program configuration: settings, sites, commission rules and caps, and the
per-worker program cache."""
