"""Fraud: inline checks at order time, scheduled scans, anomalies and staff decisions."""
