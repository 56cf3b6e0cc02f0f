"""The book as a whole: it builds with warnings as errors, every chapter executes, and
every chapter opens as a notebook.

The build is the slow part (it executes every chapter), so it runs once per session, in
a temporary folder, and all tests that need it share one xdist group. That two executions
print the same numbers is tested in ``test_publishing.py``, where the chapters' notebooks
run a second time, in a fresh environment.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest

from conftest import ROOT, toc_files

CHAPTERS = sorted((ROOT / "chapters").glob("*.md"))

pytestmark = [pytest.mark.book, pytest.mark.xdist_group("book")]


def test_every_chapter_is_in_the_table_of_contents():
    listed = set(toc_files())
    missing = [c.name for c in CHAPTERS if f"chapters/{c.stem}" not in listed]
    assert not missing, f"chapters not in _toc.yml: {missing}"
    assert CHAPTERS, "no chapters found"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_opens_as_a_notebook(chapter):
    """What JupyterLab (through Jupytext) opens: a valid notebook with a Python kernel."""
    notebook = jupytext.read(chapter)
    nbformat.validate(notebook)
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    assert "bpbook" in code, "a chapter imports the book's package"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_has_the_parts_of_a_chapter(chapter):
    """Objectives, SymPy checks, an experiment with widgets, exercises with solutions."""
    text = chapter.read_text()
    assert re.search(r"^\(ch-[a-z0-9-]+\)=$", text, re.M), "a label (ch-name)= before the title"
    assert "Learning objectives" in text
    assert re.search(r"^\s*(import sympy|from sympy)", text, re.M), "SymPy derivations"
    assert "explorer(" in text or "ipywidgets" in text, "an interactive experiment"
    exercises = len(re.findall(r"^:::+\{exercise(-start)?\}", text, re.M))
    solutions = re.findall(r"^:::+\{solution(-start)?\}[^\n]*\n((?::[^\n]*\n)*)", text, re.M)
    assert exercises >= 3, f"only {exercises} exercises"
    assert len(solutions) == exercises, f"{exercises} exercises but {len(solutions)} solutions"
    folded = [options for _, options in solutions if ":class: dropdown" in options]
    assert len(folded) == len(solutions), "every solution is folded (:class: dropdown)"


GLUE_PAGE = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---
# A page

```{code-cell} ipython3
from myst_nb import glue
glue("ratio", 2.5, display=False)
```

The ratio is {glue:text}`KEY:.1f`.
"""


@pytest.mark.parametrize("key, fails", [("ratio", False), ("missing", True)])
def test_a_number_used_but_never_glued_fails_the_build(tmp_path, key, fails):
    """Prose numbers come from glue; a name the page uses but never glues is an error,
    under the flags the book is built with (and the same page with the name glued builds)."""
    sys.path.insert(0, str(ROOT / "tools"))
    from build_book import STRICT_FLAGS

    (tmp_path / "index.md").write_text(GLUE_PAGE.replace("KEY", key))
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: index\n")
    (tmp_path / "_config.yml").write_text(
        "title: t\nexecute:\n  execute_notebooks: force\n  allow_errors: false\n"
    )
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    result = subprocess.run(
        [str(jupyter_book), "build", str(tmp_path), *STRICT_FLAGS],
        capture_output=True, text=True, timeout=600,
    )
    log = result.stdout + result.stderr
    assert (result.returncode != 0) == fails, log[-3000:]
    assert ("No key 'missing' found in glue data" in log) == fails


def test_lab_opens_markdown_as_notebooks():
    """`make lab` relies on these settings, written into the environment at install time."""
    settings = Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    assert "Jupytext Notebook" in settings.read_text()


def test_book_builds_without_warnings(built_book):
    html = built_book / "html"
    for page in toc_files():
        assert (html / f"{page}.html").is_file(), f"{page}.html missing"
