"""``hydrawatch demo``: embedded broker, one worker, live traffic with an abusive group.

Benign accounts plus one injected abusive group are produced in compressed event
time (``speedup`` simulated seconds per wall second) as batch envelopes, one per
partition per tick; a few malformed messages show the dead-letter path. Alerts are
read back from the alert topic and shown live: a table that refreshes on a terminal,
one line per alert otherwise. Every process started is stopped on exit, Ctrl-C included.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
import uuid
import zlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson
from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from app.runtime.admin import ensure_topics, wait_for_broker
from app.runtime.config import Settings
from app.tools.broker import TansuBroker
from app.tools.launcher import WorkerProcess, metric_value
from app.tools.simulate.basic import ABUSIVE_PREFIX, BasicTraffic, generate_basic

__all__ = [
    "CampaignView",
    "DemoSummary",
    "alert_line",
    "alerts_table",
    "campaigns",
    "campaigns_table",
    "run_demo",
    "summary_table",
]

_TICK_S = 0.1
_BAD_MESSAGES = (b"{not json", b'{"event_id": "bad-1", "ts_ms": "yesterday"}', b"\xff\xfe")


@dataclass(slots=True)
class DemoSummary:
    produced_events: int = 0
    produced_invalid: int = 0
    processed_events: float = 0.0
    dead_letters: float = 0.0
    alerts: list[dict[str, Any]] = field(default_factory=list)
    #: The traffic's labels: the accounts of the injected abusive group.
    abusive_accounts: frozenset[str] = frozenset()
    #: Stopped by Ctrl-C: the worker may not have processed everything sent.
    interrupted: bool = False

    def _accounts(self) -> set[str]:
        return {a["entity_id"] for a in self.alerts if a["entity_type"] == "account"}

    @property
    def abusive_flagged(self) -> set[str]:
        """Alerted accounts labelled abusive."""
        return self._accounts() & self.abusive_accounts

    @property
    def benign_flagged(self) -> set[str]:
        """Alerted accounts not labelled abusive (campaign and entity alerts are no accounts)."""
        return self._accounts() - self.abusive_accounts

    @property
    def entity_alerts(self) -> Counter[str]:
        """Alerts on subnets, ASNs and fingerprints, by entity type."""
        return Counter(
            a["entity_type"] for a in self.alerts if a["entity_type"] not in ("account", "campaign")
        )


@dataclass(slots=True)
class CampaignView:
    """What the demo shows of one campaign: the latest campaign alert and its members."""

    campaign_id: str
    severity: str
    action: str
    members: int
    linked_via: dict[str, int]
    reasons: list[str]


def campaigns(alerts: list[dict[str, Any]]) -> list[CampaignView]:
    """One view per campaign id, from its latest campaign alert and member alerts seen."""
    latest: dict[str, dict[str, Any]] = {}
    members: dict[str, set[str]] = {}
    for a in alerts:
        cid = a.get("campaign_id")
        if cid is None:
            continue
        if a["entity_type"] == "campaign":
            latest[cid] = a
        elif a["entity_type"] == "account":
            members.setdefault(cid, set()).add(a["entity_id"])
    out = []
    for cid, a in latest.items():
        ev = a["evidence"]
        out.append(
            CampaignView(
                campaign_id=cid,
                severity=a["severity"],
                action=f"{a['action']} {_ttl(a['action_ttl_s'])}",
                members=max(int(ev.get("accounts", 0)), len(members.get(cid, ()))),
                linked_via={
                    k.removeprefix("linked_via_"): int(v)
                    for k, v in sorted(ev.items(), key=lambda kv: -kv[1])
                    if k.startswith("linked_via_")
                },
                reasons=[_reason(r) for r in a["reasons"]],
            )
        )
    return out


def _alert_reader(
    bootstrap: str, topic: str, out: queue.Queue[dict[str, Any]], stop: threading.Event
) -> None:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=200,
    )
    try:
        while not stop.is_set():
            for msg in consumer:
                out.put(orjson.loads(msg.value))
                if stop.is_set():
                    break
    finally:
        consumer.close()


def _ttl(seconds: int) -> str:
    return f"{seconds // 3600}h" if seconds >= 3600 else f"{seconds}s"


def _reason(r: dict[str, Any]) -> str:
    """The reason as the alert words it (``detail``), else feature and value."""
    detail = r.get("detail")
    return f"{r['feature']} {detail}" if detail else f"{r['feature']} {r['value']:.3g}"


_COLOURS = {"low": "cyan", "medium": "yellow", "high": "red", "critical": "bold red"}


def alerts_table(alerts: list[dict[str, Any]]) -> Table:
    table = Table(title="latest alerts", expand=True)
    table.add_column("time", no_wrap=True, min_width=5)
    table.add_column("type", no_wrap=True, min_width=8)
    table.add_column("entity", no_wrap=True, min_width=14)
    table.add_column("severity", no_wrap=True, min_width=8)
    table.add_column("score", no_wrap=True, min_width=5)
    table.add_column("action", no_wrap=True, min_width=11)
    table.add_column("top reason", no_wrap=True, overflow="ellipsis", ratio=1)
    for a in alerts[-12:]:
        ts = time.strftime("%H:%M", time.gmtime(a["ts_ms"] / 1000))
        sev = a["severity"]
        table.add_row(
            ts,
            a["entity_type"],
            a["entity_id"],
            f"[{_COLOURS[sev]}]{sev}[/]",
            f"{a['score']:.3f}",
            f"{a['action']} {_ttl(a['action_ttl_s'])}",
            _reason(a["reasons"][0]) if a["reasons"] else "",
        )
    return table


def campaigns_table(views: list[CampaignView]) -> Table:
    table = Table(title="campaigns", expand=True)
    table.add_column("campaign", no_wrap=True, min_width=16)
    table.add_column("severity", no_wrap=True)
    table.add_column("members", no_wrap=True, justify="right")
    table.add_column("linked via (members)", no_wrap=True)
    table.add_column("action", no_wrap=True)
    table.add_column("evidence", overflow="ellipsis", ratio=1)
    for v in views:
        table.add_row(
            v.campaign_id,
            f"[{_COLOURS[v.severity]}]{v.severity}[/]",
            str(v.members),
            ", ".join(f"{k} {n}" for k, n in v.linked_via.items()),
            v.action,
            "; ".join(v.reasons[:3]),
        )
    return table


def alert_line(a: dict[str, Any]) -> str:
    """One alert as one plain line (the demo's output when stdout is not a terminal)."""
    when = time.strftime("%H:%M", time.gmtime(a["ts_ms"] / 1000))
    reason = _reason(a["reasons"][0]) if a["reasons"] else ""
    campaign = f" campaign={a['campaign_id']}" if a.get("campaign_id") else ""
    extra = ""
    if a["entity_type"] == "campaign":
        ev = a["evidence"]
        via = ", ".join(
            f"{k.removeprefix('linked_via_')} {int(v)}"
            for k, v in ev.items()
            if k.startswith("linked_via_")
        )
        extra = f" members={int(ev.get('accounts', 0))} linked via: {via};"
    return (
        f"{when} {a['severity']:8} {a['action']} {_ttl(a['action_ttl_s'])} "
        f"{a['entity_type']}:{a['entity_id']}{campaign} score={a['score']:.3f}{extra} {reason}"
    )


class _Display:
    """Live tables on a terminal; elsewhere one line per new alert, nothing redrawn."""

    def __init__(self, console: Console, progress: Progress) -> None:
        self.console = console
        self.progress = progress
        self.shown = 0
        self._live: Live | None = None
        if console.is_terminal:
            self._live = Live(self._view([]), console=console, refresh_per_second=4)

    def _view(self, alerts: list[dict[str, Any]]) -> Group:
        parts: list[Any] = [self.progress, alerts_table(alerts)]
        views = campaigns(alerts)
        if views:
            parts.append(campaigns_table(views))
        return Group(*parts)

    def __enter__(self) -> _Display:
        if self._live is not None:
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)

    def update(self, alerts: list[dict[str, Any]]) -> None:
        if self._live is not None:
            self._live.update(self._view(alerts))
            return
        for a in alerts[self.shown :]:
            self.console.print(alert_line(a), markup=False, highlight=False, soft_wrap=True)
        self.shown = len(alerts)


def run_demo(
    *,
    broker: str | None,
    duration_s: float,
    metrics_port: int = 0,
    speedup: float = 240.0,
    console: Console | None = None,
) -> int:
    """Run the demo; returns a process exit code (0 when alerts were seen)."""
    console = console or Console()
    settings = Settings()
    stack = contextlib.ExitStack()
    summary = DemoSummary()
    stop = threading.Event()
    with stack:
        if broker:
            bootstrap = broker.split("://", 1)[-1]
            wait_for_broker(bootstrap, timeout_s=settings.connect_timeout_s)
            console.print(f"using broker {bootstrap}")
        else:
            tansu = stack.enter_context(TansuBroker())
            bootstrap = tansu.bootstrap
            console.print(f"embedded tansu broker on {bootstrap} (pid {tansu.pid})")
        topics = [settings.input_topic, settings.alert_topic, settings.dlq_topic]
        ensure_topics(bootstrap, topics, partitions=settings.topic_partitions)
        partitions = settings.topic_partitions

        worker = WorkerProcess(
            broker_url=f"kafka://{bootstrap}",
            app_id=f"hydrawatch-demo-{uuid.uuid4().hex[:8]}",
            metrics_port=metrics_port or None,
            env={"HYDRAWATCH_LOGLEVEL": "warning"},
        )
        stack.callback(worker.stop)
        worker.start()
        console.print(
            f"worker pid {worker.pid}, metrics {worker.metrics_url}; waiting for "
            "partition assignment…"
        )
        worker.wait_assigned(min_partitions=partitions, timeout_s=90)

        sim_ms = int(duration_s * speedup * 1000)
        traffic = BasicTraffic(
            duration_ms=sim_ms, abuse_start_offset_ms=min(3_600_000, sim_ms // 3)
        )
        events = generate_basic(traffic)
        summary.abusive_accounts = frozenset(
            e["account_id"] for e in events if e["account_id"].startswith(ABUSIVE_PREFIX)
        )
        console.print(
            f"traffic: {len(events):,} events over {sim_ms / 3_600_000:.1f} simulated "
            f"hours, {traffic.benign_accounts} benign accounts, "
            f"{traffic.abusive_accounts} abusive accounts from "
            f"+{traffic.abuse_start_offset_ms / 60_000:.0f} min"
        )

        from kafka import KafkaProducer

        producer = KafkaProducer(
            bootstrap_servers=bootstrap, linger_ms=5, max_request_size=4 * 1024 * 1024
        )
        stack.callback(producer.close)
        alerts_q: queue.Queue[dict[str, Any]] = queue.Queue()
        reader = threading.Thread(
            target=_alert_reader,
            daemon=True,
            args=(bootstrap, settings.alert_topic, alerts_q, stop),
        )
        reader.start()
        stack.callback(reader.join, 5)
        stack.callback(stop.set)

        progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[status]}"),
            TimeRemainingColumn(),
        )
        task = progress.add_task("simulated traffic", total=len(events), status="")
        start_wall = time.monotonic()
        t0_ms = traffic.start_ms
        i = 0
        bad_every = max(len(events) // (len(_BAD_MESSAGES) + 1), 1)
        try:
            with _Display(console, progress) as live:
                while True:
                    elapsed = time.monotonic() - start_wall
                    sim_now = t0_ms + int(elapsed * speedup * 1000)
                    chunks: dict[int, list[dict[str, Any]]] = {}
                    while i < len(events) and events[i]["ts_ms"] <= sim_now:
                        e = events[i]
                        p = zlib.crc32(e["account_id"].encode()) % partitions
                        chunks.setdefault(p, []).append(e)
                        i += 1
                        if i % bad_every == 0 and summary.produced_invalid < len(_BAD_MESSAGES):
                            producer.send(
                                settings.input_topic,
                                value=_BAD_MESSAGES[summary.produced_invalid],
                                partition=p,
                            )
                            summary.produced_invalid += 1
                    for p, chunk in chunks.items():
                        key = chunk[0]["account_id"].encode()
                        producer.send(
                            settings.input_topic, key=key, value=orjson.dumps(chunk), partition=p
                        )
                        summary.produced_events += len(chunk)
                    while not alerts_q.empty():
                        summary.alerts.append(alerts_q.get_nowait())
                    _scrape(worker, summary)
                    sim_clock = time.strftime("%H:%M", time.gmtime(sim_now / 1000))
                    progress.update(
                        task,
                        completed=i,
                        status=(
                            f"sim {sim_clock}  sent {summary.produced_events:,}  processed "
                            f"{summary.processed_events:,.0f}  alerts {len(summary.alerts)}"
                        ),
                    )
                    live.update(summary.alerts)
                    if not worker.alive():
                        console.print(f"[red]worker died[/]\n{worker.log_tail()}")
                        return 1
                    if i >= len(events) or elapsed >= duration_s:
                        break
                    time.sleep(_TICK_S)
                producer.flush()
                # Let the worker drain what was sent.
                deadline = time.monotonic() + 15
                while time.monotonic() < deadline:
                    _scrape(worker, summary)
                    if summary.processed_events >= summary.produced_events:
                        break
                    time.sleep(0.2)
                time.sleep(1.0)
                while not alerts_q.empty():
                    summary.alerts.append(alerts_q.get_nowait())
                _scrape(worker, summary)
                live.update(summary.alerts)
        except KeyboardInterrupt:
            console.print("[yellow]interrupted; stopping…[/]")
            summary.interrupted = True
            # The worker runs in its own session (Ctrl-C did not reach it): what it had
            # processed by now, so the summary's counts belong to the same moment.
            with contextlib.suppress(KeyboardInterrupt):
                _scrape(worker, summary)
                while not alerts_q.empty():
                    summary.alerts.append(alerts_q.get_nowait())
        metrics_url = worker.metrics_url
    _print_summary(console, summary, metrics_url)
    if summary.interrupted:
        return 130
    return 0 if summary.alerts else 3


def _scrape(worker: WorkerProcess, summary: DemoSummary) -> None:
    """Processed events and dead letters from the worker's metrics (kept if unreachable)."""
    with contextlib.suppress(OSError):
        m = worker.metrics()
        summary.processed_events = metric_value(m, "hydrawatch_events_consumed_total")
        summary.dead_letters = metric_value(m, "hydrawatch_dead_letters_published_total")


def summary_table(s: DemoSummary, metrics_url: str) -> Table:
    sev = Counter(a["severity"] for a in s.alerts)
    kinds = Counter(a["entity_type"] for a in s.alerts)
    table = Table(title="hydrawatch demo summary", show_header=False)
    table.add_row("events produced", f"{s.produced_events:,} (+{s.produced_invalid} malformed)")
    table.add_row("events processed", f"{s.processed_events:,.0f}")
    table.add_row(
        "dead letters", f"{s.dead_letters:,.0f} of {s.produced_invalid} malformed messages sent"
    )
    table.add_row(
        "alerts",
        f"{len(s.alerts)}: "
        + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
        + ("; " if sev else "")
        + " ".join(f"{k}:{v}" for k, v in sev.items()),
    )
    table.add_row(
        "abusive accounts alerted", f"{len(s.abusive_flagged)} of {len(s.abusive_accounts)}"
    )
    table.add_row("benign accounts alerted", str(len(s.benign_flagged)))
    for v in campaigns(s.alerts):
        via = ", ".join(f"{k} {n}" for k, n in v.linked_via.items())
        table.add_row(
            "campaign",
            f"{v.campaign_id}: {v.members} members, linked via {via}; {v.severity}, {v.action}",
        )
    if s.entity_alerts:
        table.add_row(
            "entity alerts", ", ".join(f"{k} {n}" for k, n in sorted(s.entity_alerts.items()))
        )
    table.add_row("metrics endpoint (while running)", metrics_url)
    if s.interrupted:
        table.add_row(
            "interrupted",
            f"counts as of Ctrl-C: the worker had processed {s.processed_events:,.0f} of "
            f"{s.produced_events:,} events sent",
        )
    return table


def _print_summary(console: Console, s: DemoSummary, metrics_url: str) -> None:
    console.print()
    console.print(summary_table(s, metrics_url))
    console.print("all demo processes stopped.")
