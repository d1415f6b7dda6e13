"""Turn the metrics layer's result dataclasses into the schema's types.

``metrics`` answers with plain frozen dataclasses (it never imports strawberry);
the schema's object types carry the same field names. ``as_type`` copies one
into the other by the schema type's own field list, recursing into nested
objects and lists, so a field the metrics layer lacks fails loudly in tests
instead of silently resolving to nothing.
"""

from __future__ import annotations

from typing import Any, TypeVar

from strawberry.types.base import (
    StrawberryList,
    StrawberryOptional,
    get_object_definition,
    has_object_definition,
)

T = TypeVar("T")


def as_type(cls: type[T], figures: Any) -> T:
    """``cls`` (a strawberry object type) built from ``figures``' same-named attributes."""
    definition = get_object_definition(cls, strict=True)
    values = {
        field.python_name: _value(field.type, getattr(figures, field.python_name))
        for field in definition.fields
        if field.base_resolver is None
    }
    return cls(**values)


def _value(annotation: Any, value: Any) -> Any:
    if isinstance(annotation, StrawberryOptional):
        if value is None:
            return None
        annotation = annotation.of_type
    if isinstance(annotation, StrawberryList):
        return [_value(annotation.of_type, item) for item in value]
    if isinstance(annotation, type) and has_object_definition(annotation):
        return as_type(annotation, value)
    return value
