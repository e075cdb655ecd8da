"""Fraud detectors: pure rules over facts the services gather (no I/O). One module per
family; thresholds.py holds every threshold with its default, findings.py what they report."""
