"""rfm view (METRICS.md). INTERFACE ONLY, being implemented."""
