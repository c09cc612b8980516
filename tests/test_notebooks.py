"""Every notebook in notebooks/ runs top to bottom (stored without outputs), asks one question and
ends with its answer in words, and its plotly figures survive a static HTML export: each figure's
HTML uses the plotly.js embedded once in the notebook, with no script from outside (checked in
headless Chromium where one is installed, as the report is in test_report_browser.py)."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
_EXECUTED: dict[Path, nbformat.NotebookNode] = {}
#: a raw dataclass or object repr as a cell's last word: ``CapacityResult(mode='dualpath', ...)`` or ``<x.Y object at 0x..>``
RAW_REPR = re.compile(r"^\s*([A-Z]\w*\(\w+=|<[\w.]+ object at 0x)")


def executed(path: Path) -> nbformat.NotebookNode:
    """The notebook run once per test session (kernel start and imports dominate the cost)."""
    if path not in _EXECUTED:
        nb = nbformat.read(path, as_version=4)
        NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
        _EXECUTED[path] = nb
    return _EXECUTED[path]


def _outputs(nb) -> list:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


def _figure_htmls(nb) -> list[str]:
    return [o.data["text/html"] for o in _outputs(nb) if "text/html" in o.get("data", {}) and "Plotly.newPlot" in o.data["text/html"]]


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{path.name}: clear outputs before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_asks_a_question(path):
    nb = nbformat.read(path, as_version=4)
    title = nb.cells[0].source.splitlines()[0]
    assert nb.cells[0].cell_type == "markdown" and title.startswith("# ") and "?" in title, title


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes_and_ends_with_an_answer(path):
    nb = executed(path)
    errors = [o for o in _outputs(nb) if o.output_type == "error"]
    assert not errors, [e.get("evalue") for e in errors]
    last = [c for c in nb.cells if c.cell_type == "code"][-1]
    text = "".join(o.get("text", "") if o.output_type == "stream" else o.get("data", {}).get("text/plain", "") for o in last.outputs)
    assert text.strip(), f"{path.name}: the last cell shows nothing"
    assert not RAW_REPR.search(text), f"{path.name} ends with a raw repr: {text[:120]}"
    assert len(text.split()) >= 8, f"{path.name}: the last cell should answer the question in words, not a bare value: {text!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_figures_are_self_contained(path):
    nb = executed(path)
    figs = _figure_htmls(nb)
    assert figs, f"{path.name} shows no plotly figure"
    html = [o.data["text/html"] for o in _outputs(nb) if "text/html" in o.get("data", {})]
    # plotly.js itself, once, before the first figure; no figure loads a script (plotly.js, MathJax) from outside
    lib = [i for i, h in enumerate(html) if "plotly.js v" in h]
    assert len(lib) == 1 and lib[0] < html.index(figs[0]), f"{path.name}: plotly.js embedded {len(lib)} times"
    for h in figs:
        assert not re.search(r"<script[^>]+src\s*=", h), f"{path.name}: a figure loads a script from elsewhere"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_static_html_renders_offline_in_chromium(path, tmp_path):
    from tests.test_report_browser import BROWSER, open_in_browser

    if BROWSER is None:
        pytest.skip("no headless Chromium on this machine (Debian: apt-get install chromium); the static-HTML render check is skipped")
    from nbconvert import HTMLExporter

    nb = executed(path)
    # the 'basic' template: the notebook's own cells and outputs, without nbconvert's page shell (which loads
    # require.js and MathJax from a CDN for Jupyter widgets and LaTeX, neither used here)
    body, _ = HTMLExporter(template_name="basic").from_notebook_node(nb)
    page = tmp_path / f"{path.stem}.html"
    page.write_text(f'<!doctype html><html><head><meta charset="utf-8"><title>{path.stem}</title></head><body>{body}</body></html>')
    rec = open_in_browser(page, tmp_path)
    assert rec["errors"] == [] and rec["external"] == [], rec
    assert len(rec["figures"]) == len(_figure_htmls(nb))
    for f in rec["figures"]:
        assert f["svg"] >= 1 and f["drawn"] >= 1 and f["ticks"] >= 2, (path.name, f)
