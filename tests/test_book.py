"""The book as a whole: it builds with warnings as errors, every chapter executes, two
executions print the same numbers, and every chapter opens as a notebook.

The build is the slow part (it executes every chapter), so it runs once per session, in
a temporary folder, and all tests that need it share one xdist group.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
from jupyter_cache import get_cache

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


def _comparable_outputs(chapter: Path, executed) -> list[tuple[int, list[str]]]:
    """Outputs of the chapter's deterministic code cells, reduced to what a reader sees.

    ``executed`` holds the executed code cells in order (other cells are ignored); the
    cell tags come from the chapter itself. Stream outputs are joined per stream, as the
    book renders them. Widget views are identified by random model ids, so they are
    compared by their text representation only; images by a hash of their bytes.
    """
    source = [c for c in jupytext.read(chapter).cells if c.cell_type == "code"]
    cells = [c for c in executed.cells if c.cell_type == "code"]
    assert len(cells) == len(source), f"{chapter.name}: executed notebook has other cells"
    compared = []
    for index, (cell, origin) in enumerate(zip(cells, source)):
        if "nondeterministic" in origin.metadata.get("tags", []):
            continue
        streams: dict[str, str] = {}
        seen: list[str] = []
        for output in cell.get("outputs", []):
            kind = output["output_type"]
            if kind == "stream":
                streams[output["name"]] = streams.get(output["name"], "") + output["text"]
            elif kind in ("display_data", "execute_result"):
                for mime in ("text/plain", "text/latex", "text/html", "text/markdown", "image/png"):
                    if mime in output["data"]:
                        value = output["data"][mime]
                        value = value if isinstance(value, str) else "".join(value)
                        if mime == "image/png":
                            value = hashlib.sha256(value.encode()).hexdigest()
                        seen.append(f"{mime}: {value}")
            elif kind == "error":
                seen.append(f"error: {output['ename']}: {output['evalue']}")
        compared.append((index, [f"{name}: {text}" for name, text in streams.items()] + seen))
    return compared


def _published(built_book: Path, chapter: Path):
    """The executed notebook the build rendered, as jupyter-cache stored it (unmerged)."""
    cache = get_cache(built_book / ".jupyter_cache")
    record = cache.match_cache_notebook(jupytext.read(chapter))
    return cache.get_cache_bundle(record.pk).nb


def _execute(chapter: Path, output: Path) -> subprocess.Popen:
    """Start executing ``chapter`` as a notebook in a separate process, like the build."""
    return subprocess.Popen(
        [sys.executable, "-m", "jupytext", "--to", "ipynb", "--execute",
         "--output", str(output), str(chapter)],
        cwd=chapter.parent, env={**os.environ, "BPBOOK_STATIC_WIDGETS": "1"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def test_two_executions_print_the_same_numbers(built_book, tmp_path):
    """Re-execute every chapter and compare with what the build published."""
    # The chapters the build published (an unlisted chapter fails the test above).
    pending = [ROOT / f"{page}.md" for page in toc_files() if page.startswith("chapters/")]
    running: list[tuple[Path, subprocess.Popen]] = []
    try:
        while pending or running:
            while pending and len(running) < 2:  # two cores
                chapter = pending.pop(0)
                running.append((chapter, _execute(chapter, tmp_path / f"{chapter.stem}.ipynb")))
            chapter, process = running.pop(0)
            log, _ = process.communicate(timeout=900)
            assert process.returncode == 0, f"{chapter.name} failed to execute:\n{log[-4000:]}"
            fresh = nbformat.read(tmp_path / f"{chapter.stem}.ipynb", as_version=4)
            expected = _comparable_outputs(chapter, _published(built_book, chapter))
            actual = _comparable_outputs(chapter, fresh)
            for (i, want), (_, got) in zip(expected, actual, strict=True):
                assert got == want, f"{chapter.name}, code cell {i}: output differs between runs"
    finally:
        for _, process in running:
            process.kill()
            process.communicate()
