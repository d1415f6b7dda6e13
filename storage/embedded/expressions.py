"""Aggregation expressions compiled once into Python closures, with mongomock's meaning.

mongomock evaluates an expression by building a ``_Parser`` and walking the
expression again for every document; that walk is most of the embedded store's
time. :func:`compile_expression` walks it once and returns a closure that gives,
for any document, what ``mongomock.aggregate._parse_expression`` gives: the same
value, or the same exception (``KeyError`` for a missing field included).

Only the forms our pipelines use are compiled, each mirroring mongomock 4.3's
code line by line. Anything else (``$$`` variables, other operators, argument
shapes mongomock would reject) compiles to a closure that calls mongomock, and
every unusual value met at run time (a non-number in ``$multiply``, a non-date in
``$dateToString``, a negative ``$substr`` bound...) is handed to mongomock for that
document, so its result or error is mongomock's own.
"""

from __future__ import annotations

import datetime
import functools
import numbers
import re
from collections.abc import Callable
from typing import Any

from mongomock import aggregate as mongomock_aggregate
from mongomock import filtering as mongomock_filtering
from mongomock import helpers as mongomock_helpers

Document = dict[str, Any]
Compiled = Callable[[Any], Any]

# helpers.mongodb_to_bool: ``value not in [False, None, 0]``.
_FALSY: list[Any] = [False, None, 0]

_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = dict(mongomock_filtering.SORTING_OPERATOR_MAP)


def is_literal(expression: Any) -> bool:
    """Whether mongomock returns ``expression`` itself, whatever the document."""
    if isinstance(expression, dict):
        return False
    return not (isinstance(expression, str) and expression.startswith("$"))


def compile_expression(expression: Any, ignore_missing_keys: bool = False) -> Compiled:
    """``doc -> _parse_expression(expression, doc, ignore_missing_keys)``, compiled."""
    return _compile(expression, ignore_missing_keys)


def _fallback(expression: Any, ignore: bool) -> Compiled:
    parse = mongomock_aggregate._parse_expression

    def evaluate(doc: Any) -> Any:
        return parse(expression, doc, ignore_missing_keys=ignore)  # type: ignore[no-untyped-call]

    return evaluate


def _compile(expression: Any, ignore: bool) -> Compiled:
    if not isinstance(expression, dict):
        return _compile_basic(expression, ignore)
    if not all(isinstance(key, str) for key in expression):
        return _fallback(expression, ignore)
    if len(expression) > 1 and any(key.startswith("$") for key in expression):
        return _fallback(expression, ignore)  # mongomock raises OperationFailure
    if len(expression) == 1:
        ((key, value),) = expression.items()
        if key.startswith("$"):
            builder = _OPERATORS.get(key)
            compiled = builder(value, ignore) if builder is not None else None
            return compiled if compiled is not None else _fallback(expression, ignore)
    return _compile_object(expression, ignore)


def _compile_basic(expression: Any, ignore: bool) -> Compiled:
    if not (isinstance(expression, str) and expression.startswith("$")):

        def constant(doc: Any) -> Any:
            return expression

        return constant
    if expression.startswith("$$"):
        return _fallback(expression, ignore)
    path = expression[1:]
    get_value_by_dot = mongomock_helpers.get_value_by_dot
    if "." in path:

        def dotted(doc: Any) -> Any:
            return get_value_by_dot(doc, path, can_generate_array=True)  # type: ignore[no-untyped-call]

        return dotted

    def field(doc: Any) -> Any:
        if type(doc) is dict:
            return doc[path]
        return get_value_by_dot(doc, path, can_generate_array=True)  # type: ignore[no-untyped-call]

    return field


def _compile_object(expression: dict[str, Any], ignore: bool) -> Compiled:
    # _Parser.parse on a document of expressions: each value parsed; a missing
    # one leaves its field out when missing keys are ignored, else raises.
    fields = [(key, _compile(value, ignore)) for key, value in expression.items()]

    def build(doc: Any) -> Any:
        result = {}
        for key, evaluate in fields:
            try:
                result[key] = evaluate(doc)
            except KeyError:
                if ignore:
                    continue
                raise
        return result

    return build


def _many(values: list[Any] | tuple[Any, ...], ignore: bool) -> list[Compiled]:
    return [_compile(value, ignore) for value in values]


def _parse_many(compiled: list[Compiled], doc: Any, ignore: bool) -> list[Any]:
    """``list(_Parser.parse_many(values))``: a missing value is None when ignored."""
    if not ignore:
        return [evaluate(doc) for evaluate in compiled]
    values = []
    for evaluate in compiled:
        try:
            values.append(evaluate(doc))
        except KeyError:
            values.append(None)
    return values


def _to_bool(evaluate: Compiled) -> Callable[[Any], bool]:
    """``_Parser._parse_to_bool``: a missing value is false."""

    def truth(doc: Any) -> bool:
        try:
            return evaluate(doc) not in _FALSY
        except KeyError:
            return False

    return truth


# --- operators: each returns None when the arguments take a form it leaves to mongomock.


def _literal(value: Any, ignore: bool) -> Compiled | None:
    def constant(doc: Any) -> Any:
        return value

    return constant


def _cond(values: Any, ignore: bool) -> Compiled | None:
    if type(values) is list and len(values) == 3:
        condition, true_case, false_case = values
    elif type(values) is dict and {"if", "then", "else"} <= set(values):
        condition, true_case, false_case = values["if"], values["then"], values["else"]
    else:
        return None
    test = _to_bool(_compile(condition, ignore))
    when_true = _compile(true_case, ignore)
    when_false = _compile(false_case, ignore)

    def cond(doc: Any) -> Any:
        return when_true(doc) if test(doc) else when_false(doc)

    return cond


def _if_null(values: Any, ignore: bool) -> Compiled | None:
    if type(values) is not list or len(values) != 2:
        return None
    first = _compile(values[0], ignore)
    fallback = _compile(values[1], ignore)

    def if_null(doc: Any) -> Any:
        try:
            value = first(doc)
            if value is not None:
                return value
        except KeyError:
            pass
        return fallback(doc)

    return if_null


def _comparison(operator: str) -> Callable[[Any, bool], Compiled | None]:
    def build(values: Any, ignore: bool) -> Compiled | None:
        if type(values) not in (list, tuple) or len(values) != 2:
            return None
        left, right = _compile(values[0], ignore), _compile(values[1], ignore)
        if operator == "$eq":

            def equal(doc: Any) -> Any:
                a = left(doc)
                return a == right(doc)

            return equal
        if operator == "$ne":

            def not_equal(doc: Any) -> Any:
                a = left(doc)
                return a != right(doc)

            return not_equal
        compare = _COMPARISONS[operator]
        bson_compare = mongomock_filtering.bson_compare

        def ordered(doc: Any) -> Any:
            a = left(doc)
            return bson_compare(compare, a, right(doc))  # type: ignore[no-untyped-call]

        return ordered

    return build


def _in(values: Any, ignore: bool) -> Compiled | None:
    if type(values) is not list or len(values) != 2:
        return None
    item, array = _compile(values[0], ignore), _compile(values[1], ignore)

    def contains(doc: Any) -> Any:
        value = item(doc)
        return value in array(doc)

    return contains


def _and(values: Any, ignore: bool) -> Compiled | None:
    if type(values) is not list:
        return None
    tests = [_to_bool(_compile(value, ignore)) for value in values]

    def conjunction(doc: Any) -> bool:
        # A list, not a generator: mongomock evaluates every operand.
        return all([test(doc) for test in tests])

    return conjunction


def _or(values: Any, ignore: bool) -> Compiled | None:
    if type(values) is not list:
        return None
    tests = [_to_bool(_compile(value, ignore)) for value in values]

    def disjunction(doc: Any) -> bool:
        return any(test(doc) for test in tests)

    return disjunction


def _not(values: Any, ignore: bool) -> Compiled | None:
    test = _to_bool(_compile(values, ignore))

    def negation(doc: Any) -> bool:
        return not test(doc)

    return negation


def _concat(values: Any, ignore: bool) -> Compiled | None:
    if type(values) is not list:
        return None
    parts = _many(values, ignore)

    def concat(doc: Any) -> Any:
        parsed = _parse_many(parts, doc, ignore)
        return None if None in parsed else "".join([str(x) for x in parsed])

    return concat


def _to_string(values: Any, ignore: bool) -> Compiled | None:
    evaluate = _compile(values, ignore)

    def to_string(doc: Any) -> Any:
        try:
            parsed = evaluate(doc)
        except KeyError:
            return None
        if isinstance(parsed, bool):
            return str(parsed).lower()
        if isinstance(parsed, datetime.datetime):
            return parsed.isoformat()[:-3] + "Z"
        return str(parsed)

    return to_string


def _subtract(values: Any, ignore: bool) -> Compiled | None:
    if type(values) not in (list, tuple) or len(values) != 2:
        return None
    operands = _many(values, ignore)
    fallback = _fallback({"$subtract": values}, ignore)

    def subtract(doc: Any) -> Any:
        number_0, number_1 = _parse_many(operands, doc, ignore)
        if number_0 is None or number_1 is None:
            return None
        if isinstance(number_0, datetime.datetime):
            if type(number_1) is datetime.datetime:
                delta = number_0 - number_1
                return round(delta.total_seconds() * 1000)
            return fallback(doc)
        if type(number_0) in (int, float) and type(number_1) in (int, float):
            return number_0 - number_1
        return fallback(doc)

    return subtract


def _arithmetic(operator: str) -> Callable[[Any, bool], Compiled | None]:
    def build(values: Any, ignore: bool) -> Compiled | None:
        if type(values) not in (list, tuple) or not values:
            return None
        operands = _many(values, ignore)
        fallback = _fallback({operator: values}, ignore)
        number = numbers.Number
        combine: Callable[[list[Any]], Any]
        if operator == "$add":
            combine = sum
        else:
            combine = functools.partial(functools.reduce, lambda x, y: x * y)

        def arithmetic(doc: Any) -> Any:
            parsed = _parse_many(operands, doc, ignore)
            for value in parsed:
                if value is None:
                    return None
                if not isinstance(value, number):
                    return fallback(doc)  # mongomock's assertion
            return combine(parsed)

        return arithmetic

    return build


def _min(values: Any, ignore: bool) -> Compiled | None:
    """``$min`` of an operand list; numbers only, anything else as mongomock does it."""
    if type(values) not in (list, tuple) or not values:
        return None
    operands = _many(values, ignore)
    fallback = _fallback({"$min": values}, ignore)

    def minimum(doc: Any) -> Any:
        parsed = _parse_many(operands, doc, ignore)
        for value in parsed:
            if type(value) not in (int, float):
                return fallback(doc)  # nulls, strings, dates: BSON order
        return min(parsed)

    return minimum


def _size(value: Any, ignore: bool) -> Compiled | None:
    if isinstance(value, list):
        if len(value) != 1:
            return None
        value = value[0]
    evaluate = _compile(value, ignore)
    fallback = _fallback({"$size": value}, ignore)

    def size(doc: Any) -> Any:
        try:
            array = evaluate(doc)
        except KeyError:
            return fallback(doc)  # mongomock's OperationFailure
        if not isinstance(array, (list, tuple)):
            return fallback(doc)
        return len(array)

    return size


def _substr(values: Any, ignore: bool) -> Compiled | None:
    if type(values) is not list or len(values) != 3:
        return None
    text, start, length = _many(values, ignore)
    fallback = _fallback({"$substr": values}, ignore)

    def substr(doc: Any) -> Any:
        string = str(text(doc))
        first = start(doc)
        count = length(doc)
        if type(first) is int and type(count) is int and first >= 0 and count >= 0:
            return string[first : first + count]
        return fallback(doc)  # warnings, negative lengths, errors: mongomock's

    return substr


def _date_to_string(values: Any, ignore: bool) -> Compiled | None:
    if type(values) is not dict or set(values) != {"format", "date"}:
        return None
    date_format = values["format"]
    if type(date_format) is not str or date_format.startswith("$") or "%L" in date_format:
        return None
    evaluate = _compile(values["date"], ignore)
    fallback = _fallback({"$dateToString": values}, ignore)
    # Summaries group by the hour or the minute: a format naming nothing finer is
    # written once per distinct hour (or minute) of this stage's run, not per event.
    parts = _DATE_PARTS.get(frozenset(_DIRECTIVE.findall(date_format)))
    written: dict[tuple[int, ...], str] = {}

    def date_to_string(doc: Any) -> Any:
        # A missing date raises KeyError either way: mongomock parses {format, date}
        # as a document (which leaves a missing date out when ignoring), then reads
        # its "date".
        try:
            moment = evaluate(doc)
        except KeyError:
            if ignore:
                raise KeyError("date") from None
            raise
        if type(moment) is not datetime.datetime:
            return fallback(doc)
        if parts is None:
            return moment.strftime(date_format)
        key = parts(moment)
        text = written.get(key)
        if text is None:
            text = written[key] = moment.strftime(date_format)
        return text

    return date_to_string


_DIRECTIVE = re.compile(r"%.")
# The fields of a date a format of only these directives depends on (and "%%").
_DATE_PARTS: dict[frozenset[str], Callable[[datetime.datetime], tuple[int, ...]]] = {}
for _names, _parts in (
    (("%Y",), lambda d: (d.year,)),
    (("%Y", "%m"), lambda d: (d.year, d.month)),
    (("%Y", "%m", "%d"), lambda d: (d.year, d.month, d.day)),
    (("%Y", "%m", "%d", "%H"), lambda d: (d.year, d.month, d.day, d.hour)),
    (("%Y", "%m", "%d", "%H", "%M"), lambda d: (d.year, d.month, d.day, d.hour, d.minute)),
):
    _DATE_PARTS[frozenset(_names)] = _parts
    _DATE_PARTS[frozenset((*_names, "%%"))] = _parts


_OPERATORS: dict[str, Callable[[Any, bool], Compiled | None]] = {
    "$literal": _literal,
    "$cond": _cond,
    "$ifNull": _if_null,
    "$eq": _comparison("$eq"),
    "$ne": _comparison("$ne"),
    "$gt": _comparison("$gt"),
    "$gte": _comparison("$gte"),
    "$lt": _comparison("$lt"),
    "$lte": _comparison("$lte"),
    "$in": _in,
    "$and": _and,
    "$or": _or,
    "$not": _not,
    "$concat": _concat,
    "$toString": _to_string,
    "$subtract": _subtract,
    "$add": _arithmetic("$add"),
    "$multiply": _arithmetic("$multiply"),
    "$min": _min,
    "$size": _size,
    "$substr": _substr,
    "$dateToString": _date_to_string,
}
