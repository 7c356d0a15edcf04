"""The HTTP layer over an in-memory store: routes, escaping, headers, the token."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from app.tools.console.auth import COOKIE, check_bind
from app.tools.console.store import AlertStore
from app.tools.console.web import PLOTLY_JS, create_app
from tests.unit.tools.console.conftest import CID, MEMBERS
from tests.unit.tools.console.factory import T0, campaign_round, links_record


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr data-account="([^"]+)"', html)


@pytest.fixture
def client(store: AlertStore) -> TestClient:
    return TestClient(create_app(store))


def test_every_page(client: TestClient) -> None:
    home = client.get("/")
    assert home.status_code == 200
    assert f'data-campaign="{CID}"' in home.text and 'id="members-chart"' in home.text
    page = client.get(f"/campaigns/{CID}")
    assert page.status_code == 200
    assert 'id="members-now">6<' in page.text and _rows(page.text) == MEMBERS
    for chart in ("families-chart", "timeline-chart", "graph-chart"):
        assert f'data-chart="{chart}"' in page.text
    acct = client.get("/accounts/acct-x00")
    assert acct.status_code == 200 and f'href="/campaigns/{CID}"' in acct.text
    ents = client.get("/entities?type=subnet")
    assert ents.status_code == 200 and 'data-entity="10.1.2.0/24"' in ents.text
    assert client.get("/entities?type=asn").text.count('id="no-entities"') == 1
    assert client.get("/healthz").json() == {
        "alerts": 2 + 6 + 1 + 2,
        "invalid": 0,
        "link_records": 1,
        "evicted": 0,
        "verdict_records": 0,
        "verdicts_invalid": 0,
    }


def test_unknown_campaign_and_account_are_404(client: TestClient) -> None:
    assert client.get("/campaigns/cmp-nope").status_code == 404
    assert client.get("/accounts/acct-nope").status_code == 404


def test_member_table_sort_links_and_search(client: TestClient) -> None:
    page = client.get(f"/campaigns/{CID}").text
    href = re.search(r'data-column="requests" data-state="" href="([^"]+)"', page)
    assert href is not None and href.group(1) == "?sort=requests&amp;desc=1"
    by_req = client.get(f"/campaigns/{CID}?sort=requests&desc=1").text
    assert _rows(by_req) == MEMBERS[::-1]
    assert 'data-column="requests" data-state="desc" href="?sort=requests"' in by_req
    assert _rows(client.get(f"/campaigns/{CID}?sort=requests").text) == MEMBERS
    assert (
        _rows(client.get(f"/campaigns/{CID}?q=subnet:10.1.2&sort=account&desc=1").text)
        == (MEMBERS[:4][::-1])
    )
    assert _rows(client.get(f"/campaigns/{CID}?sort=<script>").text) == MEMBERS


def test_outside_input_is_escaped_in_html_and_in_figures() -> None:
    evil = "acct-</script><img src=x onerror=alert(1)>"
    s = AlertStore()
    s.add_all(
        campaign_round(
            CID, now_ms=T0, members=[evil, "b"], new=[evil, "b"], requests={evil: 3, "b": 1}
        )
    )
    s.add_links(links_record(0, T0, [(evil, "payment:<b>p</b>", 2), ("b", "payment:<b>p</b>", 1)]))
    c = TestClient(create_app(s))
    for path in (f"/campaigns/{CID}", "/", "/accounts/" + evil):
        html = c.get(path).text
        assert "<img" not in html and "<b>p" not in html and "</script><" not in html, path
    assert "\\u003cimg" in c.get(f"/campaigns/{CID}").text  # inside the figure JSON


def test_headers_and_local_assets(client: TestClient) -> None:
    page = client.get("/")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    assert not re.search(r'(src|href)="(https?:)?//', page.text)  # nothing from elsewhere
    js = client.get("/static/plotly.min.js")
    assert js.status_code == 200 and js.content == PLOTLY_JS.read_bytes()
    assert client.get("/static/console.js").status_code == 200
    assert client.get("/static/console.css").status_code == 200


def test_token(store: AlertStore) -> None:
    c = TestClient(create_app(store, token="s3cret"), follow_redirects=False)
    assert c.get("/").status_code == 401
    assert c.get("/static/plotly.min.js").status_code == 401
    assert c.get("/", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert c.get("/?token=wrong").status_code == 401
    assert c.get("/healthz", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    r = c.get(f"/campaigns/{CID}?token=s3cret&sort=requests")
    assert r.status_code == 307 and r.headers["location"] == f"/campaigns/{CID}?sort=requests"
    assert "httponly" in r.headers["set-cookie"].lower()
    assert c.cookies.get(COOKIE) == "s3cret"
    assert c.get(f"/campaigns/{CID}?sort=requests").status_code == 200  # by the cookie


def test_bind_needs_a_token_beyond_loopback() -> None:
    check_bind("127.0.0.1", None)
    check_bind("::1", None)
    check_bind("0.0.0.0", "t")
    for host in ("0.0.0.0", "192.0.2.1", "console.example", "::"):
        with pytest.raises(ValueError, match="token"):
            check_bind(host, None)
        with pytest.raises(ValueError):
            check_bind(host, "")
