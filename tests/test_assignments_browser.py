"""Students can type their answers: every student notebook, in JupyterLab, in a real browser.

JupyterLab runs from the project's environment; Debian's Chromium, driven by Playwright,
opens each student notebook, types a marker into every answer cell, saves, reloads the
page, and finds each marker again, in the page and in the saved file. A locked cell (the one
that makes the student's data) must refuse the same typing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import build_assignments  # noqa: E402
import offline_browser  # noqa: E402

import test_assignments  # noqa: E402
from conftest import jupyterlab  # noqa: E402
from test_assignments import ASSIGNMENTS  # noqa: E402

pytestmark = [pytest.mark.book, pytest.mark.xdist_group("assignments")]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """The session's build of every assignment (shared with tests/test_assignments.py)."""
    return test_assignments.build_once(tmp_path_factory)


@pytest.fixture(scope="module")
def lab(built, tmp_path_factory):
    """JupyterLab serving a folder with every student notebook; yields (url, folder)."""
    folder = tmp_path_factory.mktemp("lab")
    for name in ASSIGNMENTS:
        shutil.copy(build_assignments.student_notebook(name, built), folder / f"{name}.ipynb")
    # Every cell in the page (no windowing), so that cell n of the file is cell n on screen.
    settings = folder / ".jupyter" / "lab" / "user-settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "JUPYTER_CONFIG_DIR": str(folder / ".jupyter")}
    with jupyterlab(folder, env, folder / "lab.log", "--IdentityProvider.token=",
                    "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True",
                    "--LabApp.news_url=None",
                    "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate") as url:
        yield url, folder


@pytest.fixture(scope="module")
def browser():
    if not Path(offline_browser.CHROMIUM).exists():
        subprocess.run(["bash", str(ROOT / "tools" / "install_browser_test_deps.sh")],
                       check=False)
    if not Path(offline_browser.CHROMIUM).exists():
        pytest.fail("Chromium missing: run tools/install_browser_test_deps.sh")
    with offline_browser.chromium() as chromium:
        yield chromium


def answer_cells(path: Path) -> list[int]:
    nb = nbformat.read(path, as_version=4)
    return [i for i, cell in enumerate(nb.cells) if "answer" in cell.metadata.get("bpbook", {})]


def open_notebook(browser, url: str, name: str):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(120_000)  # the machine may be busy
    # A workspace of its own, so that no other notebook is restored next to this one.
    page.goto(f"{url}/lab/workspaces/{name}/tree/{name}.ipynb?reset")
    page.wait_for_selector(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell", timeout=120_000)
    page.wait_for_timeout(1500)  # the kernel starts; dialogs would appear now
    return page


def type_into(page, index: int, text: str, markdown: bool) -> None:
    cell = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell").nth(index)
    cell.scroll_into_view_if_needed()
    if markdown:
        cell.dblclick()
    editor = cell.locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.type(text)
    page.keyboard.press("Escape")


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_every_answer_cell_takes_typing_that_survives_save_and_reload(lab, browser, name):
    url, folder = lab
    path = folder / f"{name}.ipynb"
    answers = answer_cells(path)
    assert answers, "the notebook marks no answer cell"
    page = open_notebook(browser, url, name)
    try:
        cells = nbformat.read(path, as_version=4).cells
        locked_index = next(i for i, c in enumerate(cells) if "def student_data(" in c.source)
        for index in answers:
            markdown = cells[index].cell_type == "markdown"
            marker = f"typed by the browser test in cell {index}"
            type_into(page, index, ("\n" if markdown else "\n# ") + marker, markdown)
        # The cell that makes the student's data is locked: its editor refuses the text.
        locked = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell").nth(locked_index)
        locked.scroll_into_view_if_needed()
        locked.locator(".cm-content").click()
        page.keyboard.press("Control+End")
        page.keyboard.type("SHOULD NOT BE SAVED")
        page.keyboard.press("Escape")
        page.keyboard.press("Control+s")
        page.wait_for_timeout(2500)
        page.reload()
        page.wait_for_selector(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell", timeout=120_000)
        page.wait_for_timeout(1500)
        shown = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook").inner_text()
    finally:
        page.close()
    saved = json.loads(path.read_text())
    for index in answers:
        marker = f"typed by the browser test in cell {index}"
        assert marker in "".join(saved["cells"][index]["source"]), (name, index)
        assert marker in shown, (name, index)
    assert "SHOULD NOT BE SAVED" not in path.read_text()
