"""The book as a student opens it with ``make lab``: a chapter's notebook in JupyterLab.

JupyterLab runs on the workspace that ``tools/notebooks.py`` makes from the session's
build, with fresh Jupyter folders (a first start, no saved state), and Debian's Chromium
drives it through Playwright (``tools/offline_browser.py``). The test opens a chapter,
checks what the saved notebook shows before anything runs (text, folded solutions, the
slider from the saved widget state), runs all cells, and moves the slider.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT, jupyterlab

sys.path.insert(0, str(ROOT / "tools"))
import notebooks as workspace_tool  # noqa: E402
from offline_browser import chromium  # noqa: E402

pytestmark = [pytest.mark.book, pytest.mark.xdist_group("book")]

CHAPTER = "chapters/01_forward_pass"
#: Settings of a fresh JupyterLab for the test: every cell in the page (no windowing,
#: so the whole chapter can be read), no news from the internet.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false", "checkForUpdates": False},
}
#: Rendered Markdown: jupyterlab-myst's (installed with the book) or JupyterLab's own.
MARKDOWN = ".jp-MarkdownCell .myst, .jp-MarkdownCell .jp-RenderedMarkdown"
MYST_LEFTOVERS = re.compile(
    r"\{(cite|ref|numref|eq|prf:ref|glue)[:a-z]*\}|^\s*(:::|```)|```\{|^\([\w-]+\)=\s*$", re.M)


@pytest.fixture(scope="module")
def lab(built_book, tmp_path_factory):
    """JupyterLab serving a student's workspace made from the built book; yields its URL."""
    home = tmp_path_factory.mktemp("lab")
    workspace_tool.sync(built_book / "html" / "notebooks", home / "workspace", home / "data")
    settings = home / "config" / "lab" / "user-settings"
    for name, values in LAB_SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(home / "config"),
           "JUPYTER_DATA_DIR": str(home / "data"), "JUPYTER_RUNTIME_DIR": str(home / "run"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("BPBOOK_STATIC_WIDGETS", None)  # a student's kernel: live sliders
    with jupyterlab(home / "workspace", env, home / "lab.log",
                    "--ServerApp.token=bpbook") as url:
        yield url, home / "workspace"


def _idle(page, timeout_s: float) -> None:
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']",
                           timeout=timeout_s * 1000)


def test_a_chapter_runs_in_jupyterlab_as_on_the_website(lab, built_book):
    url, workspace = lab
    notebook = nbformat.read(workspace / f"{CHAPTER}.ipynb", as_version=4)
    solutions = sum(bool(c.metadata.get("jp-MarkdownHeadingCollapsed"))
                    for c in notebook.cells)
    markdown_cells = sum(c.cell_type == "markdown" for c in notebook.cells)
    keys = re.findall(r"^@\w+\{([^,]+),", (ROOT / "references.bib").read_text(), re.M)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/lab/tree/{CHAPTER}.ipynb?token=bpbook", timeout=120_000)
        # The kernel starts, and every Markdown cell renders (math included).
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
        page.wait_for_selector(".jp-StatusBar-Item:has-text('| Idle')", timeout=180_000)
        rendered = MARKDOWN.replace(".jp-MarkdownCell ", "")
        page.wait_for_function(
            f"""() => {{
                const cells = [...document.querySelectorAll('.jp-MarkdownCell')];
                return cells.length === {markdown_cells} &&
                    cells.every(c => c.querySelector('{rendered}'));
            }}""", timeout=180_000)
        page.wait_for_timeout(2000)

        # Before anything runs: the saved notebook reads like the website.
        text = "\n".join(page.locator(MARKDOWN).all_inner_texts())
        assert "Neurons, layers and the forward pass" in text
        assert not MYST_LEFTOVERS.search(text), MYST_LEFTOVERS.search(text).group(0)
        shown_keys = [k for k in keys if re.search(rf"(?<![\w-]){re.escape(k)}(?![\w-])", text)]
        assert not shown_keys, f"raw citation keys: {shown_keys}"
        assert "Citation Not Found" not in text
        listings = page.locator(f"{MARKDOWN.replace(',', ' pre,')} pre").all_inner_texts()
        assert listings and all(listing.strip() for listing in listings), "an empty listing"
        assert re.search(r"\bdef sigmoid\b", "\n".join(listings)), "the package's code is shown"
        folded = page.locator(".jp-MarkdownCell .jp-collapseHeadingButton.jp-mod-collapsed")
        assert folded.count() == solutions > 0, "every solution is folded"
        assert page.locator(".jp-showHiddenCellsButton").count() == solutions
        slider = page.locator(".jp-OutputArea-output .widget-slider").first
        slider.scroll_into_view_if_needed()
        assert slider.is_visible(), "the saved widget state shows the slider before a run"
        # With no code run yet, the saved frames follow the slider (as on the website).
        shown = ".jp-OutputArea-output .widget-html:not(.lm-mod-hidden) img"
        saved = page.locator(shown).first.get_attribute("src")
        page.locator(".jp-OutputArea-output .noUi-handle").first.focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_function(
            f"old => document.querySelector('{shown}').src !== old", arg=saved, timeout=30_000)

        # Run All: no errors, the slider becomes live and redraws the figure.
        page.click("li.lm-MenuBar-item:has-text('Run')")
        page.click("li.lm-Menu-item:has-text('Run All Cells')")
        page.wait_for_timeout(2000)
        _idle(page, 900)
        errors = page.locator(".jp-OutputArea-output[data-mime-type*='error'], "
                              ".jp-OutputArea-output[data-mime-type*='stderr']")
        assert errors.count() == 0, errors.first.inner_text()[:2000]
        prompts = page.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts()
        assert not any("*" in p for p in prompts), "a cell is still running"
        handle = page.locator(".jp-OutputArea-output .noUi-handle").first
        handle.scroll_into_view_if_needed()
        frame = page.locator(".jp-OutputArea-output .widget-html img").first
        before = frame.get_attribute("src")
        handle.focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_function(
            "old => document.querySelector('.jp-OutputArea-output .widget-html img').src !== old",
            arg=before, timeout=60_000)
        assert frame.get_attribute("alt"), "the live frame keeps its alt text"
        # The solutions' code never ran: it is a listing under a folded heading.
        assert page.locator(".jp-MarkdownCell .jp-collapseHeadingButton.jp-mod-collapsed"
                            ).count() == solutions
