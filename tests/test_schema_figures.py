"""``as_type`` copies figures into schema types, and answers plain rows as they are."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import strawberry

from schema.figures import as_type


@strawberry.type
class Row:
    slug: str
    views: int


@strawberry.type
class Table:
    total: int
    rows: list[Row]
    best: Row | None


@strawberry.type
class Shouting:
    slug: str

    @strawberry.field
    def loud(self) -> str:
        return self.slug.upper()


@dataclass
class RowFigures:
    slug: str
    views: int


@dataclass
class RowWithMore:
    slug: str
    views: int
    secret: str


@dataclass
class RowLacking:
    slug: str


class NotADataclass:
    def __init__(self, slug: str, views: int) -> None:
        self.slug, self.views = slug, views


@dataclass
class TableFigures:
    total: int
    rows: list[object]
    best: object | None


def test_a_plain_row_carrying_every_field_is_answered_as_is() -> None:
    figures = RowFigures("tee", 3)
    assert as_type(Row, figures) is figures
    more = RowWithMore("cap", 1, "kept out of the answer by the schema")
    assert as_type(Row, more) is more


def test_other_figures_are_copied_field_by_field() -> None:
    built = as_type(Row, NotADataclass("tee", 3))
    assert type(built) is Row and (built.slug, built.views) == ("tee", 3)
    with pytest.raises(AttributeError):
        as_type(Row, RowLacking("tee"))  # a missing field fails loudly


def test_a_type_with_a_resolver_is_always_built() -> None:
    built = as_type(Shouting, RowFigures("tee", 3))
    assert type(built) is Shouting and built.loud() == "TEE"


def test_lists_of_rows_pass_as_a_new_list_only_when_every_row_does() -> None:
    rows: list[object] = [RowFigures("a", 2), RowWithMore("b", 1, "x")]
    table = as_type(Table, TableFigures(total=3, rows=rows, best=None))
    assert type(table) is Table  # has a nested object type: not plain
    assert table.rows == rows and table.rows is not rows
    assert all(built is given for built, given in zip(table.rows, rows, strict=True))
    mixed: list[object] = [RowFigures("a", 2), NotADataclass("b", 1)]
    table = as_type(Table, TableFigures(total=3, rows=mixed, best=NotADataclass("c", 9)))
    assert table.rows[0] is mixed[0]
    assert type(table.rows[1]) is Row and (table.rows[1].slug, table.rows[1].views) == ("b", 1)
    assert type(table.best) is Row and table.best.views == 9
