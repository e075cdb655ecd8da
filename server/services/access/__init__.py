"""Who may call: WeChat users, staff, tokens, login throttling, API keys,
signed S2S requests and the audit log."""
