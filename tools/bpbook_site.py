"""Sphinx tweaks for the book's website.

1. The widget manager that renders the book's interactive experiments calls MathJax 2's
   API, and the book uses MathJax 3; ``static/bpbook-mathjax-bridge.js`` connects the two
   (see the comment in that file). It is loaded before the MathJax configuration.

2. sphinx-thebe (loaded by Jupyter Book 1) registers its inline configuration script on
   every ``env-before-read-docs`` event, and a Jupyter Book build fires that event more
   than once. The page then declares ``const THEBE_JS_URL`` twice, which is a JavaScript
   error on every page. We drop repeated scripts from each page's context before it is
   rendered.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


def _add_static_path(app) -> None:
    app.config.html_static_path.append(str(STATIC))


def setup(app) -> dict[str, Any]:
    app.connect("builder-inited", _add_static_path)
    # Priority 100 puts it before the MathJax configuration script (priority 500).
    app.add_js_file("bpbook-mathjax-bridge.js", priority=100)
    app.connect("html-page-context", _drop_repeated_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
