"""The async metrics layer: one module per query family (ingest, dashboard, funnel, rfm,
alerts), plus the shared time windows and rounding. Builds pipelines and turns their rows
into figures; reads and writes only through ``storage``'s ``Database`` seam.

Nothing here imports strawberry or ``schema``.
"""
