"""Benchmarks with recorded results (bench/RESULTS.md); run each as `python -m bench.<name>`."""
