"""The built website, read as HTML: every picture is captioned, numbered and described.

On every page of the book, the test fails if

- an image has no alt text that describes it: an ``<img>`` whose ``alt`` is missing,
  blank, a file name (what Sphinx writes when the source gave none) or shorter than three
  words; an inline ``<svg>`` that is neither ``aria-hidden`` nor labelled; a frame of an
  interactive explorer whose ``alt`` is only the slider setting (``"η = 0.5"``), which is
  what :func:`bpbook.widgets.explorer` writes without ``alt=``;
- an image or a widget is not inside a numbered ``<figure>`` with a caption (MyST-NB
  makes one from a code cell's ``mystnb.figure`` metadata);
- a visible code cell (not folded with ``hide-input``, not removed) contains an ``assert``
  that the prose around the cell does not discuss: build-time self-checks belong in a
  ``remove-input``/``remove-cell`` cell or in ``tests/``; an assert that teaches is
  announced by the text (the word "assert" in the paragraphs between the neighbouring
  cells), except for the few on :data:`ASSERT_ALLOWED`.

The checker is first run on a tiny Jupyter Book built in a temporary folder, with one
page that does everything right and one that makes each mistake once, so it is known to
pass what it must pass and fail what it must fail; then on every page of the real book.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from bs4 import BeautifulSoup, Tag

from conftest import ROOT, toc_files

pytestmark = [pytest.mark.book, pytest.mark.xdist_group("book")]

#: Visible asserts that need no discussion, as (page, text of the assert line), each with
#: the reason. Keep it short: an entry is an exception to "the reader's page has no
#: unexplained machinery".
ASSERT_ALLOWED: dict[tuple[str, str], str] = {}

#: Cells whose input the reader does not see unless they ask for it.
FOLDED_CELL_CLASSES = {"tag_hide-input", "tag_hide-cell", "tag_remove-input", "tag_remove-cell"}

IMAGE_SUFFIX = re.compile(r"\.(png|svg|jpe?g|gif|pdf)$", re.I)
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


@dataclass(frozen=True)
class Problem:
    """One violation on a page: its kind, and where and what it is."""

    kind: str  # "alt", "figure" or "assert"
    where: str

    def __str__(self) -> str:
        return f"[{self.kind}] {self.where}"


def describes(alt: str | None, src: str = "") -> bool:
    """Whether ``alt`` is a description rather than nothing, a file name or a stub."""
    if alt is None:
        return False
    alt = alt.strip()
    if not alt or alt == src or IMAGE_SUFFIX.search(alt):
        return False
    return len(re.findall(r"\w+", alt)) >= 3


def numbered_figure(element: Tag) -> bool:
    """Whether ``element`` sits in a ``<figure>`` whose caption carries a figure number."""
    figure = element.find_parent("figure")
    if figure is None:
        return False
    caption = figure.find("figcaption")
    return (
        caption is not None
        and caption.find(class_="caption-number") is not None
        and bool(caption.get_text(strip=True))
    )


def widget_models(soup: BeautifulSoup) -> dict[str, dict]:
    """The embedded widget state of a page: model id -> model."""
    models: dict[str, dict] = {}
    for script in soup.find_all("script", type=WIDGET_STATE):
        models.update(json.loads(script.string or "{}").get("state", {}))
    return models


def descendants(model_id: str, models: dict[str, dict]) -> list[dict]:
    """Every model a widget refers to (children, the stack's frames), itself included."""
    seen: set[str] = set()
    stack = [model_id]
    found = []
    while stack:
        current = stack.pop()
        if current in seen or current not in models:
            continue
        seen.add(current)
        found.append(models[current])
        stack += re.findall(r"IPY_MODEL_([0-9a-f]+)", json.dumps(models[current]["state"]))
    return found


def frame_alt_problems(view: Tag, models: dict[str, dict], where: str) -> list[Problem]:
    """A problem for the first frame of the widget ``view`` that has no description."""
    model_id = json.loads(view.string or "{}").get("model_id", "")
    for model in descendants(model_id, models):
        value = model["state"].get("value", "")
        if model.get("model_name") != "HTMLModel" or "<img" not in value:
            continue
        for tag in BeautifulSoup(value, "html.parser").find_all("img"):
            alt = tag.get("alt")
            # explorer() appends the slider setting "(η = 0.5)"; without alt= that
            # setting is all there is, and it describes nothing.
            description = re.sub(r"\s*\([^()]*=[^()]*\)$", "", alt or "")
            if "=" in description and len(description.split()) <= 3:
                description = ""
            if not describes(description):
                return [Problem("alt", f"{where}: a frame of widget {model_id[:8]} has "
                                       f"alt {alt!r}; pass explorer(..., alt=...)")]
    return []


def assert_lines(cell: Tag) -> list[str]:
    source = cell.select_one("div.cell_input pre")
    if source is None:
        return []
    return [line.strip() for line in source.get_text().splitlines()
            if re.match(r"\s*assert\b", line)]


def surrounding_prose(cell: Tag) -> str:
    """The text between the previous and the next code cell, in the cell's container."""
    parts = []
    for siblings in (cell.find_previous_siblings(), cell.find_next_siblings()):
        for sibling in siblings:
            if isinstance(sibling, Tag) and "cell" in sibling.get("class", []):
                break
            parts.append(sibling.get_text(" ", strip=True))
    return " ".join(parts)


def page_problems(html_dir: Path, page: str) -> list[Problem]:
    """Everything wrong on one page of a built site."""
    path = html_dir / f"{page}.html"
    assert path.is_file(), f"{page}.html is missing from {html_dir}"
    soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
    article = soup.select_one("article.bd-article") or soup.find("article") or soup
    problems: list[Problem] = []
    for image in article.find_all("img"):
        src = image.get("src", "")
        name = src if not src.startswith("data:") else "an inline image"
        if not describes(image.get("alt"), src):
            problems.append(Problem("alt", f"{page}: {name} has alt {image.get('alt')!r}"))
        if not numbered_figure(image):
            problems.append(Problem("figure", f"{page}: {name} is not in a numbered figure"))
    for svg in article.find_all("svg"):
        labelled = svg.get("aria-label") or svg.find("title") or svg.get("aria-labelledby")
        if svg.get("aria-hidden") != "true" and not labelled:
            problems.append(Problem("alt", f"{page}: an inline <svg> has no title or aria-label"))
    models = widget_models(soup)
    for view in article.find_all("script", type=WIDGET_VIEW):
        where = f"{page}: widget {json.loads(view.string or '{}').get('model_id', '?')[:8]}"
        if not numbered_figure(view):
            problems.append(Problem("figure", f"{where} is not in a numbered figure"))
        problems += frame_alt_problems(view, models, page)
    for cell in article.select("div.cell"):
        if FOLDED_CELL_CLASSES & set(cell.get("class", [])):
            continue
        lines = assert_lines(cell)
        if not lines or re.search(r"\bassert", surrounding_prose(cell), re.I):
            continue
        for line in lines:
            if (page, line) not in ASSERT_ALLOWED:
                problems.append(Problem("assert", f"{page}: visible, undiscussed `{line}`"))
    return problems


# --- the checker, proven on a small synthetic book ---------------------------------------

HEADER = """\
---
jupytext:
  text_representation:
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---
"""

GOOD_PAGE = HEADER + '''
# Good page

```{code-cell} ipython3
:tags: [hide-input]
import matplotlib.pyplot as plt
from bpbook import diagrams
from bpbook.widgets import explorer
assert 1 + 1 == 2  # machinery, but folded away
```

A plot, {numref}`fig-good-line`, and a diagram, {numref}`fig-good-neuron`.

```{code-cell} ipython3
---
tags: [hide-input]
mystnb:
  figure:
    name: fig-good-line
    caption: A straight line.
  image:
    alt: A straight line rising from the origin.
---
fig, ax = plt.subplots(figsize=(3, 2))
ax.plot([0, 1], [0, 1])
plt.close(fig)
fig
```

```{code-cell} ipython3
---
mystnb:
  figure:
    name: fig-good-neuron
    caption: One neuron.
  image:
    alt: One unit of layer l with its inputs, weights, bias and activation.
---
diagrams.neuron(2)
```

```{code-cell} ipython3
---
tags: [hide-input]
mystnb:
  figure:
    name: fig-good-widget
    caption: A slider over a slope.
---
def render(slope):
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, slope])
    return fig

explorer(render, [0.5, 2.0], description="slope", alt="A line whose slope follows the slider.")
```

The `assert` in the next cell checks that the sum is what the text claims.

```{code-cell} ipython3
total = 2 + 2
assert total == 4
```

```{code-cell} ipython3
:tags: [remove-input]
assert total == 4
```
'''

BAD_PAGE = HEADER + '''
# Bad page

```{code-cell} ipython3
import matplotlib.pyplot as plt
from bpbook import diagrams
from bpbook.widgets import explorer
fig, ax = plt.subplots(figsize=(3, 2))
ax.plot([0, 1], [1, 0])
plt.close(fig)
fig
```

```{code-cell} ipython3
---
mystnb:
  figure:
    name: fig-bad-neuron
    caption: A neuron without alt text.
---
diagrams.neuron(2)
```

```{code-cell} ipython3
def render(slope):
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, slope])
    return fig

explorer(render, [0.5, 2.0], description="slope")
```

Some text that says nothing about the next cell.

```{code-cell} ipython3
result = 3 * 3
assert result == 9, "the build checks this silently"
```
'''

CONFIG = f"""\
title: Synthetic
author: bpbook tests
only_build_toc_files: true
execute:
  execute_notebooks: force
parse:
  myst_enable_extensions: [colon_fence, dollarmath]
sphinx:
  local_extensions:
    bpbook_site: {ROOT / "tools"}
  config:
    numfig: true
    nb_execution_raise_on_error: true
"""


@pytest.fixture(scope="module")
def synthetic_site(tmp_path_factory) -> Path:
    """A two-page Jupyter Book built like the real one; returns its HTML folder."""
    source = tmp_path_factory.mktemp("synthetic-book")
    (source / "_config.yml").write_text(CONFIG)
    (source / "_toc.yml").write_text("format: jb-book\nroot: good\nchapters:\n  - file: bad\n")
    (source / "good.md").write_text(GOOD_PAGE)
    (source / "bad.md").write_text(BAD_PAGE)
    env = {**os.environ, "BPBOOK_STATIC_WIDGETS": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "jupyter-book"), "build", str(source),
         "--path-output", str(source), "-W", "--keep-going"],
        capture_output=True, text=True, timeout=600, env=env,
    )
    assert result.returncode == 0, textwrap.shorten(result.stdout + result.stderr, 4000)
    return source / "_build" / "html"


def test_checker_passes_a_page_that_does_everything_right(synthetic_site):
    assert page_problems(synthetic_site, "good") == []


def test_checker_finds_each_mistake_of_the_bad_page(synthetic_site):
    problems = [str(p) for p in page_problems(synthetic_site, "bad")]
    expected = [
        r"\[alt\] bad: _images/\w+\.png has alt '_images/\w+\.png'",  # plot without metadata
        r"\[figure\] bad: _images/\w+\.png is not in a numbered figure",
        r"\[alt\] bad: _images/\w+\.svg has alt '_images/\w+\.svg'",  # figure without alt
        r"\[figure\] bad: widget \w+ is not in a numbered figure",
        r"\[alt\] bad: a frame of widget \w+ has alt 'slope = [\d.]+'; pass explorer",
        r"\[assert\] bad: visible, undiscussed `assert result == 9",
    ]
    for pattern in expected:
        assert any(re.match(pattern, p) for p in problems), f"missed {pattern!r} in {problems}"
    assert len(problems) == len(expected), problems


@pytest.mark.parametrize(
    ("alt", "expected"),
    [
        (None, False), ("", False), ("   ", False), ("_images/abc.png", False),
        ("plot", False), ("a loss curve", True),
        ("Loss against step for three learning rates.", True),
    ],
)
def test_what_counts_as_a_description(alt, expected):
    assert describes(alt, "_images/abc.png") is expected


def test_allowed_asserts_are_justified():
    for (page, line), reason in ASSERT_ALLOWED.items():
        assert page in toc_files(), f"{page} is not a page of the book"
        assert line.startswith("assert"), line
        assert len(reason.split()) >= 5, f"say why {line!r} may stay visible on {page}"


# --- the real book ---------------------------------------------------------------------------


@pytest.mark.parametrize("page", toc_files())
def test_every_picture_is_captioned_described_and_every_assert_explained(built_book, page):
    problems = page_problems(built_book / "html", page)
    assert not problems, "\n".join(str(p) for p in problems)
