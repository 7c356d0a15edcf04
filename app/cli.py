"""The ``hydrawatch`` command line: worker | demo | detect | schemas."""

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


def build_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with the CLI's non-empty flags on top (built once)."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


@cli.command()
def worker(
    broker: Annotated[
        str | None, typer.Option(help="kafka://host:port (env HYDRAWATCH_BROKER)")
    ] = None,
    app_id: Annotated[str | None, typer.Option(help="Consumer group / app id")] = None,
    metrics_host: Annotated[str | None, typer.Option(help="Metrics bind address")] = None,
    metrics_port: Annotated[int | None, typer.Option(help="Metrics port (0: off)")] = None,
    web_port: Annotated[int | None, typer.Option(help="faust web port (unique per worker)")] = None,
    datadir: Annotated[str | None, typer.Option(help="faust data directory")] = None,
    loglevel: Annotated[str | None, typer.Option(help="debug|info|warning|error")] = None,
) -> None:
    """Run one faust worker; several with the same app id share the partitions."""
    settings = build_settings(
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
def schemas(
    out_dir: Annotated[Path, typer.Option(help="Where to write the JSON Schemas")] = Path(
        "schemas"
    ),
) -> None:
    """Write the JSON Schemas (2020-12) generated from the event models."""
    from app.events.schema import write_schemas

    for path in write_schemas(out_dir):
        err.print(f"wrote {path}")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
