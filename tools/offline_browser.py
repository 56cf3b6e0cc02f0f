"""Open the built website in headless Chromium with no network, as a reader would see it.

The pages load require.js, the Jupyter widget manager and MathJax from CDNs. Here those
requests are answered from local copies installed from the npm registry into
``tests/browser/node_modules`` (see ``tools/install_browser_test_deps.sh``); every other
outside request is refused and recorded. The same folder holds axe-core, the accessibility
checker that :func:`accessibility_violations` runs in the page. Used by
``tests/test_site_browser.py`` and, from the command line, to take screenshots of pages
(and, with ``--axe``, to list what axe-core finds)::

    .venv/bin/python tools/offline_browser.py _build/html chapters/01_forward_pass /tmp/ch1.png
"""

from __future__ import annotations

import argparse
import http.server
import mimetypes
import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
NODE_MODULES = ROOT / "tests" / "browser" / "node_modules"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
AXE = NODE_MODULES / "axe-core" / "axe.min.js"
#: How long a page may take to load and settle (milliseconds).
LOAD_TIMEOUT_MS = 120_000
#: The axe-core impact levels the book does not accept.
SEVERE = ("serious", "critical")
# CDN URLs the pages use, mapped onto the npm packages that hold the same files.
CDN_PATTERNS = [
    (re.compile(r"^https://cdn\.jsdelivr\.net/npm/((?:@[^/]+/)?[^/@]+)@[^/]+/(.+)$"), r"\1/\2"),
]


def local_asset(url: str) -> Path | None:
    """The local copy of a CDN file, or None if the URL is not one we mirror."""
    for pattern, replacement in CDN_PATTERNS:
        if pattern.match(url):
            path = NODE_MODULES / pattern.sub(replacement, url)
            return path if path.is_file() else None
    return None


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


@contextmanager
def serve(html_dir: Path) -> Iterator[str]:
    """Serve ``html_dir`` on a free loopback port; yield its base URL."""
    handler = partial(_QuietHandler, directory=str(html_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def chromium():
    """A headless Chromium (Debian's) driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser, url: str, width: int = 1280, height: int = 900, *, dark: bool = False):
    """Open ``url`` offline; return the page, its JavaScript errors and refused requests.

    ``dark=True`` asks for the dark colour scheme, which the theme follows by default.
    """
    page = browser.new_page(
        viewport={"width": width, "height": height}, color_scheme="dark" if dark else "light"
    )
    errors: list[str] = []
    refused: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    site_origin = urlparse(url).netloc

    def route(request_route):
        request_url = request_route.request.url
        if urlparse(request_url).netloc == site_origin or request_url.startswith("data:"):
            return request_route.continue_()
        asset = local_asset(request_url)
        if asset is None:
            refused.append(request_url)
            return request_route.abort()
        content_type = mimetypes.guess_type(asset.name)[0] or "application/octet-stream"
        return request_route.fulfill(
            status=200, body=asset.read_bytes(), content_type=content_type,
            headers={"Access-Control-Allow-Origin": "*"},
        )

    page.route("**/*", route)
    # A page with many widgets loads in about 4 s on a quiet machine; on a 2-core CI
    # machine that is also executing notebooks it once took over 30 s, Playwright's
    # default. The generous limit still fails a page that never settles.
    page.goto(url, wait_until="load", timeout=LOAD_TIMEOUT_MS)
    page.wait_for_load_state("networkidle", timeout=LOAD_TIMEOUT_MS)
    return page, errors, refused


def wait_for_math(page) -> int:
    """Wait until MathJax has typeset the page; return the number of typeset formulas."""
    page.wait_for_function(
        "window.MathJax && MathJax.startup && MathJax.startup.document", timeout=LOAD_TIMEOUT_MS
    )
    page.evaluate("MathJax.startup.promise")
    return page.evaluate("document.querySelectorAll('mjx-container').length")


def accessibility_violations(
    page, *, disabled_rules: tuple[str, ...] = (), impacts: tuple[str, ...] = SEVERE
) -> list[dict]:
    """Run axe-core on the open page; return its violations of the given impact levels.

    Each violation is axe's own record: ``id`` (the rule), ``impact``, ``help``,
    ``helpUrl`` and ``nodes`` (the offending elements, with a CSS ``target`` and an
    explanation in ``failureSummary``). ``disabled_rules`` names rules not to run.
    """
    # The pages load require.js, and axe-core's loader registers with an AMD loader
    # instead of setting window.axe when it finds one; hide `define` while it loads.
    source = AXE.read_text(encoding="utf-8")
    page.add_script_tag(content=f"(function (define) {{ {source}\n}}).call(window);")
    options = {
        "rules": {rule: {"enabled": False} for rule in disabled_rules},
        "resultTypes": ["violations"],
    }
    result = page.evaluate("options => window.axe.run(document, options)", options)
    return [v for v in result["violations"] if v.get("impact") in impacts]


def describe_violations(violations: list[dict]) -> str:
    """One line per offending element: rule, impact, element and what is wrong."""
    lines = []
    for violation in violations:
        for node in violation["nodes"]:
            summary = " ".join(node.get("failureSummary", "").split())
            lines.append(
                f"{violation['id']} ({violation['impact']}): {node['target']} - {summary[:300]}"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="Screenshot a page of the built book, offline.")
    parser.add_argument("html_dir", type=Path, help="the built site, e.g. _build/html")
    parser.add_argument("page", help="page path without .html, e.g. chapters/01_forward_pass")
    parser.add_argument("output", type=Path, help="PNG file to write")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--full", action="store_true", help="the whole page, not one screen")
    parser.add_argument("--dark", action="store_true", help="the theme's dark mode")
    parser.add_argument("--axe", action="store_true",
                        help="also print axe-core's serious and critical violations")
    args = parser.parse_args()
    with serve(args.html_dir) as site, chromium() as browser:
        page, errors, refused = open_page(
            browser, f"{site}/{args.page}.html", args.width, dark=args.dark
        )
        if page.evaluate("document.querySelectorAll('span.math, div.math').length"):
            wait_for_math(page)
        page.wait_for_timeout(500)
        page.screenshot(path=str(args.output), full_page=args.full)
        print(
            f"wrote {args.output}; JavaScript errors: {errors or 'none'}; "
            f"refused: {refused or 'none'}"
        )
        if args.axe:
            print(describe_violations(accessibility_violations(page)) or "axe-core: no violations")


if __name__ == "__main__":
    main()
