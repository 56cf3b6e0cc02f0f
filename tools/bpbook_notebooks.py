"""Sphinx extension: every page of the book as a notebook that reads like the website.

When the HTML builder writes a page, the page's doctree is fully resolved: glued numbers
are text, ``{ref}``/``{numref}``/``{eq}``/``{prf:ref}`` are links with their numbered
titles, citations are "Author (year)", ``literalinclude`` blocks hold the package's code.
This extension translates that doctree into a notebook (nbformat 4) and writes it to
``<html>/notebooks/<docname>.ipynb``:

- prose becomes Markdown cells (CommonMark, ``$…$`` math, tables, and ``<details>`` for
  folds), with the website's numbering: chapter and section numbers in the headings,
  ``\\tag{1.3}`` on numbered equations, "Figure 1.2." before captions;
- every code cell the website shows becomes a code cell with the outputs the build
  computed (and the widget state, so sliders move before anything runs); ``hide-input``
  cells are collapsed; cells removed from the website that set up state stay, collapsed,
  and those that only check the build (``assert``) or hand numbers to the text (``glue``)
  are left out;
- each exercise gets a heading, and its solution a heading that JupyterLab shows folded
  (``jp-MarkdownHeadingCollapsed``), above a Markdown cell with the solution's text and
  its code as a listing with its outputs, so *Run All* does not run it (jupyterlab-myst,
  which the book installs, drops what an HTML ``<details>`` block holds, so the fold is
  JupyterLab's own);
- a first note says how long the chapter took to run, and a first code cell installs
  ``bpbook`` when it is missing (from the repository the configuration names) and
  stands in for ``myst_nb.glue``, which only the website needs;
- each chapter ends with the references it cites, in the bibliography's words.

Code cells keep their tags, and ``metadata.bpbook.cell`` records the index of the cell in
the chapter, so that the tests can compare the notebook's outputs with the website's.
"""

from __future__ import annotations

import ast
import base64
import copy
import hashlib
import json
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)

#: Folder of the HTML output that receives the notebooks (mirrors the docnames).
NOTEBOOK_DIR = "notebooks"

#: Solutions of sphinx-exercise are folded; their class names in the doctree.
SOLUTION_NODES = ("solution_node",)
EXERCISE_NODES = ("exercise_node", "exercise_enumerable_node")

#: Characters that mean something to Markdown inside running text.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>$|])")


# --------------------------------------------------------------------------------------
# Which code cells a student needs
# --------------------------------------------------------------------------------------


def only_checks_the_build(source: str) -> bool:
    """True if every statement of ``source`` is an ``assert`` or a call of ``glue``.

    Such cells (removed from the website) serve the build: they tie the prose to the
    computed numbers. They bind no names, so leaving them out of a notebook changes
    nothing that later cells see.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    if not tree.body:
        return True
    for statement in tree.body:
        if isinstance(statement, ast.Assert):
            continue
        if (
            isinstance(statement, ast.Expr)
            and isinstance(statement.value, ast.Call)
            and isinstance(statement.value.func, ast.Name)
            and statement.value.func.id == "glue"
        ):
            continue
        return False
    return True


_GLUE_IMPORT = re.compile(r"^from myst_nb import glue[ \t]*\n?", re.M)


def without_glue_import(source: str) -> str:
    """``source`` without ``from myst_nb import glue`` (the setup cell defines ``glue``)."""
    return _GLUE_IMPORT.sub("", source).strip("\n")


def gated_solution_cells(notebook: nbformat.NotebookNode) -> set[int]:
    """Indexes of the code cells between ``solution-start`` and ``solution-end``."""
    inside, found = False, set()
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if re.match(r"^\s*(:::+|```+)\{solution-start\}", line):
                    inside = True
                elif re.match(r"^\s*(:::+|```+)\{solution-end\}", line):
                    inside = False
        elif cell.cell_type == "code" and inside:
            found.add(index)
    return found


def setup_source(install: str | None, title: str) -> str:
    """The first code cell: install bpbook if missing, and a stand-in for ``glue``."""
    if install:
        install_lines = [
            "try:",
            "    import bpbook",
            "except ModuleNotFoundError:  # e.g. on Colab: install the book's package",
            f'    %pip install --quiet "{install}"',
        ]
    else:
        install_lines = [
            "try:",
            "    import bpbook",
            "except ModuleNotFoundError as missing:",
            "    raise ModuleNotFoundError(",
            "        \"this notebook needs the book's package: in a clone of the book's \"",
            '        "repository, run `pip install -e \'.[book]\'`"',
            "    ) from missing",
        ]
    return "\n".join([
        f"# {title} needs the book's package, bpbook, and its dependencies.",
        *install_lines,
        "",
        "try:",
        "    from myst_nb import glue",
        "except ModuleNotFoundError:",
        "    # glue() hands computed numbers to the website's text; in a notebook the text",
        "    # already shows them, so here it only displays the value, as MyST-NB does.",
        "    def glue(name, variable, display=True):",
        "        if display:",
        "            from IPython.display import display as show",
        "            show(variable)",
    ])


# --------------------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------------------


def escape(text: str) -> str:
    """Running text as Markdown that renders as the same characters."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def inline_code(text: str) -> str:
    ticks = max((len(m) for m in re.findall(r"`+", text)), default=0) + 1
    fence = "`" * ticks
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def fenced(text: str, language: str = "") -> str:
    ticks = max(3, max((len(m) for m in re.findall(r"`{3,}", text)), default=0) + 1)
    fence = "`" * ticks
    return f"{fence}{language}\n{text.rstrip()}\n{fence}"


def table_math(tex: str) -> str:
    """Math inside a pipe table: ``|`` would end the table cell."""
    return tex.replace(r"\|", r"\Vert ").replace("|", r"\vert ")


def blockquote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.split("\n"))


def indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line if line else "" for line in text.split("\n"))


@dataclass
class Attachments:
    """Images a Markdown cell shows, stored in the cell (nbformat ``attachments``)."""

    files: dict[str, dict[str, str]] = field(default_factory=dict)

    def add(self, mime: str, data: str) -> str:
        digest = hashlib.sha256(data.encode()).hexdigest()[:16]
        suffix = {"image/png": "png", "image/jpeg": "jpg", "image/svg+xml": "svg"}[mime]
        name = f"{digest}.{suffix}"
        self.files[name] = {mime: data}
        return f"attachment:{name}"


# --------------------------------------------------------------------------------------
# The translator
# --------------------------------------------------------------------------------------


@dataclass
class PageContext:
    """What the translator needs to know about the page and the book."""

    app: Sphinx
    docname: str
    #: the executed notebook (MyST-NB's), or None for a Markdown page
    executed: nbformat.NotebookNode | None
    #: docnames that get a notebook (links between them point at the notebooks)
    notebook_docs: set[str]
    #: the website's root URL ("" when unknown)
    site_url: str
    #: citation id on the bibliography page -> (key, the formatted entry)
    citations: dict[str, tuple[str, nodes.paragraph]]


class NotebookWriter:
    """Translate one resolved doctree into a list of notebook cells."""

    def __init__(self, context: PageContext) -> None:
        self.ctx = context
        self.env = context.app.env
        self.cells: list[nbformat.NotebookNode] = []
        self._markdown: list[str] = []
        self._attachments = Attachments()
        self.cited: dict[str, str] = {}  # key -> Markdown of the entry, in citation order
        executed = context.executed
        self._solution_cells = gated_solution_cells(executed) if executed else set()
        self._emitted: set[int] = set()
        self._anchor_ids = self._labelled_ids()
        self._fignumbers = self.env.toc_fignumbers.get(context.docname, {})
        self._secnumbers = self.env.toc_secnumbers.get(context.docname, {})
        self.execution_count = 0
        #: what could not be translated faithfully (the build reports each as a warning)
        self.problems: list[str] = []

    # ---- numbering ------------------------------------------------------------------

    def _labelled_ids(self) -> set[str]:
        """Ids on this page that a reference can point at (they get an HTML anchor)."""
        std = self.env.get_domain("std")
        ids = {
            target for doc, target, *_ in std.data["labels"].values()
            if doc == self.ctx.docname
        }
        ids |= {
            target for doc, target in std.data["anonlabels"].values()
            if doc == self.ctx.docname
        }
        return ids

    def number(self, node: nodes.Element, figtype: str | None = None) -> str:
        """The website's number of a figure, table, exercise, theorem … ("1.2")."""
        if figtype is None:
            figtype = self.env.get_domain("std").get_enumerable_node_type(node)
        for node_id in node.get("ids", []):
            number = self._fignumbers.get(figtype or "", {}).get(node_id)
            if number:
                return ".".join(map(str, number))
        return ""

    def numfig(self, figtype: str, number: str) -> str:
        """The website's label of a numbered element: "Fig. 1.2", "Table 4.1"."""
        return self.ctx.app.config.numfig_format.get(figtype, "%s") % number

    def anchors(self, node: nodes.Element) -> str:
        """Empty HTML anchors for the ids a link can point at (inline HTML)."""
        if isinstance(node, (nodes.math_block, nodes.figure, nodes.table)) or node.get(
                "label") or type(node).__name__ in EXERCISE_NODES + SOLUTION_NODES:
            ids = node.get("ids", [])  # numbered things: every id is a target
        else:
            ids = [i for i in node.get("ids", []) if i in self._anchor_ids]
        return "".join(f'<a id="{i}"></a>' for i in ids)

    # ---- cells ----------------------------------------------------------------------

    def markdown(self, text: str) -> None:
        if text.strip():
            self._markdown.append(text.strip("\n"))

    def flush_markdown(self) -> None:
        if not self._markdown:
            return
        cell = nbformat.v4.new_markdown_cell("\n\n".join(self._markdown))
        if self._attachments.files:
            cell["attachments"] = self._attachments.files
        self.cells.append(cell)
        self._markdown = []
        self._attachments = Attachments()

    def code(self, index: int, source: str, *, hidden: bool, outputs: list | None = None,
             extra_tags: Iterable[str] = (), rendered: dict[int, nodes.Element] | None = None
             ) -> None:
        self.flush_markdown()
        original = self.ctx.executed.cells[index]
        tags = list(original.metadata.get("tags", [])) + list(extra_tags)
        metadata: dict[str, Any] = {"bpbook": {"cell": index}}
        if tags:
            metadata["tags"] = tags
        jupyter = {}
        if hidden:
            jupyter["source_hidden"] = True
        if "hide-output" in tags:
            jupyter["outputs_hidden"] = True
        if jupyter:
            metadata["jupyter"] = jupyter
        cell = nbformat.v4.new_code_cell(source, metadata=metadata)
        if outputs is None:
            outputs = [] if "remove-output" in tags else copy.deepcopy(original.outputs)
        displays = [o for o in outputs if o.get("output_type") in ("display_data",
                                                                      "execute_result")]
        for number, output in enumerate(displays):
            if number in (rendered or {}) and "text/markdown" in output.get("data", {}):
                # What the website rendered from it (MyST tables with their numbers).
                output["data"]["text/markdown"] = self.blocks(rendered[number])
        self.execution_count += 1
        cell.execution_count = self.execution_count if outputs else None
        for output in outputs:
            if output.get("output_type") == "execute_result":
                output["execution_count"] = self.execution_count
        cell.outputs = outputs
        self.cells.append(cell)
        self._emitted.add(index)

    def removed_cells_before(self, index: int | None) -> None:
        """Emit the cells the website removed that come before cell ``index``.

        They run where they stood, before everything after them; cells that only check
        the build, and those inside a solution, are left out (see the module docstring).
        """
        executed = self.ctx.executed
        if executed is None:
            return
        stop = len(executed.cells) if index is None else index
        for i in range(stop):
            cell = executed.cells[i]
            if cell.cell_type != "code" or i in self._emitted:
                continue
            self._emitted.add(i)
            if i in self._solution_cells or only_checks_the_build(cell.source):
                continue
            source = without_glue_import(cell.source)
            if source:
                self.code(i, source, hidden=True, outputs=[])

    # ---- the walk -------------------------------------------------------------------

    def translate(self, document: nodes.document) -> list[nbformat.NotebookNode]:
        self.walk_blocks(document, level=0)
        self.removed_cells_before(None)
        self.flush_markdown()
        return self.cells

    def walk_blocks(self, parent: nodes.Element, level: int) -> None:
        folded = False  # a solution's folded heading hides what follows, up to a heading
        for child in parent.children:
            name = type(child).__name__
            if folded and not (isinstance(child, nodes.section) or name in EXERCISE_NODES
                               or name in SOLUTION_NODES or not child.astext().strip()):
                # Prose after a solution would be folded away with it: a heading ends the fold.
                title = parent.next_node(nodes.title)
                text = self.inline_children(title) if title is not None else ""
                self.markdown("#" * min(level + 1, 6) + f" {text} (continued)")
                folded = False
            if isinstance(child, nodes.section):
                self.section(child, level + 1)
            elif is_code_cell(child):
                self.code_cell(child)
            elif name in SOLUTION_NODES:
                self.solution(child, level + 2)
                folded = True
            elif name in EXERCISE_NODES:
                self.exercise(child, level + 1)
            else:
                self.markdown(self.block(child))

    def section(self, node: nodes.section, level: int) -> None:
        title = node.next_node(nodes.title)
        number = self._section_number(node)
        text = self.inline_children(title) if title is not None else ""
        heading = "#" * min(level, 6) + " " + self.anchors(node) + (
            f"{number} " if number else "") + text
        self.markdown(heading)
        body = nodes.Element()
        body.children = [c for c in node.children if not isinstance(c, nodes.title)]
        self.walk_blocks(body, level)

    def _section_number(self, node: nodes.section) -> str:
        ids = node.get("ids", [])
        if isinstance(node.parent, nodes.document):
            number = self._secnumbers.get("")
        else:
            number = next((self._secnumbers.get("#" + i) for i in ids
                           if "#" + i in self._secnumbers), None)
        return ".".join(map(str, number)) + "." if number else ""

    def code_cell(self, container: nodes.container) -> None:
        index = int(container["cell_index"])
        self.removed_cells_before(index)
        executed = self.ctx.executed.cells[index]
        tags = executed.metadata.get("tags", [])
        source = without_glue_import(executed.source)
        if not source and not executed.outputs:
            self._emitted.add(index)
            return
        hidden = bool({"hide-input", "remove-input"} & set(tags))
        rendered = {n["bpbook_markdown_output"]: n for n in container.findall(nodes.container)
                    if n.get("bpbook_markdown_output") is not None}
        self.code(index, source, hidden=hidden, rendered=rendered)
        figure = container.next_node(nodes.figure)
        if figure is not None:
            self.markdown(self.caption(figure))

    def caption(self, figure: nodes.figure) -> str:
        caption = figure.next_node(nodes.caption)
        number = self.number(figure, "figure")
        label = f"**{self.numfig('figure', number)}** " if number else ""
        text = self.inline_children(caption) if caption is not None else ""
        return self.anchors(figure) + label + text

    def exercise(self, node: nodes.Element, level: int) -> None:
        """An exercise under its own heading (which ends the fold of the solution before)."""
        heading = "#" * min(level, 6) + " " + self.anchors(node) + self.exercise_title(node)
        content = nodes.Element()
        content.children = [c for c in node.children if not isinstance(c, nodes.title)]
        self.markdown(heading)
        self.markdown(self.blocks(content))

    def solution(self, node: nodes.Element, level: int) -> None:
        """A solution under a folded heading; its code is a listing, not a runnable cell.

        JupyterLab folds every cell below a collapsed heading up to the next heading of
        the same or a higher level (the next exercise's); *Run All* never sees the code.
        """
        first = node.next_node(is_code_cell)
        if first is not None:
            self.removed_cells_before(int(first["cell_index"]))
        self.flush_markdown()
        title = node.next_node(nodes.title)
        text = escape(title.astext().strip()) if title is not None else "Solution"
        self.cells.append(nbformat.v4.new_markdown_cell(
            "#" * min(level, 6) + " " + self.anchors(node) + text,
            metadata={"jp-MarkdownHeadingCollapsed": True},
        ))
        parts = [self.solution_part(c) for c in node.children if not isinstance(c, nodes.title)]
        solution_cells = sorted(int(c["cell_index"]) for c in node.findall(is_code_cell))
        self.markdown("\n\n".join(p for p in parts if p.strip()))
        self.flush_markdown()
        if solution_cells:
            # The cells of the chapter this listing shows (tests run them in place).
            self.cells[-1].metadata["bpbook"] = {"solution_cells": solution_cells}

    def solution_part(self, node: nodes.Node) -> str:
        if is_code_cell(node):
            index = int(node["cell_index"])
            self.removed_cells_before(index)
            self._emitted.add(index)
            executed = self.ctx.executed.cells[index]
            rendered = {n["bpbook_markdown_output"]: n for n in node.findall(nodes.container)
                        if n.get("bpbook_markdown_output") is not None}
            shown = [fenced(without_glue_import(executed.source), "python")]
            displays = 0
            for output in executed.outputs:
                if output.get("output_type") in ("display_data", "execute_result"):
                    if displays in rendered and "text/markdown" in output.get("data", {}):
                        shown.append(self.blocks(rendered[displays]))
                        displays += 1
                        continue
                    displays += 1
                shown.append(self.output_markdown(output))
            figure = node.next_node(nodes.figure)
            if figure is not None:
                shown.append(self.caption(figure))
            return "\n\n".join(s for s in shown if s)
        if isinstance(node, (nodes.section, nodes.container)) and not is_code_cell(node):
            return "\n\n".join(self.solution_part(c) for c in node.children)
        return self.block(node)

    def output_markdown(self, output: dict) -> str:
        """A solution's output, shown under its code listing."""
        kind = output.get("output_type")
        if kind == "stream":
            return fenced(output["text"], "text")
        if kind == "error":
            return fenced(f"{output['ename']}: {output['evalue']}", "text")
        data = output.get("data", {})
        for mime in ("image/png", "image/jpeg"):
            if mime in data:
                uri = self._attachments.add(mime, "".join(data[mime]).replace("\n", ""))
                return f"![output]({uri})"
        if "text/markdown" in data:
            return "".join(data["text/markdown"])
        if "text/plain" in data:
            return fenced("".join(data["text/plain"]), "text")
        return ""

    # ---- block nodes ----------------------------------------------------------------

    def blocks(self, node: nodes.Element) -> str:
        return "\n\n".join(b for b in (self.block(c) for c in node.children) if b.strip())

    def block(self, node: nodes.Node) -> str:  # noqa: C901 - one branch per node type
        name = type(node).__name__
        if isinstance(node, nodes.Text):
            return escape(node.astext())
        assert isinstance(node, nodes.Element)
        anchor = self.anchors(node)
        if isinstance(node, nodes.paragraph):
            return anchor + self.paragraph(node)
        if name in EXERCISE_NODES:
            return self.boxed(node, anchor + self.exercise_title(node))
        if node.get("countertype") or name.endswith("_node") and "proof" in node.get("classes", []):
            return self.boxed(node, anchor + self.proof_title(node))
        if isinstance(node, nodes.table):
            return self.table(node, anchor)
        if isinstance(node, nodes.figure):
            return self.figure(node)
        if isinstance(node, nodes.Admonition) and name != "proof_node":
            title = node.next_node(nodes.title)
            text = self.inline_children(title) if title is not None else name.capitalize()
            return self.boxed(node, anchor + text)
        text = self.block_body(node, name)
        return f"{anchor}\n\n{text}" if anchor and text.strip() else anchor or text

    def block_body(self, node: nodes.Element, name: str) -> str:  # noqa: C901
        if isinstance(node, (nodes.target, nodes.comment, addnodes.index,
                             nodes.substitution_definition)):
            return ""
        if isinstance(node, nodes.section):  # a section inside a block (rare)
            title = node.next_node(nodes.title)
            rest = nodes.Element()
            rest.children = [c for c in node.children if not isinstance(c, nodes.title)]
            head = f"**{self.inline_children(title)}**\n\n" if title is not None else ""
            return head + self.blocks(rest)
        if isinstance(node, nodes.bullet_list):
            return self.list_items(node, lambda i: "- ")
        if isinstance(node, nodes.enumerated_list):
            start = int(node.get("start", 1))
            return self.list_items(node, lambda i: f"{start + i}. ")
        if isinstance(node, nodes.definition_list):
            items = []
            for item in node.children:
                term = item.next_node(nodes.term)
                definition = item.next_node(nodes.definition)
                text = f"**{self.inline_children(term)}**" if term is not None else ""
                if definition is not None:
                    text += "\n\n" + indent(self.blocks(definition), "    ")
                items.append(text)
            return "\n\n".join(items)
        if isinstance(node, nodes.literal_block):
            language = node.get("language", "")
            language = "python" if language in ("ipython3", "ipython", "default", "") else language
            if language in ("myst-ansi", "none", "text"):
                language = "text"
            return fenced(node.astext(), language)
        if isinstance(node, nodes.math_block):
            return self.math_block(node)
        if isinstance(node, nodes.image):
            return self.image(node)
        if name == "proof_node":
            return self.proof(node)
        if isinstance(node, nodes.block_quote):
            return blockquote(self.blocks(node))
        if isinstance(node, nodes.topic):
            return self.boxed(node, "")
        if isinstance(node, nodes.rubric):
            return f"**{self.inline_children(node)}**"
        if isinstance(node, nodes.raw):
            return raw_html(node)
        if isinstance(node, nodes.line_block):
            return "  \n".join(self.inline_children(line) for line in node.children)
        if isinstance(node, nodes.transition):
            return "---"
        if isinstance(node, nodes.field_list):
            return "\n\n".join(self.blocks(f) for f in node.children)
        if isinstance(node, (nodes.compound, nodes.container, nodes.Element)) and name in (
            "compound", "container", "field", "field_body", "legend", "glossary",
        ):
            return self.blocks(node)
        if isinstance(node, nodes.citation):
            entry = nodes.Element()
            entry.children = [c for c in node.children if not isinstance(c, nodes.label)]
            return self.blocks(entry)
        if isinstance(node, nodes.label):
            return ""
        if name in ("bibliography", "Element"):
            return self.blocks(node)
        if isinstance(node, (nodes.title, nodes.caption)):
            return f"**{self.inline_children(node)}**"
        if isinstance(node, addnodes.toctree):
            return ""  # the website's navigation; the notebooks have their folder
        self.problems.append(f"no notebook translation for <{name}>")
        return self.blocks(node)

    def paragraph(self, node: nodes.paragraph) -> str:
        text = self.inline_children(node).strip()
        # A paragraph must not begin like a heading, quote, list or rule.
        if re.match(r"^(#|>|[-+*] |\d+[.)] )", text):
            text = "\\" + text if not text[0].isdigit() else re.sub(r"^(\d+)", r"\1\\", text)
        return text

    def list_items(self, node: nodes.Element, marker) -> str:
        items = []
        for i, item in enumerate(node.children):
            prefix = marker(i)
            body = self.blocks(item)
            lines = body.split("\n")
            items.append(prefix + lines[0] + ("\n" + indent("\n".join(lines[1:]), " " * len(prefix))
                                              if len(lines) > 1 else ""))
        return "\n".join(items)

    def math_block(self, node: nodes.math_block) -> str:
        tex = node.astext().strip()
        if node.get("nowrap"):
            return tex
        number = ""
        if node.get("number") is not None and node.get("ids"):
            config = self.ctx.app.config
            figure = self._fignumbers.get("displaymath", {}).get(node["ids"][0])
            if config.numfig and config.math_numfig and figure:
                number = ".".join(map(str, figure))
            else:
                number = str(node["number"])
        tag = f"\n\\tag{{{number}}}" if number else ""
        return f"$$\n{tex}{tag}\n$$"

    def boxed(self, node: nodes.Element, title: str) -> str:
        content = nodes.Element()
        content.children = [c for c in node.children if not isinstance(c, nodes.title)]
        body = self.blocks(content)
        head = f"**{title}**" if title else ""
        return blockquote("\n\n".join(t for t in (head, body) if t))

    def exercise_title(self, node: nodes.Element) -> str:
        number = self.number(node, "exercise")
        title = node.next_node(nodes.title)
        subtitle = self.inline_children(title).strip() if title is not None else ""
        name = self.numfig("exercise", number) if number else "Exercise"
        if subtitle and subtitle != "Exercise":
            subtitle = subtitle.removeprefix("Exercise").strip()
            return f"{name} {subtitle}" if subtitle else name
        return name

    def proof_title(self, node: nodes.Element) -> str:
        kind = node.get("realtype", "") or node.get("countertype", "")
        number = self.number(node, node.get("countertype")) if node.get("countertype") else ""
        title = node.next_node(nodes.title)
        subtitle = self.inline_children(title).strip() if title is not None else ""
        return " ".join(p for p in (kind.title(), number, subtitle) if p)

    def proof(self, node: nodes.Element) -> str:
        text = self.blocks(node.next_node(nodes.admonition) or node)
        return text + " $\\square$"

    def figure(self, node: nodes.figure) -> str:
        image = node.next_node(nodes.image)
        parts = [self.image(image)] if image is not None else []
        parts.append(self.caption(node))
        legend = node.next_node(nodes.legend)
        if legend is not None:
            parts.append(self.blocks(legend))
        return "\n\n".join(parts)

    def image(self, node: nodes.image) -> str:
        uri = node["uri"]
        source = Path(self.ctx.app.srcdir, uri)
        if not source.is_file():
            source = Path(self.ctx.app.srcdir) / posixpath.dirname(self.ctx.docname) / uri
        mime = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
                ".svg": "image/svg+xml"}.get(source.suffix.lower())
        alt = escape(node.get("alt", ""))
        if mime is None or not source.is_file():
            self.problems.append(f"image {uri} cannot be attached")
            return alt
        data = source.read_bytes()
        encoded = data.decode() if mime == "image/svg+xml" else base64.b64encode(data).decode()
        return f"![{alt}]({self._attachments.add(mime, encoded)})"

    def table(self, node: nodes.table, anchor: str = "") -> str:
        title = node.next_node(nodes.title)
        number = self.number(node, "table")
        head = f"{anchor}\n\n" if anchor else ""
        if title is not None or number:
            label = f"**{self.numfig('table', number)}** " if number else ""
            head = anchor + label + (self.inline_children(title) if title is not None else "")
            head += "\n\n"
        group = node.next_node(nodes.tgroup)
        rows: list[list[str]] = []
        header_rows = 0
        for part in group.children:
            if isinstance(part, (nodes.thead, nodes.tbody)):
                for row in part.children:
                    rows.append([self.table_cell(entry) for entry in row.children])
                if isinstance(part, nodes.thead):
                    header_rows = len(part.children)
        if not rows:
            return head
        width = max(len(r) for r in rows)
        rows = [r + [""] * (width - len(r)) for r in rows]
        if header_rows == 0:
            rows.insert(0, [""] * width)
            header_rows = 1
        # Several header rows: the first is the header, the others go in bold.
        lines = ["| " + " | ".join(rows[0]) + " |", "|" + " --- |" * width]
        for r, row in enumerate(rows[1:], start=1):
            cells = [f"**{c}**" if r < header_rows and c else c for c in row]
            lines.append("| " + " | ".join(cells) + " |")
        return head + "\n".join(lines)

    def table_cell(self, entry: nodes.Element) -> str:
        self._in_table = True
        try:
            parts = [self.block(c) for c in entry.children]
        finally:
            self._in_table = False
        return "<br>".join(p.replace("\n", " ") for p in parts if p.strip())

    # ---- inline nodes ---------------------------------------------------------------

    _in_table = False

    def inline_children(self, node: nodes.Element | None) -> str:
        if node is None:
            return ""
        return "".join(self.inline(c) for c in node.children)

    def inline(self, node: nodes.Node) -> str:  # noqa: C901 - one branch per node type
        if isinstance(node, nodes.Text):
            return escape(node.astext().replace("\n", " "))
        assert isinstance(node, nodes.Element)
        if isinstance(node, nodes.math):
            tex = node.astext().strip()
            return f"${table_math(tex) if self._in_table else tex}$"
        if isinstance(node, nodes.literal):
            return inline_code(node.astext())
        if isinstance(node, nodes.emphasis):
            inner = self.inline_children(node)
            return f"*{inner}*" if inner.strip() else inner
        if isinstance(node, nodes.strong):
            inner = self.inline_children(node)
            return f"**{inner}**" if inner.strip() else inner
        if isinstance(node, nodes.reference):
            return self.reference(node)
        if isinstance(node, nodes.target):
            return self.anchors(node)
        if isinstance(node, nodes.subscript):
            return f"<sub>{self.inline_children(node)}</sub>"
        if isinstance(node, nodes.superscript):
            return f"<sup>{self.inline_children(node)}</sup>"
        if isinstance(node, nodes.title_reference):
            return f"*{self.inline_children(node)}*"
        if isinstance(node, nodes.raw):
            return raw_html(node)
        if isinstance(node, nodes.image):
            return self.image(node)
        if isinstance(node, (nodes.footnote_reference, nodes.citation_reference)):
            return f"[{escape(node.astext())}]"
        if isinstance(node, addnodes.pending_xref):
            # Unresolved (the build warned already): keep the text.
            return self.inline_children(node)
        if isinstance(node, (nodes.inline, nodes.abbreviation, nodes.generated,
                             nodes.problematic, nodes.Element)):
            return self.inline_children(node)
        self.problems.append(f"no inline translation for <{type(node).__name__}>")
        return self.inline_children(node)

    def reference(self, node: nodes.reference) -> str:
        text = self.inline_children(node) or escape(node.get("refuri", ""))
        lead = text[: len(text) - len(text.lstrip())]  # a link starts at its first word
        return lead + self._reference(node, text.lstrip())

    def _reference(self, node: nodes.reference, text: str) -> str:
        if node.get("refid"):
            return f"[{text}](#{node['refid']})"
        uri = node.get("refuri", "")
        if not uri:
            return text
        if re.match(r"^[a-z][a-z0-9+.-]*:", uri):  # absolute: http(s), mailto
            return f"[{text}]({uri})"
        return self.internal_link(text, uri)

    def internal_link(self, text: str, uri: str) -> str:
        path, _, fragment = uri.partition("#")
        if not path:
            return f"[{text}](#{fragment})"
        here = posixpath.dirname(self.ctx.docname)
        target = posixpath.normpath(posixpath.join(here, path))
        target = target.removesuffix(".html")
        if target == self.ctx.docname:
            return f"[{text}](#{fragment})" if fragment else text
        citation = self.ctx.citations.get(fragment) if fragment else None
        if citation is not None:
            key, entry = citation
            if key not in self.cited:
                self.cited[key] = self.inline_children(entry)
            return f"[{text}](#ref-{key})"
        anchor = f"#{fragment}" if fragment else ""
        if target in self.ctx.notebook_docs:
            relative = posixpath.relpath(target + ".ipynb", here or ".")
            return f"[{text}]({relative}{anchor})"
        if self.ctx.site_url:
            return f"[{text}]({self.ctx.site_url}{target}.html{anchor})"
        return text


def raw_html(node: nodes.raw) -> str:
    """Raw HTML the website shows, without its scripts (they need the website)."""
    if "html" not in node.get("format", "").split():
        return ""
    return re.sub(r"<script\b.*?</script>", "", node.astext(), flags=re.S | re.I).strip()


def is_code_cell(node: nodes.Node) -> bool:
    return isinstance(node, nodes.container) and node.get("nb_element") == "cell_code"


# --------------------------------------------------------------------------------------
# The notebook of a page
# --------------------------------------------------------------------------------------


def page_notebook(context: PageContext, doctree: nodes.document, *, install: str | None,
                  book_title: str, chapter: str, runtime: float | None
                  ) -> tuple[nbformat.NotebookNode, list[str]]:
    """The notebook of one page (a note, the setup cell, the page, its references), and
    the list of what could not be translated."""
    writer = NotebookWriter(context)
    body = writer.translate(doctree)
    cells = []
    site = f" ([website]({context.site_url}{context.docname}.html))" if context.site_url else ""
    note = [f"*{book_title}*, {chapter}{site}, as a notebook."]
    if context.executed is not None:
        if runtime is not None:
            note.append(
                f"Running all cells (*Run ▸ Run All Cells*) takes about {runtime:.0f} s: "
                "that is how long it took on the machine that built the book."
            )
        note.append(
            "The first code cell installs the book's package if it is missing. Solutions "
            "of the exercises are folded under *Solution to …*; *Run All* does not run "
            "them: copy their code into a cell of your own to try it."
        )
    cells.append(nbformat.v4.new_markdown_cell(blockquote(" ".join(note))))
    if context.executed is not None:
        setup = nbformat.v4.new_code_cell(
            setup_source(install, "This chapter" if chapter.startswith("chapter") else "This page"),
            metadata={"bpbook": {"cell": None}, "tags": ["setup"]},
        )
        cells.append(setup)
    cells += body
    if writer.cited:
        entries = [f'<a id="ref-{key}"></a>{entry}'
                   for key, entry in sorted(writer.cited.items(), key=lambda item: item[1])]
        cells.append(nbformat.v4.new_markdown_cell(
            "## References\n\n" + "\n\n".join(f"- {e}" for e in entries)
        ))
    metadata: dict[str, Any] = {}
    if context.executed is not None:
        for key in ("kernelspec", "language_info", "widgets"):
            if key in context.executed.metadata:
                metadata[key] = copy.deepcopy(context.executed.metadata[key])
    else:
        metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                  "language": "python"}
    notebook = nbformat.v4.new_notebook(cells=cells, metadata=metadata)
    for cell in notebook.cells:  # stable ids: a rebuild with no change writes the same file
        cell.pop("id", None)
    notebook.nbformat_minor = 4
    # What the notebook says and shows, so that `make lab` can tell an old copy.
    content = json.dumps([notebook.cells, metadata], sort_keys=True, default=str)
    notebook.metadata["bpbook"] = {
        "docname": context.docname,
        "version": hashlib.sha256(content.encode()).hexdigest()[:16],
    }
    return notebook, writer.problems


def citation_entries(app: Sphinx) -> dict[str, tuple[str, nodes.paragraph]]:
    """Citation id on the bibliography page -> (key, the entry as the page shows it)."""
    from pybtex_docutils import Backend

    domain = app.env.get_domain("cite")
    backend = Backend()
    return {
        citation.citation_id: (citation.key, backend.paragraph(citation.formatted_entry))
        for citation in getattr(domain, "citations", [])
    }


def write_json(path: Path, notebook: nbformat.NotebookNode) -> bool:
    """Write ``notebook`` if its content changed; return whether it was written."""
    text = json.dumps(notebook, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
    if path.exists() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return True
