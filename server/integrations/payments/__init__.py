"""Payment providers that move money out to promoters (WeChat Pay transfers, v3 and v2)."""
