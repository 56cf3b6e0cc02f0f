"""Sphinx tweaks for the book's website.

sphinx-thebe (loaded by Jupyter Book 1) registers its inline configuration script on
every ``env-before-read-docs`` event, and a Jupyter Book build fires that event more
than once. The page then declares ``const THEBE_JS_URL`` twice, which is a JavaScript
error on every page. We drop repeated scripts from each page's context before it is
rendered.
"""

from __future__ import annotations

from typing import Any


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


def setup(app) -> dict[str, Any]:
    app.connect("html-page-context", _drop_repeated_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
