"""Sphinx tweaks for the book's website.

1. The widget manager that renders the book's interactive experiments calls MathJax 2's
   API, and the book uses MathJax 3; ``static/bpbook-mathjax-bridge.js`` connects the two
   (see the comment in that file). It is loaded before the MathJax configuration.

2. sphinx-thebe (loaded by Jupyter Book 1) registers its inline configuration script on
   every ``env-before-read-docs`` event, and a Jupyter Book build fires that event more
   than once. The page then declares ``const THEBE_JS_URL`` twice, which is a JavaScript
   error on every page. We drop repeated scripts from each page's context before it is
   rendered.

3. Accessibility fixes found by the axe-core audit of every page
   (``tests/test_site_browser.py``): ``static/bpbook-a11y.css`` darkens the link colour
   to WCAG AA contrast on the tinted exercise boxes, ``static/bpbook-a11y.js`` names the
   widgets' sliders and fixes two labels of the theme (see the comments in those files),
   and two fixes to the HTML that docutils and MyST-NB write: the bibliography's
   entries get the role ``listitem`` instead of ``doc-biblioentry``, which ARIA 1.2
   deprecates, so that the list's children are list items for assistive technology; and
   the switch of a folded code cell (``hide-input``) loses its label "Toggle hidden
   content", so that its name is what it shows, "Show code cell source".

4. Reference tables marked ``:class: bpbook-stack`` (the Notation page, the claims
   appendix) show each row as a block on a phone (``static/bpbook-tables.css``), each
   cell labelled with its column's name (``static/bpbook-tables.js``).

5. sphinx-thebe appends to every page a configuration for live code cells on Binder
   that names its own placeholder repository (binder-examples/jupyter-stacks-datascience)
   when none is configured. The book has no Thebe button (its launch buttons come from
   ``bpbook_publish`` and the one repository setting), so nothing would ever use that
   configuration; it is dropped, and no page names an address that is not the book's.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from docutils import nodes

STATIC = Path(__file__).parent / "static"


def _drop_repeated_scripts(app, pagename, templatename, context: dict[str, Any], doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple[str, str]] = set()
    unique = []
    for script in scripts:
        attributes = getattr(script, "attributes", {})
        # Inline scripts come once with filename None and once with "" (the same script).
        key = (str(getattr(script, "filename", script) or ""), str(attributes.get("body", "")))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def _drop_thebe_configuration(app, doctree, docname) -> None:
    for node in list(doctree.findall(nodes.raw)):
        text = node.astext()
        if "text/x-thebe-config" in text or "kernelName =" in text:
            node.parent.remove(node)


#: Replacements in every page's body: (what docutils or MyST-NB writes, what we publish).
_BODY_FIXES = [
    ('role="doc-biblioentry"', 'role="listitem"'),
    ('<summary aria-label="Toggle hidden content">', "<summary>"),
]


def _fix_body_markup(app, pagename, templatename, context: dict[str, Any], doctree) -> None:
    body = context.get("body")
    if not body:
        return
    for written, published in _BODY_FIXES:
        body = body.replace(written, published)
    context["body"] = body


def _static_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(STATIC.iterdir()):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _reread_all_when_static_changed(app, env, added, changed, removed) -> list[str]:
    """Every page, when a file in ``static/`` changed since the last build.

    Sphinx writes pages (and copies static files) only when a source or the
    configuration changed; an edited style sheet alone would otherwise never reach
    ``_build/html``, and the pages' ``?v=`` checksums of it would go stale.
    """
    digest = _static_digest()
    if getattr(env, "bpbook_static_digest", None) == digest:
        return []
    env.bpbook_static_digest = digest
    return sorted(env.found_docs)


def _add_static_path(app) -> None:
    app.config.html_static_path.append(str(STATIC))


def setup(app) -> dict[str, Any]:
    app.connect("builder-inited", _add_static_path)
    # Priority 100 puts it before the MathJax configuration script (priority 500).
    app.add_js_file("bpbook-mathjax-bridge.js", priority=100)
    app.connect("html-page-context", _drop_repeated_scripts)
    app.add_css_file("bpbook-a11y.css")
    app.add_css_file("bpbook-tables.css")
    app.add_js_file("bpbook-tables.js")
    app.add_js_file("bpbook-a11y.js")
    app.connect("html-page-context", _fix_body_markup)
    # After sphinx-thebe's own handler (priority 500) has appended the configuration.
    app.connect("doctree-resolved", _drop_thebe_configuration, priority=600)
    app.connect("env-get-outdated", _reread_all_when_static_changed)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
