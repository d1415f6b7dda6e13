"""Complete plain data in one pass: lists of plain objects without graphql-core's per-field work.

graphql-core completes every field of every item on its own: a resolve info, a
resolver call, a path, an awaitable check, then the leaf's serializer. For a
long list of small objects (``rfm.customers``, a breakdown's rows, a product
table) that per-field work is most of the view's time. A *completion* built
here does what graphql-core does for a value whose shape is plain, without the
rest:

* leaves are serialized by their own type (``Int`` and ``String`` values that
  need no change are given back as they are; an enum member is serialized once);
* objects are built from their selection: fields that are plain attributes
  (Strawberry's default resolver: no resolver, no extension, no permission), no
  arguments, no directives, no fragments, ``__typename`` allowed, aliases
  allowed but not one response key twice, and no ``is_type_of``;
* lists and non-null wrappers of those.

Any other shape gets no completion (``completion`` answers None). A value the
completion does not take (a null where the type forbids it, a value a
serializer refuses) raises, and graphql-core completes the value instead: it
reports the error with its path and location as it always does. Reading plain
attributes has no side effects, so doing it twice changes nothing.

``PlainListExecutor`` is the schema's executor (graphql-core's, as Strawberry
configures it) with one change: a list whose items have a completion is
completed by it. ``app.graphql_fast`` uses the same completions for a whole
answer.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterable, Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from functools import partial
from keyword import iskeyword
from operator import attrgetter
from typing import Any, NoReturn

from graphql import (
    GRAPHQL_MAX_INT,
    GRAPHQL_MIN_INT,
    FieldNode,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInt,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLString,
    SelectionSetNode,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import AwaitableOrValue, Path, Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.field import StrawberryField

from schema.fast_path import DEFINITION

MAX_ENUM_MEMBERS = 64  # serialized members kept per enum completion

Complete = Callable[[Any], Any]


class NotPlain(Exception):
    """The fast completion met a value it does not take: graphql-core completes it."""


def _not_plain() -> NoReturn:
    raise NotPlain


# The Python type each built-in scalar gives back unchanged (graphql-core's
# serialize_int within 32 bits, serialize_string, serialize_boolean): no call for those.
_UNCHANGED: dict[GraphQLScalarType, type] = {GraphQLInt: int, GraphQLString: str}
_INT_BOUNDS = (GRAPHQL_MIN_INT, GRAPHQL_MAX_INT)


def _absent(required: bool) -> None:
    """What a null completes to: null, or (where the type forbids one) graphql-core's error."""
    if required:
        _not_plain()


@dataclass(frozen=True, slots=True)
class _Leaf:
    complete: Complete
    unchanged: type | None  # the Python type given back as it is (Int, String)
    members: dict[int, tuple[Enum, Any]] | None  # an enum's memo: id(member) -> answer


def _leaf(type_: GraphQLLeafType, required: bool) -> _Leaf:
    serialize = type_.coerce_output_value
    unchanged = _UNCHANGED.get(type_) if isinstance(type_, GraphQLScalarType) else None
    low, high = _INT_BOUNDS
    # An enum's members, each serialized once (a member always serializes alike), by
    # identity: an Enum's own hash is a Python call, id() is not. The member is kept
    # with its answer, so its id cannot be another object's.
    members: dict[int, tuple[Enum, Any]] = {}

    def complete(value: Any) -> Any:
        kind = type(value)
        if kind is unchanged and (kind is not int or low <= value <= high):
            return value
        if value is None:
            return _absent(required)
        known = members.get(id(value))
        if known is not None and known[0] is value:
            return known[1]
        result = serialize(value)
        if result is None or result is Undefined:
            _not_plain()
        if isinstance(value, Enum) and len(members) < MAX_ENUM_MEMBERS:
            members[id(value)] = (value, result)
        return result

    return _Leaf(complete, unchanged, members if isinstance(type_, GraphQLEnumType) else None)


def _list(inner: Complete, required: bool) -> Complete:
    def complete(value: Any) -> Any:
        if value is None:
            return _absent(required)
        if type(value) is not list:
            _not_plain()
        return [inner(item) for item in value]

    return complete


def _reader(field: GraphQLField) -> tuple[str | None, Callable[[Any], Any]]:
    """What a plain attribute's resolver returns for a source object: the attribute's
    name (None if it is not an attribute) and a function reading it."""
    definition = field.extensions.get(DEFINITION)
    if (
        isinstance(definition, StrawberryField)
        and definition.base_resolver is None
        and definition.default_resolver is getattr
    ):
        # StrawberryField.get_result: default_resolver(source, python_name).
        name = definition.python_name
        return name, attrgetter(name)
    resolve = field.resolve
    assert resolve is not None
    # Strawberry calls a plain attribute's resolver without info too.
    return None, lambda source: resolve(source, None)


def _nullable(type_: GraphQLOutputType) -> tuple[GraphQLOutputType, bool]:
    """``type_`` without its non-null wrapper, and whether it had one (a null is then
    graphql-core's error)."""
    if isinstance(type_, GraphQLNonNull):
        return type_.of_type, True
    return type_, False


def _same(value: Any) -> Any:
    return value


def _fields(
    type_: GraphQLObjectType, selection_set: SelectionSetNode | None
) -> list[_Field] | None:
    """How to complete each field ``selection_set`` selects on ``type_``; None when
    the selection is not plain."""
    if selection_set is None or type_.is_type_of is not None:
        return None
    name = type_.name
    fields: list[_Field] = []
    for selection in selection_set.selections:
        if not isinstance(selection, FieldNode) or selection.directives or selection.arguments:
            return None
        key = (selection.alias or selection.name).value
        if any(key == seen.key for seen in fields):
            return None  # merged by graphql-core; not worth doing here
        if selection.name.value == "__typename":
            fields.append(_Field(key, None, lambda _: name, _same))
            continue
        field = type_.fields.get(selection.name.value)
        # Strawberry marks the resolver of a plain attribute (no resolver, no extension).
        if field is None or not getattr(field.resolve, "_is_default", False):
            return None
        leaf_type, required = _nullable(field.type)
        if isinstance(leaf_type, GraphQLLeafType):
            if selection.selection_set is not None:
                return None
            leaf = _leaf(leaf_type, required)
            fields.append(_Field(key, *_reader(field), leaf.complete, leaf))
            continue
        complete = completion(field.type, selection.selection_set)
        if complete is None:
            return None
        fields.append(_Field(key, *_reader(field), complete))
    return fields


@dataclass(frozen=True, slots=True)
class _Field:
    key: str  # the response key: the field's alias or name
    attribute: str | None  # the Python attribute the field reads, if it reads one
    read: Callable[[Any], Any]  # what the field's resolver returns for a source object
    complete: Complete
    leaf: _Leaf | None = None  # a leaf's parts, for the checks written in line


def _object_display(fields: list[_Field], namespace: dict[str, Any]) -> str:
    """``{key: complete(read(value)), ...}``, a Python expression over ``value``.

    Written out as Python source (as ``dataclasses`` writes ``__init__``): one dict
    display, attributes read directly, and a String or Int that needs no change or
    an enum member already serialized taken in line, without a call: an object is
    done thousands of times an answer. The source holds only names made here and
    attribute names that are Python identifiers; response keys (aliases: the
    client's text), types and functions are values of ``namespace``.
    """
    items = []
    for index, field in enumerate(fields):
        namespace[f"key_{index}"] = field.key
        namespace[f"complete_{index}"] = field.complete
        attribute = field.attribute
        if attribute is not None and attribute.isidentifier() and not iskeyword(attribute):
            read = f"value.{attribute}"
        else:
            namespace[f"read_{index}"] = field.read
            read = f"read_{index}(value)"
        leaf, got, known = field.leaf, f"got_{index}", f"known_{index}"
        if leaf is not None and leaf.unchanged is not None:
            namespace[f"unchanged_{index}"] = leaf.unchanged
            check = f"type({got} := {read}) is unchanged_{index}"
            if leaf.unchanged is int:
                check += f" and low <= {got} <= high"
            done = f"({got} if {check} else complete_{index}({got}))"
        elif leaf is not None and leaf.members is not None:
            namespace[f"members_{index}"] = leaf.members
            done = (
                f"({known}[1] if ({known} := members_{index}.get(id({got} := {read})))"
                f" is not None and {known}[0] is {got} else complete_{index}({got}))"
            )
        else:
            done = f"complete_{index}({read})"
        items.append(f"key_{index}: {done}")
    return f"{{{', '.join(items)}}}"


def _written(source: str, namespace: dict[str, Any], name: str) -> Complete:
    """The function ``name`` that ``source`` defines, run in ``namespace``."""
    low, high = _INT_BOUNDS
    namespace.update(absent=_absent, not_plain=_not_plain, low=low, high=high)
    exec(source, namespace)  # the source is made here: see _object_display
    complete: Complete = namespace[name]
    return complete


def _object_completion(fields: list[_Field], required: bool) -> Complete:
    """One object's completion, as one function (see ``_object_display``)."""
    namespace: dict[str, Any] = {"required": required}
    source = (
        "def complete_object(value):\n"
        "    if value is None:\n"
        "        return absent(required)\n"
        f"    return {_object_display(fields, namespace)}\n"
    )
    return _written(source, namespace, "complete_object")


def _objects_completion(fields: list[_Field], required: bool, list_required: bool) -> Complete:
    """A list of objects' completion, as one function: each item's dict display in
    line in one list comprehension, no call per item (see ``_object_display``)."""
    namespace: dict[str, Any] = {"required": required, "list_required": list_required}
    source = (
        "def complete_objects(items):\n"
        "    if items is None:\n"
        "        return absent(list_required)\n"
        "    if type(items) is not list:\n"
        "        not_plain()\n"
        f"    return [{_object_display(fields, namespace)} if value is not None\n"
        "            else absent(required) for value in items]\n"
    )
    return _written(source, namespace, "complete_objects")


def completion(
    type_: GraphQLOutputType, selection_set: SelectionSetNode | None, required: bool = False
) -> Complete | None:
    """The completion of a value of ``type_``, or None when the shape is not handled.

    ``required``: the type is wrapped in a non-null (a null is graphql-core's error)."""
    if isinstance(type_, GraphQLNonNull):
        return completion(type_.of_type, selection_set, required=True)
    if isinstance(type_, GraphQLList):
        item_type, item_required = _nullable(type_.of_type)
        if isinstance(item_type, GraphQLObjectType):
            fields = _fields(item_type, selection_set)
            return None if fields is None else _objects_completion(fields, item_required, required)
        inner = completion(type_.of_type, selection_set)
        return None if inner is None else _list(inner, required)
    if isinstance(type_, GraphQLLeafType):
        return None if selection_set is not None else _leaf(type_, required).complete
    if isinstance(type_, GraphQLObjectType):
        fields = _fields(type_, selection_set)
        return None if fields is None else _object_completion(fields, required)
    return None  # interfaces and unions


class PlainListExecutor(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor, completing a list of plain data in one pass (see above)."""

    def complete_list_value(
        self,
        return_type: GraphQLList[GraphQLOutputType],
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: AsyncIterable[Any] | Iterable[Any],
        position_context: Any,
    ) -> AwaitableOrValue[list[Any]]:
        # Strawberry always passes a manager; a middleware must see every field.
        middleware = self.middleware_manager
        if type(result) is list and (middleware is None or not middleware.middlewares):
            complete = self._plain_list(return_type, field_details_list)
            if complete is not None:
                try:
                    return complete(result)  # type: ignore[no-any-return]
                except Exception:
                    pass
        return super().complete_list_value(
            return_type, field_details_list, info, path, result, position_context
        )

    @staticmethod
    def _plain_list(
        return_type: GraphQLList[GraphQLOutputType], field_details_list: FieldDetailsList
    ) -> Complete | None:
        # One field node, not deferred, no directive (@stream): the plain case.
        if len(field_details_list) == 1:
            (details,) = field_details_list
            if details.defer_usage is None and not details.node.directives:
                return _list_completion(return_type, details.node)
        return None


# A field node's list completion, kept while the node lives: a document the cache
# (schema.caches) keeps is answered again and again, each item of an outer list
# asks for its inner lists' again, and writing a completion (``_object_completion``)
# costs more than a short list. Keyed by identities; the
# entry holds the type and a weak reference to the node, and leaves with the node.
_LIST_COMPLETIONS: dict[
    tuple[int, int], tuple[GraphQLOutputType, weakref.ref[FieldNode], Complete | None]
] = {}


def _list_completion(return_type: GraphQLOutputType, node: FieldNode) -> Complete | None:
    key = (id(return_type), id(node))
    known = _LIST_COMPLETIONS.get(key)
    if known is not None and known[0] is return_type and known[1]() is node:
        return known[2]
    complete = completion(return_type, node.selection_set)
    _LIST_COMPLETIONS[key] = (return_type, weakref.ref(node, partial(_forget, key)), complete)
    return complete


def _forget(key: tuple[int, int], dead: weakref.ref[FieldNode]) -> None:
    known = _LIST_COMPLETIONS.get(key)
    if known is not None and known[1] is dead:  # not a newer node's entry
        del _LIST_COMPLETIONS[key]
