"""The ``hydrawatch`` command line: worker | detect | demo | broker | console | simulate | …"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from app import __version__
from app.runtime.config import Settings

if TYPE_CHECKING:
    from rich.console import RenderableType

__all__ = ["build_settings", "cli", "main"]

cli = typer.Typer(
    name="hydrawatch",
    help="Streaming detector for LLM distillation campaigns.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
#: Messages and errors: stderr, never wrapped (an error stays one line in a pipe too).
err = Console(stderr=True, soft_wrap=True, highlight=False)


def _version(value: bool) -> None:
    if value:
        print(f"hydrawatch {__version__}")
        raise typer.Exit()


@cli.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit"
        ),
    ] = False,
) -> None:
    """Streaming detector for LLM distillation campaigns."""


@contextmanager
def _term_as_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt inside the block (a clean stop, as Ctrl-C)."""

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _broker_errors() -> Iterator[None]:
    """An unreachable broker ends the command with one line naming it, exit code 1."""
    from app.runtime.admin import BrokerUnreachable

    try:
        yield
    except BrokerUnreachable as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from None


def _reach_broker(settings: Settings, *, max_seconds: float | None = None) -> None:
    """Wait for the broker up to ``connect_timeout_s`` (and no longer than ``max_seconds``);
    an unreachable one ends the command (:func:`_broker_errors`)."""
    from app.runtime.admin import security_kwargs, wait_for_broker

    timeout = settings.connect_timeout_s
    if max_seconds is not None:
        timeout = max(min(timeout, max_seconds), 0.5)
    with _broker_errors():
        wait_for_broker(
            settings.bootstrap_servers, timeout_s=timeout, client_kwargs=security_kwargs(settings)
        )


#: ``--broker`` of the commands that talk to the configured Kafka.
BrokerOption = Annotated[str | None, typer.Option(help="kafka://host:port (env HYDRAWATCH_BROKER)")]


def build_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with the CLI's non-empty flags on top (built once)."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


@cli.command()
def worker(
    broker: BrokerOption = None,
    app_id: Annotated[str | None, typer.Option(help="Consumer group / app id")] = None,
    metrics_host: Annotated[str | None, typer.Option(help="Metrics bind address")] = None,
    metrics_port: Annotated[int | None, typer.Option(help="Metrics port (0: off)")] = None,
    web_port: Annotated[int | None, typer.Option(help="faust web port (unique per worker)")] = None,
    datadir: Annotated[str | None, typer.Option(help="faust data directory")] = None,
    loglevel: Annotated[str | None, typer.Option(help="debug|info|warning|error")] = None,
    stages: Annotated[
        str | None,
        typer.Option(help="Comma-separated stages to run: account,pivot,campaign (default all)"),
    ] = None,
) -> None:
    """Run one faust worker; several with the same app id share the partitions."""
    chosen = None
    if stages is not None:
        chosen = tuple(s.strip() for s in stages.split(",") if s.strip())
        bad = [s for s in chosen if s not in ("account", "pivot", "campaign")]
        if bad or not chosen:
            err.print(f"[red]error:[/] --stages takes account, pivot, campaign; got {stages!r}")
            raise typer.Exit(2)
    settings = build_settings(
        stages=chosen,
        broker=broker,
        app_id=app_id,
        metrics_host=metrics_host,
        metrics_port=metrics_port,
        web_port=web_port,
        datadir=datadir,
        loglevel=loglevel,
    )
    if settings.loglevel.lower() in ("debug", "info"):
        err.print(
            f"connecting to broker {settings.bootstrap_servers} (gives up after "
            f"{settings.connect_timeout_s:g}s: HYDRAWATCH_CONNECT_TIMEOUT_S)"
        )
    _reach_broker(settings)  # before faust is even imported (seconds)
    with _broker_errors():  # it waits for the broker again (topic set-up)
        from app.runtime.worker import run_worker

        run_worker(settings)


@cli.command()
def detect(
    input: Annotated[str, typer.Option("--input", "-i", help="events.jsonl[.gz] or - for stdin")],
    output: Annotated[str, typer.Option("--output", "-o", help="alerts.jsonl[.gz] or -")] = "-",
    dlq: Annotated[
        str | None,
        typer.Option(help="Write invalid lines here: line, reason, sha256, redacted value"),
    ] = None,
    verdicts: Annotated[
        Path | None,
        typer.Option(help="Verdicts in force (JSONL of Verdict v1), as on the verdicts topic"),
    ] = None,
) -> None:
    """Run the detection core over a file in event-time order; write AlertEvents as JSONL.

    Exit code 1 when the input cannot be read to its end (truncated or corrupt .gz): the
    alerts found in the lines before are still written.
    """
    from contextlib import ExitStack

    from app.tools.offline import DetectSummary, InputFile, detect_file, open_output
    from app.tools.progress import EventProgress

    settings = build_settings()
    if input != "-":
        if not Path(input).exists():
            err.print(f"[red]error:[/] input file not found: {input}")
            raise typer.Exit(2)
        if Path(input).is_dir():
            err.print(
                f"[red]error:[/] {input} is a directory; give a file (events.jsonl[.gz]) or -"
            )
            raise typer.Exit(2)
    from app.core.verdicts import Verdict, decode_verdict

    book: list[Verdict] = []
    if verdicts is not None:
        where = ""
        try:
            lines = verdicts.read_bytes().splitlines()
            for i, line in enumerate(lines, 1):
                where = f" line {i}"
                if line.strip():
                    book.append(decode_verdict(line))
        except (OSError, ValueError) as exc:
            err.print(f"[red]error:[/] {escape(str(verdicts))}{where}: {escape(str(exc))}")
            raise typer.Exit(2) from None
    progress = EventProgress(err, description="detect")

    def on_progress(s: DetectSummary, src: InputFile) -> None:
        progress.update(events=s.events, done=src.position(), total=src.size)

    try:
        with ExitStack() as stack:
            out = stack.enter_context(open_output(output))
            dlq_fh = stack.enter_context(open_output(dlq)) if dlq else None

            def write(alert: Any) -> None:
                out.write(alert.model_dump_json().encode() + b"\n")

            with progress:
                summary = detect_file(
                    input,
                    settings=settings.detection,
                    on_alert=write,
                    dlq=dlq_fh,
                    on_progress=on_progress,
                    verdicts=book,
                )
    except OSError as exc:  # opening the input or writing an output
        err.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
    err.print(
        f"lines {summary.lines:,}  events {summary.events:,}  invalid {summary.invalid:,}  "
        f"late {summary.late:,}  windows {summary.windows_closed:,}  alerts {summary.alerts:,}  "
        f"({summary.events_per_s:,.0f} events/s)"
    )
    for reason, n in summary.invalid_by_reason.most_common():
        err.print(f"  invalid: {reason}: {n:,}")
    if summary.input_error is not None:
        where = "standard output" if output == "-" else output
        err.print(
            f"[red]error:[/] {escape(input)} could not be read to its end: "
            f"{escape(summary.input_error)}; the {summary.alerts:,} alert(s) found in the "
            f"lines before are in {escape(where)}"
        )
        raise typer.Exit(1)


@cli.command()
def demo(
    broker: Annotated[
        str | None, typer.Option(help="Use this broker instead of the embedded one")
    ] = None,
    duration: Annotated[float, typer.Option(help="Seconds to run")] = 60.0,
    metrics_port: Annotated[int, typer.Option(help="Worker metrics port (0: pick a free one)")] = 0,
    speedup: Annotated[float, typer.Option(help="Simulated seconds per wall second")] = 240.0,
) -> None:
    """Embedded broker + worker + traffic with one injected abusive group, alerts live."""
    from app.tools.demo import run_demo

    try:
        with _broker_errors():
            code = run_demo(
                broker=broker, duration_s=duration, metrics_port=metrics_port, speedup=speedup
            )
    except KeyboardInterrupt:  # every process was already stopped on the way out
        err.print("interrupted; all demo processes stopped.")
        code = 130
    sys.exit(code)


@cli.command()
def simulate(
    scenario: Annotated[str, typer.Option(help="Shipped scenario name or a TOML path")] = "hydra",
    out: Annotated[Path | None, typer.Option(help="events.jsonl[.gz] to write")] = None,
    labels: Annotated[Path | None, typer.Option(help="labels CSV (default: beside --out)")] = None,
    broker: Annotated[str | None, typer.Option(help="Produce to this broker instead")] = None,
    topic: Annotated[str | None, typer.Option(help="Input topic (with --broker)")] = None,
    rate: Annotated[float, typer.Option(help="Events/s to Kafka (0: as fast as possible)")] = 0.0,
    scale: Annotated[float | None, typer.Option(help="Account-count scale (1 = full)")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default: the scenario's)")] = None,
    days: Annotated[float | None, typer.Option(help="Simulated days")] = None,
    start: Annotated[
        str | None, typer.Option(help="Start, ISO 8601 (e.g. 2026-03-02T00:00Z)")
    ] = None,
    compression: Annotated[
        str, typer.Option(help="Producer compression: lz4, zstd, gzip or none")
    ] = "lz4",
) -> None:
    """Generate labelled traffic for a scenario, to files or to Kafka (compressed time)."""
    from datetime import datetime

    from app.tools.simulate.emit import labels_path_for
    from app.tools.simulate.run import build, produce_to_kafka, write_files
    from app.tools.simulate.scenario import load_scenario

    try:
        sc = load_scenario(scenario).with_overrides(
            seed=seed,
            days=days,
            start=datetime.fromisoformat(start.replace("Z", "+00:00")) if start else None,
        )
    except (FileNotFoundError, ValueError) as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    if compression not in ("lz4", "zstd", "gzip", "none"):
        err.print(f"[red]error:[/] unknown compression {compression!r} (lz4, zstd, gzip, none)")
        raise typer.Exit(2)
    for c in sc.campaigns_outside_span():
        err.print(
            f"[yellow]warning:[/] campaign {c.id} starts at hour {c.start_h:g}, at or after "
            f"the end of the {sc.days:g}-day span: it sends no event "
            f"(give --days above {c.start_h / 24:g} to include it)"
        )
    eff_scale = scale if scale is not None else 1.0
    if broker:
        settings = build_settings(broker=broker)
        from app.runtime.admin import security_kwargs

        _reach_broker(settings)
    sim = build(sc, scale=eff_scale)
    if broker:
        summary = produce_to_kafka(
            sim,
            bootstrap=settings.bootstrap_servers,
            topic=topic or settings.input_topic,
            rate=rate,
            partitions=settings.topic_partitions,
            compression_type=None if compression == "none" else compression,
            client_kwargs=security_kwargs(settings),
        )
        where = f"{broker} topic {topic or settings.input_topic}"
    else:
        if out is None:
            err.print("[red]error:[/] give --out FILE or --broker URL")
            raise typer.Exit(2)
        labels = labels or labels_path_for(out)
        summary = write_files(sim, out, labels)
        where = f"{out} + {labels}"
    err.print(
        f"{sc.name} (scale {eff_scale}, seed {sc.seed}, {sc.days} days): "
        f"{summary.events:,} events, {summary.accounts:,} accounts "
        f"({summary.campaign_accounts:,} campaign, {summary.campaign_events:,} campaign "
        f"events) in {summary.seconds:.1f}s → {where}"
    )


@cli.command()
def evaluate(
    scenario: Annotated[
        list[str] | None, typer.Option(help="Scenario(s); 'all' for every shipped one")
    ] = None,
    events: Annotated[
        Path | None, typer.Option(help="Labelled events file instead of a scenario")
    ] = None,
    labels: Annotated[Path | None, typer.Option(help="Labels CSV for --events")] = None,
    scale: Annotated[float | None, typer.Option(help="Scale (default: the scenario's)")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed override")] = None,
    out_dir: Annotated[Path, typer.Option(help="Where reports and PNGs go")] = Path("reports"),
    markdown: Annotated[bool, typer.Option(help="Also print the table as Markdown")] = False,
    closed_loop: Annotated[
        bool,
        typer.Option(
            help="Replay enforcement: blocked accounts stop, campaigns grow new heads "
            "(docs/evaluation.md)"
        ),
    ] = False,
    partitions: Annotated[
        list[int] | None,
        typer.Option(help="Closed loop: account partitions to run with (repeat; default 1 and 4)"),
    ] = None,
) -> None:
    """Score detection and both baselines on labelled traffic; JSON report + PNG timeline."""
    if closed_loop:
        _evaluate_closed_loop(
            scenario or ["hydra_loop"], scale=scale, seed=seed, out_dir=out_dir,
            partitions=partitions or [1, 4], markdown=markdown,
        )  # fmt: skip
        return

    from app.tools.evaluate.run import evaluate_files, evaluate_scenario
    from app.tools.evaluate.table import (
        markdown_benign_table,
        markdown_operating_table,
        markdown_table,
        rich_benign_table,
        rich_operating_table,
        rich_table,
    )
    from app.tools.progress import EventProgress
    from app.tools.simulate.scenario import scenario_names

    settings = build_settings()
    reports = []
    progress = EventProgress(err, description="evaluate")

    def on_events(phase: str, n: int, done: int | None, total: int | None) -> None:
        progress.update(events=n, done=done, total=total, description=phase)

    def say(message: str) -> None:
        (progress.console if progress.enabled else err).print(message)

    if events is not None:
        if labels is None or not events.is_file() or not labels.is_file():
            err.print("[red]error:[/] --events needs an existing file and --labels FILE")
            raise typer.Exit(2)
        name = events.name.split(".")[0]
        with progress:
            reports.append(
                evaluate_files(
                    events,
                    labels,
                    settings=settings.detection,
                    name=name,
                    out_dir=out_dir,
                    on_events=on_events,
                )
            )
    else:
        names = scenario or ["hydra"]
        if names == ["all"]:
            names = scenario_names()
        for n in names:
            try:
                with progress:
                    reports.append(
                        evaluate_scenario(
                            n,
                            settings=settings.detection,
                            scale=scale,
                            seed=seed,
                            out_dir=out_dir,
                            progress=say,
                            on_events=on_events,
                        )
                    )
            except FileNotFoundError as exc:
                err.print(f"[red]error:[/] {exc}")
                raise typer.Exit(2) from None
    table = rich_table(reports)
    _stdout_console_for(table).print(table)
    benign_table = rich_benign_table(reports)
    _stdout_console_for(benign_table).print(benign_table)
    operating = rich_operating_table(reports)
    _stdout_console_for(operating).print(operating)
    for r in reports:
        t = r["throughput"]
        err.print(
            f"{r['name']}: {r['events']:,} events, offline core {t['events_per_s']:,.0f} "
            f"events/s (decode {t['decode_s']}s, engine {t['engine_s']}s) → "
            f"{out_dir}/{r['name']}.report.json, {out_dir}/{r['name']}.timeline.png"
        )
    if markdown:
        print(markdown_table(reports))
        print(markdown_benign_table(reports))
        print(markdown_operating_table(reports))


def _evaluate_closed_loop(
    names: list[str],
    *,
    scale: float | None,
    seed: int | None,
    out_dir: Path,
    partitions: list[int],
    markdown: bool,
) -> None:
    import json

    from app.tools.evaluate.loop import run_closed_loop
    from app.tools.evaluate.table import markdown_loop_table, rich_loop_table
    from app.tools.simulate.scenario import load_scenario, scenario_names

    settings = build_settings()
    if names == ["all"]:
        names = scenario_names()
    out_dir.mkdir(parents=True, exist_ok=True)
    reports = []
    for name in names:
        try:
            sc = load_scenario(name)
        except FileNotFoundError as exc:
            err.print(f"[red]error:[/] {exc}")
            raise typer.Exit(2) from None
        if seed is not None:
            sc = sc.with_overrides(seed=seed)
        digests = set()
        for n in partitions:
            err.print(f"{sc.name}: closed loop with {n} account partition(s)…")
            rep = run_closed_loop(
                sc, scale=scale or sc.default_scale, partitions=n, settings=settings.detection
            ).as_dict()
            digests.add(rep["alert_digest"])
            path = out_dir / f"{sc.name}.loop.p{n}.json"
            path.write_text(json.dumps(rep, indent=1))
            err.print(
                f"  {rep['events_attempted']:,} requests, {rep['events_served']:,} served, "
                f"{rep['alerts']:,} alerts in {rep['seconds']:.0f}s → {path}"
            )
            reports.append(rep)
        if len(digests) > 1:
            err.print(f"[red]{sc.name}: alerts differ between partition counts[/]")
            raise typer.Exit(1)
        if len(partitions) > 1:
            err.print(
                f"{sc.name}: identical alerts with {', '.join(map(str, partitions))} partitions"
            )
    table = rich_loop_table(reports)
    _stdout_console_for(table).print(table)
    if markdown:
        print(markdown_loop_table(reports))


@cli.command()
def calibrate(
    data: Annotated[Path, typer.Option(help="The shared data folder")] = Path("../shared/data"),
    out: Annotated[Path | None, typer.Option(help="Output JSON")] = None,
) -> None:
    """Derive the simulator's benign-traffic parameters from the public traces."""
    from app.tools.simulate.calibrate import PARAMS_PATH, write_params

    if not (data / "servegen").exists():
        err.print(f"[red]error:[/] no servegen/ under {data}")
        raise typer.Exit(2)
    err.print(f"wrote {write_params(data, out or PARAMS_PATH)}")


@cli.command()
def schemas(
    out_dir: Annotated[Path, typer.Option(help="Where to write the JSON Schemas")] = Path(
        "schemas"
    ),
) -> None:
    """Write the JSON Schemas (2020-12) generated from the event models."""
    from app.core.events.schema import write_schemas

    for path in write_schemas(out_dir):
        err.print(f"wrote {path}")


@cli.command()
def enforce(
    broker: BrokerOption = None,
    db: Annotated[str, typer.Option(help="SQLite file of the enforcement list")] = "enforce.db",
    json_out: Annotated[Path | None, typer.Option(help="Write the live list here")] = None,
    http_port: Annotated[int | None, typer.Option(help="Serve GET /active on this port")] = None,
    group: Annotated[str, typer.Option(help="Consumer group")] = "hydrawatch-enforce",
    max_seconds: Annotated[float | None, typer.Option(help="Stop after (default: run)")] = None,
) -> None:
    """Reference rate-limiter integration: alert topic → throttle/block/verify list with TTLs,
    minus what benign verdicts allow (GET /active, GET /verdicts)."""
    from app.enforce.consumer import run_enforcer
    from app.runtime.admin import security_kwargs

    s = build_settings(broker=broker)
    _reach_broker(s, max_seconds=max_seconds)

    # SIGTERM (a deploy stopping it) and Ctrl-C stop it cleanly: the list is committed
    with _term_as_interrupt():
        counts = run_enforcer(
            bootstrap=s.bootstrap_servers,
            topic=s.alert_topic,
            group_id=group,
            db_path=db,
            json_path=json_out,
            http_port=http_port,
            max_seconds=max_seconds,
            verdict_topic=s.verdict_topic,
            verdict_dlq_topic=s.verdict_dlq_topic,
            session_timeout_s=s.session_timeout_s,
            heartbeat_interval_s=s.heartbeat_interval_s,
            client_kwargs=security_kwargs(s),
        )
    err.print(
        f"alerts {counts['alerts']}, changed the list {counts['applied']}, "
        f"invalid {counts['invalid']}, expired {counts['expired']}, released "
        f"{counts['released']}; verdicts {counts['verdicts']} (invalid, dead-lettered: "
        f"{counts['verdicts_invalid']})"
    )


_DURATION_UNITS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000}


def _duration_ms(text: str) -> int:
    """``90m``, ``12h``, ``7d`` → milliseconds."""
    unit = _DURATION_UNITS.get(text[-1:])
    try:
        n = float(text[:-1])
    except ValueError:
        n = -1.0
    if unit is None or n <= 0:
        raise typer.BadParameter(f"{text!r}: give a positive number with m, h or d (e.g. 7d)")
    return int(n * unit)


@cli.command()
def verdict(
    subject: Annotated[
        str,
        typer.Argument(
            help="KIND:VALUE — campaign:cmp-…, account:…, org:…, payment:…, "
            "tls:JA4|user-agent, template:…, subnet:a.b.c.0/24"
        ),
    ],
    decision: Annotated[str | None, typer.Option("--verdict", help="benign | confirmed")] = None,
    reason: Annotated[str | None, typer.Option(help="Why (a ticket, a finding)")] = None,
    analyst: Annotated[str | None, typer.Option(help="Who decides (default: $USER)")] = None,
    expires_in: Annotated[
        str | None, typer.Option(help="In force for this long: 90m, 12h, 7d (default: 7d)")
    ] = "7d",
    no_expiry: Annotated[
        bool, typer.Option("--no-expiry", help="In force until withdrawn")
    ] = False,
    withdraw: Annotated[
        bool, typer.Option("--withdraw", help="Withdraw the subject's verdict (a tombstone)")
    ] = False,
    broker: BrokerOption = None,
) -> None:
    """Record an analyst verdict on the verdicts topic (compacted, keyed by subject)."""
    from app.core.verdicts import SUBJECT_KINDS, Verdict, Withdrawal
    from app.runtime.admin import security_kwargs
    from app.runtime.verdicts import publish_verdict

    kind, sep, value = subject.partition(":")
    if not sep or kind not in SUBJECT_KINDS or not value:
        err.print(
            f"[red]error:[/] subject {escape(subject)!r}: give KIND:VALUE with KIND one of "
            + ", ".join(SUBJECT_KINDS)
        )
        raise typer.Exit(2)
    s = build_settings(broker=broker)
    kw = security_kwargs(s)
    if withdraw:
        if not reason:
            err.print("[red]error:[/] --reason is required to withdraw too (it is audited)")
            raise typer.Exit(2)
        try:
            by = Withdrawal(analyst=analyst or os.environ.get("USER") or "unknown", reason=reason)
        except ValueError as exc:
            err.print(f"[red]error:[/] {escape(str(exc).splitlines()[0])}")
            raise typer.Exit(2) from None
        _reach_broker(s)
        part, off = publish_verdict(
            s.bootstrap_servers,
            s.verdict_topic,
            withdraw_key=subject,
            withdrawal=by,
            client_kwargs=kw,
        )
        err.print(
            f"withdrew the verdict on {escape(subject)} as {escape(by.analyst)} "
            f"({s.verdict_topic}[{part}]@{off})"
        )
        return
    if decision not in ("benign", "confirmed"):
        err.print("[red]error:[/] --verdict benign or --verdict confirmed is required")
        raise typer.Exit(2)
    if not reason:
        err.print("[red]error:[/] --reason is required (it is audited)")
        raise typer.Exit(2)
    now_ms = int(time.time() * 1000)
    expires = None if no_expiry else now_ms + _duration_ms(expires_in or "7d")
    try:
        v = Verdict(
            subject_kind=kind,  # type: ignore[arg-type]
            subject=value,
            verdict=decision,  # type: ignore[arg-type]
            reason=reason,
            analyst=analyst or os.environ.get("USER") or "unknown",
            issued_ms=now_ms,
            expires_ms=expires,
        )
    except ValueError as exc:
        err.print(f"[red]error:[/] {escape(str(exc).splitlines()[0])}")
        raise typer.Exit(2) from None
    _reach_broker(s)
    part, off = publish_verdict(s.bootstrap_servers, s.verdict_topic, verdict=v, client_kwargs=kw)
    until = "no expiry" if expires is None else f"expires_ms {expires}"
    err.print(
        f"{v.verdict} verdict {v.verdict_id} on {escape(v.key)} by {escape(v.analyst)} "
        f"({until}) → {s.verdict_topic}[{part}]@{off}"
    )


@cli.command("tail-alerts")
def tail_alerts(
    broker: BrokerOption = None,
    severity: Annotated[
        str | None, typer.Option(help="Minimum severity: low|medium|high|critical")
    ] = None,
    entity_type: Annotated[
        str | None, typer.Option(help="account|campaign|subnet|asn|fingerprint")
    ] = None,
    campaign: Annotated[str | None, typer.Option(help="Only this campaign_id")] = None,
    from_beginning: Annotated[bool, typer.Option(help="Read the topic from the start")] = False,
    max_seconds: Annotated[float | None, typer.Option(help="Stop after (default: follow)")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print raw AlertEvent JSON lines")
    ] = False,
) -> None:
    """Human view of the alert topic, with filters."""
    from app.enforce.tail import tail
    from app.runtime.admin import security_kwargs

    s = build_settings(broker=broker)
    _reach_broker(s, max_seconds=max_seconds)
    tail(
        bootstrap=s.bootstrap_servers,
        topic=s.alert_topic,
        min_severity=severity,
        entity_type=entity_type,
        campaign_id=campaign,
        from_beginning=from_beginning,
        max_seconds=max_seconds,
        as_json=as_json,
        client_kwargs=security_kwargs(s),
    )


@cli.command("broker")
def broker_cmd(
    port: Annotated[int, typer.Option(help="Loopback port to listen on")] = 9092,
    partitions: Annotated[
        int | None, typer.Option(help="Partitions of the topics it creates (default: settings)")
    ] = None,
    max_seconds: Annotated[
        float | None, typer.Option(help="Stop after (default: until Ctrl-C)")
    ] = None,
) -> None:
    """Start the embedded Kafka-protocol broker (tansu, in memory, 127.0.0.1) until Ctrl-C.

    Creates the input, alert and dead-letter topics, so ``worker``, ``simulate --broker``,
    ``tail-alerts`` and ``enforce`` can be tried by hand against it. Its data lives in
    memory and is gone when it stops.
    """
    from app.runtime.admin import BrokerUnreachable, ensure_topics
    from app.tools.broker import TansuBroker

    settings = build_settings()
    tansu = TansuBroker(port=port, startup_timeout_s=settings.connect_timeout_s)
    if tansu.port_in_use():
        err.print(f"[red]error:[/] 127.0.0.1:{port} is already in use; give --port")
        raise typer.Exit(1)

    try:
        with _term_as_interrupt(), tansu:
            topics = [settings.input_topic, settings.alert_topic, settings.dlq_topic]
            ensure_topics(
                tansu.bootstrap, topics, partitions=partitions or settings.topic_partitions
            )
            err.print(
                f"embedded tansu broker on {tansu.bootstrap} (pid {tansu.pid}, in memory: "
                f"its data is gone when it stops); topics {', '.join(topics)}\n"
                f"  try: hydrawatch worker --broker kafka://{tansu.bootstrap}\n"
                f"       hydrawatch simulate --broker kafka://{tansu.bootstrap} --rate 500 "
                "--scale 0.02\n"
                f"       hydrawatch tail-alerts --broker kafka://{tansu.bootstrap}\n"
                "Ctrl-C stops it."
            )
            t0 = time.monotonic()
            while tansu.alive() and (max_seconds is None or time.monotonic() - t0 < max_seconds):
                time.sleep(0.2)
            if not tansu.alive():
                err.print(f"[red]error:[/] the broker exited:\n{escape(tansu.log_tail())}")
                raise typer.Exit(1)
    except KeyboardInterrupt:
        pass
    except (RuntimeError, BrokerUnreachable) as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from None
    err.print("broker stopped.")


def _stdout_console_for(renderable: RenderableType) -> Console:
    """A stdout console as wide as the terminal; off a terminal, as wide as ``renderable``
    needs (``COLUMNS`` when set), so a table piped to a file is not squeezed to 80."""
    console = Console()
    if console.is_terminal or os.environ.get("COLUMNS"):
        return console
    from rich.measure import Measurement

    wide = console.options.update_width(10_000)
    return Console(width=Measurement.get(console, wide, renderable).maximum)


@cli.command()
def console(
    broker: BrokerOption = None,
    host: Annotated[
        str | None, typer.Option(help="Bind address (default 127.0.0.1; others need a token)")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8090)")] = None,
    token: Annotated[
        str | None,
        typer.Option(help="Require this token (env HYDRAWATCH_CONSOLE_TOKEN keeps it out of ps)"),
    ] = None,
    links: Annotated[
        bool, typer.Option(help="Also read <app_id>.links: which indicators tie members")
    ] = True,
    app_id: Annotated[str | None, typer.Option(help="App id whose links topic to read")] = None,
    verdicts: Annotated[
        bool,
        typer.Option(help="Also read the verdicts topic: the verdict on each subject, /verdicts"),
    ] = True,
    allow_verdicts: Annotated[
        bool,
        typer.Option(
            "--allow-verdicts",
            help="Let analysts record and withdraw verdicts from the campaign, account and "
            "/verdicts pages (to the verdicts topic; with --token, only token holders). "
            "Off: read-only, every POST refused",
        ),
    ] = False,
) -> None:
    """Analyst console in the browser: campaigns, accounts, entity alerts, verdicts.

    Read-only unless --allow-verdicts.
    """
    from app.runtime.admin import security_kwargs
    from app.tools.console.auth import check_bind
    from app.tools.console.serve import run_console

    s = build_settings(
        broker=broker, console_host=host, console_port=port, console_token=token, app_id=app_id
    )
    secret = s.console_token.get_secret_value() if s.console_token else None
    try:
        check_bind(s.console_host, secret)
    except ValueError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    if allow_verdicts and not verdicts:
        err.print(
            "[red]error:[/] --allow-verdicts needs the verdicts topic read (no --no-verdicts)"
        )
        raise typer.Exit(2)
    where = f"http://{s.console_host}:{s.console_port}/"
    mode = f"recording verdicts to {s.verdict_topic}" if allow_verdicts else "read-only"
    err.print(f"console on {where} reading {s.alert_topic} from {s.broker}, {mode} (Ctrl-C stops)")
    try:
        run_console(
            bootstrap=s.bootstrap_servers,
            alert_topic=s.alert_topic,
            links_topic=s.links_topic if links else None,
            verdict_topic=s.verdict_topic if verdicts else None,
            allow_verdicts=allow_verdicts,
            host=s.console_host,
            port=s.console_port,
            token=secret,
            client_kwargs=security_kwargs(s),
        )
    except ValueError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
