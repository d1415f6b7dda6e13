"""Benchmark harness for the analytics API: ``python -m bench`` (see bench/README.md)."""
