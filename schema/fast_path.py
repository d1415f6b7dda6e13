"""Serve a hot field straight from graphql-core's coerced arguments.

Strawberry converts every input object into its dataclass before a resolver
(or any field extension) runs: for ``trackEvents`` with 100 items that was half
the cost of the call, for ``trackEvent`` its largest single cost, and for
``importEvents`` of 1,000 items about two thirds of it. graphql-core has
already checked each value against the schema, so the fast path renames the
inputs' fields to their Python names and calls the handler with plain mappings.

The field's own permission extensions (``admin()``) still run, through
strawberry's own chain builder, before the handler: the same ``IsAdmin``
objects, given the arguments by Python name (input objects as mappings). Other
kinds of field extension could expect converted objects, so a field carrying
one is refused when the schema is built.

The fields keep their strawberry resolvers (same handlers, converted objects);
``build_schema(fast_paths=False)`` serves those, and a test runs both paths and
compares the answers.

A field with no extension at all also gets its handler call, without graphql-core's
resolve info, under ``DIRECT`` in the GraphQL field's ``extensions``:
``direct(context, arguments)`` with the arguments graphql-core coerced (keyed by
GraphQL name) does exactly what the field's resolver does. ``app.graphql_fast``
calls it to answer a known document without running the executor.

A field whose permissions all read nothing of the resolve info but its context
(``reads_only_context = True`` on the permission class, as ``IsAdmin`` declares)
gets a ``DIRECT`` call too, which runs the same permission chain first, given an
info holding only the context; such a field is marked ``CHECKED`` beside it, so
that a caller never takes its ``DIRECT`` for an unchecked one. Any other field
with extensions gets no ``DIRECT``: only the executor serves it.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, cast

import strawberry
from graphql import (
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLObjectType,
    GraphQLResolveInfo,
    get_named_type,
    get_nullable_type,
)
from strawberry.extensions.field_extension import build_field_extension_resolvers
from strawberry.permission import PermissionExtension
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.field import StrawberryField
from strawberry.types.unset import UNSET

Handler = Callable[..., Awaitable[Any]]
Direct = Callable[[Any, Mapping[str, Any]], Awaitable[Any]]
# The key graphql-core types and fields carry their strawberry definition under.
DEFINITION = "strawberry-definition"
# The key a field carries its ``Direct`` call under (no extensions, or CHECKED).
DIRECT = "coerced-arguments-direct"
# Marks a field whose ``Direct`` call runs the field's permission extensions first.
CHECKED = "coerced-arguments-checked"


class _ContextOnly:
    """The part of graphql-core's resolve info a ``reads_only_context`` permission reads."""

    __slots__ = ("context",)

    def __init__(self, context: Any) -> None:
        self.context = context


def _reads_only_context(definition: StrawberryField) -> bool:
    return all(
        isinstance(extension, PermissionExtension)
        and all(getattr(p, "reads_only_context", False) for p in extension.permissions)
        for extension in definition.extensions
    )


def _converter(schema: strawberry.Schema, type_: Any) -> Callable[[Any], Any]:
    """How an argument of GraphQL type ``type_`` reaches the handler: input objects
    (or lists of them) as dicts keyed by Python field names, anything else as is."""
    named = get_named_type(type_)
    if not isinstance(named, GraphQLInputObjectType):
        return lambda value: value
    definition = named.extensions[DEFINITION]
    assert isinstance(definition, StrawberryObjectDefinition), named.name
    python_names = {
        schema.config.name_converter.get_graphql_name(field): field.python_name
        for field in definition.fields
    }
    nested = [
        name
        for name, field in named.fields.items()
        if isinstance(get_named_type(field.type), GraphQLInputObjectType)
    ]
    if nested:  # renamed one level only
        raise TypeError(f"{named.name} holds input objects ({', '.join(nested)})")

    def rename(item: Mapping[str, Any]) -> dict[str, Any]:
        return {python_names[name]: value for name, value in item.items()}

    if isinstance(get_nullable_type(type_), GraphQLList):
        return lambda value: None if value is None else [rename(item) for item in value]
    return lambda value: None if value is None else rename(value)


def serve_with_coerced_arguments(
    schema: strawberry.Schema, type_name: str, field_name: str, handler: Handler
) -> None:
    """Resolve ``type_name.field_name`` via ``handler(context, *arguments)``.

    ``arguments`` are the field's arguments in the order it declares them (an
    omitted one: its default); input objects, or lists of them, as dicts keyed
    by Python field names. The field's permission extensions run first.
    """
    parent = schema._schema.get_type(type_name)
    assert isinstance(parent, GraphQLObjectType), type_name
    field = parent.fields[field_name]
    definition = field.extensions[DEFINITION]
    assert isinstance(definition, StrawberryField), field_name
    others = [e for e in definition.extensions if not isinstance(e, PermissionExtension)]
    if others:
        raise TypeError(f"{type_name}.{field_name}: extensions {others} need converted inputs")

    # (GraphQL name, Python name, default, conversion) per argument, in order.
    arguments = []
    for name, argument in field.args.items():
        strawberry_argument = argument.extensions[DEFINITION]
        default = None if strawberry_argument.default is UNSET else strawberry_argument.default
        arguments.append(
            (name, strawberry_argument.python_name, default, _converter(schema, argument.type))
        )

    def python_values(given: Mapping[str, Any]) -> dict[str, Any]:
        return {
            python: convert(given[name]) if name in given else default
            for name, python, default, convert in arguments
        }

    if not definition.extensions:

        async def direct(context: Any, given: Mapping[str, Any]) -> Any:
            return await handler(context, *python_values(given).values())

        async def resolve_plain(source: Any, info: GraphQLResolveInfo[Any], **given: Any) -> Any:
            return await direct(info.context, given)

        field.resolve = resolve_plain
        field.extensions = {**field.extensions, DIRECT: direct}
        return

    async def call(_: Any, info: Any, **values: Any) -> Any:
        return await handler(info.context, *(values[python] for _, python, _, _ in arguments))

    # Chained as strawberry chains them (schema_converter.wrap_field_extensions).
    chain: Callable[..., Any] = call
    for extension_resolver in build_field_extension_resolvers(definition):
        chain = functools.partial(extension_resolver, chain)

    async def resolve(source: Any, info: GraphQLResolveInfo[Any], **given: Any) -> Any:
        strawberry_info = schema.config.info_class(_raw_info=info, _field=definition)
        return await chain(source, strawberry_info, **python_values(given))

    field.resolve = resolve
    if not _reads_only_context(definition):
        return

    async def checked(context: Any, given: Mapping[str, Any]) -> Any:
        # A root field's source is the operation's root value: None (as Schema.execute).
        raw = cast("GraphQLResolveInfo[Any]", _ContextOnly(context))
        strawberry_info = schema.config.info_class(_raw_info=raw, _field=definition)
        return await chain(None, strawberry_info, **python_values(given))

    field.extensions = {**field.extensions, DIRECT: checked, CHECKED: True}
