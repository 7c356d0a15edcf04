from __future__ import annotations

import jsonschema
import orjson
import pytest

from app.core.events.schema import render, schema_documents
from tests.conftest import EXAMPLES, ROOT


@pytest.mark.parametrize("name", sorted(schema_documents()))
def test_committed_schema_matches_models(name: str) -> None:
    committed = (ROOT / "schemas" / name).read_bytes()
    assert committed == render(schema_documents()[name]), (
        f"schemas/{name} drifted from the pydantic model: run `make schemas`"
    )


def test_schemas_are_valid_2020_12() -> None:
    for doc in schema_documents().values():
        jsonschema.Draft202012Validator.check_schema(doc)


def test_example_events_validate_against_the_schema() -> None:
    validator = jsonschema.Draft202012Validator(schema_documents()["request_event.v1.json"])
    lines = EXAMPLES.read_bytes().splitlines()
    assert len(lines) > 1000
    for line in lines[:: max(len(lines) // 500, 1)]:
        validator.validate(orjson.loads(line))


def test_example_file_is_reproducible() -> None:
    from app.tools.simulate.basic import example_lines

    assert EXAMPLES.read_bytes() == example_lines(), "run `make examples`"
