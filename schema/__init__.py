from schema.schema import build_schema

__all__ = ["build_schema"]
