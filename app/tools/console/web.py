"""The console's HTTP layer: Starlette routes rendering Jinja2 templates.

Every page is built from one :class:`~app.tools.console.store.Snapshot` of the source by the
pure view-model functions; this module only parses the query, picks the template and
adds the figures. Scripts, styles and ``plotly.min.js`` (from the plotly wheel) are
served by the console: a page loads nothing from anywhere else (its
Content-Security-Policy says so too).
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.tools.console.accounts import account_view
from app.tools.console.auth import TokenMiddleware
from app.tools.console.campaigns import (
    MEMBER_COLUMNS,
    MEMBER_DESCENDING_FIRST,
    campaign_detail,
    campaign_summaries,
    member_table,
)
from app.tools.console.charts import (
    families_figure,
    figure_json,
    graph_figure,
    members_figure,
    timeline_figure,
)
from app.tools.console.entities import ENTITY_TYPES, entity_rows
from app.tools.console.store import ConsoleSource
from app.tools.console.table import header_links

__all__ = ["PLOTLY_JS", "create_app"]

#: the plotly.js bundle inside the plotly wheel
PLOTLY_JS = Path(str(files("plotly") / "package_data" / "plotly.min.js"))
_STATIC = Path(str(files("app.tools.console") / "static"))
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def utc(ms: int | None) -> str:
    """Event time as UTC minutes.

    >>> utc(1_772_447_400_000)
    '2026-03-02 10:30'
    """
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


def duration(seconds: int) -> str:
    """An action's TTL for people.

    >>> duration(0), duration(21600), duration(86400), duration(90)
    ('-', '6 h', '24 h', '1.5 min')
    """
    if seconds <= 0:
        return "-"
    if seconds >= 3600:
        return f"{seconds / 3600:g} h"
    return f"{seconds / 60:g} min"


def _templates() -> Jinja2Templates:
    env = Environment(
        loader=PackageLoader("app.tools.console", "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["utc"] = utc
    env.filters["duration"] = duration
    return Jinja2Templates(env=env)


class _SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                # pages change with every alert read; the assets only with the package
                static = scope.get("path", "").startswith("/static/")
                headers += [
                    (b"content-security-policy", _CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"cache-control", b"private, max-age=3600" if static else b"no-store"),
                ]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(source: ConsoleSource, *, token: str | None = None) -> Starlette:
    """The console over ``source``; with ``token``, every request must present it."""
    templates = _templates()

    def page(request: Request, name: str, status_code: int = 200, **ctx: Any) -> Response:
        snap = source.snapshot()
        return templates.TemplateResponse(
            request, name, {"snap": snap, **ctx}, status_code=status_code
        )

    async def campaigns(request: Request) -> Response:
        summaries = campaign_summaries(source.snapshot())
        return page(
            request,
            "campaigns.html",
            summaries=summaries,
            members_fig=figure_json(members_figure(summaries)) if summaries else None,
        )

    async def campaign(request: Request) -> Response:
        cid = request.path_params["campaign_id"]
        detail = campaign_detail(source.snapshot(), cid)
        if detail is None:
            return page(request, "missing.html", 404, what=f"campaign {cid}")
        q = request.query_params.get("q", "")
        sort = request.query_params.get("sort")
        sort = sort if sort in MEMBER_COLUMNS else None
        desc = request.query_params.get("desc") == "1"
        rows = member_table(detail.members, query=q, sort=sort, desc=desc)
        return page(
            request,
            "campaign.html",
            d=detail,
            s=detail.summary,
            rows=rows,
            q=q,
            sort=sort,
            desc=desc,
            headers=header_links(
                list(MEMBER_COLUMNS),
                query=q,
                sort=sort,
                desc=desc,
                descending_first=MEMBER_DESCENDING_FIRST,
            ),
            families_fig=figure_json(families_figure(detail.summary)),
            timeline_fig=figure_json(timeline_figure(detail.timeline)),
            graph_fig=figure_json(graph_figure(detail.graph)) if detail.graph.edges else None,
        )

    async def account(request: Request) -> Response:
        aid = request.path_params["account_id"]
        view = account_view(source.snapshot(), aid)
        if view is None:
            return page(request, "missing.html", 404, what=f"account {aid}")
        return page(request, "account.html", v=view)

    async def entities(request: Request) -> Response:
        etype = request.query_params.get("type") or None
        if etype is not None and etype not in ENTITY_TYPES:
            etype = None
        rows = entity_rows(source.snapshot(), entity_type=etype)
        return page(request, "entities.html", rows=rows, etype=etype, types=ENTITY_TYPES)

    async def healthz(request: Request) -> Response:
        snap = source.snapshot()
        return JSONResponse(
            {
                "alerts": len(snap.alerts),
                "invalid": snap.invalid,
                "link_records": snap.link_records,
                "evicted": snap.evicted,
            }
        )

    async def plotly_js(request: Request) -> Response:
        return FileResponse(PLOTLY_JS, media_type="text/javascript")

    middleware = [Middleware(_SecurityHeaders)]
    if token is not None:
        middleware.append(Middleware(TokenMiddleware, token=token))
    return Starlette(
        routes=[
            Route("/", campaigns),
            Route("/campaigns/{campaign_id}", campaign),
            Route("/accounts/{account_id:path}", account),
            Route("/entities", entities),
            Route("/healthz", healthz),
            Route("/static/plotly.min.js", plotly_js),
            Mount("/static", StaticFiles(directory=_STATIC), name="static"),
        ],
        middleware=middleware,
    )
