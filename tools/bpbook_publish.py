"""Sphinx extension: the book's notebooks, launch buttons, downloads and PDF figures.

One setting decides where the book lives: the repository URL and branch, in
``_config.yml`` (``repository: url`` and ``branch``) or in the environment variables
``BPBOOK_REPOSITORY_URL`` and ``BPBOOK_REPOSITORY_BRANCH``, which take precedence (the
GitHub workflow sets them). Everything that points somewhere derives from it:

- the first cell of every notebook installs ``bpbook`` from ``git+<url>@<branch>``;
- the published site (the HTML and the notebooks) goes to the ``gh-pages`` branch of the
  same repository, at ``https://<owner>.github.io/<repo>/`` (or ``html: baseurl``);
- the launch buttons of every chapter: Binder (JupyterLab on the ``gh-pages`` branch,
  whose ``binder/requirements.txt`` this build writes from the repository's
  ``binder/requirements.txt``), Colab (the chapter's notebook on ``gh-pages``) and, when
  ``BPBOOK_JUPYTERHUB_URL`` or ``bpbook_jupyterhub_url`` names a hub, an nbgitpuller link.

With no repository set, no button is shown and no notebook names an address: the first
cell then explains how to install ``bpbook`` from a clone.

The download menu of each page offers the page's notebook (written by
:mod:`bpbook_notebooks`), an archive of all chapters, and the book as a PDF when
``make pdf`` has built it. For the PDF, widgets become a still of their first frame.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import bpbook_notebooks
import nbformat
from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]

#: The branch that receives the built site (GitHub Pages serves it).
PAGES_BRANCH = "gh-pages"
#: Jupyter Book's default repository URL: it is not this book's, so it counts as unset.
JUPYTER_BOOK_DEFAULT_URL = "https://github.com/executablebooks/jupyter-book"
#: Names of the published files, inside the HTML folder.
ARCHIVE = "notebooks/how-neural-networks-learn-notebooks.zip"
PDF_NAME = "how-neural-networks-learn.pdf"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


# --------------------------------------------------------------------------------------
# The one setting, and what derives from it
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Publication:
    """Where the book is published; every address the site and notebooks use."""

    repository: str = ""  # https://github.com/<owner>/<repo>, or "" when not set
    branch: str = "main"
    jupyterhub: str = ""
    binderhub: str = "https://mybinder.org"
    baseurl: str = ""

    @property
    def github(self) -> tuple[str, str] | None:
        match = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+?)(?:\.git)?/?", self.repository)
        return (match.group(1), match.group(2)) if match else None

    @property
    def site_url(self) -> str:
        if self.baseurl:
            return self.baseurl.rstrip("/") + "/"
        if self.github is None:
            return ""
        owner, repo = self.github
        if repo.lower() == f"{owner.lower()}.github.io":
            return f"https://{owner.lower()}.github.io/"
        return f"https://{owner.lower()}.github.io/{repo}/"

    @property
    def install(self) -> str:
        """The pip requirement that installs bpbook (with the book's extras)."""
        if not self.repository:
            return ""
        return f"bpbook[book] @ git+{self.repository.rstrip('/')}@{self.branch}"

    def notebook_path(self, docname: str) -> str:
        return f"{bpbook_notebooks.NOTEBOOK_DIR}/{docname}.ipynb"

    def launch_links(self, docname: str) -> list[tuple[str, str, str]]:
        """(name, URL, icon) of each launch button for a page's notebook."""
        if not self.repository:
            return []
        path = self.notebook_path(docname)
        links = []
        if self.github is not None:
            owner, repo = self.github
            binder = f"{self.binderhub.rstrip('/')}/v2/gh/{owner}/{repo}/{PAGES_BRANCH}"
        else:
            where = quote(self.repository, safe="")
            binder = f"{self.binderhub.rstrip('/')}/v2/git/{where}/{PAGES_BRANCH}"
        links.append(("Binder", f"{binder}?urlpath={quote(f'lab/tree/{path}')}",
                       "_static/images/logo_binder.svg"))
        if self.github is not None:
            owner, repo = self.github
            links.append(("Colab", "https://colab.research.google.com/github/"
                          f"{owner}/{repo}/blob/{PAGES_BRANCH}/{path}",
                          "_static/images/logo_colab.png"))
        if self.jupyterhub:
            folder = self.repository.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
            query = urlencode({"repo": self.repository, "branch": PAGES_BRANCH,
                               "urlpath": f"lab/tree/{folder}/{path}"}, quote_via=quote)
            links.append(("JupyterHub",
                          f"{self.jupyterhub.rstrip('/')}/hub/user-redirect/git-pull?{query}",
                          "_static/images/logo_jupyterhub.svg"))
        return links


def publication(app: Sphinx) -> Publication:
    found = getattr(app, "bpbook_publication", None)
    if found is None:
        found = app.bpbook_publication = _read(app)
    return found


def _read(app: Sphinx) -> Publication:
    options = app.config.html_theme_options or {}
    url = os.environ.get("BPBOOK_REPOSITORY_URL", options.get("repository_url", "")) or ""
    if url.rstrip("/") == JUPYTER_BOOK_DEFAULT_URL:
        url = ""
    branch = os.environ.get("BPBOOK_REPOSITORY_BRANCH", "") or options.get(
        "repository_branch", "") or "main"
    hub = os.environ.get("BPBOOK_JUPYTERHUB_URL", app.config.bpbook_jupyterhub_url) or ""
    return Publication(url.strip(), branch.strip(), hub.strip(),
                       app.config.bpbook_binderhub_url, app.config.html_baseurl or "")


def _config_inited(app: Sphinx, config) -> None:
    """Fold the environment variables, and whether there is a PDF to link, into the
    configuration Sphinx compares between builds: a change rewrites every page."""
    app.bpbook_publication = found = _read(app)
    config.bpbook_published_at = json.dumps(
        {**found.__dict__, "pdf": _current_pdf(app) is not None}, sort_keys=True
    )


# --------------------------------------------------------------------------------------
# Notebooks
# --------------------------------------------------------------------------------------


def notebook_docs(app: Sphinx) -> set[str]:
    """Pages that get a notebook: every page written in MyST Markdown."""
    return {d for d in app.env.found_docs if app.env.doc2path(d).endswith(".md")}


def is_executed(app: Sphinx, docname: str) -> bool:
    return "kernelspec" in app.env.metadata.get(docname, {})


def executed_notebook(app: Sphinx, docname: str) -> nbformat.NotebookNode | None:
    """The page as MyST-NB rendered it: its cells with the outputs of the execution.

    MyST-NB writes the page's notebook to ``jupyter_execute/``, but with the outputs only
    when it executed the page itself; a page taken from the cache gets them from there.
    """
    if not is_executed(app, docname):
        return None
    path = Path(app.env.mystnb_config.output_folder, f"{docname}.ipynb")
    if not path.is_file():
        return None
    notebook = nbformat.read(path, as_version=4)
    config = app.env.mystnb_config
    if config.execution_mode == "cache":
        from jupyter_cache import get_cache

        cache = get_cache(config.execution_cache_path or ".jupyter_cache")
        try:
            _, notebook = cache.merge_match_into_notebook(notebook)
        except KeyError:
            pass  # executed by MyST-NB without caching (it failed): outputs are in the file
    return notebook


def chapter_name(app: Sphinx, docname: str) -> str:
    number = app.env.toc_secnumbers.get(docname, {}).get("")
    title = app.env.titles[docname].astext() if docname in app.env.titles else docname
    if number:
        return f"chapter {'.'.join(map(str, number))}, “{title}”"
    return f"the page “{title}”"


def _write_notebook(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    if app.builder.format != "html" or docname not in notebook_docs(app):
        return
    from myst_nb.sphinx_ import NbMetadataCollector

    pub = publication(app)
    executed = executed_notebook(app, docname)
    context = bpbook_notebooks.PageContext(
        app=app, docname=docname, executed=executed, notebook_docs=notebook_docs(app),
        site_url=pub.site_url, citations=bpbook_notebooks.citation_entries(app),
    )
    data = NbMetadataCollector.get_exec_data(app.env, docname) or {}
    notebook, problems = bpbook_notebooks.page_notebook(
        context, doctree, install=pub.install, book_title=app.config.html_title,
        chapter=chapter_name(app, docname), runtime=data.get("runtime"),
    )
    for problem in problems:
        LOGGER.warning(f"notebook of {docname}: {problem}", location=docname)
    nbformat.validate(notebook)
    path = Path(app.outdir, pub.notebook_path(docname))
    bpbook_notebooks.write_json(path, notebook)


def _finish(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    pub = publication(app)
    outdir = Path(app.outdir)
    archive = outdir / ARCHIVE
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for docname in _toc_order(app):
            path = outdir / pub.notebook_path(docname)
            if path.is_file():
                info = zipfile.ZipInfo(f"how-neural-networks-learn/{docname}.ipynb",
                                       date_time=(2026, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                bundle.writestr(info, path.read_bytes())
    _write_binder_environment(app, outdir)
    (outdir / ".nojekyll").touch()  # GitHub Pages: serve _static and _images as they are


def _toc_order(app: Sphinx) -> list[str]:
    order = [app.config.root_doc]
    seen = set(order)
    for docname in order:
        for child in app.env.toctree_includes.get(docname, []):
            if child not in seen:
                seen.add(child)
                order.append(child)
    return [d for d in order if d in notebook_docs(app)]


def _write_binder_environment(app: Sphinx, outdir: Path) -> None:
    """Binder builds the ``gh-pages`` branch: give it the environment the repository
    describes, with bpbook installed from the repository itself."""
    pub = publication(app)
    target = outdir / "binder"
    if not pub.repository:
        shutil.rmtree(target, ignore_errors=True)
        return
    target.mkdir(exist_ok=True)
    source = ROOT / "binder"
    for path in source.glob("*"):
        if path.is_file() and path.name != "requirements.txt":
            shutil.copy2(path, target / path.name)
    requirements = (source / "requirements.txt").read_text()
    (target / "requirements.txt").write_text(
        requirements.rstrip("\n") + f"\n# The book's package, from the book's repository:\n"
        f"{pub.install}\n"
    )


# --------------------------------------------------------------------------------------
# Header buttons: downloads and launch links
# --------------------------------------------------------------------------------------


def _header_buttons(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any],
                    doctree) -> None:
    if doctree is None:
        return
    pub = publication(app)
    pathto = context["pathto"]
    buttons = context.get("header_buttons", [])
    downloads = next((b for b in buttons if b.get("label") == "download-buttons"), None)
    if downloads is None:
        return
    mine = []
    if pagename in notebook_docs(app):
        mine.append({
            "type": "link", "url": pathto(pub.notebook_path(pagename), 1), "text": ".ipynb",
            "icon": "fas fa-code", "tooltip": "Download this page as a notebook",
            "label": "download-notebook-button",
        })
    mine.append({
        "type": "link", "url": pathto(ARCHIVE, 1), "text": "all chapters",
        "icon": "fas fa-file-archive", "tooltip": "Download every chapter as a notebook (.zip)",
        "label": "download-all-notebooks-button",
    })
    if (Path(app.outdir) / PDF_NAME).is_file():
        mine.append({
            "type": "link", "url": pathto(PDF_NAME, 1), "text": "whole book",
            "icon": "fas fa-book", "tooltip": "Download the whole book as a PDF",
            "label": "download-book-pdf-button",
        })
    # An .ipynb source (an assignment's page) keeps the theme's own notebook link.
    theirs = [b for b in downloads["buttons"] if not (
        b.get("label") == "download-notebook-button" and mine[0].get("label") == b.get("label"))]
    for button in theirs:
        if button.get("label") == "download-pdf-button":  # the browser's print dialog
            button["text"] = "print page"
    downloads["buttons"] = mine + theirs
    if pagename not in notebook_docs(app) or not is_executed(app, pagename):
        return
    links = pub.launch_links(pagename)
    if not links:
        return
    buttons.append({
        "type": "group", "tooltip": "Run this chapter as a notebook", "icon": "fas fa-rocket",
        "label": "launch-buttons",
        "buttons": [{"type": "link", "text": name, "url": url, "icon": icon,
                     "tooltip": f"Run this chapter on {name}", "label": f"launch-{name.lower()}"}
                    for name, url, icon in links],
    })


#: Where ``build_book.py --pdf`` records what the PDF was made from.
PDF_SOURCES = "bpbook-sources.json"


def book_sources_digest(root: Path = ROOT) -> str:
    """A digest of everything the book is made from: its pages, bibliography, package."""
    paths = [root / "_toc.yml", root / "_config.yml", root / "references.bib",
             *root.glob("*.md"), *root.glob("chapters/*.md"), *root.glob("assignments/*/*.md"),
             *(root / "src" / "bpbook").rglob("*.py")]
    digest = hashlib.sha256()
    for path in sorted(p for p in paths if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _current_pdf(app: Sphinx) -> Path | None:
    """``make pdf``'s book, if it was made from the sources as they are now."""
    latex = Path(app.outdir).parent / "latex"
    built, record = latex / "book.pdf", latex / PDF_SOURCES
    if not (built.is_file() and record.is_file()):
        return None
    made_from = json.loads(record.read_text()).get("sources")
    return built if made_from == book_sources_digest() else None


def _copy_pdf(app: Sphinx) -> None:
    """Publish the PDF with the site; an old one would contradict the pages."""
    if app.builder.format != "html":
        return
    built, target = _current_pdf(app), Path(app.outdir) / PDF_NAME
    if built is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(built, target)
    elif target.exists():
        target.unlink()


# --------------------------------------------------------------------------------------
# The PDF: a widget becomes the still of its first frame
# --------------------------------------------------------------------------------------


def widget_still(state: dict, model_id: str) -> tuple[bytes, str] | None:
    """PNG bytes of the frame a ``bpbook.widgets.explorer`` shows first, and its setting.

    The explorer is a VBox of a SelectionSlider and a Stack of HTML frames (static mode,
    as the book is built) or one HTML frame; each frame is an ``<img src="data:…">``.
    """
    models = state.get("state", {})

    def model(ref: str) -> dict:
        return models.get(ref.removeprefix("IPY_MODEL_"), {}).get("state", {})

    box = model(model_id)
    frames, slider = None, None
    for child in box.get("children", []):
        child_state = model(child)
        if "_options_labels" in child_state:
            slider = child_state
        elif "children" in child_state or "value" in child_state:
            frames = child_state
    if frames is None:
        return None
    if "children" in frames:
        index = frames.get("selected_index") or 0
        frames = model(frames["children"][index])
    match = re.search(r'src="data:image/png;base64,([^"]+)"', frames.get("value", ""))
    if match is None:
        return None
    setting = ""
    if slider is not None:
        labels = slider["_options_labels"]
        setting = f"{slider.get('description', '')} = {labels[slider.get('index') or 0]}"
    return base64.b64decode(match.group(1)), setting


def _add_widget_stills(app: Sphinx, doctree: nodes.document) -> None:
    """Give every widget output an ``image/png`` alternative: its first frame.

    Runs when a page is read, so the image is collected like any other; the website keeps
    the widget (higher in its mime priority), the LaTeX builder takes the image.
    """
    docname = app.env.docname
    bundles = [n for n in doctree.findall(nodes.container)
               if n.get("nb_element") == "mime_bundle"
               and any(c.get("mime_type") == WIDGET_VIEW for c in n.children)]
    if not bundles:
        return
    executed = executed_notebook(app, docname)
    state = (executed.metadata.get("widgets", {}) if executed else {}).get(WIDGET_STATE, {})
    folder = Path(app.env.mystnb_config.output_folder) / "widget-stills"
    for bundle in bundles:
        view = next(c for c in bundle.children if c.get("mime_type") == WIDGET_VIEW)
        model_id = _model_id(view)
        still = widget_still(state, model_id) if model_id else None
        if still is None:
            continue
        png, setting = still
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{hashlib.sha256(png).hexdigest()[:32]}.png"
        if not path.exists():
            path.write_bytes(png)
        uri = "/" + os.path.relpath(path, app.srcdir)
        container = nodes.container(mime_type="image/png")
        container += nodes.image(uri=uri, bpbook_widget_setting=setting)
        bundle += container


def _model_id(view: nodes.Element) -> str | None:
    match = re.search(r'"model_id":\s*"([0-9a-f]+)"', view.astext())
    return match.group(1) if match else None


class WidgetStillCaptions(SphinxPostTransform):
    """In the PDF, say under a widget's figure that it is interactive on the website."""

    default_priority = 5  # after MyST-NB chose the image (4)
    formats = ("latex",)

    def run(self, **kwargs: Any) -> None:
        pub = publication(self.app)
        for image in list(self.document.findall(nodes.image)):
            if "bpbook_widget_setting" not in image.attributes:
                continue
            setting = image["bpbook_widget_setting"]
            where = f" at {pub.site_url}{self.env.docname}.html" if pub.site_url else ""
            note = (f" (A still of an interactive figure, at {setting}: on the website{where} "
                    "a slider changes it.)")
            figure = image.parent
            while figure is not None and not isinstance(figure, nodes.figure):
                figure = figure.parent
            caption = figure.next_node(nodes.caption) if figure is not None else None
            if caption is not None:
                caption += nodes.Text(note)
            else:
                paragraph = nodes.paragraph(text=note.strip())
                image.parent.insert(image.parent.index(image) + 1, paragraph)


class KeepMarkdownOutputs(SphinxPostTransform):
    """Mark what MyST-NB renders from a cell's Markdown output, for the notebook.

    A cell may print MyST (chapter 4 builds its tables as ``:::{table}``); the website
    renders it, with a numbered caption. The notebook must show the same table, not the
    MyST, so before MyST-NB picks each output's format (priority 4) this wraps the nodes of
    every Markdown output in a container that records which output it is.
    """

    default_priority = 3
    formats = ("html",)

    def run(self, **kwargs: Any) -> None:
        for cell in self.document.findall(bpbook_notebooks.is_code_cell):
            bundles = [n for n in cell.findall(nodes.container)
                       if n.get("nb_element") == "mime_bundle"]
            for index, bundle in enumerate(bundles):
                for choice in bundle.children:
                    if choice.get("mime_type") == "text/markdown" and choice.children:
                        wrapper = nodes.container(bpbook_markdown_output=index)
                        wrapper.extend(choice.children)
                        choice.children = []
                        choice += wrapper


class ChapterNumbersAsOnTheWebsite(SphinxPostTransform):
    """Number the PDF's chapters as the website does.

    LaTeX numbers every chapter; the website numbers only the pages of a ``numbered``
    part of ``_toc.yml``, so the Notation page would become chapter 1 and every figure,
    table and equation of the book would be off by one. Before each page of the assembled
    book this puts either "unnumbered" (no chapter number; figures, tables and equations
    numbered 1, 2, … as on the website) or "chapter N", N being the website's number.
    """

    default_priority = 800  # after sphinx-jupyterbook-latex arranged parts and chapters
    builders = ("latex",)

    def run(self, **kwargs: Any) -> None:
        numbers = self.env.toc_secnumbers
        bibliography_pages = {
            key.docname for key in getattr(self.env.get_domain("cite"), "bibliographies", {})
        }
        for start in list(self.document.findall(addnodes.start_of_file)):
            docname = start.get("docname")
            if docname not in self.env.found_docs:
                continue  # a part heading made from a toc caption
            if docname in bibliography_pages:
                # sphinx-jupyterbook-latex moves the bibliography itself to the end of the
                # book, where LaTeX gives it its own chapter; the page would stay empty.
                start.parent.remove(start)
                continue
            number = numbers.get(docname, {}).get("")
            if number:
                tex = (f"\\setcounter{{secnumdepth}}{{2}}"
                       f"\\setcounter{{chapter}}{{{number[0] - 1}}}\n")
            else:
                tex = ("\\setcounter{secnumdepth}{-1}\\setcounter{chapter}{0}"
                       "\\setcounter{figure}{0}\\setcounter{table}{0}"
                       "\\setcounter{equation}{0}\n")
            start.insert(0, nodes.raw("", tex, format="latex"))
        # sphinx-proof's proofs are boxes without a title, which LaTeX draws as an empty
        # title bar above "Proof. …": the title moves into the bar.
        for proof in self.document.findall(lambda n: type(n).__name__ == "proof_node"):
            box = proof.next_node(nodes.admonition)
            if box is None or (box.children and isinstance(box[0], nodes.title)):
                continue
            first = box.next_node(nodes.Text)
            if first is not None and first.astext().startswith("Proof. "):
                first.parent.replace(first, nodes.Text(first.astext()[len("Proof. "):]))
            box.insert(0, nodes.title(text="Proof"))
        # A table taller than a page (the Notation page has several) must break across
        # pages; Sphinx does that for longtables, which cannot sit inside a box.
        for table in self.document.findall(nodes.table):
            parent, boxed = table.parent, False
            while parent is not None and not boxed:
                boxed = isinstance(parent, (nodes.Admonition, nodes.table, nodes.figure)) or (
                    type(parent).__name__.endswith("_node"))
                parent = parent.parent
            if not boxed and "longtable" not in table["classes"]:
                table["classes"].append("longtable")
                if "colwidths-given" not in table["classes"]:
                    # Without given widths a longtable has unbreakable columns, wider than
                    # the page; give each column room in proportion to its longest entry.
                    if "colwidths-auto" in table["classes"]:
                        table["classes"].remove("colwidths-auto")
                    table["classes"].append("colwidths-given")
                    _widths_from_content(table)


def _widths_from_content(table: nodes.table) -> None:
    """Column widths in proportion to each column's longest entry (from 6 to 50 chars)."""
    group = table.next_node(nodes.tgroup)
    specs = [c for c in group.children if isinstance(c, nodes.colspec)]
    longest = [6] * len(specs)
    for row in group.findall(nodes.row):
        for i, entry in enumerate(row.children[: len(specs)]):
            longest[i] = max(longest[i], min(50, len(entry.astext())))
    for spec, width in zip(specs, longest, strict=True):
        spec["colwidth"] = width


def _latex_numbering(app: Sphinx) -> None:
    """Number exercises and theorems per chapter in the PDF, as on the website.

    With parts at the top, sphinx-jupyterbook-latex sets ``numfig_secnum_depth`` to 2 so
    that LaTeX numbers figures and equations per chapter; but Sphinx then also numbers the
    things it numbers itself (exercises, theorems) per *section*: "Exercise 1.11.6" where
    the website says "Exercise 1.6". The book keeps depth 1 while it numbers, and hands
    LaTeX depth 2 when it translates the book (:func:`_latex_figure_reset`).
    """
    if app.builder.format == "latex":
        app.config.numfig_secnum_depth = 1


def _latex_figure_reset(app: Sphinx, doctree, docname: str) -> None:
    """The assembled book is resolved, and is about to become LaTeX: from here on the
    depth only sets LaTeX's counters (figures, equations per chapter)."""
    if app.builder.format == "latex":
        app.config.numfig_secnum_depth = 2


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("bpbook_jupyterhub_url", "", "html")
    app.add_config_value("bpbook_binderhub_url", "https://mybinder.org", "html")
    app.add_config_value("bpbook_published_at", "", "html")
    app.connect("config-inited", _config_inited)
    app.connect("builder-inited", _copy_pdf)
    app.connect("builder-inited", _latex_numbering, priority=900)
    app.connect("doctree-resolved", _latex_figure_reset)
    # Before Sphinx's image collector (priority 500), so the stills are collected.
    app.connect("doctree-read", _add_widget_stills, priority=400)
    app.connect("doctree-resolved", _write_notebook)
    app.connect("html-page-context", _header_buttons, priority=502)
    app.connect("build-finished", _finish)
    app.add_post_transform(WidgetStillCaptions)
    app.add_post_transform(KeepMarkdownOutputs)
    app.add_post_transform(ChapterNumbersAsOnTheWebsite)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
