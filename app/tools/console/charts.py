"""Plotly figures of the view models, as JSON for the page's ``Plotly.newPlot``.

The browser draws them with the ``plotly.min.js`` that ships in the plotly wheel,
served by the console itself. :func:`figure_json` escapes ``<``, ``>`` and ``&`` so a
figure (whose labels are account ids and indicator values: input from outside) can sit
inside a ``<script type="application/json">`` element.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from app.tools.console.campaigns import CampaignSummary
from app.tools.console.graph import IndicatorGraph
from app.tools.console.timeline import Timeline

__all__ = [
    "families_figure",
    "figure_json",
    "graph_figure",
    "members_figure",
    "timeline_figure",
]

_LAYOUT = {
    "margin": {"l": 50, "r": 20, "t": 30, "b": 40},
    "template": "plotly_white",
    "font": {"family": "system-ui, sans-serif", "size": 12},
}
#: one colour per indicator kind, the same on every page
KIND_COLOURS = {
    "account": "#4c566a",
    "payment": "#d08770",
    "subnet": "#5e81ac",
    "asn": "#81a1c1",
    "tls": "#a3be8c",
    "template": "#b48ead",
    "simhash": "#ebcb8b",
    "created": "#88c0d0",
}


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def figure_json(fig: go.Figure) -> str:
    """The figure as JSON that is safe inside an HTML ``<script>`` element."""
    raw: str = fig.to_json()
    return raw.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def members_figure(summaries: Sequence[CampaignSummary]) -> go.Figure:
    """Members over time, one line per campaign (event time)."""
    fig = go.Figure()
    for s in summaries:
        fig.add_trace(
            go.Scatter(
                x=[_utc(t) for t, _ in s.members_over_time],
                y=[n for _, n in s.members_over_time],
                mode="lines+markers",
                line={"shape": "hv"},
                name=s.campaign_id,
            )
        )
    fig.update_layout(**_LAYOUT, height=280, yaxis_title="members", showlegend=True)
    return fig


def families_figure(summary: CampaignSummary) -> go.Figure:
    """Each evidence family: value in the cluster next to the population's."""
    names = [f.feature for f in summary.families]
    fig = go.Figure(
        [
            go.Bar(name="cluster", x=names, y=[f.value for f in summary.families]),
            go.Bar(
                name="population",
                x=names,
                y=[f.baseline for f in summary.families],
                marker_color="#9aa5b1",
            ),
        ]
    )
    fig.update_layout(**_LAYOUT, barmode="group", height=260, yaxis_range=[0, 1.05])
    return fig


def timeline_figure(t: Timeline) -> go.Figure:
    """Members joining, alerts and requests on the linking indicators, per hour."""
    x = [_utc(h) for h in t.hours_ms]
    fig = make_subplots(
        rows=3,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.07,
        subplot_titles=(
            "members joining per hour (line: members so far)",
            "alerts per hour",
            "requests on the linking indicators, trailing 24 h (newest alert of the hour)",
        ),
    )
    fig.add_trace(go.Bar(x=x, y=list(t.joined), name="joined"), row=1, col=1)
    fig.add_trace(go.Scatter(x=x, y=list(t.members), name="members", mode="lines"), row=1, col=1)
    fig.add_trace(go.Bar(x=x, y=list(t.alerts), name="alerts", marker_color="#bf616a"), 2, 1)
    fig.add_trace(
        go.Scatter(
            x=x, y=list(t.requests), name="requests", mode="lines+markers", connectgaps=True
        ),
        row=3,
        col=1,
    )
    fig.update_layout(**_LAYOUT, height=520, showlegend=False)
    return fig


def graph_figure(g: IndicatorGraph) -> go.Figure:
    """Accounts (left) ↔ shared indicators (right); one edge per link."""
    pos = {n.id: (n.x, n.y) for n in g.nodes}
    ex: list[float | None] = []
    ey: list[float | None] = []
    for e in g.edges:
        (x0, y0), (x1, y1) = pos[e.account], pos[e.indicator]
        ex += [x0, x1, None]
        ey += [y0, y1, None]
    fig = go.Figure(
        go.Scatter(
            x=ex,
            y=ey,
            mode="lines",
            line={"width": 0.6, "color": "rgba(76,86,106,0.35)"},
            hoverinfo="skip",
            showlegend=False,
        )
    )
    kinds = sorted({n.kind for n in g.nodes}, key=lambda k: (k != "account", k))
    for kind in kinds:
        nodes = [n for n in g.nodes if n.kind == kind]
        accounts = kind == "account"
        fig.add_trace(
            go.Scatter(
                x=[n.x for n in nodes],
                y=[n.y for n in nodes],
                mode="markers" if accounts else "markers+text",
                text=[n.id for n in nodes],
                textposition="middle right",
                hovertext=[
                    f"{n.id}: {n.degree} shared indicators"
                    if accounts
                    else f"{n.id}: {n.degree} members"
                    for n in nodes
                ],
                hoverinfo="text",
                marker={
                    "size": [5 if accounts else 8 + min(n.degree, 40) / 2 for n in nodes],
                    "color": KIND_COLOURS.get(kind, "#2e3440"),
                },
                name="accounts" if accounts else kind,
            )
        )
    rows = max(sum(n.kind == "account" for n in g.nodes), len(g.indicators), 1)
    fig.update_layout(
        **_LAYOUT,
        height=min(max(360, 6 * rows), 1600),
        xaxis={"visible": False, "range": [-0.05, 1.9]},
        yaxis={"visible": False},
    )
    return fig
