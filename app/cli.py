"""The ``hydrawatch`` command line: worker | demo | detect | schemas | console | …"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from app.config import Settings

__all__ = ["build_settings", "cli", "main"]

cli = typer.Typer(
    name="hydrawatch",
    help="Streaming detector for LLM distillation campaigns.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)

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
    from app.stream.worker import run_worker

    run_worker(settings)


@cli.command()
def detect(
    input: Annotated[str, typer.Option("--input", "-i", help="events.jsonl[.gz] or - for stdin")],
    output: Annotated[str, typer.Option("--output", "-o", help="alerts.jsonl[.gz] or -")] = "-",
    dlq: Annotated[str | None, typer.Option(help="Write invalid lines with reasons here")] = None,
) -> None:
    """Run the detection core over a file in event-time order; write AlertEvents as JSONL."""
    from contextlib import ExitStack

    from app.offline import detect_file, open_output

    settings = build_settings()
    if input != "-" and not Path(input).exists():
        err.print(f"[red]error:[/] input file not found: {input}")
        raise typer.Exit(2)
    with ExitStack() as stack:
        out = stack.enter_context(open_output(output))
        dlq_fh = stack.enter_context(open_output(dlq)) if dlq else None

        def write(alert: Any) -> None:
            out.write(alert.model_dump_json().encode() + b"\n")

        summary = detect_file(input, settings=settings.detection, on_alert=write, dlq=dlq_fh)
    err.print(
        f"lines {summary.lines:,}  events {summary.events:,}  invalid {summary.invalid:,}  "
        f"late {summary.late:,}  windows {summary.windows_closed:,}  alerts {summary.alerts:,}  "
        f"({summary.events_per_s:,.0f} events/s)"
    )
    for reason, n in summary.invalid_by_reason.most_common():
        err.print(f"  invalid: {reason}: {n:,}")


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
    from app.demo import run_demo

    try:
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

    from app.simulate.emit import labels_path_for
    from app.simulate.run import build, produce_to_kafka, write_files
    from app.simulate.scenario import load_scenario

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
    eff_scale = scale if scale is not None else 1.0
    sim = build(sc, scale=eff_scale)
    if broker:
        settings = build_settings(broker=broker)
        from app.broker.admin import security_kwargs

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
) -> None:
    """Score detection and both baselines on labelled traffic; JSON report + PNG timeline."""
    from rich.console import Console

    from app.evaluate.run import evaluate_files, evaluate_scenario
    from app.evaluate.table import markdown_table, rich_table
    from app.simulate.scenario import scenario_names

    settings = build_settings()
    reports = []
    if events is not None:
        if labels is None or not events.exists() or not labels.exists():
            err.print("[red]error:[/] --events needs an existing file and --labels FILE")
            raise typer.Exit(2)
        name = events.name.split(".")[0]
        reports.append(
            evaluate_files(events, labels, settings=settings.detection, name=name, out_dir=out_dir)
        )
    else:
        names = scenario or ["hydra"]
        if names == ["all"]:
            names = scenario_names()
        for n in names:
            try:
                reports.append(
                    evaluate_scenario(
                        n,
                        settings=settings.detection,
                        scale=scale,
                        seed=seed,
                        out_dir=out_dir,
                        progress=lambda m: err.print(m),
                    )
                )
            except FileNotFoundError as exc:
                err.print(f"[red]error:[/] {exc}")
                raise typer.Exit(2) from None
    Console(width=220).print(rich_table(reports))
    for r in reports:
        t = r["throughput"]
        err.print(
            f"{r['name']}: {r['events']:,} events, offline core {t['events_per_s']:,.0f} "
            f"events/s (decode {t['decode_s']}s, engine {t['engine_s']}s) → "
            f"{out_dir}/{r['name']}.report.json, {out_dir}/{r['name']}.timeline.png"
        )
    if markdown:
        print(markdown_table(reports))


@cli.command()
def calibrate(
    data: Annotated[Path, typer.Option(help="The shared data folder")] = Path("../shared/data"),
    out: Annotated[Path | None, typer.Option(help="Output JSON")] = None,
) -> None:
    """Derive the simulator's benign-traffic parameters from the public traces."""
    from app.simulate.calibrate import PARAMS_PATH, write_params

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
    from app.events.schema import write_schemas

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
    """Reference rate-limiter integration: alert topic → throttle/block/verify list with TTLs."""
    from app.broker.admin import security_kwargs
    from app.enforce.consumer import run_enforcer

    s = build_settings(broker=broker)
    counts = run_enforcer(
        bootstrap=s.bootstrap_servers,
        topic=s.alert_topic,
        group_id=group,
        db_path=db,
        json_path=json_out,
        http_port=http_port,
        max_seconds=max_seconds,
        session_timeout_s=s.session_timeout_s,
        heartbeat_interval_s=s.heartbeat_interval_s,
        client_kwargs=security_kwargs(s),
    )
    err.print(
        f"alerts {counts['alerts']}, changed the list {counts['applied']}, "
        f"invalid {counts['invalid']}, expired {counts['expired']}"
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
    from app.broker.admin import security_kwargs
    from app.enforce.tail import tail

    s = build_settings(broker=broker)
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
) -> None:
    """Read-only analyst console in the browser: campaigns, accounts, entity alerts."""
    from app.broker.admin import security_kwargs
    from app.console.auth import check_bind
    from app.console.serve import run_console

    s = build_settings(
        broker=broker, console_host=host, console_port=port, console_token=token, app_id=app_id
    )
    secret = s.console_token.get_secret_value() if s.console_token else None
    try:
        check_bind(s.console_host, secret)
    except ValueError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    where = f"http://{s.console_host}:{s.console_port}/"
    err.print(f"console on {where} reading {s.alert_topic} from {s.broker} (Ctrl-C stops)")
    run_console(
        bootstrap=s.bootstrap_servers,
        alert_topic=s.alert_topic,
        links_topic=s.links_topic if links else None,
        host=s.console_host,
        port=s.console_port,
        token=secret,
        client_kwargs=security_kwargs(s),
    )


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
