"""A small labelled hydra run, decoded: the input the stage tests share."""

from __future__ import annotations

from pathlib import Path

from app.core.events import RequestEvent, decode_message


def hydra_events(
    d: Path, *, days: float, start_h: float, scale: float = 0.01
) -> list[RequestEvent]:
    """``days`` of the hydra scenario with every campaign starting at ``start_h``."""
    from app.tools.simulate.run import build, write_files
    from app.tools.simulate.scenario import load_scenario

    sc = load_scenario("hydra").with_overrides(days=days)
    sc = sc.model_copy(
        update={"campaigns": [c.model_copy(update={"start_h": start_h}) for c in sc.campaigns]}
    )
    write_files(build(sc, scale=scale), d / "e.jsonl", d / "l.csv")
    out: list[RequestEvent] = []
    for line in (d / "e.jsonl").read_bytes().splitlines():
        out += decode_message(line).events
    return out
