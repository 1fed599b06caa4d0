"""The HTML report opened in headless Chromium through the DevTools protocol.

Chromium is driven over --remote-debugging-pipe (JSON messages ending in NUL on fds 3/4), so
no port and no websocket library are needed. Asserted: no console errors or exceptions, no
network request other than the report file itself (and data:/blob: URLs), every plot
rendered, pixels of the first trade-off plot not blank and showing the front colour, and
the front table listing the expected configurations.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import struct
import subprocess
import tempfile
import time
import zlib
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from analysis.db import open_results
from analysis.pareto import pareto
from analysis.report import write_report
from analysis_testdata import build_results

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--remote-debugging-pipe", "--hide-scrollbars", "--mute-audio",
]
FRONT_RGB = (0x25, 0x63, 0xEB)  # analysis.plots.FRONT

# CI sets TRILEMMA_REQUIRE_CHROMIUM=1 so that a missing browser fails instead of skipping.
pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM) and not os.environ.get("TRILEMMA_REQUIRE_CHROMIUM"),
    reason="needs Debian's chromium: apt-get install -y --no-install-recommends chromium",
)


class DevTools:
    """A minimal Chrome DevTools Protocol client over the pipe transport."""

    def __init__(self, user_data_dir: str):
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def wire_fds() -> None:  # runs in the child: the protocol pipes must be fds 3 and 4
            os.dup2(to_child_r, 3)
            os.dup2(from_child_w, 4)

        self.proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={user_data_dir}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=wire_fds, pass_fds=(3, 4),
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no message from Chromium")
            ready, _, _ = select.select([self._from_child], [], [], remaining)
            if ready:
                chunk = os.read(self._from_child, 1 << 20)
                if not chunk:
                    raise RuntimeError("Chromium closed the DevTools pipe")
                self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 60) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        for event in self.events:
            if event.get("method") == method:
                return event
        while True:
            event = self._read_message(deadline)
            self.events.append(event)
            if event.get("method") == method:
                return event

    def evaluate(self, session: str, expression: str):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=10)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_child)
        os.close(self._from_child)


def decode_png(data: bytes) -> np.ndarray:
    """RGB(A) 8-bit non-interlaced PNG -> height x width x channels uint8 array."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and color in (2, 6) and interlace == 0, header
    bpp = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    out = np.zeros((height, stride), dtype=np.uint8)
    prev = bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        if kind == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif kind == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, prev))
        elif kind == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], (prev[i - bpp] if i >= bpp else 0)
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        out[y] = np.frombuffer(bytes(line), dtype=np.uint8)
        prev = line
    return out.reshape(height, width, bpp)


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.urls += [v for k, v in attrs if k in ("src", "href", "srcset", "data") and v]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    folder = build_results(tmp_path_factory.mktemp("report") / "sweep", jobs=True, timeseries=True, failed=1)
    html_path, _ = write_report(open_results(folder))
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    browser = DevTools(profile)
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.send(f"{domain}.enable", session=session)
        browser.send("Emulation.setDeviceMetricsOverride",
                     {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False}, session)
        url = html_path.as_uri()
        browser.send("Page.navigate", {"url": url}, session)
        browser.wait_event("Page.loadEventFired", timeout=120)
        deadline = time.monotonic() + 60
        expected = browser.evaluate(session, "document.querySelectorAll('.plotly-graph-div').length")
        while browser.evaluate(session, "document.querySelectorAll('.plotly-graph-div .main-svg').length") < expected:
            assert time.monotonic() < deadline, "plots did not render"
            time.sleep(0.2)
        info = browser.evaluate(session, """(() => {
            const rows = [...document.querySelectorAll('#front-table tbody tr')].map(
                tr => [...tr.querySelectorAll('td')].map(td => td.textContent.trim()));
            const first = document.querySelector('#tradeoffs .js-plotly-plot').getBoundingClientRect();
            const links = [...document.querySelectorAll('[src],[href]')].map(e => e.getAttribute('src') || e.getAttribute('href'));
            return {rows, links, plots: document.querySelectorAll('.js-plotly-plot').length,
                    clip: {x: first.left + scrollX, y: first.top + scrollY, width: first.width, height: first.height, scale: 1},
                    drill: document.querySelectorAll('#drilldown .js-plotly-plot').length};
        })()""")
        shot = browser.send("Page.captureScreenshot", {"format": "png", "clip": info["clip"], "captureBeyondViewport": True}, session)
        full = browser.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session)
        Path(folder / "report-screenshot.png").write_bytes(base64.b64decode(full["data"]))
        browser.send("Runtime.evaluate", {"expression": "1"}, session)  # flush pending events
        yield {"folder": folder, "url": url, "html": html_path.read_text(), "info": info,
               "plot_png": base64.b64decode(shot["data"]), "events": list(browser.events)}
    finally:
        browser.close()
        shutil.rmtree(profile, ignore_errors=True)


def test_no_console_errors_or_exceptions(rendered):
    errors = [
        e for e in rendered["events"]
        if e.get("method") == "Runtime.exceptionThrown"
        or (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "assert"))
        or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")
    ]
    assert errors == []


def test_no_network_requests_but_the_report_itself(rendered):
    requested = [e["params"]["request"]["url"] for e in rendered["events"] if e.get("method") == "Network.requestWillBeSent"]
    assert rendered["url"] in requested  # the Network domain saw the page load
    outside = [u for u in requested if u != rendered["url"] and not u.startswith(("data:", "blob:", "about:"))]
    assert outside == []


def test_no_external_links_in_the_page(rendered):
    parser = _Links()
    parser.feed(rendered["html"])
    external = [u for u in parser.urls + rendered["info"]["links"] if u.lower().startswith(("http:", "https:", "//"))]
    assert external == []
    import plotly.offline

    assert rendered["html"].count(plotly.offline.get_plotlyjs()[:300]) == 1  # plotly.js inlined once
    assert rendered["html"].count("Plotly.newPlot") == rendered["info"]["plots"]


def test_plots_render_non_blank(rendered):
    pixels = decode_png(rendered["plot_png"])[:, :, :3].astype(int)
    assert pixels.shape[0] > 200 and pixels.shape[1] > 300
    assert pixels.std() > 10  # not a flat image
    non_white = (pixels.sum(axis=2) < 720).mean()
    assert non_white > 0.01
    front = (np.abs(pixels - np.array(FRONT_RGB)).sum(axis=2) < 30).sum()
    assert front > 50  # front markers are drawn in the front colour


def test_front_table_lists_the_expected_configurations(rendered):
    result = pareto(open_results(rendered["folder"]))
    expected = sorted(
        (str(r["partitions.gpu.MaxTime"]), str(r["qos.normal.MaxTRESPerUser"])) for r in result.front.iter_rows(named=True)
    )
    from analysis.units import humanize

    shown = sorted((row[1], row[2]) for row in rendered["info"]["rows"])
    assert shown == sorted((humanize(a), humanize(b)) for a, b in expected)
    assert len(shown) >= 2


def test_drilldown_is_drawn_for_front_configurations(rendered):
    assert rendered["info"]["drill"] == min(6, len(rendered["info"]["rows"]))
