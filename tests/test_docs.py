"""The docs are the project's own (docs/); while ../shared exists beside the clone they
must stay equal to it, and the served schema points readers to them."""

from __future__ import annotations

from pathlib import Path

import pytest

from schema import build_schema

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
COPIES = {
    "metrics.md": "METRICS.md",
    "api.graphql": "api.graphql",
    "api-next.graphql": "api-next.graphql",
}


@pytest.mark.parametrize(("ours", "theirs"), COPIES.items())
def test_docs_equal_the_shared_originals(ours: str, theirs: str) -> None:
    if not (SHARED / theirs).exists():
        pytest.skip(f"{SHARED / theirs} is not beside this clone; docs/{ours} stands alone")
    assert (ROOT / "docs" / ours).read_text() == (SHARED / theirs).read_text(), (
        f"shared/{theirs} changed: copy it to docs/{ours}"
    )


def descriptions() -> list[str]:
    served = build_schema()._schema
    found: list[str] = []
    for graphql_type in served.type_map.values():
        if graphql_type.name.startswith("__"):
            continue
        found.append(graphql_type.description or "")
        for field in getattr(graphql_type, "fields", {}).values():
            found.append(field.description or "")
            found.extend(arg.description or "" for arg in getattr(field, "args", {}).values())
    found.extend(directive.description or "" for directive in served.directives)
    return found


def test_descriptions_name_the_docs_as_code_not_as_a_host() -> None:
    # GraphiQL renders descriptions as Markdown with linkify: a bare "METRICS.md"
    # becomes a link to a host of that name (.md is a top-level domain).
    texts = descriptions()
    assert not [text for text in texts if "METRICS.md" in text]
    bare = [text for text in texts if "metrics.md" in text.replace("`docs/metrics.md`", "")]
    assert bare == []
    assert any("`docs/metrics.md`" in text for text in texts)
