"""The per-event floor of a Python worker of this shape (``make bench-floor``).

``make bench`` measures the whole worker against a raw aiokafka + orjson consumer. This
measures, in-process and without Kafka, what the fixed shape costs *before* any
detection: cumulative stages over the same hydra events in the same 1,000-event batch
envelopes, each the cheapest form the issue's design allows:

1. ``orjson``: ``orjson.loads`` of each envelope (the raw baseline's decode);
2. ``pydantic_core_parse``: pydantic-core parsing each envelope into Python objects with
   *no* field checks (``TypeAdapter(list[dict[str, Any]])``): a lower bound for any
   pydantic-core validation;
3. ``validate_lean``: the RequestEvent v1 fields with all their constraints, as a
   ``TypedDict`` validated by pydantic-core (plain dicts out, no model instances, no
   Python field validators): the cheapest validation of this schema;
4. ``msgspec``: the same fields and constraints as a ``msgspec.Struct`` (the fastest
   validating JSON decoder for Python; the ``bench`` extra installs it), skipped if
   msgspec is not installed;
5. ``validate``: what hydrawatch does (:func:`~app.core.events.decode.decode_message`: the
   ``RequestEvent`` model validated by pydantic-core, one call per envelope);
6. ``lean_and_windows``: 3, then one :class:`~app.core.windows.sliding.SlidingSums` update
   per event for each window the shape keeps (per account, per /24 subnet, per
   fingerprint), with constant values: no features, no models, no linkage, no alerts;
7. ``msgspec_and_windows``: the same on top of 4;
8. ``validate_and_windows``: the same on top of 5;
9. ``pipeline``: the whole detection core (:class:`~app.core.stages.local.LocalTopology`, what the
   worker drives) for comparison.

Each stage reports events/s and µs/event (best of ``--repeat`` runs) next to the
budget of the issue's targets: 100,000 ev/s is 10 µs/event, 0.4 x the raw baseline
of ``make bench`` (~580k ev/s on this machine) is ~4.3 µs/event — for everything the
worker does, faust and fetching included.

Results go to ``benchmarks/results/floor-*.json``.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable, Iterable
from operator import attrgetter
from typing import Any

import orjson

try:  # run as a script (python benchmarks/floor.py) or as a module
    from report import header, write_result  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover
    from benchmarks.report import header, write_result

__all__ = ["measure"]


def _envelopes(scale: float, days: float, limit: int) -> list[bytes]:
    from app.tools.simulate.emit import iter_events
    from app.tools.simulate.run import build
    from app.tools.simulate.scenario import load_scenario

    sim = build(load_scenario("hydra").with_overrides(days=days), scale=scale)
    events: list[dict[str, Any]] = []
    for event, _plan, _campaign in iter_events(sim):
        events.append(event)
        if len(events) >= limit:
            break
    return [orjson.dumps(events[i : i + 1_000]) for i in range(0, len(events), 1_000)]


def _lean_schema() -> Any:
    """RequestEvent's fields and constraints as a TypedDict (built from the model)."""
    from typing import Annotated, NotRequired

    from typing_extensions import TypedDict

    from app.core.events.request import RequestEventContract

    fields: dict[str, Any] = {}
    for name, f in RequestEventContract.model_fields.items():
        t: Any = Annotated[(f.annotation, *f.metadata)] if f.metadata else f.annotation
        fields[name] = t if f.is_required() else NotRequired[t]
    return TypedDict("LeanRequestEvent", fields)  # type: ignore[operator]


def _msgspec_schema() -> Any:
    """RequestEvent's fields and constraints as a msgspec Struct (None without msgspec).

    Every constraint of the model is carried over; an unknown one raises, so the
    stage can never validate less than the model without saying so. (The model's
    Python validators - IP normalisation, simhash lower-casing - are not: they cost
    the model too, and are part of the ``validate`` stage only.)
    """
    try:
        import msgspec
    except ImportError:
        return None
    from typing import Annotated, Literal, Union, get_args, get_origin

    import annotated_types as at
    from pydantic import Strict
    from pydantic.fields import FieldInfo

    from app.core.events.request import RequestEventContract

    names = {at.Ge: "ge", at.Le: "le", at.MinLen: "min_length", at.MaxLen: "max_length"}

    def convert(tp: Any) -> Any:
        origin = get_origin(tp)
        if origin is Annotated:
            base, *metas = get_args(tp)
            return constrained(base, metas)
        if origin is Union:
            return Union[tuple(convert(a) for a in get_args(tp))]  # noqa: UP007
        if origin is Literal or tp in (str, int, bool, type(None)):
            return tp
        raise TypeError(f"no msgspec form for {tp!r}")

    def constrained(base: Any, metas: list[Any]) -> Any:
        kw: dict[str, Any] = {}
        for m in metas:
            if isinstance(m, FieldInfo):
                return constrained(base, list(m.metadata))
            if isinstance(m, Strict):
                continue  # msgspec never coerces: strict already
            if type(m) in names:
                kw[names[type(m)]] = getattr(m, names[type(m)])
            elif getattr(m, "pattern", None):
                kw["pattern"] = m.pattern
            else:
                raise TypeError(f"unknown constraint {m!r}")
        return Annotated[base, msgspec.Meta(**kw)] if kw else base

    fields: list[Any] = []
    for name, f in RequestEventContract.model_fields.items():
        tp = constrained(f.annotation, list(f.metadata)) if f.metadata else convert(f.annotation)
        fields.append((name, tp) if f.is_required() else (name, tp, f.default))
    struct = msgspec.defstruct("RequestEventStruct", fields, frozen=True, gc=False)
    return msgspec.json.Decoder(list[struct])  # type: ignore[valid-type]


def _best(run: Callable[[], int], repeat: int) -> tuple[int, float]:
    best = float("inf")
    n = 0
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        n = run()
        best = min(best, time.perf_counter() - t0)
    return n, best


def measure(*, scale: float, days: float, limit: int, repeat: int) -> dict[str, Any]:
    """Every stage's best events/s over the same envelopes."""
    from pydantic import TypeAdapter

    from app.core.events.decode import decode_message
    from app.core.events.request import subnet_of
    from app.core.settings import DetectionSettings
    from app.core.stages.local import LocalTopology
    from app.core.windows.sliding import HOUR_MS, TEN_MIN_MS, SlidingSums

    messages = _envelopes(scale, days, limit)
    unchecked = TypeAdapter(list[dict[str, Any]])
    lean = TypeAdapter(list[_lean_schema()])
    fastest = _msgspec_schema()
    total = sum(len(orjson.loads(m)) for m in messages)

    def raw() -> int:
        return sum(len(orjson.loads(m)) for m in messages)

    def parse() -> int:
        return sum(len(unchecked.validate_json(m)) for m in messages)

    def validate_lean() -> int:
        return sum(len(lean.validate_json(m)) for m in messages)

    def validate() -> int:
        return sum(len(decode_message(m).events) for m in messages)

    def validate_msgspec() -> int:
        return sum(len(fastest.decode(m)) for m in messages)

    values = (1, 0, 0, 0, 0, 1)
    Fields = tuple[str, int, str, str | None, str | None]

    def with_windows(
        decode: Callable[[bytes], Iterable[Any]], fields: Callable[[Any], Fields]
    ) -> Callable[[], int]:
        """Decode, then update the account's, its /24's and its fingerprint's window."""

        def run() -> int:
            accounts: dict[str, SlidingSums] = {}
            subnets: dict[str, SlidingSums] = {}
            prints: dict[str, SlidingSums] = {}
            n = 0
            for m in messages:
                for e in decode(m):
                    n += 1
                    account, ts, ip, tls, ua = fields(e)
                    a = accounts.get(account)
                    if a is None:
                        a = accounts[account] = SlidingSums(n_fields=6, bucket_ms=HOUR_MS)
                    a.add(ts, values)
                    key = subnet_of(ip)
                    s = subnets.get(key)
                    if s is None:
                        s = subnets[key] = SlidingSums(n_fields=6, bucket_ms=TEN_MIN_MS)
                    s.add(ts, values)
                    fp = f"{tls}|{ua}"
                    f = prints.get(fp)
                    if f is None:
                        f = prints[fp] = SlidingSums(n_fields=6, bucket_ms=TEN_MIN_MS)
                    f.add(ts, values)
            return n

        return run

    # C-level getters: the per-event cost of reading five fields, not of a Python call
    by_attribute = attrgetter("account_id", "ts_ms", "client_ip", "tls_ja4", "user_agent")
    dict_fields = ("account_id", "ts_ms", "client_ip", "tls_ja4", "user_agent")

    def by_key(e: dict[str, Any]) -> Fields:  # optional keys may be absent from a dict
        return tuple(map(e.get, dict_fields))  # type: ignore[return-value]

    lean_and_windows = with_windows(lean.validate_json, by_key)
    msgspec_and_windows = with_windows(
        fastest.decode if fastest is not None else orjson.loads, by_attribute
    )
    windows = with_windows(lambda m: decode_message(m).events, by_attribute)

    def pipeline() -> int:
        core = LocalTopology(DetectionSettings(), account_partitions=1)
        for k in range(0, len(messages), 4):
            chunk = messages[k : k + 4]
            core.handle_values(chunk, [0] * len(chunk), now_ms=0)
        return total

    stages: dict[str, Callable[[], int]] = {
        "orjson": raw,
        "pydantic_core_parse": parse,
        "validate_lean": validate_lean,
        "msgspec": validate_msgspec,
        "validate": validate,
        "lean_and_windows": lean_and_windows,
        "msgspec_and_windows": msgspec_and_windows,
        "validate_and_windows": windows,
        "pipeline": pipeline,
    }
    result: dict[str, Any] = {
        **header(),
        "scenario": "hydra",
        "scale": scale,
        "envelope_events": 1_000,
        "stages": {},
    }
    for name, run in stages.items():
        if fastest is None and name.startswith("msgspec"):
            print(f"{name:>22}: skipped (msgspec is not installed: pip install -e '.[bench]')")
            continue
        n, seconds = _best(run, 1 if name == "pipeline" else repeat)
        result["events"] = n
        result["stages"][name] = {
            "seconds": round(seconds, 3),
            "events_per_s": round(n / seconds),
            "us_per_event": round(1e6 * seconds / n, 2),
        }
        print(f"{name:>22}: {n / seconds:>10,.0f} ev/s  {1e6 * seconds / n:6.2f} µs/event")
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=float, default=0.14, help="hydra scale (as make bench)")
    ap.add_argument("--days", type=float, default=3.0)
    ap.add_argument("--events", type=int, default=200_000, help="the first N events")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    result = measure(scale=args.scale, days=args.days, limit=args.events, repeat=args.repeat)
    print(f"written {write_result('floor', result)}")


if __name__ == "__main__":
    main()
