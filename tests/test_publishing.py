"""Publishing the book: its notebooks, launch buttons, the CI workflow and the PDF.

The slow tests share the session's build of the book (``built_book``, no repository set)
and one copy of it published as the GitHub workflow does (``published_book``: the PDF,
then the website, with a test repository). The notebooks of every chapter are executed
once, in a fresh virtual environment with only bpbook installed, and compared with the
website's outputs: that run is also the book's determinism test.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import zipfile
from html.parser import HTMLParser
from importlib import metadata
from pathlib import Path
from urllib.parse import urljoin, urlparse

import nbformat
import pytest
import yaml
from packaging.requirements import Requirement

from conftest import ROOT, TEST_REPOSITORY, toc_files

sys.path.insert(0, str(ROOT / "tools"))
import book_cache  # noqa: E402
import bpbook_notebooks  # noqa: E402
import bpbook_publish  # noqa: E402
import notebooks as workspace_tool  # noqa: E402

CHAPTERS = [page for page in toc_files() if page.startswith("chapters/")]
WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"
EXTENSIONS = book_cache.book_config()["parse"]["myst_enable_extensions"]


def on_the_book(test):
    """Mark a test that reads the session's build: it runs in the xdist group "book"."""
    return pytest.mark.xdist_group("book")(pytest.mark.book(test))


def chapter_source(page: str) -> nbformat.NotebookNode:
    """The chapter as MyST-NB reads it (the cell indexes the notebooks record)."""
    return book_cache.read_chapter(ROOT / f"{page}.md", EXTENSIONS)


# --------------------------------------------------------------------------------------
# Reading the built site
# --------------------------------------------------------------------------------------


class _Links(HTMLParser):
    """Every ``<a href>`` of a page, with its text."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self._current: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "a" and dict(attrs).get("href"):
            self._current = [dict(attrs)["href"], ""]

    def handle_data(self, data):
        if self._current is not None:
            self._current[1] += data

    def handle_endtag(self, tag):
        if tag == "a" and self._current is not None:
            self.links.append((self._current[0], " ".join(self._current[1].split())))
            self._current = None


def page_links(html_dir: Path, page: str) -> list[tuple[str, str]]:
    parser = _Links()
    parser.feed((html_dir / f"{page}.html").read_text())
    return parser.links


def linked_file(html_dir: Path, page: str, href: str) -> Path:
    """The file a relative link of ``page`` points at."""
    url = urljoin(f"http://site/{page}.html", href)
    return html_dir / urlparse(url).path.lstrip("/")


def chapter_notebook(built_book: Path, page: str) -> nbformat.NotebookNode:
    return nbformat.read(built_book / "html" / "notebooks" / f"{page}.ipynb", as_version=4)


# --------------------------------------------------------------------------------------
# Notebooks
# --------------------------------------------------------------------------------------


@on_the_book
@pytest.mark.parametrize("page", CHAPTERS)
def test_every_chapter_offers_its_notebook(built_book, page):
    """The download menu links the page's notebook: a valid notebook with outputs."""
    html = built_book / "html"
    notebooks = [href for href, text in page_links(html, page) if href.endswith(".ipynb")]
    assert notebooks, f"{page}: no .ipynb in the download menu"
    path = linked_file(html, page, notebooks[0])
    assert path.is_file(), f"{page}: the menu links {notebooks[0]}, which does not exist"
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert sum(bool(c.outputs) for c in code) >= len(code) // 2, "most code cells have outputs"
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    archive = [href for href, _ in page_links(html, page) if href.endswith(".zip")]
    with zipfile.ZipFile(linked_file(html, page, archive[0])) as bundle:
        assert f"how-neural-networks-learn/{page}.ipynb" in bundle.namelist()


MYST_LEFTOVERS = re.compile(
    r"\{(cite|cite:p|cite:t|ref|numref|eq|prf:ref|glue|glue:text|doc)\}`|^\s*(:::|```)\{|"
    r"\(\w[\w-]*\)=\s*$", re.M,
)


@on_the_book
@pytest.mark.parametrize("page", CHAPTERS)
def test_notebooks_read_like_the_website(built_book, page):
    """No MyST left; code the site includes is in the notebook; solutions folded and not
    code; citations as on the site, with the references; numbered captions."""
    notebook = chapter_notebook(built_book, page)
    source = (ROOT / f"{page}.md").read_text()
    markdown = "\n\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    leftovers = MYST_LEFTOVERS.findall(markdown)
    assert not leftovers, f"{page}: MyST syntax left in the notebook: {leftovers[:5]}"
    listings = "\n".join(m.group(2) for m in re.finditer(r"^(`{3,})[\w-]*\n(.*?)\n\1$",
                                                           markdown, re.M | re.S))
    for options in re.findall(r"^```\{literalinclude\}[^\n]*\n((?::[^\n]*\n)*)", source, re.M):
        start = re.search(r"^:start-at:\s*(.+)$", options, re.M)
        name = re.search(r"^:pyobject:\s*(\S+)", options, re.M)
        if start:
            expected = re.escape(start.group(1).strip().strip('"').strip())
        elif name:
            expected = rf"(async def|def|class) {name.group(1).rsplit('.', 1)[-1]}\b"
        else:
            continue
        assert re.search(expected, listings), (
            f"{page}: the code included with {options!r} is missing from the notebook")
    keys = set(re.findall(r"\{cite:[pt]\}`([^`]+)`", source))
    keys = {k.strip() for group in keys for k in group.split(",")}
    for key in keys:
        assert f'id="ref-{key}"' in markdown, f"{page}: {key} is not in the references"
        assert not re.search(rf"(?<![\w-]){re.escape(key)}(?![\w-])",
                             markdown.replace(f'id="ref-{key}"', "").replace(f"#ref-{key}", "")
                             ), f"{page}: the citation key {key} shows as text"
    figures = re.findall(r"^\s*name:\s*(fig-[\w-]+)", source, re.M)
    for name in figures:
        assert re.search(rf'<a id="{name}"></a>\*\*Fig\. \d+\.\d+\*\*', markdown), (
            f"{page}: figure {name} has no numbered caption in the notebook")
    # Exercises and solutions: a folded heading per solution, its code never a code cell.
    solutions = len(re.findall(r"^:::+\{solution(-start)?\}", source, re.M))
    folded = [c for c in notebook.cells
              if c.cell_type == "markdown" and c.metadata.get("jp-MarkdownHeadingCollapsed")]
    assert len(folded) == solutions, f"{page}: {solutions} solutions, {len(folded)} folded"
    solution_cells = bpbook_notebooks.gated_solution_cells(chapter_source(page))
    ran = {c.metadata.get("bpbook", {}).get("cell") for c in notebook.cells
           if c.cell_type == "code"}
    assert not ran & solution_cells, f"{page}: solution code left as code cells"
    first = next(c for c in notebook.cells if c.cell_type == "code")
    assert "import bpbook" in first.source and "def glue" in first.source
    assert "takes about" in notebook.cells[0].source, "the first note gives the run time"
    assert "myst_nb" not in "".join(c.source for c in notebook.cells[2:] if c.cell_type == "code")


def test_the_workspace_keeps_the_students_copies(tmp_path):
    """``make lab`` copies new notebooks, never overwrites a copy, and names old ones."""
    source, workspace = tmp_path / "built", tmp_path / "workspace"
    (source / "chapters").mkdir(parents=True)
    page = source / "chapters" / "01.ipynb"

    def write(version: str) -> None:
        notebook = nbformat.v4.new_notebook(metadata={"bpbook": {"version": version}})
        nbformat.write(notebook, page)

    write("a")
    copied, outdated = workspace_tool.sync(source, workspace, tmp_path / "jupyter")
    assert copied == [workspace / "chapters" / "01.ipynb"] and outdated == []
    assert (workspace / ".gitignore").read_text().splitlines()[-1] == "*"
    mine = workspace / "chapters" / "01.ipynb"
    edited = mine.read_text().replace('"cells": []', '"cells": [], "x": 1')
    mine.write_text(edited)
    write("b")
    copied, outdated = workspace_tool.sync(source, workspace, tmp_path / "jupyter")
    assert copied == [] and outdated == [mine]
    assert mine.read_text() == edited, "a student's copy is never overwritten"


# --------------------------------------------------------------------------------------
# A fresh environment with only bpbook, and the chapters run in it
# --------------------------------------------------------------------------------------


def _distributions(requirements: list[str], extras: tuple[str, ...] = ()) -> set[str]:
    """Names of the installed distributions ``requirements`` need, transitively."""
    from packaging.markers import default_environment

    found: set[str] = set()
    pending = [(Requirement(r), set(extras)) for r in requirements]
    while pending:
        requirement, wanted = pending.pop()
        name = requirement.name.lower().replace("_", "-")
        if name in found:
            continue
        found.add(name)
        dist = metadata.distribution(requirement.name)
        for line in dist.requires or []:
            child = Requirement(line)
            extras_now = set(requirement.extras) | wanted
            if child.marker is not None and not any(
                child.marker.evaluate({**default_environment(), "extra": extra})
                for extra in (extras_now or {""})
            ):
                continue
            pending.append((child, set()))
        wanted.clear()
    return found


def _top_level_entries(name: str) -> set[str]:
    dist = metadata.distribution(name)
    entries = set()
    for file in dist.files or []:
        top = file.parts[0]
        if top not in ("..", "__pycache__") and not top.endswith(".pth"):
            entries.add(top)
    return entries


@pytest.fixture(scope="session")
def fresh_python(tmp_path_factory) -> Path:
    """A new virtual environment holding bpbook (built from the working tree), what
    ``bpbook[book]`` requires, and a Jupyter kernel: nothing of the book's tool chain.

    The tests run offline, so the dependencies are linked from this environment rather
    than downloaded; each is the same installed distribution pip would have chosen.
    """
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python3*/site-packages"))
    wanted = _distributions(["bpbook[book]", "ipykernel"], ())
    wanted.discard("bpbook")
    for name in sorted(wanted):
        for entry in _top_level_entries(name):
            source = Path(metadata.distribution(name).locate_file(entry))
            if source.exists() and not (site / entry).exists():
                (site / entry).symlink_to(source)
    wheels = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "--wheel-dir", str(wheels), str(ROOT)], check=True)
    wheel = next(wheels.glob("bpbook-*.whl"))
    with zipfile.ZipFile(wheel) as archive:  # installing a wheel is unpacking it
        archive.extractall(site)
    python = venv / "bin" / "python"
    probe = ("import importlib.util as u, bpbook, sys; "
             "print(bpbook.__file__); "
             "print(*[m for m in ('myst_nb', 'jupytext', 'sphinx', 'jupyter_book') "
             "if u.find_spec(m)])")
    lines = subprocess.run([str(python), "-c", probe], capture_output=True, text=True,
                           check=True).stdout.splitlines()
    assert lines[0].startswith(str(site)), "bpbook comes from the fresh environment"
    assert lines[1:] == [""] or len(lines) == 1, f"the book's tool chain leaked in: {lines[1:]}"
    return python


def _kernel_for(python: Path, folder: Path) -> dict:
    """A kernelspec folder for ``python``; return the environment that finds it."""
    spec = folder / "kernels" / "bpbook-fresh"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "bpbook only", "language": "python",
    }))
    return {**os.environ, "JUPYTER_PATH": str(folder)}


def _with_solutions(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook with each solution's listed code run where the solution stands.

    The chapter ran them there when the website was built; run as a student who tries
    every solution, the notebook must print what the website prints.
    """
    result = nbformat.v4.new_notebook(metadata=notebook.metadata)
    result.nbformat_minor = notebook.nbformat_minor  # 4.4: cells without ids
    for cell in notebook.cells:
        result.cells.append(cell)
        indexes = cell.metadata.get("bpbook", {}).get("solution_cells", [])
        if not indexes:
            continue
        listings = re.findall(r"^(`{3,})python\n(.*?)\n\1$", cell.source, re.M | re.S)
        assert len(listings) == len(indexes), "one listing per solution code cell"
        for index, (_, code) in zip(indexes, listings, strict=True):
            listing = nbformat.v4.new_code_cell(code, metadata={"bpbook": {"cell": index}})
            del listing["id"]
            result.cells.append(listing)
    return result


def comparable_outputs(cell) -> list[str]:
    """A code cell's outputs reduced to what a reader sees: streams joined per stream,
    images by a hash of their bytes, widgets by their text (their model ids are random)."""
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
    return [f"{name}: {text}" for name, text in streams.items()] + seen


def _published_outputs(built_book: Path, page: str) -> dict[int, list[str]]:
    """The outputs the website shows, per code cell of the chapter (from the cache)."""
    from jupyter_cache import get_cache

    chapter = chapter_source(page)
    cache = get_cache(str(built_book / ".jupyter_cache"))
    executed = cache.get_cache_bundle(cache.match_cache_notebook(chapter).pk).nb
    # The cache keeps the code cells; they are the chapter's code cells, in order.
    indexes = [i for i, c in enumerate(chapter.cells) if c.cell_type == "code"]
    cached = [c for c in executed.cells if c.cell_type == "code"]
    return {i: comparable_outputs(c) for i, c in zip(indexes, cached, strict=True)}


@on_the_book
@pytest.mark.parametrize("page", CHAPTERS)
def test_chapter_notebooks_run_in_a_fresh_environment_and_print_the_same(
        built_book, fresh_python, tmp_path, page):
    """The downloaded notebook runs top to bottom with only bpbook installed, and every
    cell prints what the website shows (a second, independent execution: the book is
    deterministic). Widgets run in the website's static mode so that they compare."""
    notebook = _with_solutions(chapter_notebook(built_book, page))
    source = tmp_path / "in.ipynb"
    nbformat.write(notebook, source)
    env = _kernel_for(fresh_python, tmp_path / "jupyter")
    env["BPBOOK_STATIC_WIDGETS"] = "1"
    result = subprocess.run(
        [sys.executable, "-m", "nbconvert", "--to", "notebook", "--execute",
         "--ExecutePreprocessor.kernel_name=bpbook-fresh", "--ExecutePreprocessor.timeout=600",
         "--output", str(tmp_path / "out.ipynb"), str(source)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1800,
    )
    assert result.returncode == 0, f"{page} failed in a fresh environment:\n{result.stderr[-4000:]}"
    executed = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    published = _published_outputs(built_book, page)
    chapter = chapter_source(page)
    checked = 0
    for cell in executed.cells:
        index = cell.metadata.get("bpbook", {}).get("cell")
        if cell.cell_type != "code" or index is None:
            continue
        tags = set(chapter.cells[index].metadata.get("tags", []))
        if tags & {"nondeterministic", "remove-output", "remove-cell"}:
            continue  # timings; and outputs the notebook does not keep
        assert comparable_outputs(cell) == published[index], (
            f"{page}, cell {index}: the notebook prints something else than the website")
        checked += 1
    assert checked, f"{page}: no cell compared"


# --------------------------------------------------------------------------------------
# The text of the notebooks does not depend on the solutions having run
# --------------------------------------------------------------------------------------


def _bound_and_used(source: str) -> tuple[set[str], set[str]]:
    """Top-level names a cell binds, and names it reads before binding them."""
    import ast

    from IPython.core.inputtransformer2 import TransformerManager

    tree = ast.parse(TransformerManager().transform_cell(source))
    bound: set[str] = set()
    used: set[str] = set()
    for statement in tree.body:
        for node in ast.walk(statement):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and (
                    node.id not in bound):
                used.add(node.id)
        for node in ast.walk(statement):
            if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
                bound.add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                bound.add(node.name)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                bound |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return bound, used


@pytest.mark.parametrize("page", CHAPTERS)
def test_run_all_without_the_solutions_computes_what_the_book_shows(page):
    """A notebook's *Run All* skips the solutions; every other cell must then read the
    same variables as in the website's execution, which ran the solutions in place."""
    chapter = chapter_source(page)
    solutions = bpbook_notebooks.gated_solution_cells(chapter)
    last_binding: dict[str, int] = {}
    problems = []
    for index, cell in enumerate(chapter.cells):
        if cell.cell_type != "code":
            continue
        bound, used = _bound_and_used(cell.source)
        if index not in solutions:
            for name in sorted(used):
                if last_binding.get(name) in solutions:
                    problems.append(f"cell {index} reads {name!r}, last set by solution "
                                    f"cell {last_binding[name]}")
        for name in bound:
            last_binding[name] = index
    assert not problems, f"{page}: " + "; ".join(problems)


# --------------------------------------------------------------------------------------
# Launch buttons, the published files, the PDF link
# --------------------------------------------------------------------------------------


LAUNCH_HOSTS = ("mybinder.org", "colab.research.google.com", "hub/user-redirect")


@on_the_book
@pytest.mark.parametrize("page", CHAPTERS)
def test_launch_buttons_follow_the_repository_setting(built_book, published_book, page):
    """With the test repository, every chapter has Binder and Colab links to its
    notebook on the published branch; with no repository, no page has any."""
    owner_repo = urlparse(TEST_REPOSITORY[0]).path.strip("/")
    notebook = f"notebooks/{page}.ipynb"
    links = dict((text, href) for href, text in page_links(published_book / "html", page))
    assert links.get("Binder") == (
        f"https://mybinder.org/v2/gh/{owner_repo}/gh-pages?urlpath=lab/tree/{notebook}")
    assert links.get("Colab") == (
        f"https://colab.research.google.com/github/{owner_repo}/blob/gh-pages/{notebook}")
    assert (published_book / "html" / notebook).is_file()
    # What Binder builds on gh-pages installs bpbook from the repository's branch.
    binder = (published_book / "html" / "binder" / "requirements.txt").read_text()
    install = f"bpbook[book] @ git+{TEST_REPOSITORY[0]}@{TEST_REPOSITORY[1]}"
    assert install in binder.splitlines()
    first = next(c for c in nbformat.read(published_book / "html" / notebook, as_version=4).cells
                 if c.cell_type == "code")
    assert f'%pip install --quiet "{install}"' in first.source
    # No repository: no launch button, no address made up.
    text = (built_book / "html" / f"{page}.html").read_text()
    assert not any(host in text for host in LAUNCH_HOSTS)
    assert not (built_book / "html" / "binder").exists()
    unset = next(c for c in chapter_notebook(built_book, page).cells if c.cell_type == "code")
    assert "%pip" not in unset.source and "git+" not in unset.source


def test_launch_links_are_derived_from_one_setting():
    publication = bpbook_publish.Publication("https://github.com/Org/Book", "dev",
                                             jupyterhub="https://hub.uni.example/")
    links = {name: url for name, url, _ in publication.launch_links("chapters/02_x")}
    assert links["Binder"] == ("https://mybinder.org/v2/gh/Org/Book/gh-pages"
                               "?urlpath=lab/tree/notebooks/chapters/02_x.ipynb")
    assert links["JupyterHub"] == (
        "https://hub.uni.example/hub/user-redirect/git-pull?repo=https%3A%2F%2Fgithub.com%2FOrg"
        "%2FBook&branch=gh-pages&urlpath=lab%2Ftree%2FBook%2Fnotebooks%2Fchapters%2F02_x.ipynb")
    assert publication.site_url == "https://org.github.io/Book/"
    assert publication.install == "bpbook[book] @ git+https://github.com/Org/Book@dev"
    assert bpbook_publish.Publication().launch_links("chapters/02_x") == []
    assert bpbook_publish.Publication().site_url == bpbook_publish.Publication().install == ""


@on_the_book
def test_the_site_offers_the_pdf(published_book):
    html = published_book / "html"
    for page in toc_files():
        pdfs = [href for href, _ in page_links(html, page) if href.endswith(".pdf")]
        assert pdfs and linked_file(html, page, pdfs[0]).is_file(), f"{page}: no book PDF"


@on_the_book
def test_execution_statistics_page(built_book):
    """MyST-NB's table: one row per executed chapter, each with its time and status."""
    text = (built_book / "html" / "execution_statistics.html").read_text()
    text = text[text.index("<table"):]
    for page in CHAPTERS:
        row = re.search(rf'href="chapters/{page.split("/")[1]}.html".*?</tr>', text, re.S)
        assert row, f"{page} is missing from the execution statistics"
        assert "✅" in row.group(0) and "cache" in row.group(0)


# --------------------------------------------------------------------------------------
# The PDF
# --------------------------------------------------------------------------------------


def _pdf_pages(pdf: Path) -> list[str]:
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    return text.split("\f")


@on_the_book
def test_the_pdf_is_the_book(published_book):
    """Every part and page of the book is in the PDF's table of contents, in order, with
    the website's chapter numbers, and starts on the page the contents name."""
    pdf = published_book / "latex" / "book.pdf"
    pages = _pdf_pages(pdf)[:-1]  # the text ends with a form feed
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    assert int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1)) == len(pages)
    first_lines = [(p.strip().splitlines() or [""])[0] for p in pages]
    first_part = next(i for i, line in enumerate(first_lines) if re.match(r"Part I\s*$", line))
    contents = "\n".join(pages[:first_part])
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    entries = []
    for part in toc["parts"]:
        entries.append((part["caption"], None))
        for number, chapter in enumerate(part["chapters"], start=1):
            if chapter["file"] != "bibliography":  # LaTeX sets it at the end of the book
                entries.append((_title(chapter["file"]), number if part.get("numbered") else None))
    entries.append(("Bibliography", None))
    offset = None
    position = 0
    for title, number in entries:
        words = r"\s+".join(re.escape(w) for w in title.split()[:6])
        prefix = rf"{number}\s+" if number else r"(?:[IVX]+\s+)?"
        match = re.compile(rf"^\s*{prefix}{words}.*?(\d+)\s*$", re.M | re.S).search(
            contents, position)
        assert match, f"the PDF's contents lack {title!r} (number {number})"
        position = match.end()
        printed = int(match.group(1))
        if offset is None:  # the first part's page: printed numbers start after the front
            offset = first_part - printed + 1
        page = pages[printed + offset - 1]
        start = " ".join(title.lower().split()[:4])
        assert start in " ".join(page.lower().split()), f"{title!r} is not on page {printed}"
    text = "\n".join(pages)
    assert re.search(r"Fig\. 1\.1\b", text) and re.search(r"Exercise 1\.1\b", text)
    assert "A still of an interactive figure" in text, "widgets appear as captioned stills"


def _title(page: str) -> str:
    path = ROOT / f"{page}.md"
    if path.exists():
        match = re.search(r"^# (.+)$", path.read_text(), re.M)
        return match.group(1).strip()
    notebook = nbformat.read(ROOT / f"{page}.ipynb", as_version=4)
    for cell in notebook.cells:
        match = re.search(r"^# (.+)$", cell.source, re.M)
        if cell.cell_type == "markdown" and match:
            return match.group(1).strip()
    raise AssertionError(f"{page} has no title")


# --------------------------------------------------------------------------------------
# The workflow that publishes the book
# --------------------------------------------------------------------------------------


def test_the_workflow_is_valid_and_publishes_what_the_readme_says():
    """GitHub's workflow schema (vendored in check-jsonschema), shell syntax of every
    step, and the steps themselves: the README's test command, the PDF, the website,
    gh-pages, with the repository setting taken from GitHub."""
    schema = subprocess.run(
        [str(Path(sys.executable).parent / "check-jsonschema"), "--builtin-schema",
         "vendor.github-workflows", str(WORKFLOW)], capture_output=True, text=True)
    assert schema.returncode == 0, schema.stdout + schema.stderr
    workflow = yaml.safe_load(WORKFLOW.read_text())
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    scripts = [step["run"] for step in steps if "run" in step]
    for script in scripts:
        plain = re.sub(r"\$\{\{[^}]*\}\}", "x", script)
        check = subprocess.run(["bash", "-n"], input=plain, capture_output=True, text=True)
        assert check.returncode == 0, f"shell syntax error in:\n{script}\n{check.stderr}"
    commands = "\n".join(scripts)
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and re.search(r"^\s*make test\s*$", commands, re.M)
    assert re.search(r"make pdf\s*\n\s*make book", commands), "the PDF before the site"
    assert "--branch gh-pages" in commands and "_build/html" in commands
    env = next(iter(workflow["jobs"].values()))["env"]
    assert env["BPBOOK_REPOSITORY_URL"] == "${{ github.server_url }}/${{ github.repository }}"
    assert workflow["permissions"]["contents"] == "write"


# --------------------------------------------------------------------------------------
# Pieces, without a build
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("source, checks_only", [
    ("assert x == 1\nglue('k', 2, display=False)", True),
    ("", True),
    ("y = 2\nassert y", False),
    ("glue('k', compute())\nprint(3)", False),
    ("%timeit f()", False),
])
def test_cells_that_only_check_the_build(source, checks_only):
    assert bpbook_notebooks.only_checks_the_build(source) is checks_only


def test_markdown_escapes_running_text():
    assert bpbook_notebooks.escape("a_b *c* [d] <e> $5 | f\\") == (
        "a\\_b \\*c\\* \\[d\\] \\<e\\> \\$5 \\| f\\\\")
    assert bpbook_notebooks.fenced("x = '```'", "python") == "````python\nx = '```'\n````"
    assert bpbook_notebooks.table_math(r"\|x\| + |y|") == r"\Vert x\Vert  + \vert y\vert "


def test_widget_still_is_the_first_frame():
    """The PDF shows an explorer by the frame its slider starts on."""
    import ipywidgets.embed
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bpbook.widgets import explorer

    def frame(value):
        fig, ax = plt.subplots(figsize=(1, 1))
        ax.set_title(str(value))
        return fig

    widget = explorer(frame, [1, 2, 3], description="η", initial=2, mode="static", alt="x")
    state = ipywidgets.embed.embed_data(views=[widget])["manager_state"]
    png, setting = bpbook_publish.widget_still(state, widget.model_id)
    assert setting == "η = 2"
    assert png == _png(widget.frames.children[1].value) != _png(widget.frames.children[0].value)


def _png(html: str) -> bytes:
    import base64

    return base64.b64decode(re.search(r"base64,([^\"]+)", html).group(1))


def test_chapters_depend_on_the_modules_they_import(tmp_path):
    """An edit to a module re-executes the chapters that import it, and only those."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("from pkg.core import f\n")
    (package / "core.py").write_text("def f():\n    return 1\n")
    (package / "extra.py").write_text("import numpy\nfrom pkg import core\n")
    (package / "other.py").write_text("def g():\n    from pkg.extra import numpy\n")
    used = book_cache.package_modules(
        book_cache.imported_modules("from pkg import f\nimport pkg.other"), package)
    assert {p.name for p in used} == {"__init__.py", "core.py", "other.py", "extra.py"}
    used = book_cache.package_modules(book_cache.imported_modules("from pkg import f"), package)
    assert {p.name for p in used} == {"__init__.py", "core.py"}
    assert book_cache.imported_modules("%timeit x\nimport pkg.core as c") == {"pkg.core"}


CHAPTER_TEMPLATE = """---
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---
# {title}

{prose}

```{{code-cell}} ipython3
{code}
```
"""


def test_only_chapters_whose_code_or_dependencies_changed_run_again(tmp_path):
    """The build's cache: a second build runs nothing; an edit to one chapter's code runs
    that chapter only, an edit to its prose nothing; an edit to a module runs the
    chapters that import it, and the cache then holds the new output."""
    from jupyter_cache import get_cache

    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("A = 1\n")
    (package / "b.py").write_text("B = 2\n")
    one, two = tmp_path / "one.md", tmp_path / "two.md"

    def write(path: Path, code: str, prose: str = "Text.") -> None:
        path.write_text(CHAPTER_TEMPLATE.format(title=path.stem, prose=prose, code=code))

    write(one, "from pkg.a import A\nprint(A)")
    write(two, "from pkg.b import B\nprint(B)")
    config = {"parse": {"myst_enable_extensions": ["colon_fence"]},
              "execute": {"execute_notebooks": "cache", "timeout": 120}}
    build = tmp_path / "_build"

    def executed() -> set[str]:
        runs = book_cache.prepare([one, two], build, config, workers=2, log=lambda _: None,
                                  root=tmp_path, package=package)
        return {run.path.name for run in runs}

    assert executed() == {"one.md", "two.md"}
    assert executed() == set()
    write(two, "from pkg.b import B\nprint(B + 1)")
    assert executed() == {"two.md"}
    write(two, "from pkg.b import B\nprint(B + 1)", prose="Other text.")
    assert executed() == set()
    (package / "a.py").write_text("A = 10\n")
    assert executed() == {"one.md"}
    cache = get_cache(str(build / ".jupyter_cache"))
    record = cache.match_cache_notebook(book_cache.read_chapter(one, ["colon_fence"]))
    outputs = [o for c in cache.get_cache_bundle(record.pk).nb.cells for o in c.get("outputs", [])]
    assert outputs[0]["text"] == "10\n"
