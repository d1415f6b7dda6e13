"""Persistence and metrics: every driver call, pipeline and number lives here.

No strawberry here; ``schema`` and ``resolvers`` call in, never the other way.
"""
