"""The analyst console in a real headless Chromium, against a real broker.

A small hydra campaign is simulated and run through the detection stages in-process
(the same stage objects the worker runs); its alerts go to the alert topic and the pivot
stage's link records to ``<app_id>.links``, as a worker would write them. Then
``hydrawatch console`` reads both from the broker and Selenium drives Debian's chromium
through every page: content checked against the alerts, the member table sorted and
searched through the page itself, one screenshot per page kept under the test's tmp
path (or ``$HYDRAWATCH_SCREENSHOTS``). The console is started with ``--allow-verdicts``
on a compacted verdicts topic of its own: a benign verdict is recorded from the campaign
page in the browser, read back from the topic with the workers' own follower, and shown
in force after a reload. Skipped, saying why, without chromium + chromedriver
(``make chromium``).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from app.core.events import AlertEvent, RequestEvent, validate_event
from app.core.settings import DetectionSettings
from app.core.stages.local import LocalTopology
from app.core.stages.partitioner import account_partitioner
from app.core.stages.records import LinkInput, encode_link_inputs
from app.core.verdicts import VerdictBook
from app.runtime.admin import ensure_topics
from app.runtime.verdicts import VerdictFollower
from app.tools.broker import BrokerHandle, free_port
from tests.conftest import PARTITIONS, Topics

pytestmark = pytest.mark.integration

_BATCH = 5_000


@dataclass(frozen=True)
class Run:
    alerts: list[AlertEvent]
    #: message values of the links topic, as the worker encodes them
    links: list[bytes]


@pytest.fixture(scope="module")
def chromium() -> tuple[str, str]:
    """(chromium, chromedriver) paths; skips first, before any traffic is simulated."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if binary is None or driver is None:
        pytest.skip("no chromium/chromedriver: run `make chromium` (Debian chromium-driver)")
    return binary, driver


@pytest.fixture(scope="module")
def campaign_run(chromium: tuple[str, str]) -> Run:
    """hydra at scale 0.01 for one day, the campaign from hour 9: alerts and link records."""
    from app.tools.simulate.emit import iter_events
    from app.tools.simulate.run import build
    from app.tools.simulate.scenario import load_scenario

    sc = load_scenario("hydra").with_overrides(days=1.0)
    sc = sc.model_copy(
        update={"campaigns": [c.model_copy(update={"start_h": 9}) for c in sc.campaigns]}
    )
    events = sorted(
        (validate_event(e) for e, _, _ in iter_events(build(sc, scale=0.01))),
        key=lambda e: e.ts_ms,
    )
    links: list[bytes] = []

    def capture(records: list[object]) -> list[object]:
        links.extend(encode_link_inputs([r]) for r in records if isinstance(r, LinkInput))
        return records

    topo = LocalTopology(
        DetectionSettings(),
        account_partitions=PARTITIONS,
        clock=lambda: time.time_ns() // 1_000_000,
        deliver=capture,
    )
    part = account_partitioner(PARTITIONS)
    alerts: list[AlertEvent] = []
    for i in range(0, len(events), _BATCH):
        by_p: dict[int, list[RequestEvent]] = {}
        for e in events[i : i + _BATCH]:
            by_p.setdefault(part(e.account_id), []).append(e)
        alerts += topo.process(sorted(by_p.items()))
    alerts += topo.finish()
    assert any(a.entity_type == "campaign" for a in alerts), "the scenario found no campaign"
    return Run(alerts, links)


def _produce(bootstrap: str, alerts_topic: str, links_topic: str, run: Run) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_request_size=8 << 20)
    try:
        for a in run.alerts:  # keyed by entity, as the worker does
            producer.send(
                alerts_topic, key=a.entity_id.encode(), value=a.model_dump_json().encode()
            )
        for value in run.links:
            producer.send(links_topic, value=value, partition=0)
        producer.flush(timeout=30)
    finally:
        producer.close()


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


@pytest.fixture(scope="module")
def verdict_topic(broker: BrokerHandle) -> str:
    """A compacted verdicts topic of this module's own, as the worker creates it."""
    topic = f"it-{uuid.uuid4().hex[:8]}.verdicts"
    ensure_topics(broker.bootstrap, [topic], partitions=1, config={"cleanup.policy": "compact"})
    return topic


@pytest.fixture(scope="module")
def console(
    broker: BrokerHandle,
    campaign_run: Run,
    verdict_topic: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """``hydrawatch console --allow-verdicts`` on a free loopback port, once it has read
    everything (one for the module's tests: the page tour, then the verdict)."""
    tag = uuid.uuid4().hex[:8]
    topics = Topics(f"it-{tag}.requests", f"it-{tag}.alerts", f"it-{tag}.dlq")
    ensure_topics(
        broker.bootstrap, [topics.input, topics.alerts, topics.dlq], partitions=PARTITIONS
    )
    app_id = f"it-console-{tag}"
    ensure_topics(broker.bootstrap, [f"{app_id}.links"], partitions=1)
    _produce(broker.bootstrap, topics.alerts, f"{app_id}.links", campaign_run)
    port = free_port()
    tmp_path = tmp_path_factory.mktemp("console")
    log = (tmp_path / "console.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app",
            "console",
            "--broker",
            broker.url,
            "--port",
            str(port),
            "--app-id",
            app_id,
            "--allow-verdicts",
        ],
        env={**os.environ, **topics.env(), "HYDRAWATCH_VERDICT_TOPIC": verdict_topic},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    want = {"alerts": len(campaign_run.alerts), "link_records": len(campaign_run.links)}
    deadline = time.monotonic() + 45
    got: dict[str, Any] = {}
    try:
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "console.log").read_text()
            try:
                got = _get_json(f"{base}/healthz")
            except OSError:
                got = {}
            if {k: got.get(k) for k in want} == want:
                break
            time.sleep(0.3)
        assert {k: got.get(k) for k in want} == want, (got, (tmp_path / "console.log").read_text())
        assert got["invalid"] == 0
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


@pytest.fixture(scope="module")
def browser(chromium: tuple[str, str]) -> Iterator[Any]:
    binary, driver_bin = chromium
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
        "--hide-scrollbars",
    ):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=driver_bin), options=opts)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    d = Path(os.environ.get("HYDRAWATCH_SCREENSHOTS") or tmp_path / "screenshots")
    d.mkdir(parents=True, exist_ok=True)
    return d


def _wait_charts(driver: Any, charts: int) -> None:
    """Wait until the page's first ``charts`` plotly figures are drawn."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    if charts:
        WebDriverWait(driver, 20).until(
            lambda d: (
                len(d.find_elements(By.CSS_SELECTOR, '.chart[data-drawn="1"] .main-svg')) >= charts
            )
        )


def _follow(driver: Any, element: Any, *, charts: int = 0) -> None:
    """Click a link (or submit a form) and wait for the next page."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    old = driver.find_element(By.TAG_NAME, "html")
    if element.tag_name == "form":
        element.submit()
    else:
        element.click()
    WebDriverWait(driver, 20).until(ec.staleness_of(old))
    WebDriverWait(driver, 20).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )
    _wait_charts(driver, charts)


def _screenshot(driver: Any, path: Path) -> None:
    """The whole page, beyond the window (Chrome DevTools' capture)."""
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
    )
    data = base64.b64decode(shot["data"])
    path.write_bytes(data)
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000, path


def _column(driver: Any, css: str) -> list[str]:
    """The text of every element matching ``css`` (one round trip)."""
    texts: list[str] = driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]), e => e.textContent.trim())",
        css,
    )
    return texts


def test_every_console_page_in_chromium(
    console: str, browser: Any, campaign_run: Run, shots: Path
) -> None:
    from selenium.webdriver.common.by import By

    alerts = campaign_run.alerts
    [cid] = {a.campaign_id for a in alerts if a.entity_type == "campaign"}
    mine = [a for a in alerts if a.campaign_id == cid]
    newest = max(mine, key=lambda a: (a.ts_ms, a.entity_type == "campaign"))
    size_key = "accounts" if newest.entity_type == "campaign" else "campaign_accounts"
    members = {a.entity_id for a in mine if a.entity_type == "account"}
    requests = {
        a.entity_id: int(a.evidence["requests"])
        for a in sorted(mine, key=lambda a: (a.ts_ms, a.entity_type == "campaign"))
        if a.entity_type == "account"
    }

    # campaigns list
    browser.get(console + "/")
    _wait_charts(browser, 1)
    row = browser.find_element(By.CSS_SELECTOR, f'tr[data-campaign="{cid}"]')
    assert row.find_element(By.CSS_SELECTOR, ".members-now").text == str(
        int(newest.evidence[size_key])
    )
    assert newest.severity in row.text and newest.action in row.text
    assert "vs" in row.text  # families against the population
    _screenshot(browser, shots / "1-campaigns.png")

    # one campaign: facts, charts, member table sorted and searched through the page
    _follow(browser, row.find_element(By.LINK_TEXT, cid), charts=3)
    assert browser.find_element(By.ID, "campaign-id").text == cid
    assert browser.find_element(By.ID, "members-alerted").text == str(len(members))
    assert set(_column(browser, "#members td.account")) == members
    graph = " ".join(_column(browser, "#graph-chart text"))
    assert "payment:" in graph and "subnet:" in graph  # the indicators that tie them
    _screenshot(browser, shots / "2-campaign.png")

    _follow(browser, browser.find_element(By.CSS_SELECTOR, 'a.sort[data-column="requests"]'))
    assert "sort=requests" in browser.current_url
    got = [int(x) for x in _column(browser, "#members td.requests")]
    assert got == sorted(requests.values(), reverse=True) and got[0] > got[-1]
    _follow(browser, browser.find_element(By.CSS_SELECTOR, 'a.sort[data-column="requests"]'))
    assert [int(x) for x in _column(browser, "#members td.requests")] == sorted(got)

    target = max(requests, key=lambda a: (requests[a], a))
    browser.find_element(By.ID, "member-q").send_keys(target)
    _follow(browser, browser.find_element(By.ID, "member-search"), charts=3)
    assert _column(browser, "#members td.account") == [target]
    _screenshot(browser, shots / "3-campaign-search.png")

    # one account
    _follow(browser, browser.find_element(By.LINK_TEXT, target))
    assert browser.find_element(By.ID, "account-id").text == target
    assert cid in browser.find_element(By.ID, "account-campaigns").text
    its = [a for a in alerts if a.entity_type == "account" and a.entity_id == target]
    assert browser.find_element(By.ID, "account-alerts").text == str(len(its))
    assert _column(browser, "#indicators tbody tr")
    assert "in cluster vs" in browser.find_element(By.ID, "alerts").text  # reasons
    _screenshot(browser, shots / "4-account.png")

    # entity alerts
    _follow(browser, browser.find_element(By.ID, "nav-entities"))
    entities = {
        (a.entity_type, a.entity_id)
        for a in alerts
        if a.entity_type in ("subnet", "asn", "fingerprint")
    }
    shown = browser.execute_script(
        "return Array.from(document.querySelectorAll('#entities tbody tr'),"
        " r => [r.dataset.type, r.dataset.entity])"
    )
    assert {(t, e) for t, e in shown} == entities and len(shown) == len(entities)
    assert cid in browser.find_element(By.ID, "entities").text  # members linked on them
    _screenshot(browser, shots / "5-entities.png")


def test_a_benign_verdict_from_the_campaign_page_in_chromium(
    console: str,
    browser: Any,
    broker: BrokerHandle,
    verdict_topic: str,
    campaign_run: Run,
    shots: Path,
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    [cid] = {a.campaign_id for a in campaign_run.alerts if a.entity_type == "campaign"}
    browser.get(f"{console}/campaigns/{cid}")
    assert browser.find_element(By.ID, "no-verdict")
    reason = f"customer eval harness, ticket T-{uuid.uuid4().hex[:6]}"
    browser.find_element(By.ID, "verdict-benign").click()
    browser.find_element(By.ID, "verdict-reason-input").send_keys(reason)
    Select(browser.find_element(By.ID, "verdict-expires")).select_by_value("1d")
    browser.find_element(By.ID, "verdict-analyst").send_keys("ana-it")
    before_ms = time.time_ns() // 1_000_000
    _follow(browser, browser.find_element(By.ID, "verdict-submit"))
    after_ms = time.time_ns() // 1_000_000
    assert browser.current_url.startswith(f"{console}/campaigns/{cid}?done=vd-")
    flash = browser.find_element(By.ID, "flash").text
    m = re.search(r"vd-[0-9a-f]{16}", flash)
    assert m is not None and "benign" in flash, flash

    # the record on the real topic, read with the workers' own follower and book
    follower = VerdictFollower(broker.bootstrap, verdict_topic).start()
    try:
        assert follower.wait_caught_up(30), follower.error
        records = follower.drain()
    finally:
        follower.stop()
    book = VerdictBook()
    assert [book.apply_record(k, v)[0] for k, v in records] == ["put"]
    [v] = book.all()
    assert (v.subject_kind, v.subject, v.verdict, v.reason, v.analyst) == (
        "campaign",
        cid,
        "benign",
        reason,
        "ana-it",
    )
    assert before_ms <= v.issued_ms <= after_ms and v.expires_ms == v.issued_ms + 86_400_000
    assert v.verdict_id == m.group(0)
    assert records[0][0] == f"campaign:{cid}".encode()  # keyed by subject: compaction

    # a reload shows it in force (as read back from the topic)
    deadline = time.monotonic() + 10
    while True:
        browser.refresh()
        state = browser.find_elements(By.ID, "verdict-state")
        if (state and state[0].text == "in force") or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert browser.find_element(By.ID, "verdict-state").text == "in force"
    assert browser.find_element(By.ID, "verdict-id").text == v.verdict_id
    assert browser.find_element(By.ID, "verdict-reason").text == reason
    assert browser.find_element(By.ID, "verdict-withdraw")
    _screenshot(browser, shots / "6-campaign-verdict.png")
