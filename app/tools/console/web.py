"""The console's HTTP layer: Starlette routes rendering Jinja2 templates.

Every page is built from one :class:`~app.tools.console.store.Snapshot` of the source by the
pure view-model functions; this module only parses the query, picks the template and
adds the figures. Scripts, styles and ``plotly.min.js`` (from the plotly wheel) are
served by the console: a page loads nothing from anywhere else (its
Content-Security-Policy says so too).

Verdicts: every page shows the verdicts read. Given a
:class:`~app.tools.console.sink.VerdictSink`, the campaign, account and ``/verdicts``
pages also carry forms (plain POSTs, guarded by :mod:`~app.tools.console.csrf`) that
record or withdraw one; without a sink the console is read-only and refuses any POST
(403). A POST that records answers ``303`` back to its page (``?done=<verdict_id>``);
one the page must correct (no reason, a bad subject) renders the page again with the
error (400), and one the sink could not write renders it with that error (503).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.verdicts import SubjectKind, Verdict, Withdrawal, subject_key
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
from app.tools.console.csrf import CSRF_COOKIE, CSRF_FIELD, CsrfGuard
from app.tools.console.entities import ENTITY_TYPES, entity_rows
from app.tools.console.sink import VerdictSink
from app.tools.console.store import ConsoleSource, Snapshot
from app.tools.console.table import header_links
from app.tools.console.verdicts import (
    DEFAULT_EXPIRY,
    EXPIRIES,
    VerdictStatus,
    build_verdict,
    parse_subject,
    status_of,
    verdict_status,
)

__all__ = ["ANALYST_COOKIE", "PLOTLY_JS", "Flash", "VerdictForm", "create_app"]

log = logging.getLogger(__name__)

#: the plotly.js bundle inside the plotly wheel
PLOTLY_JS = Path(str(files("plotly") / "package_data" / "plotly.min.js"))
_STATIC = Path(str(files("app.tools.console") / "static"))
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
#: remembers the analyst's name for the next form (a convenience, not an identity)
ANALYST_COOKIE = "hydrawatch_analyst"
_VERDICT_ID = re.compile(r"vd-[0-9a-f]{16}")


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
                    # same-origin, not no-referrer: with no-referrer a browser sends
                    # `Origin: null` on the console's own form posts (csrf.py checks it)
                    (b"referrer-policy", b"same-origin"),
                    (b"cache-control", b"private, max-age=3600" if static else b"no-store"),
                ]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class VerdictForm:
    """What a verdict form holds (as typed, for showing it again with its error)."""

    decision: str = "benign"
    reason: str = ""
    expires: str = DEFAULT_EXPIRY
    analyst: str = ""
    #: ``KIND:VALUE`` (the ``/verdicts`` page's form; the other pages name their subject)
    subject: str = ""
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Flash:
    """The confirmation after a POST (``?done=``)."""

    #: a verdict id, or ``withdrawn``
    done: str
    #: the recorded verdict as read back (None: not read yet, or a withdrawal)
    verdict: Verdict | None = None


def _flash(request: Request, snap: Snapshot) -> Flash | None:
    done = request.query_params.get("done", "")
    if done == "withdrawn":
        return Flash(done)
    if not _VERDICT_ID.fullmatch(done):
        return None
    return Flash(done, next((v for v in snap.verdicts.values() if v.verdict_id == done), None))


async def _read_form(request: Request, *, max_bytes: int = 16_384) -> dict[str, str] | None:
    """A urlencoded form body (what a plain HTML form posts), first value per field; None
    for another content type, more than ``max_bytes`` or more than 20 fields. (No
    multipart: the forms need none, and the parser would be one more dependency.)"""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            return None
    try:
        pairs = parse_qsl(body.decode("utf-8", errors="replace"), max_num_fields=20)
    except ValueError:
        return None
    form: dict[str, str] = {}
    for name, value in pairs:
        form.setdefault(name, value)
    return form


def _read_only() -> Response:
    return PlainTextResponse(
        "403: this console is read-only (start it with --allow-verdicts to record verdicts "
        "from it)",
        status_code=403,
    )


_Render = Callable[[Request, VerdictForm, int], Response]


def create_app(
    source: ConsoleSource,
    *,
    token: str | None = None,
    sink: VerdictSink | None = None,
    clock_ms: Callable[[], int] = _wall_ms,
    readback_s: float = 3.0,
    csrf_secret: bytes | None = None,
) -> Starlette:
    """The console over ``source``; with ``token``, every request must present it; with
    ``sink``, the verdict forms (otherwise read-only: a POST is refused with 403).

    ``clock_ms`` is the wall clock verdicts are issued and judged at; after a write the
    answer waits up to ``readback_s`` for ``source`` to read the record back, so the page
    it redirects to shows it.
    """
    templates = _templates()
    guard = CsrfGuard(secret=csrf_secret) if sink is not None else None

    def page(
        request: Request,
        name: str,
        status_code: int = 200,
        *,
        snap: Snapshot | None = None,
        **ctx: Any,
    ) -> Response:
        snap = snap if snap is not None else source.snapshot()
        now_ms = clock_ms()

        def vstatus(key: str | None) -> VerdictStatus | None:
            return None if key is None else verdict_status(snap.verdicts, key, now_ms=now_ms)

        nonce = fresh = None
        if guard is not None:
            nonce = request.cookies.get(CSRF_COOKIE)
            if not nonce:
                nonce = fresh = guard.new_nonce()
        ctx.setdefault("form", VerdictForm(analyst=request.cookies.get(ANALYST_COOKIE, "")))
        response = templates.TemplateResponse(
            request,
            name,
            {
                "snap": snap,
                "now_ms": now_ms,
                "vstatus": vstatus,
                "in_force": sum(v.in_force(now_ms) for v in snap.verdicts.values()),
                "writes": sink is not None,
                "sink_topic": sink.topic if sink is not None else None,
                "csrf": guard.sign(nonce) if guard is not None and nonce else None,
                "csrf_field": CSRF_FIELD,
                "expiries": list(EXPIRIES),
                "flash": _flash(request, snap),
                **ctx,
            },
            status_code=status_code,
        )
        if guard is not None and fresh is not None:
            guard.set_cookie(response, fresh)
        return response

    async def read_back(key: str, verdict_id: str | None) -> None:
        """Until the source has read the subject's new state (or ``readback_s`` passed)."""
        deadline = time.monotonic() + readback_s
        while True:
            v = source.snapshot().verdicts.get(key)
            if (v.verdict_id if v is not None else None) == verdict_id:
                return
            if time.monotonic() >= deadline:
                return
            await asyncio.sleep(0.05)

    async def write(
        request: Request,
        *,
        render: _Render,
        subject: tuple[SubjectKind, str] | None,
        back: str,
    ) -> Response:
        """One verdict form's POST: ``subject`` from the page, or (None) from the form."""
        if sink is None or guard is None:
            return _read_only()
        data = await _read_form(request)
        if data is None:
            return PlainTextResponse(
                "400: a verdict form is a urlencoded POST of a few fields", status_code=400
            )

        def field(name: str) -> str:
            return data.get(name, "")

        refusal = guard.refusal(
            request.headers, request.cookies.get(CSRF_COOKIE), field(CSRF_FIELD)
        )
        typed = VerdictForm(
            decision=field("verdict"),
            reason=field("reason"),
            expires=field("expires") or DEFAULT_EXPIRY,
            analyst=field("analyst"),
            subject=field("subject"),
        )
        op = field("op") or "record"
        if refusal is not None:
            log.warning("console: verdict form refused: %s", refusal)
            return PlainTextResponse(f"403: {refusal}", status_code=403)
        try:
            kind, value = subject if subject is not None else parse_subject(typed.subject)
        except ValueError as exc:
            return render(request, replace(typed, error=str(exc)), 400)
        key = subject_key(kind, value)
        if op == "withdraw":
            if key not in source.snapshot().verdicts:
                return render(request, replace(typed, error=f"{key} has no verdict"), 400)
            try:
                by = Withdrawal(analyst=typed.analyst.strip(), reason=typed.reason.strip())
            except ValueError:
                msg = "a withdrawal needs a reason (≤ 500 characters) and an analyst (≤ 128)"
                return render(request, replace(typed, error=msg), 400)
            try:
                part, off = await run_in_threadpool(sink.withdraw, key, by)
            except Exception as exc:  # the broker: say so on the page
                return render(request, replace(typed, error=_write_error(exc)), 503)
            log.info(
                "console: verdict on %s withdrawn by %r → %s[%d]@%d",
                key,
                by.analyst,
                sink.topic,
                part,
                off,
            )
            await read_back(key, None)
            return RedirectResponse(f"{back}?done=withdrawn", status_code=303)
        if op != "record":
            return render(request, replace(typed, error="unknown form action"), 400)
        try:
            verdict = build_verdict(
                kind=kind,
                subject=value,
                decision=typed.decision,
                reason=typed.reason,
                expires=typed.expires,
                analyst=typed.analyst,
                now_ms=clock_ms(),
            )
        except ValueError as exc:
            return render(request, replace(typed, error=str(exc)), 400)
        try:
            part, off = await run_in_threadpool(sink.publish, verdict)
        except Exception as exc:
            return render(request, replace(typed, error=_write_error(exc)), 503)
        log.info(
            "console: %s verdict %s on %s by %s → %s[%d]@%d",
            verdict.verdict,
            verdict.verdict_id,
            key,
            verdict.analyst,
            sink.topic,
            part,
            off,
        )
        await read_back(key, verdict.verdict_id)
        response = RedirectResponse(f"{back}?done={verdict.verdict_id}", status_code=303)
        response.set_cookie(
            ANALYST_COOKIE, verdict.analyst, max_age=30 * 86_400, httponly=True, samesite="strict"
        )
        return response

    def _write_error(exc: Exception) -> str:
        topic = sink.topic if sink is not None else "the verdicts topic"
        log.error("console: cannot write to %s: %s: %s", topic, type(exc).__name__, exc)
        return f"could not write to {topic} ({type(exc).__name__}); nothing was recorded"

    async def campaigns(request: Request) -> Response:
        snap = source.snapshot()
        summaries = campaign_summaries(snap)
        return page(
            request,
            "campaigns.html",
            snap=snap,
            summaries=summaries,
            members_fig=figure_json(members_figure(summaries)) if summaries else None,
        )

    def render_campaign(request: Request, form: VerdictForm | None, status: int) -> Response:
        cid = request.path_params["campaign_id"]
        snap = source.snapshot()
        detail = campaign_detail(snap, cid)
        if detail is None:
            return page(request, "missing.html", 404, snap=snap, what=f"campaign {cid}")
        q = request.query_params.get("q", "")
        sort = request.query_params.get("sort")
        sort = sort if sort in MEMBER_COLUMNS else None
        desc = request.query_params.get("desc") == "1"
        rows = member_table(detail.members, query=q, sort=sort, desc=desc)
        return page(
            request,
            "campaign.html",
            status,
            snap=snap,
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
            vkey=subject_key("campaign", cid),
            vaction="/campaigns/" + quote(cid, safe=""),
            **({"form": form} if form is not None else {}),
        )

    async def campaign(request: Request) -> Response:
        cid = request.path_params["campaign_id"]
        if request.method == "POST":
            if sink is None:
                return _read_only()
            if campaign_detail(source.snapshot(), cid) is None:
                return page(request, "missing.html", 404, what=f"campaign {cid}")
            return await write(
                request,
                render=render_campaign,
                subject=("campaign", cid),
                back="/campaigns/" + quote(cid, safe=""),
            )
        return render_campaign(request, None, 200)

    def render_account(request: Request, form: VerdictForm | None, status: int) -> Response:
        aid = request.path_params["account_id"]
        snap = source.snapshot()
        view = account_view(snap, aid)
        if view is None:
            return page(request, "missing.html", 404, snap=snap, what=f"account {aid}")
        return page(
            request,
            "account.html",
            status,
            snap=snap,
            v=view,
            vkey=subject_key("account", aid),
            vaction="/accounts/" + quote(aid),
            **({"form": form} if form is not None else {}),
        )

    async def account(request: Request) -> Response:
        aid = request.path_params["account_id"]
        if request.method == "POST":
            if sink is None:
                return _read_only()
            if account_view(source.snapshot(), aid) is None:
                return page(request, "missing.html", 404, what=f"account {aid}")
            return await write(
                request,
                render=render_account,
                subject=("account", aid),
                back="/accounts/" + quote(aid),
            )
        return render_account(request, None, 200)

    async def entities(request: Request) -> Response:
        etype = request.query_params.get("type") or None
        if etype is not None and etype not in ENTITY_TYPES:
            etype = None
        snap = source.snapshot()
        rows = entity_rows(snap, entity_type=etype)
        return page(request, "entities.html", snap=snap, rows=rows, etype=etype, types=ENTITY_TYPES)

    def render_verdicts(request: Request, form: VerdictForm | None, status: int) -> Response:
        snap = source.snapshot()
        now_ms = clock_ms()
        current = sorted(
            (status_of(v, now_ms=now_ms) for v in snap.verdicts.values()),
            key=lambda st: (not st.in_force, -st.verdict.issued_ms, st.verdict.key),
        )
        history = [
            (e, status_of(e.verdict, now_ms=now_ms) if e.verdict is not None else None)
            for e in reversed(snap.verdict_history)
        ]
        if form is None:
            form = VerdictForm(
                analyst=request.cookies.get(ANALYST_COOKIE, ""),
                subject=request.query_params.get("subject", "")[:400],
            )
        return page(
            request,
            "verdicts.html",
            status,
            snap=snap,
            current=current,
            history=history,
            form=form,
            vaction="/verdicts",
            vsubject=True,
        )

    async def verdicts(request: Request) -> Response:
        if request.method == "POST":
            return await write(request, render=render_verdicts, subject=None, back="/verdicts")
        return render_verdicts(request, None, 200)

    async def healthz(request: Request) -> Response:
        snap = source.snapshot()
        return JSONResponse(
            {
                "alerts": len(snap.alerts),
                "invalid": snap.invalid,
                "link_records": snap.link_records,
                "evicted": snap.evicted,
                "verdict_records": snap.verdict_records,
                "verdicts_invalid": snap.verdicts_invalid,
            }
        )

    async def plotly_js(request: Request) -> Response:
        return FileResponse(PLOTLY_JS, media_type="text/javascript")

    middleware = [Middleware(_SecurityHeaders)]
    if token is not None:
        middleware.append(Middleware(TokenMiddleware, token=token))
    post = ["GET", "HEAD", "POST"]
    return Starlette(
        routes=[
            Route("/", campaigns),
            Route("/campaigns/{campaign_id}", campaign, methods=post),
            Route("/accounts/{account_id:path}", account, methods=post),
            Route("/entities", entities),
            Route("/verdicts", verdicts, methods=post),
            Route("/healthz", healthz),
            Route("/static/plotly.min.js", plotly_js),
            Mount("/static", StaticFiles(directory=_STATIC), name="static"),
        ],
        middleware=middleware,
    )
