"""Memory per active account, measured as a slope (``make bench-memory``).

Whole-process RSS divided by the accounts tracked (what ``make bench`` prints) charges
the interpreter, faust, River and the checkpoint buffers to a few thousand accounts.
What grows with the customer base is the *marginal* cost: this runs the detection core
(:class:`~app.pipeline.Pipeline`, the same object the worker drives: decode, dedupe,
windows, River, linkage) in a fresh process per size over a deterministic synthetic
population, and reports

    (state after N2 accounts - state after N1 accounts) / (N2 - N1)

for the RSS (``VmRSS``) and, with ``--trace``, for the Python heap (tracemalloc, with the
largest holders). The input is encoded before the baseline is taken and stays resident,
so it is not counted.

Profiles (each account is its own customer; indicators shared the way benign
traffic shares them: a /24 per 8 accounts, one of 5 agent TLS+UA fingerprints, one of
20 prompt templates, one of 50 ASNs, its own payment fingerprint):

- ``light``: 4 requests per account at random times within 6 hours;
- ``steady``: 26 requests per account over 24 hours (the published campaign rate per
  account: ~26 requests a day);
- ``flood``: 1 request per new account id, with the linkage caps lowered
  (``max_tracked_accounts``, ``max_solo_indicators``, ``max_pivots``) so that state must
  stop growing once they are reached: the figure is the RSS at each size, which should
  flatten.

Results go to ``benchmarks/results/memory-*.json``.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import subprocess
import sys
import time
from typing import Any

import orjson

try:  # run as a script (python benchmarks/memory.py) or as a module
    from report import header, write_result  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover
    from benchmarks.report import header, write_result
T0 = 1_767_225_600_000
HOUR_MS = 3_600_000
PROFILES: dict[str, dict[str, int]] = {
    "light": {"requests": 4, "span_ms": 6 * HOUR_MS},
    "steady": {"requests": 26, "span_ms": 24 * HOUR_MS},
    "flood": {"requests": 1, "span_ms": 6 * HOUR_MS},
}
#: Caps of the flood profile: far below the flood's sizes.
FLOOD_CAPS = {"max_tracked_accounts": 20_000, "max_solo_indicators": 40_000, "max_pivots": 10_000}
DEFAULT_SIZES = {"light": (20_000, 80_000), "steady": (4_000, 16_000), "flood": (50_000, 200_000)}


def population(profile: str, n_accounts: int, *, seed: int = 1) -> list[dict[str, Any]]:
    """Time-ordered request events of ``n_accounts`` accounts (deterministic)."""
    shape = PROFILES[profile]
    rng = random.Random(seed)
    span = shape["span_ms"]
    events: list[dict[str, Any]] = []
    for a in range(n_accounts):
        office = a // 8
        for k in range(shape["requests"]):
            events.append(
                {
                    "event_id": f"{profile}-{a}-{k}",
                    "ts_ms": T0 + rng.randrange(span),
                    "account_id": f"acct-{a:08d}",
                    "client_ip": f"10.{office // 256 % 256}.{office % 256}.{a % 8 + 1}",
                    "model": "frontier-1",
                    "prompt_tokens": rng.randrange(100, 3_000),
                    "completion_tokens": rng.randrange(50, 800),
                    "payment_fingerprint": f"pay-{a}",
                    "tls_ja4": f"t13d1516h2_{a % 5}",
                    "user_agent": f"agent-sdk/{a % 5}",
                    "prompt_template_hash": f"tpl-{a % 20}",
                    "prompt_simhash": f"{rng.getrandbits(64):016x}",
                    "asn": 64_500 + a % 50,
                    "account_created_ms": T0 - 90 * 24 * HOUR_MS,
                }
            )
    events.sort(key=lambda e: e["ts_ms"])
    return events


def _rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def child(profile: str, n_accounts: int, *, trace: bool) -> dict[str, Any]:
    """Run one size in this process; returns the state's RSS / heap growth."""
    import tracemalloc

    from app.core.settings import DetectionSettings
    from app.core.stages.local import LocalTopology

    events = population(profile, n_accounts)
    messages = [orjson.dumps(events[i : i + 1_000]) for i in range(0, len(events), 1_000)]
    n_events = len(events)
    del events
    caps = FLOOD_CAPS if profile == "flood" else {}
    settings = DetectionSettings(**caps)
    gc.collect()
    if trace:
        tracemalloc.start()
    rss0 = _rss_bytes()
    core = LocalTopology(settings, account_partitions=1, clock=lambda: T0)
    t0 = time.perf_counter()
    for i in range(0, len(messages), 4):
        chunk = messages[i : i + 4]
        core.handle_values(chunk, [0] * len(chunk), now_ms=T0)
    seconds = time.perf_counter() - t0
    gc.collect()
    out: dict[str, Any] = {
        "profile": profile,
        "accounts": n_accounts,
        "events": n_events,
        "seconds": round(seconds, 2),
        "state_rss_bytes": _rss_bytes() - rss0,
        "sizes": core.sizes(),
    }
    if trace:
        heap, _ = tracemalloc.get_traced_memory()
        out["state_heap_bytes"] = heap
        top = tracemalloc.take_snapshot().statistics("lineno")[:12]
        out["top_holders"] = [
            {"where": str(s.traceback[0]), "bytes": s.size, "blocks": s.count} for s in top
        ]
        tracemalloc.stop()
    return out


def _run_child(profile: str, n: int, trace: bool) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", profile, str(n)] + (["--trace"] if trace else [])
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(
    profiles: tuple[str, ...] = ("light", "steady", "flood"),
    *,
    scale: float = 1.0,
    trace: bool = False,
    echo: bool = True,
) -> dict[str, Any]:
    """Run each profile at two sizes (fresh processes); returns the slopes and runs."""
    out: dict[str, Any] = {}
    for profile in profiles:
        n1, n2 = (max(100, int(n * scale)) for n in DEFAULT_SIZES[profile])
        # RSS from untraced runs: tracemalloc's own bookkeeping is resident memory too.
        small, large = _run_child(profile, n1, False), _run_child(profile, n2, False)
        entry: dict[str, Any] = {"runs": [small, large]}
        slope = (large["state_rss_bytes"] - small["state_rss_bytes"]) / (n2 - n1)
        entry["rss_bytes_per_account"] = round(slope)
        entry["rss_mb_per_100k_accounts"] = round(slope * 100_000 / 2**20, 1)
        line = f"{profile:>6}: {n1:,} → {n2:,} accounts"
        if profile == "flood":
            line += (
                f"  state RSS {small['state_rss_bytes'] / 2**20:,.1f} → "
                f"{large['state_rss_bytes'] / 2**20:,.1f} MiB  (caps {FLOOD_CAPS})"
            )
        else:
            line += f"  RSS {slope:,.0f} B/account"
        if trace:
            traced = [_run_child(profile, n1, True), _run_child(profile, n2, True)]
            entry["traced_runs"] = traced
            heap = (traced[1]["state_heap_bytes"] - traced[0]["state_heap_bytes"]) / (n2 - n1)
            entry["heap_bytes_per_account"] = round(heap)
            line += f", Python heap {heap:,.0f} B/account"
        line += f"  ({large['events'] / large['seconds']:,.0f} ev/s)"
        if echo:
            print(line, flush=True)
        out[profile] = entry
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profiles", default="light,steady,flood")
    ap.add_argument("--trace", action="store_true", help="also the Python heap (tracemalloc)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the default sizes")
    ap.add_argument("--child", nargs=2, metavar=("PROFILE", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]), trace=args.trace)))
        return
    profiles = measure(tuple(args.profiles.split(",")), scale=args.scale, trace=args.trace)
    print(f"written {write_result('memory', {**header(), 'profiles': profiles})}")


if __name__ == "__main__":
    main()
