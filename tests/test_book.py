"""The book as a whole: it builds with warnings as errors, every chapter executes, two
executions print the same numbers, and every chapter opens as a notebook.

The build is the slow part (it executes every chapter), so it runs once per session, in
a temporary folder, and all tests that need it share one xdist group.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

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
    assert re.search(r"^\(ch-[a-z0-9-]+\)=$", text, re.M), "a label like (ch-name)= before the title"
    assert "Learning objectives" in text
    assert re.search(r"^\s*(import sympy|from sympy)", text, re.M), "SymPy derivations"
    assert "explorer(" in text or "ipywidgets" in text, "an interactive experiment"
    exercises = len(re.findall(r"^:::+\{exercise\}", text, re.M))
    solutions = len(re.findall(r"^:::+\{solution\}", text, re.M))
    assert exercises >= 3 and solutions == exercises, (exercises, solutions)


def test_lab_opens_markdown_as_notebooks():
    """`make lab` relies on these settings, written into the environment at install time."""
    settings = Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    assert "Jupytext Notebook" in settings.read_text()


def test_book_builds_without_warnings(built_book):
    html = built_book / "html"
    for page in toc_files():
        assert (html / f"{page}.html").is_file(), f"{page}.html missing"


def _comparable_outputs(notebook) -> list[tuple[int, list[str]]]:
    """Outputs of every deterministic code cell, reduced to what a reader sees.

    Widget views are identified by random model ids, so they are compared by their
    text representation only; images by a hash of their bytes.
    """
    cells = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code" or "nondeterministic" in cell.metadata.get("tags", []):
            continue
        seen = []
        for output in cell.get("outputs", []):
            if output["output_type"] == "stream":
                seen.append(output["text"])
            elif output["output_type"] in ("display_data", "execute_result"):
                for mime in ("text/plain", "text/latex", "text/html", "text/markdown", "image/png"):
                    if mime in output["data"]:
                        value = output["data"][mime]
                        value = value if isinstance(value, str) else "".join(value)
                        if mime == "image/png":
                            value = hashlib.sha256(value.encode()).hexdigest()
                        seen.append(f"{mime}: {value}")
            elif output["output_type"] == "error":
                seen.append(f"error: {output['ename']}: {output['evalue']}")
        cells.append((index, seen))
    return cells


def _execute(chapter: Path):
    notebook = jupytext.read(chapter)
    NotebookClient(
        notebook, timeout=600, kernel_name="python3",
        resources={"metadata": {"path": str(chapter.parent)}},
    ).execute(env={**os.environ, "BPBOOK_STATIC_WIDGETS": "1"})  # as in the book build
    return notebook


def test_two_executions_print_the_same_numbers(built_book):
    """Re-execute every chapter and compare with what the build published."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        fresh = dict(zip(CHAPTERS, pool.map(_execute, CHAPTERS)))
    for chapter, notebook in fresh.items():
        published = nbformat.read(
            built_book / "jupyter_execute" / "chapters" / f"{chapter.stem}.ipynb", as_version=4
        )
        expected = _comparable_outputs(published)
        actual = _comparable_outputs(notebook)
        for (i, want), (_, got) in zip(expected, actual, strict=True):
            assert got == want, f"{chapter.name}, code cell {i}: output differs between runs"
