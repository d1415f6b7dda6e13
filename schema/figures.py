"""Turn the metrics layer's result dataclasses into the schema's types.

``metrics`` answers with plain frozen dataclasses (it never imports strawberry);
the schema's object types carry the same field names. ``as_type`` copies one
into the other by the schema type's own field list, recursing into nested
objects and lists, so a field the metrics layer lacks fails loudly in tests
instead of silently resolving to nothing.

A type whose fields are all plain attributes of values that need no converting
(a row: ``RfmCustomer``, ``ProductPerformance``) is not copied at all when the
figures are a dataclass with every one of its fields: graphql-core reads the
same attributes from either (no ``is_type_of``, no resolver that would get the
wrong ``self``). A long list of rows then costs no second object per row.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable
from functools import cache
from typing import Any, TypeVar, cast

from strawberry.types.base import (
    StrawberryList,
    StrawberryOptional,
    get_object_definition,
    has_object_definition,
)

T = TypeVar("T")
Convert = Callable[[Any], Any]


def as_type(cls: type[T], figures: Any) -> T:
    """``cls`` (a strawberry object type) built from ``figures``' same-named attributes."""
    return cast(T, _builder(cast(Hashable, cls))(figures))


@cache
def _builder(cls: Any) -> _Build:
    """How to build ``cls`` from a figures object: its fields and their converters, found
    once per type (reading a field's type resolves annotations: costly per object)."""
    definition = get_object_definition(cls, strict=True)
    fields = [
        (field.python_name, _converter(field.type))
        for field in definition.fields
        if field.base_resolver is None
    ]
    names = frozenset(name for name, _ in fields)
    plain = (
        len(fields) == len(definition.fields)
        and definition.is_type_of is None
        and not definition.interfaces  # Strawberry gives those an is_type_of
        and all(convert is _same for _, convert in fields)
        # Nothing but fields: code handed the built object calls no method of it.
        and not any(
            callable(value) or isinstance(value, property | classmethod | staticmethod)
            for key, value in vars(cls).items()
            if key[:2] != "__"
        )
    )
    return _Build(cls, fields, names, plain)


class _Build:
    """Builds one schema type from figures (see ``_builder``)."""

    def __init__(
        self, cls: Any, fields: list[tuple[str, Convert]], names: frozenset[str], plain: bool
    ) -> None:
        self.cls, self.fields, self.names, self.plain = cls, fields, names, plain
        # Per class of figures: whether it carries every field (then it is answered as is).
        self.carries: dict[type, bool] = {}

    def as_is(self, kind: type) -> bool:
        """Whether figures of class ``kind`` are answered as they are."""
        if not self.plain:
            return False
        answered_as_is = self.carries.get(kind)
        if answered_as_is is None:
            answered_as_is = self.carries[kind] = dataclasses.is_dataclass(kind) and (
                self.names <= {field.name for field in dataclasses.fields(kind)}
            )
        return answered_as_is

    def __call__(self, figures: Any) -> Any:
        if self.as_is(type(figures)):
            return figures
        return self.cls(**{name: convert(getattr(figures, name)) for name, convert in self.fields})


def _same(value: Any) -> Any:
    return value


def _converter(annotation: Any) -> Convert:
    if isinstance(annotation, StrawberryOptional):
        inner = _converter(annotation.of_type)
        if inner is _same:
            return _same
        return lambda value: None if value is None else inner(value)
    if isinstance(annotation, StrawberryList):
        row = annotation.of_type
        if isinstance(row, type) and has_object_definition(row):
            return lambda values: _rows(_builder(row), values)
        item = _converter(row)
        if item is _same:
            return list
        return lambda values: [item(value) for value in values]
    if isinstance(annotation, type) and has_object_definition(annotation):
        return lambda value: _builder(annotation)(value)
    return _same


def _rows(build: _Build, values: Any) -> list[Any]:
    """A list of objects: answered as it is when every item's class is (one check a class)."""
    if all(build.as_is(kind) for kind in set(map(type, values))):
        return list(values)
    return [build(value) for value in values]
