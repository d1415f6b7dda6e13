"""alerts view (METRICS.md). INTERFACE ONLY, being implemented."""
