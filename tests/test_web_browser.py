"""The web workspace in a real browser: Debian's headless chromium driven by Selenium through its
own chromedriver (never a downloaded one), against `grant-ledger serve`'s app under uvicorn on a
real SQLite ledger. Skipped, saying why, where no such browser is installed (.ci/run installs it).

GRANT_LEDGER_SCREENSHOTS=DIR keeps a screenshot of each page shown (docs/ holds those of the
README)."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Ledger, approved_district_grant
from tests.test_web import PASSWORD, set_password

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1400,1000",
)


def _missing_browser() -> str | None:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            return (
                f"no {path}: install Debian's chromium and chromium-driver "
                "(apt-get install -y chromium chromium-driver; .ci/run does)"
            )
    return None


pytestmark = pytest.mark.skipif(_missing_browser() is not None, reason=str(_missing_browser()))


@pytest.fixture
def server(sqlite_ledger: Ledger) -> Iterator[str]:
    """`grant-ledger serve`'s app under uvicorn on a free local port; G1 approved and funded, the
    officer `tester` with a web password."""
    import uvicorn

    from commands.web.app import create_app

    approved_district_grant(sqlite_ledger, "G1", "B0001", "U1", "--base-name", "渝中区数字技能培训基地")
    sqlite_ledger.ok("unit", "set-district", "U1", "--district", "渝中区")
    sqlite_ledger.ok("disburse", "G1", "--amount", "10万", "--voucher", "拨-1", "--date", "2024-04-15")
    assert set_password(sqlite_ledger, "tester", PASSWORD, "officer").exit_code == 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(create_app(sqlite_ledger.url), host="127.0.0.1", port=port, log_level="warning")
    web = uvicorn.Server(config)
    thread = threading.Thread(target=web.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not web.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    web.should_exit = True
    thread.join(10)


@pytest.fixture
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager fetches nothing
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(5)
    try:
        yield driver
    finally:
        driver.quit()


def _text(browser: Any, by: str, selector: str) -> str:
    """The element's text as the page shows it now: a live swap may replace the element between
    finding it and reading it (stale), so it is found again."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    for _ in range(50):
        try:
            return str(browser.find_element(by, selector).text)
        except (StaleElementReferenceException, NoSuchElementException):
            time.sleep(0.1)
    return ""


def _arrived(browser: Any, heading: str) -> bool:
    """Has the page the last click leads to come, its heading ``heading``? The click returns
    before the browser leaves the page it was on, whose own heading may be read meanwhile."""
    from selenium.webdriver.common.by import By

    for _ in range(100):
        if _text(browser, By.TAG_NAME, "h1") == heading:
            return True
        time.sleep(0.1)
    return False


def _shot(driver: Any, name: str) -> None:
    folder = os.environ.get("GRANT_LEDGER_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(folder) / f"web-{name}.png"))


@pytest.mark.slow
def test_an_officer_signs_in_sees_the_overview_and_records_a_spend(server: str, browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    assert shutil.which(CHROMIUM) or os.path.isfile(CHROMIUM)
    browser.get(server + "/")
    assert browser.current_url.endswith("/sign-in")
    assert browser.find_element(By.TAG_NAME, "h1").text == "登录"
    _shot(browser, "sign-in")
    browser.find_element(By.ID, "name").send_keys("tester")
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "sign-in").click()

    assert _arrived(browser, "总览")
    row = browser.find_element(By.CSS_SELECTOR, 'tr[data-grant="G1"]')
    assert row.find_element(By.CSS_SELECTOR, 'td[data-key="subsidy_available"]').text == "100,000.00"
    # ECharts (vendored) draws the execution rates of the page's bases from the table's figures
    assert browser.find_elements(By.CSS_SELECTOR, "#rates-chart svg")
    assert browser.execute_script("return echarts.getInstanceByDom(document.getElementById('rates-chart'))"
                                  ".getOption().series[0].data") == [0]  # fmt: skip
    # htmx (vendored, served by the app itself) swaps the table when a filter changes
    assert browser.execute_script("return typeof htmx") == "object"
    Select(browser.find_element(By.ID, "status")).select_by_value("applied")
    time.sleep(0.5)
    assert not browser.find_elements(By.CSS_SELECTOR, 'tr[data-grant="G1"]')
    Select(browser.find_element(By.ID, "status")).select_by_value("")
    time.sleep(0.5)
    _shot(browser, "overview")

    browser.find_element(By.LINK_TEXT, "G1").click()
    assert browser.find_element(By.ID, "grant-id").text == "G1"
    browser.find_element(By.ID, "spend-amount").send_keys("3200")
    Select(browser.find_element(By.ID, "spend-category")).select_by_value("travel")
    browser.find_element(By.ID, "spend-voucher").send_keys("记-0102")
    date = browser.find_element(By.ID, "spend-date")
    date.clear()
    date.send_keys("2024-05-09")
    browser.find_element(By.ID, "spend-submit").click()
    assert browser.find_element(By.ID, "refusal-clause").text == "003 第九条"
    _shot(browser, "refused")

    amount = browser.find_element(By.ID, "spend-amount")
    amount.clear()
    amount.send_keys("3.5万")
    Select(browser.find_element(By.ID, "spend-category")).select_by_value("equipment")
    voucher = browser.find_element(By.ID, "spend-voucher")
    voucher.clear()
    voucher.send_keys("记-0042")
    browser.find_element(By.ID, "spend-submit").click()
    assert "记-0042" in browser.find_element(By.ID, "done").text
    assert _text(browser, By.CSS_SELECTOR, '#balance td[data-key="subsidy_available"]') == "65,000.00"
    _shot(browser, "grant")

    browser.find_element(By.ID, "nav-overview").click()
    g1_available = 'tr[data-grant="G1"] td[data-key="subsidy_available"]'
    assert _text(browser, By.CSS_SELECTOR, g1_available) == "65,000.00"
    assert browser.execute_script("return echarts.getInstanceByDom(document.getElementById('rates-chart'))"
                                  ".getOption().series[0].data") == [35]  # fmt: skip
    # every script and style came from the server itself, within its Content-Security-Policy
    refused = [e["message"] for e in browser.get_log("browser") if "Content Security Policy" in e["message"]]
    assert refused == []


FETCH = """
const done = arguments[arguments.length - 1];
fetch(arguments[0]).then(r => r.arrayBuffer()).then(b => {
  const bytes = new Uint8Array(b); let s = "";
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  done(btoa(s));
});
"""


def _fetched(browser: Any, href: str) -> bytes:
    """What the page's link downloads, fetched by the page itself (its session's cookie)."""
    import base64

    browser.set_script_timeout(30)
    return base64.b64decode(browser.execute_async_script(FETCH, href))


def test_an_auditor_downloads_the_balance_workbook_and_verifies_the_bundle(
    server: str, browser: Any, sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    import io

    from openpyxl import load_workbook
    from selenium.webdriver.common.by import By

    from tests.test_web import AUDITOR_PASSWORD

    sqlite_ledger.ok(
        "spend", "G1", "--amount", "3.5万", "--category", "equipment", "--source", "subsidy",
        "--voucher", "记-0042", "--date", "2024-05-10",
    )  # fmt: skip
    sqlite_ledger.ok("audit", "checkpoint", role="approver")
    assert set_password(sqlite_ledger, "tester.auditor", AUDITOR_PASSWORD, "auditor").exit_code == 0
    browser.get(server + "/sign-in")
    browser.find_element(By.ID, "name").send_keys("tester.auditor")
    browser.find_element(By.ID, "password").send_keys(AUDITOR_PASSWORD)
    browser.find_element(By.ID, "sign-in").click()
    assert _arrived(browser, "总览")

    browser.find_element(By.ID, "nav-reports").click()
    _shot(browser, "reports")
    browser.find_element(By.ID, "report-balance").click()
    _shot(browser, "report-balance")
    workbook = _fetched(browser, browser.find_element(By.ID, "download-xlsx").get_attribute("href"))
    sheet = load_workbook(io.BytesIO(workbook), read_only=True).active
    cells = [str(v) for row in sheet.iter_rows(values_only=True) for v in row if v is not None]
    assert "G1" in cells and any(c in ("65000", "65000.00", "65,000.00") for c in cells), cells[:80]

    browser.find_element(By.ID, "nav-audit").click()
    bundle = tmp_path / "bundle.zip"
    link = browser.find_element(By.ID, "download-bundle").get_attribute("href")
    bundle.write_bytes(_fetched(browser, link))
    browser.find_element(By.ID, "verify-bundle").send_keys(str(bundle))
    browser.find_element(By.ID, "verify-submit").click()
    verdict = browser.find_element(By.ID, "verdict")
    assert verdict.get_attribute("data-passed") == "yes"
    assert browser.find_element(By.ID, "verdict-lines").text.startswith("PASS")
    _shot(browser, "audit")
