"""The static site in headless Chromium over the DevTools protocol (no downloads, no server).

The page is opened from file://, rows are read from the DOM, a header is clicked with
a real mouse event, console errors and exceptions are collected, and a screenshot is
written (``EPIC_BENCH_SCREENSHOT=path`` keeps it for a human to look at).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from benchmark.leaderboard import build
from benchmark.results import make_row, write_batch

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian chromium is not installed (apt-get install chromium)"
)


class Page:
    """A minimal DevTools-protocol client for one tab."""

    def __init__(self, ws_url: str) -> None:
        from websockets.sync.client import connect

        self.ws = connect(ws_url, max_size=64 * 2**20, open_timeout=20)
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=30))
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_event(self, method: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        for event in self.events:
            if event.get("method") == method:
                return event
        while time.monotonic() < deadline:
            message = json.loads(self.ws.recv(timeout=timeout))
            self.events.append(message)
            if message.get("method") == method:
                return message
        raise TimeoutError(method)

    def eval(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def errors(self) -> list[str]:
        out = []
        for e in self.events:
            p = e.get("params", {})
            if e.get("method") == "Runtime.exceptionThrown":
                out.append(json.dumps(p.get("exceptionDetails", {}))[:500])
            elif e.get("method") == "Runtime.consoleAPICalled" and p.get("type") == "error":
                out.append(json.dumps(p.get("args", []))[:500])
            elif e.get("method") == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append(p["entry"].get("text", ""))
        return out


@pytest.fixture
def browser(tmp_path):
    profile = tmp_path / "profile"
    proc = subprocess.Popen(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--allow-file-access-from-files",
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            "--window-size=1280,1600",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail("chromium did not start its DevTools endpoint")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            targets = json.load(r)
        page_target = next(t for t in targets if t["type"] == "page")
        page = Page(page_target["webSocketDebuggerUrl"])
        yield page
        page.ws.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _site(tmp_path: Path) -> Path:
    rows = []
    subs = {
        "alpha": (0.30, 0.5, "regression"),
        "bravo": (0.10, 0.9, "regression"),
        "charlie": (0.20, 0.7, "regression"),
        "gridworld-ground-truth": (0.0, 1.0, "sanity"),
    }
    for name, (epic, transfer, method) in subs.items():
        for seed in range(3):
            common = dict(
                run_id="r",
                submission=name,
                submission_sha256=(name * 4)[:64],
                method=method,
                task="gridworld",
                task_version="1",
                seed=seed,
            )
            for coverage, shift in (("uniform", 0.0), ("expert", 0.05)):
                rows.append(
                    make_row(
                        **common,
                        metric="epic",
                        coverage=coverage,
                        n_transitions=64,
                        n_samples=32,
                        value=epic + shift + 0.01 * seed,
                    )
                )
            rows.append(make_row(**common, metric="transfer", budget="standard", value=transfer))
    write_batch(rows, tmp_path / "results", name="site")
    _readme, site = build(tmp_path / "results", tmp_path / "out")
    return site


def _open(page, url: str) -> None:
    page.call("Page.enable")
    page.call("Runtime.enable")
    page.call("Log.enable")
    page.call("Page.navigate", url=url)
    page.wait_event("Page.loadEventFired")


def _click(page, selector: str) -> None:
    """A real mouse click on the element (scrolled into view first)."""
    page.call("Page.bringToFront")
    page.eval(f"document.querySelector({selector!r}).scrollIntoView({{block: 'center'}})")
    x, y = page.eval(
        f"(() => {{ const r = document.querySelector({selector!r}).getBoundingClientRect();"
        " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
    )
    for kind in ("mousePressed", "mouseReleased"):
        page.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)


BODY = "document.querySelector('table.task-table[data-task=gridworld]').tBodies"
METHOD_ROWS = f"[...{BODY}[0].rows].map(r => r.dataset.submission)"
SANITY_ROWS = (
    f"[...{BODY}[1].rows].filter(r => r.dataset.submission).map(r => r.dataset.submission)"
)


def test_site_overview_first_then_one_table_per_task_sorting_within_groups(browser, tmp_path):
    site = _site(tmp_path)
    page = browser
    _open(page, site.resolve().as_uri())

    # Overview first, a table of contents linking it, each task, the paper findings and the
    # correlations.
    assert page.eval("[...document.querySelectorAll('h2')].map(h => h.id)") == [
        "overview",
        "task-gridworld",
        "findings",
        "correlation",
    ]
    assert page.eval("[...document.querySelectorAll('nav.toc a')].map(a => a.hash)") == [
        "#overview",
        "#task-gridworld",
        "#findings",
        "#correlation",
    ]
    # Learned entries only: the three regressions (EPIC 0.125 < 0.225 < 0.325 as transfer
    # 0.9 > 0.7 > 0.5, so ρ = -1 and every pair is ordered right); the ground truth is counted apart as an anchor.
    correlation = page.eval(
        "[...document.querySelectorAll('#correlation-table tbody td')].map(c => c.textContent)"
    )
    assert correlation[:4] == ["gridworld", "EPIC", "3", "-1.000 [-1.000, -1.000]"]
    assert correlation[5:7] == ["1.000", "n/a / n/a (1)"]  # all 3 pairs ordered right
    overview = page.eval(
        "[...document.querySelectorAll('#overview-table tbody tr[data-family]')].map(r => "
        "[r.dataset.family, r.cells[1].textContent])"
    )
    assert [f for f, _ in overview] == ["alpha", "bravo", "charlie", "ground-truth"]
    bravo = dict(overview)["bravo"]  # EPIC mean over coverages 0.135, transfer 0.9
    assert "EPIC 0.135" in bravo and "transfer 0.900" in bravo and "[" in bravo

    # One table per task: coverages as columns, sanity entries in their own body.
    headers = page.eval(
        f"[...{BODY.replace('.tBodies', '.tHead')}.rows[0].cells].map(c => c.textContent)"
    )
    assert headers == ["submission", "method", "epic expert", "epic uniform", "transfer"]
    assert page.eval(METHOD_ROWS) == ["bravo", "charlie", "alpha"]  # default: EPIC ascending
    assert page.eval(SANITY_ROWS) == ["gridworld-ground-truth"]
    assert "sanity checks" in page.eval(f"{BODY}[1].rows[0].textContent")
    assert page.eval("document.querySelectorAll('svg').length") == 2

    # Click "transfer" with real mouse events: ascending, then descending; sanity stays apart.
    header = "table.task-table thead th:nth-child(5)"
    _click(page, header)
    assert page.eval(METHOD_ROWS) == ["alpha", "charlie", "bravo"]
    _click(page, header)
    assert page.eval(METHOD_ROWS) == ["bravo", "charlie", "alpha"]
    assert page.eval(SANITY_ROWS) == ["gridworld-ground-truth"]

    page.eval("window.scrollTo(0, 0)")
    shot = page.call("Page.captureScreenshot", format="png")
    png = base64.b64decode(shot["data"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    keep = os.environ.get("EPIC_BENCH_SCREENSHOT")
    (Path(keep) if keep else tmp_path / "site.png").write_bytes(png)
    assert page.errors() == []


def test_highlight_marks_a_submission_family_in_every_table(browser, tmp_path):
    site = _site(tmp_path)
    _open(browser, site.resolve().as_uri() + "?highlight=bravo")
    marked = browser.eval(
        "[...document.querySelectorAll('tr.highlight')].map(r => r.closest('table').id || r.dataset.submission)"
    )
    assert marked == ["overview-table", "bravo"]
    assert browser.errors() == []


def test_a_checkpoint_family_opens_on_a_click(browser, tmp_path):
    rows = []
    for name, epic in (("alpha", 0.3), ("alpha-ckpt1", 0.6), ("alpha-ckpt2", 0.4)):
        for seed in range(2):
            rows.append(
                make_row(
                    run_id="r",
                    submission=name,
                    submission_sha256=(name * 8)[:64],
                    method="regression",
                    task="gridworld",
                    task_version="1",
                    seed=seed,
                    metric="epic",
                    coverage="uniform",
                    n_transitions=64,
                    n_samples=32,
                    value=epic,
                )  # fmt: skip
            )
    write_batch(rows, tmp_path / "results", name="family")
    _readme, site = build(tmp_path / "results", tmp_path / "out")
    _open(browser, site.resolve().as_uri())
    visible = (
        "[...document.querySelectorAll('tr[data-submission]')]"
        ".filter(r => r.checkVisibility()).map(r => r.dataset.submission)"
    )
    assert browser.eval(visible) == ["alpha"]  # the family is collapsed by default
    _click(browser, "details.family summary")
    assert browser.eval(visible) == ["alpha", "alpha-ckpt1", "alpha-ckpt2"]
    assert browser.errors() == []
