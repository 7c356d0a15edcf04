"""Verdicts through the HTTP layer: shown on every page, recorded by the forms (fake sink)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from app.core.verdicts import Verdict
from app.tools.console.csrf import CSRF_COOKIE
from app.tools.console.sink import MemoryVerdictSink
from app.tools.console.store import AlertStore
from app.tools.console.web import create_app
from tests.unit.tools.console.conftest import CID
from tests.unit.tools.console.factory import T0

NOW = T0 + 5 * 3_600_000
DAY = 86_400_000
SAME_ORIGIN = {"origin": "http://testserver"}
CAMPAIGN = f"/campaigns/{CID}"
ACCOUNT = "/accounts/acct-x01"


def _client(store: AlertStore, sink: MemoryVerdictSink | None, **kw: object) -> TestClient:
    app = create_app(store, sink=sink, clock_ms=lambda: NOW, **kw)  # type: ignore[arg-type]
    return TestClient(app, follow_redirects=False)


@pytest.fixture
def sink(store: AlertStore) -> MemoryVerdictSink:
    """Delivers what it is given to the store, as the topic and the reader would."""
    return MemoryVerdictSink(store, topic="it.verdicts")


@pytest.fixture
def client(store: AlertStore, sink: MemoryVerdictSink) -> TestClient:
    return _client(store, sink)


def _token(client: TestClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200
    m = re.search(r'name="csrf" value="([0-9a-f]{64})"', page.text)
    assert m is not None, "no verdict form"
    return m.group(1)


def _post(client: TestClient, path: str, **fields: str) -> Any:
    data = {"csrf": _token(client, path), "op": "record", "verdict": "benign", "expires": "7d"}
    data.update(fields)
    return client.post(path, data=data, headers=SAME_ORIGIN)


def _verdict(subject: str, kind: str, *, issued: int, expires: int | None, **kw: str) -> Verdict:
    return Verdict.model_validate(
        {
            "subject_kind": kind,
            "subject": subject,
            "verdict": kw.get("verdict", "benign"),
            "reason": kw.get("reason", "T-1"),
            "analyst": kw.get("analyst", "ana"),
            "issued_ms": issued,
            "expires_ms": expires,
        }
    )


def test_forms_only_when_writes_are_enabled(store: AlertStore, client: TestClient) -> None:
    read_only = _client(store, None)
    for path in (CAMPAIGN, ACCOUNT, "/verdicts", "/entities"):
        page = read_only.get(path)
        assert page.status_code == 200, path
        assert '<form method="post"' not in page.text and 'name="csrf"' not in page.text
        assert CSRF_COOKIE not in page.headers.get("set-cookie", "")
        assert "read-only" in page.text
    for path in (CAMPAIGN, ACCOUNT, "/verdicts"):
        page = client.get(path)
        assert 'id="verdict-form"' in page.text and f'action="{path}"' in page.text, path
        assert "verdicts recorded to it.verdicts" in page.text
        for e in ("1d", "7d", "30d", "none"):
            assert f'<option value="{e}"' in page.text
    assert 'id="verdict-subject"' in client.get("/verdicts").text  # only there: KIND:VALUE
    assert 'id="verdict-subject"' not in client.get(CAMPAIGN).text
    # an indicator on the entities page links to the form with its subject filled in
    ents = client.get("/entities").text
    assert f'href="/verdicts?subject={quote("subnet:10.1.2.0/24", safe="/")}#record"' in ents
    form = client.get("/verdicts?subject=subnet:10.1.2.0/24").text
    assert 'value="subnet:10.1.2.0/24"' in form


def test_post_records_the_verdict_and_redirects_to_the_page_showing_it(
    client: TestClient, sink: MemoryVerdictSink
) -> None:
    r = _post(
        client, CAMPAIGN, verdict="benign", reason="customer eval, T-7", expires="7d", analyst="ana"
    )
    assert r.status_code == 303
    [(key, v)] = sink.records
    assert v is not None and key == f"campaign:{CID}" == v.key
    assert (v.subject_kind, v.subject, v.verdict, v.reason, v.analyst) == (
        "campaign",
        CID,
        "benign",
        "customer eval, T-7",
        "ana",
    )
    assert (v.issued_ms, v.expires_ms) == (NOW, NOW + 7 * DAY)
    assert r.headers["location"] == f"{CAMPAIGN}?done={v.verdict_id}"
    page = client.get(r.headers["location"]).text
    assert f'id="flash">Recorded: <b>benign</b> verdict <code>{v.verdict_id}</code>' in page
    assert 'id="verdict-state">in force<' in page and "customer eval, T-7" in page
    assert 'value="ana"' in page  # the analyst's name is remembered for the next form
    # the campaigns list and the verdicts page show it too
    assert "vd-benign" in client.get("/").text
    assert f'data-verdict-id="{v.verdict_id}"' in client.get("/verdicts").text


def test_account_and_indicator_verdicts(client: TestClient, sink: MemoryVerdictSink) -> None:
    r = _post(client, ACCOUNT, verdict="confirmed", reason="operator", expires="none", analyst="bo")
    assert r.status_code == 303
    r = _post(
        client,
        "/verdicts",
        subject="tls:t13|sdk",
        verdict="confirmed",
        reason="the operator's client",
        expires="1d",
        analyst="bo",
    )
    assert r.status_code == 303
    (k1, v1), (k2, v2) = sink.records
    assert v1 is not None and (k1, v1.verdict, v1.expires_ms) == (
        "account:acct-x01",
        "confirmed",
        None,
    )
    assert v2 is not None and (k2, v2.subject_kind, v2.subject) == ("tls:t13|sdk", "tls", "t13|sdk")
    assert v2.expires_ms == NOW + DAY
    assert 'id="verdict-state">in force<' in client.get(ACCOUNT).text
    # the account page marks its indicators' verdicts
    assert "vd-confirmed" in client.get("/accounts/acct-x05").text


@pytest.mark.parametrize(
    ("path", "fields", "error"),
    [
        (CAMPAIGN, {"verdict": "benign", "reason": "", "analyst": "ana"}, "a reason is required"),
        (CAMPAIGN, {"verdict": "benign", "reason": "   ", "analyst": "ana"}, "reason is required"),
        (ACCOUNT, {"verdict": "benign", "reason": "T-1", "analyst": ""}, "analyst"),
        (ACCOUNT, {"verdict": "maybe", "reason": "T-1", "analyst": "a"}, "benign or confirmed"),
        (CAMPAIGN, {"verdict": "benign", "reason": "T", "analyst": "a", "expires": "9y"}, "expiry"),
        ("/verdicts", {"subject": "planet:mars", "reason": "T-1", "analyst": "a"}, "KIND:VALUE"),
        ("/verdicts", {"subject": "", "reason": "T-1", "analyst": "a"}, "KIND:VALUE"),
        ("/verdicts", {"subject": "org:" + "o" * 300, "reason": "T", "analyst": "a"}, "subject"),
    ],
)
def test_a_form_error_is_shown_on_the_page_and_nothing_is_published(
    client: TestClient, sink: MemoryVerdictSink, path: str, fields: dict[str, str], error: str
) -> None:
    r = _post(client, path, **fields)
    assert r.status_code == 400
    m = re.search(r'id="verdict-error">Not recorded: ([^<]*)<', r.text)
    assert m is not None and error in m.group(1)
    assert 'id="verdict-form"' in r.text
    if fields.get("reason", "").strip():
        assert f'value="{fields["reason"]}"' in r.text
    assert sink.records == []


def test_a_sink_that_cannot_write_is_an_error_on_the_page(store: AlertStore) -> None:
    sink = MemoryVerdictSink(topic="t.verdicts", error=TimeoutError("no broker"))
    c = _client(store, sink)
    r = _post(c, CAMPAIGN, verdict="benign", reason="T-1", analyst="a")
    assert r.status_code == 503
    assert "could not write to t.verdicts (TimeoutError)" in r.text
    assert store.snapshot().verdicts == {}


def test_a_cross_site_post_is_refused(client: TestClient, sink: MemoryVerdictSink) -> None:
    token = _token(client, CAMPAIGN)
    fields = {"csrf": token, "verdict": "benign", "reason": "T-1", "analyst": "mallory"}
    for headers in (
        {"origin": "http://evil.example"},
        {"origin": "null"},
        {"referer": "http://evil.example/x"},
    ):
        r = client.post(CAMPAIGN, data=fields, headers=headers)
        assert r.status_code == 403 and "another site" in r.text, headers
    # the page's cookie but no token (a page elsewhere cannot read it), or a made-up one
    for bad in ({}, {"csrf": "0" * 64}):
        data = {k: v for k, v in fields.items() if k != "csrf"} | bad
        r = client.post(CAMPAIGN, data=data, headers=SAME_ORIGIN)
        assert r.status_code == 403 and "stale" in r.text
    # the token without the browser's cookie (another browser's token)
    r = TestClient(client.app).post(CAMPAIGN, data=fields, headers=SAME_ORIGIN)
    assert r.status_code == 403
    # a token from another console (another secret) for the same nonce
    other = _client(AlertStore(), MemoryVerdictSink())
    other.cookies.set(CSRF_COOKIE, client.cookies[CSRF_COOKIE])
    foreign = _token(other, "/verdicts")
    r = client.post(CAMPAIGN, data=fields | {"csrf": foreign}, headers=SAME_ORIGIN)
    assert r.status_code == 403
    assert sink.records == []
    # not a form at all
    r = client.post(CAMPAIGN, content=b'{"verdict": "benign"}', headers=SAME_ORIGIN)
    assert r.status_code == 400 and sink.records == []


def test_pages_send_origin_on_their_own_posts(client: TestClient) -> None:
    # with `no-referrer` a browser posts `Origin: null`, which the guard must refuse
    assert client.get(CAMPAIGN).headers["referrer-policy"] == "same-origin"
    assert "form-action 'self'" in client.get(CAMPAIGN).headers["content-security-policy"]


def test_a_read_only_console_refuses_every_post(store: AlertStore) -> None:
    c = _client(store, None)
    fields = {"verdict": "benign", "reason": "T-1", "analyst": "a", "subject": "org:o"}
    for path in (CAMPAIGN, ACCOUNT, "/verdicts", "/campaigns/cmp-unknown"):
        r = c.post(path, data=fields, headers=SAME_ORIGIN)
        assert r.status_code == 403 and "read-only" in r.text, path
    assert store.snapshot().verdicts == {}
    assert c.post("/entities", data=fields).status_code == 405


def test_with_a_token_writing_needs_it(store: AlertStore, sink: MemoryVerdictSink) -> None:
    c = _client(store, sink, token="s3cret")
    fields = {"verdict": "benign", "reason": "T-1", "analyst": "a", "op": "record"}
    r = c.post(CAMPAIGN, data=fields, headers=SAME_ORIGIN)
    assert r.status_code == 401 and sink.records == []
    r = c.post(CAMPAIGN + "?token=wrong", data=fields, headers=SAME_ORIGIN)
    assert r.status_code == 401 and sink.records == []
    bearer = {"authorization": "Bearer s3cret"}
    page = c.get(CAMPAIGN, headers=bearer)
    token = re.search(r'name="csrf" value="([0-9a-f]{64})"', page.text)
    assert token is not None
    r = c.post(CAMPAIGN, data=fields | {"csrf": token.group(1)}, headers=SAME_ORIGIN | bearer)
    assert r.status_code == 303 and len(sink.records) == 1


def test_unknown_subject_pages_do_not_write(client: TestClient, sink: MemoryVerdictSink) -> None:
    token = _token(client, CAMPAIGN)
    fields = {"csrf": token, "verdict": "benign", "reason": "T-1", "analyst": "a"}
    for path in ("/campaigns/cmp-nope", "/accounts/acct-nope"):
        assert client.post(path, data=fields, headers=SAME_ORIGIN).status_code == 404
    assert sink.records == []


def test_withdraw_publishes_a_tombstone(
    store: AlertStore, client: TestClient, sink: MemoryVerdictSink
) -> None:
    token = _token(client, CAMPAIGN)
    withdraw = {"csrf": token, "op": "withdraw", "reason": "harness retired, T-9", "analyst": "bo"}
    r = client.post(CAMPAIGN, data=withdraw, headers=SAME_ORIGIN)  # nothing to withdraw yet
    assert r.status_code == 400 and "has no verdict" in r.text and sink.records == []
    assert 'id="verdict-withdraw"' not in client.get(CAMPAIGN).text
    _post(client, CAMPAIGN, verdict="confirmed", reason="T-2", analyst="ana")
    assert 'id="verdict-withdraw"' in client.get(CAMPAIGN).text
    for missing in ("reason", "analyst"):  # a withdrawal is audited: who, and why
        r = client.post(CAMPAIGN, data={**withdraw, missing: " "}, headers=SAME_ORIGIN)
        assert r.status_code == 400 and "a withdrawal needs a reason" in r.text
    assert len(sink.records) == 1
    r = client.post(CAMPAIGN, data=withdraw, headers=SAME_ORIGIN)
    assert r.status_code == 303 and r.headers["location"] == f"{CAMPAIGN}?done=withdrawn"
    assert sink.records[-1] == (f"campaign:{CID}", None)
    page = client.get(r.headers["location"]).text
    assert 'id="flash">Verdict withdrawn' in page and 'id="no-verdict"' in page
    # from the verdicts page, by subject
    _post(client, "/verdicts", subject="org:org-acme", reason="T-3", analyst="ana")
    r = client.post("/verdicts", data={**withdraw, "subject": "org:org-acme"}, headers=SAME_ORIGIN)
    assert r.status_code == 303 and sink.records[-1] == ("org:org-acme", None)
    assert store.snapshot().verdicts == {}
    assert [k for k, _ in sink.withdrawals] == [f"campaign:{CID}", "org:org-acme"]
    history = client.get("/verdicts").text
    assert '<td class="withdrawal-reason">harness retired, T-9</td>' in history
    assert '<td class="withdrawal-analyst">bo</td>' in history


def test_the_verdicts_page_lists_what_the_reader_saw(store: AlertStore) -> None:
    in_force = _verdict(CID, "campaign", issued=NOW - DAY, expires=NOW + DAY, reason="T-in")
    expired = _verdict("org-old", "org", issued=NOW - 9 * DAY, expires=NOW - 2 * DAY)
    pending = _verdict("pay-9", "payment", issued=NOW + 60_000, expires=None, analyst="bo")
    replaced = _verdict("acct-x01", "account", issued=NOW - 3 * DAY, expires=None)
    newer = _verdict("acct-x01", "account", issued=NOW - DAY, expires=None, verdict="confirmed")
    gone = _verdict("tls:x", "tls", issued=NOW - DAY, expires=None)
    for v in (in_force, expired, pending, replaced, newer, gone):
        store.add_verdict_raw(v.key.encode(), v.model_dump_json().encode(), ts_ms=v.issued_ms)
    store.add_verdict_raw(gone.key.encode(), None, ts_ms=NOW - 1)
    store.add_verdict_raw(b"org:x", b'{"subject_kind": "org"}', ts_ms=NOW)  # not a verdict
    c = _client(store, None)
    page = c.get("/verdicts").text
    current = re.findall(
        r'<tr data-key="([^"]+)" data-state="([^"]+)" data-verdict-id="([^"]+)"', page
    )
    assert [(k, s) for k, s, _ in current] == [
        (newer.key, "in force"),
        (in_force.key, "in force"),
        (pending.key, "pending"),
        (expired.key, "expired"),
    ]
    assert {i for *_, i in current} == {v.verdict_id for v in (newer, in_force, pending, expired)}
    history = re.findall(r'<tr data-key="([^"]+)" data-change="([^"]+)"', page)
    assert history == [
        (gone.key, "withdrawn"),
        (gone.key, "issued"),
        (newer.key, "replaced"),
        (replaced.key, "issued"),
        (pending.key, "issued"),
        (expired.key, "issued"),
        (in_force.key, "issued"),
    ]
    assert "1 records were not verdicts" in page
    assert f'<a href="/campaigns/{CID}">{CID}</a>' in page  # subjects link to their pages
    assert c.get("/healthz").json()["verdict_records"] == 7
    assert c.get("/healthz").json()["verdicts_invalid"] == 1
    # the campaign and account pages show their subject's state
    assert 'id="verdict-state">in force<' in c.get(CAMPAIGN).text
    acct = c.get(ACCOUNT).text
    assert 'id="verdict-decision"><span class="vd vd-confirmed"' in acct
    store.add_verdict(expired.key, None)
    old = _verdict("acct-benign", "account", issued=NOW - 9 * DAY, expires=NOW - DAY)
    store.add_verdict(old.key, old)
    assert 'id="verdict-state">expired<' in c.get("/accounts/acct-benign").text
    assert "2 verdicts in force" in c.get("/").text


def test_entity_rows_show_the_verdict_on_their_indicator(store: AlertStore) -> None:
    v = _verdict("10.1.2.0/24", "subnet", issued=NOW - 1, expires=NOW + DAY, reason="office NAT")
    store.add_verdict(v.key, v)
    cells = re.findall(
        r'<td class="verdict">(.*?)</td>', _client(store, None).get("/entities").text
    )
    assert len(cells) == 1 and "vd-benign" in cells[0] and "office NAT" in cells[0]
    assert "record…" not in cells[0]  # read-only: no link to a form


def test_outside_text_in_verdicts_is_escaped(store: AlertStore, client: TestClient) -> None:
    evil = "<img src=x onerror=alert(1)>"
    r = _post(client, CAMPAIGN, verdict="benign", reason=evil, analyst=evil)
    assert r.status_code == 303
    for path in (CAMPAIGN, "/verdicts", "/"):
        assert "<img" not in client.get(path).text, path
    r = _post(client, "/verdicts", subject=f"org:{evil}", reason="", analyst="a")
    assert r.status_code == 400 and "<img" not in r.text
