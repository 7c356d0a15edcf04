"""JSON Schema (2020-12) documents generated from the pydantic models.

``schemas/*.json`` are written by ``hydrawatch schemas`` and a test fails when
they drift from the models.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from app.core.events.alert import AlertEvent
from app.core.events.request import RequestEventContract
from app.core.verdicts.verdict import Verdict

__all__ = ["SCHEMA_FILES", "schema_documents", "write_schemas"]

_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_FILES = {
    "request_event.v1.json": (RequestEventContract, "validation"),
    "alert_event.v1.json": (AlertEvent, "serialization"),
    "verdict.v1.json": (Verdict, "validation"),
}


def schema_documents() -> dict[str, dict[str, Any]]:
    """File name → JSON Schema document."""
    docs: dict[str, dict[str, Any]] = {}
    for name, (model, mode) in SCHEMA_FILES.items():
        body = model.model_json_schema(mode=mode)  # type: ignore[attr-defined]
        docs[name] = {"$schema": _DIALECT, "$id": f"https://hydrawatch.dev/schemas/{name}", **body}
    return docs


def render(doc: dict[str, Any]) -> bytes:
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def write_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, doc in schema_documents().items():
        path = directory / name
        path.write_bytes(render(doc))
        written.append(path)
    return written
