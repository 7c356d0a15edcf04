"""Producer settings, measured one at a time (``make bench-producer``).

The input side of hydrawatch is a producer of batch envelopes (``hydrawatch simulate``,
or a provider's gateway). This starts the embedded broker, encodes N simulated events
once into envelopes partitioned by account, then for each setting below produces
them into a fresh topic with kafka-python (what ``simulate`` uses) and reads them back
with an aiokafka consumer that decodes every event with orjson (the raw baseline):

- events per envelope (100 / 1,000 / 5,000)
- ``linger_ms`` (0 / 5 / 50), ``batch_size`` (16 KiB default / 1 MiB)
- the record-batch checksum: the ``crc32c`` C extension (a dependency) or kafka-python's
  pure-Python fallback, which it uses silently when ``crc32c`` is missing
- ``compression_type`` (none / gzip / lz4 / zstd, when the codec is installed)

Each line changes one setting from the reference (what ``simulate`` ships with) and
prints produce and consume events/s and the bytes on the wire. Results are written to
``benchmarks/results/producer-*.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import time
import uuid
import zlib
from typing import Any

import orjson

from app.runtime.admin import ensure_topics
from app.tools.broker import TansuBroker
from app.tools.simulate.emit import iter_events
from app.tools.simulate.run import build
from app.tools.simulate.scenario import load_scenario

try:  # run as a script (python benchmarks/producer.py) or as a module
    from report import header, write_result  # type: ignore[import-not-found]
    from run import raw_consume  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover
    from benchmarks.report import header, write_result
    from benchmarks.run import raw_consume


#: what ``hydrawatch simulate`` uses (app/tools/simulate/run.py)
REFERENCE: dict[str, Any] = {"linger_ms": 5, "compression_type": None}
_CODEC_MODULE = {"gzip": None, "lz4": "lz4", "zstd": "zstandard", "snappy": "snappy"}


def _envelopes(events: list[dict[str, Any]], per: int, partitions: int) -> list[tuple[int, bytes]]:
    pending: dict[int, list[dict[str, Any]]] = {}
    out: list[tuple[int, bytes]] = []
    for e in events:
        p = zlib.crc32(e["account_id"].encode()) % partitions
        chunk = pending.setdefault(p, [])
        chunk.append(e)
        if len(chunk) >= per:
            out.append((p, orjson.dumps(chunk)))
            pending[p] = []
    out += [(p, orjson.dumps(c)) for p, c in pending.items() if c]
    return out


def _produce(
    bootstrap: str, topic: str, msgs: list[tuple[int, bytes]], cfg: dict[str, Any]
) -> float:
    from kafka import KafkaProducer
    from kafka.record import util

    cfg = dict(cfg)
    fast = util.calc_crc32c.__defaults__
    if cfg.pop("_crc", None) == "python":
        util.calc_crc32c.__defaults__ = (util.crc32c_py,)
    try:
        producer = KafkaProducer(
            bootstrap_servers=bootstrap, max_request_size=32 * 1024 * 1024, **cfg
        )
        t0 = time.perf_counter()
        for p, value in msgs:
            producer.send(topic, value=value, partition=p)
        producer.flush(timeout=120)
        dt = time.perf_counter() - t0
        producer.close()
    finally:
        util.calc_crc32c.__defaults__ = fast
    return dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=float, default=0.05, help="hydra scale (0.05 ≈ 250k events)")
    ap.add_argument("--days", type=float, default=2.0)
    ap.add_argument("--partitions", type=int, default=4)
    args = ap.parse_args()

    sim = build(load_scenario("hydra").with_overrides(days=args.days), scale=args.scale)
    events = [event for event, _, _ in iter_events(sim)]
    n = len(events)
    print(f"{n:,} events")

    runs: list[tuple[str, int, dict[str, Any]]] = [("reference", 1_000, REFERENCE)]
    runs += [(f"envelope {per} events", per, REFERENCE) for per in (100, 5_000)]
    runs += [(f"linger_ms={v}", 1_000, {**REFERENCE, "linger_ms": v}) for v in (0, 50)]
    runs.append(("batch_size=1MiB", 1_000, {**REFERENCE, "batch_size": 1024 * 1024}))
    runs.append(("pure-Python CRC32C", 1_000, {**REFERENCE, "_crc": "python"}))
    for codec, module in _CODEC_MODULE.items():
        if module is None or importlib.util.find_spec(module) is not None:
            runs.append((f"compression={codec}", 1_000, {**REFERENCE, "compression_type": codec}))
        else:
            print(f"compression={codec}: skipped ({module} not installed)")

    rows = []
    with TansuBroker() as broker:
        cache: dict[int, list[tuple[int, bytes]]] = {}
        for name, per, cfg in runs:
            msgs = cache.setdefault(per, _envelopes(events, per, args.partitions))
            topic = f"prod-{uuid.uuid4().hex[:8]}"
            ensure_topics(broker.bootstrap, [topic], partitions=args.partitions)
            produce_s = _produce(broker.bootstrap, topic, msgs, cfg)
            got, consume_s = asyncio.run(raw_consume(broker.bootstrap, topic, n))
            if got < n:
                raise RuntimeError(f"{name}: read back {got} of {n} events")
            raw_mb = sum(len(v) for _, v in msgs) / 1e6
            row = {
                "setting": name,
                "events_per_message": per,
                "producer": dict(cfg),
                "produce_events_per_s": round(n / produce_s),
                "consume_events_per_s": round(n / consume_s),
                "payload_mb": round(raw_mb, 1),
            }
            rows.append(row)
            print(
                f"{name:24s} produce {n / produce_s:>10,.0f} ev/s ({raw_mb / produce_s:6.1f} MB/s)"
                f"   consume+decode {n / consume_s:>10,.0f} ev/s"
            )
    print(f"→ {write_result('producer', {**header(), 'events': n, 'runs': rows})}")


if __name__ == "__main__":
    main()
