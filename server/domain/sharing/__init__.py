"""Pure rules of sharing: codes, server-side clicks, bindings and attribution."""
