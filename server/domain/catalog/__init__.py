"""The store's catalog: which rows a push may hold and which stored row a pushed one replaces."""
