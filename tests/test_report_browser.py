"""The HTML report in a real browser: headless Chromium (Debian's `chromium` package) opens
``dpmodel plan --report r.html --search`` with every network name unresolvable, and the test reads
back what the page did: every figure drew its SVG (axes and traces), no script error or
``console.error``, no resource fetched from outside the file. A full-page screenshot is written to
``build/test-artifacts/report.png`` (override with DPMODEL_ARTIFACTS_DIR).

Skipped, with the reason, where no Chromium is installed (``apt-get install chromium``; CI installs
none, so there this test is a skip); DPMODEL_BROWSER names another Chromium-family binary.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
FIGURES = ("throughput", "resources", "split", "bottleneck_map", "ttft_vs_aps", "pareto_front")

#: put first in <head>: records script errors, failed loads, console.error and every resource the page
#: fetched; after load it writes them, with what each plotly div drew, into <pre id=dpmodel-browser-check>
PROBE = """<script>window.__errs=[];
window.addEventListener('error',function(e){__errs.push('error: '+(e.message||(e.target&&(e.target.src||e.target.href))))},true);
window.addEventListener('unhandledrejection',function(e){__errs.push('unhandled rejection: '+e.reason)});
(function(){var ce=console.error;console.error=function(){__errs.push('console.error: '+Array.prototype.join.call(arguments,' '));
return ce.apply(console,arguments)}})();
window.addEventListener('load',function(){setTimeout(function(){
var ext=performance.getEntriesByType('resource').map(function(r){return r.name}).filter(function(n){return !/^(file|data|blob):/.test(n)});
var figs=Array.prototype.map.call(document.querySelectorAll('.plotly-graph-div'),function(d){return {id:d.id,
svg:d.querySelectorAll('svg.main-svg').length,drawn:d.querySelectorAll('g.trace, g.hm').length,
ticks:d.querySelectorAll('.xtick, .ytick').length,data:(d.data||[]).length}});
var pre=document.createElement('pre');pre.id='dpmodel-browser-check';
pre.textContent=JSON.stringify({errors:__errs,external:ext,figures:figs});document.body.appendChild(pre)},500)});</script>"""


def browser() -> str | None:
    env = os.environ.get("DPMODEL_BROWSER")
    if env:
        return shutil.which(env) or (env if Path(env).is_file() else None)
    return next((p for p in map(shutil.which, CANDIDATES) if p), None)


BROWSER = browser()
needs_browser = pytest.mark.skipif(
    BROWSER is None,
    reason="no headless Chromium on this machine (Debian: apt-get install chromium; "
    "or set DPMODEL_BROWSER); the report's browser check is skipped",
)


def open_in_browser(html_path: Path, workdir: Path, screenshot: Path | None = None) -> dict:
    """Load ``html_path`` (a copy with :data:`PROBE` inserted) offline in headless Chromium; return
    the probe's record."""
    text = html_path.read_text()
    probed = workdir / "probed.html"
    probed.write_text(text.replace("<head>", "<head>" + PROBE, 1))
    cmd = [
        BROWSER,
        "--headless",
        "--disable-gpu",
        "--no-sandbox",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        f"--user-data-dir={workdir / 'profile'}",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # offline: no host name resolves
        "--hide-scrollbars",
        "--window-size=1280,6400",
        "--virtual-time-budget=15000",
        "--dump-dom",
    ]
    if screenshot is not None:
        cmd.append(f"--screenshot={screenshot}")
    p = subprocess.run([*cmd, probed.as_uri()], capture_output=True, text=True, timeout=240, cwd=workdir)
    m = re.search(r'<pre id="dpmodel-browser-check">(.*?)</pre>', p.stdout, flags=re.S)
    assert m, f"the page's probe never ran (chromium exit {p.returncode}): {p.stderr[-2000:]}"
    import html

    return json.loads(html.unescape(m.group(1)))


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


def artifacts_dir() -> Path:
    d = Path(os.environ.get("DPMODEL_ARTIFACTS_DIR", ROOT / "build" / "test-artifacts"))
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture(scope="module")
def report_file(tmp_path_factory) -> Path:
    from dpmodel.cli import main

    out = tmp_path_factory.mktemp("report") / "report.html"
    assert main(["plan", "--report", str(out), "--search", "--quiet"]) == 0
    return out


def test_report_is_self_contained_and_leads_with_the_recommendation(report_file):
    text = report_file.read_text()
    # no tag loads anything from outside the file (plotly.js is embedded once, in <head>)
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)\s*=\s*[\"']?(https?:)?//", text, flags=re.I)
    assert text.count("Plotly.newPlot") == len(FIGURES)
    assert text.count("plotly.js v") == 1  # the library once, not once per figure
    body = text[text.index("<body>") :]
    assert body.index("Recommendation") < body.index("plotly-graph-div")
    for name in FIGURES:
        assert f'id="fig-{name}"' in text


@needs_browser
def test_report_renders_offline_in_chromium(report_file, tmp_path, record_property):
    shot = artifacts_dir() / "report.png"
    if shot.exists():
        shot.unlink()
    rec = open_in_browser(report_file, tmp_path, screenshot=shot)
    assert rec["errors"] == [], rec["errors"]
    assert rec["external"] == [], f"the page fetched from outside the file: {rec['external']}"
    figs = {f["id"]: f for f in rec["figures"]}
    assert sorted(figs) == sorted(f"fig-{n}" for n in FIGURES)
    for fid, f in figs.items():
        # drawn: plotly's SVG layers, axis ticks and at least one trace group per figure
        assert f["svg"] >= 1 and f["ticks"] >= 2 and f["drawn"] >= 1 and f["data"] >= 1, (fid, f)
    w, h = png_size(shot)
    assert (w, h) == (1280, 6400)
    assert shot.stat().st_size > 100_000  # a page of figures, not a blank sheet
    record_property("screenshot", str(shot))
    print(f"\nscreenshot: {shot}")


@needs_browser
def test_the_probe_catches_errors_and_outside_fetches(tmp_path):
    # the check above can fail: a script error, a console.error and a CDN script are all seen
    page = tmp_path / "bad.html"
    page.write_text(
        '<!doctype html><html><head><script src="https://cdn.example.invalid/plotly.min.js"></script></head><body>'
        '<div class="plotly-graph-div" id="fig-x"></div><script>console.error("boom"); undefinedFunction();</script>'
        "</body></html>"
    )
    rec = open_in_browser(page, tmp_path)
    joined = " | ".join(rec["errors"])
    assert "console.error: boom" in joined and "undefinedFunction" in joined
    assert "cdn.example.invalid" in joined or any("cdn.example.invalid" in u for u in rec["external"])
    assert rec["figures"] == [{"id": "fig-x", "svg": 0, "drawn": 0, "ticks": 0, "data": 0}]
